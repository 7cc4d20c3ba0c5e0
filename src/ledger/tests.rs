//! Ledger tests on real SQLite files: appends, reopening, two writers, key rotation, clock jumps, injected
//! faults, and the verifier catching every kind of tampering.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::entry::{Entry, Event, Note};
use super::export::{self, CHECKPOINT, ENTRIES, KEYS_VKEY};
use super::note::{self, Verifier};
use super::verify::{self, Options, VerifyError};
use super::*;
use crate::clock::ManualClock;

/// Where a test makes the next write fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Everything is staged and signed, then the write fails before commit.
    BeforeCommit,
    /// The commit succeeds, then the caller is told it failed (a crash before release).
    AfterCommit,
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        "boot-1",
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000),
        Duration::from_secs(60),
    ))
}

fn note(i: usize) -> Event {
    Event::Note(Note { author: "sgt.test".into(), text: format!("note {i}") })
}

fn new_ledger(dir: &Path) -> (Ledger, Arc<ManualClock>) {
    let c = clock();
    (Ledger::create(dir, "makala", "gate-1", c.clone()).unwrap(), c)
}

struct Export {
    checkpoint: String,
    keys: String,
    entries: Vec<u8>,
}

fn export_of(l: &Ledger) -> Export {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    export::export(&mut l.reader().unwrap(), &out).unwrap();
    let read = |n: &str| std::fs::read(out.join(n)).unwrap();
    Export {
        checkpoint: String::from_utf8(read(CHECKPOINT)).unwrap(),
        keys: String::from_utf8(read(KEYS_VKEY)).unwrap(),
        entries: read(ENTRIES),
    }
}

fn check(e: &Export, opts: &Options) -> Result<verify::Report, VerifyError> {
    verify::verify(&e.checkpoint, &e.keys, e.entries.as_slice(), opts)
}

fn lines(e: &Export) -> Vec<Vec<u8>> {
    e.entries.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn bad_entry(r: Result<verify::Report, VerifyError>) -> u64 {
    match r {
        Err(VerifyError::Entry { seq, .. }) => seq,
        other => panic!("expected a bad entry, got {other:?}"),
    }
}

#[test]
fn a_new_ledger_records_its_key_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _) = new_ledger(dir.path());
    assert_eq!(l.identity().origin, "makala/gate-1");
    let e = export_of(&l);
    let first = Entry::parse(&lines(&e)[0][..lines(&e)[0].len() - 1]).unwrap();
    assert!(matches!(first.event, Event::KeyRotation(ref k) if k.previous.is_none()));
    let report = check(&e, &Options::default()).unwrap();
    assert_eq!((report.size, report.keys), (1, 1));
    assert!(matches!(Ledger::create(dir.path(), "makala", "gate-1", clock()), Err(LedgerError::AlreadyExists(_))));
    let missing = dir.path().join("nothing");
    assert!(matches!(Ledger::open(&missing, clock()), Err(LedgerError::Missing(_))));
    assert!(!missing.exists(), "opening must not create a ledger");
}

#[test]
fn appends_survive_reopening_and_the_root_is_rfc6962() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, _) = new_ledger(dir.path());
    for batch in [1usize, 16, 3, 256, 1] {
        let a = l.append((0..batch).map(note).collect()).unwrap();
        assert_eq!(a.seqs.len(), batch);
    }
    drop(l);
    let mut l = Ledger::open(dir.path(), clock()).unwrap();
    let a = l.append(vec![note(999)]).unwrap();
    assert_eq!(a.seqs, vec![278]);
    let e = export_of(&l);
    // The root, recomputed from the lines alone with the RFC's definition.
    let leaves: Vec<merkle::Hash> = lines(&e).iter().map(|line| merkle::leaf_hash(&line[..line.len() - 1])).collect();
    let mut f = merkle::Frontier::empty();
    leaves.iter().for_each(|h| f.push(*h, |_| {}));
    assert_eq!(check(&e, &Options::default()).unwrap().root, f.root());
    assert_eq!(l.reader().unwrap().latest_checkpoint().unwrap().0, 279);
    assert_eq!(l.reader().unwrap().entries(278, 10).unwrap().len(), 1);
    assert!(l.reader().unwrap().entries(u64::MAX, 10).unwrap().is_empty(), "a page past the end is empty");
    assert!(matches!(l.reader().unwrap().inclusion_proof(0, Some(u64::MAX)), Err(LedgerError::NoCheckpointAt(_))));
    assert_eq!(l.store.integrity_check().unwrap(), Ok(()));
}

