//! `tally tokens …`: create, list and revoke API tokens.

use anyhow::Context as _;
use clap::Subcommand;

use super::Ctx;
use tally::store::{Open, Store};

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        /// guard, enroller, supervisor, auditor, admin, or peer (another appliance of the facility).
        #[arg(long)]
        role: String,
        /// Who holds it (an officer's id); written into the ledger as the author of what it does.
        #[arg(long)]
        name: String,
    },
    /// List tokens (names and roles; never secrets).
    List,
    /// Revoke the active token with this name.
    Revoke {
        /// The token's name.
        name: String,
    },
}

pub fn run(ctx: &Ctx, cmd: TokensCommand) -> anyhow::Result<()> {
    let dir = &ctx.config.data_dir;
    let mut store = Store::open(dir, Open::MustExist).with_context(|| format!("opening {}", dir.display()))?;
    let now = tally::clock::rfc3339(ctx.clock.wall());
    match cmd {
        TokensCommand::Create { role, name } => {
            let (secret, role) = tally::auth::create(&mut store, &name, &role, &now)?;
            eprintln!("token for {name} ({role}); shown once, store it now:");
            outln!("{}", secret.expose());
        }
        TokensCommand::List => {
            for t in store.token_list()? {
                let state = t.revoked.map_or("active".to_owned(), |r| format!("revoked {r}"));
                outln!("{}\t{}\t{}\t{}", t.name, t.role, t.created, state);
            }
        }
        TokensCommand::Revoke { name } => {
            if !store.token_revoke(&name, &now)? {
                anyhow::bail!("no active token named {name:?}");
            }
            outln!("revoked {name}");
        }
    }
    Ok(())
}
