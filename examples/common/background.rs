//! Threads that yield the cores to the main work: the test pass that runs beside training.

/// Gives the calling thread the lowest scheduling priority (nice 19), so that it runs on the
/// cores the other threads leave idle instead of sharing them evenly: a test pass beside a
/// training step then stops slowing the step's parallel sections, whose threads wait for each
/// other. Linux only (elsewhere, and if the call fails, nothing changes); the results of the
/// work do not depend on it.
pub fn yield_to_other_threads() {
    #[cfg(target_os = "linux")]
    // SAFETY: `setpriority` reads no memory of ours; on Linux `PRIO_PROCESS` with `who = 0`
    // sets the calling thread's nice value, and raising it needs no privilege.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}
