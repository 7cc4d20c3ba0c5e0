//! The facility-wide census: our ledger and every stored peer log folded into one [`Census`].
//!
//! The logs are merged, not concatenated: at each step the next entry taken is the earliest, by its
//! wall-clock time, among the next entries of every log, ties broken by the log's origin and then its
//! seq. Each log's own order is always kept (a passage is never folded before its grant, whatever the
//! clocks say), so a person's place is the latest movement across all logs *as the appliances' clocks
//! tell it*. Clocks may be wrong: an appliance whose clock runs ahead wins ties it should lose; every
//! clock step an appliance notices is itself an entry (`clock_change`) in its log, for whoever must
//! judge. The merged entries are renumbered in the order folded (grant references of passages and
//! timeouts follow), so the census's own fold rules apply unchanged; a person registered at several
//! appliances is one person (a second registration is a re-admission). A restored appliance's earlier
//! epochs are logs of their own ([`archived_logs`]). Pure but for reading that archive: the caller
//! reads the other logs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::SystemTime;

use crate::census::{Census, Headcount};
use crate::ledger::entry::{Entry, Event};
use crate::ledger::epochs::{self, EpochError};
use crate::people::Category;

/// One appliance's log: its origin and its entries in order.
#[derive(Debug, Clone)]
pub struct Log {
    /// `<facility>/<appliance>`.
    pub origin: String,
    /// Its entries from seq 0, decoded.
    pub entries: Vec<Entry>,
}

/// Decodes a log's stored entries; an entry that does not decode ends the log there (it was verified
/// when stored, so this only happens to a damaged database).
pub fn decode(origin: String, stored: Vec<Vec<u8>>) -> Log {
    let entries = stored.iter().map_while(|b| Entry::parse_lenient(b).ok()).collect();
    Log { origin, entries }
}

/// This appliance's earlier epochs (a restored appliance's archive, see [`crate::ledger::epochs`]),
/// oldest first, as logs to fold beside its current ledger: the people inside when the old appliance
/// was lost are still inside. Each is named by its own origin (its checkpoint's first line).
pub fn archived_logs(data_dir: &std::path::Path) -> Result<Vec<Log>, EpochError> {
    let mut logs = Vec::new();
    for archived in epochs::archived(data_dir)? {
        let path = archived.dir.join(crate::ledger::export::CHECKPOINT);
        let note = std::fs::read_to_string(&path).map_err(|source| EpochError::Io { path, source })?;
        let origin = note.lines().next().unwrap_or_default().to_owned();
        let mut entries = Vec::new();
        epochs::for_each_entry(&archived, |e| {
            entries.push(e.clone());
            Ok::<_, EpochError>(())
        })?;
        logs.push(Log { origin, entries });
    }
    Ok(logs)
}

/// Folds every log into `empty` (see the module docs for the order).
pub fn fold(logs: &[Log], mut census: Census) -> Census {
    let time = |e: &Entry| crate::clock::parse_rfc3339(&e.stamp.time).unwrap_or(SystemTime::UNIX_EPOCH);
    // Heap of (time, origin, log index, position in it), smallest first.
    let mut heads = BinaryHeap::new();
    for (i, log) in logs.iter().enumerate() {
        if let Some(first) = log.entries.first() {
            heads.push(Reverse((time(first), log.origin.as_str(), i, 0usize)));
        }
    }
    let mut renumbered: HashMap<(usize, u64), u64> = HashMap::new();
    let mut next = 0u64;
    while let Some(Reverse((_, origin, i, pos))) = heads.pop() {
        let entry = &logs[i].entries[pos];
        let mut merged = entry.clone();
        merged.stamp.seq = next;
        match &mut merged.event {
            Event::Passage(p) => p.grant = renumbered.get(&(i, p.grant)).copied().unwrap_or(u64::MAX),
            Event::PassageTimeout(p) => p.grant = renumbered.get(&(i, p.grant)).copied().unwrap_or(u64::MAX),
            _ => {}
        }
        if matches!(merged.event, Event::Grant(_)) {
            renumbered.insert((i, entry.stamp.seq), next);
        }
        // In sequence by construction.
        let _applied = census.apply(&merged);
        next += 1;
        if let Some(following) = logs[i].entries.get(pos + 1) {
            heads.push(Reverse((time(following), origin, i, pos + 1)));
        }
    }
    census
}

