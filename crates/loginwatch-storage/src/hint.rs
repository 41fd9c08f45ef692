//! [`prefetch`]: asks the CPU to start loading memory that a later step will read, so the
//! cache misses of several events overlap instead of following one another.
//!
//! Used in stages over a group of events: stage 0 prefetches what can be addressed from the
//! event alone (a table bucket), stage 1 reads it (now cached) and prefetches what it points
//! to, and so on; each stage is a short loop over the group, so the misses of one stage are
//! all in flight at once.

/// The stages a group goes through (0, 1, 2): what the pipeline's `prefetch(event, stage)`
/// methods are called with.
pub const STAGES: usize = 3;

/// Starts loading every cache line of `*r`.
#[inline(always)]
pub fn prefetch_val<T>(r: &T) {
    let start = (r as *const T).cast::<u8>();
    let size = std::mem::size_of::<T>();
    let mut off = 0;
    while off < size {
        prefetch(start.wrapping_add(off));
        off += 64;
    }
    if size > 1 {
        prefetch(start.wrapping_add(size - 1));
    }
}

/// Starts loading the cache line at `p` into all cache levels. A hint: it never faults,
/// whatever `p` is, and does nothing on targets without a prefetch instruction.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is part of SSE, which every x86_64 CPU has; it reads nothing
    // architecturally and does not fault, even on an invalid address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
