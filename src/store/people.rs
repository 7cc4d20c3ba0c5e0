//! The register as stored: people's identity fields with their sealed photo, and their sealed fingerprint
//! templates, one row per enrolled finger.
//!
//! It keeps rows and answers queries; it does not check identity fields (the caller does, with
//! [`crate::people::check_id`] and its siblings), does not encrypt or decrypt (photos and templates arrive
//! and leave sealed by [`crate::people::vault`]), and stores no status or zone: those are the census's fold
//! over the ledger. Every write is one statement or one transaction, durable once it returns; a value the
//! schema should have kept out (tampering with the file) is reported as [`StoreError::Invalid`], never a
//! panic.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{Store, StoreError};
use crate::people::Category;

/// A person's identity fields, as given for registration or correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    /// Person id ([`crate::people::check_id`]).
    pub id: String,
    /// Inmate, staff or visitor.
    pub category: Category,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (ISO 8601 date), if known.
    pub date_of_birth: Option<String>,
    /// National identity number, if known.
    pub national_id: Option<String>,
}

/// A person as stored (the photo itself is read apart, with [`Store::photo_get`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// Person id.
    pub id: String,
    /// Inmate, staff or visitor.
    pub category: Category,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (ISO 8601 date), if known.
    pub date_of_birth: Option<String>,
    /// National identity number, if known.
    pub national_id: Option<String>,
    /// Whether a sealed photo is stored.
    pub has_photo: bool,
    /// When the person was registered (RFC 3339).
    pub created: String,
    /// When the identity fields or photo last changed (RFC 3339).
    pub updated: String,
}

/// A sealed template to store. `Debug` shows the sealed bytes' length only.
#[derive(Clone, PartialEq, Eq)]
pub struct NewTemplate {
    /// Whose finger.
    pub person: String,
    /// ISO finger position, 1 to 10 ([`crate::people::check_finger`]).
    pub finger: u8,
    /// Whether presenting this finger signals duress.
    pub duress: bool,
    /// Quality of the enrolled impression, 0 to 100.
    pub quality: u8,
    /// The template encoding sealed by the vault (context [`crate::people::vault::template_context`]).
    pub sealed: Vec<u8>,
    /// When it was enrolled (RFC 3339).
    pub created: String,
}

/// Written by hand: even sealed, template bytes stay out of logs.
impl std::fmt::Debug for NewTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTemplate")
            .field("person", &self.person)
            .field("finger", &self.finger)
            .field("duress", &self.duress)
            .field("quality", &self.quality)
            .field("sealed_len", &self.sealed.len())
            .field("created", &self.created)
            .finish()
    }
}

/// An enrolled finger as listed to an officer (no template bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    /// Row id, also the template's id in the identification index.
    pub id: i64,
    /// ISO finger position, 1 to 10.
    pub finger: u8,
    /// Whether presenting this finger signals duress.
    pub duress: bool,
    /// Quality of the enrolled impression, 0 to 100.
    pub quality: u8,
    /// When it was enrolled (RFC 3339).
    pub created: String,
}

/// A stored template as the gallery loads it. `Debug` shows the sealed bytes' length only.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    /// Row id, also the template's id in the identification index.
    pub id: i64,
    /// Whose finger.
    pub person: String,
    /// ISO finger position, 1 to 10.
    pub finger: u8,
    /// Whether presenting this finger signals duress.
    pub duress: bool,
    /// The sealed template encoding.
    pub sealed: Vec<u8>,
}

/// Written by hand: even sealed, template bytes stay out of logs.
impl std::fmt::Debug for StoredTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTemplate")
            .field("id", &self.id)
            .field("person", &self.person)
            .field("finger", &self.finger)
            .field("duress", &self.duress)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

/// Columns of a [`PersonRecord`], in the order [`person_row`] reads them.
const PERSON_COLUMNS: &str =
    "id, category, given_names, family_name, date_of_birth, national_id, photo IS NOT NULL, created, updated";

/// The SQLite extended result code of a failed constraint, if that is what `e` is.
fn constraint(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            Some(f.extended_code)
        }
        _ => None,
    }
}

