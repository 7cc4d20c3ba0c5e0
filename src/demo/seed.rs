//! Writes the synthetic prison of [`super::plan`] into a new data directory, through the functions the
//! API uses: identity fields into the store ([`Store::people_import`]), each person's portrait
//! ([`super::portrait`]) sealed with [`photo_context`] and stored with [`Store::photo_set`] as
//! `PUT /api/v1/people/{id}/photo` does, the sealed templates ([`Vault::seal`] with
//! [`template_context`]), then the `registration`, `enrolment` and `status_change` entries into the
//! ledger. As in the API, the store is written first and the ledger after it, so that no entry names a
//! person the register lacks; here the people are one store transaction, the templates another and the
//! ledger a few appends, not hundreds of requests. Photos are identity data kept in the store only: the
//! ledger never names them, as it never names a photo the API sets. The store's import takes no photos,
//! so each is its own durable commit; a run cut short anywhere before the manifest is refused as a
//! whole ([`super::prepare`]).
//!
//! Templates are made on every core ([`crate::parallel::map`]) while one more thread draws, seals and
//! stores the portraits (their cost is mostly waiting for the disk, which the fingers' arithmetic
//! hides). A finger from an image is grown, impressed and extracted like any capture, and held to the
//! enrolment route's quality floor ([`MIN_ENROL_QUALITY`], [`MIN_ENROL_MINUTIAE`]) — a poor impression
//! is taken again, as an officer would ask for the finger again. The duplicate search the API also
//! makes is skipped: every synthetic finger is a different finger by construction.

use std::path::Path;
use std::time::{Duration, Instant};

use super::DemoError;
use super::plan::{PersonPlan, Prison, Source};
use super::portrait;
use crate::clock::{Clock, rfc3339};
use crate::fingerprint::synth::{ImpressionSettings, Master, templates};
use crate::fingerprint::template::Template;
use crate::ledger::Ledger;
use crate::ledger::entry::{Enrolment, Event, Registration, StatusChange};
use crate::people::vault::{Vault, photo_context, template_context};
use crate::people::{MIN_ENROL_MINUTIAE, MIN_ENROL_QUALITY};
use crate::store::people::{NewPerson, NewTemplate};
use crate::store::{Open, Store};

/// The token name that registrations and enrolments name as their officer.
pub const ENROLLER: &str = "demo-enroller";
/// The token name that status changes and roll-calls name as their officer.
pub const SUPERVISOR: &str = "demo-supervisor";
/// Impressions tried before a finger is left out.
const TRIES: u64 = 4;
/// Events per ledger append.
const EVENTS_PER_APPEND: usize = 256;

/// How the impressions of the demo's fingers vary: half the default, as a cooperative person at a
/// clean reader gives them.
pub fn impression_settings() -> ImpressionSettings {
    ImpressionSettings { variability: 0.5, ..ImpressionSettings::default() }
}

/// Impression `index` of master finger `master` under `seed`.
pub fn impression(seed: u64, master: u64, index: u64) -> crate::fingerprint::image::GrayImage {
    Master::generate(seed, master).impression(index, &impression_settings())
}

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// People registered.
    pub people: usize,
    /// Fingers enrolled.
    pub fingers: usize,
    /// Of which extracted from synthetic images.
    pub from_images: usize,
    /// Fingers left out because no impression was good enough.
    pub left_out: usize,
    /// Portraits stored, one a person.
    pub photos: usize,
    /// Their total size in bytes, before sealing.
    pub photo_bytes: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// One finger to make.
struct Job {
    person: usize,
    position: u8,
    source: Source,
}

/// The template of one planned finger, or `None` when no impression passes the enrolment floor.
fn make(seed: u64, source: Source) -> Option<Template> {
    match source {
        Source::Template { index } => Some(templates::finger(seed, index)),
        Source::Image { master } => {
            let m = Master::generate(seed, master);
            (0..TRIES).find_map(|k| {
                // Impression 0 first; the lanes are shown impressions from 1 on.
                let index = if k == 0 { 0 } else { 10_000 + k };
                let t = crate::fingerprint::extract::extract(&m.impression(index, &impression_settings())).ok()?;
                (t.quality >= MIN_ENROL_QUALITY && t.minutiae.len() >= MIN_ENROL_MINUTIAE).then_some(t)
            })
        }
    }
}

