//! The typed evidence writes the bytes of the sorted object it replaces, and reads back.

use super::*;
use crate::Severity;
use serde_json::json;

fn t(s: &str) -> EventTime {
    EventTime::parse_rfc3339(s).unwrap()
}

fn cc(s: &str) -> CountryCode {
    CountryCode::parse(s).unwrap()
}

fn login(id: &str, located: bool) -> Login {
    Login {
        accuracy_km: 20,
        anonymizer: Anonymizers::from_bits(if located { 0 } else { 0b1_0011 }),
        asn: located.then_some(4766),
        city: located.then(|| "Seoul".into()),
        country: located.then(|| cc("KR")),
        event_id: id.into(),
        ip: if located {
            "203.0.113.7".parse().unwrap()
        } else {
            "2001:db8::9".parse().unwrap()
        },
        lat: located.then_some(37.5665),
        lon: located.then_some(126.978),
        timestamp: t("2026-11-24T10:05:00.120Z"),
    }
}

/// One evidence of each kind, with absent values and numbers of every type.
fn samples() -> Vec<(AlertKind, Evidence)> {
    let member = |id: &str| FarmMember {
        account_id: id.into(),
        days: 3,
        event_id: "ev-1".into(),
        first_seen: t("2026-11-20T00:00:00Z"),
        last_seen: t("2026-11-24T10:00:00Z"),
        logins: 9,
        share: 0.9,
    };
    let fingerprint = |device: Option<u32>| SessionFingerprint {
        anonymized: device.is_none(),
        asn: device.map(|_| 4766),
        country: None,
        device_fp: device.map(DeviceFp),
    };
    vec![
        (
            AlertKind::ImpossibleTravel,
            Travel {
                anonymized: true,
                distance_km: 2400.0,
                elapsed_s: 166.729,
                from: login("e1", true),
                max_speed_kmh: 900.0,
                min_distance_km: 100.0,
                raw_distance_km: 2440.1,
                simultaneous: false,
                speed_kmh: Some(132_024.0),
                to: login("e2", false),
            }
            .into(),
        ),
        (
            AlertKind::ConcurrentIps,
            Concurrent {
                countries: vec![cc("KR"), cc("CN")],
                distinct_countries: 2,
                distinct_ips: 3,
                logins: vec![login("e1", true), login("e2", false)],
                max_distance_km: 0.0,
                span_s: 60.0,
                window_s: 1800.0,
            }
            .into(),
        ),
        (
            AlertKind::SharedIp,
            SharedIp {
                accounts: vec![member("a"), member("b")],
                distinct_accounts: 2,
                history_s: 604_800,
                level: NetworkLevel::Prefix,
                min_days: 2,
                min_logins: 3,
                min_resident_share: 0.5,
                min_share: 0.8,
                network: "203.0.113.0/24".into(),
                prefix_len: 24,
                window_s: 86_400,
            }
            .into(),
        ),
        (
            AlertKind::AnonymizedIp,
            Anonymized {
                as_org: Some("M247".into()),
                asn: Some(9009),
                distinct_anonymizer_asns: 2,
                flags: Anonymizers::from_bits(0b101),
                login: login("e1", true),
                previous_as_org: None,
                previous_asn: Some(60068),
                reason: AnonymizedReason::Switch,
            }
            .into(),
        ),
        (
            AlertKind::LocationMismatch,
            LocationMismatch {
                accept_language: Some("ko-KR".into()),
                active_hours: 24,
                claimed_country: Some(cc("US")),
                claimed_timezone: Some("America/New_York".into()),
                country_share_pct: CountryShares::new(vec![(cc("US"), 20.0), (cc("CN"), 80.0)]),
                hours_local: std::array::from_fn(|i| i as u16),
                korean_first_logins: 4,
                language_logins: 5,
                located_logins: 5,
                login: login("e1", true),
                night_share: 0.5,
                outside_share: 0.8,
                reasons: vec![MismatchReason::Country, MismatchReason::NightHours],
            }
            .into(),
        ),
        (
            AlertKind::SessionHijack,
            SessionHijack {
                device_id: None,
                login: login("e1", false),
                now: fingerprint(None),
                original: fingerprint(Some(0xbeef)),
                reasons: vec![HijackReason::Device, HijackReason::Country],
                session_first_seen: t("2026-11-24T09:00:00Z"),
                session_id: "s-1".into(),
            }
            .into(),
        ),
        (
            AlertKind::LongSession,
            LongSession {
                active_hour_count: 3,
                active_hours_utc: HourSet::from_bits(0b1000_0000_0000_0000_0000_0101),
                duration_s: 90_000,
                events_in_run: 77,
                last_event: t("2026-11-24T10:00:00Z"),
                login: login("e1", true),
                reasons: vec![LongSessionReason::Continuous],
                run_start: t("2026-11-23T09:00:00Z"),
                utc_day: t("2026-11-24T00:00:00Z"),
            }
            .into(),
        ),
        (
            AlertKind::SanctionedRegion,
            Sanctioned {
                claimed_country: None,
                country: cc("KP"),
                login: login("e1", true),
            }
            .into(),
        ),
        (
            AlertKind::AccountRisk,
            AccountRisk {
                contributions: vec![RiskContribution {
                    kind: AlertKind::ImpossibleTravel,
                    last_seen: t("2026-11-24T10:00:00Z"),
                    points: 37.5,
                    severity: Severity::Critical,
                }],
                horizon_s: 604_800,
                score: 75,
                threshold: 70,
            }
            .into(),
        ),
    ]
}

