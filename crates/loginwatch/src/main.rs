//! The `loginwatch` command: parses the command line and hands over to [`loginwatch::cli`].

/// mimalloc instead of the system allocator: the engine allocates and frees many small
/// objects per event (account ids, window records, per-account boxes), and glibc's malloc
/// spent ~18 % of a 1M-account replay in chunk consolidation (`unlink_chunk`, `_int_malloc`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`; libmimalloc-sys 0.1.49 names no constant
/// for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed memory before giving it back to the OS: 1 s instead of its
/// 10 ms. The engine's tables grow by reallocation, and memory given back too soon is faulted
/// in again, zeroed by the kernel, by the next allocations: on these 2-core VMs a one-worker
/// replay of 1 M growing accounts ran 10–15 % faster and steadier (BENCHMARKS.md), for about
/// the same peak RSS. `MIMALLOC_PURGE_DELAY` in the environment still decides when set.
const PURGE_DELAY_MS: std::ffi::c_long = 1000;

fn main() -> std::process::ExitCode {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a process-wide allocator option (an atomic store) before any thread
        // but this one exists; the option only says when freed memory is given back.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    loginwatch::cli::main()
}
