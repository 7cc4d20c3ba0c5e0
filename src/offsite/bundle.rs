//! The people bundle: the register (people, photos, fingerprint templates) as one versioned stream, and
//! its encryption for the national authority with age (`people.age`).
//!
//! # Format `tally-people` version 1 (the plaintext inside `people.age`)
//! UTF-8 JSON lines, each line one JSON object ended by `\n`:
//! 1. a header: `{"format":"tally-people","version":1,"origin":"<ledger origin>","size":<tree size of the
//!    ledger export beside it>,"time":"<RFC 3339 UTC>"}`;
//! 2. one line per person, in id order: `{"id":…,"category":"inmate"|"staff"|"visitor","given_names":…,
//!    "family_name":…,"date_of_birth":…|null,"national_id":…|null,"created":…,"updated":…,
//!    "photo":"<standard base64 of the image bytes>"|null,"templates":[{"finger":1…10,"duress":bool,
//!    "quality":0…100,"created":…,"template":"<standard base64 of the template encoding>"}…]}`;
//! 3. a trailer: `{"end":true,"people":<count>,"templates":<count>}`, so that a cut stream is told from
//!    a whole one.
//!
//! Photos and templates are the plain bytes (opened from the appliance's vault): the bundle's only
//! protection is age, so that the authority can read it with any age implementation and a restore can
//! seal them again under the replacement appliance's own template key.
//!
//! The encryption is age v1 (age-encryption.org/v1) to the X25519 recipients configured (`age1…`), by the
//! `age` crate; the reference Go `age` CLI decrypts it (`age -d -i identity.txt people.age`).

use std::io::{BufRead, Write};

use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::people::{self, Category};

/// The format name in the header.
pub const FORMAT: &str = "tally-people";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;
/// Longest line accepted when reading (a person with a photo at the size limit and ten templates).
pub const MAX_LINE: usize = 4 << 20;

/// Errors of the bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing the stream failed.
    #[error("people bundle: I/O")]
    Io(#[from] std::io::Error),
    /// A recipient is not an age X25519 public key.
    #[error("recipient {key:?} is not an age X25519 public key: {reason}")]
    Recipient {
        /// The key as configured.
        key: String,
        /// What age said.
        reason: &'static str,
    },
    /// No recipient: nobody could ever read the copy.
    #[error("no recipients: set [offsite] recipients = [\"age1…\"] to the authority's public keys")]
    NoRecipients,
    /// The identity file holds no usable age X25519 identity.
    #[error("the identity file holds no age X25519 identity (AGE-SECRET-KEY-1…)")]
    NoIdentity,
    /// age refused to encrypt.
    #[error("age encryption failed: {0}")]
    Encrypt(String),
    /// age could not decrypt: not an age file, damaged, or not for this identity.
    #[error("people.age does not decrypt with this identity: {0}")]
    Decrypt(String),
    /// The decrypted stream is not a version 1 bundle.
    #[error("people bundle line {line}: {reason}")]
    Format {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The ledger origin of the appliance copied.
    pub origin: String,
    /// Tree size of the ledger export copied with it.
    pub size: u64,
    /// When the copy was made (RFC 3339 UTC).
    pub time: String,
}

/// One enrolled finger, with its template in plain bytes. `Debug` hides the template.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finger {
    /// ISO finger position, 1 to 10.
    pub finger: u8,
    /// Whether it signals duress.
    pub duress: bool,
    /// Enrolment quality, 0 to 100.
    pub quality: u8,
    /// When enrolled.
    pub created: String,
    /// The template encoding, base64 in the stream.
    #[serde(with = "b64")]
    pub template: Vec<u8>,
}

impl std::fmt::Debug for Finger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finger").field("finger", &self.finger).field("len", &self.template.len()).finish()
    }
}

