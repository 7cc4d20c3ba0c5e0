//! The facility the load bench runs, written on disk as an appliance holds it after years of use,
//! before the appliance starts: the lanes' layout and configuration, the register (people and their
//! sealed templates) and the ledger that registered and enrolled them.
//!
//! It owns the bench's choices of who is where: the movers (people who pass lanes during the run,
//! enrolled from synthetic images, probed with later impressions of the same fingers) and the
//! distractors (people registered and enrolled with ten fingers each from the template-level
//! generator, who stay in their cell blocks). It does not run anything; `drive` does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use tally::clock::Clock;
use tally::config::Config;
use tally::fingerprint::extract;
use tally::fingerprint::synth::{self, ImpressionSettings, Master};
use tally::fingerprint::template::Template;
use tally::ledger::Ledger;
use tally::ledger::entry::{Boot, Enrolment, Event, Registration};
use tally::parallel;
use tally::people::Category;
use tally::people::vault::{Vault, template_context};
use tally::store::people::{NewPerson, NewTemplate};
use tally::store::{Open, Store};
use tally_device::Image;

/// Seed of the movers' synthetic fingers (images).
const MOVER_SEED: u64 = 0x10ad;
/// Seed of the strangers' synthetic fingers (images of fingers nobody enrolled).
const STRANGER_SEED: u64 = 0x5742;
/// Strangers' fingers made, presented in turn.
const STRANGERS: u64 = 16;
/// Seed of the distractors' synthetic templates.
const DISTRACTOR_SEED: u64 = 0xd157;
/// The secure channel key of every simulated controller.
pub const OSDP_KEY: &str = "00112233445566778899aabbccddeeff";
/// Fingers enrolled per distractor, as a reception enrols them.
const DISTRACTOR_FINGERS: u8 = 10;
/// The finger movers enrol and present (ISO 2, right index).
const MOVER_FINGER: u8 = 2;
/// What the enrolment route requires of a capture (src/api/people.rs).
const MIN_QUALITY: u8 = 20;
const MIN_MINUTIAE: usize = 12;
/// Events appended to the ledger per transaction while registering.
const LEDGER_BATCH: usize = 2000;
/// Whoever the setup's entries name as the officer.
const OFFICER: &str = "bench.setup";
/// Family names of the register (searched by the API clients).
pub const FAMILIES: [&str; 12] = [
    "Mbuyi",
    "Kabongo",
    "Ilunga",
    "Tshibanda",
    "Kasongo",
    "Mukendi",
    "Kalala",
    "Ngoy",
    "Banza",
    "Lukusa",
    "Mwamba",
    "Kayembe",
];
const GIVEN: [&str; 8] = ["Jean", "Grace", "Patrick", "Esther", "Didier", "Aline", "Joseph", "Chantal"];

/// One lane as the bench lays it out.
#[derive(Debug, Clone)]
pub struct LaneSpec {
    pub id: String,
    pub from_zone: String,
    pub to_zone: String,
    /// Index of the OSDP bus (pseudo-terminal) its controller is on.
    pub bus: usize,
    /// The controller's OSDP address on that bus.
    pub address: u8,
    /// Which pair of lanes it belongs to.
    pub pair: usize,
    /// 0: from the pair's first zone to its second; 1: back.
    pub direction: usize,
}

/// Zones and lanes: lanes come in pairs between two zones, one each way. Pair 0 is the outer gate
/// (outside ↔ yard), for staff; pair k ≥ 1 is yard ↔ block k, for inmates.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The facility's zones (the outside is not one).
    pub zones: Vec<String>,
    /// Each pair's two zones.
    pub pairs: Vec<[String; 2]>,
    pub lanes: Vec<LaneSpec>,
    pub buses: usize,
}

pub const OUTSIDE: &str = "outside";
const YARD: &str = "yard";

