//! Whole-stream tests of the generator over a toy world of six places.

use super::account::Role;
use super::kind::PLANTED;
use super::pools::Addr;
use super::world::world_from_networks;
use super::*;
use loginwatch_model::{decode, EventType, LoginEvent, Outcome};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Six places: New York (home broadband), New York mobile, Seoul, Shenyang (all dual stack),
/// Ashburn hosting and Pyongyang (IPv4 only, small blocks as in the real world).
pub fn toy_world() -> PlaceWorld {
    use NetClass::*;
    let rows = [
        ("23.240.0.0/14", 40.71, -74.0, "US", "New York", Residential),
        (
            "2600:1700::/28",
            40.71,
            -74.0,
            "US",
            "New York",
            Residential,
        ),
        ("172.56.0.0/16", 40.73, -73.95, "US", "New York", Mobile),
        ("2607:fb90::/32", 40.73, -73.95, "US", "New York", Mobile),
        ("121.128.0.0/14", 37.57, 126.98, "KR", "Seoul", Residential),
        ("2001:2d8::/32", 37.57, 126.98, "KR", "Seoul", Residential),
        ("42.100.0.0/16", 41.8, 123.43, "CN", "Shenyang", Residential),
        ("240e:300::/24", 41.8, 123.43, "CN", "Shenyang", Residential),
        ("3.208.0.0/14", 39.04, -77.49, "US", "Ashburn", Hosting),
        (
            "175.45.176.0/22",
            39.02,
            125.75,
            "KP",
            "Pyongyang",
            Residential,
        ),
    ];
    let rows: Vec<_> = rows
        .iter()
        .map(|(n, la, lo, c, city, k)| (n.parse().unwrap(), *la, *lo, *c, *city, *k))
        .collect();
    world_from_networks(&rows)
}

fn cfg(accounts: u64, events: u64, seed: u64) -> GenConfig {
    GenConfig {
        accounts,
        events,
        seed,
        ..GenConfig::default()
    }
}

fn run(c: &GenConfig, w: &dyn World) -> (Vec<u8>, Labels) {
    let mut out = Vec::new();
    let labels = generate(c, w, &mut out).unwrap();
    (out, labels)
}

/// Runs a generator to the end and keeps it, for its accounts and pools.
fn run_gen<'w>(c: &GenConfig, w: &'w PlaceWorld) -> (Vec<u8>, stream::Generator<'w>) {
    let mut g = stream::Generator::new(c, &w.places).unwrap();
    let mut out = Vec::new();
    while g.step(&mut out).unwrap() {}
    g.release_late(None, &mut out).unwrap();
    (out, g)
}

/// The generator's state of an account named `acct-000123`.
fn account_of<'g>(g: &'g stream::Generator<'_>, id: &str) -> &'g account::Account {
    let n: usize = id.trim_start_matches("acct-").parse().unwrap();
    &g.accounts[n]
}

fn events(bytes: &[u8]) -> Vec<LoginEvent> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| decode(l, 4096).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l))))
        .collect()
}

/// Each labelled account's planted kind.
fn kinds_by_account(labels: &Labels) -> HashMap<&str, Kind> {
    labels
        .accounts
        .iter()
        .map(|l| (l.account_id.as_str(), l.kind))
        .collect()
}

/// The place an IP belongs to in a world.
fn place_of(w: &PlaceWorld, ip: IpAddr) -> &Place {
    w.places
        .iter()
        .find(|p| p.networks.iter().any(|n| n.contains(&ip)))
        .expect("ip in world")
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let w = toy_world();
    let (a, la) = run(&cfg(300, 5_000, 7), &w);
    let (b, lb) = run(&cfg(300, 5_000, 7), &w);
    let (c, _) = run(&cfg(300, 5_000, 8), &w);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    assert_ne!(a, c);
}

#[test]
fn every_line_decodes_ids_unique_order_and_size() {
    let w = toy_world();
    let (bytes, _) = run(&cfg(2_000, 40_000, 1), &w);
    let evs = events(&bytes);
    assert_eq!(evs.len(), 40_000);
    let ids: HashSet<_> = evs.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), evs.len(), "event ids unique");
    let avg = bytes.len() / evs.len();
    assert!((200..=330).contains(&avg), "average line {avg} bytes");
    let (mut max, mut late) = (i64::MIN, 0);
    for e in &evs {
        let t = e.timestamp.millis();
        if t < max {
            late += 1;
            assert!(max - t <= stream::MAX_LATE_MS, "late by {} ms", max - t);
        }
        max = max.max(t);
        assert!(place_of(&w, e.ip).class != NetClass::Hosting || e.account_id.starts_with("acct-"));
    }
    assert!(late <= evs.len() / 200, "{late} late events");
}

