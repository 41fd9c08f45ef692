//! Criterion: `loginwatch_model::decode` of generated ~300-byte lines (JSON → validated
//! `LoginEvent`: UTF-8 check, borrowed parse, IP and RFC 3339 parsing, owned strings).
//!
//! Two variants: `decode` (a new `LoginEvent` per line) and `decode_into` (one event decoded
//! into again, as the pipeline does, reusing its string buffers).
//!
//! `cargo bench -p loginwatch --bench decode`; compare with `--bench bare_parse` (the floor).

#[path = "common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const ACCOUNTS: u64 = 10_000;
const EVENTS: u64 = 20_000;

fn bench(c: &mut Criterion) {
    let lines = common::lines(&common::demo_places(), ACCOUNTS, EVENTS);
    eprintln!(
        "decode: {} lines, {:.0} bytes on average",
        lines.len(),
        common::total_bytes(&lines) as f64 / lines.len() as f64
    );
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("loginwatch_model::decode", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(loginwatch_model::decode(black_box(line), 64 * 1024));
            }
        })
    });
    let mut event = loginwatch_model::decode(&lines[0], 64 * 1024).expect("generated line");
    g.bench_function("loginwatch_model::decode_into", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(loginwatch_model::decode_into(
                    black_box(line),
                    64 * 1024,
                    &mut event,
                ));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
