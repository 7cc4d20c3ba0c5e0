//! The pure checks of a peer's log: no network, no SQL, no clock. Each takes what was fetched and what
//! we hold, and either says how to go on or names what the peer did wrong, with the evidence.
//!
//! - [`open`]: the checkpoint must be signed by the peer's pinned ledger key and name its origin, else it
//!   is **forged** (`peer_bad_signature`);
//! - [`compare`]: against the latest checkpoint we accepted, a smaller size is a **rollback**
//!   (`peer_rollback`), the same size with another root a **fork** (`peer_fork`);
//! - [`check_proof`]: a larger size needs a consistency proof from our size and root to the new ones; a
//!   proof that does not verify is a fork too;
//! - [`check_entries`]: the new entries must parse in canonical form, follow on in sequence, chain by
//!   their `prev` hash, be written by the peer, and together with what we hold hash to the new root.
//!   Entries travel unsigned, so entries that fail are not evidence against the peer (anyone on the
//!   wire could have altered them): they are refused and fetched again later, and no alarm is raised;
//! - [`check_claim`]: a signed checkpoint of a third log relayed by a peer (gossip) must agree with our
//!   own copy of that log wherever we hold it, else the log showed different heads to different peers
//!   (`peer_split_view`).

use crate::ledger::entry::Entry;
use crate::ledger::merkle::{self, Frontier, Hash};
use crate::ledger::note::{self, Checkpoint, Verifier};
use crate::ledger::reader::ConsistencyProof;
use crate::store::peers::PeerEntry;

/// A misbehaviour detected, with what proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The alarm code: `peer_bad_signature`, `peer_rollback`, `peer_fork`, `peer_split_view`.
    pub code: &'static str,
    /// What was seen, for people: the sizes and roots.
    pub detail: String,
}

/// What to do after comparing a verified checkpoint with the one we hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing new.
    UpToDate,
    /// New entries from `from` (our size) to the checkpoint's size.
    Grow {
        /// The size we hold.
        from: u64,
    },
}

/// Why fetched entries were refused (not evidence: see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntriesError {
    /// Too few or too many entries for the checkpoint.
    #[error("{got} entries fetched where {expected} were expected")]
    Count {
        /// Entries needed.
        expected: u64,
        /// Entries received.
        got: u64,
    },
    /// An entry does not parse, or is not canonical.
    #[error("entry {seq}: {reason}")]
    Bad {
        /// Its position.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The entries do not hash to the checkpoint's root.
    #[error("the entries do not hash to the checkpoint's root")]
    Root,
}

