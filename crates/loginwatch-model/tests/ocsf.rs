//! The OCSF findings of alerts of every kind, checked against the published OCSF 1.3.0
//! definitions of the Detection Finding class and the objects it uses (copied under
//! `tests/ocsf-schema/`, see its README), not against our own reading of them.

#[path = "support/ocsf_validator.rs"]
mod validator;

use loginwatch_model::alert::ocsf::{self, SCHEMA_VERSION};
use loginwatch_model::{Alert, AlertKind, EventTime, Evidence, Severity};
use serde_json::{json, Value};
use std::path::Path;
use validator::Schema;

fn schema() -> Schema {
    let s = Schema::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ocsf-schema"));
    assert_eq!(
        s.version, SCHEMA_VERSION,
        "the copy is the version we target"
    );
    s
}

fn t(s: &str) -> EventTime {
    EventTime::parse_rfc3339(s).expect("time")
}

/// A login as the detectors write it into evidence (`Record::evidence`).
fn login(id: &str, ip: &str, ts: &str, place: Option<(&str, &str, f64, f64)>) -> Value {
    let (country, city, lat, lon) = match place {
        Some((c, city, lat, lon)) => (json!(c), json!(city), json!(lat), json!(lon)),
        None => (Value::Null, Value::Null, Value::Null, Value::Null),
    };
    json!({"event_id": id, "ip": ip, "timestamp": ts, "lat": lat, "lon": lon,
           "accuracy_km": 20.0, "country": country, "city": city, "asn": 4766,
           "anonymizer": []})
}

fn alert(kind: AlertKind, severity: Severity, ids: &[&str], evidence: Value) -> Alert {
    let mut a = Alert::new(
        kind,
        severity,
        "acct-42",
        t("2026-11-24T10:05:00Z"),
        format!("acct-42: {kind}"),
        ids.iter().map(|s| (*s).to_owned()).collect(),
        Evidence::read(kind, evidence),
    );
    a.detected_at = t("2026-11-24T10:05:00.120Z");
    a
}

fn alerts() -> Vec<Alert> {
    let seoul = Some(("KR", "Seoul", 37.5665, 126.978));
    let paris = Some(("FR", "Paris", 48.8566, 2.3522));
    let from = login("e1", "203.0.113.7", "2026-11-24T09:05:00Z", seoul);
    let to = login("e2", "2001:db8::9", "2026-11-24T10:05:00Z", paris);
    let unlocated = login("e3", "198.51.100.1", "2026-11-24T10:05:00Z", None);
    let member = |id: &str| {
        json!({"account_id": id, "first_seen": "2026-11-01T08:00:00Z",
               "last_seen": "2026-11-24T10:05:00Z", "event_id": "e9", "logins": 40,
               "days": 12, "share": 0.9})
    };
    let mut risky = alert(
        AlertKind::AccountRisk,
        Severity::Critical,
        &["e2"],
        json!({"score": 92, "threshold": 80, "horizon_s": 604800, "contributions": []}),
    );
    risky.risk_score = Some(92);
    vec![
        alert(
            AlertKind::ImpossibleTravel,
            Severity::High,
            &["e1", "e2"],
            json!({"distance_km": 8950.2, "speed_kmh": 8950.2, "elapsed_s": 3600.0,
                   "from": from, "to": to}),
        ),
        alert(
            AlertKind::ConcurrentIps,
            Severity::Medium,
            &["e1", "e2", "e3"],
            json!({"window_s": 1800.0, "distinct_ips": 3, "distinct_countries": 2,
                   "logins": [from, to, unlocated]}),
        ),
        alert(
            AlertKind::SharedIp,
            Severity::Low,
            &["e9"],
            json!({"network": "198.51.100.0/24", "prefix_len": 24, "level": "prefix",
                   "distinct_accounts": 2, "accounts": [member("acct-42"), member("acct-7")]}),
        ),
        alert(
            AlertKind::SharedIp,
            Severity::Medium,
            &["e9"],
            json!({"network": "198.51.100.4/32", "prefix_len": 32, "level": "ip",
                   "distinct_accounts": 2, "accounts": [member("acct-42"), member("acct-7")]}),
        ),
        alert(
            AlertKind::AnonymizedIp,
            Severity::Medium,
            &["e3"],
            json!({"reason": "vpn", "flags": ["vpn"], "asn": 4766, "as_org": "Demo VPN",
                   "login": unlocated}),
        ),
        alert(
            AlertKind::SessionHijack,
            Severity::High,
            &["e2"],
            json!({"session_id": "s1", "reasons": ["network"], "login": to}),
        ),
        alert(
            AlertKind::SanctionedRegion,
            Severity::Critical,
            &["e1"],
            json!({"country": "KP", "claimed_country": null,
                   "login": login("e1", "175.45.176.1", "2026-11-24T10:05:00Z",
                                  Some(("KP", "Pyongyang", 39.0, 125.75)))}),
        ),
        risky,
    ]
}

