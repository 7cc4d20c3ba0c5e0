//! Ledger entries: what each kind of movement or event records, and its canonical bytes.
//!
//! An entry is one line of RFC 8785 canonical JSON (keys sorted, no spaces, integers only). Its leaf hash
//! is taken over exactly those bytes, so the same entry always hashes the same, whichever tool re-encodes
//! it. Every entry carries its sequence number, the wall clock reading (which may be wrong), the boot id
//! and the time since boot (which together order events within a boot whatever the wall clock says), the
//! appliance id, the leaf hash of the entry before it (so a verifier can name the first altered entry),
//! its kind and a body whose shape the kind fixes. People are named by id only: no biometric data, no
//! names, no tokens ever enter a body.
//!
//! Encoding is on the hot path of verification, so entries are written with `serde_json` directly rather
//! than through a generic canonicaliser: every struct below declares its fields in sorted order, entries
//! hold no floating-point numbers, and serde_json's compact output escapes strings exactly as RFC 8785
//! does. A test checks this against `serde_jcs`, an RFC 8785 implementation, for every kind.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use super::entry_restore::{Epoch, OffsiteCopy};
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
    /// A person was entered in the register (by id and category only: names stay in the store).
    Registration(Registration) = "registration",
    /// A roll-call's counts were set aside to count again; its roster stays as it was.
    RollcallRecount(RollcallRecount) = "rollcall_recount",
    /// A released person's templates (and photo) were deleted under the retention rule; recorded before
    /// the deletion. Names the fingers by position only: never template bytes.
    TemplatesDeleted(TemplatesDeleted) = "templates_deleted",
    /// Entry 0 of a restored appliance's ledger: a new epoch that continues an earlier log, embedding
    /// that log's last checkpoint and introducing the new signing key (`tally restore`).
    Epoch(Epoch) = "epoch",
    /// An off-site copy was written (`tally offsite copy`, or the schedule in `tally serve`).
    OffsiteCopy(OffsiteCopy) = "offsite_copy",
}

/// Body of `boot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    /// Whether the previous run of the service recorded its `shutdown` (`false` after a power cut or a
    /// crash; `true` at the very first start).
    pub clean_start: bool,
    /// Software name and version.
    pub software: String,
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
    /// `observed − expected` in milliseconds.
    pub delta_ms: i64,
    /// What the wall clock should have read, from the last reading and the monotonic clock.
    pub expected: String,
    /// What it read.
    pub observed: String,
}

/// Body of `key_rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The verifier key that signs from this entry's checkpoint on, `name+hexid+base64`.
    pub key: String,
    /// The verifier key that signed until now (`None` for the first key of a new ledger).
    pub previous: Option<String>,
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

/// Longest note text, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

impl Note {
    /// A note, checked as every writer of notes (API, command line) must: an author and a text that
    /// are not empty, a text of at most [`MAX_NOTE_CHARS`] characters, and no control or invisible
    /// formatting characters but newline and tab, so a ledger line always reads as what it says.
    pub fn new(author: String, text: String) -> Result<Note, EntryError> {
        let bad = |field, reason| Err(EntryError::Field { field, reason });
        if author.trim().is_empty() || author.chars().any(|c| c.is_control() || is_invisible_format(c)) {
            return bad("author", "must be a name without control characters");
        }
        if text.trim().is_empty() {
            return bad("text", "the note is empty");
        }
        if text.chars().count() > MAX_NOTE_CHARS {
            return bad("text", "a note has at most 4000 characters");
        }
        if text.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_invisible_format(c)) {
            return bad("text", "the note holds control or invisible formatting characters");
        }
        Ok(Note { author, text })
    }
}

/// Characters that change how text is shown without being seen: bidirectional overrides, zero-width
/// characters, line and paragraph separators.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Body of `grant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Zone left.
    pub from_zone: String,
    /// Lane id.
    pub lane: String,
    /// How the person was identified: `fingerprint`, `override`.
    pub method: String,
    /// Person id.
    pub person: String,
    /// Calibrated match score, when by fingerprint.
    pub score: Option<u32>,
    /// Zone entered.
    pub to_zone: String,
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
    /// Sequence number of the grant it completes.
    pub grant: u64,
    /// Lane id.
    pub lane: String,
}

