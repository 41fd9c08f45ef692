//! The generated stream whose alerts `alert_pin` pins, and `replay` over it: shared by the
//! tests that read that stream's alerts (`alert_pin`, `replay_ocsf`).

use loginwatch::config::Config;
use loginwatch::gen_cmd::world_for;
use loginwatch::wiring::replay;
use loginwatch_gen::{generate, GenConfig};

/// `gen` in the demo world: 3,000 accounts, 60,000 events, seed 5.
pub fn stream() -> Vec<u8> {
    let world = world_for(None).expect("demo world");
    let cfg = GenConfig {
        accounts: 3_000,
        events: 60_000,
        seed: 5,
        ..GenConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&cfg, &world, &mut bytes).expect("generate");
    bytes
}

/// Replays `bytes` with `config` (nothing rejected) and reads back each output line.
pub fn replay_lines<T: serde::de::DeserializeOwned>(bytes: &[u8], config: &Config) -> Vec<T> {
    let (mut out, mut dead) = (Vec::new(), Vec::new());
    let summary = replay(config, &mut &bytes[..], &mut out, &mut dead).expect("replay");
    assert_eq!(summary.rejected_total(), 0);
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("one JSON object per line"))
        .collect()
}
