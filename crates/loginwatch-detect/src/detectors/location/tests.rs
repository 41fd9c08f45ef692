//! location_mismatch through the engine: the three rules and the travellers, VPN users and
//! mobile users who must stay quiet.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use loginwatch_model::{Alert, AlertKind, Severity};

const H: i64 = 3600;

fn mismatches(alerts: &[Alert]) -> Vec<&Alert> {
    of_kind(alerts, AlertKind::LocationMismatch)
}

/// One login a day at 10:00 UTC + `hour_offset`, from `city`, claiming `claim`.
fn daily(n: usize, city: &str, claim: &str, ip: &str) -> Vec<Ev> {
    (0..n)
        .map(|i| {
            ev("a", &format!("e{i}"), i as i64 * 24 * H, ip)
                .city(city)
                .claims(claim)
        })
        .collect()
}

#[test]
fn claimed_japan_but_working_from_shenyang() {
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, daily(2, "Shenyang", "JP", "8.8.4.4"));
    assert!(mismatches(&alerts).is_empty(), "judged over min_logins");
    let alerts = run(&mut e, daily(4, "Shenyang", "JP", "8.8.4.4").split_off(2));
    let m = mismatches(&alerts);
    assert_eq!(m.len(), 1, "{alerts:#?}");
    let v = &m[0].evidence.to_value();
    assert_eq!(v["reasons"][0], "country");
    assert_eq!(v["claimed_country"], "JP");
    assert_eq!(v["country_share_pct"]["CN"], 100.0);
    assert_eq!(v["located_logins"], 3);
    // Shenyang is in a watch country: medium raised to high.
    assert_eq!(m[0].severity, Severity::High);
    assert!(m[0].summary.contains("outside JP"), "{}", m[0].summary);
}

#[test]
fn korean_browser_while_claiming_the_us() {
    let mut e = engine_with(|_| {});
    let logins = daily(3, "New York", "US", "8.8.4.4")
        .into_iter()
        .map(|l| l.lang("ko-KR,ko;q=0.9,en-US;q=0.8"))
        .collect();
    let alerts = run(&mut e, logins);
    let m = mismatches(&alerts);
    assert_eq!(m.len(), 1, "{alerts:#?}");
    assert_eq!(m[0].evidence.to_value()["reasons"][0], "korean_language");
    assert_eq!(m[0].severity, Severity::Low);
}

#[test]
fn night_hours_in_the_claimed_zone() {
    // Nine hours a day from 17:00 UTC (02:00 in Seoul), three days: 27 active hours, 4 of 9
    // each day in 02:00–06:00 Seoul, and 00–06 New York for a New York claim at 05:00 UTC.
    let work = |zone: &str, start_utc_h: i64| -> Vec<Ev> {
        let mut v = Vec::new();
        for day in 0..3 {
            for h in 0..9 {
                let t = (day * 24 + start_utc_h + h) * H - 10 * H;
                let l = ev("w", &format!("w{day}-{h}"), t, "8.8.4.4").city("Chicago");
                v.push(if h == 0 {
                    l.claims("US").tz(zone)
                } else {
                    l.activity()
                });
            }
        }
        v
    };
    // 05:00–14:00 UTC = 00:00–09:00 in New York (EST): 6 of 9 hours at night.
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, work("America/New_York", 5));
    let m = mismatches(&alerts);
    assert_eq!(m.len(), 1, "{alerts:#?}");
    assert_eq!(m[0].evidence.to_value()["reasons"][0], "night_hours");
    assert_eq!(
        m[0].evidence.to_value()["claimed_timezone"],
        "America/New_York"
    );
    assert_eq!(m[0].evidence.to_value()["active_hours"], 24);
    // Office hours in Chicago: 14:00–23:00 UTC.
    let mut e = engine_with(|_| {});
    assert!(mismatches(&run(&mut e, work("America/Chicago", 14))).is_empty());
    // An unknown zone never guesses.
    let mut e = engine_with(|_| {});
    assert!(mismatches(&run(&mut e, work("Mars/Olympus", 5))).is_empty());
}