/// One person, with photo and templates in plain bytes. `Debug` hides names, photo and templates.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Person id.
    pub id: String,
    /// `inmate`, `staff` or `visitor`.
    pub category: String,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, if known.
    pub date_of_birth: Option<String>,
    /// National identity number, if known.
    pub national_id: Option<String>,
    /// When registered.
    pub created: String,
    /// When last changed.
    pub updated: String,
    /// The photo's bytes, base64 in the stream.
    #[serde(with = "b64_opt")]
    pub photo: Option<Vec<u8>>,
    /// Enrolled fingers.
    pub templates: Vec<Finger>,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person").field("id", &self.id).field("templates", &self.templates.len()).finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    end: bool,
    people: u64,
    templates: u64,
}

mod b64 {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text).map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&B64.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?.map(|t| B64.decode(t).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Writes a bundle: the header, then people as they come, then the trailer ([`Writer::finish`]).
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    people: u64,
    templates: u64,
}

impl<W: Write> Writer<W> {
    /// Starts a bundle with its header.
    pub fn new(mut out: W, header: &Header) -> Result<Self, BundleError> {
        line(&mut out, header)?;
        Ok(Writer { out, people: 0, templates: 0 })
    }

    /// Adds one person.
    pub fn person(&mut self, p: &Person) -> Result<(), BundleError> {
        line(&mut self.out, p)?;
        self.people += 1;
        self.templates += p.templates.len() as u64;
        Ok(())
    }

    /// Writes the trailer; returns the stream and the counts of people and templates.
    pub fn finish(mut self) -> Result<(W, u64, u64), BundleError> {
        line(&mut self.out, &Trailer { end: true, people: self.people, templates: self.templates })?;
        Ok((self.out, self.people, self.templates))
    }
}

fn line<T: Serialize>(out: &mut impl Write, v: &T) -> Result<(), BundleError> {
    serde_json::to_writer(&mut *out, v).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A whole bundle, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Its header.
    pub header: Header,
    /// Everyone, in the order written.
    pub people: Vec<Person>,
}

/// Reads a whole bundle, checking the header, every person (id, names, category, fingers, sizes, no
/// id twice) and the trailer's counts. Anything else is a [`BundleError::Format`] naming the line.
pub fn read(input: impl BufRead) -> Result<Bundle, BundleError> {
    let mut input = input;
    let mut buf = Vec::new();
    let mut n = 0usize;
    let mut next = |buf: &mut Vec<u8>| -> Result<Option<usize>, BundleError> {
        buf.clear();
        let got = std::io::Read::take(&mut input, MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
        n += 1;
        if got == 0 {
            return Ok(None);
        }
        if buf.pop() != Some(b'\n') {
            return Err(BundleError::Format { line: n, reason: "line too long or cut short".into() });
        }
        Ok(Some(n))
    };
    let bad = |line: usize, reason: String| BundleError::Format { line, reason };
    let Some(l) = next(&mut buf)? else {
        return Err(bad(1, "empty: no header".into()));
    };
    let header: Header = serde_json::from_slice(&buf).map_err(|e| bad(l, format!("not a header: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(bad(
            l,
            format!("format {} version {}, not {FORMAT} version {VERSION}", header.format, header.version),
        ));
    }
    let mut people: Vec<Person> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let Some(l) = next(&mut buf)? else {
            return Err(bad(people.len() + 2, "no trailer: the bundle was cut short".into()));
        };
        if buf.starts_with(b"{\"end\"") {
            let t: Trailer = serde_json::from_slice(&buf).map_err(|e| bad(l, format!("bad trailer: {e}")))?;
            let templates: u64 = people.iter().map(|p| p.templates.len() as u64).sum();
            if !t.end || t.people != people.len() as u64 || t.templates != templates {
                return Err(bad(l, "the trailer's counts differ from the people read".into()));
            }
            if next(&mut buf)?.is_some() {
                return Err(bad(l + 1, "data after the trailer".into()));
            }
            return Ok(Bundle { header, people });
        }
        let p: Person = serde_json::from_slice(&buf).map_err(|e| bad(l, format!("not a person: {e}")))?;
        check_person(&p).map_err(|reason| bad(l, reason))?;
        if !seen.insert(p.id.clone()) {
            return Err(bad(l, format!("person {} appears twice", p.id)));
        }
        people.push(p);
    }
}