/// Every sample, also with one raise and with both.
fn all_samples() -> Vec<(AlertKind, Evidence)> {
    let mut out = Vec::new();
    for (kind, e) in samples() {
        let mut watched = e.clone();
        watched.raise_watch_countries(vec![cc("CN"), cc("RU")]);
        let mut both = watched.clone();
        both.raise_new_account(t("2026-12-01T00:00:00Z"));
        let mut young = e.clone();
        young.raise_new_account(t("2026-12-01T00:00:00Z"));
        out.extend([(kind, e), (kind, watched), (kind, both), (kind, young)]);
    }
    out
}

#[test]
fn writes_the_bytes_of_the_sorted_object() {
    for (kind, e) in all_samples() {
        let value = e.to_value();
        assert!(value.is_object(), "{kind}");
        assert_eq!(e.to_json(), value.to_string(), "{kind}");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            value.to_string(),
            "{kind}"
        );
    }
}

#[test]
fn raises_land_at_their_sorted_place() {
    let (_, mut e) = samples().remove(0);
    e.raise_new_account(t("2026-12-01T00:00:00Z"));
    e.raise_watch_countries(vec![cc("CN")]);
    let text = e.to_json();
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(at("min_distance_km") < at("new_account_until"));
    assert!(at("new_account_until") < at("raw_distance_km"));
    assert!(at("to") < at("watch_countries"));
    assert!(text.ends_with(r#""watch_countries":["CN"]}"#), "{text}");
}

#[test]
fn reads_back_typed() {
    for (kind, e) in all_samples() {
        let back = Evidence::read(kind, e.to_value());
        assert!(!matches!(back.detail(), Detail::Json(_)), "{kind}");
        assert_eq!(back, e, "{kind}");
        assert_eq!(Evidence::from_json(kind, &e.to_json()).unwrap(), e);
    }
}

#[test]
fn keeps_what_it_cannot_type_as_read() {
    let (kind, e) = samples().remove(0);
    let mut v = e.to_value();
    // An integer where this build writes a float, an unknown key, a missing key.
    let variants = [
        {
            let mut v = v.clone();
            v["elapsed_s"] = json!(166);
            v
        },
        {
            let mut v = v.clone();
            v["extra"] = json!(1);
            v
        },
        {
            v.as_object_mut().unwrap().remove("speed_kmh");
            v
        },
    ];
    for v in variants {
        let back = Evidence::read(kind, v.clone());
        assert!(matches!(back.detail(), Detail::Json(_)));
        assert_eq!(back.to_json(), v.to_string());
    }
    // Another kind's shape.
    let back = Evidence::read(AlertKind::SharedIp, e.to_value());
    assert!(matches!(back.detail(), Detail::Json(_)));
}

#[test]
fn raises_on_json_evidence_go_into_the_object() {
    let mut e = Evidence::json(json!({"b": 1, "z": 2}));
    e.raise_watch_countries(vec![cc("CN")]);
    e.raise_new_account(t("2026-12-01T00:00:00Z"));
    assert_eq!(
        e.to_json(),
        r#"{"b":1,"new_account_until":"2026-12-01T00:00:00Z","watch_countries":["CN"],"z":2}"#
    );
}

#[test]
fn helper_types_write_as_before() {
    let shares = CountryShares::new(vec![(cc("US"), 1.0), (cc("CN"), 2.0), (cc("US"), 3.0)]);
    assert_eq!(
        serde_json::to_string(&shares).unwrap(),
        r#"{"CN":2.0,"US":3.0}"#
    );
    assert_eq!(
        serde_json::to_string(&DeviceFp(0xbeef)).unwrap(),
        r#""0000beef""#
    );
    assert_eq!(
        serde_json::to_string(&HourSet::from_bits(0b101)).unwrap(),
        "[0,2]"
    );
    let names: Vec<_> = Anonymizers::from_bits(0b1_1111).names().collect();
    assert_eq!(names, Anonymizers::NAMES);
    assert!(serde_json::from_str::<HourSet>("[2,1]").is_err());
    assert!(serde_json::from_str::<DeviceFp>(r#""BEEF0000""#).is_err());
    assert!(serde_json::from_str::<Anonymizers>(r#"["vpn","cloud"]"#).is_err());
}

#[test]
fn the_native_writer_writes_serdes_bytes() {
    use crate::alert::json::Json;
    for (kind, e) in all_samples() {
        let mut out = b"[".to_vec();
        e.write(&mut out);
        let want = format!("[{}", serde_json::to_string(&e).unwrap());
        assert_eq!(String::from_utf8(out).unwrap(), want, "{kind}");
    }
    let mut out = Vec::new();
    Evidence::json(json!({"b": [1, 2.5, null], "a": "x\"y"})).write(&mut out);
    assert_eq!(out, br#"{"a":"x\"y","b":[1,2.5,null]}"#);
}

proptest::proptest! {
    /// Whole alerts, with any text in their strings and any numbers in their evidence.
    #[test]
    fn native_alerts_are_serdes_bytes(
        account in ".{0,12}",
        summary in "(.|\n|\t|\"|\\\\){0,24}",
        city in ".{0,8}",
        lat in proptest::num::f64::ANY,
        lon in -1_800_000i64..1_800_000,
        time in -62_167_219_200_000i64..253_402_300_800_000,
        score in proptest::option::of(0u8..=100),
        sample in 0usize..36,
        ip in proptest::arbitrary::any::<std::net::IpAddr>(),
    ) {
        let (kind, mut e) = all_samples().swap_remove(sample);
        if let (Detail::ImpossibleTravel(t), true) = (&mut e.detail, sample % 2 == 0) {
            t.from.city = Some(city.as_str().into());
            t.from.lat = Some(lat);
            t.to.lon = Some(lon as f64 / 1e4);
            t.to.timestamp = EventTime(time);
            t.to.ip = ip;
        }
        let mut a = crate::Alert::new(
            kind,
            Severity::High,
            &account,
            EventTime(time),
            summary,
            vec![account.clone(), "ev-1".into()],
            e,
        );
        a.risk_score = score;
        let native = crate::AlertFormat::Loginwatch.to_vec(&a).unwrap();
        let serde = serde_json::to_vec(&a).unwrap();
        proptest::prop_assert_eq!(String::from_utf8(native).unwrap(), String::from_utf8(serde).unwrap());
    }
}

#[test]
fn a_farms_evidence_is_written_once_for_its_members() {
    use crate::alert::json::Json;
    let farms: Vec<Arc<SharedIp>> = samples()
        .into_iter()
        .filter_map(|(_, e)| match e.detail {
            Detail::SharedIp(f) => Some(f),
            _ => None,
        })
        .flat_map(|f| {
            let mut other = (*f).clone();
            other.accounts.pop();
            other.network = "198.51.100.0/24".into();
            [f, Arc::new(other)]
        })
        .collect();
    // Members' alerts of two farms, interleaved, each farm's shared by several alerts.
    let alerts: Vec<Evidence> = [0, 0, 1, 0, 1, 1]
        .into_iter()
        .map(|i| Evidence::from(Arc::clone(&farms[i])))
        .collect();
    for e in &alerts {
        let mut out = Vec::new();
        e.write(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(e).unwrap()
        );
    }
}