#[test]
fn one_long_night_session_is_not_a_night_worker() {
    // 30 hours of activity every 20 minutes starting at 00:00 New York time.
    let mut v = vec![ev("s", "s0", -5 * H, "8.8.4.4")
        .city("New York")
        .claims("US")
        .tz("America/New_York")];
    for i in 1..90 {
        v.push(ev("s", &format!("s{i}"), i * 1200 - 5 * H, "8.8.4.4").activity());
    }
    let mut e = engine_with(|_| {});
    assert!(mismatches(&run(&mut e, v)).is_empty());
}

#[test]
fn travellers_vpn_users_mobile_users_and_koreans_stay_quiet() {
    let seoul = |i: usize| ev("kr", &format!("k{i}"), i as i64 * 12 * H, "8.8.4.4").city("Seoul");
    let cases: Vec<(&str, Vec<Ev>)> = vec![
        (
            "traveller: 5 logins at home, 2 in Tokyo",
            (0..7)
                .map(|i| {
                    let l = if (3..5).contains(&i) {
                        ev("kr", &format!("k{i}"), i as i64 * 12 * H, "8.8.8.8").city("Tokyo")
                    } else {
                        seoul(i)
                    };
                    l.claims("KR").lang("ko-KR")
                })
                .collect(),
        ),
        (
            "VPN exits in other countries",
            (0..6)
                .map(|i| {
                    let city = ["Amsterdam", "Frankfurt", "London"][i % 3];
                    ev("v", &format!("v{i}"), i as i64 * H, "8.8.8.8")
                        .city(city)
                        .vpn()
                        .claims("US")
                })
                .collect(),
        ),
        (
            "mobile user in the claimed country",
            (0..6)
                .map(|i| {
                    let city = ["New York", "Chicago"][i % 2];
                    ev("m", &format!("m{i}"), i as i64 * H, "8.8.8.8")
                        .city(city)
                        .claims("US")
                })
                .collect(),
        ),
        (
            "a Korean in Korea, a North Korean claim in Pyongyang",
            (0..4)
                .map(|i| seoul(i).claims("KR").lang("ko-KR"))
                .chain((0..4).map(|i| {
                    ev("kp", &format!("p{i}"), i as i64 * H, "8.8.8.8")
                        .city("Pyongyang")
                        .claims("KP")
                        .lang("ko-KP")
                }))
                .collect(),
        ),
        (
            "no claim at all",
            (0..6)
                .map(|i| ev("n", &format!("n{i}"), i as i64 * H, "8.8.8.8").city("Lagos"))
                .collect(),
        ),
    ];
    for (name, logins) in cases {
        let mut e = engine_with(|_| {});
        let alerts = run(&mut e, logins);
        assert!(mismatches(&alerts).is_empty(), "{name}: {alerts:#?}");
    }
}

#[test]
fn a_changed_claim_starts_over_and_each_rule_alerts_once() {
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, daily(6, "Beijing", "JP", "8.8.4.4"));
    assert_eq!(mismatches(&alerts).len(), 1);
    // Now claiming CN: consistent, quiet.
    let more: Vec<Ev> = (6..12)
        .map(|i| {
            ev("a", &format!("e{i}"), i * 24 * H, "8.8.4.4")
                .city("Beijing")
                .claims("CN")
        })
        .collect();
    assert!(mismatches(&run(&mut e, more)).is_empty());
}

#[test]
fn prefers_korean_reads_the_first_language_only() {
    use super::prefers_korean;
    assert!(prefers_korean("ko-KR,ko;q=0.9"));
    assert!(prefers_korean("ko"));
    assert!(prefers_korean("KO_kr"));
    assert!(!prefers_korean("en-US,ko;q=0.9"));
    assert!(!prefers_korean("kok-IN"));
    assert!(!prefers_korean(""));
}

#[test]
#[allow(clippy::assertions_on_constants)] // pins the bound the packed counts rely on
fn hour_counts_fit_their_packing() {
    // Counts halve once their total reaches CAP, before the next count: never above it.
    assert!(super::CAP <= loginwatch_storage::pack::HOUR_COUNT_MAX);
}

#[test]
fn profile_is_compact() {
    assert!(std::mem::size_of::<super::Profile>() <= 72);
    assert_eq!(
        std::mem::size_of::<Option<super::Profile>>(),
        std::mem::size_of::<super::Profile>()
    );
}
