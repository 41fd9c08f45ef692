//! Decoding tests: every rejection reason and the optional fields.

use super::*;

const LIMIT: usize = 64 * 1024;

fn ok(s: &str) -> LoginEvent {
    decode(s.as_bytes(), LIMIT).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn reason(s: &[u8]) -> RejectReason {
    decode(s, LIMIT).expect_err("should be rejected").reason
}

#[test]
fn minimal_event_gets_defaults_and_a_stable_id() {
    let line = r#"{"account_id":"a1","ip":"203.0.113.9","timestamp":"2026-11-24T10:05:00Z"}"#;
    let e = ok(line);
    assert_eq!(e.account_id, "a1");
    assert_eq!(e.event_type, EventType::Login);
    assert_eq!(e.outcome, Outcome::Success);
    assert!(e.event_id.starts_with("ev-"));
    assert_eq!(e.event_id, ok(line).event_id);
    let other = ok(r#"{"account_id":"a1","ip":"203.0.113.9","timestamp":"2026-11-24T10:05:01Z"}"#);
    assert_ne!(e.event_id, other.event_id);
}

#[test]
fn full_event() {
    let e = ok(
        r#"{"account_id":"a","ip":"::ffff:198.51.100.7","timestamp":1795514700000,
        "event_id":"x1","event_type":"activity","outcome":"failure","session_id":"s",
        "device_id":"d","user_agent":"ua","accept_language":"ko-KR,ko;q=0.9",
        "claimed_country":"us","claimed_timezone":"America/New_York",
        "account_created_at":"2026-11-01T00:00:00Z","extra":{"ignored":[1,2]},
        "geo":{"lat":37.5,"lon":127.0,"country":"KR","city":"Seoul","accuracy_km":20,"asn":4766,"proxy":true}}"#,
    );
    assert_eq!(e.ip.to_string(), "198.51.100.7");
    assert_eq!(e.timestamp.0, 1_795_514_700_000);
    assert_eq!(e.event_id, "x1");
    assert_eq!(e.event_type, EventType::Activity);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.claimed_country.unwrap().as_str(), "US");
    let g = e.geo.unwrap();
    assert_eq!((g.lat, g.lon, g.accuracy_km), (37.5, 127.0, Some(20.0)));
    assert_eq!(g.country.unwrap().as_str(), "KR");
    assert_eq!((g.asn, g.proxy), (Some(4766), true));
    assert!(e.account_created_at.is_some());
}

