//! The kernel level: the CPU's best, capped by `TAPEGRAD_ISA` (`.ci/kernel-levels` runs the
//! crate's tests once per level with it set).

use tapegrad_autograd::kernels::dispatch::{detected, level, Level, ENV};

#[test]
fn the_level_is_the_cpus_best_capped_by_the_environment() {
    let cap = match std::env::var(ENV) {
        Ok(value) if !value.trim().is_empty() => {
            Level::from_name(&value).unwrap_or_else(|| panic!("{ENV}={value:?} is no level"))
        }
        _ => Level::Avx512,
    };
    assert_eq!(
        level(),
        detected().min(cap),
        "{ENV} caps at {cap}, the CPU has {}",
        detected()
    );
    // Asked again (from another thread too), the level is the one chosen first.
    let again = std::thread::spawn(level).join().expect("a thread");
    assert_eq!(again, level());
}
