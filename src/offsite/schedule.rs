//! The scheduled off-site copy inside `tally serve`.
//!
//! When `[offsite] dir` is set, a task looks at it every little while (a tenth of `every`, between one
//! second and a minute). When the directory exists (the removable medium is mounted) and its latest whole
//! copy of this appliance is older than `every` (or there is none), it writes a copy ([`super::copy`], on a
//! blocking thread) and records an `offsite_copy` entry through the ledger writer. A failure is logged
//! and raises an `alarm` entry (code `offsite_copy_failed`), then waits a full `every` before trying
//! again; it never stops the service.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info};

use crate::api::writer::Writer;
use crate::clock::Clock;
use crate::config::OffsiteSetting;
use crate::ledger::LedgerReader;
use crate::ledger::entry::{Alarm, Event};

/// Starts the task, if a directory is configured; abort the handle to stop it.
pub fn spawn(
    setting: &OffsiteSetting,
    data_dir: PathBuf,
    writer: Writer,
    clock: Arc<dyn Clock>,
) -> Option<tokio::task::JoinHandle<()>> {
    let dir = setting.dir.clone()?;
    let (every, recipients) = (setting.every, setting.recipients.clone());
    let look = (every / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(look);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !dir.is_dir() {
                continue;
            }
            let origin = {
                let data_dir = data_dir.clone();
                tokio::task::spawn_blocking(move || LedgerReader::open(&data_dir).and_then(|mut r| r.origin())).await
            };
            let origin = match origin {
                Ok(Ok(origin)) => origin,
                _ => continue,
            };
            let now = clock.wall();
            let due = match super::latest_copy(&dir, &origin) {
                None => true,
                Some(t) => now.duration_since(t).is_ok_and(|age| age >= every),
            };
            if !due {
                continue;
            }
            let job = {
                let (data_dir, dir, recipients) = (data_dir.clone(), dir.clone(), recipients.clone());
                tokio::task::spawn_blocking(move || super::copy(&data_dir, &dir, &recipients, now)).await
            };
            let failure = match job {
                Ok(Ok(copied)) => {
                    let entry = copied.entry.clone();
                    match writer.append(vec![Event::OffsiteCopy(entry)]).await {
                        Ok(a) => {
                            info!(copy = %copied.path.display(), size = copied.entry.size, seq = ?a.seqs.first(), "off-site copy written");
                            None
                        }
                        Err(e) => Some(format!("copy {} written but not recorded: {e}", copied.entry.name)),
                    }
                }
                Ok(Err(e)) => Some(crate::error_text::one_line(&e)),
                Err(e) => Some(format!("the copy task failed: {e}")),
            };
            if let Some(detail) = failure {
                error!(cause = %detail, dir = %dir.display(), "off-site copy failed");
                let alarm = Alarm {
                    code: "offsite_copy_failed".into(),
                    detail: detail.chars().take(500).collect(),
                    source: "offsite".into(),
                };
                if let Err(e) = writer.append(vec![Event::Alarm(alarm)]).await {
                    error!(cause = %e, "the off-site copy alarm could not be recorded");
                }
                tokio::time::sleep(every).await;
            }
        }
    }))
}
