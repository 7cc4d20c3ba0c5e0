//! The gallery: the identification index together with whom each indexed template belongs to, so that
//! an identification answers with people (the best of each person's fingers) rather than template ids.
//!
//! It owns the map from template id (the store's row id) to owner, and loading every stored template
//! into the index at start-up, opening each with the vault. It does not match (the index does), decide
//! (the gate's policy does), nor write the store: enrolment stores a template, then inserts it here.
//! Templates stored or deleted by another process (an import, a purge) are brought in by
//! [`Gallery::reload_person`], which the service runs for every `enrolment` and `templates_deleted`
//! entry it folds, so that the gallery holds what the store holds without a restart.
//! A stored template that does not open or decode is skipped and counted, never fatal, so that one bad
//! row cannot keep a gate from starting; the caller reports the count.

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::vault::{Vault, VaultError, template_context};
use crate::fingerprint::index::{Index, IndexConfig, IndexError, TemplateId};
use crate::fingerprint::template::{Template, TemplateError};
use crate::store::people::StoredTemplate;
use crate::store::{Store, StoreError};

/// Stored templates opened, decoded and filed together during [`Gallery::load`]: enough to keep every
/// core busy, few enough that the plaintexts of one batch are all that is held beside the index.
const LOAD_BATCH: usize = 2048;
/// Skipped templates logged one by one during a load; the rest are only counted.
const LOGGED_SKIPS: u64 = 10;

/// Whose an indexed template is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Person id.
    pub person: String,
    /// ISO finger position, 1 to 10.
    pub finger: u8,
    /// Whether presenting this finger signals duress.
    pub duress: bool,
}

/// One person found by [`Gallery::identify`], through their best-matching finger.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The template that matched (the store's row id).
    pub template: u64,
    /// Person id.
    pub person: String,
    /// ISO finger position of that template.
    pub finger: u8,
    /// Whether that finger signals duress.
    pub duress: bool,
    /// The matcher's score, `[0, 1]`.
    pub score: f32,
    /// The false match rate the score stands for.
    pub fmr: f64,
}

/// What [`Gallery::load`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Templates indexed.
    pub loaded: u64,
    /// Stored templates left out because they did not open with the vault's key and their context, or
    /// did not decode. When every template is skipped, the key file is most likely not the one they
    /// were sealed with.
    pub skipped: u64,
}

/// Errors of loading the gallery.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// The templates could not be read.
    #[error("cannot read the stored templates")]
    Store(#[from] StoreError),
    /// The index refused a template.
    #[error("cannot index the stored templates")]
    Index(#[from] IndexError),
}

/// What [`Gallery::reload_person`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Templates indexed.
    pub added: u64,
    /// Templates removed from the index.
    pub removed: u64,
    /// Stored templates that did not open or decode.
    pub skipped: u64,
}

/// Why one stored template was left out of a load.
#[derive(Debug, thiserror::Error)]
enum Skip {
    /// Its row id is negative, which no index id can name.
    #[error("negative row id")]
    Id,
    /// It does not open.
    #[error("does not open")]
    Vault(#[source] VaultError),
    /// It opens but does not decode.
    #[error("does not decode")]
    Template(#[source] TemplateError),
}

/// The identification index with each template's owner. Shared by every lane: all methods take `&self`.
pub struct Gallery {
    index: Index,
    /// Owner of each indexed template. A std lock: it is held only to read or change the map, never
    /// across a wait. A template is indexed before its owner is recorded and forgotten after it is
    /// unindexed, so an identification racing an enrolment may miss a template, never misname it.
    owners: RwLock<HashMap<u64, Owner>>,
    /// Threads for opening and decoding during a load.
    threads: usize,
}

/// Written by hand: counts only (the index holds biometric data).
impl std::fmt::Debug for Gallery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gallery").field("templates", &self.index.len()).field("owners", &self.owners().len()).finish()
    }
}

