//! Engine tests: lateness, duplicates, bounds, suppression, exceptions, determinism, stats.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use crate::{DropReason, Engine, EngineConfig};
use loginwatch_model::{Alert, AlertKind, Severity};
use std::sync::Arc;
use std::time::Duration;

fn hop(account: &str, n: i64) -> Vec<Ev> {
    // Seoul, then Lagos 12 min later: impossible travel and concurrent IPs.
    vec![
        ev(account, &format!("{account}-{n}a"), n * 10_000, "1.1.1.1").city("Seoul"),
        ev(
            account,
            &format!("{account}-{n}b"),
            n * 10_000 + 720,
            "2.2.2.2",
        )
        .city("Lagos"),
    ]
}

fn dropped(e: &Engine, reason: DropReason) -> u64 {
    e.stats()
        .dropped
        .iter()
        .find(|(r, _)| *r == reason)
        .map_or(0, |x| x.1)
}

#[test]
fn too_late_events_are_counted_not_used() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 1000, "1.1.1.1").city("Seoul"),
            ev("a", "e0", 1000 - 301, "2.2.2.2").city("Lagos"), // 5 min 1 s late
        ],
    );
    assert!(alerts.is_empty());
    assert_eq!(
        (e.stats().late_dropped, dropped(&e, DropReason::TooLate)),
        (1, 1)
    );
    // Within the lateness it is used.
    let alerts = run(
        &mut e,
        vec![ev("a", "e00", 1000 - 299, "2.2.2.2").city("Lagos")],
    );
    assert_eq!(of_kind(&alerts, AlertKind::ImpossibleTravel).len(), 1);
}

#[test]
fn redelivered_logins_are_duplicates() {
    let mut e = engine_with(|_| {});
    let first = run(&mut e, hop("a", 0));
    let again = run(&mut e, hop("a", 0));
    assert!(!first.is_empty() && again.is_empty());
    // The first event is now 12 min behind the account's newest: too late before duplicate.
    assert_eq!(dropped(&e, DropReason::Duplicate), 1);
    assert_eq!(dropped(&e, DropReason::TooLate), 1);
}

#[test]
fn failed_logins_are_ignored() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1").city("Seoul"),
            ev("a", "e2", 60, "2.2.2.2").city("Lagos").failed(),
            ev("a", "e3", 120, "3.3.3.3").city("Pyongyang").failed(),
        ],
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn suppression_and_worse_realerts() {
    let mut e = engine_with(|c| c.detect.concurrent_ips.enabled = false);
    let a = "acct";
    let alerts = run(
        &mut e,
        vec![
            ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
            ev(a, "e2", 1800, "2.2.2.2").city("Moscow"), // ~6,600 km in 30 min: alert
            ev(a, "e3", 3600, "1.1.1.1").city("Seoul"), // back, same speed and countries: suppressed
            ev(a, "e4", 3900, "3.3.3.3").city("Lagos"), // a new country: alert
            ev(a, "e5", 4020, "1.1.1.1").city("Seoul"), // no new country but 2.5× faster: alert
            ev(a, "e6", 4320, "3.3.3.3").city("Lagos"), // nothing worse: suppressed
            ev(a, "e7", 4020 + 3601, "2.2.2.2").city("Moscow"), // cooldown over: alert
        ],
    );
    let got: Vec<&str> = of_kind(&alerts, AlertKind::ImpossibleTravel)
        .iter()
        .map(|a| a.event_ids[1].as_str())
        .collect();
    assert_eq!(got, ["e2", "e4", "e5", "e7"]);
    let s = e.stats();
    assert_eq!(s.suppressed_alerts, 2);
    let by = |k| s.suppressed_by_kind.iter().find(|x| x.0 == k).map(|x| x.1);
    assert_eq!(by(AlertKind::ImpossibleTravel), Some(2));
}

