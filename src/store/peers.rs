//! What the facility's other appliances sent us, as stored: their verified entries and checkpoints,
//! the evidence of their misbehaviour, their last contact, and the cosignatures they made of ours.
//!
//! Guarantees: [`Store::peer_accept`] stores a peer's new entries and the checkpoint covering them in
//! one transaction, only on top of exactly the size it was verified against (compare-and-swap), so a
//! peer's copy is always a verified prefix of its log and never holds an entry twice. Evidence rows are
//! unique by their fingerprint, so each distinct piece of evidence is recorded once. Heads of a log that
//! another peer relayed beyond what we hold are kept until we hold that much. Verification itself
//! is not here ([`crate::peers`]).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError};
use crate::ledger::merkle::Hash;

/// A peer's latest accepted checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed note as received (with any cosignatures it carried).
    pub note: String,
    /// When we accepted it (RFC 3339).
    pub received: String,
}

/// One entry to store: its sequence number, kind, canonical bytes and leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerEntry {
    /// Position in the peer's log.
    pub seq: u64,
    /// Entry kind.
    pub kind: String,
    /// Canonical bytes.
    pub bytes: Vec<u8>,
    /// RFC 6962 leaf hash.
    pub leaf: Hash,
}

/// A peer's last contact, as the sync task recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// When we last reached it (RFC 3339).
    pub last_contact: Option<String>,
    /// When we last tried.
    pub last_attempt: Option<String>,
    /// What went wrong at the last attempt, if it failed.
    pub last_error: Option<String>,
    /// The size it last announced (signed, verified), even if we have not caught up to it.
    pub announced: Option<u64>,
}

/// A recorded piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The log it is about.
    pub origin: String,
    /// `peer_rollback`, `peer_fork`, `peer_bad_signature`, `peer_split_view`.
    pub code: String,
    /// What was seen.
    pub detail: String,
    /// When (RFC 3339).
    pub seen: String,
}

fn hash_of(v: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::try_from(v.as_slice()).map_err(|_| StoreError::Invalid("a stored hash is not 32 bytes"))
}

