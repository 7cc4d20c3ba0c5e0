//! A whole appliance under load, on loopback only, for a bounded time: 8 lanes identifying at once
//! against 100,000 templates while the API is queried. It reports throughput and latency, and checks
//! that nothing was lost, against the ledger, the controllers and the census.
//!
//! ```text
//! cargo bench --bench gate_load                                   # 100,000 templates, 8 lanes, 60 s
//! cargo bench --bench gate_load -- --templates 10000 --seconds 20
//! ```
//!
//! Options (after `--`): `--templates N` (100000), `--lanes L` (8, even: lanes come in pairs),
//! `--seconds S` (60), `--people P` (200 movers), `--probes K` (2 impressions per mover),
//! `--buses B` (OSDP buses the controllers are spread over, 2), `--api-clients C` (2), `--api-pause-ms M`
//! (25, between one client's requests), `--reference-seconds R` (4, before and after the run),
//! `--stranger-every N` (20: every 20th touch at a lane is a finger nobody enrolled; 0: none).
//!
//! What it sets up, in a temporary directory (`site`): lanes in pairs between two zones, one each
//! way (the outer gate outside ↔ yard for staff, then yard ↔ block a, b, c for inmates), hard
//! anti-passback; a register of distractor inmates with ten fingers each from the template-level
//! generator, registered and enrolled in the ledger and living in the zones, and of `P` movers
//! enrolled from a synthetic image of one finger; the template key and the sealed templates; then the
//! appliance is started as `tally serve` starts it (`appliance`), so the gallery is loaded from the
//! sealed store exactly as at boot. The controllers are simulated on pseudo-terminals and reached
//! through the real OSDP ACU with the secure channel.
//!
//! What it runs: one driver thread per lane (`drive`), touching the lane's reader with later
//! impressions of the movers' fingers and walking them through, now and then with a stranger's
//! finger that must be refused; and API clients (`clients`) polling
//! the headcount, the lanes, a search of the register and the alarms. Beside it, before and after,
//! the bare engine on one core against the same gallery, so that the lanes' rate can be read as a
//! share of what the engine does on this machine now (it is shared and noisy).
//!
//! What it checks (`audit`), exiting nonzero if any check fails: every touch has exactly one grant
//! or denial entry; every pulse a grant that was durable before the release was seen; every passage
//! tripped its `passage` entry; no grant left without its passage or timeout; the census's headcount
//! is the drivers' own count, and the ledger folded again gives the same; no alarm but the
//! controllers coming online; nobody refused but for a probe that did not match (or that the engine
//! took for someone else, which is reported as a false identification); every API request answered.
//! A grant naming someone else than the toucher is not walked through: the lane times it out (5 s).

// A crate root finds its modules beside it: these live in gate_load/.
#[path = "gate_load/appliance.rs"]
mod appliance;
#[path = "gate_load/audit.rs"]
mod audit;
#[path = "gate_load/clients.rs"]
mod clients;
#[path = "gate_load/drive.rs"]
mod drive;
#[path = "pin.rs"]
mod pin;
#[path = "gate_load/site.rs"]
mod site;

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tally::census::Census;
use tally::clock::{Clock, SystemClock};
use tally::ledger::LedgerReader;
use tally::ledger::entry::Entry;
use tally::store::{Open, Store};

use appliance::Appliance;
use clients::{ApiLog, ROUTES, Reference};
use drive::{Book, Drive, LaneLog, Outcome};
use site::{Layout, Sizes};

const REPRODUCE: &str = "cargo bench --bench gate_load";

/// The run, validated.
#[derive(Debug, Clone)]
struct Settings {
    templates: usize,
    lanes: usize,
    seconds: f64,
    people: usize,
    probes: usize,
    buses: usize,
    api_clients: usize,
    api_pause: Duration,
    reference_seconds: f64,
    stranger_every: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            templates: 100_000,
            lanes: 8,
            seconds: 60.0,
            people: 200,
            probes: 2,
            buses: 2,
            api_clients: 2,
            api_pause: Duration::from_millis(25),
            reference_seconds: 4.0,
            stranger_every: 20,
        }
    }
}

