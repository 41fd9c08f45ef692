//! Fixed inputs for `benches/emit.rs`, not an API: for each alert kind, the finding its
//! detector builds for one typical alerting login, turned into an alert by the engine's own
//! code (`engine/emit.rs`). The detection itself (windows, memory, the shared index) is not
//! part of it: only what it costs to describe what was found.

use crate::detectors::{anonymized, concurrent, location, long_session, sanctioned, session};
use crate::detectors::{shared_ip, travel};
use crate::engine::emit;
use crate::event_id::EventId;
use crate::record::Record;
use crate::rules::Rules;
use crate::shared::{Member, NetKey};
use crate::state::{AccountState, NewAccount};
use crate::EngineConfig;
use loginwatch_geo::{Location, Login, NetInfo};
use loginwatch_model::Severity;
use loginwatch_model::{Alert, AlertKind, CountryCode, EventTime, LoginEvent};
use loginwatch_storage::InlineStr;
use std::sync::Arc;

/// 2026-11-24T10:00:00Z.
const T0: i64 = 1_795_514_400_000;
const MINUTE: i64 = 60_000;
const ACCOUNT: &str = "acct-0012345";

/// One kind's alert, built again at each call from the same inputs.
pub struct EmitCase {
    /// The alert kind, or `impossible_travel_raised` (with watch-country and new-account
    /// raises in its evidence).
    pub name: &'static str,
    build: Box<dyn FnMut() -> Alert>,
}

impl EmitCase {
    /// The finding built and turned into an alert.
    pub fn alert(&mut self) -> Alert {
        (self.build)()
    }
}

