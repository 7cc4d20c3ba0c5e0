//! RFC 6962 Merkle tree hashing, proofs and their verification (RFC 9162 §2.1).
//!
//! The tree is never rebuilt. Every *perfect* subtree — `2^level` leaves starting at leaf `index << level` —
//! is hashed once, when its last leaf is appended, and kept by a [`NodeSource`] (the store's `tree_nodes`
//! table). Any root, inclusion proof or consistency proof then needs O(log n) stored hashes: the ranges the
//! RFC's recursion visits are either perfect subtrees or the ragged right edge, which splits into at most
//! log n perfect ones. This module is pure computation; it knows nothing of SQLite.

use ring::digest::{Context, SHA256, digest};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of the empty tree, SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    to_hash(digest(&SHA256, b"").as_ref())
}

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut c = Context::new(&SHA256);
    c.update(&[0]);
    c.update(data);
    to_hash(c.finish().as_ref())
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut c = Context::new(&SHA256);
    c.update(&[1]);
    c.update(left);
    c.update(right);
    to_hash(c.finish().as_ref())
}

fn to_hash(bytes: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(bytes);
    h
}

/// Where stored perfect-subtree hashes come from.
pub trait NodeSource {
    /// The error reading a node.
    type Error;
    /// Hash of the perfect subtree of `2^level` leaves that starts at leaf `index << level`.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:end])` for a range the RFC 6962 recursion visits (a perfect subtree or a right edge).
pub fn range_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.node(n.trailing_zeros(), start / n);
    }
    let k = split(n);
    let left = range_hash(src, start, start + k)?;
    let right = range_hash(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Hash, S::Error> {
    range_hash(src, 0, size)
}

/// Why a proof cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofRequestError {
    /// The leaf index is not inside the tree.
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Requested leaf.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The older tree is larger than the newer one.
    #[error("tree size {from} is larger than {to}")]
    SizesReversed {
        /// Older size.
        from: u64,
        /// Newer size.
        to: u64,
    },
}

/// The RFC 6962 audit path of leaf `index` in the tree of `size` leaves, ordered from the leaf upwards.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Result<Vec<Hash>, ProofRequestError>, S::Error> {
    if index >= size {
        return Ok(Err(ProofRequestError::IndexOutOfRange { index, size }));
    }
    let (mut start, mut end, mut m) = (0u64, size, index);
    let mut top_down = Vec::new();
    while end - start > 1 {
        let k = split(end - start);
        if m < k {
            top_down.push(range_hash(src, start + k, end)?);
            end = start + k;
        } else {
            top_down.push(range_hash(src, start, start + k)?);
            start += k;
            m -= k;
        }
    }
    top_down.reverse();
    Ok(Ok(top_down))
}

/// The RFC 6962 consistency proof between the trees of `from` and `to` leaves.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    from: u64,
    to: u64,
) -> Result<Result<Vec<Hash>, ProofRequestError>, S::Error> {
    if from > to {
        return Ok(Err(ProofRequestError::SizesReversed { from, to }));
    }
    if from == 0 || from == to {
        return Ok(Ok(Vec::new()));
    }
    let (mut start, mut end, mut m, mut whole) = (0u64, to, from, true);
    let mut top_down = Vec::new();
    loop {
        let n = end - start;
        if m == n {
            if !whole {
                top_down.push(range_hash(src, start, end)?);
            }
            break;
        }
        let k = split(n);
        if m <= k {
            top_down.push(range_hash(src, start + k, end)?);
            end = start + k;
        } else {
            top_down.push(range_hash(src, start, start + k)?);
            start += k;
            m -= k;
            whole = false;
        }
    }
    top_down.reverse();
    Ok(Ok(top_down))
}

/// Why a proof does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The index or sizes are impossible.
    #[error("impossible proof request: {0}")]
    Request(#[from] ProofRequestError),
    /// The proof has the wrong number of hashes for the sizes.
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    /// The hashes do not lead to the expected root(s).
    #[error("proof does not lead to the expected root")]
    Mismatch,
}