/// Body of `passage_timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassageTimeout {
    /// Sequence number of the grant that was not used.
    pub grant: u64,
    /// Lane id.
    pub lane: String,
}

/// Body of `override`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Lane id.
    pub lane: String,
    /// The guard.
    pub officer: String,
    /// Person id chosen by the guard.
    pub person: String,
    /// Why the finger was not used.
    pub reason: String,
    /// The second officer who confirmed.
    pub second_officer: String,
}

/// Body of `enrolment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// ISO finger positions enrolled.
    pub fingers: Vec<u8>,
    /// Enrolment officer.
    pub officer: String,
    /// Person id.
    pub person: String,
}

/// Body of `status_change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Status before.
    pub from: String,
    /// Who made the change.
    pub officer: String,
    /// Person id.
    pub person: String,
    /// Why.
    pub reason: String,
    /// Status after.
    pub to: String,
}

/// Body of `rollcall_started`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollcallStarted {
    /// Number of people expected (the roster snapshot).
    pub expected: u64,
    /// Roll-call id.
    pub rollcall: String,
    /// Supervisor.
    pub supervisor: String,
    /// Zones counted.
    pub zones: Vec<String>,
}

/// Body of `rollcall_counted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollcallCounted {
    /// Lane or handheld that counted.
    pub by: String,
    /// Person id.
    pub person: String,
    /// Roll-call id.
    pub rollcall: String,
    /// Zone where counted.
    pub zone: String,
}

/// Body of `rollcall_closed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollcallClosed {
    /// People counted.
    pub counted: u64,
    /// People missing.
    pub missing: u64,
    /// Supervisor's remark, required when the count does not balance.
    pub remark: Option<String>,
    /// Roll-call id.
    pub rollcall: String,
    /// Supervisor who signed off.
    pub supervisor: String,
}

/// Body of `alarm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// Stable code (`tamper`, `power`, `offline`, `online`, `duress`, `released_person_seen`, …).
    pub code: String,
    /// Human-readable detail (never biometric data).
    pub detail: String,
    /// What raised it: a lane, a device, the ledger.
    pub source: String,
}

/// Body of `registration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// `inmate`, `staff` or `visitor`.
    pub category: String,
    /// The officer who registered the person.
    pub officer: String,
    /// Person id.
    pub person: String,
    /// The zone the person is in now (an inmate at reception), or `None` when outside the facility.
    pub zone: Option<String>,
}

/// Body of `rollcall_recount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollcallRecount {
    /// Roll-call id.
    pub rollcall: String,
    /// Supervisor who asked for it.
    pub supervisor: String,
}

