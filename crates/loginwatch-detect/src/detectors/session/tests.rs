//! session_hijack through the engine: a stolen cookie from elsewhere, and the session moves
//! that are normal (mobile handover, VPN switched on, trusted office).

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use loginwatch_model::{Alert, AlertKind, Severity};
use std::time::Duration;

fn hijacks(alerts: &[Alert]) -> Vec<&Alert> {
    of_kind(alerts, AlertKind::SessionHijack)
}

fn home(id: &str, secs: i64) -> Ev {
    ev("a", id, secs, "8.8.4.4")
        .city("Seoul")
        .asn(4766)
        .session("s1")
        .device("laptop")
}

#[test]
fn a_session_reused_from_another_country_and_device() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![
            home("e1", 0),
            home("e2", 600).activity(),
            ev("a", "e3", 1800, "9.9.9.9")
                .city("Shenyang")
                .asn(4837)
                .session("s1")
                .device("other")
                .activity(),
            ev("a", "e4", 2400, "9.9.9.9")
                .city("Shenyang")
                .asn(4837)
                .session("s1")
                .device("other")
                .activity(),
        ],
    );
    let h = hijacks(&alerts);
    assert_eq!(h.len(), 1, "one alert per session and reason: {alerts:#?}");
    assert_eq!(h[0].severity, Severity::Critical);
    assert_eq!(h[0].event_ids, vec!["e3".to_owned()]);
    let v = &h[0].evidence.to_value();
    assert_eq!(v["session_id"], "s1");
    assert_eq!(v["reasons"], serde_json::json!(["device", "country"]));
    assert_eq!(v["original"]["country"], "KR");
    assert_eq!(v["now"]["country"], "CN");
    assert!(
        h[0].summary.contains("started in KR and was used from CN"),
        "{}",
        h[0].summary
    );
}

#[test]
fn another_device_alone_is_high() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![home("e1", 0), home("e2", 60).device("phone").activity()],
    );
    let h = hijacks(&alerts);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].severity, Severity::High);
}

#[test]
fn normal_session_moves_stay_quiet() {
    let cases: Vec<(&str, Vec<Ev>)> = vec![
        (
            "mobile handover: other ASN, same country and device",
            vec![home("e1", 0), home("e2", 60).asn(9644).activity()],
        ),
        (
            "VPN switched on mid-session",
            vec![
                home("e1", 0),
                home("e2", 60).city("Frankfurt").asn(9009).vpn().activity(),
            ],
        ),
        (
            "a new session from another country is a new session",
            vec![home("e1", 0), home("e2", 4000).city("Tokyo").session("s2")],
        ),
        (
            "the same device without a device id",
            vec![
                home("e1", 0),
                ev("a", "e2", 60, "8.8.4.4").city("Seoul").session("s1"),
            ],
        ),
        (
            "failed logins with a session id",
            vec![
                home("e1", 0),
                home("e2", 60).city("Tokyo").device("x").failed(),
            ],
        ),
    ];
    for (name, logins) in cases {
        let mut e = engine_with(|_| {});
        let alerts = run(&mut e, logins);
        assert!(hijacks(&alerts).is_empty(), "{name}: {alerts:#?}");
    }
    // The trusted office network is not a session location.
    let mut e = engine_with(|c| c.exceptions.trusted_cidrs = vec!["9.9.9.0/24".into()]);
    let office = ev("a", "e2", 60, "9.9.9.9")
        .city("Tokyo")
        .session("s1")
        .device("other");
    assert!(hijacks(&run(&mut e, vec![home("e1", 0), office])).is_empty());
}

#[test]
fn asn_changes_alert_only_when_asked() {
    let mut e = engine_with(|c| c.detect.session_hijack.alert_on_asn_change = true);
    let alerts = run(
        &mut e,
        vec![home("e1", 0), home("e2", 60).asn(9644).activity()],
    );
    let h = hijacks(&alerts);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].severity, Severity::Medium);
    assert_eq!(h[0].evidence.to_value()["reasons"][0], "asn");
}

#[test]
fn sessions_per_account_are_bounded() {
    let mut e = engine_with(|_| {});
    let logins: Vec<Ev> = (0..50)
        .map(|i| home(&format!("e{i}"), i * 60).session(&format!("s{i}")))
        .collect();
    assert!(hijacks(&run(&mut e, logins)).is_empty());
    let state = e.state_of("a").unwrap();
    let sessions = state.get::<super::Sessions>().map_or(0, |s| s.0.len());
    assert_eq!(sessions, 8);
}

#[test]
fn sessions_unseen_for_forget_after_are_forgotten() {
    let reuse = |id: &str, secs: i64| {
        ev("a", id, secs, "9.9.9.9")
            .city("Shenyang")
            .asn(4837)
            .session("s1")
            .device("other")
            .activity()
    };
    let hour = 3600;
    // Within the default 24 h the fingerprint is remembered: the reuse alerts.
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, vec![home("e1", 0), reuse("e2", 23 * hour)]);
    assert_eq!(hijacks(&alerts).len(), 1);
    // After it, the session id starts over: nothing to compare with.
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, vec![home("e1", 0), reuse("e2", 25 * hour)]);
    assert!(hijacks(&alerts).is_empty(), "{alerts:#?}");
    // An account's memory follows its recent sessions, not its age.
    let mut e =
        engine_with(|c| c.detect.session_hijack.forget_after = Duration::from_secs(hour as u64));
    let logins: Vec<Ev> = (0..50)
        .map(|i| home(&format!("e{i}"), i * hour / 2).session(&format!("s{i}")))
        .collect();
    run(&mut e, logins);
    let state = e.state_of("a").unwrap();
    assert_eq!(state.get::<super::Sessions>().map_or(0, |s| s.0.len()), 3);
}