impl Layout {
    pub fn new(lanes: usize, buses: usize) -> Layout {
        let pairs: Vec<[String; 2]> = (0..lanes / 2)
            .map(|p| match p {
                0 => [OUTSIDE.to_string(), YARD.to_string()],
                _ => [YARD.to_string(), format!("block-{}", char::from(b'a' + (p - 1) as u8))],
            })
            .collect();
        let mut zones = vec![YARD.to_string()];
        zones.extend(pairs.iter().skip(1).map(|[_, block]| block.clone()));
        let mut specs = Vec::new();
        for (p, [a, b]) in pairs.iter().enumerate() {
            let name = if p == 0 { "gate".to_string() } else { b.clone() };
            for (direction, (from, to, way)) in [(a, b, "in"), (b, a, "out")].into_iter().enumerate() {
                let index = specs.len();
                let bus = index * buses / lanes;
                let first_on_bus = (0..index).filter(|&i| i * buses / lanes == bus).count();
                specs.push(LaneSpec {
                    id: format!("{name}-{way}"),
                    from_zone: from.clone(),
                    to_zone: to.clone(),
                    bus,
                    address: first_on_bus as u8 + 1,
                    pair: p,
                    direction,
                });
            }
        }
        Layout { zones, pairs, lanes: specs, buses }
    }

    /// The configuration: every lane with a simulated reader and its controller on its bus's
    /// pseudo-terminal (`ports[bus]`), hard anti-passback, the default access rules.
    pub fn config(&self, dir: &Path, ports: &[String], key_file: &Path) -> Result<Config, String> {
        let mut text = format!(
            "data_dir = \"{}\"\n[facility]\nid = \"bench\"\nname = \"Load bench\"\n[appliance]\nid = \"gate-1\"\n\
             [access]\nanti_passback = \"hard\"\n",
            dir.display()
        );
        for zone in &self.zones {
            text += &format!("[[zone]]\nid = \"{zone}\"\n");
        }
        for lane in &self.lanes {
            text += &format!(
                "[[lane]]\nid = \"{}\"\nfrom_zone = \"{}\"\nto_zone = \"{}\"\nreader = \"simulated\"\n\
                 turnstile_port = \"{}\"\nturnstile_address = {}\nscbk_file = \"{}\"\npulse_ms = 1000\n\
                 passage_timeout_s = 5\n",
                lane.id,
                lane.from_zone,
                lane.to_zone,
                ports[lane.bus],
                lane.address,
                key_file.display()
            );
        }
        Config::parse(Path::new("gate_load.toml"), &text).map_err(|e| format!("the bench configuration: {e}"))
    }

    /// Where a pair's side is, as the census says it (`None`: outside).
    pub fn zone_of(&self, pair: usize, side: usize) -> Option<&str> {
        Some(self.pairs[pair][side].as_str()).filter(|z| *z != OUTSIDE)
    }
}

/// A person who passes lanes during the run.
#[derive(Debug)]
pub struct Mover {
    pub id: String,
    /// The pair of lanes they pass through, and the side they start on.
    pub pair: usize,
    pub side: usize,
    /// Later impressions of the enrolled finger, presented in turn.
    pub probes: Vec<Image>,
    /// The first probe extracted, for the reference measurement.
    pub probe_template: Template,
    /// Which probe is presented next.
    pub next_probe: AtomicUsize,
}

/// What the setup wrote.
#[derive(Debug)]
pub struct Site {
    pub movers: Vec<Arc<Mover>>,
    /// Impressions of fingers nobody enrolled.
    pub strangers: Vec<Image>,
    pub distractors: usize,
    pub templates: usize,
    /// People per zone after the setup (the outside not counted).
    pub initial: BTreeMap<String, u64>,
    /// The ledger's size before the appliance's boot entry.
    pub setup_entries: u64,
    pub timings: Vec<(&'static str, Duration)>,
}

/// How many movers, distractors and templates.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub templates: usize,
    pub movers: usize,
    pub probes: usize,
}

fn name(i: usize) -> (String, String) {
    (GIVEN[i % GIVEN.len()].to_string(), FAMILIES[(i / GIVEN.len()) % FAMILIES.len()].to_string())
}

fn person(id: &str, category: Category, i: usize) -> NewPerson {
    let (given_names, family_name) = name(i);
    NewPerson { id: id.into(), category, given_names, family_name, date_of_birth: None, national_id: None }
}

