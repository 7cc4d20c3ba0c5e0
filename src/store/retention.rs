//! What the retention rule reads and deletes: the ledger entries it folds (read by kind, in one
//! snapshot), what biometric data a person still has, and the deletion of a person's templates and photo
//! in one transaction.
//!
//! It decides nothing: who is due and what is recorded first is [`crate::people::retention`]'s.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError};

/// The kinds of entry the retention rule folds.
pub const RETENTION_KINDS: [&str; 5] =
    ["registration", "status_change", "enrolment", "templates_deleted", "clock_change"];

/// What biometric data the register still holds for one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    /// ISO finger positions with a stored template, in order.
    pub fingers: Vec<u8>,
    /// Whether a photo is stored.
    pub photo: bool,
}

impl Store {
    /// Hands `f` every entry of the [`RETENTION_KINDS`], as (seq, canonical bytes), in sequence order,
    /// within one read snapshot.
    pub fn retention_entries<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, bytes FROM entries WHERE kind IN (?1, ?2, ?3, ?4, ?5) ORDER BY seq")
            .map_err(StoreError::from)?;
        let mut rows = st.query(RETENTION_KINDS).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let seq: i64 = r.get(0).map_err(StoreError::from)?;
            let seq = u64::try_from(seq).map_err(|_| StoreError::Invalid("negative entry seq"))?;
            let bytes: Vec<u8> = r.get(1).map_err(StoreError::from)?;
            f(seq, &bytes)?;
        }
        Ok(())
    }

    /// Seq of the last `templates_deleted` entry.
    pub fn last_templates_deleted(&self) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(seq) FROM entries WHERE kind = 'templates_deleted'")?
            .query_row([], |r| r.get(0))?;
        seq.map(|s| u64::try_from(s).map_err(|_| StoreError::Invalid("negative entry seq"))).transpose()
    }

    /// The fingers and photo stored for `person` (nothing for an unknown person).
    pub fn retention_holdings(&self, person: &str) -> Result<Holdings, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT finger FROM templates WHERE person = ?1 ORDER BY finger")?;
        let mut rows = st.query([person])?;
        let mut fingers = Vec::new();
        while let Some(r) = rows.next()? {
            let f: i64 = r.get(0)?;
            fingers.push(u8::try_from(f).map_err(|_| StoreError::Invalid("finger position out of range"))?);
        }
        let photo = self
            .conn
            .prepare_cached("SELECT count(*) FROM people WHERE id = ?1 AND photo IS NOT NULL")?
            .query_row([person], |r| r.get::<_, i64>(0))?
            > 0;
        Ok(Holdings { fingers, photo })
    }

    /// Deletes `person`'s templates of `fingers` and, if `photo`, the photo, in one transaction; returns
    /// the row ids of the templates deleted (their ids in the identification index). Fingers not stored
    /// are passed over, so a deletion done again deletes nothing more.
    pub fn retention_delete(
        &mut self,
        person: &str,
        fingers: &[u8],
        photo: bool,
        now: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::new();
        {
            let mut find = tx.prepare_cached("SELECT id FROM templates WHERE person = ?1 AND finger = ?2")?;
            let mut delete = tx.prepare_cached("DELETE FROM templates WHERE id = ?1")?;
            for finger in fingers {
                let id: Option<i64> = find.query_row(params![person, finger], |r| r.get(0)).optional()?;
                if let Some(id) = id {
                    delete.execute([id])?;
                    ids.push(id);
                }
            }
            if photo {
                tx.prepare_cached("UPDATE people SET photo = NULL, updated = ?2 WHERE id = ?1 AND photo IS NOT NULL")?
                    .execute(params![person, now])?;
            }
        }
        tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::Category;
    use crate::store::Open;
    use crate::store::people::{NewPerson, NewTemplate};

    const T0: &str = "2026-01-01T00:00:00.000Z";

    #[test]
    fn holdings_and_deletion_of_one_person() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        for id in ["P1", "P2"] {
            let p = NewPerson {
                id: id.into(),
                category: Category::Inmate,
                given_names: "A".into(),
                family_name: "B".into(),
                date_of_birth: None,
                national_id: None,
            };
            s.person_insert(&p, T0).unwrap();
            for finger in [2, 7] {
                let t = NewTemplate {
                    person: id.into(),
                    finger,
                    duress: false,
                    quality: 60,
                    sealed: vec![1; 40],
                    created: T0.into(),
                };
                s.template_insert(&t).unwrap();
            }
        }
        s.photo_set("P1", &[9; 10], T0).unwrap();
        assert_eq!(s.retention_holdings("P1").unwrap(), Holdings { fingers: vec![2, 7], photo: true });
        assert_eq!(s.retention_holdings("nobody").unwrap(), Holdings::default());

        let ids = s.retention_delete("P1", &[2, 7, 9], true, T0).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(s.retention_holdings("P1").unwrap(), Holdings::default());
        assert_eq!(s.retention_holdings("P2").unwrap(), Holdings { fingers: vec![2, 7], photo: false });
        assert!(s.retention_delete("P1", &[2, 7], true, T0).unwrap().is_empty(), "done again, nothing more");
        assert_eq!(s.template_count().unwrap(), 2);
    }
}
