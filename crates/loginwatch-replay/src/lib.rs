//! The file driver: JSON lines in, alerts and dead letters out, through the one pipeline the
//! service runs too (`loginwatch replay` and `loginwatch normalize`).
//!
//! - [`replay()`]: a whole replay over the pipelines the caller built (one per worker thread,
//!   engine `i` owner `i`), from saved state and back to it as [`ReplayOptions`] say; a
//!   [`Summary`] at the end.
//! - `replay`: the [`Summary`]; `Lines`, input lines in one buffer, decoded and observed in
//!   groups; [`read_bounded_line`], a line read with bounded memory.
//! - `sharded`: the reader, the workers (accounts sharded by hash) and the writer, over
//!   bounded channels; with one worker the reader decodes.
//! - `normalize`: the input-format [`Translator`] that `replay` with several workers puts in
//!   front of their pipelines (its reader shards contract lines by account; with one worker
//!   the reader, and `run`'s partitions, decode a vendor's records themselves), and
//!   [`normalize()`], `loginwatch normalize`.
//! - `state_file`: `--state-in`/`--state-out`, the engines' saved state in a file.
//! - [`SharedLocator`]: the process's locator with a worker's own address cache.
//!
//! It knows nothing of the binary's configuration: the caller builds the pipelines (locator,
//! engine configuration, workers) and says how to read and write.

mod locator;
mod normalize;
mod replay;
mod sharded;
mod state_file;

pub use locator::{SharedLocator, IP_CACHE_SLOTS};
pub use normalize::{normalize, NormalizeSummary, Translated, Translator};
pub use replay::{read_bounded_line, Summary};

use loginwatch_detect::{Decoder, Pipeline, StateError};
use loginwatch_model::{AlertFormat, Format};
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading the input, or writing alerts or dead letters.
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("opening state file {}", .path.display())]
    OpenState { path: PathBuf, source: io::Error },
    /// The state file is damaged, truncated or not one.
    #[error("state file {} refused", .path.display())]
    StateRefused { path: PathBuf, source: StateError },
    #[error(
        "state file {} refused: record {record} is a network stage's (the service's state \
         topic), not a state file's",
        .path.display()
    )]
    NetworkStageRecord { path: PathBuf, record: u64 },
    #[error("no replay worker")]
    NoWorker,
    #[error("creating {}", .path.display())]
    CreateState { path: PathBuf, source: io::Error },
    #[error("writing state to {}", .path.display())]
    SaveState { path: PathBuf, source: StateError },
    #[error("moving {} to {}", .from.display(), .to.display())]
    MoveState {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
}

/// Where a replay's detection state comes from (`--state-in`) and goes (`--state-out`).
#[derive(Clone, Debug, Default)]
pub struct StateFiles {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

/// How a replay reads its input and writes its alerts, and its state files.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// The input records' format (`--format`).
    pub input_format: Format,
    /// The size limit of one record; a longer one is a dead letter (`too_large`).
    pub max_event_bytes: usize,
    /// How alerts are written (`--output-format`).
    pub output_format: AlertFormat,
    pub state: StateFiles,
}

/// What a replay leaves: its summary, and the pipelines as the input left them.
pub struct Replayed {
    pub summary: Summary,
    /// The engines and their state, to inspect or to keep; a process about to exit may
    /// leave them undropped (freeing 1 M accounts one by one takes ~0.7 s).
    pub pipelines: Vec<Pipeline<SharedLocator>>,
}

/// Replays `input` over `pipelines`: one on this thread, or one per worker thread with
/// accounts sharded by hash (engine `i` owns shard `i`). Restores `options.state.input`
/// into them first and saves their state to `options.state.output` at the end.
pub fn replay(
    mut pipelines: Vec<Pipeline<SharedLocator>>,
    input: &mut dyn BufRead,
    alerts: &mut (dyn Write + Send),
    dead: &mut (dyn Write + Send),
    options: &ReplayOptions,
) -> Result<Replayed, ReplayError> {
    let located = match pipelines.first() {
        Some(p) => std::sync::Arc::clone(p.locator().locator()),
        None => return Err(ReplayError::NoWorker),
    };
    let restored = match &options.state.input {
        Some(path) => Some(state_file::restore(path, &mut pipelines)?),
        None => None,
    };
    let (max, format) = (options.max_event_bytes, options.output_format);
    let (mut translator, decoder) = if pipelines.len() == 1 {
        // The reader decodes the input format itself: records pass through untranslated.
        let decoder = Decoder::new(options.input_format, max);
        (Translator::new(Format::Loginwatch, max), Some(decoder))
    } else {
        // The reader must find each record's account to shard it: it translates a vendor's
        // records into contract lines, which the workers' pipelines decode.
        (Translator::new(options.input_format, max), None)
    };
    let (mut summary, pipelines) = sharded::replay_sharded(
        pipelines,
        input,
        alerts,
        dead,
        &mut translator,
        decoder,
        format,
    )?;
    summary.state_restored = restored;
    summary.located = located.counts();
    if let Some(path) = &options.state.output {
        summary.state_saved = Some(state_file::save(path, &pipelines)?);
    }
    Ok(Replayed { summary, pipelines })
}
