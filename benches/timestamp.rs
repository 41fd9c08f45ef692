//! Criterion: `EventTime::parse_rfc3339` over the timestamps of generated lines
//! (`2026-11-02T00:00:01.067Z` shape: millisecond fraction, `Z`).
//!
//! `cargo bench -p loginwatch --bench timestamp`

#[path = "common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loginwatch_model::EventTime;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let lines = common::lines(&common::demo_places(), 10_000, 20_000);
    let stamps: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_slice::<common::BareEvent<'_>>(l).ok())
        .map(|e| e.timestamp.to_owned())
        .collect();
    assert!(
        stamps.iter().all(|s| EventTime::parse_rfc3339(s).is_some()),
        "every generated timestamp parses"
    );
    let mut g = c.benchmark_group("timestamp");
    g.throughput(Throughput::Elements(stamps.len() as u64));
    g.bench_function("EventTime::parse_rfc3339", |b| {
        b.iter(|| {
            for s in &stamps {
                black_box(EventTime::parse_rfc3339(black_box(s)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
