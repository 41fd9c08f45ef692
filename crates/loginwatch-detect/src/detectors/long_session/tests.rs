//! long_session through the engine.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use loginwatch_model::{Alert, AlertKind, Severity};

fn long(alerts: &[Alert]) -> Vec<&Alert> {
    of_kind(alerts, AlertKind::LongSession)
}

/// A login then activity every `every` seconds until `hours` hours later.
fn worker(every: i64, hours: i64) -> Vec<Ev> {
    let mut v = vec![ev("w", "w0", 0, "8.8.4.4").city("Seoul")];
    let n = hours * 3600 / every;
    v.extend((1..=n).map(|i| ev("w", &format!("w{i}"), i * every, "8.8.4.4").activity()));
    v
}

#[test]
fn twenty_six_hours_without_a_break() {
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, worker(25 * 60, 26));
    let l = long(&alerts);
    // The run reaches 24 h once; the first full UTC day (from T0's next midnight) has activity
    // in all 24 hours, alerted once.
    let reasons: Vec<String> = l
        .iter()
        .map(|a| a.evidence.to_value()["reasons"].to_string())
        .collect();
    assert!(
        reasons.iter().filter(|r| r.contains("continuous")).count() == 1,
        "{reasons:?}"
    );
    let first = l.iter().find(|a| {
        a.evidence.to_value()["reasons"]
            .to_string()
            .contains("continuous")
    });
    let first = first.unwrap();
    assert!(first.evidence.to_value()["duration_s"].as_i64().unwrap() >= 86_400);
    assert!(matches!(first.severity, Severity::Medium | Severity::High));
    assert!(first.summary.contains("1 d 0 h"), "{}", first.summary);
}

#[test]
fn twenty_of_twenty_four_hours_in_a_utc_day() {
    // Bursts of activity at :00 and :20 of 21 hours of one UTC day, with 2-hour gaps.
    let day0 = 14 * 3600; // T0 is 10:00 UTC; 14 h later is midnight.
    let mut v = vec![ev("h", "h0", day0, "8.8.4.4").city("Seoul")];
    for h in (0..24).filter(|h| ![3, 9, 15].contains(h)) {
        let t = day0 + h * 3600 + 60;
        v.push(ev("h", &format!("h{h}a"), t, "8.8.4.4").activity());
        v.push(ev("h", &format!("h{h}b"), t + 1200, "8.8.4.4").activity());
    }
    let mut e = engine_with(|c| c.detect.long_session.min_active_hours = 22);
    assert!(long(&run(&mut e, v.clone())).is_empty());
    let mut e = engine_with(|_| {});
    let l = run(&mut e, v);
    let l = long(&l);
    assert_eq!(l.len(), 1, "{l:#?}");
    assert_eq!(l[0].evidence.to_value()["reasons"][0], "active_hours");
    assert_eq!(l[0].evidence.to_value()["active_hour_count"], 20);
}

#[test]
fn ordinary_days_and_gaps_stay_quiet() {
    // A working day of 14 hours, every day for three days.
    let mut v = Vec::new();
    for d in 0..3 {
        for i in 0..40 {
            let t = d * 86_400 + i * 1260;
            v.push(
                ev("o", &format!("o{d}-{i}"), t, "8.8.4.4")
                    .city("Seoul")
                    .activity(),
            );
        }
    }
    v[0] = ev("o", "o0-0", 0, "8.8.4.4").city("Seoul");
    let mut e = engine_with(|_| {});
    assert!(long(&run(&mut e, v)).is_empty());
    // 30 hours with a gap longer than max_idle every 10 hours.
    let gappy: Vec<Ev> = worker(25 * 60, 30)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 24 != 23 && i % 24 != 22 && i % 24 != 21)
        .map(|(_, l)| l)
        .collect();
    let mut e = engine_with(|c| c.detect.long_session.min_active_hours = 0);
    assert!(long(&run(&mut e, gappy)).is_empty());
    // Disabled.
    let mut e = engine_with(|c| c.detect.long_session.enabled = false);
    assert!(long(&run(&mut e, worker(25 * 60, 30))).is_empty());
}

#[test]
fn run_is_compact() {
    use super::ActivityRun;
    assert!(std::mem::size_of::<Option<ActivityRun>>() <= 32);
}