#[test]
fn labels_match_planted_accounts() {
    let w = toy_world();
    let (bytes, labels) = run(&cfg(2_000, 40_000, 3), &w);
    let evs = events(&bytes);
    for k in PLANTED {
        assert!(labels.count(k) > 0, "{k:?} missing");
    }
    assert!(
        (38..=42).contains(&labels.accounts.len()),
        "{}",
        labels.accounts.len()
    );
    for l in &labels.accounts {
        let mine: Vec<_> = evs
            .iter()
            .filter(|e| e.account_id == l.account_id)
            .collect();
        assert!(!mine.is_empty(), "{} has no events", l.account_id);
        assert_eq!(mine[0].timestamp, l.first_event);
        assert_eq!(mine.last().unwrap().timestamp, l.last_event);
        let places: HashSet<_> = mine
            .iter()
            .map(|e| place_of(&w, e.ip).city.as_str())
            .collect();
        match l.kind {
            Kind::SanctionedRegion => assert_eq!(places, HashSet::from(["Pyongyang"])),
            Kind::AnonymizedIp => assert_eq!(places, HashSet::from(["Ashburn"])),
            Kind::LocationMismatch => assert_eq!(places, HashSet::from(["Shenyang"])),
            _ => assert!(!places.contains("Pyongyang") && !places.contains("Ashburn")),
        }
    }
    let mut jsonl = Vec::new();
    labels.write_jsonl(&mut jsonl).unwrap();
    let first: serde_json::Value =
        serde_json::from_slice(jsonl.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert!(first["account_id"].as_str().unwrap().starts_with("acct-"));
    assert!(first["kind"].is_string());
}

/// Successful logins per account, with place, in time order.
fn logins<'a>(
    w: &'a PlaceWorld,
    evs: &'a [LoginEvent],
) -> HashMap<&'a str, Vec<(i64, IpAddr, &'a Place)>> {
    let mut by: HashMap<&str, Vec<_>> = HashMap::new();
    for e in evs
        .iter()
        .filter(|e| e.event_type == EventType::Login && e.outcome == Outcome::Success)
    {
        by.entry(&e.account_id)
            .or_default()
            .push((e.timestamp.millis(), e.ip, place_of(w, e.ip)));
    }
    for v in by.values_mut() {
        v.sort_by_key(|x| x.0);
    }
    by
}

#[test]
fn ordinary_accounts_stay_quiet_and_planted_travel_fires() {
    let w = toy_world();
    let (bytes, labels) = run(&cfg(3_000, 60_000, 11), &w);
    let evs = events(&bytes);
    let kinds = kinds_by_account(&labels);
    for (acct, ls) in logins(&w, &evs) {
        let kind = kinds.get(acct).copied();
        let (mut travel, mut concurrent) = (false, false);
        for (i, b) in ls.iter().enumerate() {
            if i > 0 {
                let a = &ls[i - 1];
                let km = world::place_km(a.2, b.2);
                let h = (b.0 - a.0).max(1) as f64 / 3.6e6;
                travel |= a.1 != b.1 && km >= 100.0 && km / h > 900.0;
            }
            concurrent |= ls[..i]
                .iter()
                .any(|a| b.0 - a.0 <= 30 * 60_000 && a.2.country != b.2.country);
        }
        match kind {
            None | Some(Kind::SessionHijack | Kind::LongSession | Kind::SharedIp) => {
                assert!(!travel && !concurrent, "{acct} {kind:?}: {ls:?}")
            }
            Some(Kind::ImpossibleTravel) => assert!(travel && !concurrent, "{acct}"),
            Some(Kind::ConcurrentIps) => assert!(concurrent, "{acct}"),
            Some(_) => assert!(!concurrent, "{acct}"),
        }
    }
}

#[test]
fn ordinary_networks_are_not_shared() {
    let w = toy_world();
    let (bytes, g) = run_gen(&cfg(3_000, 30_000, 5), &w);
    let mut per_ip: HashMap<IpAddr, HashSet<String>> = HashMap::new();
    for e in events(&bytes) {
        // Farms, carrier pools and venues share addresses by design; the others' homes not.
        let own = |a: Addr| g.ctx.pools.ip(a, 0, false);
        let a = account_of(&g, &e.account_id);
        match a.role {
            Role::Planted(Kind::SharedIp) => continue,
            // A subscriber without a home line has its pool as `home`.
            Role::Subscriber if a.share == 0 => continue,
            Role::Subscriber | Role::Venue if e.ip != own(a.home) => continue,
            _ => {}
        }
        per_ip.entry(e.ip).or_default().insert(e.account_id);
    }
    let shared: Vec<_> = per_ip.iter().filter(|x| x.1.len() > 1).take(5).collect();
    assert!(shared.is_empty(), "{shared:?}");
}

