//! Ledger entries: what each kind of movement or event records, and its canonical bytes.
//!
//! An entry is one line of RFC 8785 canonical JSON (keys sorted, no spaces, integers only). Its leaf hash
//! is taken over exactly those bytes, so the same entry always hashes the same, whichever tool re-encodes
//! it. Every entry carries its sequence number, the wall clock reading (which may be wrong), the boot id
//! and the time since boot (which together order events within a boot whatever the wall clock says), the
//! appliance id, the leaf hash of the entry before it (so a verifier can name the first altered entry),
//! its kind and a body whose shape the kind fixes. People are named by id only: no biometric data, no
//! names, no tokens ever enter a body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::merkle::Hash;

/// Longest entry accepted, in bytes. Bodies are small records; anything near this is an attack.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// The stamp every entry carries besides its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Wall clock, RFC 3339 UTC.
    pub time: String,
    /// Kernel boot id.
    pub boot: String,
    /// Milliseconds since boot.
    pub mono_ms: u64,
    /// Appliance that wrote it.
    pub appliance: String,
    /// Leaf hash of entry `seq − 1` (zeros for entry 0).
    pub prev: Hash,
}

/// A decoded entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Sequence, clocks, appliance and chain.
    pub stamp: Stamp,
    /// What happened.
    pub event: Event,
}

macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident($body:ident) = $name:literal, )*) => {
        /// What an entry records; the variant is the entry's `kind`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(untagged)]
        pub enum Event {
            $( $(#[$doc])* $variant($body), )*
        }

        impl Event {
            /// The `kind` string.
            pub fn kind(&self) -> &'static str {
                match self { $( Event::$variant(_) => $name, )* }
            }

            fn from_parts(kind: &str, body: &RawValue) -> Result<Self, EntryError> {
                match kind {
                    $( $name => serde_json::from_str(body.get()).map(Event::$variant)
                        .map_err(|e| EntryError::Body { kind: $name, reason: e.to_string() }), )*
                    other => Err(EntryError::UnknownKind(other.chars().take(40).collect())),
                }
            }
        }

        /// Every kind, in the order they were defined.
        pub const KINDS: &[&str] = &[$( $name, )*];
    };
}

events! {
    /// The service started.
    Boot(Boot) = "boot",
    /// The service stopped cleanly.
    Shutdown(Shutdown) = "shutdown",
    /// The wall clock moved against the monotonic clock.
    ClockChange(ClockChange) = "clock_change",
    /// A new ledger signing key took over (the first one is recorded when the ledger is created).
    KeyRotation(KeyRotation) = "key_rotation",
    /// An officer's daily-log note.
    Note(Note) = "note",
    /// A person was allowed through a lane; written durably before the turnstile is released.
    Grant(Grant) = "grant",
    /// A person was refused at a lane.
    Denial(Denial) = "denial",
    /// The turnstile reported the granted passage.
    Passage(Passage) = "passage",
    /// No passage followed a grant within the lane's timeout.
    PassageTimeout(PassageTimeout) = "passage_timeout",
    /// Officers let a person through without a fingerprint match.
    Override(Override) = "override",
    /// A person's fingers were enrolled (no template data: only which fingers).
    Enrolment(Enrolment) = "enrolment",
    /// A person's custody or duty status changed.
    StatusChange(StatusChange) = "status_change",
    /// A roll-call began.
    RollcallStarted(RollcallStarted) = "rollcall_started",
    /// A person was counted in a roll-call.
    RollcallCounted(RollcallCounted) = "rollcall_counted",
    /// A roll-call was closed by its supervisor.
    RollcallClosed(RollcallClosed) = "rollcall_closed",
    /// Something needs a human: tamper, power, offline device, duress, a released person seen.
    Alarm(Alarm) = "alarm",
}

/// Body of `boot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    /// Software name and version.
    pub software: String,
    /// Whether the entry before this one was a clean `shutdown` (`false` after a power cut or crash).
    pub clean_start: bool,
}

/// Body of `shutdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {
    /// Why: `signal`, `admin`, …
    pub reason: String,
}

/// Body of `clock_change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockChange {
    /// What the wall clock should have read, from the last reading and the monotonic clock.
    pub expected: String,
    /// What it read.
    pub observed: String,
    /// `observed − expected` in milliseconds.
    pub delta_ms: i64,
}

