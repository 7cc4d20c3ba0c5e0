//! `tally demo`: the whole appliance on simulated devices and a synthetic prison, with no hardware and
//! no configuration. It seeds the prison (or finds it in a data directory used before), starts two
//! OSDP controllers on a pseudo-terminal and the appliance as `tally serve` does, prints the URL and a
//! token for each role once, then tells the gate traffic and the shift-change roll-call line by line
//! until SIGINT or SIGTERM, when it stops like `serve` (the `shutdown` entry written). What the demo
//! plays is [`tally::demo`]'s; this module validates the arguments, puts the parts together and prints,
//! and chooses the demo's default log filter ([`DEFAULT_LOG`], read by `main`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tracing::info;

use super::Ctx;
use tally::api::{self, AppState, writer::Writer};
use tally::clock::rfc3339;
use tally::demo::{self, MANIFEST, Running};
use tally_osdp::pd::SimConfig;
use tally_osdp::pd::pty::PtyPd;

/// The log filter of `tally demo` when `TALLY_LOG` is not set: warnings only. The demo tells its story
/// on standard output, and the service's own log lines (on standard error, `info` for other commands)
/// would interleave with it on the terminal; `TALLY_LOG=info` brings them back.
const DEFAULT_LOG: &str = "warn";

impl super::Args {
    /// The log filter to use when `TALLY_LOG` is not set, when the command has one of its own
    /// ([`DEFAULT_LOG`] for the demo); `None` for the others.
    pub(crate) fn default_log(&self) -> Option<&'static str> {
        matches!(self.command, super::Command::Demo(_)).then_some(DEFAULT_LOG)
    }
}

/// Where the demo listens unless told otherwise (a free port when it is taken).
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address to listen on [default: 127.0.0.1:8080, or a free port if it is taken].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Seed of the synthetic prison: names, fingers, who is where.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// People in the synthetic prison (20 to 5000).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(20..=5000))]
    people: u32,
    /// Seconds from the start to the shift-change roll-call of block A.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    rollcall_after: u64,
}

/// A new directory of mode 0700 under the system's temporary directory.
fn temporary_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    let base = std::env::temp_dir();
    for n in 0..1000 {
        let dir = base.join(format!("tally-demo-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    anyhow::bail!("no free name for a temporary directory in {}", base.display())
}

/// Binds `listen`, or the default address and, when that is taken, a free port.
async fn bind(listen: Option<SocketAddr>) -> anyhow::Result<tokio::net::TcpListener> {
    if let Some(addr) = listen {
        return tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"));
    }
    match tokio::net::TcpListener::bind(DEFAULT_LISTEN).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            outln!("{DEFAULT_LISTEN} is taken: listening on a free port instead");
            tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding a free port on 127.0.0.1")
        }
        Err(e) => Err(e).with_context(|| format!("binding {DEFAULT_LISTEN}")),
    }
}

pub fn run(ctx: Ctx, data_dir: Option<PathBuf>, config_given: bool, args: DemoArgs) -> anyhow::Result<()> {
    if config_given {
        anyhow::bail!("tally demo builds its own configuration: run it without --config");
    }
    let (dir, temporary) = match data_dir {
        Some(d) => (d, false),
        None => (temporary_dir()?, true),
    };
    let result = run_in(&ctx, &dir, temporary, &args);
    if temporary {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => outln!("removed {}", dir.display()),
            Err(e) => eprintln!("tally: could not remove {}: {e}", dir.display()),
        }
    }
    result
}

