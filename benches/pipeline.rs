//! Criterion: the whole pipeline, bytes → alerts: `decode` → `Locator::locate` →
//! `Engine::observe` → alert JSON serialization into a reused buffer, one line at a time
//! (`bytes_to_alerts`) and as `replay` runs it, 16 lines at a time with the prefetch stages
//! (`grouped`, `Pipeline::process_group`). Each iteration replays the stream into a fresh
//! pipeline (construction outside the timing).
//!
//! Groups: `pipeline/demo` (embedded demo world) and `pipeline/dbip` (DB-IP city database
//! named by `LOGINWATCH_DBIP`; skipped with a note when unset), each over lines generated
//! to resolve in that database.
//!
//! `LOGINWATCH_DBIP=$(benches/fetch-dbip.sh) cargo bench -p loginwatch --bench pipeline`

#[path = "common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use loginwatch::config::Config;
use loginwatch::wiring;
use loginwatch_detect::SharedIndex;
use loginwatch_geo::{demo_world, Locator};
use std::hint::black_box;
use std::sync::Arc;

const ACCOUNTS: u64 = 100_000;
const EVENTS: u64 = 300_000;

fn group(c: &mut Criterion, name: &str, locator: Locator, lines: &[Vec<u8>]) {
    let config = Config::default();
    let locator = Arc::new(locator);
    // A fresh cross-account index per run, as `wiring::replay` makes one per replay.
    let fresh = || {
        let shared = Arc::new(SharedIndex::for_config(&config.engine));
        wiring::pipeline(&config, Arc::clone(&locator), shared).expect("valid config")
    };
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("bytes_to_alerts", |b| {
        b.iter_batched_ref(
            fresh,
            |pipeline| {
                let mut alerts = Vec::new();
                let mut json = Vec::with_capacity(1 << 16);
                for line in lines {
                    alerts.clear();
                    let _ = black_box(pipeline.process(black_box(line), &mut alerts));
                    for a in &alerts {
                        json.clear();
                        serde_json::to_writer(&mut json, a).expect("alerts serialize");
                        black_box(&json);
                    }
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("grouped", |b| {
        b.iter_batched_ref(
            fresh,
            |pipeline| {
                let (mut alerts, mut results) = (Vec::new(), Vec::new());
                let mut json = Vec::with_capacity(1 << 16);
                for group in lines.chunks(16) {
                    let group: Vec<&[u8]> = group.iter().map(Vec::as_slice).collect();
                    alerts.clear();
                    pipeline.process_group(black_box(&group), &mut results, &mut alerts);
                    black_box(&results);
                    for a in &alerts {
                        json.clear();
                        serde_json::to_writer(&mut json, a).expect("alerts serialize");
                        black_box(&json);
                    }
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let lines = common::lines(&common::demo_places(), ACCOUNTS, EVENTS);
    group(c, "pipeline/demo", demo_world::locator(), &lines);
    drop(lines);

    if let Some((path, db)) = common::dbip("pipeline/dbip") {
        let lines = common::lines(&common::db_places(&db), ACCOUNTS, EVENTS);
        group(c, "pipeline/dbip", common::dbip_locator(&path), &lines);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
