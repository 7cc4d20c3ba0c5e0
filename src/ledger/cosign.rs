//! Witness cosignatures (C2SP `tlog-cosignature`, `cosignature/v1`): an appliance's statement that it
//! verified another appliance's checkpoint as consistent with every one it saw before.
//!
//! The witness key is an Ed25519 key of its own (`keys/witness.pk8`, mode 0600, made at the first start
//! or by `tally provision`), never the ledger key. Its verifier key is `name+hexid+base64(0x04 ‖ key)`
//! with key id `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[..4]`; its name is `<facility>/<appliance>/witness`.
//! A cosignature signs, at a time `t` in seconds since the epoch,
//! `"cosignature/v1\ntime " ‖ t ‖ "\n" ‖ checkpoint body`, and is written as a signed-note line
//! `— name base64(key id ‖ t as 8 bytes big-endian ‖ signature)`, which signed-note readers that do
//! not know the witness simply ignore. Deciding *whether* to cosign (consistency with what was cosigned
//! before) is the caller's job ([`crate::peers`]); this module only signs and checks.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use super::note::Checkpoint;

/// Signature type byte of a `cosignature/v1` key.
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The witness key file, inside the data directory.
pub const WITNESS_KEY_FILE: &str = "keys/witness.pk8";

/// Why a witness key or a cosignature is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum CosignError {
    /// The witness key file could not be read or written.
    #[error("witness key file {path}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The witness key file is readable by others.
    #[error("witness key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)")]
    KeyPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not an Ed25519 PKCS#8 key.
    #[error("the witness key file is not an Ed25519 PKCS#8 key")]
    BadPrivateKey,
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A witness verifier key text is malformed.
    #[error("malformed witness key: {0}")]
    BadVerifierKey(&'static str),
    /// A cosignature line is malformed.
    #[error("malformed cosignature: {0}")]
    Malformed(&'static str),
    /// No configured witness has this name and key id.
    #[error("the cosignature is by no known witness")]
    UnknownWitness,
    /// The signature does not verify.
    #[error("the cosignature by {0} does not verify")]
    BadSignature(String),
}

fn key_id(name: &str, public: &[u8]) -> [u8; 4] {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    c.update(name.as_bytes());
    c.update(b"\n");
    c.update(&[ALG_COSIGNATURE_V1]);
    c.update(public);
    let mut id = [0u8; 4];
    id.copy_from_slice(&c.finish().as_ref()[..4]);
    id
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '+')
}

/// The message a `cosignature/v1` signature covers.
pub fn signed_message(cp: &Checkpoint, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{}", cp.body())
}

/// The witness name of an appliance.
pub fn witness_name(origin: &str) -> String {
    format!("{origin}/witness")
}

/// An appliance's private witness key. `Debug` prints only its public id.
pub struct Witness {
    name: String,
    pair: Ed25519KeyPair,
    id: [u8; 4],
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness").field("name", &self.name).field("id", &hex(&self.id)).finish_non_exhaustive()
    }
}

impl Witness {
    /// Loads `keys/witness.pk8` from `data_dir`, creating it (durably, mode 0600) when absent.
    pub fn load_or_create(data_dir: &Path, name: &str) -> Result<Witness, CosignError> {
        let path = data_dir.join(WITNESS_KEY_FILE);
        let io = |source| CosignError::KeyFile { path: path.clone(), source };
        match std::fs::metadata(&path) {
            Ok(meta) => {
                if meta.mode() & 0o077 != 0 {
                    return Err(CosignError::KeyPermissions { path, mode: meta.mode() & 0o777 });
                }
                let bytes = std::fs::read(&path).map_err(io)?;
                Witness::from_pkcs8(name, &bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| CosignError::Random)?;
                let dir = path.parent().unwrap_or(data_dir);
                std::fs::create_dir_all(dir).map_err(io)?;
                let mut f =
                    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
                f.write_all(doc.as_ref()).and_then(|()| f.sync_all()).map_err(io)?;
                std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
                Witness::from_pkcs8(name, doc.as_ref())
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A witness key from its PKCS#8 document.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Witness, CosignError> {
        if !valid_name(name) {
            return Err(CosignError::BadVerifierKey("bad name"));
        }
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| CosignError::BadPrivateKey)?;
        let id = key_id(name, pair.public_key().as_ref());
        Ok(Witness { name: name.to_owned(), pair, id })
    }

    /// The public half.
    pub fn verifier(&self) -> WitnessVerifier {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        WitnessVerifier { name: self.name.clone(), id: self.id, public }
    }

    /// The cosignature line (ending in a newline) over `cp` at `time` (seconds since the epoch).
    pub fn cosign(&self, cp: &Checkpoint, time: u64) -> String {
        let sig = self.pair.sign(signed_message(cp, time).as_bytes());
        let mut blob = Vec::with_capacity(76);
        blob.extend_from_slice(&self.id);
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(sig.as_ref());
        format!("\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// A witness's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    id: [u8; 4],
    public: [u8; 32],
}

impl WitnessVerifier {
    /// Parses `name+hexid+base64(0x04 ‖ public key)` and checks that the id matches the key.
    pub fn parse(text: &str) -> Result<WitnessVerifier, CosignError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CosignError::BadVerifierKey("expected name+id+key"));
        };
        if !valid_name(name) {
            return Err(CosignError::BadVerifierKey("bad name"));
        }
        let id = (id_hex.len() == 8)
            .then(|| u32::from_str_radix(id_hex, 16).ok())
            .flatten()
            .ok_or(CosignError::BadVerifierKey("key id is not 8 hex digits"))?;
        let raw = B64.decode(key_b64).map_err(|_| CosignError::BadVerifierKey("key is not base64"))?;
        let [alg, rest @ ..] = raw.as_slice() else {
            return Err(CosignError::BadVerifierKey("empty key"));
        };
        if *alg != ALG_COSIGNATURE_V1 {
            return Err(CosignError::BadVerifierKey("not a cosignature/v1 key (type 0x04)"));
        }
        let public: [u8; 32] = rest.try_into().map_err(|_| CosignError::BadVerifierKey("key is not 32 bytes"))?;
        if key_id(name, &public) != id.to_be_bytes() {
            return Err(CosignError::BadVerifierKey("key id does not match the key"));
        }
        Ok(WitnessVerifier { name: name.to_owned(), id: id.to_be_bytes(), public })
    }