fn run_in(ctx: &Ctx, dir: &Path, temporary: bool, args: &DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let stop = super::serve::stop_signal(&runtime)?;
    let clock = ctx.clock.clone();
    outln!("tally demo: a synthetic prison on simulated readers and turnstiles (no hardware; nobody in it is real)");
    outln!();
    let keep = if temporary { "temporary: removed when the demo stops; --data-dir DIR keeps it" } else { "kept" };
    outln!("  data       {} ({keep})", dir.display());
    if !dir.join(MANIFEST).exists() {
        outln!("  prison     seeding {} people on {} cores…", args.people, tally::parallel::cores());
    }
    let software = format!("tally {}", env!("CARGO_PKG_VERSION"));
    let prepared = demo::prepare(dir, args.seed, args.people as usize, &software, clock.clone())
        .with_context(|| format!("preparing the demo in {}", dir.display()))?;
    let prison = Arc::new(prepared.prison);
    match &prepared.seeded {
        None => outln!(
            "  prison     found from an earlier run ({} people, seed {}): taken up where the ledger left it",
            prison.people.len(),
            prison.seed
        ),
        Some(s) => {
            use tally::people::Category;
            outln!(
                "  prison     {} seeded in {:.1} s: {} inmates, {} staff, {} visitors; {} fingers enrolled, {} of them \
             extracted from synthetic images{}",
                demo::FACILITY_NAME,
                s.elapsed.as_secs_f64(),
                prison.count(Category::Inmate),
                prison.count(Category::Staff),
                prison.count(Category::Visitor),
                s.fingers,
                s.from_images,
                if s.left_out > 0 { format!(" ({} poor impressions left out)", s.left_out) } else { String::new() },
            );
            outln!(
                "  photos     a synthetic portrait of each of the {} ({} KB on average)",
                s.photos,
                s.photo_bytes / s.photos.max(1) / 1000
            );
        }
    }

    let (key_file, key) = demo::controller_key(dir)?;
    let pd = PtyPd::start(vec![SimConfig::secure(1, key.clone()), SimConfig::secure(2, key)])
        .context("starting the simulated turnstile controllers")?;
    let config = demo::config(dir, pd.path(), &key_file)?;
    let (writer, writer_thread) = Writer::spawn(prepared.ledger, dir.to_owned(), clock.clone())?;
    let tokens = demo::issue_tokens(dir, &rfc3339(clock.wall()))?;

    runtime.block_on(async {
        let listener = bind(args.listen).await?;
        let local = listener.local_addr()?;
        info!(addr = %local, "API listening");
        let ticker = super::serve::clock_checks(writer.clone());
        let (facility, gate) = tally::app::start(&config, clock.clone(), &writer).context("starting the appliance")?;
        let facility = Arc::new(facility);
        let fingers = gate.as_ref().map(|g| g.fingers.clone()).unwrap_or_default();
        let lanes: Vec<String> =
            config.lanes.iter().map(|l| format!("{} ({} → {})", l.id, l.from_zone, l.to_zone)).collect();
        outln!(
            "  lanes      {}: simulated readers; OSDP controllers 1 and 2 on {} (secure channel)",
            lanes.join(", "),
            pd.path()
        );
        outln!();
        outln!("  URL        http://{local}");
        outln!("  tokens     (send as  Authorization: Bearer <token>)");
        for (role, secret) in &tokens {
            outln!("    {role:<11} {}", secret.expose());
        }
        outln!();
        outln!("  pages      open the URL, sign in with a token: the guard's gate screens (/gate/main-gate,");
        outln!("             /gate/block-a-door), the headcount board (/headcount, any token), the roll-call");
        outln!("             (/rollcall, supervisor), people and enrolment (/people, enroller), the ledger (/ledger, auditor)");
        outln!("  try        curl -H 'Authorization: Bearer <supervisor token>' http://{local}/api/v1/headcount");
        outln!(
            "  then       gate traffic every 2–4 s; shift-change roll-call of block A in {} s; Ctrl-C stops",
            args.rollcall_after
        );
        if std::env::var_os("TALLY_LOG").is_none() {
            outln!("  log        the service's own log shows warnings only here; TALLY_LOG=info for all of it");
        }
        outln!();

        let (api_stop, api_stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(writer.clone(), dir.to_owned(), facility.clone());
        let mut server = tokio::spawn(api::serve(listener, state, async move {
            let _ = api_stopped.await;
        }));
        let running = Running {
            facility,
            writer: writer.clone(),
            prison,
            fingers,
            turnstiles: pd.handle.clone(),
            rollcall_after: Duration::from_secs(args.rollcall_after),
        };
        let tasks = demo::start(running, Arc::new(|line: String| outln!("{line}")));
        let served = tokio::select! {
            () = stop => None,
            r = &mut server => Some(r),
        };
        tasks.stop().await;
        let served = match served {
            Some(r) => r,
            None => {
                let _ = api_stop.send(());
                server.await
            }
        };
        if let Some(gate) = gate {
            gate.stop();
        }
        ticker.abort();
        writer.shutdown("signal").await.context("recording the shutdown")?;
        served.context("the API task failed")?.context("serving the API")?;
        anyhow::Ok(())
    })?;
    drop(runtime);
    writer_thread.join().map_err(|_| anyhow::anyhow!("the ledger writer panicked"))?;
    drop(pd);
    info!("stopped");
    outln!("stopped: the ledger's shutdown entry is written");
    if !temporary {
        outln!(
            "  verify it: tally --data-dir {dir} ledger export --out EXPORT && tally ledger verify EXPORT",
            dir = dir.display()
        );
    }
    Ok(())
}