#[test]
fn state_is_flat_in_the_number_of_events() {
    let w = toy_world();
    let c = cfg(500, 200_000, 2);
    let mut g = stream::Generator::new(&c, &w.places).unwrap();
    let mut sink = std::io::sink();
    let before = g.state_bytes();
    let mut peak = before;
    while g.step(&mut sink).unwrap() {
        peak = peak.max(g.state_bytes());
    }
    assert_eq!(g.written(), 200_000);
    assert!(
        peak < before + 64 * 1024,
        "state grew from {before} to {peak} bytes"
    );
    assert!(std::mem::size_of::<account::Account>() <= 72);
}

#[test]
fn worlds_without_hosting_or_kp_skip_those_kinds() {
    let full = toy_world();
    let w = PlaceWorld {
        places: full
            .places
            .iter()
            .filter(|p| p.class != NetClass::Hosting && p.country != "KP")
            .cloned()
            .collect(),
    };
    let (bytes, labels) = run(&cfg(1_000, 20_000, 4), &w);
    assert_eq!(events(&bytes).len(), 20_000);
    assert_eq!(labels.count(Kind::AnonymizedIp), 0);
    assert_eq!(labels.count(Kind::SanctionedRegion), 0);
    assert!(labels.count(Kind::ImpossibleTravel) > 0);
}

#[test]
fn small_and_degenerate_inputs() {
    let w = toy_world();
    let (bytes, labels) = run(&cfg(100, 10, 1), &w);
    assert_eq!(events(&bytes).len(), 10);
    assert!(labels.accounts.iter().all(|l| l.first_event.0 != i64::MAX));
    let (bytes, _) = run(&cfg(5, 0, 1), &w);
    assert!(bytes.is_empty());
    let mut out = Vec::new();
    assert!(generate(&cfg(0, 10, 1), &w, &mut out).is_err());
    assert!(generate(
        &GenConfig {
            anomaly_rate: 2.0,
            ..cfg(1, 1, 1)
        },
        &w,
        &mut out
    )
    .is_err());
    let empty = PlaceWorld::default();
    assert!(generate(&cfg(1, 1, 1), &empty, &mut out).is_err());
}

/// Each planted kind shows its signature, and ordinary accounts show none of them.
#[test]
fn planted_signatures_and_quiet_ordinary_accounts() {
    let w = toy_world();
    let (bytes, labels) = run(&cfg(3_000, 60_000, 13), &w);
    let evs = events(&bytes);
    let kinds = kinds_by_account(&labels);
    let mut by: HashMap<&str, Vec<&LoginEvent>> = HashMap::new();
    for e in &evs {
        by.entry(&e.account_id).or_default().push(e);
    }
    for (acct, es) in by {
        let kind = kinds.get(acct).copied();
        // Sessions seen from more than one IP or device.
        let mut sessions: HashMap<&str, HashSet<(IpAddr, Option<&str>)>> = HashMap::new();
        for e in &es {
            if let Some(s) = &e.session_id {
                sessions
                    .entry(s)
                    .or_default()
                    .insert((e.ip, e.device_id.as_deref()));
            }
        }
        let hijacked = sessions.values().any(|s| s.len() > 1);
        assert_eq!(
            hijacked,
            kind == Some(Kind::SessionHijack),
            "{acct} {kind:?}"
        );
        // Longest run with gaps of at most an hour.
        let (mut run_start, mut longest) = (es[0].timestamp.millis(), 0);
        for p in es.windows(2) {
            let (a, b) = (p[0].timestamp.millis(), p[1].timestamp.millis());
            if b - a > 3_600_000 {
                run_start = b;
            }
            longest = longest.max(b - run_start);
        }
        assert_eq!(
            longest >= 26 * 3_600_000,
            kind == Some(Kind::LongSession),
            "{acct}"
        );
        // Logins located in the claimed country.
        let logins: Vec<_> = es
            .iter()
            .filter(|e| e.event_type == EventType::Login)
            .collect();
        let home = logins
            .iter()
            .filter(|e| {
                e.claimed_country.map(|c| c.to_string()) == Some(place_of(&w, e.ip).country.clone())
            })
            .count();
        let korean = logins.iter().any(|e| {
            e.accept_language
                .as_deref()
                .is_some_and(|l| l.starts_with("ko"))
                && !matches!(
                    e.claimed_country.map(|c| c.to_string()).as_deref(),
                    Some("KR" | "KP")
                )
        });
        let mismatch = home * 2 <= logins.len() || korean;
        assert_eq!(
            mismatch,
            kind == Some(Kind::LocationMismatch),
            "{acct} {home}/{}",
            logins.len()
        );
    }
}

mod shared_addresses;
