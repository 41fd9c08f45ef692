//! Helpers for the decoders' tests (fixtures, one-line decoding) and tests of what they share.

use super::*;

const LIMIT: usize = 64 * 1024;

/// The fixture of `format`: records written from the vendor's documented schema, one a line.
pub(super) fn fixture(format: Format) -> Vec<&'static str> {
    let text = match format {
        Format::Loginwatch => "",
        Format::Okta => include_str!("fixtures/okta.jsonl"),
        Format::Entra => include_str!("fixtures/entra.jsonl"),
        Format::Auth0 => include_str!("fixtures/auth0.jsonl"),
        Format::Cloudtrail => include_str!("fixtures/cloudtrail.jsonl"),
        Format::GoogleWorkspace => include_str!("fixtures/google-workspace.jsonl"),
        Format::Keycloak => include_str!("fixtures/keycloak.jsonl"),
    };
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// The event `line` decodes to; panics when it is skipped or rejected.
pub(super) fn event(format: Format, line: &str) -> LoginEvent {
    match decode_as(format, line.as_bytes(), LIMIT) {
        Ok(Decoded::Event(e)) => e,
        other => panic!("{line}: {other:?}"),
    }
}

/// Why `line` is skipped; panics when it is an event or rejected.
pub(super) fn skipped(format: Format, line: &str) -> Skip {
    match decode_as(format, line.as_bytes(), LIMIT) {
        Ok(Decoded::Skipped(s)) => s,
        other => panic!("{line}: {other:?}"),
    }
}

/// Why `line` is rejected; panics when it is not.
pub(super) fn reason(format: Format, line: &str) -> RejectReason {
    match decode_as(format, line.as_bytes(), LIMIT) {
        Err(reject) => {
            assert_eq!(reject.bytes, line.as_bytes(), "the original bytes are kept");
            reject.reason
        }
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn format_names_are_the_same_everywhere() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        let json = serde_json::to_string(&f).expect("serializes");
        assert_eq!(json, format!("\"{f}\""));
        assert_eq!(serde_json::from_str::<Format>(&json).ok(), Some(f));
    }
    let err = "splunk".parse::<Format>().expect_err("unknown");
    assert!(err.to_string().contains("google-workspace"), "{err}");
    assert_eq!(Format::default(), Format::Loginwatch);
}

#[test]
fn the_native_format_is_the_native_decoder() {
    let line = r#"{"account_id":"a","ip":"1.2.3.4","timestamp":0}"#;
    assert_eq!(
        decode_as(Format::Loginwatch, line.as_bytes(), LIMIT),
        crate::decode(line.as_bytes(), LIMIT).map(Decoded::Event)
    );
}

#[test]
fn every_vendor_rejects_what_is_not_a_json_object() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for f in &Format::ALL[1..] {
        for (bytes, code) in [
            (&b"not json"[..], "not_json"),
            (b"[1,2]", "not_json"),
            (b"\"x\"", "not_json"),
            (b"\xff\xfe", "not_utf8"),
            (deep.as_bytes(), "not_json"),
        ] {
            let got = decode_as(*f, bytes, LIMIT)
                .map(|_| ())
                .map_err(|r| r.reason.code());
            assert_eq!(got, Err(code), "{f}: {}", String::from_utf8_lossy(bytes));
        }
        let big = vec![b' '; 100];
        let too_large = decode_as(*f, &big, 99)
            .map(|_| ())
            .map_err(|r| r.reason.code());
        assert_eq!(too_large, Err("too_large"), "{f}");
        assert_eq!(
            decode_as(*f, b"{}", LIMIT)
                .map(|_| ())
                .map_err(|r| r.reason.code()),
            Err("missing_field"),
            "{f}: an empty object says which field it lacks"
        );
    }
}