fn person_row(r: &Row<'_>) -> Result<PersonRecord, StoreError> {
    let category: String = r.get(1)?;
    Ok(PersonRecord {
        id: r.get(0)?,
        category: Category::parse(&category).ok_or(StoreError::Invalid("unknown person category"))?,
        given_names: r.get(2)?,
        family_name: r.get(3)?,
        date_of_birth: r.get(4)?,
        national_id: r.get(5)?,
        has_photo: r.get(6)?,
        created: r.get(7)?,
        updated: r.get(8)?,
    })
}

fn finger_of(v: i64) -> Result<u8, StoreError> {
    u8::try_from(v).ok().filter(|f| (1..=10).contains(f)).ok_or(StoreError::Invalid("finger position out of range"))
}

fn quality_of(v: i64) -> Result<u8, StoreError> {
    u8::try_from(v).ok().filter(|q| *q <= 100).ok_or(StoreError::Invalid("template quality out of range"))
}

fn flag_of(v: i64) -> Result<bool, StoreError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::Invalid("duress flag is neither 0 nor 1")),
    }
}

/// `query` as a LIKE pattern matching it anywhere, `\` escaping the wildcards it holds.
fn like_pattern(query: &str) -> String {
    let mut p = String::with_capacity(query.len() + 2);
    p.push('%');
    for c in query.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn insert_person(conn: &Connection, p: &NewPerson, now: &str) -> Result<(), StoreError> {
    let r = conn
        .prepare_cached(
            "INSERT INTO people (id, category, given_names, family_name, date_of_birth, national_id, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute(params![p.id, p.category.as_str(), p.given_names, p.family_name, p.date_of_birth, p.national_id, now]);
    match r {
        Err(e) if constraint(&e) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
            Err(StoreError::Conflict("a person with this id exists"))
        }
        other => other.map(drop).map_err(StoreError::from),
    }
}

fn insert_template(conn: &Connection, t: &NewTemplate) -> Result<i64, StoreError> {
    let r = conn
        .prepare_cached(
            "INSERT INTO templates (person, finger, duress, quality, sealed, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![t.person, t.finger, t.duress, t.quality, t.sealed, t.created]);
    match r {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(e) => Err(match constraint(&e) {
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE) => StoreError::Conflict("this finger is already enrolled"),
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => StoreError::Conflict("no person with this id"),
            _ => StoreError::from(e),
        }),
    }
}

impl Store {
    /// Registers a person. Fails with [`StoreError::Conflict`] when the id is taken.
    pub fn person_insert(&mut self, p: &NewPerson, now: &str) -> Result<(), StoreError> {
        insert_person(&self.conn, p, now)
    }

    /// Replaces a person's identity fields (not the photo, not the templates); `false` when there is no
    /// person with this id.
    pub fn person_update(&mut self, p: &NewPerson, now: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE people SET category = ?2, given_names = ?3, family_name = ?4, date_of_birth = ?5,
                national_id = ?6, updated = ?7
             WHERE id = ?1",
            )?
            .execute(params![
                p.id,
                p.category.as_str(),
                p.given_names,
                p.family_name,
                p.date_of_birth,
                p.national_id,
                now
            ])?;
        Ok(n > 0)
    }

    /// The person with this id.
    pub fn person_get(&self, id: &str) -> Result<Option<PersonRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = ?1"))?;
        let mut rows = st.query([id])?;
        rows.next()?.map(person_row).transpose()
    }

    /// People whose id, names (given then family, or family then given) or national id contain `query`,
    /// ignoring case (ASCII letters only: SQLite's `LIKE` does not fold other scripts), optionally of
    /// one category; ordered by family name, given names and id; `limit` of them after skipping
    /// `offset`. An empty query lists everyone.
    pub fn person_search(
        &self,
        query: &str,
        category: Option<Category>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {PERSON_COLUMNS} FROM people
             WHERE (?2 IS NULL OR category = ?2)
               AND (id LIKE ?1 ESCAPE '\\'
                    OR given_names || ' ' || family_name LIKE ?1 ESCAPE '\\'
                    OR family_name || ' ' || given_names LIKE ?1 ESCAPE '\\'
                    OR national_id LIKE ?1 ESCAPE '\\')
             ORDER BY family_name, given_names, id
             LIMIT ?3 OFFSET ?4"
        ))?;
        let mut rows = st.query(params![like_pattern(query), category.map(Category::as_str), limit, offset])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(person_row(r)?);
        }
        Ok(out)
    }

    /// Number of people registered.
    pub fn person_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM people", [], |r| r.get(0))?;
        u64::try_from(n).map_err(|_| StoreError::Invalid("negative count"))
    }

    /// Stores a person's sealed photo (context [`crate::people::vault::photo_context`]), replacing any;
    /// `false` when there is no person with this id.
    pub fn photo_set(&mut self, id: &str, sealed: &[u8], now: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("UPDATE people SET photo = ?2, updated = ?3 WHERE id = ?1")?
            .execute(params![id, sealed, now])?;
        Ok(n > 0)
    }

    /// Removes a person's photo; `false` when there is no person with this id.
    pub fn photo_clear(&mut self, id: &str, now: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("UPDATE people SET photo = NULL, updated = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        Ok(n > 0)
    }

    /// A person's sealed photo; `None` when the person or the photo is absent.
    pub fn photo_get(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT photo FROM people WHERE id = ?1")?;
        let photo: Option<Option<Vec<u8>>> = st.query_row([id], |r| r.get(0)).optional()?;
        Ok(photo.flatten())
    }

    /// Stores an enrolled finger and returns its row id. Fails with [`StoreError::Conflict`] when the
    /// person already has this finger enrolled, or when there is no such person.
    pub fn template_insert(&mut self, t: &NewTemplate) -> Result<i64, StoreError> {
        insert_template(&self.conn, t)
    }

    /// Deletes an enrolled finger; `false` when there is no template with this id.
    pub fn template_delete(&mut self, id: i64) -> Result<bool, StoreError> {
        let n = self.conn.prepare_cached("DELETE FROM templates WHERE id = ?1")?.execute([id])?;
        Ok(n > 0)
    }

    /// A person's enrolled fingers, by finger position (empty for an unknown person).
    pub fn templates_of(&self, person: &str) -> Result<Vec<TemplateInfo>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, finger, duress, quality, created FROM templates WHERE person = ?1 ORDER BY finger",
        )?;
        let mut rows = st.query([person])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(TemplateInfo {
                id: r.get(0)?,
                finger: finger_of(r.get(1)?)?,
                duress: flag_of(r.get(2)?)?,
                quality: quality_of(r.get(3)?)?,
                created: r.get(4)?,
            });
        }
        Ok(out)
    }

    /// A person's stored templates, sealed, in row id order (what the gallery reloads of one person).
    pub fn templates_sealed_of(&self, person: &str) -> Result<Vec<StoredTemplate>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, person, finger, duress, sealed FROM templates WHERE person = ?1 ORDER BY id")?;
        let mut rows = st.query([person])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(StoredTemplate {
                id: r.get(0)?,
                person: r.get(1)?,
                finger: finger_of(r.get(2)?)?,
                duress: flag_of(r.get(3)?)?,
                sealed: r.get(4)?,
            });
        }
        Ok(out)
    }

    /// Hands every stored template to `f`, in row id order, one row at a time (nothing is loaded all at
    /// once), within one read snapshot; returns how many. Stops at the first error, `f`'s or the store's.
    pub fn templates_all(&self, f: impl FnMut(StoredTemplate) -> Result<(), StoreError>) -> Result<u64, StoreError> {
        self.templates_each(f)
    }

    /// [`Store::templates_all`] for a callback with its own error type, so that it can stop the stream
    /// with an error the store does not know.
    pub fn templates_each<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(StoredTemplate) -> Result<(), E>,
    ) -> Result<u64, E> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, person, finger, duress, sealed FROM templates ORDER BY id")
            .map_err(StoreError::from)?;
        let mut rows = st.query([]).map_err(StoreError::from)?;
        let mut count = 0u64;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let row = || -> Result<StoredTemplate, StoreError> {
                Ok(StoredTemplate {
                    id: r.get(0)?,
                    person: r.get(1)?,
                    finger: finger_of(r.get(2)?)?,
                    duress: flag_of(r.get(3)?)?,
                    sealed: r.get(4)?,
                })
            };
            f(row()?)?;
            count += 1;
        }
        Ok(count)
    }

    /// Number of stored templates.
    pub fn template_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM templates", [], |r| r.get(0))?;
        u64::try_from(n).map_err(|_| StoreError::Invalid("negative count"))
    }

    /// Registers `people` and stores `templates` (of those people or of people already stored) in one
    /// transaction: all of them, or, at the first conflict or error, none. Returns the templates' row
    /// ids in the order given, for the caller to index them.
    pub fn people_import(
        &mut self,
        people: &[NewPerson],
        templates: &[NewTemplate],
        now: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for p in people {
            insert_person(&tx, p, now)?;
        }
        let ids = templates.iter().map(|t| insert_template(&tx, t)).collect::<Result<Vec<i64>, StoreError>>()?;
        tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Open;

    const T0: &str = "2026-01-01T00:00:00.000Z";
    const T1: &str = "2026-01-02T00:00:00.000Z";

    fn person(id: &str, given: &str, family: &str) -> NewPerson {
        NewPerson {
            id: id.into(),
            category: Category::Inmate,
            given_names: given.into(),
            family_name: family.into(),
            date_of_birth: None,
            national_id: None,
        }
    }

    fn template(person: &str, finger: u8) -> NewTemplate {
        NewTemplate {
            person: person.into(),
            finger,
            duress: finger == 10,
            quality: 60,
            sealed: vec![finger; 40],
            created: T0.into(),
        }
    }

    fn ids(v: &[PersonRecord]) -> Vec<&str> {
        v.iter().map(|p| p.id.as_str()).collect()
    }

    #[test]
    fn people_are_registered_corrected_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        let mut a = person("MKL-1", "Jean-Pierre", "Mbuyi");
        a.national_id = Some("CD-55_1%".into());
        s.person_insert(&a, T0).unwrap();
        s.person_insert(&person("MKL-2", "Grace", "Kabila"), T0).unwrap();
        let mut staff = person("S-7", "Amani", "Mbuyi");
        staff.category = Category::Staff;
        s.person_insert(&staff, T0).unwrap();
        assert!(matches!(s.person_insert(&person("MKL-1", "X", "Y"), T1), Err(StoreError::Conflict(_))));
        assert_eq!(s.person_count().unwrap(), 3);

        let got = s.person_get("MKL-1").unwrap().unwrap();
        assert_eq!(
            (got.category, got.national_id.as_deref(), got.has_photo),
            (Category::Inmate, Some("CD-55_1%"), false)
        );
        assert_eq!((got.created.as_str(), got.updated.as_str()), (T0, T0));
        assert_eq!(s.person_get("nobody").unwrap(), None);

        a.date_of_birth = Some("1990-04-01".into());
        assert!(s.person_update(&a, T1).unwrap());
        assert!(!s.person_update(&person("nobody", "A", "B"), T1).unwrap());
        let got = s.person_get("MKL-1").unwrap().unwrap();
        assert_eq!(
            (got.date_of_birth.as_deref(), got.created.as_str(), got.updated.as_str()),
            (Some("1990-04-01"), T0, T1)
        );

        // Ordered by family name, given names, id; case-insensitive; either name order.
        assert_eq!(ids(&s.person_search("", None, 10, 0).unwrap()), ["MKL-2", "S-7", "MKL-1"]);
        assert_eq!(ids(&s.person_search("mbuyi", None, 10, 0).unwrap()), ["S-7", "MKL-1"]);
        assert_eq!(ids(&s.person_search("mbuyi", Some(Category::Inmate), 10, 0).unwrap()), ["MKL-1"]);
        assert_eq!(ids(&s.person_search("jean-pierre mbuyi", None, 10, 0).unwrap()), ["MKL-1"]);
        assert_eq!(ids(&s.person_search("Mbuyi Jean", None, 10, 0).unwrap()), ["MKL-1"]);
        assert_eq!(ids(&s.person_search("mkl-", None, 1, 1).unwrap()), ["MKL-1"]);
        // Wildcards are matched literally.
        assert_eq!(ids(&s.person_search("5_1%", None, 10, 0).unwrap()), ["MKL-1"]);
        assert!(s.person_search("%", None, 10, 0).unwrap().len() == 1);
        assert!(s.person_search("_", None, 10, 0).unwrap().len() == 1);
        assert!(s.person_search("\\", None, 10, 0).unwrap().is_empty());
    }

    #[test]
    fn photos_are_kept_apart_from_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        s.person_insert(&person("P1", "A", "B"), T0).unwrap();
        assert_eq!(s.photo_get("P1").unwrap(), None);
        assert!(!s.photo_set("nobody", b"x", T1).unwrap());
        assert!(s.photo_set("P1", b"sealed photo", T1).unwrap());
        assert_eq!(s.photo_get("P1").unwrap().as_deref(), Some(&b"sealed photo"[..]));
        let got = s.person_get("P1").unwrap().unwrap();
        assert!(got.has_photo && got.updated == T1);
        assert!(s.photo_clear("P1", T1).unwrap());
        assert_eq!(s.photo_get("P1").unwrap(), None);
        assert_eq!(s.photo_get("nobody").unwrap(), None);
    }

    #[test]
    fn templates_are_one_per_finger_and_stream_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        s.person_insert(&person("P1", "A", "B"), T0).unwrap();
        s.person_insert(&person("P2", "C", "D"), T0).unwrap();
        let a = s.template_insert(&template("P1", 2)).unwrap();
        let b = s.template_insert(&template("P1", 10)).unwrap();
        let c = s.template_insert(&template("P2", 2)).unwrap();
        assert!(matches!(
            s.template_insert(&template("P1", 2)),
            Err(StoreError::Conflict("this finger is already enrolled"))
        ));
        assert!(matches!(
            s.template_insert(&template("nobody", 1)),
            Err(StoreError::Conflict("no person with this id"))
        ));
        assert!(s.template_insert(&template("P1", 11)).is_err());

        let of = s.templates_of("P1").unwrap();
        assert_eq!(
            of.iter().map(|t| (t.id, t.finger, t.duress, t.quality)).collect::<Vec<_>>(),
            [(a, 2, false, 60), (b, 10, true, 60)]
        );
        assert!(s.templates_of("nobody").unwrap().is_empty());

        let mut seen = Vec::new();
        let n = s
            .templates_all(|t| {
                seen.push((t.id, t.person, t.finger, t.sealed.len()));
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(seen, [(a, "P1".into(), 2, 40), (b, "P1".into(), 10, 40), (c, "P2".into(), 2, 40)]);
        // The callback's error stops the stream.
        let mut calls = 0;
        let r = s.templates_all(|_| {
            calls += 1;
            Err(StoreError::Invalid("stop"))
        });
        assert!(matches!(r, Err(StoreError::Invalid("stop"))) && calls == 1);

        assert!(s.template_delete(a).unwrap());
        assert!(!s.template_delete(a).unwrap());
        assert_eq!(s.template_count().unwrap(), 2);
        // The finger may be enrolled again once deleted.
        s.template_insert(&template("P1", 2)).unwrap();
    }

    #[test]
    fn bad_stored_values_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        s.person_insert(&person("P1", "A", "B"), T0).unwrap();
        s.template_insert(&template("P1", 3)).unwrap();
        s.conn.execute("UPDATE people SET category = 'warden'", []).unwrap();
        assert!(matches!(s.person_get("P1"), Err(StoreError::Invalid(_))));
        assert!(matches!(s.person_search("", None, 10, 0), Err(StoreError::Invalid(_))));
        s.conn.execute("UPDATE templates SET quality = 400", []).unwrap();
        assert!(matches!(s.templates_of("P1"), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn a_database_of_the_first_version_gains_the_register() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
        conn.execute_batch(crate::store::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute("INSERT INTO tokens (name, role, hash, created) VALUES ('a', 'admin', x'01', ?1)", [T0]).unwrap();
        drop(conn);
        let mut s = Store::open(dir.path(), Open::MustExist).unwrap();
        s.person_insert(&person("P1", "A", "B"), T0).unwrap();
        s.template_insert(&template("P1", 1)).unwrap();
        assert_eq!(s.token_list().unwrap().len(), 1);
    }

    #[test]
    fn an_import_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        s.person_insert(&person("P0", "A", "B"), T0).unwrap();
        let people = [person("P1", "C", "D"), person("P2", "E", "F")];
        // P2's finger 1 twice: nothing is written.
        let bad = [template("P1", 1), template("P2", 1), template("P2", 1)];
        assert!(matches!(s.people_import(&people, &bad, T0), Err(StoreError::Conflict(_))));
        assert_eq!((s.person_count().unwrap(), s.template_count().unwrap()), (1, 0));
        let good = [template("P1", 1), template("P2", 1), template("P0", 1)];
        let ids = s.people_import(&people, &good, T0).unwrap();
        assert_eq!(ids.len(), 3);
        assert_eq!(s.templates_of("P0").unwrap()[0].id, ids[2]);
        assert_eq!((s.person_count().unwrap(), s.template_count().unwrap()), (3, 3));
    }
}
