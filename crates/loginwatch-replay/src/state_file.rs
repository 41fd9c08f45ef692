//! `replay --state-in/--state-out`: the engines' saved state in a file (the records of
//! `loginwatch_detect::snapshot`), restored into the replay's workers before the first line
//! and written after the last.

use crate::locator::SharedLocator;
use crate::sharded::shard_of_account;
use crate::ReplayError;
use loginwatch_detect::{Owner, Pipeline, Restore, SaveSummary, StateReader, StateWriter, Target};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::{Duration, Instant};

/// Restores the state file at `path` into `pipelines`: each account into the worker its lines
/// go to, the shared_ip index once (it is shared), every engine's clocks into each. Returns
/// the records and accounts restored and the time it took.
pub(crate) fn restore(
    path: &Path,
    pipelines: &mut [Pipeline<SharedLocator>],
) -> Result<(u64, u64, Duration), ReplayError> {
    let started = Instant::now();
    let file = File::open(path).map_err(|source| ReplayError::OpenState {
        path: path.to_owned(),
        source,
    })?;
    let refused = |source| ReplayError::StateRefused {
        path: path.to_owned(),
        source,
    };
    let mut reader = StateReader::new(BufReader::with_capacity(1 << 20, file)).map_err(refused)?;
    let workers = pipelines.len().max(1);
    let owner_of = |id: &str| shard_of_account(id, workers) as Owner;
    let (mut records, mut accounts) = (0, 0);
    while let Some(saved) = reader.next_record().map_err(refused)? {
        records += 1;
        let at = match saved.target() {
            Target::Account(id) => {
                accounts += 1;
                shard_of_account(id, workers)
            }
            Target::SharedIndex => 0,
            Target::NetworkStage => {
                return Err(ReplayError::NetworkStageRecord {
                    path: path.to_owned(),
                    record: records,
                })
            }
            Target::EveryEngine => {
                for p in pipelines.iter_mut().skip(1) {
                    if let Some(copy) = saved.copy_for_another_engine() {
                        p.engine_mut().restore(copy, &owner_of);
                    }
                }
                0
            }
        };
        match pipelines.get_mut(at) {
            Some(p) => p.engine_mut().restore(saved, &owner_of),
            None => return Err(ReplayError::NoWorker),
        }
    }
    Ok((records, accounts, started.elapsed()))
}

/// Writes every engine's state and the shared_ip index to `path` (through a temporary file
/// renamed into place, so an interrupted save leaves no half file under the name).
pub(crate) fn save(
    path: &Path,
    pipelines: &[Pipeline<SharedLocator>],
) -> Result<(SaveSummary, Duration), ReplayError> {
    let started = Instant::now();
    let tmp = path.with_extension("partial");
    let file = File::create(&tmp).map_err(|source| ReplayError::CreateState {
        path: tmp.clone(),
        source,
    })?;
    let write = || -> Result<SaveSummary, loginwatch_detect::StateError> {
        let mut w = StateWriter::new(BufWriter::with_capacity(1 << 20, file))?;
        for p in pipelines {
            w.engine(p.engine())?;
        }
        if let Some(p) = pipelines.first() {
            w.shared_index(p.engine().shared_index())?;
        }
        w.finish()
    };
    let summary = write().map_err(|source| ReplayError::SaveState {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| ReplayError::MoveState {
        from: tmp,
        to: path.to_owned(),
        source,
    })?;
    Ok((summary, started.elapsed()))
}
