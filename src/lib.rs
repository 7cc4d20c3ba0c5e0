//! tally: the service of a prison gate appliance.
//!
//! It identifies people by fingerprint, releases a turnstile for exactly one passage, records every
//! movement in a signed ledger that auditors verify with independent tools, and serves a local API.
//! See `ARCHITECTURE.md` beside the project for the invariants this code keeps.
//!
//! # Layout
//! - [`config`]: the one validated configuration type, loaded once, with defaults for everything.
//! - [`clock`]: wall clock, time since boot and boot id, injectable for tests.
//! - [`store`]: the SQLite database; the only module that speaks SQL.
//! - [`fingerprint`]: images, extraction, ISO/ANSI templates, matching; pure computation.
//! - [`parallel`]: spreading independent work over threads.
//! - [`error_text`]: an error and its causes on one line, for messages kept beyond the log.
//! - [`people`]: the register's vocabulary, the template vault and the identification gallery.
//! - [`policy`]: the access decision (status, registration, rules and hours, anti-passback, duress); pure.
//! - [`gate`]: the lanes: readers kept open, the state machine from finger to passage, the policy's verdict.
//! - [`ledger`]: canonical entries, the RFC 6962 tree, signed C2SP checkpoints, proofs, export, verify.
//! - [`census`]: where everyone is, headcounts and roll-calls: a fold over the ledger, kept current.
//! - [`auth`]: API tokens and roles.
//! - [`app`]: the appliance's parts put together (vault, gallery, census, policy, lanes) for `serve`.
//! - [`api`]: the axum routes, their errors and the ledger writer task behind them.
//! - [`offsite`]: encrypted off-site copies onto removable media, and restore onto a replacement as a new
//!   epoch of the record.
//! - [`peers`]: the facility of gates: the other appliances' ledgers pulled, verified, kept and cosigned,
//!   and the facility-wide headcount.
//! - [`provision`]: first-boot provisioning: configuration, ledger, keys and the first admin token.
//! - [`doctor`]: `tally doctor`'s checks of an installed appliance, each with a plain-language fix.
//! - [`demo`]: `tally demo`'s synthetic prison, gate traffic and roll-call, on simulated devices.
//!
//! The binary (`main.rs` and its `cli` module) parses the command line and runs the commands on these.

pub mod api;
pub mod app;
pub mod auth;
pub mod census;
pub mod clock;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod error_text;
pub mod fingerprint;
pub mod gate;
pub mod ledger;
pub mod offsite;
pub mod parallel;
pub mod peers;
pub mod people;
pub mod policy;
pub mod provision;
pub mod store;
