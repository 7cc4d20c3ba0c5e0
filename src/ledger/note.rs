//! Signed checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes, Ed25519 through ring.
//!
//! Signing a tree head is one function, [`sign_checkpoint`]. Keys are named by the log's origin; a key's id
//! is the first four bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)` and its public form is the
//! verifier-key text `name+hexid+base64(0x01 ‖ public key)`, the format Go's `sumdb/note` reads. Opening a
//! note ignores signatures by keys it does not know (how rotation and witness cosignatures fit) and fails
//! when none is known. The private key never leaves [`Signer`], whose `Debug` prints only its public id.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use super::merkle::Hash;

/// Signature algorithm byte for Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;
/// Longest note accepted.
const MAX_NOTE_BYTES: usize = 16 * 1024;
/// Most signature lines accepted.
const MAX_SIGNATURES: usize = 100;

/// Why a key, a note or a checkpoint is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    /// Key names must be non-empty, printable, without spaces or `+`.
    #[error("invalid key name {0:?}")]
    KeyName(String),
    /// The PKCS#8 document is not an Ed25519 key.
    #[error("the signing key file is not an Ed25519 PKCS#8 key")]
    BadPrivateKey,
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A verifier key text is malformed.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(&'static str),
    /// The note's envelope is malformed.
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    /// No signature by a known key verified.
    #[error("checkpoint is not signed by a known key")]
    UnknownKey,
    /// A signature by a known key id did not verify.
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    /// The body is not a checkpoint.
    #[error("malformed checkpoint body: {0}")]
    BadCheckpoint(&'static str),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    let ok = !name.is_empty() && name.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '+');
    if ok { Ok(()) } else { Err(NoteError::KeyName(name.to_owned())) }
}

fn key_id(name: &str, public: &[u8]) -> [u8; 4] {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    c.update(name.as_bytes());
    c.update(b"\n");
    c.update(&[ALG_ED25519]);
    c.update(public);
    let d = c.finish();
    let mut id = [0u8; 4];
    id.copy_from_slice(&d.as_ref()[..4]);
    id
}

/// A log's private signing key.
pub struct Signer {
    name: String,
    pair: Ed25519KeyPair,
    id: [u8; 4],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("name", &self.name).field("id", &hex(&self.id)).finish_non_exhaustive()
    }
}

impl Signer {
    /// A new random key named `name`; returns it and its PKCS#8 document for storage.
    pub fn generate(name: &str) -> Result<(Signer, Vec<u8>), NoteError> {
        check_name(name)?;
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| NoteError::Random)?;
        let signer = Signer::from_pkcs8(name, doc.as_ref())?;
        Ok((signer, doc.as_ref().to_vec()))
    }

    /// Loads a key from its PKCS#8 document.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Signer, NoteError> {
        check_name(name)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| NoteError::BadPrivateKey)?;
        let id = key_id(name, pair.public_key().as_ref());
        Ok(Signer { name: name.to_owned(), pair, id })
    }

    /// The public half.
    pub fn verifier(&self) -> Verifier {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        Verifier { name: self.name.clone(), id: self.id, public }
    }

    fn signature_line(&self, body: &str) -> String {
        let sig = self.pair.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.id);
        blob.extend_from_slice(sig.as_ref());
        format!("\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// A public verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: [u8; 4],
    public: [u8; 32],
}

impl Verifier {
    /// Parses `name+hexid+base64(0x01 ‖ public key)` and checks that the id matches the key.
    pub fn parse(text: &str) -> Result<Verifier, NoteError> {
        let text = text.trim();
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadVerifierKey("expected name+id+key"));
        };
        check_name(name).map_err(|_| NoteError::BadVerifierKey("bad name"))?;
        if id_hex.len() != 8 {
            return Err(NoteError::BadVerifierKey("key id is not 8 hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::BadVerifierKey("key id is not hex"))?;
        let raw = B64.decode(key_b64).map_err(|_| NoteError::BadVerifierKey("key is not base64"))?;
        let [alg, rest @ ..] = raw.as_slice() else {
            return Err(NoteError::BadVerifierKey("empty key"));
        };
        if *alg != ALG_ED25519 {
            return Err(NoteError::BadVerifierKey("not an Ed25519 key"));
        }
        let public: [u8; 32] = rest.try_into().map_err(|_| NoteError::BadVerifierKey("key is not 32 bytes"))?;
        if key_id(name, &public) != id.to_be_bytes() {
            return Err(NoteError::BadVerifierKey("key id does not match the key"));
        }
        Ok(Verifier { name: name.to_owned(), id: id.to_be_bytes(), public })
    }

    /// The verifier-key text.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.public);
        format!("{}+{}+{}", self.name, hex(&self.id), B64.encode(raw))
    }

    /// The key's name (the log origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id as 8 hex digits.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    fn verifies(&self, body: &str, sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public).verify(body.as_bytes(), sig).is_ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tree head: the log's name, its size and its root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin, `<facility>/<appliance>`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root.
    pub root: Hash,
}