/// Reads `--name value` pairs (and ignores the `--bench` cargo passes), then checks them together.
fn settings(args: impl Iterator<Item = String>) -> Result<Settings, String> {
    let mut s = Settings::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        if arg == "--bench" {
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        let number = || value.parse::<f64>().map_err(|_| format!("{arg}: {value:?} is not a number"));
        let count = || value.parse::<usize>().map_err(|_| format!("{arg}: {value:?} is not a count"));
        match arg.as_str() {
            "--templates" => s.templates = count()?,
            "--lanes" => s.lanes = count()?,
            "--seconds" => s.seconds = number()?,
            "--people" => s.people = count()?,
            "--probes" => s.probes = count()?,
            "--buses" => s.buses = count()?,
            "--api-clients" => s.api_clients = count()?,
            "--api-pause-ms" => s.api_pause = Duration::from_millis(count()? as u64),
            "--reference-seconds" => s.reference_seconds = number()?,
            "--stranger-every" => s.stranger_every = count()?,
            other => return Err(format!("unknown option {other} (see the top of tests/bench/gate_load.rs)")),
        }
    }
    if s.lanes < 2 || s.lanes > 16 || s.lanes % 2 != 0 {
        return Err("--lanes: an even number from 2 to 16 (lanes come in pairs, one each way)".into());
    }
    if s.people < 2 * s.lanes {
        return Err(format!("--people: at least {} (two movers per lane)", 2 * s.lanes));
    }
    if s.templates < s.people {
        return Err("--templates: at least one per mover".into());
    }
    if !(1..=s.lanes).contains(&s.buses) {
        return Err("--buses: from 1 to the number of lanes".into());
    }
    let seconds_ok = s.seconds > 0.0 && s.seconds <= 3600.0;
    let reference_ok = s.reference_seconds.is_finite() && s.reference_seconds >= 0.0;
    if s.probes == 0 || !seconds_ok || !reference_ok {
        return Err("--probes at least 1, --seconds up to 3600, --reference-seconds not negative".into());
    }
    Ok(s)
}

fn main() -> ExitCode {
    let settings = match settings(std::env::args().skip(1)) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("gate_load: {why}");
            return ExitCode::from(2);
        }
    };
    match run(&settings) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            eprintln!("gate_load: {why}");
            ExitCode::from(2)
        }
    }
}

fn progress(what: &str) {
    eprintln!("gate_load: {what}");
}