#[test]
fn evicts_least_recently_seen_at_max_accounts() {
    let mut e = engine_with(|c| c.engine.max_accounts = 2);
    run(&mut e, vec![ev("a", "a1", 0, "1.1.1.1").city("Seoul")]);
    run(&mut e, vec![ev("b", "b1", 10, "1.1.1.1").city("Seoul")]);
    run(&mut e, vec![ev("a", "a2", 20, "1.1.1.1").city("Seoul")]); // a is now the newer
    run(&mut e, vec![ev("c", "c1", 30, "1.1.1.1").city("Seoul")]); // evicts b
    let s = e.stats();
    assert_eq!((s.tracked_accounts, s.evicted_accounts), (2, 1));
    // a's window survived: a hop from its Seoul login still alerts; b starts afresh.
    let alerts = run(
        &mut e,
        vec![
            ev("a", "a3", 60, "2.2.2.2").city("Lagos"),
            ev("b", "b2", 60, "2.2.2.2").city("Lagos"),
        ],
    );
    let travel = of_kind(&alerts, AlertKind::ImpossibleTravel);
    assert_eq!(travel.len(), 1);
    assert_eq!(travel[0].account_id, "a");
}

#[test]
fn idle_accounts_expire_by_event_time() {
    let mut e = engine_with(|c| c.engine.idle_timeout = Duration::from_secs(3600));
    run(&mut e, vec![ev("old", "o1", 0, "1.1.1.1").city("Seoul")]);
    run(&mut e, vec![ev("new", "n1", 7200, "1.1.1.1").city("Seoul")]);
    run(&mut e, vec![ev("other", "x1", 7200 + 300, "1.1.1.1")]);
    let s = e.stats();
    assert_eq!((s.tracked_accounts, s.expired_accounts), (2, 1));
}

#[test]
fn one_skewed_clock_does_not_expire_everyone() {
    let mut e = engine_with(|c| c.engine.idle_timeout = Duration::from_secs(3600));
    let ten_years = 10 * 365 * 86_400;
    run(
        &mut e,
        vec![ev("a", "a1", 0, "1.1.1.1"), ev("b", "b1", 1, "1.1.1.1")],
    );
    run(
        &mut e,
        vec![
            ev("skew", "s1", ten_years, "1.1.1.1"),
            ev("skew", "s2", ten_years + 1, "1.1.1.1"),
        ],
    );
    run(&mut e, vec![ev("c", "c1", 2, "1.1.1.1")]);
    assert_eq!(e.stats().tracked_accounts, 4);
    assert_eq!(
        e.watermark().map(|t| t.0),
        Some(crate::testkit::T0_MS + (ten_years + 1) * 1000)
    );
}

#[test]
fn reconfigure_keeps_state_and_applies_exceptions() {
    let mut e = engine_with(|_| {});
    run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1").city("Seoul"),
            ev("b", "e1", 0, "1.1.1.1").city("Seoul"),
        ],
    );
    let mut c = (**e.config()).clone();
    c.exceptions.accounts.insert("a".into(), vec!["*".into()]);
    c.engine.max_accounts = 1;
    assert!(e.reconfigure(Arc::new(c)).is_ok());
    assert_eq!(e.stats().tracked_accounts, 1);
    let alerts = run(
        &mut e,
        vec![
            ev("b", "e2", 60, "2.2.2.2").city("Lagos"),
            ev("a", "e2", 60, "2.2.2.2").city("Lagos"),
        ],
    );
    // "b" survived the shrink (ties go by id: "a" was evicted) and alerts; "a" is exempt.
    assert!(
        !alerts.is_empty() && alerts.iter().all(|x| x.account_id == "b"),
        "{alerts:#?}"
    );
    let mut bad = EngineConfig::default();
    bad.engine.max_accounts = 0;
    assert!(e.reconfigure(Arc::new(bad)).is_err());
}

#[test]
fn engine_can_move_to_a_worker_thread() {
    fn send<T: Send>() {}
    send::<Engine>();
}

#[test]
fn window_is_bounded_per_account() {
    let mut e = engine_with(|c| c.engine.max_logins_per_account = 4);
    let logins = (0..10)
        .map(|i| ev("a", &format!("e{i}"), i, "1.1.1.1").city("Seoul"))
        .collect();
    run(&mut e, logins);
    assert_eq!(e.stats().window_overflow, 6);
}