/// A case per alert kind (in [`AlertKind::ALL`] order, with `shared_ip_farm` after
/// `shared_ip`: the per-member alerts of a farm of 15 found at once, which share its
/// evidence), then `impossible_travel_raised`.
pub fn emit_cases() -> Vec<EmitCase> {
    let config = Arc::new(EngineConfig::default());
    let rules = Arc::new(Rules::compile(config.clone()).expect("the default configuration"));
    let d = &config.detect;
    let case = |name, build: Box<dyn FnMut() -> Alert>| EmitCase { name, build };

    let travel = travel::ImpossibleTravel::new(&d.impossible_travel);
    let (a, b) = (
        Record::from_login(&seoul(0, "ev-a654576807368ae1")),
        Record::from_login(&new_york(40, "ev-f6008cf1779b7e28")),
    );
    let hop = travel.hop(&a, &b).expect("a hop too fast");
    let (a2, b2, travel2) = (
        a.clone(),
        b.clone(),
        travel::ImpossibleTravel::new(&d.impossible_travel),
    );
    let travel_case = move || emit::finish(travel.finding(ACCOUNT, &a, &b, hop), ACCOUNT);

    let concurrent = concurrent::ConcurrentIps::new(&d.concurrent_ips);
    let group = [
        Record::from_login(&seoul(0, "ev-0000000000000001")),
        Record::from_login(&shenyang(4, "ev-0000000000000002")),
        Record::from_login(&seoul_other(9, "ev-0000000000000003")),
    ];
    let ips: Vec<_> = group
        .iter()
        .map(|r| loginwatch_geo::net::host_key(r.ip))
        .collect();
    let countries = [code("KR"), code("CN")];
    let concurrent_case = move || {
        let f = concurrent.finding(ACCOUNT, &group, &ips, &countries);
        emit::finish(f.expect("a concurrent finding"), ACCOUNT)
    };

    let mut vpn = seoul(0, "ev-0000000000000004");
    vpn.net = NetInfo {
        asn: Some(9009),
        as_org: Some("M247 Europe SRL".into()),
        anon: loginwatch_geo::AnonFlags {
            vpn: true,
            hosting: true,
            ..Default::default()
        },
    };
    let seen = anonymized::Seen {
        asn: Some(9009),
        org: Some("M247 Europe SRL".into()),
        previous: Some(60068),
        previous_org: Some("Datacamp Limited".into()),
        first: false,
        switched: true,
        distinct: 2,
    };
    let anonymized_case = move || emit::finish(anonymized::finding(ACCOUNT, &vpn, &seen), ACCOUNT);

    let mut kp = located(0, "ev-0000000000000005", "175.45.176.9", 39.0392, 125.7625);
    kp.location.as_mut().expect("located").country = Some(code("KP"));
    kp.location.as_mut().expect("located").city = Some("Pyongyang".into());
    kp.event.claimed_country = Some(code("US"));
    let sanctioned_case =
        move || emit::finish(sanctioned::finding(ACCOUNT, &kp, code("KP")), ACCOUNT);

    let farm = shared_ip::SharedIp::new(&d.shared_ip);
    let report = farm_report();
    let shared_case = move || {
        let evidence = farm.evidence(&report);
        let m = &report.members[report.alert[0]];
        let f = farm.finding(&report, m, farm.severity(&report), evidence, T0);
        emit::finish(f, m.account.as_str())
    };

    // A farm found at once: the engine builds its evidence once and raises an alert for each
    // member; each call is the next member's alert, a new farm every 15th.
    let farm2 = shared_ip::SharedIp::new(&d.shared_ip);
    let mut whole = farm_report();
    whole.alert = (0..whole.members.len()).collect();
    let (mut current, mut next) = (None, 0);
    let farm_case = move || {
        if next == 0 {
            current = Some(farm2.evidence(&whole));
        }
        let evidence = current.clone().expect("the farm's evidence");
        let m = &whole.members[whole.alert[next]];
        next = (next + 1) % whole.alert.len();
        let f = farm2.finding(&whole, m, farm2.severity(&whole), evidence, T0);
        emit::finish(f, m.account.as_str())
    };

    let mismatch = location::LocationMismatch::new(&d.location_mismatch);
    let mut profile = location::Profile::default();
    profile.claim(Some(code("US")), crate::tz::zone_id("America/New_York"));
    for (i, c) in ["US", "CN", "CN", "CN", "CN", "RU"].into_iter().enumerate() {
        profile.observe_country(code(c));
        profile.observe_hour(i as u8);
    }
    let reasons = mismatch.reasons(&profile);
    let mut claimer = shenyang(0, "ev-0000000000000006");
    claimer.event.claimed_country = Some(code("US"));
    claimer.event.claimed_timezone = Some("America/New_York".into());
    claimer.event.accept_language = Some("ko-KR,ko;q=0.9,en-US;q=0.8".into());
    let location_case = move || {
        let f = location::finding(ACCOUNT, &claimer, &profile, reasons);
        emit::finish(f, ACCOUNT)
    };

    let hijack = session::SessionHijack::new(&d.session_hijack);
    let sid = "s-00000000deadbeef";
    let mut first = seoul(0, "ev-0000000000000007");
    first.event.device_id = Some("d-0000000000000001".into());
    let mut then = shenyang(30, "ev-0000000000000008");
    then.event.device_id = Some("d-0000000000000002".into());
    let (fp, now) = (
        session::SessionFp::of(&first, sid),
        session::SessionFp::of(&then, sid),
    );
    let why = hijack.reasons(&fp, &now);
    let session_case = move || {
        emit::finish(
            session::finding(ACCOUNT, &then, sid, &fp, &now, why),
            ACCOUNT,
        )
    };

    let mut run = long_session::ActivityRun::starting(T0, T0);
    for m in (20..=25 * 60).step_by(20) {
        run.add(T0 + m * MINUTE);
    }
    let last = seoul(25 * 60, "ev-0000000000000009");
    let long_case = move || {
        let f = long_session::finding(ACCOUNT, &last, &run, true, false);
        emit::finish(f, ACCOUNT)
    };

    let mut risky = AccountState::default();
    for (kind, sev) in [
        (AlertKind::ImpossibleTravel, Severity::Critical),
        (AlertKind::ConcurrentIps, Severity::High),
        (AlertKind::SessionHijack, Severity::Critical),
    ] {
        emit::note_risk(&rules, &mut risky, kind, sev, T0);
    }
    let risk_rules = rules.clone();
    let risk_case = move || {
        if let Some(m) = risky.get_mut::<crate::risk::RiskMemory>() {
            m.above = false;
        }
        let trigger = emit::Trigger::of_finding(ACCOUNT, EventTime(T0), "ev-000000000000000a");
        emit::risk_alert(&risk_rules, &mut risky, &trigger).expect("the threshold crossed")
    };

    let mut raised = AccountState::default();
    raised.watch_seen = 0b11;
    raised.get_or_default::<NewAccount>().until = T0 + 30 * 24 * 60 * MINUTE;
    let raised_case = move || {
        let hop = travel2.hop(&a2, &b2).expect("a hop too fast");
        let mut f = travel2.finding(ACCOUNT, &a2, &b2, hop);
        emit::raise(&mut f, &raised, &rules);
        emit::finish(f, ACCOUNT)
    };

    vec![
        case("impossible_travel", Box::new(travel_case)),
        case("concurrent_ips", Box::new(concurrent_case)),
        case("shared_ip", Box::new(shared_case)),
        case("shared_ip_farm", Box::new(farm_case)),
        case("anonymized_ip", Box::new(anonymized_case)),
        case("location_mismatch", Box::new(location_case)),
        case("session_hijack", Box::new(session_case)),
        case("long_session", Box::new(long_case)),
        case("sanctioned_region", Box::new(sanctioned_case)),
        case("account_risk", Box::new(risk_case)),
        case("impossible_travel_raised", Box::new(raised_case)),
    ]
}