impl Checkpoint {
    /// The signed part: origin, size and base64 root, one per line.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|s| !s.is_empty()).ok_or(NoteError::BadCheckpoint("empty origin"))?;
        let size = lines
            .next()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s.len() == 1 || !s.starts_with('0')))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(NoteError::BadCheckpoint("size is not a decimal number"))?;
        let root = lines
            .next()
            .and_then(|s| B64.decode(s).ok())
            .and_then(|v| <Hash>::try_from(v.as_slice()).ok())
            .ok_or(NoteError::BadCheckpoint("root is not a base64 SHA-256 hash"))?;
        Ok(Checkpoint { origin: origin.to_owned(), size, root })
    }
}

/// Signs a checkpoint with one or more keys (several during a key rotation) and returns the note text.
pub fn sign_checkpoint(cp: &Checkpoint, signers: &[&Signer]) -> String {
    let body = cp.body();
    let mut note = body.clone();
    note.push('\n');
    for s in signers {
        note.push_str(&s.signature_line(&body));
    }
    note
}

/// A checkpoint whose note carried at least one valid signature by a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedCheckpoint {
    /// The tree head.
    pub checkpoint: Checkpoint,
    /// Ids (hex) of the known keys whose signatures verified.
    pub signed_by: Vec<String>,
}

/// Opens a signed checkpoint note: checks its envelope, verifies the signatures of known keys and parses
/// the body. Signatures by unknown keys are ignored; a bad signature by a known key is an error.
pub fn open_checkpoint(note: &str, known: &[Verifier]) -> Result<OpenedCheckpoint, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed("note is too long"));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("control characters in note"));
    }
    let split = note.find("\n\n").ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (body, sigs) = (&note[..=split], &note[split + 2..]);
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("signature block does not end with a newline"));
    }
    let mut signed_by = Vec::new();
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    for line in lines {
        let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed("signature line without em dash"))?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed("signature line without a key name"))?;
        let blob = B64.decode(b64).map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if blob.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        let (id, sig) = blob.split_at(4);
        for v in known.iter().filter(|v| v.name == name && v.id == id) {
            if !v.verifies(body, sig) {
                return Err(NoteError::BadSignature(v.to_vkey()));
            }
            signed_by.push(v.id_hex());
        }
    }
    if signed_by.is_empty() {
        return Err(NoteError::UnknownKey);
    }
    let checkpoint = Checkpoint::parse_body(body)?;
    Ok(OpenedCheckpoint { checkpoint, signed_by })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp() -> Checkpoint {
        Checkpoint { origin: "makala/gate-1".into(), size: 42, root: [7; 32] }
    }

    #[test]
    fn signed_checkpoints_open_with_their_key_only() {
        let (a, pkcs8) = Signer::generate("makala/gate-1").unwrap();
        let (b, _) = Signer::generate("makala/gate-1").unwrap();
        let note = sign_checkpoint(&cp(), &[&a]);
        assert!(note.starts_with("makala/gate-1\n42\nBwcH"));
        assert!(note.contains("\n\n\u{2014} makala/gate-1 "));
        let opened = open_checkpoint(&note, &[a.verifier()]).unwrap();
        assert_eq!(opened.checkpoint, cp());
        assert_eq!(open_checkpoint(&note, &[b.verifier()]), Err(NoteError::UnknownKey));
        // Reloading the key from its PKCS#8 document gives the same key.
        assert_eq!(Signer::from_pkcs8("makala/gate-1", &pkcs8).unwrap().verifier(), a.verifier());
        // Both keys during a rotation: either verifier opens it.
        let both = sign_checkpoint(&cp(), &[&a, &b]);
        assert_eq!(open_checkpoint(&both, &[b.verifier()]).unwrap().signed_by, vec![b.verifier().id_hex()]);
    }

    #[test]
    fn tampering_is_detected() {
        let (a, _) = Signer::generate("o").unwrap();
        let note = sign_checkpoint(&cp(), &[&a]);
        let tampered = note.replacen("42", "43", 1);
        assert!(matches!(open_checkpoint(&tampered, &[a.verifier()]), Err(NoteError::BadSignature(_))));
        assert!(open_checkpoint(&note.replace("\n\n", "\n"), &[a.verifier()]).is_err());
        assert!(open_checkpoint("", &[a.verifier()]).is_err());
    }

    #[test]
    fn verifier_keys_round_trip_and_are_checked() {
        let (a, _) = Signer::generate("makala/gate-1").unwrap();
        let text = a.verifier().to_vkey();
        assert_eq!(Verifier::parse(&text).unwrap(), a.verifier());
        let mut wrong_id = text.clone();
        wrong_id.replace_range(14..15, if &text[14..15] == "0" { "1" } else { "0" });
        assert!(Verifier::parse(&wrong_id).is_err());
        assert!(Verifier::parse("x+1+AQ==").is_err());
        assert!(Signer::generate("has space").is_err());
    }
}