/// A mover's enrolment template and probe images: master finger `index`, impression 0 enrolled,
/// impressions 1..=probes presented. `None` when the enrolment capture is too poor to enrol.
fn mover_finger(index: u64, probes: usize) -> Option<(Template, Vec<Image>, Template)> {
    let settings = ImpressionSettings { variability: 0.5, ..ImpressionSettings::default() };
    let master = Master::generate(MOVER_SEED, index);
    let enrolled = extract::extract(&master.impression(0, &settings)).ok()?;
    if enrolled.quality < MIN_QUALITY || enrolled.minutiae.len() < MIN_MINUTIAE {
        return None;
    }
    let mut images = Vec::with_capacity(probes);
    let mut probe = None;
    for n in 1..=probes as u64 {
        let gray = master.impression(n, &settings);
        if probe.is_none() {
            probe = Some(extract::extract(&gray).ok()?);
        }
        images.push(Image::new(gray.width, gray.height, gray.dpi as u16, gray.pixels).ok()?);
    }
    let probe = probe?;
    Some((enrolled, images, probe))
}

/// Writes the register and the ledger in `dir`, where the ledger is created, and records the boot.
/// Returns the ledger, ready for the writer.
pub fn build(
    dir: &Path,
    layout: &Layout,
    sizes: Sizes,
    clock: Arc<dyn Clock>,
    progress: &dyn Fn(&str),
) -> Result<(Site, Ledger), String> {
    let mut timings = Vec::new();
    let cores = parallel::cores();
    let pairs = layout.pairs.len();

    progress(&format!(
        "growing {} movers' fingers ({} probe impressions each) on {cores} cores",
        sizes.movers, sizes.probes
    ));
    let started = Instant::now();
    let indexes: Vec<usize> = (0..sizes.movers).collect();
    let grown = parallel::map(&indexes, cores, |&i| {
        // A finger whose enrolment capture is too poor is replaced, as an officer asks for another.
        (0..5u64).find_map(|attempt| mover_finger(i as u64 + attempt * 1_000_000, sizes.probes))
    });
    let mut movers = Vec::with_capacity(sizes.movers);
    let mut mover_templates = Vec::with_capacity(sizes.movers);
    for (i, g) in grown.into_iter().enumerate() {
        let (enrolled, probes, probe_template) =
            g.ok_or_else(|| format!("mover {i}: no enrolable synthetic finger"))?;
        let pair = i % pairs;
        let id = if pair == 0 { format!("S-{i:04}") } else { format!("P-{i:04}") };
        // Half of each pair's movers start on each side, so both lanes have people from the start.
        let side = (i / pairs) % 2;
        mover_templates.push(enrolled);
        movers.push(Arc::new(Mover { id, pair, side, probes, probe_template, next_probe: AtomicUsize::new(0) }));
    }
    let strangers: Vec<u64> = (0..STRANGERS).collect();
    let strangers = parallel::map(&strangers, cores, |&i| {
        let settings = ImpressionSettings { variability: 0.5, ..ImpressionSettings::default() };
        let gray = Master::generate(STRANGER_SEED, i).impression(1, &settings);
        Image::new(gray.width, gray.height, gray.dpi as u16, gray.pixels)
    });
    let strangers = strangers.into_iter().collect::<Result<Vec<_>, _>>().map_err(|e| format!("a stranger: {e}"))?;
    timings.push(("movers' fingers grown, enrolled and probed, strangers' made (images)", started.elapsed()));

    let distractor_templates = sizes.templates - sizes.movers;
    let per = usize::from(DISTRACTOR_FINGERS);
    let distractors = distractor_templates.div_ceil(per);
    progress(&format!("making {distractor_templates} distractor templates of {distractors} people, sealed"));
    let started = Instant::now();
    let vault = Vault::open_or_create(dir).map_err(|e| format!("the template key: {e}"))?;
    let now = tally::clock::rfc3339(clock.wall());
    let ids: Vec<String> = (0..distractors).map(|d| format!("D-{d:05}")).collect();
    let js: Vec<usize> = (0..distractor_templates).collect();
    let sealed = parallel::map(&js, cores, |&j| {
        let t = synth::templates::finger(DISTRACTOR_SEED, j as u64);
        let finger = (j % per) as u8 + 1;
        let id = &ids[j / per];
        vault.seal(&template_context(id, finger), &t.to_bytes()).map(|s| NewTemplate {
            person: id.clone(),
            finger,
            duress: false,
            quality: t.quality,
            sealed: s,
            created: now.clone(),
        })
    });
    let mut templates = sealed.into_iter().collect::<Result<Vec<_>, _>>().map_err(|e| format!("sealing: {e}"))?;
    for (m, t) in movers.iter().zip(&mover_templates) {
        let sealed = vault.seal(&template_context(&m.id, MOVER_FINGER), &t.to_bytes()).map_err(|e| e.to_string())?;
        templates.push(NewTemplate {
            person: m.id.clone(),
            finger: MOVER_FINGER,
            duress: false,
            quality: t.quality,
            sealed,
            created: now.clone(),
        });
    }
    timings.push(("distractor templates made and every template sealed", started.elapsed()));

    progress("writing the register and the ledger");
    let started = Instant::now();
    let mut ledger = Ledger::create(dir, "bench", "gate-1", clock.clone()).map_err(|e| format!("the ledger: {e}"))?;
    let mut people: Vec<NewPerson> = ids.iter().enumerate().map(|(d, id)| person(id, Category::Inmate, d)).collect();
    for (i, m) in movers.iter().enumerate() {
        let category = if m.pair == 0 { Category::Staff } else { Category::Inmate };
        people.push(person(&m.id, category, i));
    }
    let mut store = Store::open(dir, Open::MustExist).map_err(|e| format!("the store: {e}"))?;
    store.people_import(&people, &templates, &now).map_err(|e| format!("importing the register: {e}"))?;
    drop(store);
    drop(templates);

    // Distractors live in the facility's zones, spread evenly; movers where their side is.
    let mut initial: BTreeMap<String, u64> = layout.zones.iter().map(|z| (z.clone(), 0)).collect();
    let mut events = Vec::with_capacity(2 * people.len());
    for (d, id) in ids.iter().enumerate() {
        let zone = layout.zones[d % layout.zones.len()].clone();
        *initial.entry(zone.clone()).or_default() += 1;
        let fingers = (1..=DISTRACTOR_FINGERS).filter(|f| d * per + usize::from(*f) <= distractor_templates).collect();
        events.push(registration(id, Category::Inmate, Some(zone)));
        events.push(Event::Enrolment(Enrolment { fingers, officer: OFFICER.into(), person: id.clone() }));
    }
    for m in &movers {
        let zone = layout.zone_of(m.pair, m.side).map(str::to_string);
        if let Some(z) = &zone {
            *initial.entry(z.clone()).or_default() += 1;
        }
        let category = if m.pair == 0 { Category::Staff } else { Category::Inmate };
        events.push(registration(&m.id, category, zone));
        events.push(Event::Enrolment(Enrolment {
            fingers: vec![MOVER_FINGER],
            officer: OFFICER.into(),
            person: m.id.clone(),
        }));
    }
    for chunk in events.chunks(LEDGER_BATCH) {
        ledger.append(chunk.to_vec()).map_err(|e| format!("registering in the ledger: {e}"))?;
    }
    let setup_entries = ledger.size().map_err(|e| e.to_string())?;
    let software = format!("tally {} (gate_load bench)", env!("CARGO_PKG_VERSION"));
    ledger
        .append(vec![Event::Boot(Boot { software, clean_start: true })])
        .map_err(|e| format!("recording the boot: {e}"))?;
    timings.push(("register imported, registrations and enrolments appended", started.elapsed()));

    let site = Site { movers, strangers, distractors, templates: sizes.templates, initial, setup_entries, timings };
    Ok((site, ledger))
}

fn registration(id: &str, category: Category, zone: Option<String>) -> Event {
    Event::Registration(Registration {
        category: category.as_str().into(),
        officer: OFFICER.into(),
        person: id.into(),
        zone,
    })
}
