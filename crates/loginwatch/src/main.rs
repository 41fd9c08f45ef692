//! The `loginwatch` command: parses the command line and hands over to [`loginwatch::cli`].

fn main() -> std::process::ExitCode {
    loginwatch::cli::main()
}