/// Checks an audit path (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofRequestError::IndexOutOfRange { index, size }.into());
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2). A tree of size 0 is consistent with every tree.
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if from > to {
        return Err(ProofRequestError::SizesReversed { from, to }.into());
    }
    if from == 0 || from == to {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if from == to && from_root != to_root {
            return Err(ProofError::Mismatch);
        }
        return Ok(());
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (from - 1, to - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != from_root || &sr != to_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: the perfect subtrees that make up its current size, largest first.
///
/// Appending a leaf merges equal-sized subtrees; each merge is a new perfect subtree to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

/// A perfect subtree created by an append, to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewNode {
    /// log2 of the number of leaves it covers.
    pub level: u32,
    /// Its position among subtrees of its level.
    pub index: u64,
    /// Its hash.
    pub hash: Hash,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn empty() -> Self {
        Frontier { size: 0, hashes: Vec::new() }
    }

    /// Reads the frontier of a tree of `size` leaves: one stored hash per set bit of `size`.
    pub fn load<S: NodeSource>(src: &S, size: u64) -> Result<Self, S::Error> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut covered = 0u64;
        for level in (0..64u32).rev() {
            if size >> level & 1 == 1 {
                hashes.push(src.node(level, covered >> level)?);
                covered += 1 << level;
            }
        }
        Ok(Frontier { size, hashes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; calls `store` for the leaf and every perfect subtree it completes.
    pub fn push(&mut self, leaf: Hash, mut store: impl FnMut(NewNode)) {
        let s = self.size;
        store(NewNode { level: 0, index: s, hash: leaf });
        let mut h = leaf;
        let mut level = 0;
        while s >> level & 1 == 1 {
            let Some(left) = self.hashes.pop() else { break };
            h = node_hash(&left, &h);
            level += 1;
            store(NewNode { level, index: s >> level, hash: h });
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The root of the tree.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, h| node_hash(h, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::convert::Infallible;

    #[derive(Default)]
    struct Mem(HashMap<(u32, u64), Hash>);
    impl NodeSource for Mem {
        type Error = Infallible;
        fn node(&self, level: u32, index: u64) -> Result<Hash, Infallible> {
            Ok(*self.0.get(&(level, index)).expect("node stored"))
        }
    }

    /// The RFC's definition, straight from the text, over all leaves.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn build(n: u64) -> (Mem, Frontier, Vec<Hash>) {
        let mut mem = Mem::default();
        let mut f = Frontier::empty();
        let mut leaves = Vec::new();
        for i in 0..n {
            let l = leaf_hash(format!("entry {i}").as_bytes());
            leaves.push(l);
            f.push(l, |nn| {
                mem.0.insert((nn.level, nn.index), nn.hash);
            });
        }
        (mem, f, leaves)
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            empty_root(),
            [
                0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27,
                0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55
            ]
        );
        // RFC 6962 test vector: leaf hash of the empty entry.
        let l = leaf_hash(b"");
        assert_eq!(l[..4], [0x6e, 0x34, 0x0b, 0x9c]);
    }

    #[test]
    fn roots_from_stored_nodes_match_the_definition_at_every_size() {
        let (mem, _, leaves) = build(70);
        for n in 0..=70u64 {
            assert_eq!(root(&mem, n).unwrap(), mth(&leaves[..n as usize]), "size {n}");
            let f = Frontier::load(&mem, n).unwrap();
            assert_eq!(f.root(), mth(&leaves[..n as usize]), "frontier size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_reject_tampering() {
        let (mem, _, leaves) = build(40);
        for n in 1..=40u64 {
            let r = root(&mem, n).unwrap();
            for i in 0..n {
                let p = inclusion_proof(&mem, i, n).unwrap().unwrap();
                verify_inclusion(i, n, &leaves[i as usize], &p, &r).unwrap();
                let other = leaf_hash(b"forged");
                assert!(verify_inclusion(i, n, &other, &p, &r).is_err());
                if !p.is_empty() {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(i, n, &leaves[i as usize], &bad, &r).is_err());
                    assert!(verify_inclusion(i, n, &leaves[i as usize], &p[1..], &r).is_err());
                }
            }
        }
        assert_eq!(inclusion_proof(&mem, 5, 5).unwrap(), Err(ProofRequestError::IndexOutOfRange { index: 5, size: 5 }));
    }

    #[test]
    fn consistency_proofs_verify_and_reject_forks() {
        let (mem, _, _) = build(40);
        let (fork, _, _) = {
            // Same first 10 leaves, different after.
            let mut mem = Mem::default();
            let mut f = Frontier::empty();
            for i in 0..40u64 {
                let data = if i < 10 { format!("entry {i}") } else { format!("forked {i}") };
                f.push(leaf_hash(data.as_bytes()), |nn| {
                    mem.0.insert((nn.level, nn.index), nn.hash);
                });
            }
            (mem, f, ())
        };
        for n in 1..=40u64 {
            for m in 1..=n {
                let p = consistency_proof(&mem, m, n).unwrap().unwrap();
                let (rm, rn) = (root(&mem, m).unwrap(), root(&mem, n).unwrap());
                verify_consistency(m, n, &rm, &rn, &p).unwrap();
                if m < n {
                    assert!(verify_consistency(m, n, &rn, &rm, &p).is_err());
                }
                if m > 10 {
                    let fm = root(&fork, m).unwrap();
                    assert!(verify_consistency(m, n, &fm, &rn, &p).is_err(), "fork at {m}->{n}");
                }
            }
        }
    }
}
