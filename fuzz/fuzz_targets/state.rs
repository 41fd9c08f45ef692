//! The saved-state reader (`replay --state-in`): any bytes are refused with an error or
//! restored into an engine, never a panic. Each input is tried twice: as a whole file, and as
//! one record's body inside a well-formed frame (right length and checksum, then an end
//! record), so mutations reach the record decoding behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loginwatch_detect::{Engine, EngineConfig, Restore, StateReader};
use loginwatch_storage::stable_hash32;
use std::sync::Arc;

/// Restores whatever `file` holds into a fresh engine.
fn restore(file: &[u8]) {
    let Ok(mut reader) = StateReader::new(file) else {
        return;
    };
    let Ok(mut engine) = Engine::new(Arc::new(EngineConfig::default())) else {
        return;
    };
    while let Ok(Some(saved)) = reader.next_record() {
        engine.restore(saved, &|_| 0);
    }
    let _ = engine.stats();
}

/// A state file holding `body` as its one record (version byte included), then the end
/// record (format 1: version 1, `End` is variant 4, one record).
fn framed(body: &[u8]) -> Vec<u8> {
    let mut file = b"LWSTATE\0".to_vec();
    file.extend_from_slice(&1u16.to_le_bytes());
    for record in [body, &[1, 4, 1][..]] {
        file.extend_from_slice(&(record.len() as u32).to_le_bytes());
        file.extend_from_slice(&stable_hash32(record).to_le_bytes());
        file.extend_from_slice(record);
    }
    file
}

fuzz_target!(|data: &[u8]| {
    restore(data);
    if !data.is_empty() {
        restore(&framed(data));
    }
});