/// A memory figure of this process from /proc/self/status (`VmRSS`, `VmHWM`), in MiB.
fn memory(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time this process has used, user and system (from /proc/self/stat, in USER_HZ = 100 ticks).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: the fields after it start after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The machine's load average over the last minute (others' work included: it is shared).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Sets up, runs, checks and reports; `Ok(false)` when a check failed.
fn run(s: &Settings) -> Result<bool, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let layout = Layout::new(s.lanes, s.buses);
    let controllers = appliance::controllers(&layout)?;
    let ports: Vec<String> = controllers.iter().map(|c| c.path().to_string()).collect();
    let config = layout.config(&dir, &ports, &appliance::key_file(&dir)?)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());

    let sizes = Sizes { templates: s.templates, movers: s.people, probes: s.probes };
    let (site, ledger) = site::build(&dir, &layout, sizes, clock.clone(), &progress)?;
    let token = {
        let mut store = Store::open(&dir, Open::MustExist).map_err(|e| e.to_string())?;
        let now = tally::clock::rfc3339(clock.wall());
        let (secret, _) =
            tally::auth::create(&mut store, "bench.api", "supervisor", &now).map_err(|e| e.to_string())?;
        secret.expose().to_owned()
    };

    progress("starting the appliance (gallery loaded from the sealed store)");
    let (app, boot) = Appliance::start(&config, ledger, clock)?;
    let rss_booted = memory("VmRSS:");
    let fold = {
        let t0 = Instant::now();
        tally::census::live::LiveCensus::load(&dir, tally::app::empty_census(&config)).map_err(|e| e.to_string())?;
        t0.elapsed()
    };
    app.ready(Duration::from_secs(30))?;

    progress(&format!("reference: the bare engine on one core, {} s", s.reference_seconds));
    let gallery = app.facility.gallery.clone();
    let before = clients::reference(gallery.clone(), &site.movers, s.reference_seconds);
    let named = clients::strangers_best(gallery.clone(), &site.strangers);

    progress(&format!("{} lanes and {} API clients for {} s", s.lanes, s.api_clients, s.seconds));
    let fingers = app.fingers();
    let buses: Vec<_> = controllers.iter().map(|c| c.handle.clone()).collect();
    let book = Book::new(&site.movers, layout.pairs.len());
    let drive = Drive {
        layout: &layout,
        movers: &site.movers,
        book: &book,
        facility: &app.facility,
        runtime: &app.handle,
        fingers: &fingers,
        buses: &buses,
        dir: &dir,
        strangers: &site.strangers,
        stranger_every: s.stranger_every,
    };
    let started = Instant::now();
    let cpu_before = cpu_time();
    let stop_at = started + Duration::from_secs_f64(s.seconds);
    let (logs, api): (Vec<LaneLog>, Vec<ApiLog>) = std::thread::scope(|scope| {
        let drive = &drive;
        let lanes: Vec<_> = (0..s.lanes).map(|l| scope.spawn(move || drive.lane(l, stop_at))).collect();
        let queries: Vec<_> = (0..s.api_clients)
            .map(|n| {
                let (base, token) = (&app.base, &token);
                scope.spawn(move || clients::api_client(base, token, n, s.api_pause, stop_at))
            })
            .collect();
        // A thread that panicked leaves an empty log, which the checks then find wanting.
        (
            lanes.into_iter().map(|h| h.join().unwrap_or_default()).collect(),
            queries.into_iter().map(|h| h.join().unwrap_or_default()).collect(),
        )
    });
    let wall = started.elapsed();
    let cpu = cpu_before.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
    let load = load_average();

    progress("settling: every lane idle, the census caught up");
    let settled = app.settle(Duration::from_secs(30));
    let live = app.facility.census.read(Census::headcount);
    let pulses: Vec<usize> =
        layout.lanes.iter().map(|l| buses[l.bus].with(l.address, |c| c.outputs().len()).unwrap_or(0)).collect();
    progress(&format!("reference again, {} s", s.reference_seconds));
    let after = clients::reference(gallery.clone(), &site.movers, s.reference_seconds);
    let gallery_len = gallery.len();
    drop(gallery);
    app.stop()?;
    drop(controllers);
    settled?;

    // The ledger alone, read back after the stop: the run's entries, and the census folded again.
    let mut reader = LedgerReader::open(&dir).map_err(|e| e.to_string())?;
    let (size, _) = reader.latest_checkpoint().map_err(|e| e.to_string())?;
    let mut rebuilt = tally::app::empty_census(&config);
    let mut entries = Vec::new();
    let mut from = 0;
    while from < size {
        for bytes in reader.entries(from, 4096).map_err(|e| e.to_string())? {
            let entry = Entry::parse(&bytes).map_err(|e| format!("entry {from}: {e}"))?;
            rebuilt.apply(&entry).map_err(|e| e.to_string())?;
            if entry.stamp.seq >= site.setup_entries {
                entries.push(entry);
            }
            from += 1;
        }
    }
    let evidence = audit::Evidence {
        layout: &layout,
        logs: &logs,
        entries: &entries,
        pulses: &pulses,
        initial: &site.initial,
        live: &live,
        rebuilt: &rebuilt.headcount(),
        api: &api,
    };
    let checks = audit::checks(&evidence);

    let figures = Figures {
        settings: s,
        site: &site,
        gallery: gallery_len,
        boot,
        fold,
        rss_booted,
        peak: memory("VmHWM:"),
        logs: &logs,
        layout: &layout,
        api: &api,
        wall,
        cpu,
        load,
        reference: [before, after],
        named: &named,
        entries: entries.len(),
    };
    report(&figures, &checks);
    Ok(checks.iter().all(|c| c.ok))
}

/// What the report is made of.
struct Figures<'a> {
    settings: &'a Settings,
    site: &'a site::Site,
    gallery: usize,
    boot: Duration,
    fold: Duration,
    rss_booted: Option<f64>,
    peak: Option<f64>,
    logs: &'a [LaneLog],
    layout: &'a Layout,
    api: &'a [ApiLog],
    wall: Duration,
    /// CPU time the process used during the run (drivers and clients included).
    cpu: Option<Duration>,
    load: Option<f64>,
    reference: [Reference; 2],
    /// Whom the bare engine names for each stranger's finger.
    named: &'a [Option<(String, f32, bool)>],
    entries: usize,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Median, 95th and 99th percentile and maximum of `v` (sorted here).
fn spread(v: &mut [Duration]) -> String {
    if v.is_empty() {
        return "—".into();
    }
    v.sort_unstable();
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    format!("{} / {} / {} / {}", ms(q(0.5)), ms(q(0.95)), ms(q(0.99)), ms(v[v.len() - 1]))
}

