//! The demo's running commentary: one line for each grant, refusal, passage, missed passage, alarm,
//! status change and roll-call step, told from the ledger as each entry becomes durable (the census's
//! stream of folded entries), so that what the terminal shows is what the ledger holds. Names come from
//! the demo's own plan of the prison, never from the ledger, which names people by id only.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};

use super::{Running, Say};
use crate::census::live::LiveEntry;
use crate::ledger::entry::{
    Alarm, Denial, Grant, Override, Passage, PassageTimeout, RollcallClosed, RollcallStarted, StatusChange,
};

/// Tells the entries as they are folded, until stopped.
pub async fn run(running: Arc<Running>, say: Say, mut stopped: watch::Receiver<bool>) {
    let mut entries = running.facility.census.subscribe();
    let mut narrator = Narrator::new(&running);
    loop {
        let entry = tokio::select! {
            got = entries.recv() => match got {
                Ok(entry) => entry,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    say(format!("(… {n} entries not told)"));
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = stopped.changed() => return,
        };
        if let Some(line) = narrator.line(&entry) {
            say(line);
        }
    }
}

/// What the narrator remembers between entries.
pub struct Narrator<'a> {
    running: &'a Running,
    /// Grants waiting for their passage or timeout: seq → (person, from zone, to zone).
    grants: HashMap<u64, (String, String, String)>,
}

impl std::fmt::Debug for Narrator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Narrator").field("pending", &self.grants.len()).finish_non_exhaustive()
    }
}

fn body<T: DeserializeOwned>(entry: &LiveEntry) -> Option<T> {
    serde_json::from_value(entry.body.clone()).ok()
}

impl<'a> Narrator<'a> {
    /// A narrator of `running`'s ledger.
    pub fn new(running: &'a Running) -> Narrator<'a> {
        Narrator { running, grants: HashMap::new() }
    }

    /// `P-0042  MBUYI Jean (inmate)`, or the id alone for someone the plan does not know.
    fn who(&self, person: &str) -> String {
        match self.running.prison.person(person) {
            Some(p) => format!("{person:<6}  {} ({})", p.name(), p.category.as_str()),
            None => person.to_owned(),
        }
    }

    fn time(&self, entry: &LiveEntry) -> String {
        let facility = &self.running.facility;
        match crate::clock::parse_rfc3339(&entry.time) {
            Some(t) => {
                let local = time::OffsetDateTime::from(t).to_offset(facility.config.utc_offset);
                format!("{:02}:{:02}:{:02}", local.hour(), local.minute(), local.second())
            }
            None => super::local_time(facility),
        }
    }

    /// The line for `entry`, if it is one the demo tells.
    pub fn line(&mut self, entry: &LiveEntry) -> Option<String> {
        let t = self.time(entry);
        let text = match entry.kind {
            "grant" => {
                let g: Grant = body(entry)?;
                let how = if g.method == "override" { " (override)" } else { "" };
                let line =
                    format!("{:<13} GRANTED  {}  {} → {}{how}", g.lane, self.who(&g.person), g.from_zone, g.to_zone);
                self.grants.insert(entry.seq, (g.person, g.from_zone, g.to_zone));
                line
            }
            "denial" => {
                let d: Denial = body(entry)?;
                let who = d.person.as_deref().map_or_else(|| "—       unknown finger".to_owned(), |p| self.who(p));
                format!("{:<13} REFUSED  {who}  {}", d.lane, self.reason(&d))
            }
            "passage" => {
                let p: Passage = body(entry)?;
                let (person, _, to) = self.grants.remove(&p.grant)?;
                format!("{:<13} passed   {}  now in {to}", p.lane, self.who(&person))
            }
            "passage_timeout" => {
                let p: PassageTimeout = body(entry)?;
                let (person, from, _) = self.grants.remove(&p.grant)?;
                let place = if from == self.running.facility.config.outside { from } else { format!("in {from}") };
                format!("{:<13} timeout  {}  did not walk through; still {place}", p.lane, self.who(&person))
            }
            "override" => {
                let o: Override = body(entry)?;
                format!(
                    "{:<13} override {}  by {} and {}: {}",
                    o.lane,
                    self.who(&o.person),
                    o.officer,
                    o.second_officer,
                    o.reason
                )
            }
            "alarm" => {
                let a: Alarm = body(entry)?;
                format!("ALARM         {}: {}", a.code, a.detail)
            }
            "status_change" => {
                let s: StatusChange = body(entry)?;
                format!("status        {}  {} → {} ({})", self.who(&s.person), s.from, s.to, s.reason)
            }
            "rollcall_started" => {
                let r: RollcallStarted = body(entry)?;
                format!(
                    "roll-call     {} of {} started by {}: {} inmates expected",
                    r.rollcall,
                    r.zones.join(", "),
                    r.supervisor,
                    r.expected
                )
            }
            "rollcall_closed" => {
                let r: RollcallClosed = body(entry)?;
                let remark = r.remark.map(|m| format!(" — remark: {m}")).unwrap_or_default();
                format!(
                    "roll-call     {} closed by {}: {} counted, {} missing{remark}",
                    r.rollcall, r.supervisor, r.counted, r.missing
                )
            }
            _ => return None,
        };
        Some(format!("{t}  {text}"))
    }

    fn reason(&self, d: &Denial) -> String {
        let lane = self.running.facility.config.lanes.iter().find(|l| l.id == d.lane);
        let to = lane.map_or("?", |l| l.to_zone.as_str());
        let whereabouts = d
            .person
            .as_deref()
            .and_then(|p| self.running.facility.census.read(|c| c.person(p).map(|s| (s.zone.clone(), s.status))));
        match d.reason.as_str() {
            "no_match" => "no_match: nobody enrolled has this finger".to_owned(),
            "anti_passback" => {
                let zone = whereabouts.and_then(|(z, _)| z).unwrap_or_else(|| "outside".into());
                format!("anti_passback: the ledger places them in {zone}")
            }
            "no_access" => format!("no_access: may not enter {to}"),
            "status" => {
                let status = whereabouts.map_or("gone", |(_, s)| s.as_str());
                format!("status: {status}")
            }
            other => other.to_owned(),
        }
    }
}
