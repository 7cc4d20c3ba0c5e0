//! API tokens as stored: a name, a role and the SHA-256 of the secret (never the secret itself).

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A token as listed to an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Who or what holds it.
    pub name: String,
    /// Its role.
    pub role: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// When it was revoked, if it was.
    pub revoked: Option<String>,
}

impl Store {
    /// Stores a new token. Fails with [`StoreError::Conflict`] when an active token has the same name.
    pub fn token_insert(&mut self, name: &str, role: &str, hash: &[u8; 32], created: &str) -> Result<(), StoreError> {
        let r = self.conn.execute(
            "INSERT INTO tokens (name, role, hash, created) VALUES (?1, ?2, ?3, ?4)",
            params![name, role, &hash[..], created],
        );
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::Conflict("an active token with this name already exists"))
            }
            other => other.map(drop).map_err(StoreError::from),
        }
    }

    /// The name and role of the active token with this hash.
    pub fn token_lookup(&self, hash: &[u8; 32]) -> Result<Option<(String, String)>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT name, role FROM tokens WHERE hash = ?1 AND revoked IS NULL")?;
        Ok(st.query_row([&hash[..]], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    /// Every token, active and revoked, oldest first.
    pub fn token_list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut st = self.conn.prepare("SELECT name, role, created, revoked FROM tokens ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(TokenRecord { name: r.get(0)?, role: r.get(1)?, created: r.get(2)?, revoked: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes the active token called `name`; `false` when there is none.
    pub fn token_revoke(&mut self, name: &str, at: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute("UPDATE tokens SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL", [name, at])?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Open;

    #[test]
    fn tokens_are_found_by_hash_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        s.token_insert("sgt.kabila", "guard", &[1; 32], "2026-01-01T00:00:00.000Z").unwrap();
        assert!(matches!(s.token_insert("sgt.kabila", "admin", &[2; 32], "t"), Err(StoreError::Conflict(_))));
        assert_eq!(s.token_lookup(&[1; 32]).unwrap(), Some(("sgt.kabila".into(), "guard".into())));
        assert_eq!(s.token_lookup(&[2; 32]).unwrap(), None);
        assert!(s.token_revoke("sgt.kabila", "later").unwrap());
        assert!(!s.token_revoke("sgt.kabila", "later").unwrap());
        assert_eq!(s.token_lookup(&[1; 32]).unwrap(), None);
        s.token_insert("sgt.kabila", "guard", &[3; 32], "t2").unwrap();
        assert_eq!(s.token_list().unwrap().len(), 2);
    }
}
