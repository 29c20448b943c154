//! Which instruction set the kernels run on: chosen once per process from the CPU, whatever
//! flags the program was built with.
//!
//! Every hand-written kernel is one piece of source compiled three times: for the build's
//! target as it is ([`Level::Portable`]), for AVX2 with FMA and for AVX-512. Each kernel runs
//! in the version for [`level`], the best level this CPU has (capped by the `TAPEGRAD_ISA`
//! environment variable, read once). The versions are `#[target_feature]`
//! functions, so building with `-C target-cpu=native` changes neither which version runs nor
//! what it computes: results depend on the level alone, and on a given CPU a program prints the
//! same numbers however it was built.
//!
//! What differs between levels, in bits: the portable level on x86-64 rounds the product and
//! the sum of a multiply-add separately (a fused one would be a call into the C library on a
//! CPU without FMA), the AVX2 and AVX-512 levels fuse it; the AVX-512 level adds the crate's
//! packed GEMM, whose order of summation differs from `matrixmultiply`'s. The hand-written
//! AVX-512 kernels give the same bits as the AVX2 level's compiled ones (tested).

use std::sync::atomic::{AtomicU8, Ordering};

/// The environment variable that caps the level (see [`level`]).
pub const ENV: &str = "TAPEGRAD_ISA";

/// An instruction-set level the kernels are compiled for, from the lowest.
///
/// ```
/// use tapegrad_autograd::kernels::dispatch::{level, Level};
/// // Whatever the CPU, one of the three; `TAPEGRAD_ISA=portable` would force the first.
/// assert!(Level::ALL.contains(&level()));
/// println!("kernels: {}", level());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No instructions beyond the build target's: what the compiler makes of the kernels for
    /// it (SSE2 on x86-64 by default, NEON on aarch64). A multiply-add is a multiplication and
    /// an addition, each rounded, except on aarch64, where every CPU fuses it.
    Portable,
    /// AVX2 and FMA (x86-64 CPUs since about 2015): the kernels compiled for them, each
    /// multiply-add one fused instruction.
    Avx2,
    /// AVX-512 (F, VL, BW, DQ) with AVX2 and FMA: the AVX2 level's kernels compiled for
    /// AVX-512, plus the packed GEMM's micro-kernels and the hand-written AVX-512 kernels.
    Avx512,
}

impl Level {
    /// Every level, from the lowest.
    pub const ALL: [Level; 3] = [Level::Portable, Level::Avx2, Level::Avx512];

    /// The level's name, as `TAPEGRAD_ISA` takes it: `portable`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// The level called `name` (as [`name`](Self::name) gives it, in any case), if there is one.
    pub fn from_name(name: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Option<Level> {
        Level::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The best level this CPU runs, ignoring `TAPEGRAD_ISA`.
pub fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx2 = has!("avx2") && has!("fma");
        if avx2 && has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq") {
            return Level::Avx512;
        }
        if avx2 {
            return Level::Avx2;
        }
    }
    Level::Portable
}

/// The level cached by [`level`]: 0 until it is first asked for, then `Level::code`.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The level the kernels run on in this process: [`detected`], capped by the environment
/// variable `TAPEGRAD_ISA` (`portable`, `avx2` or `avx512`; unset or empty for no cap),
/// which is read the first time any kernel runs. A cap above the CPU's level changes nothing.
///
/// # Panics
/// If `TAPEGRAD_ISA` holds anything else, with a message naming the accepted values.
#[inline]
pub fn level() -> Level {
    let level = match Level::from_code(LEVEL.load(Ordering::Relaxed)) {
        Some(level) => level,
        None => {
            let level = detected().min(cap_from_env());
            // Every thread that gets here computes the same level.
            LEVEL.store(level.code(), Ordering::Relaxed);
            level
        }
    };
    #[cfg(test)]
    let level = level.min(TEST_CAP.get());
    level
}

/// The cap `TAPEGRAD_ISA` sets, `Avx512` (none) where it is unset or empty.
fn cap_from_env() -> Level {
    let Some(value) = std::env::var_os(ENV) else {
        return Level::Avx512;
    };
    let value = value.to_string_lossy();
    if value.trim().is_empty() {
        return Level::Avx512;
    }
    Level::from_name(&value).unwrap_or_else(|| {
        panic!("{ENV}={value:?}: expected portable, avx2 or avx512 (or unset, for the CPU's best)")
    })
}

/// The version of a kernel body being run, handed to the body by [`dispatch`]: made nowhere
/// else, so holding one with an AVX-512 level proves the CPU has it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Isa(Level);

impl Isa {
    /// The level this version is compiled for.
    #[cfg(test)]
    #[inline(always)]
    pub(crate) fn level(self) -> Level {
        self.0
    }

