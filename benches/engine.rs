//! Criterion: `Engine::observe` (window update, every enabled detector, suppression, alert
//! building) over pre-located logins of many accounts. Each iteration replays the whole
//! stream into a fresh engine (engine construction is outside the timing), so the account
//! table grows from empty to `ACCOUNTS` entries as it does in a replay.
//!
//! Variants: `all` (default configuration), `window_only` (every detector disabled: the
//! table, window insert/trim and bookkeeping), and each of the eight detectors alone.
//!
//! `cargo bench -p loginwatch --bench engine`

#[path = "common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use loginwatch_detect::{Engine, EngineConfig};
use loginwatch_geo::{demo_world, Login};
use loginwatch_model::Alert;
use std::hint::black_box;
use std::sync::Arc;

const ACCOUNTS: u64 = 100_000;
const EVENTS: u64 = 300_000;

fn logins() -> Vec<Login> {
    let locator = demo_world::locator();
    common::lines(&common::demo_places(), ACCOUNTS, EVENTS)
        .iter()
        .filter_map(|l| loginwatch_model::decode(l, 64 * 1024).ok())
        .map(|e| locator.locate(e))
        .collect()
}

/// Every detector the engine registers (`crates/loginwatch-detect/src/detectors/mod.rs`).
const DETECTORS: [&str; 8] = [
    "impossible_travel",
    "concurrent_ips",
    "anonymized_ip",
    "sanctioned_region",
    "shared_ip",
    "location_mismatch",
    "session_hijack",
    "long_session",
];

/// The default configuration with only the detectors `keep` names enabled.
fn config(keep: &[&str]) -> EngineConfig {
    let mut c = EngineConfig::default();
    let d = &mut c.detect;
    d.impossible_travel.enabled = keep.contains(&"impossible_travel");
    d.concurrent_ips.enabled = keep.contains(&"concurrent_ips");
    d.anonymized_ip.enabled = keep.contains(&"anonymized_ip");
    d.sanctioned_region.enabled = keep.contains(&"sanctioned_region");
    d.shared_ip.enabled = keep.contains(&"shared_ip");
    d.location_mismatch.enabled = keep.contains(&"location_mismatch");
    d.session_hijack.enabled = keep.contains(&"session_hijack");
    d.long_session.enabled = keep.contains(&"long_session");
    c
}

fn run(engine: &mut Engine, logins: &[Login], out: &mut Vec<Alert>) {
    for login in logins {
        out.clear();
        engine.observe(black_box(login), out);
        black_box(&*out);
    }
}

fn bench(c: &mut Criterion) {
    let logins = logins();
    let all = Arc::new(EngineConfig::default());
    let mut probe = Engine::new(Arc::clone(&all)).expect("default configuration is valid");
    let mut out = Vec::new();
    let mut alerts = 0;
    for l in &logins {
        out.clear();
        probe.observe(l, &mut out);
        alerts += out.len();
    }
    let stats = probe.stats();
    eprintln!(
        "engine: {} logins, {} accounts tracked, {alerts} alerts, ~{} bytes of state ({:.0} per account)",
        logins.len(),
        stats.tracked_accounts,
        stats.approx_state_bytes,
        stats.approx_state_bytes as f64 / stats.tracked_accounts.max(1) as f64
    );
    drop(probe);

    let mut variants = vec![("all", all), ("window_only", Arc::new(config(&[])))];
    for name in DETECTORS {
        variants.push((name, Arc::new(config(&[name]))));
    }
    let mut g = c.benchmark_group("engine/observe");
    g.sample_size(10);
    g.throughput(Throughput::Elements(logins.len() as u64));
    for (name, cfg) in variants {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || (Engine::new(Arc::clone(&cfg)).expect("valid"), Vec::new()),
                |(engine, out)| run(engine, &logins, out),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