/// Registers and enrols `prison` in the data directory of `ledger` (a new ledger, with no person yet).
pub fn seed(ledger: &mut Ledger, dir: &Path, prison: &Prison, clock: &dyn Clock) -> Result<Seeded, DemoError> {
    let started = Instant::now();
    let jobs: Vec<Job> = prison
        .people
        .iter()
        .enumerate()
        .flat_map(|(person, p)| p.fingers.iter().map(move |f| Job { person, position: f.position, source: f.source }))
        .collect();
    let vault = Vault::open_or_create(dir)?;
    let now = rfc3339(clock.wall());
    let people: Vec<NewPerson> = prison.people.iter().map(new_person).collect();
    let mut store = Store::open(dir, Open::MustExist)?;
    store.people_import(&people, &[], &now)?;
    // The fingers keep every core busy; the portraits are drawn and stored meanwhile on one more
    // thread (see the module docs).
    let (made, stored) = std::thread::scope(|s| {
        let photos = s.spawn(|| store_portraits(&mut store, &vault, prison, &now));
        let made = crate::parallel::map(&jobs, crate::parallel::cores(), |job| make(prison.seed, job.source));
        (made, photos.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let (photos, photo_bytes) = stored?;

    let mut kept: Vec<Vec<u8>> = vec![Vec::new(); prison.people.len()];
    let mut new_templates = Vec::with_capacity(jobs.len());
    let (mut from_images, mut left_out) = (0, 0);
    for (job, template) in jobs.iter().zip(made) {
        let Some(template) = template else {
            left_out += 1;
            continue;
        };
        let person = &prison.people[job.person];
        let sealed = vault.seal(&template_context(&person.id, job.position), &template.to_bytes())?;
        new_templates.push(NewTemplate {
            person: person.id.clone(),
            finger: job.position,
            duress: false,
            quality: template.quality,
            sealed,
            created: now.clone(),
        });
        kept[job.person].push(job.position);
        from_images += usize::from(matches!(job.source, Source::Image { .. }));
    }
    store.people_import(&[], &new_templates, &now)?;
    drop(store);

    let mut events = Vec::with_capacity(prison.people.len() * 3);
    for (p, fingers) in prison.people.iter().zip(&kept) {
        events.push(Event::Registration(Registration {
            category: p.category.as_str().into(),
            officer: ENROLLER.into(),
            person: p.id.clone(),
            zone: p.zone.map(str::to_owned),
        }));
        if !fingers.is_empty() {
            events.push(Event::Enrolment(Enrolment {
                fingers: fingers.clone(),
                officer: ENROLLER.into(),
                person: p.id.clone(),
            }));
        }
        if let Some(c) = p.change {
            events.push(Event::StatusChange(StatusChange {
                from: c.from.as_str().into(),
                officer: SUPERVISOR.into(),
                person: p.id.clone(),
                reason: c.reason.into(),
                to: c.to.as_str().into(),
            }));
        }
    }
    while !events.is_empty() {
        let rest = events.split_off(events.len().min(EVENTS_PER_APPEND));
        ledger.append(std::mem::replace(&mut events, rest))?;
    }
    Ok(Seeded {
        people: prison.people.len(),
        fingers: new_templates.len(),
        from_images,
        left_out,
        photos,
        photo_bytes,
        elapsed: started.elapsed(),
    })
}

/// Draws each person's portrait, seals it for that person and stores it, as the API's photo route
/// does; returns how many and their size in bytes before sealing.
fn store_portraits(store: &mut Store, vault: &Vault, prison: &Prison, now: &str) -> Result<(usize, usize), DemoError> {
    let mut bytes = 0;
    for person in &prison.people {
        let png = portrait::png(prison.seed, person)?;
        bytes += png.len();
        let sealed = vault.seal(&photo_context(&person.id), &png)?;
        if !store.photo_set(&person.id, &sealed, now)? {
            return Err(DemoError::Vanished(person.id.clone()));
        }
    }
    Ok((prison.people.len(), bytes))
}

fn new_person(p: &PersonPlan) -> NewPerson {
    NewPerson {
        id: p.id.clone(),
        category: p.category,
        given_names: p.given_names.clone(),
        family_name: p.family_name.clone(),
        date_of_birth: p.date_of_birth.clone(),
        national_id: None,
    }
}