/// Totals by category over a headcount's zones (unregistered people under no category).
pub fn by_category(headcount: &Headcount) -> BTreeMap<Category, u64> {
    let mut out = BTreeMap::new();
    for z in &headcount.zones {
        for (c, n) in &z.by_category {
            *out.entry(*c).or_insert(0) += n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::{Grant, Passage, Registration, Stamp, StatusChange};

    fn entry(seq: u64, time: &str, appliance: &str, event: Event) -> Entry {
        let stamp = Stamp {
            seq,
            time: format!("2026-11-26T10:00:{time}.000Z"),
            boot: "b".into(),
            mono_ms: 0,
            appliance: appliance.into(),
            prev: [0; 32],
        };
        Entry { stamp, event }
    }

    fn reg(person: &str, zone: Option<&str>) -> Event {
        Event::Registration(Registration {
            category: "inmate".into(),
            officer: "o".into(),
            person: person.into(),
            zone: zone.map(str::to_owned),
        })
    }

    fn grant(person: &str, from: &str, to: &str) -> Event {
        Event::Grant(Grant {
            from_zone: from.into(),
            lane: "l".into(),
            method: "override".into(),
            person: person.into(),
            score: None,
            to_zone: to.into(),
        })
    }

    #[test]
    fn the_latest_movement_across_logs_wins_and_people_count_once() {
        // Gate 1 registers P-1 in reception at :01; gate 2 registers the same person at :02 (counted
        // once) and moves P-1 to block-a at :05 (its grant at seq 1, passage at seq 2).
        let g1 = Log { origin: "f/g1".into(), entries: vec![entry(0, "01", "g1", reg("P-1", Some("reception")))] };
        let g2 = Log {
            origin: "f/g2".into(),
            entries: vec![
                entry(0, "02", "g2", reg("P-1", Some("reception"))),
                entry(1, "05", "g2", grant("P-1", "reception", "block-a")),
                entry(2, "06", "g2", Event::Passage(Passage { grant: 1, lane: "l".into() })),
            ],
        };
        let c = fold(&[g1.clone(), g2.clone()], Census::new("outside", HashMap::new()));
        let h = c.headcount();
        assert_eq!(h.inside, 1);
        assert_eq!(h.zones[0].zone, "block-a");
        assert_eq!(by_category(&h).get(&Category::Inmate), Some(&1));
        // The order of the logs given does not matter.
        assert_eq!(fold(&[g2, g1], Census::new("outside", HashMap::new())).headcount(), h);
    }

    #[test]
    fn a_log_keeps_its_own_order_whatever_its_clock_says() {
        // Gate 2's clock went back between the grant and its passage: the passage still follows it.
        let g2 = Log {
            origin: "f/g2".into(),
            entries: vec![
                entry(0, "02", "g2", reg("P-1", Some("reception"))),
                entry(1, "05", "g2", grant("P-1", "reception", "block-a")),
                entry(2, "03", "g2", Event::Passage(Passage { grant: 1, lane: "l".into() })),
            ],
        };
        // Gate 1 releases the person at :04, between the passage's time and the grant's.
        let g1 = Log {
            origin: "f/g1".into(),
            entries: vec![entry(
                0,
                "04",
                "g1",
                Event::StatusChange(StatusChange {
                    from: "in_custody".into(),
                    officer: "o".into(),
                    person: "P-1".into(),
                    reason: "r".into(),
                    to: "released".into(),
                }),
            )],
        };
        let c = fold(&[g1, g2], Census::new("outside", HashMap::new()));
        // Merge: reg(:02), release(:04), grant(:05), passage — the passage moves P-1 into block-a.
        assert_eq!(c.headcount().inside, 1);
        assert_eq!(c.person("P-1").and_then(|p| p.zone.clone()).as_deref(), Some("block-a"));
    }
}