#[test]
fn trusted_networks_and_exempt_accounts() {
    let mut e = engine_with(|c| {
        c.exceptions.trusted_cidrs = vec!["5.5.5.0/24".into()];
        c.exceptions.trusted_asns = vec!["AS22351".into()];
        c.exceptions
            .accounts
            .insert("frequent".into(), vec!["impossible_travel".into()]);
    });
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1").city("Seoul"),
            ev("a", "e2", 60, "5.5.5.5").city("Lagos"), // trusted CIDR
            ev("a", "e3", 120, "3.3.3.3").city("Moscow").asn(22351), // trusted ASN (in-flight Wi-Fi)
            ev("a", "e4", 180, "4.4.4.4")
                .city("Pyongyang")
                .vpn()
                .asn(22351),
        ],
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
    let alerts = run(&mut e, hop("frequent", 0));
    let kinds: Vec<AlertKind> = alerts.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AlertKind::ConcurrentIps]);
}

#[test]
fn same_input_same_alert_ids() {
    let feed = || {
        let mut e = engine_with(|_| {});
        let mut logins = hop("a", 0);
        logins.extend(hop("b", 1));
        run(&mut e, logins)
    };
    let (x, y): (Vec<Alert>, Vec<Alert>) = (feed(), feed());
    assert_eq!(x.len(), 4);
    assert_eq!(x, y);
    let ids: std::collections::HashSet<&str> = x.iter().map(|a| a.alert_id.as_str()).collect();
    assert_eq!(ids.len(), 4);
}

#[test]
fn alerts_come_out_oldest_first_and_are_counted() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1").city("London"),
            ev("a", "e3", 600, "1.1.1.2").city("London"),
            ev("a", "e2", 300, "2.2.2.2").city("Moscow"),
        ],
    );
    let times: Vec<_> = alerts.iter().map(|a| a.event_time).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let s = e.stats();
    let n: u64 = s.alerts_by_kind.iter().map(|x| x.1).sum();
    assert_eq!(n as usize, alerts.len());
    assert_eq!(s.events, 3);
}

#[test]
fn watch_countries_raise_other_alerts() {
    let mut e = engine_with(|c| c.detect.concurrent_ips.enabled = false);
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e0", 0, "9.9.9.9").city("Shenyang").activity(),
            ev("a", "e1", 7200, "1.1.1.1").city("London"),
            ev("a", "e2", 10800, "2.2.2.2").city("Moscow"), // high, raised to critical
        ],
    );
    let t = of_kind(&alerts, AlertKind::ImpossibleTravel);
    assert_eq!(t[0].severity, Severity::Critical);
    assert_eq!(
        t[0].evidence.to_value()["watch_countries"],
        serde_json::json!(["CN", "RU"])
    );
}

#[test]
fn state_bytes_are_tracked_and_compact() {
    let mut e = engine_with(|_| {});
    let logins = (0..1000)
        .map(|i| {
            // One household each (its own /24): quiet accounts, not a laptop farm.
            let ip = format!("1.{}.{}.1", i / 256, i % 256);
            ev(&format!("acct-{i}"), &format!("ev-{i:032x}"), i, &ip).city("Seoul")
        })
        .collect();
    run(&mut e, logins);
    let s = e.stats();
    assert_eq!(s.approx_state_bytes, e.accounts.walk_bytes());
    let per_account = s.approx_state_bytes / s.tracked_accounts;
    // One login with a derived event id, in the window: the performance issue asks ≤ 200.
    assert!(per_account <= 200, "{per_account} bytes per account");
}