    /// Proof that the CPU has AVX-512, in the AVX-512 version.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn avx512(self) -> Option<Avx512> {
        (self.0 == Level::Avx512).then_some(Avx512(()))
    }

    /// Whether this version fuses multiply-adds (see [`fma`](Self::fma)).
    #[inline(always)]
    pub(crate) fn fuses(self) -> bool {
        self.0 != Level::Portable || cfg!(target_arch = "aarch64")
    }

    /// `a b + c`: one rounding where the level has fused multiply-adds, two elsewhere.
    #[inline(always)]
    pub(crate) fn fma<T: crate::Real>(self, a: T, b: T, c: T) -> T {
        if self.fuses() {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }
}

/// Proof that this CPU has the AVX-512 level's features: [`Isa::avx512`] makes one only in the
/// version [`dispatch`] runs after [`level`] found them.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct Avx512(());

/// `body` in the version compiled for [`level`]: `body(isa)` with `isa` naming the version.
///
/// The body must be a closure marked `#[inline(always)]`, and every kernel function it calls
/// in its loops too: code that is not inlined into the version is compiled for the build's
/// target only. (Rayon's tasks run on other threads, outside the version: a parallel kernel
/// dispatches inside each task.)
#[inline(always)]
pub(crate) fn dispatch<R>(body: impl FnOnce(Isa) -> R) -> R {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level()` is `Avx512` only where `detected` found AVX-512 F, VL, BW and DQ,
        // AVX2 and FMA, the features the version is compiled for.
        Level::Avx512 => unsafe { x86::avx512(body) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level()` is `Avx2` or higher only where `detected` found AVX2 and FMA.
        Level::Avx2 => unsafe { x86::avx2(body) },
        _ => body(Isa(Level::Portable)),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Isa, Level};

    /// `body` compiled for AVX-512.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, VL, BW and DQ, AVX2 and FMA.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
    pub(super) unsafe fn avx512<R>(body: impl FnOnce(Isa) -> R) -> R {
        body(Isa(Level::Avx512))
    }

    /// `body` compiled for AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<R>(body: impl FnOnce(Isa) -> R) -> R {
        body(Isa(Level::Avx2))
    }
}

#[cfg(test)]
std::thread_local! {
    /// Set by [`at_level`]: this thread's kernels run at most at this level.
    static TEST_CAP: std::cell::Cell<Level> = const { std::cell::Cell::new(Level::Avx512) };
}

/// `f()` with this thread's kernels capped at `cap` (call it on a one-thread pool's thread, so
/// that nothing it runs moves to another).
#[cfg(test)]
pub(crate) fn at_level<R>(cap: Level, f: impl FnOnce() -> R) -> R {
    let before = TEST_CAP.replace(cap);
    let result = f();
    TEST_CAP.set(before);
    result
}

/// `run()` on one thread at this process's level and again at most at the AVX2 level, for a
/// test to compare: `(this level, AVX2)`. Both fuse multiply-adds; what the AVX-512 level adds
/// (its hand-written kernels) must give the AVX2 level's bits. Where the process runs below
/// AVX-512, both are the same version (and a note says so).
#[cfg(test)]
pub(crate) fn avx512_and_avx2<R: Send>(run: impl Fn() -> R + Sync) -> (R, R) {
    let one_thread = super::thread_pool(1);
    if level() != Level::Avx512 {
        eprintln!(
            "kernels at {}: the AVX2 level compared with itself",
            level()
        );
    }
    let top = one_thread.install(&run);
    let avx2 = one_thread.install(|| at_level(Level::Avx2, &run));
    (top, avx2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_follows_capability() {
        for level in Level::ALL {
            assert_eq!(Level::from_name(level.name()), Some(level));
            assert_eq!(Level::from_name(&level.name().to_uppercase()), Some(level));
            assert_eq!(Level::from_code(level.code()), Some(level));
        }
        assert_eq!(Level::from_name("sse2"), None);
        assert_eq!(Level::from_code(0), None);
        assert!(Level::Portable < Level::Avx2 && Level::Avx2 < Level::Avx512);
    }

    #[test]
    fn the_level_never_exceeds_the_cpus_or_the_cap() {
        assert!(level() <= detected());
        for cap in Level::ALL {
            let (at_cap, isa) = at_level(cap, || (level(), dispatch(|isa| isa.level())));
            assert_eq!(at_cap, level().min(cap));
            assert_eq!(isa, at_cap, "dispatch ran another version than the level");
        }
    }

    #[test]
    fn only_the_portable_level_rounds_multiply_adds_twice_on_x86() {
        // (1 + 2^-12)^2 - 1 is 2^-11 + 2^-24: the product rounded first loses the last term.
        let x = 1.0 + 2.0f32.powi(-12);
        for cap in Level::ALL {
            let (level, got) = at_level(cap, || dispatch(|isa| (isa.level(), isa.fma(x, x, -1.0))));
            let fused = level != Level::Portable || cfg!(target_arch = "aarch64");
            let want = if fused {
                x.mul_add(x, -1.0)
            } else {
                x * x - 1.0
            };
            assert_eq!(got.to_bits(), want.to_bits(), "{level}");
            assert_ne!(x.mul_add(x, -1.0), x * x - 1.0);
        }
    }
}
