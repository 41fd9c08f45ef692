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

/// mimalloc's `mi_option_allow_thp` (`mimalloc.h`, v3).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

fn main() -> std::process::ExitCode {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a process-wide allocator option (an atomic store) before any thread
        // but this one exists; the option only says when freed memory is given back.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        no_transparent_huge_pages();
    }
    loginwatch::cli::main()
}

/// No transparent huge pages for this process (as databases with large in-memory state
/// commonly advise): mimalloc asks the kernel for them (`madvise`), and on the virtual
/// machines this was measured on, the first touch of a 2 MB page cost the most and varied the
/// most — a growing 1 M-account replay ran ~15 % faster without (BENCHMARKS.md).
/// `MIMALLOC_ALLOW_THP=1` keeps them (e.g. on bare metal, where they usually pay).
fn no_transparent_huge_pages() {
    // SAFETY: an allocator option (an atomic store) before any other thread exists: mimalloc
    // stops asking for huge pages for the memory it maps from now on.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0) };
    // The memory it mapped before `main` was asked for them already: the process-wide flag
    // covers it too (what mimalloc itself does when the option is set in the environment).
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