#[test]
fn every_fixture_line_is_an_event_or_a_skip_and_writes_back_as_itself() {
    for f in &Format::ALL[1..] {
        let lines = fixture(*f);
        assert!(lines.len() >= 4, "{f}");
        let (mut events, mut skips) = (0, 0);
        for line in lines {
            match decode_as(*f, line.as_bytes(), LIMIT) {
                Ok(Decoded::Event(e)) => {
                    events += 1;
                    let written = serde_json::to_vec(&e).expect("serializes");
                    assert_eq!(crate::decode(&written, LIMIT), Ok(e), "{f}: {line}");
                }
                Ok(Decoded::Skipped(_)) => skips += 1,
                Err(r) => panic!("{f}: {line}: {r}"),
            }
        }
        assert!(
            events >= 3 && skips >= 1,
            "{f}: {events} events, {skips} skips"
        );
    }
}

#[test]
fn paths_reach_into_objects_and_arrays() {
    let json = serde_json::json!({"a": {"b": [{"c": "x"}, null]}, "n": null, "e": " "});
    let json = json.to_string();
    let v: Node<'_> = serde_json::from_str(&json).unwrap();
    assert_eq!(text(&v, "a.b.0.c"), Some("x"));
    assert_eq!(get(&v, "a.b.1"), None, "null is absent");
    assert_eq!(get(&v, "a.b.9"), None);
    assert_eq!(get(&v, "a.b.x"), None);
    assert_eq!(get(&v, "n"), None);
    assert_eq!(text(&v, "e"), None, "blank is absent");
    assert_eq!(required(&v, "e"), Err(RejectReason::MissingField("e")));
    assert!(matches!(
        required(&v, "a"),
        Err(RejectReason::BadField { field: "a", .. })
    ));
}

#[test]
fn numbers_times_and_the_geo_hint() {
    let json = serde_json::json!({"s": "12.5", "n": -3, "big": 5_000_000_000u64,
        "t": "2026-11-24T10:05:00.1234567Z", "ms": 1_795_514_700_123i64, "neg": -1});
    let json = json.to_string();
    let v: Node<'_> = serde_json::from_str(&json).unwrap();
    assert_eq!(number(&v, "s"), Some(12.5));
    assert_eq!(number(&v, "n"), Some(-3.0));
    assert_eq!(integer(&v, "n"), None);
    assert_eq!(integer(&v, "big"), None, "not a u32");
    assert_eq!(time(&v, "t").map(|t| t.0), Ok(1_795_514_700_123));
    assert_eq!(time(&v, "ms").map(|t| t.0), Ok(1_795_514_700_123));
    assert!(matches!(
        time(&v, "neg"),
        Err(RejectReason::BadTimestamp(_))
    ));
    assert_eq!(time(&v, "none"), Err(RejectReason::MissingField("none")));
    assert_eq!(geo(Some(91.0), Some(0.0), None, None), None);
    assert_eq!(geo(Some(1.0), None, None, None), None);
    assert_eq!(geo(Some(f64::NAN), Some(0.0), None, None), None);
    let g = geo(Some(1.0), Some(2.0), Some("Japan"), Some("Tokyo")).expect("in range");
    assert_eq!(g.country.map(|c| c.to_string()).as_deref(), Some("JP"));
}

#[test]
fn account_ids_are_held_to_the_contract() {
    let login = |account: &str| Login {
        account_id: Cow::Owned(account.to_owned()),
        ip: "1.2.3.4".parse().expect("ip"),
        timestamp: EventTime(0),
        event_id: None,
        event_type: EventType::Login,
        outcome: Outcome::Success,
        session_id: Some("s"),
        device_id: None,
        user_agent: None,
        geo: None,
    };
    assert_eq!(
        login(&"a".repeat(257)).into_event(),
        Err(RejectReason::BadAccountId)
    );
    let Ok(Decoded::Event(e)) = login("a").into_event() else {
        panic!("valid")
    };
    assert_eq!(
        e.event_id,
        derive_event_id("a", e.ip, e.timestamp, e.event_type, e.outcome, Some("s")),
        "an id derived as a native event's is"
    );
}
