//! `tally ledger bench`: how fast the ledger is on this machine, beside the storage ceiling measured in the
//! same run.
//!
//! Reports durable appends per second at 1, 16 and 256 entries per commit (each the median of three runs)
//! next to raw durable one-row SQLite commits per second on the same disk, measured in alternation with
//! them; the time to build, export and verify a
//! ledger of `--entries` entries (1,000,000 by default); and inclusion and consistency proof latency at
//! that size (p50 and p99 over 1,000 proofs). Everything runs in a scratch directory on the same file
//! system as `--dir`, removed afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::Ctx;
use tally::ledger::entry::{Event, Note};
use tally::ledger::{Ledger, LedgerReader, export, verify};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Entries in the large ledger used for verification and proofs.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Seconds per append run.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Scratch directory (created and removed); put it on the disk the data directory uses.
    #[arg(long, default_value = "./tally-bench")]
    dir: PathBuf,
}

fn note(i: u64) -> Event {
    // About the size of a real movement entry.
    Event::Note(Note { author: "bench".into(), text: format!("benchmark entry {i:010} at lane north-1, zone C") })
}

/// Removes the scratch directory however the benchmark ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(ctx: &Ctx, args: BenchArgs) -> anyhow::Result<()> {
    if args.dir.exists() {
        anyhow::bail!("{} exists; give --dir a path that does not", args.dir.display());
    }
    let scratch = Scratch(args.dir.clone());
    let run_for = Duration::from_secs_f64(args.seconds);
    outln!(
        "tally ledger bench: {} entries, {:.1} s per append run, scratch {}",
        args.entries,
        args.seconds,
        scratch.0.display()
    );
    outln!();
    outln!("| measure | result | reference in the same run |");
    outln!("|---|---|---|");

    // Raw and ledger runs alternate, so a disk that slows down part-way affects both alike.
    for batch in [1u64, 16, 256] {
        let mut raws = Vec::new();
        let rate = median3(|i| {
            raws.push(tally::store::raw_commit_rate(&scratch.0.join(format!("raw-{batch}-{i}")), run_for)?);
            append_rate(ctx, &scratch.0.join(format!("append-{batch}-{i}")), batch, run_for)
        })?;
        let raw = median(&mut raws);
        let commits = rate / batch as f64;
        outln!(
            "| durable appends/s, {batch} per commit | {rate:.0} | {commits:.0} commits/s = {:.2}× raw SQLite's {raw:.0} durable 1-row commits/s |",
            commits / raw
        );
    }

    let big = scratch.0.join("large");
    let started = Instant::now();
    build(ctx, &big, args.entries, 4096)?;
    let built = started.elapsed();
    outln!(
        "| build a {}-entry ledger, 4,096 per commit | {:.1} s ({:.0} entries/s) | — |",
        args.entries,
        built.as_secs_f64(),
        args.entries as f64 / built.as_secs_f64()
    );

    let mut reader = LedgerReader::open(&big)?;
    let out = scratch.0.join("export");
    let started = Instant::now();
    export::export(&mut reader, &out)?;
    let exported = started.elapsed();
    let size = std::fs::metadata(out.join(export::ENTRIES))?.len();
    outln!(
        "| export | {:.1} s ({:.0} MB/s, {} MB) | — |",
        exported.as_secs_f64(),
        size as f64 / 1e6 / exported.as_secs_f64(),
        size / 1_000_000
    );

    let started = Instant::now();
    let report = verify::verify_dir(&out, &verify::Options::default())?;
    let verified = started.elapsed();
    anyhow::ensure!(report.size == args.entries + 1, "verified {} entries", report.size);
    let hashing = hash_only(&out.join(export::ENTRIES))?;
    outln!(
        "| verify the export (signature, canonical form, chain, root) | {:.0} entries/s ({:.1} s) | SHA-256 leaf hashing alone: {:.0} entries/s |",
        report.size as f64 / verified.as_secs_f64(),
        verified.as_secs_f64(),
        report.size as f64 / hashing.as_secs_f64()
    );

    let n = report.size;
    let (p50, p99) = latency(1000, |i| {
        reader.inclusion_proof(spread(i, n), None)?.verify().context("proof does not verify")?;
        Ok(())
    })?;
    outln!(
        "| inclusion proof at {n} entries (make + check) | p50 {} µs, p99 {} µs | — |",
        p50.as_micros(),
        p99.as_micros()
    );
    let (p50, p99) = latency(1000, |i| {
        reader.consistency_proof(spread(i, n).max(1), None)?.verify().context("proof does not verify")?;
        Ok(())
    })?;
    outln!(
        "| consistency proof at {n} entries (make + check) | p50 {} µs, p99 {} µs | — |",
        p50.as_micros(),
        p99.as_micros()
    );
    outln!();
    outln!("Reproduce: cargo build --release && target/release/tally ledger bench --entries {}", args.entries);
    Ok(())
}

fn append_rate(ctx: &Ctx, dir: &Path, batch: u64, run_for: Duration) -> anyhow::Result<f64> {
    let mut l = Ledger::create(dir, "bench", "appliance", ctx.clock.clone())?;
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < run_for {
        l.append((n..n + batch).map(note).collect())?;
        n += batch;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn build(ctx: &Ctx, dir: &Path, entries: u64, batch: u64) -> anyhow::Result<()> {
    let mut l = Ledger::create(dir, "bench", "appliance", Arc::clone(&ctx.clock))?;
    let mut n = 0;
    while n < entries {
        let k = batch.min(entries - n);
        l.append((n..n + k).map(note).collect())?;
        n += k;
    }
    Ok(())
}

/// Time to read the entries file and hash every line as a leaf, nothing else: the floor for verification.
fn hash_only(path: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let bytes = std::fs::read(path)?;
    let mut acc = 0u8;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        acc ^= tally::ledger::merkle::leaf_hash(line)[0];
    }
    std::hint::black_box(acc);
    Ok(started.elapsed())
}

/// Deterministic indices spread over `[0, n)`.
fn spread(i: u64, n: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n
}

fn median3(mut f: impl FnMut(usize) -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let mut v = vec![f(0)?, f(1)?, f(2)?];
    Ok(median(&mut v))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn latency(n: u64, mut f: impl FnMut(u64) -> anyhow::Result<()>) -> anyhow::Result<(Duration, Duration)> {
    let mut times = Vec::with_capacity(n as usize);
    for i in 0..n {
        let t = Instant::now();
        f(i)?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], times[times.len() * 99 / 100]))
}