impl Gallery {
    /// An empty gallery.
    pub fn new(config: IndexConfig) -> Gallery {
        Gallery { index: Index::new(config), owners: RwLock::new(HashMap::new()), threads: config.threads.max(1) }
    }

    /// Indexes `template` as `template_id`, belonging to `owner`. Refused with
    /// [`IndexError::Duplicate`] when the id is indexed already.
    pub fn insert(&self, template_id: u64, owner: Owner, template: &Template) -> Result<(), IndexError> {
        self.index.insert(TemplateId(template_id), template)?;
        self.owners_mut().insert(template_id, owner);
        Ok(())
    }

    /// [`Gallery::insert`] for a template just stored and recorded: when the follower
    /// ([`super::sync`]) has indexed it already from its `enrolment` entry, it is left as it is. A row id
    /// names one stored template, so the same id indexed for the same owner (or being indexed, its owner
    /// not yet filed) is that template; indexed for another owner, it is refused as a duplicate.
    pub fn insert_enrolled(&self, template_id: u64, owner: Owner, template: &Template) -> Result<(), IndexError> {
        match self.insert(template_id, owner.clone(), template) {
            Err(IndexError::Duplicate(_)) if self.owner(template_id).is_none_or(|o| o == owner) => Ok(()),
            done => done,
        }
    }

    /// Removes a template; [`IndexError::NotFound`] when it is not indexed.
    pub fn remove(&self, template_id: u64) -> Result<(), IndexError> {
        self.index.remove(TemplateId(template_id))?;
        self.owners_mut().remove(&template_id);
        Ok(())
    }

    /// Removes every template of the given people (one pass over the owners); returns how many. What
    /// the retention rule uses once their templates are deleted from the store, so that they can no
    /// longer be identified.
    pub fn remove_people(&self, people: &HashSet<&str>) -> usize {
        if people.is_empty() {
            return 0;
        }
        let ids: Vec<u64> =
            self.owners().iter().filter(|(_, o)| people.contains(o.person.as_str())).map(|(id, _)| *id).collect();
        // A template removed meanwhile by someone else is not an error: it is gone either way.
        ids.into_iter().filter(|id| self.remove(*id).is_ok()).count()
    }

    /// Templates indexed.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no template is indexed.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The owner of an indexed template.
    pub fn owner(&self, template_id: u64) -> Option<Owner> {
        self.owners().get(&template_id).cloned()
    }

