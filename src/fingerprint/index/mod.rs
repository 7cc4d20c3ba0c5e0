//! The in-memory 1:N identification index: everyone enrolled, so that one touch at a gate finds who it
//! is among 100,000 templates in a few tens of milliseconds on two cores. Pure computation and memory:
//! it does not read or write the store (the caller loads templates into it at start-up and keeps it in
//! step with enrolments), and it does not decide anything (the gate's policy does, from the calibrated
//! scores it returns).
//!
//! # Method
//! Two stages, as in every practical identification system (Maltoni et al., *Handbook of Fingerprint
//! Recognition*, 3rd ed., ch. 5, "fingerprint indexing and retrieval"):
//!
//! 1. **Candidate selection by minutia-pair hashing** (`keys.rs`): every enrolled template is filed
//!    under the quantised invariant features (distance, two relative angles) of pairs of its nearby
//!    minutiae, each entry also carrying the direction of the pair's first minutia — a
//!    geometric-hashing table in the manner of Germain, Califano & Colville, "Fingerprint matching
//!    using transformation parameter clustering" (IEEE CS&E 4(4), 1997). A probe's pairs look up their
//!    keys (with tolerance across bin edges), and each entry found votes for its template *and for the
//!    rotation* between the two directions, as Germain et al. cluster transformation parameters: a
//!    true mate's votes pile up in one rotation, chance collisions spread over all of them. A
//!    template's vote count is its best window of three neighbouring rotation bins (about 17°),
//!    divided by the square root of its own pair count so that templates with many minutiae do not
//!    win on chance. Buckets are kept in order of direction, so a probe reads only the entries within
//!    `MAX_ROTATION` (45°) of its own directions, and keys holding more than `CROWDED` (6) times the
//!    mean are not read at all: they are the configurations every finger has (near minutiae along
//!    one ridge flow), as common words are left out of a text index, and leaving them out made
//!    selection both 4–6 times faster and more accurate (the mate in the first 128 for 98.7% of
//!    probes at 100,000 templates, against 95.5% with them). The work is the entries read — about
//!    `N · probe pairs · 8 keys · (pairs per template / KEYS) · 1/4` — a few percent of the gallery's
//!    entries, not a comparison with everyone.
//! 2. **Full matching of a short list**: the `shortlist` templates with the most votes are compared
//!    with the probe by the matcher ([`crate::fingerprint::matcher`]), their cylinders built on the
//!    fly, on all cores, and ranked by its score, each with the false match rate its score stands for
//!    in the calibration table.
//!
//! Measured figures, and how to reproduce them, come from `tally fingerprint bench-index` (README).
//!
//! # Memory
//! Per template: its compact encoding ([`Template::to_bytes`], 8 bytes per minutia) and one `u32`
//! per kept pair in the hash table (6 per minutia), about 32 bytes per minutia with the slot's own
//! bookkeeping: about 1.3 KiB for a template of 38 minutiae. Its keys are not kept beside it; removal
//! recomputes them from the encoding. Cylinders (about 12 KiB per template) are built only for the
//! short list. [`Index::heap_bytes`] counts it all.
//!
//! # Concurrency
//! One [`std::sync::RwLock`]: identifications share it, an insertion or removal holds it alone for
//! the time it takes to file or unfile one template's keys (microseconds), so identifications keep
//! running while people are enrolled. The full matching of the short list runs after the lock is
//! released, on copies of the short-listed templates. Nothing is ever rebuilt.

mod keys;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::fingerprint::matcher::{self, PreparedTemplate};
use crate::fingerprint::template::{Template, TemplateError};

/// The caller's name for an enrolled template (the store's row id, say). The index never interprets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateId(pub u64);

/// One identification candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Which template.
    pub id: TemplateId,
    /// The matcher's score against the probe, `[0, 1]`.
    pub score: f32,
    /// The false match rate this score stands for as a threshold ([`matcher::fmr_for_score`]).
    pub fmr: f64,
}

/// Why the index refused a change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndexError {
    /// The id is already enrolled; remove it first to replace it.
    #[error("template {} is already in the index", .0.0)]
    Duplicate(TemplateId),
    /// The id is not enrolled.
    #[error("template {} is not in the index", .0.0)]
    NotFound(TemplateId),
    /// The index holds as many templates as it can address.
    #[error("the index is full ({} templates)", u32::MAX)]
    Full,
    /// A stored encoding did not decode: memory was corrupted or the encoding changed underneath.
    #[error("an indexed template no longer decodes")]
    Corrupt(#[source] TemplateError),
}

