//! Tests of the concurrent-IPs detector, driven through the engine with tables of logins.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use loginwatch_model::{AlertKind, Severity};

/// (name, logins, expected alerts)
type Case<'a> = (&'a str, Vec<Ev>, Vec<&'a [&'a str]>);

/// Runs `logins` with only concurrent_ips enabled and no cooldown; returns each alert's ids.
fn concurrent(logins: Vec<Ev>) -> Vec<Vec<String>> {
    let mut e = engine_with(|c| {
        c.detect.impossible_travel.enabled = false;
        c.engine.suppression_cooldown = std::time::Duration::ZERO;
    });
    let alerts = run(&mut e, logins);
    of_kind(&alerts, AlertKind::ConcurrentIps)
        .into_iter()
        .map(|a| a.event_ids.clone())
        .collect()
}

fn ids(sets: &[&[&str]]) -> Vec<Vec<String>> {
    sets.iter()
        .map(|s| s.iter().map(|x| x.to_string()).collect())
        .collect()
}

#[test]
fn table() {
    let a = "acct";
    let cases: Vec<Case> = vec![
        (
            "two IPs in two countries within 30 min",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 1500, "2.2.2.2").city("Beijing"),
            ],
            vec![&["e1", "e2"]],
        ),
        (
            "31 min apart is outside the window",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 1860, "2.2.2.2").city("Beijing"),
            ],
            vec![],
        ),
        (
            "two IPs in one country",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "2.2.2.2").city("Busan"),
            ],
            vec![],
        ),
        (
            "one IP in two countries (GeoIP moved it)",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "1.1.1.1").city("Beijing"),
            ],
            vec![],
        ),
        (
            "one IPv6 /64 counts as one IP",
            vec![
                ev(a, "e1", 0, "2001:db8:0:1::1").city("Seoul"),
                ev(a, "e2", 60, "2001:db8:0:1::2").city("Beijing"),
            ],
            vec![],
        ),
        (
            "two IPv6 /64s count as two",
            vec![
                ev(a, "e1", 0, "2001:db8:0:1::1").city("Seoul"),
                ev(a, "e2", 60, "2001:db8:0:2::1").city("Beijing"),
            ],
            vec![&["e1", "e2"]],
        ),
        (
            "failed logins do not count",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "2.2.2.2").city("Beijing").failed(),
            ],
            vec![],
        ),
        (
            "every login in the window is listed",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "1.1.1.2").city("Seoul"),
                ev(a, "e3", 120, "2.2.2.2").city("Beijing"),
            ],
            vec![&["e1", "e2", "e3"]],
        ),
        (
            "a late login is judged over the window before it",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e3", 240, "1.1.1.3").city("Seoul"),
                ev(a, "e2", 120, "2.2.2.2").city("Beijing"),
            ],
            vec![&["e1", "e2"]],
        ),
    ];
    for (name, logins, want) in cases {
        assert_eq!(concurrent(logins), ids(&want), "{name}");
    }
}

#[test]
fn evidence_severity_and_spread() {
    let mut e = engine_with(|c| c.detect.sanctioned_region.watch_countries.clear());
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1").city("Seoul"),
            ev("a", "e2", 60, "2.2.2.2").city("Tokyo"),
            ev("a", "e3", 120, "3.3.3.3").city("Beijing"),
        ],
    );
    let c = of_kind(&alerts, AlertKind::ConcurrentIps);
    // e2 alerts (2 countries); e3 is worse (a new country) and re-alerts despite the cooldown.
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].severity, Severity::Medium);
    assert_eq!(c[1].severity, Severity::High);
    let v = &c[1].evidence.to_value();
    assert_eq!(
        (
            v["window_s"].as_f64(),
            v["distinct_ips"].as_u64(),
            v["distinct_countries"].as_u64()
        ),
        (Some(1800.0), Some(3), Some(3))
    );
    assert_eq!(v["logins"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        c[1].summary,
        "a logged in from 3 IPs in 3 countries (KR, JP, CN) within 2 min"
    );
    // A border hop with min_spread_km set stays quiet.
    let mut e = engine_with(|c| c.detect.concurrent_ips.min_spread_km = 500.0);
    let near = run(
        &mut e,
        vec![
            ev("b", "e1", 0, "1.1.1.1").city("Paris"),
            ev("b", "e2", 60, "2.2.2.2").city("Frankfurt"),
        ],
    );
    assert!(of_kind(&near, AlertKind::ConcurrentIps).is_empty());
}

#[test]
fn anonymized_countries_downgrade() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1").city("Seoul"),
            ev("a", "e2", 60, "2.2.2.2").city("Frankfurt").vpn(),
        ],
    );
    assert_eq!(
        of_kind(&alerts, AlertKind::ConcurrentIps)[0].severity,
        Severity::Low
    );
}
