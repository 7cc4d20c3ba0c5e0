//! tally's integration tests: one binary, one module per part, helpers in `util`.
//!
//! They run the real `tally` binary on real SQLite files in temporary directories, talk HTTP to it on
//! 127.0.0.1, and check its ledger with an independent verifier (Go's sumdb/note and sumdb/tlog).

mod api;
mod api_schema;
mod appliance;
mod crash;
mod crash_startup;
mod demo;
mod devices;
mod doctor;
mod facility;
mod fingerprint_cli;
mod fingerprint_formats;
mod fingerprint_index;
mod fingerprint_synth;
mod fuzz_bodies;
mod lane;
mod lane_osdp;
mod ledger_cli;
mod offsite;
mod openapi;
mod pages;
mod pages_browser;
mod people_import;
mod policy;
mod provision;
mod provision_systemd;
mod readers;
mod retention;
mod story;
mod turnstile_cli;
mod util;