/// Tuning of an [`Index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// Templates compared in full after candidate selection.
    pub shortlist: usize,
    /// Threads for the full matching (at least 1).
    pub threads: usize,
}

impl Default for IndexConfig {
    /// A short list of 96 on every core the machine has.
    fn default() -> IndexConfig {
        IndexConfig { shortlist: 96, threads: crate::parallel::cores() }
    }
}

/// The identification index (see the module docs).
#[derive(Debug)]
pub struct Index {
    config: IndexConfig,
    inner: RwLock<Inner>,
}

/// Everything behind the lock.
struct Inner {
    /// For each key, the slots of the templates filed under it (one entry per pair).
    buckets: Vec<Vec<u32>>,
    /// Templates by slot; `None` for a free slot.
    slots: Vec<Option<Entry>>,
    /// Free slots, reused by insertions.
    free: Vec<u32>,
    /// Slot of each enrolled id.
    by_id: HashMap<TemplateId, u32>,
    /// Entries in all buckets.
    entries: usize,
}

/// Written by hand: the entries are biometric data.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("templates", &self.by_id.len()).finish()
    }
}

/// Whether a filing keeps the buckets in order (one template) or leaves that to
/// [`Inner::restore_order`] (many).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Keep,
    Later,
}

/// One enrolled template.
struct Entry {
    id: TemplateId,
    /// [`Template::to_bytes`].
    encoded: Box<[u8]>,
    /// How many pairs it is filed under (its keys are not kept: removal recomputes them from
    /// `encoded`, which is where they were computed from).
    pairs: u16,
}

/// A template ready to be filed: its encoding and keys, computed without the lock.
struct Filing {
    encoded: Box<[u8]>,
    /// Each pair's key and the direction bin of its first minutia.
    pairs: Vec<(u32, u32)>,
}

impl Filing {
    /// The filing of `t`, its keys computed from its encoding decoded again, so that removal, which
    /// only has the encoding, finds exactly the same keys.
    fn new(t: &Template) -> Filing {
        let encoded = t.to_bytes();
        // Encoding never fails and always decodes (see `Template::to_bytes`); were that ever broken,
        // the keys would come from the original, and removal would sweep every bucket instead.
        Filing::from_encoded(&encoded)
            .unwrap_or_else(|_| Filing { encoded: encoded.into_boxed_slice(), pairs: Filing::pairs(t) })
    }

    /// The filing of an encoded template, decoded once.
    fn from_encoded(encoded: &[u8]) -> Result<Filing, TemplateError> {
        let pairs = Filing::pairs(&Template::from_bytes(encoded)?);
        Ok(Filing { encoded: encoded.into(), pairs })
    }

    /// Each pair's key and the direction bin of its first minutia, in order.
    fn pairs(t: &Template) -> Vec<(u32, u32)> {
        let mut features = Vec::new();
        keys::pair_features(&t.minutiae, &mut features);
        let mut pairs: Vec<(u32, u32)> =
            features.iter().map(|f| (keys::gallery_key(f), keys::theta_bin(f.theta))).collect();
        pairs.sort_unstable();
        pairs
    }
}

/// A bucket entry: its minutia's direction bin in the high bits and the template's slot in the low
/// bits, so that a bucket kept in order is in order of direction and a probe reads only the range of
/// directions within [`MAX_ROTATION`] of its own.
fn entry(slot: u32, theta_bin: u32) -> u32 {
    (theta_bin << SLOT_BITS) | slot
}

/// Bits of an entry that hold the slot.
const SLOT_BITS: u32 = 32 - keys::THETA_BINS.trailing_zeros();
const _: () = assert!(keys::THETA_BINS.is_power_of_two());
/// Slots an entry can name (about 67 million).
const MAX_SLOTS: u32 = (1 << SLOT_BITS) - 1;
/// The largest rotation between a probe and its enrolled impression that the index looks for, in
/// direction bins (8 × 5.6° = 45°). A finger on a gate's reader lies along the guide; turning it
/// further is rare and costs recall only in candidate selection. Restricting the rotation halves the
/// entries read, and votes count only in the rotations allowed.
const MAX_ROTATION: u32 = 8;
/// Rotation bins votes are counted in: `−MAX_ROTATION ..= MAX_ROTATION`.
const ROTATION_BINS: usize = 2 * MAX_ROTATION as usize + 1;
/// Keys holding more than this many times the mean number of entries are not looked up (see
/// `Index::select`).
const CROWDED: usize = 6;
/// Neighbouring rotation bins summed into a template's vote count (a window of about 17°, the
/// direction error of extractors).
const ROTATION_WINDOW: usize = 3;