#[test]
fn two_writers_on_one_ledger_keep_one_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = new_ledger(dir.path());
    let b = Ledger::open(dir.path(), c).unwrap();
    let threads: Vec<_> = [a, b]
        .into_iter()
        .map(|mut l| {
            std::thread::spawn(move || (0..50).map(|i| l.append(vec![note(i)]).unwrap().seqs[0]).collect::<Vec<_>>())
        })
        .collect();
    let mut seqs: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    let l = Ledger::open(dir.path(), clock()).unwrap();
    assert_eq!(check(&export_of(&l), &Options::default()).unwrap().size, 101);
}

#[test]
fn key_rotation_keeps_old_checkpoints_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, _) = new_ledger(dir.path());
    let before = l.append(vec![note(1)]).unwrap();
    let old_key = l.reader().unwrap().store().ledger_read(|v| v.current_key()).unwrap().unwrap();
    let (rotated, vkey) = l.rotate_key().unwrap();
    let after = l.append(vec![note(2)]).unwrap();
    let old = Verifier::parse(&old_key.vkey).unwrap();
    let new = Verifier::parse(&vkey).unwrap();
    assert_ne!(old, new);
    // The rotation's checkpoint carries both signatures; later ones only the new key's.
    assert_eq!(note::open_checkpoint(&rotated.checkpoint, &[old.clone(), new.clone()]).unwrap().signed_by.len(), 2);
    assert!(note::open_checkpoint(&after.checkpoint, std::slice::from_ref(&old)).is_err());
    note::open_checkpoint(&before.checkpoint, std::slice::from_ref(&old)).unwrap();
    let e = export_of(&l);
    assert_eq!(e.keys.lines().count(), 2);
    let opts = Options { previous: Some(before.checkpoint), ..Options::default() };
    assert_eq!(check(&e, &opts).unwrap().extends, Some(2));
    // The latest checkpoint is signed by the new key only: an auditor who pinned only the old key must
    // obtain the new one (it is in the ledger, introduced under the old key's signature).
    let pinned = Options { trusted: Some(vec![old]), ..Options::default() };
    assert!(matches!(check(&e, &pinned), Err(VerifyError::Checkpoint(note::NoteError::UnknownKey))));
    let pinned = Options { trusted: Some(vec![new]), ..Options::default() };
    check(&e, &pinned).unwrap();
}

#[test]
fn a_writer_follows_a_rotation_made_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let (mut serving, c) = new_ledger(dir.path());
    serving.append(vec![note(1)]).unwrap();
    let (_, vkey) = Ledger::open(dir.path(), c).unwrap().rotate_key().unwrap();
    let after = serving.append(vec![note(2)]).unwrap();
    let new = Verifier::parse(&vkey).unwrap();
    note::open_checkpoint(&after.checkpoint, &[new]).expect("signed by the key rotated in elsewhere");
    check(&export_of(&serving), &Options::default()).unwrap();
}

#[test]
fn a_wall_clock_jump_is_recorded_before_the_next_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, c) = new_ledger(dir.path());
    c.advance(Duration::from_secs(30));
    assert_eq!(l.check_clock().unwrap(), None, "time passing is not a jump");
    c.set_wall(c.wall() + Duration::from_secs(3600));
    let a = l.append(vec![note(1)]).unwrap();
    assert_eq!(a.seqs, vec![2], "the clock_change takes seq 1");
    let e = export_of(&l);
    let jump = Entry::parse(lines(&e)[1].strip_suffix(b"\n").unwrap()).unwrap();
    match jump.event {
        Event::ClockChange(cc) => assert_eq!(cc.delta_ms, 3_600_000),
        other => panic!("expected clock_change, got {other:?}"),
    }
    c.set_wall(c.wall() - Duration::from_secs(7200));
    assert!(l.check_clock().unwrap().is_some(), "a backwards jump is recorded too");
    // A new boot is not a jump: the boot id tells them apart.
    let other_boot = Arc::new(ManualClock::new("boot-2", SystemTime::UNIX_EPOCH, Duration::ZERO));
    let mut l2 = Ledger::open(dir.path(), other_boot).unwrap();
    assert_eq!(l2.check_clock().unwrap(), None);
}

