//! `tally ledger bench`: durable appends per second, export verification speed, proof latency.

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Entries in the large ledger used for verification and proofs.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
}

pub fn run(_ctx: &Ctx, _args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not written yet")
}
