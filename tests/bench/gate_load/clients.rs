//! The load beside the lanes, and the yardstick beside the load.
//!
//! - [`api_client`]: a guard screen's worth of API traffic: the headcount, the lanes, a search of the
//!   register, the alarms, in turn, with a supervisor's token over keep-alive HTTP, each answer's
//!   status and latency recorded.
//! - [`reference`]: the bare engine on one core in the same process, against the same gallery: how
//!   many identifications per second `Gallery::identify` does on probes already extracted, and how
//!   many touches per second the lanes' own identifier (`EngineIdentifier`: extraction, then the
//!   gallery, then the operating point) manages. The lanes' rate is reported as a share of these, so
//!   that a figure taken on a busy machine still says something.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tally::fingerprint::extract::extract;
use tally::fingerprint::image::GrayImage;
use tally::fingerprint::matcher::CALIBRATION;
use tally::gate::operating_point::OperatingPoint;
use tally::gate::runner::{EngineIdentifier, Found, Identifier as _};
use tally::people::gallery::Gallery;

use super::pin::pin_to_one_core;
use super::site::{FAMILIES, Mover};

/// The routes a guard screen polls, by name.
pub const ROUTES: [&str; 4] = ["headcount", "lanes", "people?q=", "alarms"];

/// What one API client saw.
#[derive(Debug, Default)]
pub struct ApiLog {
    /// Latencies of answers with status 200, per route.
    pub ok: BTreeMap<&'static str, Vec<Duration>>,
    /// Anything else: route, status (0: no answer) and the start of the body.
    pub failed: Vec<(&'static str, u16, String)>,
}

/// Queries the API in turn until `stop_at`, pausing `pause` between requests. Client `n` starts at
/// route `n` and searches for its own names.
pub fn api_client(base: &str, token: &str, n: usize, pause: Duration, stop_at: Instant) -> ApiLog {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut log = ApiLog::default();
    let mut i = n;
    while Instant::now() < stop_at {
        let route = ROUTES[i % ROUTES.len()];
        let path = match route {
            "people?q=" => {
                // Family names (a few hundred people each), ids, and a name nobody has.
                let q = match (i / ROUTES.len()) % 4 {
                    0 | 1 => FAMILIES[(i / ROUTES.len()) % FAMILIES.len()].to_lowercase(),
                    2 => format!("D-0{}", i % 100),
                    _ => "nobody".to_string(),
                };
                format!("/api/v1/people?q={q}")
            }
            "alarms" => "/api/v1/alarms?limit=100".to_string(),
            other => format!("/api/v1/{other}"),
        };
        let started = Instant::now();
        let answer = agent.get(format!("{base}{path}")).header("Authorization", format!("Bearer {token}")).call();
        let took = started.elapsed();
        match answer {
            Ok(mut r) => {
                let status = r.status().as_u16();
                let body = r.body_mut().read_to_string().unwrap_or_default();
                let json = serde_json::from_str::<serde_json::Value>(&body).is_ok();
                if status == 200 && json {
                    log.ok.entry(route).or_default().push(took);
                } else {
                    log.failed.push((route, status, body.chars().take(200).collect()));
                }
            }
            Err(e) => log.failed.push((route, 0, e.to_string())),
        }
        i += 1;
        std::thread::sleep(pause);
    }
    log
}

/// The bare engine's rates on one core.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference {
    /// `Gallery::identify` calls per second on extracted probes.
    pub identify_per_s: f64,
    /// `EngineIdentifier::identify` (extract + identify + operating point) per second on images.
    pub engine_per_s: f64,
    /// Share of the extracted probes whose best match is their own person at the operating point.
    pub identified: f64,
    /// Which CPU it ran on (`None`: pinning failed, so "one core" is not assured).
    pub cpu: Option<usize>,
}

/// Measures [`Reference`] for about `seconds` in all, on a thread pinned to one core (the gallery's
/// own matching threads are started from it, so they share that core).
pub fn reference(gallery: Arc<Gallery>, movers: &[Arc<Mover>], seconds: f64) -> Reference {
    let movers: Vec<Arc<Mover>> = movers.to_vec();
    let measured = std::thread::Builder::new().name("reference".into()).spawn(move || {
        let cpu = pin_to_one_core();
        let half = Duration::from_secs_f64(seconds / 2.0);
        let (mut calls, mut right) = (0usize, 0usize);
        let op = OperatingPoint::default();
        let started = Instant::now();
        'identify: loop {
            for m in &movers {
                let found = gallery.identify(&m.probe_template, 1);
                calls += 1;
                let best = found.ok().and_then(|f| f.into_iter().next());
                right += usize::from(best.is_some_and(|b| b.person == m.id && op.accepts(b.score, gallery.len())));
                if started.elapsed() >= half {
                    break 'identify;
                }
            }
        }
        let identify = (calls as f64 / started.elapsed().as_secs_f64(), right as f64 / calls.max(1) as f64);
        let engine = EngineIdentifier { gallery: gallery.clone(), operating_point: OperatingPoint::default() };
        let mut touches = 0usize;
        let started = Instant::now();
        'engine: loop {
            for m in &movers {
                let found = engine.identify(m.probes[0].clone());
                black_box(matches!(found, Found::Person { .. }));
                touches += 1;
                if started.elapsed() >= half {
                    break 'engine;
                }
            }
        }
        Reference {
            identify_per_s: identify.0,
            engine_per_s: touches as f64 / started.elapsed().as_secs_f64(),
            identified: identify.1,
            cpu,
        }
    });
    match measured.map(|t| t.join()) {
        Ok(Ok(r)) => r,
        _ => Reference::default(),
    }
}

/// The threshold the gate used before it took the gallery's size into account: the highest impostor
/// score of the calibration set.
pub const FIXED_THRESHOLD: f32 = CALIBRATION[CALIBRATION.len() - 1].0;

/// The best candidate the bare engine finds for each stranger's finger (fingers nobody enrolled):
/// the person, the score, and whether the operating point takes it (a false identification).
pub fn strangers_best(gallery: Arc<Gallery>, strangers: &[tally_device::Image]) -> Vec<Option<(String, f32, bool)>> {
    let op = OperatingPoint::default();
    strangers
        .iter()
        .map(|image| {
            let gray = GrayImage::from_raw(image.pixels.clone(), image.width, image.height, u32::from(image.dpi))
                .ok()?
                .to_500dpi();
            let probe = extract(&gray).ok()?;
            let best = gallery.identify(&probe, 1).ok()?.into_iter().next()?;
            let taken = op.accepts(best.score, gallery.len());
            Some((best.person, best.score, taken))
        })
        .collect()
}
