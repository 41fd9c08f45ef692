//! Tests of the impossible-travel detector, driven through the engine with tables of logins.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use loginwatch_model::{AlertKind, Severity};

/// (name, logins, expected alerts)
type Case<'a> = (&'a str, Vec<Ev>, Vec<(&'a str, &'a str)>);

/// Runs `logins` with only impossible_travel enabled; returns (event ids, severity) per alert.
fn travel(logins: Vec<Ev>) -> Vec<(Vec<String>, Severity)> {
    let mut e = engine_with(|c| {
        c.detect.concurrent_ips.enabled = false;
        c.detect.sanctioned_region.watch_countries.clear();
        c.engine.suppression_cooldown = std::time::Duration::ZERO;
    });
    let alerts = run(&mut e, logins);
    of_kind(&alerts, AlertKind::ImpossibleTravel)
        .into_iter()
        .map(|a| (a.event_ids.clone(), a.severity))
        .collect()
}

fn ids(pairs: &[(&str, &str)]) -> Vec<Vec<String>> {
    pairs
        .iter()
        .map(|(a, b)| vec![a.to_string(), b.to_string()])
        .collect()
}

fn only_ids(v: Vec<(Vec<String>, Severity)>) -> Vec<Vec<String>> {
    v.into_iter().map(|(i, _)| i).collect()
}

#[test]
fn table() {
    let a = "acct";
    // (name, logins, expected alerting pairs)
    let cases: Vec<Case> = vec![
        (
            "Seoul then Lagos 12 min later",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 720, "2.2.2.2").city("Lagos"),
            ],
            vec![("e1", "e2")],
        ),
        (
            "a real flight Seoul to London in 14 h",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 14 * 3600, "2.2.2.2").city("London"),
            ],
            vec![],
        ),
        (
            "same IP, GeoIP moved it",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "1.1.1.1").city("Lagos"),
            ],
            vec![],
        ),
        (
            "same IPv6 /64",
            vec![
                ev(a, "e1", 0, "2001:db8:1:2::1").city("Seoul"),
                ev(a, "e2", 60, "2001:db8:1:2::ffff").city("Lagos"),
            ],
            vec![],
        ),
        (
            "different IPv6 /64",
            vec![
                ev(a, "e1", 0, "2001:db8:1:2::1").city("Seoul"),
                ev(a, "e2", 60, "2001:db8:1:3::1").city("Lagos"),
            ],
            vec![("e1", "e2")],
        ),
        (
            "IPv4-mapped IPv6 equals its IPv4",
            vec![
                ev(a, "e1", 0, "::ffff:1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "1.1.1.1").city("Lagos"),
            ],
            vec![],
        ),
        (
            "dual stack in one ASN",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul").asn(4766),
                ev(a, "e2", 60, "2001:db8::1").city("Busan").asn(4766),
            ],
            vec![],
        ),
        (
            "Seoul to Busan (325 km) in 10 min is too fast",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 600, "2.2.2.2").city("Busan"),
            ],
            vec![("e1", "e2")],
        ),
        (
            "accuracy radii push the hop under the floor",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul").accuracy(100.0),
                ev(a, "e2", 600, "2.2.2.2").city("Busan").accuracy(150.0),
            ],
            vec![],
        ),
        (
            "Seoul to Incheon is under min_distance",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 1, "2.2.2.2").city("Incheon"),
            ],
            vec![],
        ),
        (
            "an unlocated login is no travel point",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "10.0.0.1"),
                ev(a, "e3", 7200, "2.2.2.2").city("Tokyo"),
            ],
            vec![],
        ),
        (
            "failed and activity events are ignored",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "2.2.2.2").city("Lagos").failed(),
                ev(a, "e3", 60, "2.2.2.3").city("Lagos").activity(),
            ],
            vec![],
        ),
        (
            "simultaneous logins far apart",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 0, "2.2.2.2").city("London"),
            ],
            vec![("e1", "e2")],
        ),
        (
            "late event between two: checked against both neighbours",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("London"),
                ev(a, "e3", 600, "1.1.1.2").city("London"),
                ev(a, "e2", 300, "2.2.2.2").city("Moscow"),
            ],
            vec![("e1", "e2"), ("e2", "e3")],
        ),
        (
            "VPN exit: checked, but the next login compares with the last plain one",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 600, "2.2.2.2").city("Frankfurt").vpn(),
                ev(a, "e3", 1200, "1.1.1.9").city("Seoul"),
            ],
            vec![("e1", "e2")],
        ),
        (
            "two VPN exits are never compared with each other",
            vec![
                ev(a, "e1", 0, "2.2.2.2").city("Frankfurt").vpn(),
                ev(a, "e2", 600, "3.3.3.3").city("Tokyo").vpn(),
            ],
            vec![],
        ),
        (
            "other accounts are separate",
            vec![
                ev("x", "e1", 0, "1.1.1.1").city("Seoul"),
                ev("y", "e2", 60, "2.2.2.2").city("Lagos"),
            ],
            vec![],
        ),
    ];
    for (name, logins, want) in cases {
        assert_eq!(only_ids(travel(logins)), ids(&want), "{name}");
    }
}