/// Body of `key_rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The verifier key that signed until now (`None` for the first key of a new ledger).
    pub previous: Option<String>,
    /// The verifier key that signs from this entry's checkpoint on, `name+hexid+base64`.
    pub key: String,
}

/// Body of `note`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// The officer (token name) who wrote it.
    pub author: String,
    /// The note.
    pub text: String,
}

/// Body of `grant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Lane id.
    pub lane: String,
    /// Person id.
    pub person: String,
    /// Zone left.
    pub from_zone: String,
    /// Zone entered.
    pub to_zone: String,
    /// How the person was identified: `fingerprint`, `override`.
    pub method: String,
    /// Calibrated match score, when by fingerprint.
    pub score: Option<u32>,
}

/// Body of `denial`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Denial {
    /// Lane id.
    pub lane: String,
    /// Person id, when one was identified.
    pub person: Option<String>,
    /// Stable reason code (`no_match`, `anti_passback`, `status`, `lane_locked`, …).
    pub reason: String,
}

/// Body of `passage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Passage {
    /// Lane id.
    pub lane: String,
    /// Sequence number of the grant it completes.
    pub grant: u64,
}

/// Body of `passage_timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassageTimeout {
    /// Lane id.
    pub lane: String,
    /// Sequence number of the grant that was not used.
    pub grant: u64,
}

/// Body of `override`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Lane id.
    pub lane: String,
    /// Person id chosen by the guard.
    pub person: String,
    /// Why the finger was not used.
    pub reason: String,
    /// The guard.
    pub officer: String,
    /// The second officer who confirmed.
    pub second_officer: String,
}

/// Body of `enrolment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// Person id.
    pub person: String,
    /// ISO finger positions enrolled.
    pub fingers: Vec<u8>,
    /// Enrolment officer.
    pub officer: String,
}

/// Body of `status_change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Person id.
    pub person: String,
    /// Status before.
    pub from: String,
    /// Status after.
    pub to: String,
    /// Why.
    pub reason: String,
    /// Who made the change.
    pub officer: String,
}

/// Body of `rollcall_started`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollcallStarted {
    /// Roll-call id.
    pub rollcall: String,
    /// Zones counted.
    pub zones: Vec<String>,
    /// Supervisor.
    pub supervisor: String,
    /// Number of people expected (the roster snapshot).
    pub expected: u64,
}

/// Body of `rollcall_counted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollcallCounted {
    /// Roll-call id.
    pub rollcall: String,
    /// Person id.
    pub person: String,
    /// Zone where counted.
    pub zone: String,
    /// Lane or handheld that counted.
    pub by: String,
}

/// Body of `rollcall_closed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollcallClosed {
    /// Roll-call id.
    pub rollcall: String,
    /// Supervisor who signed off.
    pub supervisor: String,
    /// People counted.
    pub counted: u64,
    /// People missing.
    pub missing: u64,
    /// Supervisor's remark, required when the count does not balance.
    pub remark: Option<String>,
}

/// Body of `alarm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// What raised it: a lane, a device, the ledger.
    pub source: String,
    /// Stable code (`tamper`, `power`, `offline`, `online`, `duress`, `released_person_seen`, …).
    pub code: String,
    /// Human-readable detail (never biometric data).
    pub detail: String,
}

/// Why bytes are not a valid entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    /// Longer than [`MAX_ENTRY_BYTES`].
    #[error("entry is {0} bytes, more than the limit")]
    TooLong(usize),
    /// Not JSON, or not the entry's fields.
    #[error("not a well-formed entry: {0}")]
    Malformed(String),
    /// A kind this version does not know.
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
    /// The body does not fit its kind.
    #[error("body of a {kind} entry is invalid: {reason}")]
    Body {
        /// The kind.
        kind: &'static str,
        /// What serde said.
        reason: String,
    },
    /// Fields hold impossible values (bad time, bad hash).
    #[error("invalid field {field}: {reason}")]
    Field {
        /// Field name.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Valid JSON but not its RFC 8785 canonical form.
    #[error("entry is not in RFC 8785 canonical form")]
    NotCanonical,
}

