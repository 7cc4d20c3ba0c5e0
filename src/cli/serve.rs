//! `tally serve`: opens (or on first start creates) the ledger, records the boot, serves the API (with
//! the retention rule's task when `[retention]` is set), and on SIGINT or SIGTERM finishes the requests
//! in flight and records the shutdown. With `[offsite] dir` set, it also writes the scheduled off-site
//! copies ([`tally::offsite::schedule`]); with `[[peer]]`s, it runs the facility sync ([`tally::peers`]).
//!
//! Under systemd (`Type=notify`, `WatchdogSec=`) it says READY=1 once the lanes run and the API listens,
//! WATCHDOG=1 after each round trip through the ledger writer (so a writer that hangs gets the service
//! restarted), and STOPPING=1 when it begins to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tracing::info;

use super::Ctx;
use tally::api::{self, AppState, writer::Writer};
use tally::ledger::entry::{Boot, Event};
use tally::ledger::{Ledger, LedgerError};

/// How often the writer compares the wall clock with the monotonic clock.
const CLOCK_CHECK: Duration = Duration::from_secs(10);

/// Has the writer compare the wall clock with the monotonic clock every [`CLOCK_CHECK`], so that a
/// clock set forward or back is recorded as a `clock_change` entry; abort the task to stop it.
pub(super) fn clock_checks(writer: Writer) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CLOCK_CHECK);
        loop {
            every.tick().await;
            writer.check_clock().await;
        }
    })
}

pub fn run(ctx: Ctx, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let notifier = std::sync::Arc::new(super::notify::Notifier::from_env());
    let stop = stop_signal(&runtime)?;
    let cfg = &ctx.config;
    let dir = cfg.data_dir.clone();
    let mut ledger = match Ledger::open(&dir, ctx.clock.clone()) {
        Ok(l) => {
            l.check_identity(cfg.facility_id.as_deref(), cfg.appliance_id.as_deref())?;
            l
        }
        Err(LedgerError::Missing(_)) => {
            let l =
                Ledger::create(&dir, &cfg.facility_id_or_default(), &cfg.appliance_id_or_default(), ctx.clock.clone())?;
            info!(origin = %l.identity().origin, dir = %dir.display(), "created a new ledger");
            l
        }
        Err(e) => {
            return Err(e).with_context(|| format!("opening the ledger in {}", dir.display()));
        }
    };
    // The witness key exists from the first start, so that `tally ledger peer-keys` can print it before
    // any peer is configured.
    let witness =
        tally::peers::witness(&dir, &ledger.identity().origin).context("reading or making the witness key")?;
    let clean_start = ledger.reader()?.last_run_ended_cleanly()?;
    let software = format!("tally {}", env!("CARGO_PKG_VERSION"));
    ledger.append(vec![Event::Boot(Boot { software, clean_start })]).context("recording the boot")?;
    info!(origin = %ledger.identity().origin, clean_start, "ledger open");

    let (writer, writer_thread) = Writer::spawn(ledger, dir.clone(), ctx.clock.clone())?;
    runtime.block_on(async {
        let addr = listen.unwrap_or(cfg.listen);
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        info!(addr = %local, "API listening");
        // A line on stdout for supervisors and tests that start tally on port 0.
        outln!("listening on {local}");
        let ticker = clock_checks(writer.clone());
        let offsite = tally::offsite::schedule::spawn(&cfg.offsite, dir.clone(), writer.clone(), ctx.clock.clone());
        let (facility, gate) = tally::app::start(cfg, ctx.clock.clone(), &writer).context("starting the appliance")?;
        // Retention: at start, every hour, and soon after a purge from the command line.
        let retention = cfg.retention.is_set().then(|| {
            use tally::people::retention::purge;
            let census = facility.census.clone();
            let catch_up = move || {
                if let Err(e) = census.catch_up() {
                    tracing::error!(cause = %e, "the census cannot follow the ledger");
                }
            };
            let (gallery, clock) = (facility.gallery.clone(), ctx.clock.clone());
            purge::spawn(dir.clone(), clock, cfg.retention, gallery, purge::Schedule::default(), Arc::new(catch_up))
        });
        // The facility sync, when peers are configured; it never touches the lanes.
        let peers = tally::peers::Sync::new(cfg, witness, ctx.clock.clone())
            .context("starting the facility sync")?
            .map(|sync| {
                info!(peers = cfg.peers.len(), every_s = cfg.sync_every.as_secs(), "facility sync started");
                sync.spawn(writer.clone())
            });
        let watchdog = notifier.watchdog_interval().map(|every| {
            let (writer, notifier) = (writer.clone(), notifier.clone());
            tokio::spawn(watchdog(writer, notifier, every))
        });
        notifier.notify("READY=1");
        api::serve(listener, AppState::new(writer.clone(), dir.clone(), std::sync::Arc::new(facility)), stop).await?;
        notifier.notify("STOPPING=1");
        if let Some(w) = watchdog {
            w.abort();
        }
        if let Some(gate) = gate {
            gate.stop();
        }
        ticker.abort();
        if let Some(o) = offsite {
            o.abort();
        }
        if let Some(p) = peers {
            p.abort();
        }
        if let Some(r) = retention {
            r.stop().await;
        }
        writer.shutdown("signal").await.context("recording the shutdown")?;
        anyhow::Ok(())
    })?;
    drop(runtime);
    writer_thread.join().map_err(|_| anyhow::anyhow!("the ledger writer panicked"))?;
    info!("stopped");
    Ok(())
}

/// The origin of the ledger in `dir`; the witness key is made (at the first start) under its name.
/// Pings systemd's watchdog every `every`, each time after an empty append has gone through the ledger
/// writer and come back (its answer, even a refusal, shows the writer thread is alive); stops pinging
/// when the writer thread has ended.
async fn watchdog(writer: Writer, notifier: std::sync::Arc<super::notify::Notifier>, every: Duration) {
    let sizes = writer.sizes();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let _answered = writer.append(Vec::new()).await;
        if sizes.has_changed().is_err() {
            tracing::error!("the ledger writer has stopped; no more watchdog pings");
            return;
        }
        notifier.notify("WATCHDOG=1");
    }
}

/// Takes over SIGINT and SIGTERM, before anything else happens, and resolves when one arrives. A signal
/// that comes while the ledger is still opening is kept and stops the service as soon as it serves.
pub(super) fn stop_signal(
    runtime: &tokio::runtime::Runtime,
) -> std::io::Result<impl std::future::Future<Output = ()> + use<>> {
    use tokio::signal::unix::{SignalKind, signal};
    let _in_runtime = runtime.enter();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        info!("stopping");
    })
}
