//! Criterion: GeoIP per event. `CityDb::lookup` (mmdb tree walk + decode of the needed fields,
//! behind the database's own per-record cache), `Locator::locate` (city + ASN + anonymizer
//! lookups, routability, building the `Login`) and `Locator::locate_cached` (the same through
//! a worker's cache as `replay` sizes it, warmed by the stream's first half before each pass
//! over the second, as a long-running worker is: its misses are the networks and answers the
//! second half brings). `locate` takes the event by value, so each iteration clones it;
//! `clone_event` measures that clone alone, to subtract. The measured events are the second
//! half of the generated stream.
//!
//! Groups: `geoip/demo` (the embedded demo world with its city, ASN and anonymous databases)
//! and `geoip/dbip` (a real DB-IP Lite city database named by `LOGINWATCH_DBIP`, city only as
//! `replay --geoip-city` uses it; skipped with a note when unset), each over lines generated
//! to resolve in that database.
//!
//! `LOGINWATCH_DBIP=$(benches/fetch-dbip.sh) cargo bench -p loginwatch --bench geoip`

#[path = "common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use loginwatch_geo::{demo_world, CityDb, IpCache, Locator};
use loginwatch_model::LoginEvent;
use loginwatch_replay::IP_CACHE_SLOTS;
use std::hint::black_box;

const ACCOUNTS: u64 = 10_000;
/// Twice the measured events: the first half warms the cache.
const EVENTS: u64 = 40_000;

fn events(lines: &[Vec<u8>]) -> Vec<LoginEvent> {
    lines
        .iter()
        .filter_map(|l| loginwatch_model::decode(l, 64 * 1024).ok())
        .collect()
}

/// `all` split into the warm-up half and the measured half.
fn halves(all: &[LoginEvent]) -> (&[LoginEvent], &[LoginEvent]) {
    all.split_at(all.len() / 2)
}

fn group(c: &mut Criterion, name: &str, db: &CityDb, locator: &Locator, all: &[LoginEvent]) {
    let (warm, events) = halves(all);
    let warmed = || {
        let mut cache = IpCache::new(IP_CACHE_SLOTS);
        for e in warm {
            locator.locate_cached(e.clone(), &mut cache);
        }
        cache
    };
    let found = events.iter().filter(|e| db.lookup(e.ip).is_some()).count();
    eprintln!(
        "{name}: {} events, {found} resolve in the city database",
        events.len()
    );
    let mut cache = warmed();
    let before = cache.counts();
    for e in events {
        locator.locate_cached(e.clone(), &mut cache);
    }
    let (hits, misses) = cache.counts();
    let (hits, misses) = (hits - before.0, misses - before.1);
    eprintln!("{name}: cache over the measured half: {hits} hits, {misses} misses");
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("CityDb::lookup", |b| {
        b.iter(|| {
            for e in events {
                black_box(db.lookup(black_box(e.ip)));
            }
        })
    });
    g.bench_function("Locator::locate (with clone)", |b| {
        b.iter(|| {
            for e in events {
                black_box(locator.locate(e.clone()));
            }
        })
    });
    g.bench_function("Locator::locate_cached (with clone)", |b| {
        b.iter_batched_ref(
            warmed,
            |cache| {
                for e in events {
                    black_box(locator.locate_cached(e.clone(), cache));
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("clone_event", |b| {
        b.iter(|| {
            for e in events {
                black_box(e.clone());
            }
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let demo = events(&common::lines(&common::demo_places(), ACCOUNTS, EVENTS));
    let (db, locator) = (demo_world::city_db(), demo_world::locator());
    group(c, "geoip/demo", &db, &locator, &demo);

    if let Some((path, db)) = common::dbip("geoip/dbip") {
        let real = events(&common::lines(&common::db_places(&db), ACCOUNTS, EVENTS));
        let locator = common::dbip_locator(&path);
        group(c, "geoip/dbip", &db, &locator, &real);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
