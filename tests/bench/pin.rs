//! Pinning a benchmark's measuring thread to one core, shared by the benchmarks that quote "on one
//! core" figures.

/// Pins the calling thread to the first CPU it may run on (threads it starts inherit that); returns
/// that CPU, or `None` if pinning failed, so "one core" is not assured.
pub fn pin_to_one_core() -> Option<usize> {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let allowed = sched_getaffinity(None).ok()?;
    let cpu = (0..CpuSet::MAX_CPU).find(|&c| allowed.is_set(c))?;
    let mut one = CpuSet::new();
    one.set(cpu);
    sched_setaffinity(None, &one).ok()?;
    Some(cpu)
}
