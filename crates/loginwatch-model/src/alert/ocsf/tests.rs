//! Unit tests of the OCSF mapping: what goes where, for the evidence shapes the detectors write.

use super::*;
use serde_json::json;

fn login(id: &str, ip: &str, ts: &str, country: Option<&str>) -> Value {
    json!({
        "event_id": id, "ip": ip, "timestamp": ts, "lat": 37.5665, "lon": 126.978,
        "accuracy_km": 5, "country": country, "city": country.map(|_| "Seoul"),
        "asn": 4766, "anonymizer": [],
    })
}

fn alert(kind: AlertKind, evidence: Value) -> Alert {
    Alert::new(
        kind,
        Severity::High,
        "acct-42",
        EventTime::parse_rfc3339("2026-11-24T10:05:00Z").unwrap(),
        "acct-42 logged in from Seoul, KR then Paris, FR".into(),
        vec!["e1".into(), "e2".into()],
        super::super::Evidence::read(kind, evidence),
    )
}

#[test]
fn travel_maps_both_logins_and_the_ids() {
    let a = alert(
        AlertKind::ImpossibleTravel,
        json!({
            "distance_km": 8950.0,
            "from": login("e1", "203.0.113.7", "2026-11-24T09:05:00Z", Some("KR")),
            "to": login("e2", "198.51.100.9", "2026-11-24T10:05:00Z", Some("FR")),
        }),
    );
    let f = finding(&a);
    assert_eq!(f["class_uid"], 2004);
    assert_eq!(f["type_uid"], 200_401);
    assert_eq!(f["severity_id"], 4);
    assert_eq!(f["finding_info"]["uid"], a.alert_id.as_str());
    assert_eq!(f["finding_info"]["types"], json!(["impossible_travel"]));
    assert_eq!(
        f["finding_info"]["related_events"],
        json!([{"uid": "e1"}, {"uid": "e2"}])
    );
    assert_eq!(
        f["finding_info"]["first_seen_time"],
        a.event_time.millis() - 3_600_000
    );
    assert_eq!(f["finding_info"]["last_seen_time"], a.event_time.millis());
    let ev = f["evidences"].as_array().unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0]["src_endpoint"]["ip"], "203.0.113.7");
    assert_eq!(ev[0]["src_endpoint"]["location"]["long"], 126.978);
    assert_eq!(ev[1]["src_endpoint"]["location"]["country"], "FR");
    assert_eq!(ev[1]["src_endpoint"]["autonomous_system"]["number"], 4766);
    assert_eq!(ev[1]["actor"]["user"]["name"], "acct-42");
    assert_eq!(
        ev[1]["data"],
        json!({"event_id": "e2", "timestamp": "2026-11-24T10:05:00Z", "accuracy_km": 5})
    );
    let obs: Vec<(u64, &str)> = f["observables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["type_id"].as_u64().unwrap(), o["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        obs,
        [
            (4, "acct-42"),
            (2, "203.0.113.7"),
            (14, "KR"),
            (2, "198.51.100.9"),
            (14, "FR")
        ]
    );
    assert_eq!(f["unmapped"]["evidence"]["distance_km"], 8950.0);
    assert!(f.get("risk_score").is_none());
}

#[test]
fn an_unlocated_login_keeps_its_coordinates_in_data() {
    let mut l = login("e1", "2001:db8::1", "2026-11-24T10:05:00Z", None);
    l["lat"] = Value::Null;
    l["lon"] = Value::Null;
    let mut a = alert(
        AlertKind::AnonymizedIp,
        json!({ "asn": 4766, "as_org": "Korea Telecom", "login": l }),
    );
    a.risk_score = Some(70);
    let f = finding(&a);
    let e = &f["evidences"][0];
    assert!(e["src_endpoint"].get("location").is_none());
    assert!(e["data"].get("lat").is_none(), "nulls are dropped");
    assert_eq!(
        e["src_endpoint"]["autonomous_system"],
        json!({"number": 4766, "name": "Korea Telecom"})
    );
    assert_eq!(f["risk_score"], 70);
    assert_eq!(f["finding_info"]["first_seen_time"], a.event_time.millis());
}

#[test]
fn shared_ip_lists_the_network_and_its_members() {
    let member = |id: &str| {
        json!({"account_id": id, "first_seen": "2026-11-20T00:00:00Z",
        "last_seen": "2026-11-24T10:00:00Z", "event_id": "e1", "logins": 9})
    };
    let mut a = alert(
        AlertKind::SharedIp,
        json!({"network": "203.0.113.0/24", "prefix_len": 24, "level": "prefix",
               "accounts": [member("acct-42"), member("acct-43")]}),
    );
    let f = finding(&a);
    let ev = f["evidences"].as_array().unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0]["data"]["network"], "203.0.113.0/24");
    assert!(ev[0].get("src_endpoint").is_none());
    assert_eq!(ev[2]["actor"]["user"]["name"], "acct-43");
    assert_eq!(ev[2]["data"]["logins"], 9);
    let types: Vec<u64> = f["observables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["type_id"].as_u64().unwrap())
        .collect();
    assert_eq!(types, [4, 12, 4]);
    assert_eq!(
        f["finding_info"]["last_seen_time"],
        a.event_time.millis() - 300_000
    );

    let mut v = a.evidence.to_value();
    v["level"] = "ip".into();
    v["network"] = "203.0.113.5/32".into();
    a.evidence = super::super::Evidence::read(a.kind, v);
    let f = finding(&a);
    assert_eq!(f["evidences"][0]["src_endpoint"]["ip"], "203.0.113.5");
}

#[test]
fn an_alert_without_logins_still_names_the_account() {
    let mut a = alert(AlertKind::AccountRisk, json!({"score": 91}));
    a.severity = Severity::Critical;
    let f = finding(&a);
    assert_eq!(
        f["evidences"],
        json!([{"actor": {"user": {"name": "acct-42", "uid": "acct-42"}}}])
    );
    assert_eq!(
        (f["severity_id"].as_u64(), f["severity"].as_str()),
        (Some(5), Some("Critical"))
    );
}