#[test]
fn injected_faults_leave_a_log_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, _) = new_ledger(dir.path());
    l.append(vec![note(1)]).unwrap();
    l.fault = Some(Fault::BeforeCommit);
    assert!(l.append(vec![note(2)]).is_err());
    assert_eq!(l.reader().unwrap().latest_checkpoint().unwrap().0, 2, "nothing of the failed write remains");
    l.fault = Some(Fault::AfterCommit);
    assert!(l.append(vec![note(3)]).is_err());
    assert_eq!(l.reader().unwrap().latest_checkpoint().unwrap().0, 3, "a committed write stays, checkpoint and all");
    let a = l.append(vec![note(4)]).unwrap();
    assert_eq!(a.seqs, vec![3]);
    assert_eq!(check(&export_of(&l), &Options::default()).unwrap().size, 4);
}

#[test]
fn a_guarded_append_is_refused_when_another_writer_got_there_first() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, _) = new_ledger(dir.path());
    let mut b = Ledger::open(dir.path(), clock()).unwrap();
    assert_eq!(a.append_if_last("note", None, vec![note(1)]).unwrap().seqs, vec![1]);
    // B saw no note; A's is there now: B's append is refused and writes nothing.
    let err = b.append_if_last("note", None, vec![note(2)]).unwrap_err();
    assert!(matches!(err, LedgerError::Stale { kind: "note", expected: None, found: Some(1) }), "{err}");
    assert!(!err.is_fatal());
    assert_eq!(b.size().unwrap(), 2);
    assert_eq!(b.append_if_last("note", Some(1), vec![note(2)]).unwrap().seqs, vec![2]);
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (l, _) = new_ledger(dir.path());
    drop(l);
    let key = std::fs::read_dir(dir.path().join("keys")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut l = Ledger::open(dir.path(), clock()).unwrap();
    let err = l.append(vec![note(1)]).unwrap_err();
    assert!(matches!(err, LedgerError::KeyPermissions { .. }), "{err}");
    assert!(err.is_fatal());
}

#[test]
fn identity_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _) = new_ledger(dir.path());
    l.check_identity(Some("makala"), None).unwrap();
    assert!(matches!(l.check_identity(None, Some("gate-2")), Err(LedgerError::IdentityMismatch { .. })));
}

/// A ledger of 20 entries and its export, for the tampering tests.
fn sample() -> Export {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, _) = new_ledger(dir.path());
    for i in 0..19 {
        l.append(vec![note(i)]).unwrap();
    }
    export_of(&l)
}

#[test]
fn every_changed_byte_is_caught() {
    let e = sample();
    check(&e, &Options::default()).unwrap();
    let n = e.entries.len();
    // Every byte of the first, a middle and the last entry, and a spread of others.
    let positions: Vec<usize> = (0..n).filter(|i| i % 7 == 0 || *i < 300 || *i > n - 300).collect();
    for i in positions {
        let mut t = Export { checkpoint: e.checkpoint.clone(), keys: e.keys.clone(), entries: e.entries.clone() };
        t.entries[i] ^= 0x01;
        assert!(check(&t, &Options::default()).is_err(), "a flipped bit at byte {i} went unnoticed");
    }
}

#[test]
fn the_first_altered_entry_is_named() {
    let e = sample();
    let mut ls = lines(&e);
    let text = String::from_utf8(ls[7].clone()).unwrap().replace("note 6", "note X");
    ls[7] = text.into_bytes();
    let t = Export { entries: ls.concat(), ..e };
    assert_eq!(bad_entry(check(&t, &Options::default())), 7);
}