#[test]
fn every_kind_is_a_valid_detection_finding() {
    let schema = schema();
    for a in alerts() {
        let f = ocsf::finding(&a);
        let problems = schema.validate("detection_finding", &f);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}\n{f:#}",
            a.kind.as_str()
        );
        assert_eq!(f["finding_info"]["uid"], a.alert_id.as_str());
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["metadata"]["product"]["name"], "loginwatch");
    }
}

#[test]
fn the_findings_carry_what_the_alerts_say() {
    let all = alerts();
    let travel = ocsf::finding(&all[0]);
    let ends: Vec<&Value> = travel["evidences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["src_endpoint"])
        .collect();
    assert_eq!(ends[0]["location"]["city"], "Seoul");
    assert_eq!(ends[1]["ip"], "2001:db8::9");
    assert_eq!(ends[1]["location"]["lat"], 48.8566);
    let millis = |s: &str| json!(t(s).millis());
    assert_eq!(
        travel["finding_info"]["first_seen_time"],
        millis("2026-11-24T09:05:00Z")
    );
    assert_eq!(
        travel["finding_info"]["created_time"],
        millis("2026-11-24T10:05:00.120Z")
    );
    assert_eq!(travel["time"], millis("2026-11-24T10:05:00Z"));

    let farm = ocsf::finding(&all[2]);
    let subnet = farm["observables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type_id"] == 12)
        .expect("subnet observable");
    assert_eq!(subnet["value"], "198.51.100.0/24");
    assert_eq!(
        farm["finding_info"]["first_seen_time"],
        millis("2026-11-01T08:00:00Z")
    );

    let risky = ocsf::finding(&all[7]);
    assert_eq!(risky["risk_score"], 92);
    assert_eq!(risky["severity_id"], 5);
}

/// The validator finds the mistakes it is there for, so a clean report means something.
#[test]
fn the_validator_rejects_what_the_schema_does_not_define() {
    let schema = schema();
    let good = ocsf::finding(&alerts()[0]);
    let broken = |f: fn(&mut Value), expect: &str| {
        let mut v = good.clone();
        f(&mut v);
        let problems = schema.validate("detection_finding", &v);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{expect:?} not in {problems:#?}"
        );
    };
    broken(|v| v["made_up"] = json!(1), "made_up: not an attribute");
    broken(|v| v["finding_info"]["colour"] = json!("red"), "colour");
    broken(
        |v| {
            v["finding_info"].as_object_mut().unwrap().remove("title");
        },
        "lacks required title",
    );
    broken(
        |v| {
            v["metadata"]["product"]
                .as_object_mut()
                .unwrap()
                .remove("vendor_name");
        },
        "lacks required vendor_name",
    );
    broken(
        |v| v["severity_id"] = json!(7),
        "severity_id: 7 is not one of",
    );
    broken(|v| v["severity"] = json!("Urgent"), "severity \"Urgent\"");
    broken(|v| v["class_uid"] = json!(2001), "class_uid");
    broken(|v| v["type_uid"] = json!(200_402), "type_uid");
    broken(|v| v["time"] = json!("2026-11-24"), "is not a timestamp_t");
    broken(
        |v| v["observables"][0]["type_id"] = json!(42),
        "type_id: 42",
    );
    broken(
        |v| v["observables"][1]["name"] = json!("evidences.src_endpoint.nowhere"),
        "not an attribute path",
    );
    broken(
        |v| v["evidences"][0]["src_endpoint"]["ip"] = json!("not-an-ip"),
        "not an IP address",
    );
    broken(|v| v["attacks"] = json!([]), "only with its profile");
    broken(
        |v| v["evidences"][0]["src_endpoint"]["location"] = json!({"lat": 1.0}),
        "location needs one of",
    );
}