/// Body of `templates_deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesDeleted {
    /// ISO finger positions whose templates are deleted (may be empty when only the photo is).
    pub fingers: Vec<u8>,
    /// Person id.
    pub person: String,
    /// Whether the person's photo is deleted too.
    pub photo: bool,
    /// Why: `retention`.
    pub reason: String,
    /// Sequence number of the `status_change` entry that began the retention period (the release).
    pub release: u64,
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
    appliance: &'a str,
    body: &'a Event,
    boot: &'a str,
    kind: &'static str,
    mono_ms: u64,
    prev: String,
    seq: u64,
    time: &'a str,
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
        serde_json::to_vec(&wire).unwrap_or_default()
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

    /// One entry of every kind, with awkward strings.
    fn one_of_each() -> Vec<Event> {
        let s = |t: &str| t.to_owned();
        let odd = "ctl \u{1}\u{1f}\u{7f} \u{2028} \\ \" / é 𝄞".to_owned();
        vec![
            Event::Boot(Boot { clean_start: false, software: s("tally 0.1.0") }),
            Event::Shutdown(Shutdown { reason: odd.clone() }),
            Event::ClockChange(ClockChange { delta_ms: -3_600_000, expected: s("a"), observed: s("b") }),
            Event::KeyRotation(KeyRotation { key: s("k"), previous: None }),
            Event::Note(Note { author: s("a"), text: odd.clone() }),
            Event::Grant(Grant {
                from_zone: s("outside"),
                lane: s("north-1"),
                method: s("fingerprint"),
                person: s("P-1"),
                score: Some(71),
                to_zone: s("block-c"),
            }),
            Event::Denial(Denial { lane: s("l"), person: None, reason: s("no_match") }),
            Event::Passage(Passage { grant: 9, lane: s("l") }),
            Event::PassageTimeout(PassageTimeout { grant: 9, lane: s("l") }),
            Event::Override(Override {
                lane: s("l"),
                officer: s("o1"),
                person: s("p"),
                reason: odd.clone(),
                second_officer: s("o2"),
            }),
            Event::Enrolment(Enrolment { fingers: vec![1, 2, 6], officer: s("o"), person: s("p") }),
            Event::StatusChange(StatusChange {
                from: s("a"),
                officer: s("o"),
                person: s("p"),
                reason: s("r"),
                to: s("b"),
            }),
            Event::RollcallStarted(RollcallStarted {
                expected: 1400,
                rollcall: s("r"),
                supervisor: s("s"),
                zones: vec![s("z")],
            }),
            Event::RollcallCounted(RollcallCounted { by: s("l"), person: s("p"), rollcall: s("r"), zone: s("z") }),
            Event::RollcallClosed(RollcallClosed {
                counted: 1,
                missing: 0,
                remark: Some(odd),
                rollcall: s("r"),
                supervisor: s("s"),
            }),
            Event::Alarm(Alarm { code: s("tamper"), detail: s("d"), source: s("s") }),
            Event::Registration(Registration {
                category: s("inmate"),
                officer: s("o"),
                person: s("p"),
                zone: Some(s("reception")),
            }),
            Event::RollcallRecount(RollcallRecount { rollcall: s("r"), supervisor: s("s") }),
            Event::TemplatesDeleted(TemplatesDeleted {
                fingers: vec![2, 7],
                person: s("p"),
                photo: true,
                reason: s("retention"),
                release: 12,
            }),
            Event::Epoch(Epoch {
                epoch: 2,
                key: s("k2"),
                previous_checkpoint: s("f/a\n3\nroot\n\n\u{2014} f/a sig\n"),
                previous_keys: vec![s("k1")],
                previous_origin: s("f/a"),
            }),
            Event::OffsiteCopy(OffsiteCopy {
                name: s("f_a-3-20261126T120000Z"),
                people: 2,
                people_sha256: s("ab"),
                size: 3,
                templates: 4,
            }),
        ]
    }

    #[test]
    fn encoding_is_rfc8785_for_every_kind() {
        let events = one_of_each();
        let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
        assert_eq!(kinds, KINDS, "one sample per kind, in order");
        for event in events {
            let mut e = sample();
            e.event = event;
            let ours = e.to_canonical();
            let value: serde_json::Value = serde_json::from_slice(&ours).unwrap();
            let reference = serde_jcs::to_vec(&value).unwrap();
            assert_eq!(String::from_utf8(ours.clone()).unwrap(), String::from_utf8(reference).unwrap());
            assert_eq!(Entry::parse(&ours).unwrap(), e);
        }
    }

    #[test]
    fn notes_refuse_empty_overlong_and_deceptive_text() {
        let n = |a: &str, t: &str| Note::new(a.into(), t.into());
        assert!(n("sgt.a", "Lane 2 jammed\n\tcleared 06:10").is_ok());
        assert!(n("sgt.a", &"é".repeat(MAX_NOTE_CHARS)).is_ok());
        for (author, text) in [
            ("sgt.a", "  \n"),
            ("", "text"),
            ("sgt.a", "bell \u{7}"),
            ("sgt.a", "reads \u{202E}backwards"),
            ("sgt.a", "zero\u{200B}width"),
            ("sgt\u{0}", "text"),
        ] {
            assert!(matches!(n(author, text), Err(EntryError::Field { .. })), "{author:?} {text:?}");
        }
        assert!(n("sgt.a", &"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
    }

    #[test]
    fn every_kind_has_a_name() {
        assert_eq!(KINDS.len(), 21);
        assert!(KINDS.contains(&"rollcall_counted"));
    }
}