fn b64(h: &Hash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// Opens a peer's checkpoint note with its pinned key; it must be that log's checkpoint.
pub fn open(note_text: &str, pinned: &Verifier) -> Result<Checkpoint, Detected> {
    let forged = |why: String| Detected {
        code: "peer_bad_signature",
        detail: format!("checkpoint of {} refused: {why}", pinned.name()),
    };
    let opened = note::open_checkpoint(note_text, std::slice::from_ref(pinned)).map_err(|e| forged(e.to_string()))?;
    if opened.checkpoint.origin != pinned.name() {
        return Err(forged(format!("it names the log {:?}", opened.checkpoint.origin)));
    }
    Ok(opened.checkpoint)
}

/// Compares a verified checkpoint with the latest one we accepted (size and root).
pub fn compare(held: Option<(u64, Hash)>, got: &Checkpoint) -> Result<Step, Detected> {
    let Some((size, root)) = held else {
        return Ok(Step::Grow { from: 0 });
    };
    if got.size < size {
        return Err(Detected {
            code: "peer_rollback",
            detail: format!(
                "{} went back from size {size} (root {}) to size {} (root {})",
                got.origin,
                b64(&root),
                got.size,
                b64(&got.root)
            ),
        });
    }
    if got.size == size {
        if got.root != root {
            return Err(fork(&got.origin, size, &root, got));
        }
        return Ok(Step::UpToDate);
    }
    Ok(Step::Grow { from: size })
}

fn fork(origin: &str, size: u64, root: &Hash, got: &Checkpoint) -> Detected {
    Detected {
        code: "peer_fork",
        detail: format!(
            "{origin} signed size {size} with root {} and size {} with root {}, which are not consistent",
            b64(root),
            got.size,
            b64(&got.root)
        ),
    }
}

/// Checks the consistency proof from what we hold to the new checkpoint.
pub fn check_proof(held: (u64, Hash), got: &Checkpoint, proof: &ConsistencyProof) -> Result<(), Detected> {
    let (size, root) = held;
    let matches = proof.from == size && proof.to == got.size && proof.from_root == root && proof.to_root == got.root;
    if !matches || proof.verify().is_err() {
        return Err(fork(&got.origin, size, &root, got));
    }
    Ok(())
}

/// Checks the entries fetched from `held_leaves.len()` up to `got.size`, written by `appliance`, and
/// returns them ready to store.
pub fn check_entries(
    appliance: &str,
    held_leaves: &[Hash],
    fetched: &[Vec<u8>],
    got: &Checkpoint,
) -> Result<Vec<PeerEntry>, EntriesError> {
    let from = held_leaves.len() as u64;
    let expected = got.size.saturating_sub(from);
    if fetched.len() as u64 != expected {
        return Err(EntriesError::Count { expected, got: fetched.len() as u64 });
    }
    let mut frontier = Frontier::empty();
    for leaf in held_leaves {
        frontier.push(*leaf, |_| {});
    }
    let mut prev = held_leaves.last().copied().unwrap_or([0; 32]);
    let mut out = Vec::with_capacity(fetched.len());
    for (i, bytes) in fetched.iter().enumerate() {
        let seq = from + i as u64;
        let bad = |reason: String| EntriesError::Bad { seq, reason };
        let entry = Entry::parse(bytes).map_err(|e| bad(e.to_string()))?;
        if entry.stamp.seq != seq {
            return Err(bad(format!("it says it is entry {}", entry.stamp.seq)));
        }
        if entry.stamp.prev != prev {
            return Err(bad("its prev hash is not the leaf hash of the entry before it".into()));
        }
        if entry.stamp.appliance != appliance {
            return Err(bad(format!("it was written by {:?}", entry.stamp.appliance)));
        }
        let leaf = merkle::leaf_hash(bytes);
        frontier.push(leaf, |_| {});
        prev = leaf;
        out.push(PeerEntry { seq, kind: entry.event.kind().to_owned(), bytes: bytes.clone(), leaf });
    }
    if frontier.root() != got.root {
        return Err(EntriesError::Root);
    }
    Ok(out)
}

/// The root of the first `size` of `leaves` (`size` ≤ their number).
pub fn root_of(leaves: &[Hash], size: u64) -> Hash {
    let mut frontier = Frontier::empty();
    for leaf in leaves.iter().take(size as usize) {
        frontier.push(*leaf, |_| {});
    }
    frontier.root()
}

/// Checks a verified checkpoint of a log (relayed by `via`) against our copy of that log's leaves:
/// `None` when it agrees or is beyond what we hold (it cannot be checked yet).
pub fn check_claim(leaves: &[Hash], claim: &Checkpoint, via: &str) -> Option<Detected> {
    if claim.size > leaves.len() as u64 {
        return None;
    }
    let ours = root_of(leaves, claim.size);
    (ours != claim.root).then(|| Detected {
        code: "peer_split_view",
        detail: format!(
            "{} showed {via} size {} with root {}, but showed us root {} at that size",
            claim.origin,
            claim.size,
            b64(&claim.root),
            b64(&ours)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::{Event, Note, Stamp};
    use crate::ledger::note::{Signer, sign_checkpoint};

    const ORIGIN: &str = "makala/gate-2";

    /// A log of `n` notes written by gate-2 (or `writer`), as canonical bytes.
    fn log(n: u64, text: &str) -> Vec<Vec<u8>> {
        let mut prev = [0; 32];
        (0..n)
            .map(|seq| {
                let stamp = Stamp {
                    seq,
                    time: "2026-11-26T10:00:00.000Z".into(),
                    boot: "b".into(),
                    mono_ms: seq,
                    appliance: "gate-2".into(),
                    prev,
                };
                let note = Note::new("sup".into(), format!("{text} {seq}")).unwrap();
                let bytes = Entry { stamp, event: Event::Note(note) }.to_canonical();
                prev = merkle::leaf_hash(&bytes);
                bytes
            })
            .collect()
    }

    fn leaves(entries: &[Vec<u8>]) -> Vec<Hash> {
        entries.iter().map(|b| merkle::leaf_hash(b)).collect()
    }

    fn cp(entries: &[Vec<u8>]) -> Checkpoint {
        Checkpoint { origin: ORIGIN.into(), size: entries.len() as u64, root: root_of(&leaves(entries), u64::MAX) }
    }

    /// A consistency proof computed from the leaves (a tiny node source over them).
    fn proof(entries: &[Vec<u8>], from: u64) -> ConsistencyProof {
        struct Leaves(Vec<Hash>);
        impl merkle::NodeSource for Leaves {
            type Error = std::convert::Infallible;
            fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
                let start = (index << level) as usize;
                Ok(root_of(&self.0[start..start + (1 << level)], u64::MAX))
            }
        }
        let src = Leaves(leaves(entries));
        let to = entries.len() as u64;
        let hashes = merkle::consistency_proof(&src, from, to).unwrap().unwrap();
        ConsistencyProof { from, to, from_root: root_of(&src.0, from), to_root: root_of(&src.0, to), hashes }
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_or_for_another_log_is_forged() {
        let (key, _) = Signer::generate(ORIGIN).unwrap();
        let (impostor, _) = Signer::generate(ORIGIN).unwrap();
        let c = cp(&log(3, "a"));
        assert_eq!(open(&sign_checkpoint(&c, &[&key]), &key.verifier()).unwrap(), c);
        let forged = open(&sign_checkpoint(&c, &[&impostor]), &key.verifier()).unwrap_err();
        assert_eq!(forged.code, "peer_bad_signature");
        let tampered = sign_checkpoint(&c, &[&key]).replacen("\n3\n", "\n4\n", 1);
        assert_eq!(open(&tampered, &key.verifier()).unwrap_err().code, "peer_bad_signature");
        assert_eq!(open("hello", &key.verifier()).unwrap_err().code, "peer_bad_signature");
    }

    #[test]
    fn smaller_is_a_rollback_same_size_other_root_a_fork() {
        let a = log(6, "a");
        let held = (5, cp(&a[..5]).root);
        assert_eq!(compare(None, &cp(&a)), Ok(Step::Grow { from: 0 }));
        assert_eq!(compare(Some(held), &cp(&a)), Ok(Step::Grow { from: 5 }));
        assert_eq!(compare(Some(held), &cp(&a[..5])), Ok(Step::UpToDate));
        let rollback = compare(Some(held), &cp(&a[..3])).unwrap_err();
        assert_eq!(rollback.code, "peer_rollback");
        assert!(
            rollback.detail.contains("from size 5") && rollback.detail.contains("to size 3"),
            "{}",
            rollback.detail
        );
        let b = log(5, "b");
        assert_eq!(compare(Some(held), &cp(&b)).unwrap_err().code, "peer_fork");
    }

    #[test]
    fn a_larger_tree_must_prove_it_extends_ours() {
        let a = log(7, "a");
        let held = (4, cp(&a[..4]).root);
        assert_eq!(check_proof(held, &cp(&a), &proof(&a, 4)), Ok(()));
        // Another history that grew past us: its proof cannot reach our root.
        let b = log(7, "b");
        assert_eq!(check_proof(held, &cp(&b), &proof(&b, 4)).unwrap_err().code, "peer_fork");
        // A proof for other sizes, or with a hash changed, proves nothing.
        assert_eq!(check_proof(held, &cp(&a), &proof(&a, 3)).unwrap_err().code, "peer_fork");
        let mut bent = proof(&a, 4);
        bent.hashes[0][0] ^= 1;
        assert_eq!(check_proof(held, &cp(&a), &bent).unwrap_err().code, "peer_fork");
    }

    #[test]
    fn entries_must_follow_on_chain_and_hash_to_the_root() {
        let a = log(6, "a");
        let held = leaves(&a[..2]);
        let got = check_entries("gate-2", &held, &a[2..], &cp(&a)).unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert_eq!(got[0].kind, "note");
        assert!(matches!(check_entries("gate-2", &held, &a[2..5], &cp(&a)), Err(EntriesError::Count { .. })));
        assert!(matches!(check_entries("gate-3", &held, &a[2..], &cp(&a)), Err(EntriesError::Bad { seq: 2, .. })));
        // Entries from another history do not chain onto ours.
        let b = log(6, "b");
        assert!(matches!(check_entries("gate-2", &held, &b[2..], &cp(&a)), Err(EntriesError::Bad { seq: 2, .. })));
        // Right entries, wrong root.
        let other = Checkpoint { root: [0; 32], ..cp(&a) };
        assert_eq!(check_entries("gate-2", &held, &a[2..], &other), Err(EntriesError::Root));
        // Bytes that are not canonical.
        let mut spaced = a[2..].to_vec();
        spaced[0].insert(1, b' ');
        assert!(matches!(check_entries("gate-2", &held, &spaced, &cp(&a)), Err(EntriesError::Bad { seq: 2, .. })));
    }

    #[test]
    fn a_relayed_head_that_disagrees_with_our_copy_is_a_split_view() {
        let a = log(5, "a");
        let ours = leaves(&a);
        assert_eq!(check_claim(&ours, &cp(&a[..3]), "gate-3"), None);
        assert_eq!(check_claim(&ours[..2], &cp(&a[..3]), "gate-3"), None, "beyond what we hold");
        let b = log(3, "b");
        let split = check_claim(&ours, &cp(&b), "gate-3").unwrap();
        assert_eq!(split.code, "peer_split_view");
        assert!(split.detail.contains("showed gate-3 size 3"), "{}", split.detail);
    }
}
