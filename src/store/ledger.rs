//! The ledger's tables: entries, perfect-subtree hashes, signed checkpoints, signing keys and identity.
//!
//! Two guarantees, two types. [`LedgerTx`] is the one write path: an `IMMEDIATE` transaction (one writer
//! at a time, across processes) in which the ledger stages entries, tree nodes and the checkpoint that
//! covers them; nothing of it exists until [`LedgerTx::commit`] returns, and once it returns it is on
//! disk. [`LedgerView`] reads one consistent snapshot. The ledger module decides what to write; this one
//! only keeps it.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{Store, StoreError};
use crate::ledger::merkle::{Hash, NewNode, NodeSource};

/// A signing key as recorded in the database (the private half is a file, never in SQLite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id, 8 hex digits.
    pub key_id: String,
    /// Verifier key text.
    pub vkey: String,
    /// First entry whose checkpoint it signs.
    pub from_seq: u64,
}

/// The log's identity, fixed when it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `<facility>/<appliance>`: checkpoint origin and key name.
    pub origin: String,
    /// Facility id.
    pub facility: String,
    /// Appliance id.
    pub appliance: String,
}

/// Read access to the ledger tables within one snapshot.
#[derive(Debug, Clone, Copy)]
pub struct LedgerView<'c>(&'c Connection);

fn u64_of(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Invalid("negative number"))
}

fn i64_of(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid("number beyond SQLite's range"))
}

fn hash_of(v: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::try_from(v.as_slice()).map_err(|_| StoreError::Invalid("hash is not 32 bytes"))
}

impl<'c> LedgerView<'c> {
    /// The log's identity, or `None` before the ledger is created.
    pub fn identity(&self) -> Result<Option<Identity>, StoreError> {
        let get = |k: &str| -> Result<Option<String>, StoreError> {
            Ok(self.0.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0)).optional()?)
        };
        match (get("origin")?, get("facility")?, get("appliance")?) {
            (Some(origin), Some(facility), Some(appliance)) => Ok(Some(Identity { origin, facility, appliance })),
            (None, None, None) => Ok(None),
            _ => Err(StoreError::Invalid("ledger identity is incomplete")),
        }
    }

    /// Number of entries.
    pub fn size(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self.0.query_row("SELECT max(seq) + 1 FROM entries", [], |r| r.get(0))?;
        u64_of(n.unwrap_or(0))
    }

    /// The bytes of entry `seq`.
    pub fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let mut st = self.0.prepare_cached("SELECT bytes FROM entries WHERE seq = ?1")?;
        Ok(st.query_row([i64_of(seq)?], |r| r.get(0)).optional()?)
    }

    /// The sequence number of the last entry of `kind`.
    pub fn last_of_kind(&self, kind: &str) -> Result<Option<u64>, StoreError> {
        let mut st = self.0.prepare_cached("SELECT max(seq) FROM entries WHERE kind = ?1")?;
        let seq: Option<i64> = st.query_row([kind], |r| r.get(0))?;
        seq.map(u64_of).transpose()
    }

    /// Up to `limit` entries from `from` on, in order.
    pub fn entries(&self, from: u64, limit: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut st = self.0.prepare_cached("SELECT bytes FROM entries WHERE seq >= ?1 ORDER BY seq LIMIT ?2")?;
        let rows = st.query_map([i64_of(from)?, i64_of(limit)?], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Calls `f` on every entry below `size`, in order, without holding them all in memory.
    pub fn for_each_entry<E: From<StoreError>>(
        &self,
        size: u64,
        mut f: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = StoreError::from;
        let mut st = self.0.prepare("SELECT seq, bytes FROM entries WHERE seq < ?1 ORDER BY seq").map_err(sql)?;
        let mut rows = st.query([i64_of(size)?]).map_err(sql)?;
        let mut expected = 0u64;
        while let Some(row) = rows.next().map_err(sql)? {
            let seq = u64_of(row.get(0).map_err(sql)?)?;
            if seq != expected {
                return Err(StoreError::Invalid("gap in entry sequence").into());
            }
            let bytes = row.get_ref(1).and_then(|v| v.as_blob().map_err(rusqlite::Error::from)).map_err(sql)?;
            f(seq, bytes)?;
            expected += 1;
        }
        if expected != size {
            return Err(StoreError::Invalid("entries missing below the checkpoint size").into());
        }
        Ok(())
    }

    /// The latest checkpoint: its size and note text.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        let row: Option<(i64, String)> = self
            .0
            .query_row("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(s, n)| Ok((u64_of(s)?, n))).transpose()
    }

    /// The checkpoint signed at exactly `size`, if the log released one there.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .query_row("SELECT note FROM checkpoints WHERE size = ?1", [i64_of(size)?], |r| r.get(0))
            .optional()?)
    }

    /// The key that signs now.
    pub fn current_key(&self) -> Result<Option<KeyRecord>, StoreError> {
        let mut keys = self.keys_where("current = 1")?;
        Ok(keys.pop())
    }

    /// Every key ever used, oldest first.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.keys_where("1")
    }

    fn keys_where(&self, cond: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let sql = format!("SELECT key_id, vkey, from_seq FROM signing_keys WHERE {cond} ORDER BY from_seq");
        let mut st = self.0.prepare_cached(&sql)?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
        rows.map(|row| {
            let (key_id, vkey, from) = row?;
            Ok(KeyRecord { key_id, vkey, from_seq: u64_of(from)? })
        })
        .collect()
    }
}