fn report(f: &Figures<'_>, checks: &[audit::Check]) {
    let s = f.settings;
    let touches: Vec<&drive::Touch> = f.logs.iter().flat_map(|l| &l.touches).collect();
    let decided = touches.iter().filter(|t| !matches!(t.outcome, Outcome::Unanswered { .. })).count();
    let first = f.logs.iter().filter_map(|l| l.span.map(|s| s.0)).min();
    let last = f.logs.iter().filter_map(|l| l.span.map(|s| s.1)).max();
    let span = first.zip(last).map_or(Duration::ZERO, |(a, b)| b.duration_since(a)).max(Duration::from_millis(1));
    let per_s = |n: usize| n as f64 / span.as_secs_f64();
    let (mut release, mut denied, mut closed, mut folded) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut passages, mut wrong) = (0usize, 0usize);
    let strangers = touches.iter().filter(|t| t.mover.starts_with("stranger-")).count();
    // Touches where the lane named someone else than the toucher: (toucher, named, granted).
    let misnamed: Vec<(&str, &str, bool)> = touches
        .iter()
        .filter_map(|t| match &t.outcome {
            Outcome::Granted(g) if g.person != t.mover => Some((t.mover.as_str(), g.person.as_str(), true)),
            Outcome::Denied { person: Some(p), .. } if *p != t.mover => Some((t.mover.as_str(), p.as_str(), false)),
            _ => None,
        })
        .collect();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &touches {
        match &t.outcome {
            Outcome::Granted(g) => {
                release.push(g.release);
                wrong += usize::from(g.person != t.mover);
                if let Some(w) = g.walked {
                    passages += 1;
                    closed.push(w.closed);
                    folded.push(w.folded);
                }
            }
            Outcome::Denied { reason, after, .. } => {
                denied.push(*after);
                *reasons.entry(reason.as_str()).or_default() += 1;
            }
            Outcome::Unanswered { .. } => {}
        }
    }
    let [r0, r1] = f.reference;
    let engine = (r0.engine_per_s + r1.engine_per_s) / 2.0;
    let identify = (r0.identify_per_s + r1.identify_per_s) / 2.0;
    let mib = |m: Option<f64>| m.map_or("—".into(), |m| format!("{m:.0} MiB"));

    println!();
    println!("# gate_load: {} lanes against {} templates for {:.0} s", s.lanes, f.gallery, s.seconds);
    println!();
    println!("| setup | |");
    println!("|---|---|");
    println!(
        "| register | {} distractor inmates × 10 fingers (template-level generator), {} movers × 1 finger (from images); {} templates sealed |",
        f.site.distractors,
        f.site.movers.len(),
        f.site.templates
    );
    for (what, took) in &f.site.timings {
        println!("| {what} | {:.1} s |", took.as_secs_f64());
    }
    println!(
        "| boot (`tally::app::start`: key, gallery of {} loaded from the store, census, lanes) | {:.2} s |",
        f.gallery,
        f.boot.as_secs_f64()
    );
    println!(
        "| of which the census fold of {} entries (measured apart) | {:.2} s |",
        f.site.setup_entries,
        f.fold.as_secs_f64()
    );
    println!("| memory: RSS after boot / peak (VmHWM) | {} / {} |", mib(f.rss_booted), mib(f.peak));
    println!(
        "| controllers | {} on {} OSDP bus(es) (pseudo-terminals, secure channel) |",
        f.layout.lanes.len(),
        f.layout.buses
    );
    println!();
    println!("| run ({:.1} s from first touch to last decision) | |", span.as_secs_f64());
    println!("|---|---|");
    println!("| identifications (touches decided) | {decided} — {:.2}/s |", per_s(decided));
    println!("| passages | {passages} — {:.2}/s |", per_s(passages));
    println!("| of which strangers' fingers (must be refused) | {strangers} |");
    println!("| denials by reason | {reasons:?} |");
    println!("| grants naming someone else than the toucher | {wrong} |");
    let listed: Vec<String> = misnamed
        .iter()
        .take(12)
        .map(|(who, named, granted)| format!("{who} → {named}{}", if *granted { " (granted)" } else { "" }))
        .collect();
    println!("| touches named as someone else ({}; the first 12) | {} |", misnamed.len(), listed.join(", "));
    println!(
        "| touch → release (grant durable, pulse acknowledged): median / p95 / p99 / max | {} |",
        spread(&mut release)
    );
    println!("| touch → denial shown: median / p95 / p99 / max | {} |", spread(&mut denied));
    println!("| sensor tripped → lane idle: median / p95 / p99 / max | {} |", spread(&mut closed));
    println!("| sensor tripped → census shows the move: median / p95 / p99 / max | {} |", spread(&mut folded));
    println!("| ledger entries written during the run | {} |", f.entries);
    if let Some(cpu) = f.cpu {
        println!(
            "| CPU used by this process during the run (appliance, drivers, clients) | {:.1} s in {:.1} s: {:.2} of {} cores |",
            cpu.as_secs_f64(),
            f.wall.as_secs_f64(),
            cpu.as_secs_f64() / f.wall.as_secs_f64(),
            tally::parallel::cores()
        );
    }
    if let Some(load) = f.load {
        println!("| machine load average (1 min) at the end of the run, others' work included | {load:.1} |");
    }
    println!();
    println!("| lane | bus/address | touches | passages | per s | nobody waiting |");
    println!("|---|---|---|---|---|---|");
    for (spec, log) in f.layout.lanes.iter().zip(f.logs) {
        let walked =
            log.touches.iter().filter(|t| matches!(&t.outcome, Outcome::Granted(g) if g.walked.is_some())).count();
        println!(
            "| {} | {}/{} | {} | {walked} | {:.2} | {:.1} s |",
            spec.id,
            spec.bus,
            spec.address,
            log.touches.len(),
            per_s(log.touches.len()),
            log.nobody.as_secs_f64()
        );
    }
    println!();
    let mut by_route: HashMap<&str, Vec<Duration>> = HashMap::new();
    for log in f.api {
        for (route, v) in &log.ok {
            by_route.entry(route).or_default().extend(v);
        }
    }
    let requests: usize = by_route.values().map(Vec::len).sum();
    println!(
        "| API ({} clients, {} ms pause; {requests} answered, {:.1}/s) | median / p95 / p99 / max |",
        s.api_clients,
        s.api_pause.as_millis(),
        requests as f64 / f.wall.as_secs_f64()
    );
    println!("|---|---|");
    for route in ROUTES {
        let mut v = by_route.remove(route).unwrap_or_default();
        println!("| GET /api/v1/{route} ({}) | {} |", v.len(), spread(&mut v));
    }
    println!();
    println!("| reference: the bare engine on one core, same gallery, same process | before | after |");
    println!("|---|---|---|");
    println!(
        "| `Gallery::identify` on extracted probes, per s | {:.2} | {:.2} |",
        r0.identify_per_s, r1.identify_per_s
    );
    println!(
        "| `EngineIdentifier::identify` (extract + identify), per s | {:.2} | {:.2} |",
        r0.engine_per_s, r1.engine_per_s
    );
    println!(
        "| probes identified as their mover at the operating point | {:.1}% | {:.1}% |",
        r0.identified * 100.0,
        r1.identified * 100.0
    );
    println!(
        "| lanes' identifications per s as a share of the engine on one core (2 cores: ideally about 2) | {:.2} | |",
        per_s(decided) / engine.max(f64::MIN_POSITIVE)
    );
    println!(
        "| … as a share of the bare `Gallery::identify` on one core | {:.2} | |",
        per_s(decided) / identify.max(f64::MIN_POSITIVE)
    );
    let named: Vec<String> = f
        .named
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.as_ref().filter(|n| n.2).map(|(p, score, _)| format!("stranger-{i} → {p} ({score:.3})")))
        .collect();
    println!(
        "| strangers' fingers the bare engine names someone (false identifications at the operating point) | {} of {}: {} |",
        named.len(),
        f.named.len(),
        named.join(", ")
    );
    let fixed = clients::FIXED_THRESHOLD;
    let mut best: Vec<f32> = f.named.iter().flatten().map(|n| n.1).collect();
    best.sort_by(|a, b| b.total_cmp(a));
    let top: Vec<String> = best.iter().take(5).map(|s| format!("{s:.3}")).collect();
    println!(
        "| … at the fixed threshold {fixed:.4} (the highest calibration impostor), for comparison; best scores | {} of {}; {} |",
        best.iter().filter(|&&s| s >= fixed).count(),
        f.named.len(),
        top.join(", ")
    );
    if r0.cpu.is_none() || r1.cpu.is_none() {
        println!("(the reference could not pin itself to one CPU: it may have used more)");
    }
    println!();
    println!("## Nothing lost");
    println!();
    for c in checks {
        println!("- [{}] {}: {}", if c.ok { "ok" } else { "FAILED" }, c.what, c.detail);
    }
    println!();
    println!(
        "Reproduce: `{REPRODUCE} -- --templates {} --lanes {} --seconds {} --people {} --buses {} --stranger-every {}` ({} cores here).",
        s.templates,
        s.lanes,
        s.seconds,
        s.people,
        s.buses,
        s.stranger_every,
        tally::parallel::cores()
    );
}
