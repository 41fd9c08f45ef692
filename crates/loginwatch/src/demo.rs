//! `loginwatch demo`: a built-in day of logins in the embedded demo world, played through the
//! same pipeline as `replay`, printed so a person takes it in at a glance: who, what, from
//! where to where, how far, how fast, why — and who stayed quiet.

use crate::config::Config;
use crate::wiring::pipeline;
use anyhow::Result;
use loginwatch_detect::{Pipeline, SharedIndex};
use loginwatch_geo::demo_world::{self as world, find_city};
use loginwatch_model::{Alert, EventTime};
use loginwatch_replay::SharedLocator;
use serde_json::{json, Value};
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

/// 2026-11-24T00:00:00Z, the start of the demo day.
const DAY_START_MS: i64 = 1_795_478_400_000;

/// One scripted login of the scenario.
struct Step {
    account: &'static str,
    minute: i64,
    ip: IpAddr,
    extra: Value,
}

fn city_ip(name: &str, n: u64) -> IpAddr {
    world::city_ip(find_city(name).unwrap_or(0), n)
}

fn step(account: &'static str, minute: i64, ip: IpAddr) -> Step {
    Step {
        account,
        minute,
        ip,
        extra: json!({}),
    }
}

fn with(mut s: Step, extra: Value) -> Step {
    s.extra = extra;
    s
}

/// The accounts of the scenario and what each is meant to show.
pub const CAST: &[(&str, &str)] = &[
    (
        "alice.kr",
        "ordinary traveller: Seoul, then Tokyo after a 2½-hour flight",
    ),
    (
        "bob.us",
        "mobile user: home broadband and a carrier network in New York",
    ),
    (
        "carol.de",
        "dual stack: IPv4 and IPv6 of one Frankfurt household",
    ),
    (
        "kim.dev",
        "impossible travel: New York, then Shenyang 40 minutes later",
    ),
    (
        "park.design",
        "concurrent IPs: Seoul, Beijing and Vladivostok within 20 minutes",
    ),
    (
        "farm.1 … farm.6",
        "laptop farm: six \"US workers\" living on one Dallas home IP, two days running",
    ),
    (
        "lee.ops",
        "session hijack: a Seoul session reused from Shenyang on another device",
    ),
    (
        "night.shift",
        "long session: active without a break for 26 hours",
    ),
    (
        "sato.jp",
        "location mismatch: claims Japan, logs in from Shenyang",
    ),
    (
        "jason.us",
        "location mismatch: claims the US with a Korean-first browser",
    ),
];

/// The accounts that must stay quiet.
const QUIET: [&str; 3] = ["alice.kr", "bob.us", "carol.de"];

/// The laptop farm's accounts.
const FARM: [&str; 6] = ["farm.1", "farm.2", "farm.3", "farm.4", "farm.5", "farm.6"];

/// Steps of the accounts added for shared_ip, session_hijack, long_session and
/// location_mismatch.
fn red_flags() -> Vec<Step> {
    let mut steps = Vec::new();
    let us = json!({"claimed_country": "US", "claimed_timezone": "America/Chicago"});
    // The farm's workers live there: every login from the one address, day after day.
    for day in 0..2 {
        for shift in [10 * 60, 16 * 60] {
            for (i, account) in FARM.iter().enumerate() {
                let minute = day * 24 * 60 + shift + 25 * i as i64;
                steps.push(with(
                    step(account, minute, city_ip("Dallas", 500)),
                    us.clone(),
                ));
            }
        }
    }
    let session = |device: &str| json!({"session_id": "lee-7f3a", "device_id": device});
    steps.push(with(
        step("lee.ops", 16 * 60, city_ip("Seoul", 31)),
        session("lee-laptop"),
    ));
    let mut reuse = session("unknown-pc");
    reuse["event_type"] = json!("activity");
    for m in [16 * 60 + 35, 16 * 60 + 50] {
        steps.push(with(
            step("lee.ops", m, city_ip("Shenyang", 12)),
            reuse.clone(),
        ));
    }
    let ny = || city_ip("New York", 77);
    steps.push(with(
        step("night.shift", 60, ny()),
        json!({"session_id": "n-1"}),
    ));
    for k in 1..=(26 * 60 / 25) {
        let activity = json!({"event_type": "activity", "session_id": "n-1"});
        steps.push(with(step("night.shift", 60 + 25 * k, ny()), activity));
    }
    let jp = json!({"claimed_country": "JP", "claimed_timezone": "Asia/Tokyo", "accept_language": "ja-JP"});
    for m in [2 * 60, 6 * 60, 11 * 60] {
        steps.push(with(
            step("sato.jp", m, city_ip("Shenyang", 40)),
            jp.clone(),
        ));
    }
    let ko = json!({"claimed_country": "US", "accept_language": "ko-KR,ko;q=0.9,en-US;q=0.8"});
    for m in [14 * 60, 17 * 60, 20 * 60] {
        steps.push(with(
            step("jason.us", m, city_ip("Chicago", 58)),
            ko.clone(),
        ));
    }
    steps
}