    /// The best matches, at most one per person (the best of their fingers), best first, at most `max`
    /// people.
    pub fn identify(&self, probe: &Template, max: usize) -> Result<Vec<Match>, IndexError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // Every candidate of the short list: several may be one person's fingers.
        let candidates = self.index.identify(probe, usize::MAX)?;
        let owners = self.owners();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for c in candidates {
            let Some(owner) = owners.get(&c.id.0) else { continue };
            if !seen.insert(owner.person.as_str()) {
                continue;
            }
            out.push(Match {
                template: c.id.0,
                person: owner.person.clone(),
                finger: owner.finger,
                duress: owner.duress,
                score: c.score,
                fmr: c.fmr,
            });
            if out.len() == max {
                break;
            }
        }
        Ok(out)
    }

    /// Loads every stored template: opens each with the vault in its context
    /// ([`template_context`]), decodes it and indexes it, in batches on every core. A template that does
    /// not open or decode is skipped, logged (the first few) and counted; a store or index failure stops
    /// the load.
    pub fn load(store: &Store, vault: &Vault, config: IndexConfig) -> Result<(Gallery, LoadReport), GalleryError> {
        let gallery = Gallery::new(config);
        let mut report = LoadReport::default();
        let mut batch = Vec::with_capacity(LOAD_BATCH);
        store.templates_each(|t| -> Result<(), GalleryError> {
            batch.push(t);
            if batch.len() == LOAD_BATCH {
                gallery.load_batch(vault, &mut batch, &mut report)?;
            }
            Ok(())
        })?;
        gallery.load_batch(vault, &mut batch, &mut report)?;
        gallery.index.shrink_to_fit();
        Ok((gallery, report))
    }

    /// Opens, decodes and indexes `batch`, leaving it empty.
    fn load_batch(
        &self,
        vault: &Vault,
        batch: &mut Vec<StoredTemplate>,
        report: &mut LoadReport,
    ) -> Result<(), IndexError> {
        let opened = crate::parallel::map(batch, self.threads, |t| -> Result<(TemplateId, Vec<u8>), Skip> {
            let id = u64::try_from(t.id).map_err(|_| Skip::Id)?;
            let plain = vault.open_sealed(&template_context(&t.person, t.finger), &t.sealed).map_err(Skip::Vault)?;
            Template::from_bytes(&plain).map_err(Skip::Template)?;
            Ok((TemplateId(id), plain))
        });
        let mut encoded = Vec::with_capacity(batch.len());
        let mut owners = Vec::with_capacity(batch.len());
        for (t, opened) in batch.drain(..).zip(opened) {
            match opened {
                Ok(e) => {
                    owners.push((e.0.0, Owner { person: t.person, finger: t.finger, duress: t.duress }));
                    encoded.push(e);
                }
                Err(cause) => {
                    report.skipped += 1;
                    if report.skipped <= LOGGED_SKIPS {
                        let (template, person, finger) = (t.id, &t.person, t.finger);
                        tracing::warn!(template, %person, finger, %cause, "stored template skipped");
                    }
                }
            }
        }
        self.index.extend_encoded(&encoded)?;
        report.loaded += encoded.len() as u64;
        self.owners_mut().extend(owners);
        Ok(())
    }

    /// Makes the gallery hold exactly `person`'s stored templates: removes what the store no longer
    /// holds (or holds for another finger), opens and indexes what it holds and the gallery lacks.
    /// Idempotent; a template that does not open or decode is left out and counted, as at load.
    pub fn reload_person(&self, store: &Store, vault: &Vault, person: &str) -> Result<Reloaded, GalleryError> {
        let stored = store.templates_sealed_of(person)?;
        let wanted: HashMap<u64, Owner> = stored
            .iter()
            .filter_map(|t| {
                let id = u64::try_from(t.id).ok()?;
                Some((id, Owner { person: t.person.clone(), finger: t.finger, duress: t.duress }))
            })
            .collect();
        let mut done = Reloaded::default();
        let stale: Vec<u64> = self
            .owners()
            .iter()
            .filter(|(id, o)| o.person == person && wanted.get(id) != Some(o))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.remove(id)?;
            done.removed += 1;
        }
        let mut missing: Vec<StoredTemplate> = stored
            .into_iter()
            .filter(|t| u64::try_from(t.id).is_ok_and(|id| self.owner(id).as_ref() != wanted.get(&id)))
            .collect();
        // An id the store gave again after deleting its last row may still be indexed for someone else.
        for t in &missing {
            if let Ok(id) = u64::try_from(t.id)
                && self.owner(id).is_some()
            {
                self.remove(id)?;
            }
        }
        let mut report = LoadReport::default();
        self.load_batch(vault, &mut missing, &mut report)?;
        done.added = report.loaded;
        done.skipped = report.skipped;
        Ok(done)
    }

    fn owners(&self) -> RwLockReadGuard<'_, HashMap<u64, Owner>> {
        // Nothing panics while holding the lock, and each change is one map operation, so a poisoned
        // lock still guards a consistent map.
        self.owners.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn owners_mut(&self) -> RwLockWriteGuard<'_, HashMap<u64, Owner>> {
        self.owners.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::synth::templates::{finger, impression};
    use crate::people::Category;
    use crate::people::vault::template_context;
    use crate::store::Open;
    use crate::store::people::{NewPerson, NewTemplate};

    const SEED: u64 = 7;
    const T0: &str = "2026-01-01T00:00:00.000Z";

    fn config() -> IndexConfig {
        IndexConfig { shortlist: 32, threads: 2 }
    }

    /// Person `p`'s finger `f` (1 or 2) as a synthetic master.
    fn master(p: u64, f: u8) -> Template {
        finger(SEED, p * 2 + u64::from(f))
    }

    fn owner(p: &str, finger: u8) -> Owner {
        Owner { person: p.into(), finger, duress: false }
    }

    /// Six people with fingers 1 and 2 enrolled (impression 0 of each master), in a store on disk.
    fn enrol(dir: &std::path::Path, vault: &Vault) -> Store {
        let mut store = Store::open(dir, Open::CreateIfMissing).unwrap();
        for p in 0..6u64 {
            let id = format!("P{p}");
            store
                .person_insert(
                    &NewPerson {
                        id: id.clone(),
                        category: Category::Inmate,
                        given_names: "Given".into(),
                        family_name: format!("Family {p}"),
                        date_of_birth: None,
                        national_id: None,
                    },
                    T0,
                )
                .unwrap();
            for f in 1..=2u8 {
                let t = impression(&master(p, f), SEED, 0);
                let sealed = vault.seal(&template_context(&id, f), &t.to_bytes()).unwrap();
                let nt = NewTemplate {
                    person: id.clone(),
                    finger: f,
                    duress: f == 2,
                    quality: t.quality,
                    sealed,
                    created: T0.into(),
                };
                store.template_insert(&nt).unwrap();
            }
        }
        store
    }

    #[test]
    fn loads_from_disk_and_names_one_match_per_person() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open_or_create(dir.path()).unwrap();
        drop(enrol(dir.path(), &vault));

        let store = Store::open(dir.path(), Open::MustExist).unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let (gallery, report) = Gallery::load(&store, &vault, config()).unwrap();
        assert_eq!(report, LoadReport { loaded: 12, skipped: 0 });
        assert_eq!(gallery.len(), 12);

        // A second impression of P3's finger 2.
        let probe = impression(&master(3, 2), SEED, 1);
        let found = gallery.identify(&probe, 10).unwrap();
        let first = &found[0];
        assert_eq!((first.person.as_str(), first.finger, first.duress), ("P3", 2, true));
        assert!(first.score > 0.0 && first.fmr < 1e-3, "{first:?}");
        let people: HashSet<&str> = found.iter().map(|m| m.person.as_str()).collect();
        assert_eq!(people.len(), found.len(), "one match per person: {found:?}");
        assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(gallery.identify(&probe, 1).unwrap().len(), 1);
        assert!(gallery.identify(&probe, 0).unwrap().is_empty());
        assert_eq!(gallery.owner(first.template), Some(Owner { person: "P3".into(), finger: 2, duress: true }));
    }

    #[test]
    fn a_template_that_does_not_open_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open_or_create(dir.path()).unwrap();
        let mut store = enrol(dir.path(), &vault);
        store
            .person_insert(
                &NewPerson {
                    id: "P9".into(),
                    category: Category::Staff,
                    given_names: "G".into(),
                    family_name: "F".into(),
                    date_of_birth: None,
                    national_id: None,
                },
                T0,
            )
            .unwrap();
        let t = master(9, 1).to_bytes();
        let row = |finger: u8, sealed: Vec<u8>| NewTemplate {
            person: "P9".into(),
            finger,
            duress: false,
            quality: 50,
            sealed,
            created: T0.into(),
        };
        // A tampered blob, a blob sealed for another row, and a sealed blob that is not a template.
        let mut tampered = vault.seal(&template_context("P9", 1), &t).unwrap();
        tampered[20] ^= 0x40;
        store.template_insert(&row(1, tampered)).unwrap();
        store.template_insert(&row(2, vault.seal(&template_context("P0", 1), &t).unwrap())).unwrap();
        store.template_insert(&row(3, vault.seal(&template_context("P9", 3), b"not a template").unwrap())).unwrap();
        store.template_insert(&row(4, vault.seal(&template_context("P9", 4), &t).unwrap())).unwrap();

        let (gallery, report) = Gallery::load(&store, &vault, config()).unwrap();
        assert_eq!(report, LoadReport { loaded: 13, skipped: 3 });
        assert_eq!(gallery.len(), 13);

        // Another key opens nothing.
        let other = tempfile::tempdir().unwrap();
        let (empty, report) = Gallery::load(&store, &Vault::open_or_create(other.path()).unwrap(), config()).unwrap();
        assert_eq!((report, empty.len()), (LoadReport { loaded: 0, skipped: 16 }, 0));
    }

    #[test]
    fn insertions_and_removals_keep_owners_in_step() {
        let g = Gallery::new(config());
        assert!(g.is_empty());
        let (a, b) = (master(0, 1), master(1, 1));
        g.insert(1, owner("A", 1), &a).unwrap();
        g.insert(2, owner("B", 1), &b).unwrap();
        assert_eq!(g.insert(1, owner("X", 9), &b), Err(IndexError::Duplicate(TemplateId(1))));
        assert_eq!(g.insert_enrolled(1, owner("A", 1), &a), Ok(()), "already indexed by the follower");
        assert_eq!(g.insert_enrolled(1, owner("X", 9), &b), Err(IndexError::Duplicate(TemplateId(1))));
        assert_eq!(g.owner(1), Some(owner("A", 1)));
        assert_eq!(format!("{g:?}"), "Gallery { templates: 2, owners: 2 }");

        let probe = impression(&a, SEED, 1);
        assert_eq!(g.identify(&probe, 5).unwrap()[0].person, "A");
        g.remove(1).unwrap();
        assert_eq!(g.remove(1), Err(IndexError::NotFound(TemplateId(1))));
        assert_eq!(g.owner(1), None);
        assert!(g.identify(&probe, 5).unwrap().iter().all(|m| m.person != "A"));
        assert_eq!(g.len(), 1);

        g.insert(3, owner("B", 2), &a).unwrap();
        g.insert(4, owner("C", 1), &master(2, 1)).unwrap();
        assert_eq!(g.remove_people(&HashSet::from(["B", "nobody"])), 2);
        assert_eq!((g.len(), g.owner(4)), (1, Some(owner("C", 1))));
        assert_eq!(g.remove_people(&HashSet::new()), 0);
    }

    #[test]
    fn reloading_a_person_follows_what_another_process_stored_or_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open_or_create(dir.path()).unwrap();
        let mut store = enrol(dir.path(), &vault);
        let gallery = Gallery::new(config());
        let probe = impression(&master(3, 1), SEED, 1);
        assert!(gallery.identify(&probe, 1).unwrap().is_empty());

        // Stored by another process (an import) after the gallery loaded: brought in, once.
        let first = gallery.reload_person(&store, &vault, "P3").unwrap();
        assert_eq!(first, Reloaded { added: 2, removed: 0, skipped: 0 });
        assert_eq!(gallery.reload_person(&store, &vault, "P3").unwrap(), Reloaded::default());
        assert_eq!(gallery.identify(&probe, 1).unwrap()[0].person, "P3");

        // Finger 1 deleted (a purge): removed, finger 2 kept.
        let finger1 = store.templates_of("P3").unwrap()[0].id;
        assert!(store.template_delete(finger1).unwrap());
        assert_eq!(gallery.reload_person(&store, &vault, "P3").unwrap(), Reloaded { added: 0, removed: 1, skipped: 0 });
        assert_eq!(gallery.len(), 1);
        assert!(gallery.identify(&probe, 5).unwrap().iter().all(|m| m.person != "P3" || m.finger != 1));

        // Everything deleted: nothing of P3 is left to identify. Others are untouched.
        let finger2 = store.templates_of("P3").unwrap()[0].id;
        store.template_delete(finger2).unwrap();
        gallery.reload_person(&store, &vault, "P4").unwrap();
        assert_eq!(gallery.reload_person(&store, &vault, "P3").unwrap().removed, 1);
        assert_eq!(gallery.len(), 2);
        assert!(gallery.identify(&probe, 5).unwrap().iter().all(|m| m.person != "P3"));
    }
}
