//! Criterion: GeoIP per event. `CityDb::lookup` (mmdb tree walk + decode of the needed fields,
//! behind the database's own per-record cache), `Locator::locate` (city + ASN + anonymizer
//! lookups, routability, building the `Login`) and `Locator::locate_cached` (the same through
//! a worker's network cache as `replay` sizes it, empty at the start of each pass over the
//! events, so its misses are counted too). `locate` takes the event by value, so each
//! iteration clones it; `clone_event` measures that clone alone, to subtract.
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
use loginwatch::wiring::IP_CACHE_SLOTS;
use loginwatch_geo::{demo_world, CityDb, IpCache, Locator};
use loginwatch_model::LoginEvent;
use std::hint::black_box;

const ACCOUNTS: u64 = 10_000;
const EVENTS: u64 = 20_000;

fn events(lines: &[Vec<u8>]) -> Vec<LoginEvent> {
    lines
        .iter()
        .filter_map(|l| loginwatch_model::decode(l, 64 * 1024).ok())
        .collect()
}

fn group(c: &mut Criterion, name: &str, db: &CityDb, locator: &Locator, events: &[LoginEvent]) {
    let found = events.iter().filter(|e| db.lookup(e.ip).is_some()).count();
    eprintln!(
        "{name}: {} events, {found} resolve in the city database",
        events.len()
    );
    let mut cache = IpCache::new(IP_CACHE_SLOTS);
    for e in events {
        locator.locate_cached(e.clone(), &mut cache);
    }
    let (hits, misses) = cache.counts();
    eprintln!("{name}: network cache, one pass: {hits} hits, {misses} misses");
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
            || IpCache::new(IP_CACHE_SLOTS),
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
