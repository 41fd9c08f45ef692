//! The loginwatch binary as a library, so integration tests drive the same code as the CLI.
//! It is glue: the CLI, the typed configuration, and the wiring of the library crates — the
//! file driver (`loginwatch-replay`), the generator (`loginwatch-gen`) and the Kafka driver
//! (`loginwatch-service`) — around the detection pipeline (`loginwatch-detect`).
//!
//! - [`cli`]: command-line parsing and dispatch (`demo`, `replay`, `run`, `normalize`, `gen`,
//!   `score`, `check-config`).
//! - [`config`]: the TOML file, typed and validated once, every problem reported at once.
//! - [`wiring`]: builds the locator and pipelines from a configuration, and runs `replay` over
//!   them with `loginwatch-replay`.
//! - [`demo`]: the built-in scenario, printed for a person.
//! - [`gen_cmd`]: `gen`, the world picked from the flags and `loginwatch-gen`'s stream written.
//! - [`run_cmd`]: `run`, the Kafka service over the same pipeline, one per partition.

pub mod cli;
pub mod config;
pub mod demo;
pub mod gen_cmd;
pub mod run_cmd;
pub mod wiring;
