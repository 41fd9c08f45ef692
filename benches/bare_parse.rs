//! Criterion: the floor — a borrowed `serde_json` parse of the same generated lines into
//! [`common::BareEvent`] (every field as `&str`, nothing validated, nothing allocated).
//! Every processor does at least this much per event; the targets are ratios to it.
//! For comparison, the same parse with `sonic_rs` and `simd_json` (not used by loginwatch: see
//! BENCHMARKS.md, "Parsers").
//!
//! `cargo bench -p loginwatch --bench bare_parse`

#[path = "common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const ACCOUNTS: u64 = 10_000;
const EVENTS: u64 = 20_000;

fn bench(c: &mut Criterion) {
    let lines = common::lines(&common::demo_places(), ACCOUNTS, EVENTS);
    let mut g = c.benchmark_group("bare_parse");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("serde_json::from_slice::<BareEvent>", |b| {
        b.iter(|| {
            for line in &lines {
                let ev: Result<common::BareEvent<'_>, _> = serde_json::from_slice(black_box(line));
                let _ = black_box(ev);
            }
        })
    });
    g.bench_function("serde_json::from_slice::<IgnoredAny>", |b| {
        b.iter(|| {
            for line in &lines {
                let ev: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(black_box(line));
                let _ = black_box(ev);
            }
        })
    });
    // Faster parsers the issue asks us to consider, over the same struct (borrowed strings).
    g.bench_function("sonic_rs::from_slice::<BareEvent>", |b| {
        b.iter(|| {
            for line in &lines {
                let ev: Result<common::BareEvent<'_>, _> = sonic_rs::from_slice(black_box(line));
                let _ = black_box(ev);
            }
        })
    });
    let mut copies: Vec<Vec<u8>> = lines.clone();
    g.bench_function("simd_json::from_slice::<BareEvent>", |b| {
        b.iter(|| {
            // simd-json parses in place: restore each line first (the copy is part of its cost).
            for (copy, line) in copies.iter_mut().zip(&lines) {
                copy.copy_from_slice(line);
                let ev: Result<common::BareEvent<'_>, _> = simd_json::from_slice(black_box(copy));
                let _ = black_box(ev);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