#[derive(Serialize)]
struct Wire<'a> {
    seq: u64,
    kind: &'static str,
    time: &'a str,
    boot: &'a str,
    mono_ms: u64,
    appliance: &'a str,
    prev: String,
    body: &'a Event,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIn<'a> {
    seq: u64,
    kind: &'a str,
    time: String,
    boot: String,
    mono_ms: u64,
    appliance: String,
    prev: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

impl Entry {
    /// The canonical bytes (RFC 8785), without a newline.
    pub fn to_canonical(&self) -> Vec<u8> {
        let s = &self.stamp;
        let wire = Wire {
            seq: s.seq,
            kind: self.event.kind(),
            time: &s.time,
            boot: &s.boot,
            mono_ms: s.mono_ms,
            appliance: &s.appliance,
            prev: B64.encode(s.prev),
            body: &self.event,
        };
        // Every field is a string, an integer, a bool, an option or a list of those: serialisation cannot fail.
        serde_jcs::to_vec(&wire).unwrap_or_default()
    }

    /// Decodes an entry and checks that the bytes are exactly its canonical form.
    pub fn parse(bytes: &[u8]) -> Result<Entry, EntryError> {
        let entry = Self::parse_lenient(bytes)?;
        if entry.to_canonical() != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }

    /// Decodes an entry without the canonical-form check (for reading what the store itself wrote).
    pub fn parse_lenient(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLong(bytes.len()));
        }
        let w: WireIn<'_> = serde_json::from_slice(bytes).map_err(|e| EntryError::Malformed(e.to_string()))?;
        let event = Event::from_parts(w.kind, w.body)?;
        if crate::clock::parse_rfc3339(&w.time).is_none() {
            return Err(EntryError::Field { field: "time", reason: "not an RFC 3339 timestamp" });
        }
        let prev = B64
            .decode(&w.prev)
            .ok()
            .and_then(|v| <Hash>::try_from(v.as_slice()).ok())
            .ok_or(EntryError::Field { field: "prev", reason: "not a base64 SHA-256 hash" })?;
        let stamp = Stamp { seq: w.seq, time: w.time, boot: w.boot, mono_ms: w.mono_ms, appliance: w.appliance, prev };
        Ok(Entry { stamp, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            stamp: Stamp {
                seq: 7,
                time: "2026-11-25T21:39:42.123Z".into(),
                boot: "b00t".into(),
                mono_ms: 1234,
                appliance: "gate-1".into(),
                prev: [0; 32],
            },
            event: Event::Note(Note { author: "sgt.kabila".into(), text: "Lane 2 \"sticky\"\n\u{e9}\u{1F512}".into() }),
        }
    }

    #[test]
    fn canonical_bytes_are_sorted_compact_and_stable() {
        let bytes = sample().to_canonical();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            text,
            "{\"appliance\":\"gate-1\",\"body\":{\"author\":\"sgt.kabila\",\"text\":\"Lane 2 \\\"sticky\\\"\\n\u{e9}\u{1F512}\"},\
             \"boot\":\"b00t\",\"kind\":\"note\",\"mono_ms\":1234,\
             \"prev\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"seq\":7,\"time\":\"2026-11-25T21:39:42.123Z\"}"
        );
        assert_eq!(Entry::parse(&bytes).unwrap(), sample());
    }

    #[test]
    fn non_canonical_or_foreign_entries_are_refused() {
        let bytes = sample().to_canonical();
        let spaced = String::from_utf8(bytes.clone()).unwrap().replace(",\"boot\"", ", \"boot\"");
        assert_eq!(Entry::parse(spaced.as_bytes()), Err(EntryError::NotCanonical));
        let extra = String::from_utf8(bytes.clone()).unwrap().replace("{\"appliance\"", "{\"x\":1,\"appliance\"");
        assert!(matches!(Entry::parse(extra.as_bytes()), Err(EntryError::Malformed(_))));
        let kind = String::from_utf8(bytes.clone()).unwrap().replace("\"note\"", "\"nope\"");
        assert!(matches!(Entry::parse(kind.as_bytes()), Err(EntryError::UnknownKind(_))));
        let body = String::from_utf8(bytes).unwrap().replace("\"author\"", "\"writer\"");
        assert!(matches!(Entry::parse(body.as_bytes()), Err(EntryError::Body { kind: "note", .. })));
        assert!(matches!(Entry::parse(b"\xff\xfe"), Err(EntryError::Malformed(_))));
    }

    #[test]
    fn every_kind_has_a_name() {
        assert_eq!(KINDS.len(), 16);
        assert!(KINDS.contains(&"rollcall_counted"));
    }
}