/// The scripted logins, in the order they are played (event time order).
fn scenario() -> Vec<Step> {
    let mut steps = vec![
        step("alice.kr", 8 * 60, city_ip("Seoul", 11)),
        step("alice.kr", 8 * 60 + 30, city_ip("Seoul", 11)),
        step("alice.kr", 12 * 60, city_ip("Tokyo", 3)),
        step("bob.us", 9 * 60, city_ip("New York", 7)),
        step(
            "bob.us",
            9 * 60 + 12,
            world::mobile_ip(find_city("New York").unwrap_or(0), 1),
        ),
        step(
            "bob.us",
            9 * 60 + 30,
            world::mobile_ip(find_city("New York").unwrap_or(0), 2),
        ),
        step("carol.de", 7 * 60, city_ip("Frankfurt", 5)),
        step(
            "carol.de",
            7 * 60 + 2,
            world::city_ipv6(find_city("Frankfurt").unwrap_or(0), 5),
        ),
        step("kim.dev", 13 * 60, city_ip("New York", 42)),
        step("kim.dev", 13 * 60 + 40, city_ip("Shenyang", 9)),
        step("park.design", 15 * 60, city_ip("Seoul", 77)),
        step("park.design", 15 * 60 + 8, city_ip("Beijing", 4)),
        step("park.design", 15 * 60 + 20, city_ip("Vladivostok", 2)),
    ];
    steps.push(with(
        step("kim.dev", 13 * 60 + 41, city_ip("Shenyang", 9)),
        json!({"outcome": "failure"}),
    ));
    let claims = [
        (
            "alice.kr",
            json!({"claimed_country": "KR", "accept_language": "ko-KR"}),
        ),
        (
            "bob.us",
            json!({"claimed_country": "US", "claimed_timezone": "America/New_York"}),
        ),
        (
            "carol.de",
            json!({"claimed_country": "DE", "accept_language": "de-DE"}),
        ),
    ];
    for s in steps.iter_mut() {
        if let Some((_, c)) = claims.iter().find(|(a, _)| *a == s.account) {
            s.extra = c.clone();
        }
    }
    steps.extend(red_flags());
    steps.sort_by_key(|s| s.minute);
    steps
}

/// The scenario as JSON lines (CONTRACT §1), in event-time order.
pub fn scenario_lines() -> Vec<String> {
    scenario()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut event = json!({
                "event_id": format!("demo-{i:03}"),
                "account_id": s.account,
                "ip": s.ip.to_string(),
                "timestamp": EventTime(DAY_START_MS + s.minute * 60_000).to_string(),
            });
            if let (Value::Object(e), Value::Object(x)) = (&mut event, s.extra) {
                e.extend(x);
            }
            event.to_string()
        })
        .collect()
}