#[test]
fn invalid_geo_is_ignored_not_fatal() {
    for geo in [
        r#""x""#,
        "[1,2]",
        r#"{"lat":91,"lon":0}"#,
        r#"{"lat":"a","lon":0}"#,
        "null",
    ] {
        let line = format!(r#"{{"account_id":"a","ip":"1.2.3.4","timestamp":0,"geo":{geo}}}"#);
        assert_eq!(ok(&line).geo, None, "{geo}");
    }
    // A network view that does not parse is no network view; the location stands.
    let line = r#"{"account_id":"a","ip":"1.2.3.4","timestamp":0,"geo":{"lat":1,"lon":2,"asn":-1,"proxy":"yes"}}"#;
    let g = ok(line).geo.expect("located");
    assert_eq!((g.asn, g.proxy), (None, false));
}

#[test]
fn escaped_strings_decode() {
    let e = ok(r#"{"account_id":"a\"b\u00e9","ip":"1.2.3.4","timestamp":0}"#);
    assert_eq!(e.account_id, "a\"bé");
}

#[test]
fn every_rejection_reason() {
    let big = format!(
        r#"{{"account_id":"{}","ip":"1.2.3.4","timestamp":0}}"#,
        "a".repeat(LIMIT)
    );
    assert!(matches!(
        reason(big.as_bytes()),
        RejectReason::TooLarge { .. }
    ));
    assert_eq!(reason(b"\xff\xfe"), RejectReason::NotUtf8);
    assert!(matches!(reason(b"{not json"), RejectReason::NotJson(_)));
    assert!(matches!(reason(b"[1,2]"), RejectReason::NotJson(_)));
    assert!(matches!(reason(b""), RejectReason::NotJson(_)));
    let cases: &[(&str, &str)] = &[
        (r#"{"ip":"1.2.3.4","timestamp":0}"#, "missing_field"),
        (r#"{"account_id":"a","timestamp":0}"#, "missing_field"),
        (r#"{"account_id":"a","ip":"1.2.3.4"}"#, "missing_field"),
        (
            r#"{"account_id":null,"ip":"1.2.3.4","timestamp":0}"#,
            "missing_field",
        ),
        (
            r#"{"account_id":"","ip":"1.2.3.4","timestamp":0}"#,
            "bad_account_id",
        ),
        (
            r#"{"account_id":7,"ip":"1.2.3.4","timestamp":0}"#,
            "bad_account_id",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.400","timestamp":0}"#,
            "bad_ip",
        ),
        (r#"{"account_id":"a","ip":42,"timestamp":0}"#, "bad_ip"),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":"yesterday"}"#,
            "bad_timestamp",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":-5}"#,
            "bad_timestamp",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":1.5}"#,
            "bad_timestamp",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":0,"event_type":"mfa"}"#,
            "bad_field",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":0,"outcome":"maybe"}"#,
            "bad_field",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":0,"session_id":5}"#,
            "bad_field",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":0,"claimed_country":"USA"}"#,
            "bad_field",
        ),
        (
            r#"{"account_id":"a","ip":"1.2.3.4","timestamp":0,"account_created_at":"x"}"#,
            "bad_field",
        ),
    ];
    for (line, code) in cases {
        let r = reason(line.as_bytes());
        assert_eq!(r.code(), *code, "{line}: {r}");
        assert!(RejectReason::CODES.contains(&r.code()));
    }
    let long_id = format!(
        r#"{{"account_id":"{}","ip":"1.2.3.4","timestamp":0}}"#,
        "a".repeat(257)
    );
    assert_eq!(reason(long_id.as_bytes()), RejectReason::BadAccountId);
}

#[test]
fn reject_keeps_original_bytes() {
    let r = decode(b"garbage", LIMIT).unwrap_err();
    assert_eq!(r.bytes, b"garbage");
    assert!(r.to_string().starts_with("not a JSON object"));
}

#[test]
fn decode_into_reuses_the_event_and_matches_decode() {
    let lines = [
        r#"{"account_id":"a","ip":"::ffff:198.51.100.7","timestamp":1795514700000,
        "event_id":"x1","session_id":"s","device_id":"d","user_agent":"ua",
        "accept_language":"ko","claimed_country":"us","claimed_timezone":"Asia/Seoul",
        "geo":{"lat":37.5,"lon":127.0}}"#,
        r#"{"account_id":"b\u00e9","ip":"203.0.113.9","timestamp":"2026-11-24T10:05:00Z"}"#,
        r#"{"account_id":"c","ip":"2001:db8::1","timestamp":0,"session_id":"t","device_id":null}"#,
    ];
    let mut reused = ok(lines[1]);
    for line in lines.iter().chain(lines.iter().rev()) {
        decode_into(line.as_bytes(), LIMIT, &mut reused).unwrap();
        assert_eq!(reused, ok(line), "{line}");
    }
    let before = reused.clone();
    let err = decode_into(b"{\"ip\":1}", LIMIT, &mut reused).unwrap_err();
    assert_eq!(err.reason.code(), "missing_field");
    assert_eq!(
        reused, before,
        "a rejected message leaves the event unchanged"
    );
}

#[test]
fn deep_nesting_is_rejected_not_a_crash() {
    let depth = 20_000;
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let deep = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        for line in [
            deep.clone(),
            format!(r#"{{"account_id":"a","ip":"1.2.3.4","timestamp":0,"x":{deep}}}"#),
            format!(r#"{{"account_id":"a","ip":"1.2.3.4","timestamp":0,"geo":{deep}}}"#),
            format!(r#"{{"account_id":{deep},"ip":"1.2.3.4","timestamp":0}}"#),
        ] {
            let r = decode(line.as_bytes(), 1 << 20).expect_err("deep nesting is rejected");
            assert_eq!(r.reason.code(), "not_json", "{}", r.reason);
            assert!(r
                .reason
                .to_string()
                .contains("nested deeper than 128 levels"));
            assert_eq!(r.bytes, line.as_bytes());
        }
    }
}

#[test]
fn nesting_up_to_the_limit_is_accepted_and_strings_do_not_count() {
    let event =
        |extra: &str| format!(r#"{{"account_id":"a","ip":"1.2.3.4","timestamp":0,"x":{extra}}}"#);
    // The event object is level 1, so `x` may hold 127 more.
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    ok(&event(&nested(MAX_NESTING - 1)));
    let r = reason(event(&nested(MAX_NESTING)).as_bytes());
    assert_eq!(r.code(), "not_json", "{r}");
    // Brackets inside strings, escaped quotes included, are text.
    let text = format!(r#""\"{}""#, "[{".repeat(200));
    assert_eq!(ok(&event(&text)).account_id, "a");
    let ua = format!(
        r#"{{"account_id":"a","ip":"1.2.3.4","timestamp":0,"user_agent":"{}"}}"#,
        "{".repeat(300)
    );
    assert_eq!(ok(&ua).user_agent.unwrap().len(), 300);
}
