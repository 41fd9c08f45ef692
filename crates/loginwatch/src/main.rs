//! The `loginwatch` command: parses the command line and hands over to [`loginwatch::cli`].

/// mimalloc instead of the system allocator: the engine allocates and frees many small
/// objects per event (account ids, window records, per-account boxes), and glibc's malloc
/// spent ~18 % of a 1M-account replay in chunk consolidation (`unlink_chunk`, `_int_malloc`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    loginwatch::cli::main()
}