#[test]
fn severity_grows_and_anonymizers_downgrade() {
    let a = "acct";
    let sev = |logins| travel(logins).first().map(|x| x.1);
    // Seoul→Lagos 11,500 km in 12 min: ≥ 2000 km, > 5× → critical.
    let far_fast = vec![
        ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
        ev(a, "e2", 720, "2.2.2.2").city("Lagos"),
    ];
    assert_eq!(sev(far_fast), Some(Severity::Critical));
    // Seoul→Busan ~305 km (after radii) in 15 min ≈ 1,220 km/h: < 500 km, ≤ 2× → low.
    let near = vec![
        ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
        ev(a, "e2", 900, "2.2.2.2").city("Busan"),
    ];
    assert_eq!(sev(near), Some(Severity::Low));
    // London→Moscow ~2,500 km in 1 h: ≥ 2000 km, ≤ 5× → high; via VPN → medium.
    let mid = |vpn: bool| {
        let to = ev(a, "e2", 3600, "2.2.2.2").city("Moscow");
        vec![
            ev(a, "e1", 0, "1.1.1.1").city("London"),
            if vpn { to.vpn() } else { to },
        ]
    };
    assert_eq!(sev(mid(false)), Some(Severity::High));
    assert_eq!(sev(mid(true)), Some(Severity::Medium));
}

#[test]
fn evidence_and_summary_follow_the_contract() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![
            ev("acct-42", "e1", 0, "1.1.1.1").city("Seoul"),
            ev("acct-42", "e2", 720, "2.2.2.2").city("Lagos"),
        ],
    );
    let a = of_kind(&alerts, AlertKind::ImpossibleTravel)[0];
    assert_eq!(a.event_ids, ["e1", "e2"]);
    assert_eq!(
        a.summary,
        "acct-42 logged in from Seoul, KR then Lagos, NG 12 min later: 12,400 km at 61,900 km/h"
    );
    let v = &a.evidence.to_value();
    for key in ["distance_km", "speed_kmh", "elapsed_s", "from", "to"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    for key in [
        "event_id",
        "ip",
        "timestamp",
        "lat",
        "lon",
        "country",
        "city",
        "asn",
        "anonymizer",
    ] {
        assert!(
            v["from"].get(key).is_some() && v["to"].get(key).is_some(),
            "{key}"
        );
    }
    assert_eq!(v["elapsed_s"], 720.0);
    assert_eq!(v["from"]["city"], "Seoul");
    assert_eq!(v["to"]["timestamp"], "2026-11-24T10:12:00Z");
    let simultaneous = run(
        &mut engine_with(|_| {}),
        vec![
            ev("b", "e1", 0, "1.1.1.1").city("Seoul"),
            ev("b", "e2", 0, "2.2.2.2").city("Lagos"),
        ],
    );
    let s = of_kind(&simultaneous, AlertKind::ImpossibleTravel)[0];
    assert!(
        s.evidence.to_value()["speed_kmh"].is_null()
            && s.evidence.to_value()["simultaneous"] == true
    );
    assert!(s.summary.contains("at the same time"), "{}", s.summary);
}

#[test]
fn public_rule_thresholds() {
    // Splunk-style: 500 mph (805 km/h) and 750 mi (1,207 km).
    let hop = |secs: i64, to: &str| {
        let mut e = engine_with(|c| {
            c.detect.impossible_travel.max_speed_kmh = 805.0;
            c.detect.impossible_travel.min_distance_km = 1207.0;
        });
        let alerts = run(
            &mut e,
            vec![
                ev("a", "e1", 0, "1.1.1.1").city("London"),
                ev("a", "e2", secs, "2.2.2.2").city(to),
            ],
        );
        of_kind(&alerts, AlertKind::ImpossibleTravel).len()
    };
    assert_eq!(hop(3600, "Paris"), 0); // 344 km: under the distance floor
    assert_eq!(hop(3600, "Moscow"), 1); // ~2,500 km in 1 h
    assert_eq!(hop(4 * 3600, "Moscow"), 0); // ~620 km/h
}

mod properties {
    use super::super::{Hop, ImpossibleTravel};
    use crate::config::ImpossibleTravelConfig;
    use crate::record::Record;
    use crate::testkit::ev;
    use proptest::prelude::*;

    fn point(id: &str, secs: i64, ip: &str, (lat, lon, acc): (f64, f64, f64)) -> Record {
        Record::from_login(&ev("a", id, secs, ip).at(lat, lon, acc, "ZZ", "X").build())
    }

    fn coord() -> impl Strategy<Value = (f64, f64, f64)> {
        (-90.0f64..=90.0, -180.0f64..=180.0, 0.0f64..200.0)
    }

    proptest! {
        #[test]
        fn alerts_obey_thresholds_and_shorter_times_only_add(
            p in coord(), q in coord(), secs in 0i64..200_000
        ) {
            let d = ImpossibleTravel::new(&ImpossibleTravelConfig::default());
            let a = point("a", 0, "192.0.2.1", p);
            let b = point("b", secs, "198.51.100.1", q);
            if let Some(Hop { distance_km, speed_kmh, .. }) = d.hop(&a, &b) {
                prop_assert!(distance_km >= 100.0 && speed_kmh > 900.0);
                prop_assert!(secs < 23 * 3600, "a hop over 22.3 h can never be too fast");
                let sooner = point("b", secs / 2, "198.51.100.1", q);
                prop_assert!(d.hop(&a, &sooner).is_some());
            }
            // Same host: never.
            let same = point("b", secs, "192.0.2.1", q);
            prop_assert!(d.hop(&a, &same).is_none());
        }
    }
}