#[test]
fn deletions_insertions_swaps_and_truncations_are_caught() {
    let e = sample();
    let ls = lines(&e);
    let with =
        |ls: Vec<Vec<u8>>| Export { checkpoint: e.checkpoint.clone(), keys: e.keys.clone(), entries: ls.concat() };
    let mut deleted = ls.clone();
    deleted.remove(5);
    assert_eq!(bad_entry(check(&with(deleted), &Options::default())), 5);
    let mut inserted = ls.clone();
    inserted.insert(5, ls[4].clone());
    assert_eq!(bad_entry(check(&with(inserted), &Options::default())), 5);
    let mut swapped = ls.clone();
    swapped.swap(5, 6);
    assert_eq!(bad_entry(check(&with(swapped), &Options::default())), 5);
    let mut cut = ls.clone();
    cut.pop();
    assert!(matches!(check(&with(cut), &Options::default()), Err(VerifyError::Truncated { found: 19, expected: 20 })));
    let mut half = ls.concat();
    half.truncate(half.len() - 10);
    assert_eq!(bad_entry(check(&Export { entries: half, ..with(ls.clone()) }, &Options::default())), 19);
    let mut extra = ls.clone();
    extra.push(ls[19].clone());
    assert!(matches!(check(&with(extra), &Options::default()), Err(VerifyError::Extra { expected: 20 })));
}

#[test]
fn a_checkpoint_by_an_unknown_key_is_refused() {
    let e = sample();
    let opened = note::open_checkpoint(&e.checkpoint, &verify::parse_keys("k", &e.keys).unwrap()).unwrap();
    let (rogue, _) = note::Signer::generate("makala/gate-1").unwrap();
    let forged = note::sign_checkpoint(&opened.checkpoint, &[&rogue]);
    let t = Export { checkpoint: forged.clone(), keys: e.keys.clone(), entries: e.entries.clone() };
    assert!(matches!(check(&t, &Options::default()), Err(VerifyError::Checkpoint(note::NoteError::UnknownKey))));
    // Listing the rogue key beside the real ones does not help: no key_rotation entry introduces it.
    let t =
        Export { checkpoint: forged, keys: format!("{}{}\n", e.keys, rogue.verifier().to_vkey()), entries: e.entries };
    assert!(matches!(check(&t, &Options::default()), Err(VerifyError::KeyChain(_))));
}

#[test]
fn a_fork_is_caught_against_an_earlier_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, _) = new_ledger(dir.path());
    let early = l.append(vec![note(1)]).unwrap();
    let original = l.append(vec![note(2)]).unwrap();
    let e = export_of(&l);
    // Fork: the same key signs a different history of the same length (a rewritten entry 2).
    let mut store = crate::store::Store::open(dir.path(), crate::store::Open::MustExist).unwrap();
    drop(l);
    store_rewrite_last(&mut store);
    let l = Ledger::open(dir.path(), clock()).unwrap();
    let forked = export_of(&l);
    check(&forked, &Options::default()).unwrap();
    assert_ne!(forked.checkpoint, original.checkpoint);
    let opts = Options { previous: Some(original.checkpoint.clone()), ..Options::default() };
    assert!(matches!(check(&forked, &opts), Err(VerifyError::Fork { size: 3, .. })));
    let opts = Options { previous: Some(early.checkpoint), ..Options::default() };
    check(&forked, &opts).unwrap();
    let opts = Options { previous: Some(original.checkpoint), ..Options::default() };
    check(&e, &opts).unwrap();
}

/// Rewrites the last entry and re-signs, as someone holding the key could: the fork the verifier must catch.
fn store_rewrite_last(store: &mut crate::store::Store) {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute("DELETE FROM entries WHERE seq = 2", []).unwrap();
    conn.execute("DELETE FROM tree_nodes WHERE (level = 0 AND idx = 2)", []).unwrap();
    conn.execute("DELETE FROM checkpoints WHERE size = 3", []).unwrap();
    drop(conn);
    let mut l = Ledger::open(store.path().parent().unwrap(), clock()).unwrap();
    l.append(vec![Event::Note(Note { author: "forger".into(), text: "nothing happened".into() })]).unwrap();
}
