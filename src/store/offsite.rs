//! The register read whole for an off-site copy, and written whole by a restore.
//!
//! [`Store::people_each`] reads every person with their sealed photo and sealed templates in one snapshot;
//! [`Store::people_restore`] stores a restored register in one transaction (all or nothing), keeping the
//! registration and update times it had. Neither opens nor seals anything: the vault does, in
//! [`crate::offsite`].

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::people::{NewPerson, NewTemplate, PersonRecord};
use super::{Store, StoreError};
use crate::people::Category;

/// A person as a restore stores it: identity fields, times, sealed photo. `Debug` hides the photo.
#[derive(Clone, PartialEq, Eq)]
pub struct RestoredPerson {
    /// Identity fields.
    pub person: NewPerson,
    /// When registered (RFC 3339).
    pub created: String,
    /// When last changed (RFC 3339).
    pub updated: String,
    /// The photo sealed by the new appliance's vault.
    pub photo: Option<Vec<u8>>,
}

/// Written by hand: a photo, even sealed, stays out of logs.
impl std::fmt::Debug for RestoredPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestoredPerson")
            .field("id", &self.person.id)
            .field("created", &self.created)
            .field("photo_len", &self.photo.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Calls `f` on every person, in id order, with their sealed photo and sealed templates (finger
    /// order), all read in one snapshot. Returns the number of people.
    pub fn people_each<E: From<StoreError>>(
        &mut self,
        mut f: impl FnMut(PersonRecord, Option<Vec<u8>>, Vec<NewTemplate>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let sql = StoreError::from;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(sql)?;
        let mut people = tx
            .prepare(
                "SELECT id, category, given_names, family_name, date_of_birth, national_id, photo, created, updated
                 FROM people ORDER BY id",
            )
            .map_err(sql)?;
        let mut templates = tx
            .prepare("SELECT finger, duress, quality, sealed, created FROM templates WHERE person = ?1 ORDER BY finger")
            .map_err(sql)?;
        let mut rows = people.query([]).map_err(sql)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(sql)? {
            let category: String = r.get(1).map_err(sql)?;
            let photo: Option<Vec<u8>> = r.get(6).map_err(sql)?;
            let record = PersonRecord {
                id: r.get(0).map_err(sql)?,
                category: Category::parse(&category).ok_or(StoreError::Invalid("unknown person category"))?,
                given_names: r.get(2).map_err(sql)?,
                family_name: r.get(3).map_err(sql)?,
                date_of_birth: r.get(4).map_err(sql)?,
                national_id: r.get(5).map_err(sql)?,
                has_photo: photo.is_some(),
                created: r.get(7).map_err(sql)?,
                updated: r.get(8).map_err(sql)?,
            };
            let mut fingers = Vec::new();
            let mut t_rows = templates.query([&record.id]).map_err(sql)?;
            while let Some(t) = t_rows.next().map_err(sql)? {
                let finger: i64 = t.get(0).map_err(sql)?;
                let duress: i64 = t.get(1).map_err(sql)?;
                let quality: i64 = t.get(2).map_err(sql)?;
                fingers.push(NewTemplate {
                    person: record.id.clone(),
                    finger: u8::try_from(finger)
                        .ok()
                        .filter(|f| (1..=10).contains(f))
                        .ok_or(StoreError::Invalid("finger position out of range"))?,
                    duress: duress == 1,
                    quality: u8::try_from(quality)
                        .ok()
                        .filter(|q| *q <= 100)
                        .ok_or(StoreError::Invalid("template quality out of range"))?,
                    sealed: t.get(3).map_err(sql)?,
                    created: t.get(4).map_err(sql)?,
                });
            }
            f(record, photo, fingers)?;
            n += 1;
        }
        Ok(n)
    }

    /// Whether the register holds anyone (a restore goes only into an empty one).
    pub fn people_any(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row("SELECT 1 FROM people LIMIT 1", [], |_| Ok(())).optional()?.is_some())
    }

    /// Stores a restored register in one transaction: every person with their times and sealed photo,
    /// then every template; at the first conflict or error, nothing.
    pub fn people_restore(&mut self, people: &[RestoredPerson], templates: &[NewTemplate]) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare(
                "INSERT INTO people (id, category, given_names, family_name, date_of_birth, national_id, photo, created, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for r in people {
                let p = &r.person;
                put.execute(params![
                    p.id,
                    p.category.as_str(),
                    p.given_names,
                    p.family_name,
                    p.date_of_birth,
                    p.national_id,
                    r.photo,
                    r.created,
                    r.updated
                ])?;
            }
            let mut put = tx.prepare(
                "INSERT INTO templates (person, finger, duress, quality, sealed, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for t in templates {
                put.execute(params![t.person, t.finger, t.duress, t.quality, t.sealed, t.created])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