impl Store {
    /// The latest accepted checkpoint of `origin`.
    pub fn peer_checkpoint(&self, origin: &str) -> Result<Option<HeldCheckpoint>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT size, root, note, received FROM peer_checkpoints WHERE origin = ?1 ORDER BY size DESC LIMIT 1",
        )?;
        let row = st
            .query_row([origin], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })
            .optional()?;
        row.map(|(size, root, note, received)| {
            Ok(HeldCheckpoint { size: size as u64, root: hash_of(root)?, note, received })
        })
        .transpose()
    }

    /// The leaf hashes of `origin`'s stored entries, in order.
    pub fn peer_leaves(&self, origin: &str) -> Result<Vec<Hash>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT leaf FROM peer_entries WHERE origin = ?1 ORDER BY seq")?;
        let rows = st.query_map([origin], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| hash_of(r?)).collect()
    }

    /// Every stored entry of `origin`, in order, as canonical bytes.
    pub fn peer_entries(&self, origin: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT bytes FROM peer_entries WHERE origin = ?1 ORDER BY seq")?;
        let rows = st.query_map([origin], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many entries of `origin` are stored.
    pub fn peer_entry_count(&self, origin: &str) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn.query_row("SELECT count(*) FROM peer_entries WHERE origin = ?1", [origin], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Stores `entries` and the checkpoint covering them in one transaction, only if `origin`'s latest
    /// accepted size is still `from` (else [`StoreError::Conflict`], nothing written).
    pub fn peer_accept(
        &mut self,
        origin: &str,
        from: u64,
        cp: &HeldCheckpoint,
        entries: &[PeerEntry],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: Option<i64> =
            tx.query_row("SELECT max(size) FROM peer_checkpoints WHERE origin = ?1", [origin], |r| r.get(0))?;
        let stored: i64 =
            tx.query_row("SELECT count(*) FROM peer_entries WHERE origin = ?1", [origin], |r| r.get(0))?;
        if held.unwrap_or(0) as u64 != from || stored as u64 != from {
            return Err(StoreError::Conflict("the peer's stored log changed while it was being verified"));
        }
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO peer_entries (origin, seq, kind, bytes, leaf) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in entries {
                put.execute(params![origin, e.seq as i64, e.kind, e.bytes, &e.leaf[..]])?;
            }
            let mut cpst = tx.prepare_cached(
                "INSERT OR REPLACE INTO peer_checkpoints (origin, size, root, note, received) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            cpst.execute(params![origin, cp.size as i64, &cp.root[..], cp.note, cp.received])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records an attempt to reach `origin`: `error` is `None` when it answered.
    pub fn peer_contact(
        &mut self,
        origin: &str,
        at: &str,
        error: Option<&str>,
        announced: Option<u64>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO peer_contacts (origin, last_attempt, last_contact, last_error, announced)
             VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, ?3, ?4)
             ON CONFLICT (origin) DO UPDATE SET last_attempt = ?2,
                 last_contact = CASE WHEN ?3 IS NULL THEN ?2 ELSE last_contact END,
                 last_error = ?3, announced = coalesce(?4, announced)",
            params![origin, at, error, announced.map(|a| a as i64)],
        )?;
        Ok(())
    }

    /// The last contact with `origin`.
    pub fn peer_contact_of(&self, origin: &str) -> Result<Contact, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT last_contact, last_attempt, last_error, announced FROM peer_contacts WHERE origin = ?1",
        )?;
        let c = st
            .query_row([origin], |r| {
                Ok(Contact {
                    last_contact: r.get(0)?,
                    last_attempt: r.get(1)?,
                    last_error: r.get(2)?,
                    announced: r.get::<_, Option<i64>>(3)?.map(|a| a as u64),
                })
            })
            .optional()?;
        Ok(c.unwrap_or_default())
    }

    /// Whether evidence with this fingerprint is recorded.
    pub fn peer_evidence_known(&self, fingerprint: &Hash) -> Result<bool, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM peer_evidence WHERE fingerprint = ?1",
            [&fingerprint[..]],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Records evidence (the bad note kept as received) and the seq of the alarm written for it.
    pub fn peer_evidence_put(
        &mut self,
        e: &Evidence,
        fingerprint: &Hash,
        note: &str,
        alarm_seq: Option<u64>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO peer_evidence (origin, code, fingerprint, note, detail, seen, alarm_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.origin, e.code, &fingerprint[..], note, e.detail, e.seen, alarm_seq.map(|s| s as i64)],
        )?;
        Ok(())
    }

    /// Evidence recorded about `origin`, oldest first.
    pub fn peer_evidence_of(&self, origin: &str) -> Result<Vec<Evidence>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT origin, code, detail, seen FROM peer_evidence WHERE origin = ?1 ORDER BY id")?;
        let rows = st.query_map([origin], |r| {
            Ok(Evidence { origin: r.get(0)?, code: r.get(1)?, detail: r.get(2)?, seen: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a verified head of `origin` relayed by the peer `via` that is beyond what we hold, to be
    /// checked once we hold that much (one per log, size and relay).
    pub fn peer_claim_put(
        &mut self,
        origin: &str,
        size: u64,
        root: &Hash,
        via: &str,
        note: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO peer_claims (origin, size, root, via, note) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![origin, size as i64, &root[..], via, note],
        )?;
        Ok(())
    }

    /// Takes (returns and forgets) the relayed heads of `origin` at sizes up to `size`: (size, root, via, note).
    pub fn peer_claims_take(
        &mut self,
        origin: &str,
        size: u64,
    ) -> Result<Vec<(u64, Hash, String, String)>, StoreError> {
        let tx = self.conn.transaction()?;
        let claims = {
            let mut st = tx.prepare_cached(
                "SELECT size, root, via, note FROM peer_claims WHERE origin = ?1 AND size <= ?2 ORDER BY size",
            )?;
            let rows = st.query_map(params![origin, size as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (s, root, via, note) = row?;
                out.push((s as u64, hash_of(root)?, via, note));
            }
            out
        };
        tx.execute("DELETE FROM peer_claims WHERE origin = ?1 AND size <= ?2", params![origin, size as i64])?;
        tx.commit()?;
        Ok(claims)
    }

    /// Keeps a witness's cosignature of our checkpoint at `size` (one per witness and size).
    pub fn cosignature_put(&mut self, size: u64, witness: &str, line: &str, at: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO cosignatures (size, witness, line, received) VALUES (?1, ?2, ?3, ?4)",
            params![size as i64, witness, line, at],
        )?;
        Ok(())
    }

    /// The cosignature lines of our checkpoint at `size`, by witness name.
    pub fn cosignatures_at(&self, size: u64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT line FROM cosignatures WHERE size = ?1 ORDER BY witness")?;
        let rows = st.query_map([size as i64], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Open;

    fn entry(seq: u64) -> PeerEntry {
        PeerEntry { seq, kind: "note".into(), bytes: vec![seq as u8], leaf: [seq as u8; 32] }
    }

    #[test]
    fn accepting_is_all_or_nothing_and_on_top_of_what_was_verified() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        let cp = |size| HeldCheckpoint { size, root: [9; 32], note: format!("n{size}"), received: "t".into() };
        s.peer_accept("f/a", 0, &cp(2), &[entry(0), entry(1)]).unwrap();
        assert!(matches!(s.peer_accept("f/a", 0, &cp(2), &[entry(0), entry(1)]), Err(StoreError::Conflict(_))));
        // A duplicate seq fails the whole transaction.
        assert!(s.peer_accept("f/a", 2, &cp(4), &[entry(2), entry(2)]).is_err());
        assert_eq!(s.peer_entry_count("f/a").unwrap(), 2);
        assert_eq!(s.peer_checkpoint("f/a").unwrap().unwrap().size, 2);
        s.peer_accept("f/a", 2, &cp(3), &[entry(2)]).unwrap();
        assert_eq!(s.peer_leaves("f/a").unwrap().len(), 3);
        let e = Evidence { origin: "f/a".into(), code: "peer_fork".into(), detail: "d".into(), seen: "t".into() };
        assert!(!s.peer_evidence_known(&[1; 32]).unwrap());
        s.peer_evidence_put(&e, &[1; 32], "note", Some(5)).unwrap();
        s.peer_evidence_put(&e, &[1; 32], "note", Some(6)).unwrap();
        assert!(s.peer_evidence_known(&[1; 32]).unwrap());
        assert_eq!(s.peer_evidence_of("f/a").unwrap(), vec![e]);
        s.peer_contact("f/a", "t1", None, Some(3)).unwrap();
        s.peer_contact("f/a", "t2", Some("refused"), None).unwrap();
        s.peer_claim_put("f/b", 5, &[2; 32], "gate-3", "n5").unwrap();
        s.peer_claim_put("f/b", 9, &[3; 32], "gate-3", "n9").unwrap();
        assert_eq!(s.peer_claims_take("f/b", 6).unwrap(), vec![(5, [2; 32], "gate-3".into(), "n5".into())]);
        assert!(s.peer_claims_take("f/b", 6).unwrap().is_empty(), "taken once");
        let c = s.peer_contact_of("f/a").unwrap();
        assert_eq!(
            (c.last_contact.as_deref(), c.last_error.as_deref(), c.announced),
            (Some("t1"), Some("refused"), Some(3))
        );
    }
}