/// What a restore must refuse in one person.
fn check_person(p: &Person) -> Result<(), String> {
    people::check_id(&p.id).map_err(|e| e.to_string())?;
    people::check_name("given_names", &p.given_names).map_err(|e| e.to_string())?;
    people::check_name("family_name", &p.family_name).map_err(|e| e.to_string())?;
    if Category::parse(&p.category).is_none() {
        return Err(format!("person {}: unknown category {:?}", p.id, p.category));
    }
    if p.photo.as_ref().is_some_and(|ph| ph.len() > people::MAX_PHOTO_BYTES) {
        return Err(format!("person {}: photo larger than allowed", p.id));
    }
    let mut fingers = [false; 11];
    for f in &p.templates {
        people::check_finger(f.finger).map_err(|e| e.to_string())?;
        if std::mem::replace(&mut fingers[usize::from(f.finger)], true) {
            return Err(format!("person {}: finger {} twice", p.id, f.finger));
        }
        if f.quality > 100 || f.template.is_empty() {
            return Err(format!("person {}: finger {} has no template or a bad quality", p.id, f.finger));
        }
    }
    Ok(())
}

/// Parses the configured recipients; refuses none and any that is not an age X25519 public key.
pub fn recipients(keys: &[String]) -> Result<Vec<age::x25519::Recipient>, BundleError> {
    if keys.is_empty() {
        return Err(BundleError::NoRecipients);
    }
    keys.iter().map(|k| k.parse().map_err(|reason| BundleError::Recipient { key: k.clone(), reason })).collect()
}

/// Parses an age identity file (as `age-keygen` writes it): `#` comments, blank lines, and one or more
/// `AGE-SECRET-KEY-1…` lines.
pub fn identities(text: &str) -> Result<Vec<age::x25519::Identity>, BundleError> {
    let ids: Vec<age::x25519::Identity> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.parse().ok())
        .collect();
    if ids.is_empty() { Err(BundleError::NoIdentity) } else { Ok(ids) }
}

/// Wraps `out` in an age encryption stream for `recipients`; call `finish` on the result.
pub fn encrypt<W: Write>(
    out: W,
    recipients: &[age::x25519::Recipient],
) -> Result<age::stream::StreamWriter<W>, BundleError> {
    let list = recipients.iter().map(|r| r as &dyn age::Recipient);
    let enc = age::Encryptor::with_recipients(list).map_err(|e| BundleError::Encrypt(e.to_string()))?;
    Ok(enc.wrap_output(out)?)
}

/// Decrypts and reads a whole `people.age` with `identities`.
pub fn decrypt(input: impl BufRead, identities: &[age::x25519::Identity]) -> Result<Bundle, BundleError> {
    let dec = age::Decryptor::new_buffered(input).map_err(|e| BundleError::Decrypt(e.to_string()))?;
    let list = identities.iter().map(|i| i as &dyn age::Identity);
    let plain = dec.decrypt(list).map_err(|e| BundleError::Decrypt(e.to_string()))?;
    // A damaged payload shows as an I/O error while reading; say so as a decryption failure.
    read(std::io::BufReader::new(plain)).map_err(|e| match e {
        BundleError::Io(io) => BundleError::Decrypt(io.to_string()),
        e => e,
    })
}