#[test]
fn state_bytes_of_accounts_with_claims_and_sessions() {
    let mut e = engine_with(|_| {});
    let logins = (0..1000)
        .map(|i| {
            let ip = format!("1.{}.{}.1", i / 256, i % 256);
            ev(&format!("acct-{i}"), &format!("e{i}"), i, &ip)
                .city("Seoul")
                .claims("KR")
                .tz("Asia/Seoul")
                .lang("ko-KR")
                .session(&format!("s{i}"))
                .device("d")
        })
        .collect();
    run(&mut e, logins);
    let s = e.stats();
    assert_eq!(s.approx_state_bytes, e.accounts.walk_bytes());
    // Slot 53 (48-byte slab entry, 5-byte index bucket at 7/8 load) + window box 96 (the
    // login inline) + detector memory 160 (profile and the session inline): what every
    // account of the generated benchmark streams pays.
    assert_eq!(s.approx_state_bytes / s.tracked_accounts, 309);
}

#[test]
fn invalid_config_is_refused_with_every_problem() {
    let mut c = EngineConfig::default();
    c.engine.max_accounts = 0;
    c.detect.concurrent_ips.window = Duration::ZERO;
    let err = Engine::new(Arc::new(c))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("engine.max_accounts") && err.contains("detect.concurrent_ips.window"),
        "{err}"
    );
}

#[test]
fn new_accounts_are_raised_one_step_and_risk_adds_up() {
    // A 5-day-old account claiming Japan from Shenyang: medium + watch (CN) + new = critical.
    let logins = |created_days: i64| -> Vec<crate::testkit::Ev> {
        (0..3)
            .map(|i| {
                ev("n", &format!("n{i}"), i * 3600, "8.8.4.4")
                    .city("Shenyang")
                    .claims("JP")
                    .created(-created_days * 86_400)
            })
            .collect()
    };
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, logins(5));
    let m = of_kind(&alerts, AlertKind::LocationMismatch);
    assert_eq!(m[0].severity, Severity::Critical, "{alerts:#?}");
    assert!(m[0].evidence.to_value().get("new_account_until").is_some());
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, logins(60));
    assert_eq!(
        of_kind(&alerts, AlertKind::LocationMismatch)[0].severity,
        Severity::High
    );
    let mut e = engine_with(|c| c.detect.new_account.enabled = false);
    let alerts = run(&mut e, logins(5));
    assert_eq!(
        of_kind(&alerts, AlertKind::LocationMismatch)[0].severity,
        Severity::High
    );
    // Every alert carries the score: location_mismatch critical = 30 × 2 = 60 (< 70).
    assert!(alerts.iter().all(|a| a.risk_score.is_some()));
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, logins(5));
    assert_eq!(alerts.last().and_then(|a| a.risk_score), Some(60));
    assert!(of_kind(&alerts, AlertKind::AccountRisk).is_empty());
}

#[test]
fn account_risk_fires_once_when_red_flags_add_up() {
    // Claimed JP from Shenyang (high: 45) and a session reused on another device (high: 45).
    let mut e = engine_with(|_| {});
    let mut logins: Vec<crate::testkit::Ev> = (0..3)
        .map(|i| {
            ev("r", &format!("r{i}"), i * 60, "8.8.4.4")
                .city("Shenyang")
                .claims("JP")
                .session("s")
                .device("d1")
        })
        .collect();
    logins.push(
        ev("r", "r9", 600, "8.8.4.4")
            .city("Shenyang")
            .session("s")
            .device("d2")
            .activity(),
    );
    logins.push(
        ev("r", "r10", 700, "8.8.4.4")
            .city("Shenyang")
            .session("s")
            .device("d3")
            .activity(),
    );
    let alerts = run(&mut e, logins.clone());
    let risk = of_kind(&alerts, AlertKind::AccountRisk);
    assert_eq!(risk.len(), 1, "{alerts:#?}");
    assert!(risk[0].risk_score.unwrap_or(0) >= 70);
    assert_eq!(risk[0].event_ids, vec!["r9".to_owned()]);
    assert_eq!(
        risk[0].evidence.to_value()["contributions"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let mut e = engine_with(|c| {
        c.exceptions
            .accounts
            .insert("r".into(), vec!["account_risk".into()]);
    });
    let again = run(&mut e, logins);
    assert!(of_kind(&again, AlertKind::AccountRisk).is_empty());
    assert!(!of_kind(&again, AlertKind::SessionHijack).is_empty());
}
