//! The store: tally's one SQLite database, and the only module that speaks SQL.
//!
//! It owns the schema and its versioned migrations, opens connections with the durability tally relies
//! on (WAL, `synchronous=FULL`: a transaction that returned from commit survives a power cut), and offers
//! each part typed operations grouped by the guarantee they give: the ledger's append transaction
//! ([`ledger::LedgerTx`], durable once `commit` returns), consistent read snapshots
//! ([`ledger::LedgerView`]), API tokens ([`tokens`]), the register of people and their sealed templates
//! ([`people`]), what the retention rule reads and deletes ([`retention`]), the register read and
//! written whole for off-site copies and restores ([`offsite`]), and what the facility's other
//! appliances sent ([`peers`]). It knows nothing of hashing, signing or encryption.

pub mod ledger;
pub mod offsite;
pub mod peers;
pub mod people;
pub mod retention;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Database file name inside the data directory.
pub const DB_FILE: &str = "tally.db";

/// The schema, one migration per step; `PRAGMA user_version` counts how many have run. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: the ledger and API tokens.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    CREATE TABLE entries (
        seq   INTEGER PRIMARY KEY,
        kind  TEXT NOT NULL,
        bytes BLOB NOT NULL
    ) STRICT;
    CREATE INDEX entries_by_kind ON entries (kind, seq);
    CREATE TABLE tree_nodes (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE checkpoints (
        size INTEGER PRIMARY KEY,
        root BLOB NOT NULL,
        note TEXT NOT NULL
    ) STRICT;
    CREATE TABLE signing_keys (
        key_id      TEXT PRIMARY KEY,
        vkey        TEXT NOT NULL UNIQUE,
        from_seq    INTEGER NOT NULL,
        current     INTEGER NOT NULL CHECK (current IN (0, 1))
    ) STRICT;
    CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (current) WHERE current = 1;
    CREATE TABLE tokens (
        id      INTEGER PRIMARY KEY,
        name    TEXT NOT NULL,
        role    TEXT NOT NULL,
        hash    BLOB NOT NULL UNIQUE,
        created TEXT NOT NULL,
        revoked TEXT
    ) STRICT;
    CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked IS NULL;",
    // 2: the register: people (photo sealed by the vault) and their sealed templates, one per finger.
    // Status and zone are not stored: the census derives them from the ledger.
    "CREATE TABLE people (
        id            TEXT PRIMARY KEY,
        category      TEXT NOT NULL,
        given_names   TEXT NOT NULL,
        family_name   TEXT NOT NULL,
        date_of_birth TEXT,
        national_id   TEXT,
        photo         BLOB,
        created       TEXT NOT NULL,
        updated       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX people_by_name ON people (family_name, given_names, id);
    CREATE TABLE templates (
        id      INTEGER PRIMARY KEY,
        person  TEXT NOT NULL REFERENCES people (id),
        finger  INTEGER NOT NULL CHECK (finger BETWEEN 1 AND 10),
        duress  INTEGER NOT NULL CHECK (duress IN (0, 1)),
        quality INTEGER NOT NULL,
        sealed  BLOB NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (person, finger)
    ) STRICT;",
    // 3: the facility's other appliances: their verified entries and checkpoints, last contact, evidence
    // of misbehaviour, heads of a log relayed by another peer beyond what we hold (checked once we do),
    // and the cosignatures they made of our checkpoints (see peers.rs).
    "CREATE TABLE peer_entries (
        origin TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        kind   TEXT NOT NULL,
        bytes  BLOB NOT NULL,
        leaf   BLOB NOT NULL,
        PRIMARY KEY (origin, seq)
    ) STRICT;
    CREATE TABLE peer_checkpoints (
        origin   TEXT NOT NULL,
        size     INTEGER NOT NULL,
        root     BLOB NOT NULL,
        note     TEXT NOT NULL,
        received TEXT NOT NULL,
        PRIMARY KEY (origin, size)
    ) STRICT;
    CREATE TABLE peer_contacts (
        origin       TEXT PRIMARY KEY,
        last_attempt TEXT,
        last_contact TEXT,
        last_error   TEXT,
        announced    INTEGER
    ) STRICT;
    CREATE TABLE peer_evidence (
        id          INTEGER PRIMARY KEY,
        origin      TEXT NOT NULL,
        code        TEXT NOT NULL,
        fingerprint BLOB NOT NULL UNIQUE,
        note        TEXT NOT NULL,
        detail      TEXT NOT NULL,
        seen        TEXT NOT NULL,
        alarm_seq   INTEGER
    ) STRICT;
    CREATE TABLE peer_claims (
        origin TEXT NOT NULL,
        size   INTEGER NOT NULL,
        root   BLOB NOT NULL,
        via    TEXT NOT NULL,
        note   TEXT NOT NULL,
        PRIMARY KEY (origin, size, via)
    ) STRICT;
    CREATE TABLE cosignatures (
        size     INTEGER NOT NULL,
        witness  TEXT NOT NULL,
        line     TEXT NOT NULL,
        received TEXT NOT NULL,
        PRIMARY KEY (size, witness)
    ) STRICT;",
];

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory or database does not exist and may not be created implicitly.
    #[error("no tally database at {0}; run `tally ledger init` or `tally serve` to create one")]
    Missing(PathBuf),
    /// The data directory could not be created or read.
    #[error("cannot use data directory {path}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer tally.
    #[error("database schema version {found} is newer than this tally knows ({known}); upgrade tally")]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Versions this build knows.
        known: i64,
    },
    /// The database holds a value the schema forbids (a bug or tampering with the file).
    #[error("database holds an invalid value: {0}")]
    Invalid(&'static str),
    /// The write conflicts with what is stored (a unique name taken).
    #[error("{0}")]
    Conflict(&'static str),
    /// SQLite failed.
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// Whether the state on disk is no longer known: the caller must stop writing and reload, rather
    /// than fail one request and go on. Busy locks and constraint violations are not fatal.
    pub fn is_fatal(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, SystemIoFailure | DatabaseCorrupt | DiskFull | NotADatabase | CannotOpen | ReadOnly)
            }
            StoreError::Invalid(_) | StoreError::TooNew { .. } => true,
            _ => false,
        }
    }

    /// Whether another writer held the database for longer than the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy || e.code == rusqlite::ErrorCode::DatabaseLocked)
    }
}