/// The fuzz target's body: reads `data` as a plaintext bundle. Must never panic.
#[doc(hidden)]
pub fn fuzz_body(data: &[u8]) {
    let _ = read(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            origin: "makala/gate-1".into(),
            size: 12,
            time: "2026-11-26T12:00:00Z".into(),
        }
    }

    fn person(id: &str, fingers: &[u8]) -> Person {
        Person {
            id: id.into(),
            category: "inmate".into(),
            given_names: "Grace".into(),
            family_name: "Kabila".into(),
            date_of_birth: Some("1990-01-02".into()),
            national_id: None,
            created: "2026-01-01T00:00:00.000Z".into(),
            updated: "2026-01-01T00:00:00.000Z".into(),
            photo: Some(vec![0x89, b'P', b'N', b'G']),
            templates: fingers
                .iter()
                .map(|f| Finger {
                    finger: *f,
                    duress: *f == 10,
                    quality: 60,
                    created: "2026-01-01T00:00:00.000Z".into(),
                    template: vec![*f; 30],
                })
                .collect(),
        }
    }

    fn bundle_bytes(people: &[Person]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), &header()).unwrap();
        for p in people {
            w.person(p).unwrap();
        }
        w.finish().unwrap().0
    }

    #[test]
    fn a_bundle_reads_back_as_written() {
        let people = vec![person("MKL-1", &[1, 2]), person("MKL-2", &[])];
        let bytes = bundle_bytes(&people);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"format\":\"tally-people\",\"version\":1,"), "{text}");
        assert!(text.ends_with("{\"end\":true,\"people\":2,\"templates\":2}\n"), "{text}");
        let b = read(bytes.as_slice()).unwrap();
        assert_eq!((b.header, b.people), (header(), people));
    }

    #[test]
    fn cut_altered_or_foreign_bundles_are_refused() {
        let bytes = bundle_bytes(&[person("MKL-1", &[1]), person("MKL-2", &[2])]);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cut = lines[..3].join("\n") + "\n";
        assert!(matches!(read(cut.as_bytes()), Err(BundleError::Format { line: 4, .. })));
        assert!(matches!(read(&bytes[..bytes.len() - 1]), Err(BundleError::Format { .. })));
        let twice = [lines[0], lines[1], lines[1], lines[3]].join("\n") + "\n";
        assert!(matches!(read(twice.as_bytes()), Err(BundleError::Format { line: 3, .. })));
        let v2 = text.replace("\"version\":1", "\"version\":2");
        assert!(matches!(read(v2.as_bytes()), Err(BundleError::Format { line: 1, .. })));
        let finger = text.replace("\"finger\":2", "\"finger\":11");
        assert!(matches!(read(finger.as_bytes()), Err(BundleError::Format { line: 3, .. })));
        let extra = text.clone() + "{}\n";
        assert!(read(extra.as_bytes()).is_err());
        assert!(read(&b""[..]).is_err());
    }

    #[test]
    fn age_round_trip_needs_the_right_identity() {
        let id = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let keys = vec![id.to_public().to_string()];
        let bytes = bundle_bytes(&[person("MKL-1", &[1, 6])]);
        let mut w = encrypt(Vec::new(), &recipients(&keys).unwrap()).unwrap();
        w.write_all(&bytes).unwrap();
        let sealed = w.finish().unwrap();
        assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
        let file = format!("# created: now\n# public key: {}\n{}\n", keys[0], secret(&id));
        let b = decrypt(sealed.as_slice(), &identities(&file).unwrap()).unwrap();
        assert_eq!(b.people[0].templates[1].template, vec![6; 30]);
        assert!(matches!(decrypt(sealed.as_slice(), &[other]), Err(BundleError::Decrypt(_))));
        let mut damaged = sealed.clone();
        let last = damaged.len() - 5;
        damaged[last] ^= 1;
        assert!(matches!(decrypt(damaged.as_slice(), &identities(&file).unwrap()), Err(BundleError::Decrypt(_))));
        assert!(matches!(recipients(&[]), Err(BundleError::NoRecipients)));
        assert!(matches!(recipients(&["age1nope".into()]), Err(BundleError::Recipient { .. })));
        assert!(matches!(identities("# nothing\n"), Err(BundleError::NoIdentity)));
    }

    fn secret(id: &age::x25519::Identity) -> String {
        use age::secrecy::ExposeSecret as _;
        id.to_string().expose_secret().to_owned()
    }

    #[test]
    fn fuzz_body_survives_random_mutations() {
        let bytes = bundle_bytes(&[person("MKL-1", &[1])]);
        for i in 0..2000 {
            let mut m = bytes.clone();
            let at = (i * 7919) % m.len();
            m[at] = m[at].wrapping_add((i % 251) as u8 + 1);
            fuzz_body(&m);
            fuzz_body(&m[..at]);
        }
    }
}
