//! The loginwatch binary as a library, so integration tests drive the same code as the CLI.
//!
//! - [`cli`]: command-line parsing and dispatch (`demo`, `replay`, `run`, `normalize`, `gen`,
//!   `check-config`).
//! - [`config`]: the TOML file, typed and validated once, every problem reported at once.
//! - [`replay`]: JSON lines in, alerts out, through the one pipeline the service uses too.
//! - [`normalize`]: vendor login records (`--format`) to contract events, in front of the
//!   pipeline of `replay` and `run`, and `loginwatch normalize`.
//! - [`demo`]: the built-in scenario, printed for a person.
//! - [`run_cmd`]: `run`, the Kafka service over the same pipeline, one per partition.
//! - [`sharded`]: `replay` across worker threads, accounts sharded by hash.
//! - [`wiring`]: builds the locator and pipelines from a configuration.

pub mod cli;
pub mod config;
pub mod demo;
pub mod gen_cmd;
pub mod normalize;
pub mod replay;
pub mod run_cmd;
pub mod sharded;
pub mod state_file;
pub mod wiring;
