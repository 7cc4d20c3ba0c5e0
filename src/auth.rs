//! API tokens and roles: who may do what.
//!
//! A token is 32 random bytes shown once to whoever creates it (`tly_` and base64url); the store keeps
//! only its SHA-256, which is enough for a secret of that strength. A token has a name (the officer or
//! system that holds it, written into the ledger as the author of what it does) and one role. What each
//! role may do is the table in [`Role::may`], in one place.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::{Store, StoreError};

/// A role, as given to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Gate guard: scans people through, writes daily-log notes.
    Guard,
    /// Enrolment officer.
    Enroller,
    /// Supervisor: roll-calls, status changes, reads the ledger.
    Supervisor,
    /// Auditor or inspector: reads the ledger and statistics, changes nothing.
    Auditor,
    /// Administrator of the appliance.
    Admin,
    /// Another appliance of the facility: reads the ledger and gives cosignatures, nothing else.
    Peer,
}

/// Every role.
pub const ROLES: [Role; 6] = [Role::Guard, Role::Enroller, Role::Supervisor, Role::Auditor, Role::Admin, Role::Peer];

/// Something a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read checkpoints, entries and proofs.
    ReadLedger,
    /// Write an officer's note into the ledger.
    WriteNote,
    /// Read the register: people, their photos, status and whereabouts; identify a finger.
    ReadPeople,
    /// Register people and correct their identity fields and photos.
    WritePeople,
    /// Enrol fingers.
    Enrol,
    /// Change a person's custody or duty status.
    ChangeStatus,
    /// See the lanes and the live stream of scans.
    ReadLanes,
    /// Let a person through without a fingerprint (as the guard, or as the second officer).
    Override,
    /// Read headcounts, zones' counts, roll-call results and alarms.
    ReadCounts,
    /// Start, recount and close roll-calls.
    RunRollcall,
    /// Count people in a roll-call (handheld).
    CountRollcall,
    /// Read the API's OpenAPI document.
    ReadApiDocs,
    /// Give a witness cosignature of our checkpoint (peers).
    Cosign,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guard => "guard",
            Role::Enroller => "enroller",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Peer => "peer",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.as_str() == s)
    }

    /// The permission table.
    pub fn may(self, action: Action) -> bool {
        use Role::*;
        match action {
            Action::ReadLedger => matches!(self, Supervisor | Auditor | Admin | Peer),
            Action::Cosign => matches!(self, Peer),
            Action::WriteNote => matches!(self, Guard | Enroller | Supervisor | Admin),
            Action::ReadPeople => matches!(self, Guard | Enroller | Supervisor | Admin),
            Action::WritePeople | Action::Enrol => matches!(self, Enroller | Supervisor | Admin),
            Action::ChangeStatus | Action::RunRollcall => matches!(self, Supervisor | Admin),
            Action::ReadLanes | Action::Override | Action::CountRollcall => matches!(self, Guard | Supervisor | Admin),
            Action::ReadCounts | Action::ReadApiDocs => !matches!(self, Peer),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token's secret, as handed to its holder once. `Debug` does not print it.
pub struct Secret(String);

impl Secret {
    /// The text to give the holder.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// The token's role.
    pub role: Role,
}

/// Errors of token management.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Token names become ledger authors: keep them short and plain.
    #[error("token name {0:?} must be 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    BadName(String),
    /// No such role.
    #[error("unknown role {0:?}; roles are guard, enroller, supervisor, auditor, admin, peer")]
    BadRole(String),
    /// The random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const PREFIX: &str = "tly_";

/// SHA-256 of a token's text, as stored.
pub fn hash(secret: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let mut h = [0u8; 32];
    h.copy_from_slice(d.as_ref());
    h
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

/// Creates a token; the secret is returned once and never stored.
pub fn create(store: &mut Store, name: &str, role: &str, now: &str) -> Result<(Secret, Role), AuthError> {
    if !valid_name(name) {
        return Err(AuthError::BadName(name.to_owned()));
    }
    let role = Role::parse(role).ok_or_else(|| AuthError::BadRole(role.to_owned()))?;
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| AuthError::Random)?;
    let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    store.token_insert(name, role.as_str(), &hash(&secret), now)?;
    Ok((Secret(secret), role))
}

/// The holder of an active token, or `None` for an unknown or revoked one.
pub fn authenticate(store: &Store, secret: &str) -> Result<Option<Principal>, StoreError> {
    if !secret.starts_with(PREFIX) || secret.len() > 128 {
        return Ok(None);
    }
    Ok(store.token_lookup(&hash(secret))?.and_then(|(name, role)| Some(Principal { name, role: Role::parse(&role)? })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Open;

    #[test]
    fn tokens_authenticate_their_holder_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), Open::CreateIfMissing).unwrap();
        let (secret, role) = create(&mut store, "auditor.1", "auditor", "now").unwrap();
        assert_eq!(role, Role::Auditor);
        assert!(secret.expose().starts_with("tly_"));
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        let p = authenticate(&store, secret.expose()).unwrap().unwrap();
        assert_eq!(p, Principal { name: "auditor.1".into(), role: Role::Auditor });
        assert_eq!(authenticate(&store, "tly_wrong").unwrap(), None);
        assert_eq!(authenticate(&store, "").unwrap(), None);
        assert!(matches!(create(&mut store, "x y", "guard", "now"), Err(AuthError::BadName(_))));
        assert!(matches!(create(&mut store, "x", "warden", "now"), Err(AuthError::BadRole(_))));
    }

    #[test]
    fn the_table_keeps_each_role_to_its_work() {
        // Auditors read counts and the ledger, and change nothing; they never see the register.
        assert!(Role::Auditor.may(Action::ReadCounts));
        for a in [Action::ReadPeople, Action::Enrol, Action::Override, Action::RunRollcall, Action::ChangeStatus] {
            assert!(!Role::Auditor.may(a), "{a:?}");
        }
        assert!(Role::Guard.may(Action::Override) && !Role::Guard.may(Action::Enrol));
        assert!(Role::Enroller.may(Action::Enrol) && !Role::Enroller.may(Action::RunRollcall));
        assert!(Role::Supervisor.may(Action::RunRollcall) && Role::Supervisor.may(Action::ChangeStatus));
    }

    #[test]
    fn peers_read_the_ledger_and_cosign_only() {
        assert!(Role::Peer.may(Action::ReadLedger) && Role::Peer.may(Action::Cosign));
        for a in [Action::ReadPeople, Action::ReadCounts, Action::WriteNote, Action::Override, Action::ReadLanes] {
            assert!(!Role::Peer.may(a), "{a:?}");
        }
        assert!(!Role::Admin.may(Action::Cosign), "only another appliance cosigns");
    }

    #[test]
    fn auditors_read_and_guards_write_notes() {
        assert!(Role::Auditor.may(Action::ReadLedger));
        assert!(!Role::Auditor.may(Action::WriteNote));
        assert!(Role::Guard.may(Action::WriteNote));
        assert!(!Role::Guard.may(Action::ReadLedger));
    }
}