impl NodeSource for LedgerView<'_> {
    type Error = StoreError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let mut st = self.0.prepare_cached("SELECT hash FROM tree_nodes WHERE level = ?1 AND idx = ?2")?;
        let h: Option<Vec<u8>> = st.query_row(params![level, i64_of(index)?], |r| r.get(0)).optional()?;
        hash_of(h.ok_or(StoreError::Invalid("a tree node is missing"))?)
    }
}

/// The one write path: a transaction holding the database's write lock.
#[derive(Debug)]
pub struct LedgerTx<'c> {
    tx: Transaction<'c>,
}

impl Store {
    /// Begins the ledger's write transaction, waiting (up to the busy timeout) for other writers.
    pub fn ledger_tx(&mut self) -> Result<LedgerTx<'_>, StoreError> {
        Ok(LedgerTx { tx: self.conn.transaction_with_behavior(TransactionBehavior::Immediate)? })
    }

    /// Reads within one snapshot: `f` sees the ledger as of one commit.
    pub fn ledger_read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(LedgerView<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(StoreError::from)?;
        let out = f(LedgerView(&tx))?;
        tx.finish().map_err(StoreError::from)?;
        Ok(out)
    }
}

impl LedgerTx<'_> {
    /// Reads within this transaction (it sees what was staged so far).
    pub fn view(&self) -> LedgerView<'_> {
        LedgerView(&self.tx)
    }

    /// Records the log's identity; only when the ledger is created.
    pub fn set_identity(&self, id: &Identity) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
        st.execute(["origin", &id.origin])?;
        st.execute(["facility", &id.facility])?;
        st.execute(["appliance", &id.appliance])?;
        Ok(())
    }

    /// Stages an entry (its kind is kept beside it, for finding entries by kind).
    pub fn put_entry(&self, seq: u64, kind: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached("INSERT INTO entries (seq, kind, bytes) VALUES (?1, ?2, ?3)")?;
        st.execute(params![i64_of(seq)?, kind, bytes])?;
        Ok(())
    }

    /// Stages a perfect-subtree hash.
    pub fn put_node(&self, n: &NewNode) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached("INSERT INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
        st.execute(params![n.level, i64_of(n.index)?, &n.hash[..]])?;
        Ok(())
    }

    /// Stages the signed checkpoint for `size`.
    pub fn put_checkpoint(&self, size: u64, root: &Hash, note: &str) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached("INSERT INTO checkpoints (size, root, note) VALUES (?1, ?2, ?3)")?;
        st.execute(params![i64_of(size)?, &root[..], note])?;
        Ok(())
    }

    /// Makes `key` the signing key from entry `from_seq` on; the previous one is kept for verification.
    pub fn put_current_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        self.tx.execute("UPDATE signing_keys SET current = 0 WHERE current = 1", [])?;
        self.tx.execute(
            "INSERT INTO signing_keys (key_id, vkey, from_seq, current) VALUES (?1, ?2, ?3, 1)",
            params![key.key_id, key.vkey, i64_of(key.from_seq)?],
        )?;
        Ok(())
    }

    /// Makes everything staged durable. Only after this returns may a checkpoint be shown to anyone.
    pub fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit()?)
    }
}