/// Whether opening may create a new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Create the directory and database when absent (first start of `serve`, `ledger init`).
    CreateIfMissing,
    /// Refuse when absent: a missing ledger is never created implicitly.
    MustExist,
}

/// One connection to the database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (and migrates) the database in `data_dir`.
    pub fn open(data_dir: &Path, mode: Open) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            if mode == Open::MustExist {
                return Err(StoreError::Missing(data_dir.to_owned()));
            }
            create_private_dir(data_dir)?;
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // WAL: readers never block the writer. FULL: the WAL is fsynced at every commit, so a commit that
        // returned survives a power cut (NORMAL would only keep the database consistent, not durable).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as i64;
        let found: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        if found == known {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs SQLite's own consistency check; `Ok(())` when it answers "ok".
    pub fn integrity_check(&self) -> Result<Result<(), String>, StoreError> {
        let answer: String = self.conn.pragma_query_value(None, "integrity_check", |r| r.get(0))?;
        Ok(if answer == "ok" { Ok(()) } else { Err(answer) })
    }
}

/// Creates a directory readable by its owner only (the data directory holds keys and the database).
pub fn create_private_dir(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| StoreError::Dir { path: path.to_owned(), source })
}

/// The storage ceiling, for benchmarks: durable one-row commits per second in a fresh database in `dir`,
/// with the same pragmas as the store, for `run_for`. The ledger's append rate is reported against it, so
/// the ratio holds whatever the disk.
pub fn raw_commit_rate(dir: &Path, run_for: Duration) -> Result<f64, StoreError> {
    let store = Store::open(dir, Open::CreateIfMissing)?;
    store.conn.execute_batch("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)")?;
    let payload = vec![0x5a_u8; 300];
    let started = std::time::Instant::now();
    let mut commits = 0u32;
    while started.elapsed() < run_for {
        store.conn.execute("INSERT INTO probe (bytes) VALUES (?1)", [&payload])?;
        commits += 1;
    }
    Ok(f64::from(commits) / started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_durably_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Store::open(dir.path(), Open::MustExist), Err(StoreError::Missing(_))));
        let s = Store::open(&dir.path().join("d"), Open::CreateIfMissing).unwrap();
        let mode: String = s.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let sync: i64 = s.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
        drop(s);
        let s = Store::open(&dir.path().join("d"), Open::MustExist).unwrap();
        let v: i64 = s.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        assert_eq!(s.integrity_check().unwrap(), Ok(()));
    }

    #[test]
    fn refuses_a_database_from_the_future() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        assert!(matches!(Store::open(dir.path(), Open::MustExist), Err(StoreError::TooNew { found: 99, .. })));
    }
}