    /// The verifier-key text.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(&self.public);
        format!("{}+{}+{}", self.name, hex(&self.id), B64.encode(raw))
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness's name.
    pub witness: String,
    /// When it was made, in seconds since the epoch.
    pub time: u64,
    /// The line itself, ending in a newline.
    pub line: String,
}

/// Checks one cosignature line over `cp` against the known witnesses.
pub fn verify(line: &str, cp: &Checkpoint, known: &[WitnessVerifier]) -> Result<Cosignature, CosignError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.len() > 512 || line.contains('\n') {
        return Err(CosignError::Malformed("not one line"));
    }
    let rest = line.strip_prefix("\u{2014} ").ok_or(CosignError::Malformed("no em dash"))?;
    let (name, b64) = rest.split_once(' ').ok_or(CosignError::Malformed("no witness name"))?;
    let blob = B64.decode(b64).map_err(|_| CosignError::Malformed("not base64"))?;
    if blob.len() != 4 + 8 + 64 {
        return Err(CosignError::Malformed("not a key id, a time and an Ed25519 signature"));
    }
    let (id, rest) = blob.split_at(4);
    let (time, sig) = rest.split_at(8);
    let time = u64::from_be_bytes(time.try_into().map_err(|_| CosignError::Malformed("time"))?);
    let w = known.iter().find(|w| w.name == name && w.id == id).ok_or(CosignError::UnknownWitness)?;
    UnparsedPublicKey::new(&ED25519, &w.public)
        .verify(signed_message(cp, time).as_bytes(), sig)
        .map_err(|_| CosignError::BadSignature(w.to_vkey()))?;
    Ok(Cosignature { witness: w.name.clone(), time, line: format!("{line}\n") })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp() -> Checkpoint {
        Checkpoint { origin: "makala/gate-2".into(), size: 7, root: [3; 32] }
    }

    #[test]
    fn cosignatures_verify_with_their_witness_only() {
        let dir = tempfile::tempdir().unwrap();
        let w = Witness::load_or_create(dir.path(), "makala/gate-1/witness").unwrap();
        let again = Witness::load_or_create(dir.path(), "makala/gate-1/witness").unwrap();
        assert_eq!(w.verifier(), again.verifier(), "the key file is kept");
        let vkey = w.verifier().to_vkey();
        assert_eq!(WitnessVerifier::parse(&vkey).unwrap(), w.verifier());
        let line = w.cosign(&cp(), 1_700_000_000);
        let ok = verify(&line, &cp(), &[w.verifier()]).unwrap();
        assert_eq!((ok.time, ok.witness.as_str()), (1_700_000_000, "makala/gate-1/witness"));
        let other = Checkpoint { size: 8, ..cp() };
        assert!(matches!(verify(&line, &other, &[w.verifier()]), Err(CosignError::BadSignature(_))));
        let stranger = Witness::load_or_create(&dir.path().join("x"), "makala/gate-1/witness").unwrap();
        assert!(matches!(verify(&line, &cp(), &[stranger.verifier()]), Err(CosignError::UnknownWitness)));
        assert!(verify("— x AAAA", &cp(), &[w.verifier()]).is_err());
        // A ledger (type 0x01) key is not a witness key.
        let (ledger_key, _) = crate::ledger::note::Signer::generate("makala/gate-1/witness").unwrap();
        assert!(WitnessVerifier::parse(&ledger_key.verifier().to_vkey()).is_err());
        assert!(format!("{w:?}").contains("id"));
    }
}