impl Index {
    /// An empty index.
    pub fn new(config: IndexConfig) -> Index {
        let inner = Inner {
            buckets: (0..keys::KEYS).map(|_| Vec::new()).collect(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            entries: 0,
        };
        Index { config: IndexConfig { threads: config.threads.max(1), ..config }, inner: RwLock::new(inner) }
    }

    /// Enrols `template` as `id`.
    pub fn insert(&self, id: TemplateId, template: &Template) -> Result<(), IndexError> {
        let filing = Filing::new(template);
        self.write().file(id, filing, Order::Keep)
    }

    /// Enrols many templates at once, computing their keys on every core. The keys are computed
    /// without the lock; the filing holds it throughout (about a second for 100,000 templates),
    /// appending to the buckets and putting each back in order once at the end rather than
    /// inserting in order one by one. Stops at the first refused template (the ones before it stay
    /// enrolled).
    pub fn extend<'a>(
        &self,
        templates: impl IntoIterator<Item = (TemplateId, &'a Template)>,
    ) -> Result<(), IndexError> {
        let items: Vec<(TemplateId, &Template)> = templates.into_iter().collect();
        self.file_all(crate::parallel::map(&items, self.config.threads, |(id, t)| Ok((*id, Filing::new(t)))))
    }

    /// [`Index::extend`] on encoded templates ([`Template::to_bytes`]), as the store hands them over
    /// at start-up: each is decoded once, for its keys. One that does not decode is refused
    /// ([`IndexError::Corrupt`]) and stops the load there.
    pub fn extend_encoded(&self, templates: &[(TemplateId, Vec<u8>)]) -> Result<(), IndexError> {
        self.file_all(crate::parallel::map(templates, self.config.threads, |(id, bytes)| {
            Filing::from_encoded(bytes).map(|f| (*id, f)).map_err(IndexError::Corrupt)
        }))
    }

    /// Files prepared filings under one hold of the lock, in order, stopping at the first error.
    fn file_all(&self, filings: Vec<Result<(TemplateId, Filing), IndexError>>) -> Result<(), IndexError> {
        let mut inner = self.write();
        let mut result = Ok(());
        for filing in filings {
            result = filing.and_then(|(id, f)| inner.file(id, f, Order::Later));
            if result.is_err() {
                break;
            }
        }
        inner.restore_order(self.config.threads);
        result
    }

    /// Removes `id`.
    pub fn remove(&self, id: TemplateId) -> Result<(), IndexError> {
        self.write().unfile(id)
    }

    /// Templates enrolled.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// Whether no template is enrolled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `id` is enrolled.
    pub fn contains(&self, id: TemplateId) -> bool {
        self.read().by_id.contains_key(&id)
    }

    /// The enrolled templates most similar to `probe`, best first, at most `max`: candidates chosen
    /// by their keys, then compared in full (see the module docs). Candidates scoring 0 are left out.
    pub fn identify(&self, probe: &Template, max: usize) -> Result<Vec<Candidate>, IndexError> {
        let prepared = PreparedTemplate::new(probe);
        let short = self.select(probe, self.config.shortlist);
        self.rank(&prepared, short, max)
    }

    /// The `n` templates with the most normalised votes for `probe`, with their encodings: the first
    /// stage of [`Index::identify`] alone (for measuring it).
    fn select(&self, probe: &Template, n: usize) -> Vec<(TemplateId, Box<[u8]>)> {
        let mut features = Vec::new();
        keys::pair_features(&probe.minutiae, &mut features);
        let mut lookups = Vec::with_capacity(features.len() * 8);
        let mut thetas = Vec::with_capacity(features.len() * 8);
        for f in &features {
            keys::probe_keys(f, &mut lookups);
            thetas.resize(lookups.len(), keys::theta_bin(f.theta));
        }
        let inner = self.read();
        // The most crowded keys (near minutiae on one ridge flow, which every finger has) say the
        // least about who this is and cost the most to read: keys holding more than `CROWDED` times
        // the mean are skipped (in a small gallery, where every key is cheap, none are).
        let crowded = CROWDED * (inner.entries / keys::KEYS).max(16);
        let lookups: Vec<(u32, u32)> =
            lookups.into_iter().zip(thetas).filter(|&(k, _)| inner.buckets[k as usize].len() <= crowded).collect();
        // Votes per template and rotation, counted on every thread over a share of the lookups and
        // then added up: a true mate's pairs agree on the rotation, chance collisions spread over all.
        let share = lookups.len().div_ceil(self.config.threads).max(1);
        let parts: Vec<&[(u32, u32)]> = lookups.chunks(share).collect();
        let counted = crate::parallel::map(&parts, self.config.threads, |part| inner.count_votes(part));
        let mut counted = counted.into_iter();
        let mut votes = counted.next().unwrap_or_else(|| vec![[0u8; ROTATION_BINS]; inner.slots.len()]);
        for other in counted {
            for (v, o) in votes.iter_mut().zip(&other) {
                for (a, b) in v.iter_mut().zip(o) {
                    *a = a.saturating_add(*b);
                }
            }
        }
        let mut ranked: Vec<(f32, u32)> = votes
            .iter()
            .enumerate()
            .filter_map(|(slot, v)| {
                let best = v.windows(ROTATION_WINDOW).map(|w| w.iter().map(|&c| u32::from(c)).sum::<u32>()).max()?;
                let e = inner.slots[slot].as_ref().filter(|_| best > 0)?;
                Some((best as f32 / f32::from(e.pairs.max(1)).sqrt(), slot as u32))
            })
            .collect();
        // Most votes first; ties by slot, so the list never depends on the sort.
        let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if ranked.len() > n {
            ranked.select_nth_unstable_by(n, order);
            ranked.truncate(n);
        }
        ranked.sort_unstable_by(order);
        ranked
            .iter()
            .filter_map(|&(_, slot)| inner.slots[slot as usize].as_ref().map(|e| (e.id, e.encoded.clone())))
            .collect()
    }

    /// Compares the short list with the probe on all threads and ranks it.
    fn rank(
        &self,
        probe: &PreparedTemplate,
        short: Vec<(TemplateId, Box<[u8]>)>,
        max: usize,
    ) -> Result<Vec<Candidate>, IndexError> {
        let scored = crate::parallel::map(&short, self.config.threads, |(id, encoded)| {
            let t = Template::from_bytes(encoded).map_err(IndexError::Corrupt)?;
            let score = matcher::compare_prepared(probe, &PreparedTemplate::new(&t));
            Ok(Candidate { id: *id, score, fmr: matcher::fmr_for_score(score) })
        });
        let mut out: Vec<Candidate> =
            scored.into_iter().collect::<Result<Vec<_>, IndexError>>()?.into_iter().filter(|c| c.score > 0.0).collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        out.truncate(max);
        Ok(out)
    }

    /// The short list [`Index::identify`] would compare in full, as ids, best first: to measure how
    /// often candidate selection keeps the right template.
    pub fn shortlist(&self, probe: &Template) -> Vec<TemplateId> {
        self.select(probe, self.config.shortlist).into_iter().map(|(id, _)| id).collect()
    }

    /// Where `id` comes in candidate selection's order for `probe` (0 first), or `None` when it got
    /// no vote at all: how long a short list would have to be to keep it. Orders every voted
    /// template, so it costs more than an identification; for measurements.
    pub fn selection_rank(&self, probe: &Template, id: TemplateId) -> Option<usize> {
        self.select(probe, usize::MAX).iter().position(|(i, _)| *i == id)
    }

    /// Bytes of heap the index holds (capacities, not lengths: what the allocator gave it), without
    /// the allocator's own overhead.
    pub fn heap_bytes(&self) -> usize {
        let inner = self.read();
        let buckets: usize = inner.buckets.iter().map(|b| b.capacity() * 4).sum::<usize>()
            + inner.buckets.capacity() * std::mem::size_of::<Vec<u32>>();
        let slots = inner.slots.capacity() * std::mem::size_of::<Option<Entry>>()
            + inner.slots.iter().flatten().map(|e| e.encoded.len()).sum::<usize>();
        // A hash map entry: the key, the value and a control byte, at the map's capacity.
        let by_id = inner.by_id.capacity() * (std::mem::size_of::<(TemplateId, u32)>() + 1);
        buckets + slots + by_id + inner.free.capacity() * 4
    }

    /// Gives memory the index no longer needs back to the allocator (after a bulk load, say).
    pub fn shrink_to_fit(&self) {
        let mut inner = self.write();
        inner.buckets.iter_mut().for_each(Vec::shrink_to_fit);
        inner.slots.shrink_to_fit();
        inner.by_id.shrink_to_fit();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // Nothing panics while holding the lock, and every change leaves the maps consistent at
        // each step, so a poisoned lock still guards a usable index.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Votes per slot and rotation bin from `lookups` (key, probe direction bin).
    fn count_votes(&self, lookups: &[(u32, u32)]) -> Vec<[u8; ROTATION_BINS]> {
        let mut votes = vec![[0u8; ROTATION_BINS]; self.slots.len()];
        for &(k, probe_theta) in lookups {
            let bucket = &self.buckets[k as usize];
            // Gallery directions within MAX_ROTATION of the probe's, as one or two ranges of the
            // bucket (two when they wrap around 0).
            let lo = (probe_theta + keys::THETA_BINS - MAX_ROTATION) % keys::THETA_BINS;
            let hi = (probe_theta + MAX_ROTATION) % keys::THETA_BINS;
            let from = |t: u32| bucket.partition_point(|&e| e >> SLOT_BITS < t);
            let to = |t: u32| bucket.partition_point(|&e| e >> SLOT_BITS <= t);
            let ranges = if lo <= hi { [from(lo)..to(hi), 0..0] } else { [from(lo)..bucket.len(), 0..to(hi)] };
            for range in ranges {
                for &e in &bucket[range] {
                    // probe − gallery, shifted into 0 ..= 2·MAX_ROTATION.
                    let rotation =
                        (probe_theta + keys::THETA_BINS + MAX_ROTATION - (e >> SLOT_BITS)) % keys::THETA_BINS;
                    let v = &mut votes[(e & MAX_SLOTS) as usize][rotation as usize];
                    *v = v.saturating_add(1);
                }
            }
        }
        votes
    }

    fn file(&mut self, id: TemplateId, filing: Filing, order: Order) -> Result<(), IndexError> {
        if self.by_id.contains_key(&id) {
            return Err(IndexError::Duplicate(id));
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => u32::try_from(self.slots.len()).ok().filter(|&s| s <= MAX_SLOTS).ok_or(IndexError::Full)?,
        };
        for &(k, theta) in &filing.pairs {
            let bucket = &mut self.buckets[k as usize];
            let e = entry(slot, theta);
            match order {
                Order::Keep => bucket.insert(bucket.partition_point(|&x| x < e), e),
                Order::Later => bucket.push(e),
            }
        }
        self.entries += filing.pairs.len();
        let pairs = u16::try_from(filing.pairs.len()).unwrap_or(u16::MAX);
        let entry = Entry { id, encoded: filing.encoded, pairs };
        match self.slots.get_mut(slot as usize) {
            Some(s) => *s = Some(entry),
            None => self.slots.push(Some(entry)),
        }
        self.by_id.insert(id, slot);
        Ok(())
    }

    /// Puts every bucket back in order after filings with [`Order::Later`], on `threads` threads.
    fn restore_order(&mut self, threads: usize) {
        let per = self.buckets.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|s| {
            for part in self.buckets.chunks_mut(per) {
                s.spawn(|| part.iter_mut().for_each(|b| b.sort_unstable()));
            }
        });
    }

    fn unfile(&mut self, id: TemplateId) -> Result<(), IndexError> {
        let slot = self.by_id.remove(&id).ok_or(IndexError::NotFound(id))?;
        if let Some(entry) = self.slots.get_mut(slot as usize).and_then(Option::take) {
            let mut keys: Vec<u32> = match Template::from_bytes(&entry.encoded) {
                Ok(t) => Filing::pairs(&t).into_iter().map(|(k, _)| k).collect(),
                Err(_) => (0..self.buckets.len() as u32).collect(),
            };
            keys.dedup();
            for k in keys {
                let bucket = &mut self.buckets[k as usize];
                let before = bucket.len();
                bucket.retain(|&e| e & MAX_SLOTS != slot);
                self.entries -= before - bucket.len();
            }
        }
        self.free.push(slot);
        Ok(())
    }
}