/// Plays the scenario and returns the alerts, oldest first.
pub fn play() -> Result<Vec<Alert>> {
    let config = Config::default();
    let shared = Arc::new(SharedIndex::for_config(&config.engine));
    let mut pipe: Pipeline<SharedLocator> = pipeline(&config, Arc::new(world::locator()), shared)?;
    let mut alerts = Vec::new();
    for line in scenario_lines() {
        if let Err(reject) = pipe.process(line.as_bytes(), &mut alerts) {
            anyhow::bail!("demo event rejected: {reject}");
        }
    }
    Ok(alerts)
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn place(v: Option<&Value>) -> String {
    let Some(v) = v else { return "?".into() };
    let city = v.get("city").and_then(Value::as_str).unwrap_or("?");
    let country = v.get("country").and_then(Value::as_str).unwrap_or("??");
    format!("{city}, {country}")
}

/// One alert as a few lines for a person.
fn describe(alert: &Alert, out: &mut dyn Write) -> std::io::Result<()> {
    let e = &alert.evidence.to_value();
    writeln!(
        out,
        "  {:<12} {:<18} {:<8} {}",
        alert.account_id,
        alert.kind.as_str(),
        alert.severity.as_str(),
        alert.event_time
    )?;
    if let (Some(d), Some(v)) = (num(e, "distance_km"), num(e, "speed_kmh")) {
        writeln!(
            out,
            "      {} → {}: {:.0} km in {:.0} min, {:.0} km/h",
            place(e.get("from")),
            place(e.get("to")),
            d,
            num(e, "elapsed_s").unwrap_or(0.0) / 60.0,
            v
        )?;
    }
    writeln!(out, "      why: {}", alert.summary)
}

/// Runs the demo and prints the report.
pub fn run(out: &mut dyn Write) -> Result<()> {
    let alerts = play()?;
    writeln!(
        out,
        "loginwatch demo — a day of logins in the embedded demo world (the farm two days running)"
    )?;
    writeln!(
        out,
        "(synthetic IP blocks on real city coordinates; no broker, no download)\n"
    )?;
    writeln!(out, "Who is in it:")?;
    for (account, role) in CAST {
        writeln!(out, "  {account:<12} {role}")?;
    }
    writeln!(out, "\nAlerts ({}):", alerts.len())?;
    writeln!(
        out,
        "  {:<12} {:<18} {:<8} event time",
        "account", "kind", "severity"
    )?;
    for alert in &alerts {
        describe(alert, out)?;
    }
    let quiet: Vec<&str> = QUIET
        .iter()
        .copied()
        .filter(|a| !alerts.iter().any(|al| al.account_id == *a))
        .collect();
    writeln!(out, "\nQuiet (no alert): {}", quiet.join(", "))?;
    writeln!(
        out,
        "\nEvery alert as JSON: loginwatch replay < events.jsonl; see README."
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginwatch_model::AlertKind;

    fn kinds_of(alerts: &[Alert], account: &str) -> Vec<AlertKind> {
        alerts
            .iter()
            .filter(|a| a.account_id == account)
            .map(|a| a.kind)
            .collect()
    }

    #[test]
    fn each_detector_fires_and_ordinary_users_stay_quiet() {
        let alerts = play().unwrap();
        assert!(kinds_of(&alerts, "kim.dev").contains(&AlertKind::ImpossibleTravel));
        assert!(kinds_of(&alerts, "park.design").contains(&AlertKind::ConcurrentIps));
        for quiet in QUIET {
            assert!(kinds_of(&alerts, quiet).is_empty(), "{quiet}: {alerts:#?}");
        }
        for member in FARM {
            assert_eq!(
                kinds_of(&alerts, member),
                vec![AlertKind::SharedIp],
                "{member}: {alerts:#?}"
            );
        }
        let expect = [
            ("lee.ops", AlertKind::SessionHijack),
            ("night.shift", AlertKind::LongSession),
            ("sato.jp", AlertKind::LocationMismatch),
            ("jason.us", AlertKind::LocationMismatch),
        ];
        for (account, kind) in expect {
            assert!(
                kinds_of(&alerts, account).contains(&kind),
                "{account}: {alerts:#?}"
            );
        }
        let kinds: std::collections::BTreeSet<AlertKind> = alerts.iter().map(|a| a.kind).collect();
        assert!(kinds.len() >= 7, "{kinds:?}");
        assert!(alerts.iter().all(|a| a.risk_score.is_some()));
    }

    #[test]
    fn report_names_accounts_kinds_and_numbers() {
        let mut out = Vec::new();
        run(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("impossible_travel") && text.contains("concurrent_ips"),
            "{text}"
        );
        assert!(text.contains("New York, US → Shenyang, CN"), "{text}");
        assert!(
            text.contains("Quiet (no alert): alice.kr, bob.us, carol.de"),
            "{text}"
        );
    }
}