/// A laptop farm of 15 accounts on one address (the alert-heavy stream's size), its newest
/// member alerted.
fn farm_report() -> shared_ip::Report {
    let members: Vec<Member> = (0..15)
        .map(|i| Member {
            account: InlineStr::new(&format!("acct-{:07}", 1000 + i * 7919)),
            first_event: EventId::new(&format!("ev-{:016x}", 0x5eed_0000 + i)),
            first: T0 - (6 - i / 3) * 24 * 60 * MINUTE,
            last: T0 - i * MINUTE,
            host: 0,
            owner: 0,
            reported: true,
            logins: 3 + (i % 5) as u16,
            days: 2 + (i % 3) as u16,
            base: 0,
            total: 4 + (i % 5) as u32,
        })
        .collect();
    let ip = "203.0.113.7".parse().expect("an address");
    shared_ip::Report {
        key: NetKey::of(ip, 32, 64),
        host_level: true,
        alert: vec![members.len() - 1],
        members,
    }
}

fn code(c: &str) -> CountryCode {
    CountryCode::parse(c).expect("a country code")
}

fn seoul(minute: i64, id: &str) -> Login {
    let mut l = located(minute, id, "121.134.7.21", 37.5665, 126.978);
    l.net.asn = Some(4766);
    l.net.as_org = Some("Korea Telecom".into());
    l
}

fn seoul_other(minute: i64, id: &str) -> Login {
    let mut l = seoul(minute, id);
    l.event.ip = "121.134.99.4".parse().expect("an address");
    l
}

fn shenyang(minute: i64, id: &str) -> Login {
    let mut l = located(minute, id, "175.167.3.88", 41.8057, 123.4315);
    let loc = l.location.as_mut().expect("located");
    loc.country = Some(code("CN"));
    loc.city = Some("Shenyang".into());
    l.net.asn = Some(4837);
    l.net.as_org = Some("CHINA UNICOM China169 Backbone".into());
    l
}

fn new_york(minute: i64, id: &str) -> Login {
    let mut l = located(minute, id, "72.229.28.185", 40.7128, -74.006);
    let loc = l.location.as_mut().expect("located");
    loc.country = Some(code("US"));
    loc.city = Some("New York".into());
    l.net.asn = Some(12271);
    l.net.as_org = Some("Charter Communications Inc".into());
    l
}

/// A successful login `minute`s after T0 from `ip`, located at (lat, lon) in Seoul, KR,
/// 20 km accuracy (callers change the place).
fn located(minute: i64, id: &str, ip: &str, lat: f64, lon: f64) -> Login {
    Login {
        event: LoginEvent::login(
            ACCOUNT,
            ip.parse().expect("an address"),
            EventTime(T0 + minute * MINUTE),
            id,
        ),
        location: Some(Location {
            lat,
            lon,
            accuracy_km: 20.0,
            country: Some(code("KR")),
            city: Some("Seoul".into()),
        }),
        net: NetInfo::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginwatch_model::AlertFormat;

    /// Each case's alert, native then OCSF, one JSON line each: the bytes the evidence had
    /// when it was built as `serde_json::Value` maps.
    const PINNED: &str = include_str!("bench/pinned.jsonl");

    #[test]
    fn every_case_raises_its_kind() {
        for (mut case, mut again) in emit_cases().into_iter().zip(emit_cases()) {
            let alert = case.alert();
            assert!(case.name.starts_with(alert.kind.as_str()), "{}", case.name);
            assert_eq!(
                alert,
                again.alert(),
                "{}: the same alert from the same inputs",
                case.name
            );
        }
    }

    #[test]
    fn every_case_writes_the_pinned_bytes() {
        let mut lines = Vec::new();
        for mut case in emit_cases() {
            let alert = case.alert();
            for format in [AlertFormat::Loginwatch, AlertFormat::Ocsf] {
                let bytes = format.to_vec(&alert).expect("written");
                lines.push(String::from_utf8(bytes).expect("UTF-8"));
            }
        }
        let written = lines.join("\n") + "\n";
        if std::env::var_os("LOGINWATCH_BLESS").is_some() {
            print!("{written}");
        }
        for (i, (now, pinned)) in written.lines().zip(PINNED.lines()).enumerate() {
            assert_eq!(now, pinned, "line {}", i + 1);
        }
        assert_eq!(written, PINNED);
    }
}
