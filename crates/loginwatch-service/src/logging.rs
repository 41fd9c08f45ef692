//! Process-wide logging: readable lines by default, JSON with a flag; `RUST_LOG` filters
//! (default `info`). librdkafka's own logs arrive through the client context under the
//! `librdkafka` target, with secret values scrubbed.

use tracing_subscriber::EnvFilter;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("a global tracing subscriber is already installed")]
    AlreadySet(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Installs the global `tracing` subscriber, writing to stderr: human-readable, or one JSON
/// object per line when `json` is true. Call once, early in `main`.
pub fn init_tracing(json: bool) -> Result<(), LoggingError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
    result.map_err(LoggingError::AlreadySet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_init_is_an_error_not_a_panic() {
        // Whichever call comes first in this test binary wins; the second must fail cleanly.
        let _ = init_tracing(true);
        assert!(init_tracing(false).is_err());
    }
}
