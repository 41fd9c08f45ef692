//! Auth0 log events, bare (Management API `/api/v2/logs`) or in a log stream's wrapper
//! (`{"log_id", "data"}`, also inside an EventBridge envelope's `detail`). The event `type`
//! code says what happened: `s` (and the cross-origin and native-social variants) is a
//! login, `f`, `fp`, `fu` and the other "Login - Failure" codes a failed one, `slo` a
//! logout, `ssa` (silent authentication) the session seen active; other codes are skipped.

use super::Node;
use super::{geo, get, ip, number, required, text, time, Decoded, Login, Skip};
use crate::event::{EventType, Outcome, RejectReason};
use std::borrow::Cow;

pub(super) fn decode(r: &Node<'_>) -> Result<Decoded, RejectReason> {
    let r = unwrap(r);
    let (event_type, outcome) = match required(r, "type")? {
        "s" | "scoa" | "sens" => (EventType::Login, Outcome::Success),
        "f" | "fp" | "fu" | "fc" | "fco" | "fcoa" | "fens" => (EventType::Login, Outcome::Failure),
        "slo" => (EventType::Logout, Outcome::Success),
        "ssa" => (EventType::Activity, Outcome::Success),
        _ => return Ok(Decoded::Skipped(Skip::NotLogin)),
    };
    // A failed login for an unknown user has an empty `user_id` and the name as typed.
    let account = match get(r, "user_id") {
        Some(Node::String(s)) if !s.trim().is_empty() => s.as_ref(),
        _ => required(r, "user_name").map_err(|_| RejectReason::MissingField("user_id"))?,
    };
    let at = "location_info";
    Login {
        account_id: Cow::Borrowed(account),
        ip: ip(r, "ip")?,
        timestamp: time(r, "date")?,
        event_id: text(r, "log_id")
            .or_else(|| text(r, "_id"))
            .map(Cow::Borrowed),
        event_type,
        outcome,
        session_id: text(r, "details.session_id"),
        device_id: None,
        user_agent: text(r, "user_agent"),
        geo: geo(
            number(r, &format!("{at}.latitude")),
            number(r, &format!("{at}.longitude")),
            text(r, &format!("{at}.country_code"))
                .or_else(|| text(r, &format!("{at}.country_name"))),
            text(r, &format!("{at}.city_name")),
        ),
    }
    .into_event()
}

/// The log event inside its wrappers: an EventBridge envelope's `detail`, a log stream's
/// `data` (a record with a `type` of its own is the event itself).
fn unwrap<'v, 'a>(r: &'v Node<'a>) -> &'v Node<'a> {
    let mut r = r;
    for key in ["detail", "data"] {
        if get(r, "type").is_none() {
            if let Some(inner @ Node::Object(_)) = get(r, key) {
                r = inner;
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::super::tests::{event, fixture, reason, skipped};
    use crate::{EventType, Format, Outcome, RejectReason, Skip};

    #[test]
    fn the_fixture_maps_onto_the_contract() {
        let lines = fixture(Format::Auth0);
        let e = event(Format::Auth0, lines[0]);
        assert_eq!(e.account_id, "auth0|6512a0b1c2d3e4f5a6b7c8d9");
        assert_eq!(e.ip.to_string(), "203.0.113.24");
        assert_eq!(e.timestamp.to_string(), "2026-11-24T10:05:00.532Z");
        assert_eq!(
            e.event_id,
            "90020261124100500532000000000000001223372036854775807"
        );
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Login, Outcome::Success)
        );
        assert_eq!(
            e.session_id.as_deref(),
            Some("aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW")
        );
        assert_eq!(
            e.user_agent.as_deref(),
            Some("Chrome 126.0.0 / Mac OS X 14.5.0")
        );
        let g = e.geo.expect("Auth0 located it");
        assert_eq!(
            (g.lat, g.lon),
            (37.5665, 126.978),
            "coordinates written as strings"
        );
        assert_eq!(g.country.map(|c| c.to_string()).as_deref(), Some("KR"));
        assert_eq!(g.city.as_deref(), Some("Seoul"));

        let wrong_password = event(Format::Auth0, lines[1]);
        assert_eq!(wrong_password.outcome, Outcome::Failure);
        let unknown_user = event(Format::Auth0, lines[2]);
        assert_eq!(
            unknown_user.account_id, "nobody@example.com",
            "user_name stands in"
        );
        assert_eq!(unknown_user.outcome, Outcome::Failure);
        let wrapped = event(Format::Auth0, lines[3]);
        assert_eq!(wrapped.account_id, "auth0|6512a0b1c2d3e4f5a6b7c8d9");
        assert_eq!(wrapped.ip.to_string(), "2001:db8:4006:812::200e");
        assert_eq!(
            event(Format::Auth0, lines[4]).event_type,
            EventType::Activity
        );
        assert_eq!(event(Format::Auth0, lines[5]).event_type, EventType::Logout);
        assert_eq!(skipped(Format::Auth0, lines[6]), Skip::NotLogin);
        assert_eq!(skipped(Format::Auth0, lines[7]), Skip::NotLogin);
    }

    #[test]
    fn an_eventbridge_envelope_is_opened() {
        let e = event(
            Format::Auth0,
            r#"{"detail-type":"Auth0 log","detail":{"log_id":"L1","data":{"date":"2026-01-01T00:00:00Z",
            "type":"fp","ip":"1.2.3.4","user_id":"auth0|1","log_id":"L1"}}}"#,
        );
        assert_eq!((e.event_id.as_str(), e.outcome), ("L1", Outcome::Failure));
    }

    #[test]
    fn malformed_logins_are_rejected_with_the_field() {
        let line = |rest: &str| format!(r#"{{"type":"s","date":"2026-01-01T00:00:00Z",{rest}}}"#);
        assert_eq!(
            reason(Format::Auth0, &line(r#""ip":"1.2.3.4""#)),
            RejectReason::MissingField("user_id")
        );
        assert_eq!(
            reason(
                Format::Auth0,
                &line(r#""ip":"1.2.3.4","user_id":"","user_name":"""#)
            ),
            RejectReason::MissingField("user_id")
        );
        assert_eq!(
            reason(Format::Auth0, &line(r#""user_id":"u""#)),
            RejectReason::MissingField("ip")
        );
        assert_eq!(
            reason(Format::Auth0, &line(r#""user_id":"u","ip":"300.1.1.1""#)).code(),
            "bad_ip"
        );
        assert_eq!(
            reason(Format::Auth0, r#"{"date":"2026-01-01T00:00:00Z"}"#),
            RejectReason::MissingField("type")
        );
        let late = r#"{"type":"s","date":"soon","user_id":"u","ip":"1.2.3.4"}"#;
        assert_eq!(reason(Format::Auth0, late).code(), "bad_timestamp");
    }
}
