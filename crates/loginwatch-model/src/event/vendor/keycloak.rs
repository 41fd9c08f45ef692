//! Keycloak user events (`EventRepresentation`, as the admin REST API and event-listener
//! SPIs write them): `time` in epoch milliseconds, `type`, `realmId`, `userId`, `sessionId`,
//! `ipAddress`, `details`. `LOGIN` is a login, `LOGIN_ERROR` a failed one, `LOGOUT` a logout;
//! other types (token exchanges come from the client's servers, not the user) and admin
//! events are skipped.

use super::Node;
use super::{get, ip, required, text, time, Decoded, Login, Skip};
use crate::event::{EventType, Outcome, RejectReason};
use std::borrow::Cow;

pub(super) fn decode(r: &Node<'_>) -> Result<Decoded, RejectReason> {
    if get(r, "type").is_none() && get(r, "operationType").is_some() {
        // An AdminEventRepresentation: a change made through the admin console or API.
        return Ok(Decoded::Skipped(Skip::NotLogin));
    }
    let (event_type, outcome) = match required(r, "type")? {
        "LOGIN" => (EventType::Login, Outcome::Success),
        "LOGIN_ERROR" => (EventType::Login, Outcome::Failure),
        "LOGOUT" => (EventType::Logout, Outcome::Success),
        _ => return Ok(Decoded::Skipped(Skip::NotLogin)),
    };
    // A failed login for an unknown user has no `userId`, only the name as typed.
    let account = match text(r, "userId") {
        Some(id) => id,
        None => {
            required(r, "details.username").map_err(|_| RejectReason::MissingField("userId"))?
        }
    };
    Login {
        account_id: Cow::Borrowed(account),
        ip: ip(r, "ipAddress")?,
        timestamp: time(r, "time")?,
        event_id: text(r, "id").map(Cow::Borrowed),
        event_type,
        outcome,
        session_id: text(r, "sessionId"),
        device_id: None,
        user_agent: None,
        geo: None,
    }
    .into_event()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{event, fixture, reason, skipped};
    use crate::{EventType, Format, Outcome, RejectReason, Skip};

    #[test]
    fn the_fixture_maps_onto_the_contract() {
        let lines = fixture(Format::Keycloak);
        let e = event(Format::Keycloak, lines[0]);
        assert_eq!(e.account_id, "5b0c8f0e-3d2a-4c1b-9e8f-7a6b5c4d3e2f");
        assert_eq!(e.ip.to_string(), "203.0.113.24");
        assert_eq!(e.timestamp.to_string(), "2026-11-24T10:05:00.123Z");
        assert_eq!(e.event_id, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Login, Outcome::Success)
        );
        assert_eq!(
            e.session_id.as_deref(),
            Some("e7d6c5b4-a392-4817-9f6e-5d4c3b2a1f0e")
        );
        let failed = event(Format::Keycloak, lines[1]);
        assert_eq!(
            (failed.event_type, failed.outcome),
            (EventType::Login, Outcome::Failure)
        );
        let unknown = event(Format::Keycloak, lines[2]);
        assert_eq!(
            unknown.account_id, "no.such.user",
            "the typed name stands in"
        );
        assert!(unknown.event_id.starts_with("ev-"), "no id: derived");
        assert_eq!(
            event(Format::Keycloak, lines[3]).ip.to_string(),
            "198.51.100.77"
        );
        assert_eq!(
            event(Format::Keycloak, lines[4]).event_type,
            EventType::Logout
        );
        assert_eq!(skipped(Format::Keycloak, lines[5]), Skip::NotLogin);
        assert_eq!(skipped(Format::Keycloak, lines[6]), Skip::NotLogin);
    }

    #[test]
    fn malformed_events_are_rejected_with_the_field() {
        let line = |rest: &str| format!(r#"{{"type":"LOGIN",{rest}}}"#);
        assert_eq!(
            reason(Format::Keycloak, &line(r#""time":0,"ipAddress":"1.2.3.4""#)),
            RejectReason::MissingField("userId")
        );
        assert_eq!(
            reason(Format::Keycloak, &line(r#""time":0,"userId":"u""#)),
            RejectReason::MissingField("ipAddress")
        );
        assert_eq!(
            reason(
                Format::Keycloak,
                &line(r#""userId":"u","ipAddress":"1.2.3.4""#)
            ),
            RejectReason::MissingField("time")
        );
        assert_eq!(
            reason(
                Format::Keycloak,
                &line(r#""time":-5,"userId":"u","ipAddress":"1.2.3.4""#)
            )
            .code(),
            "bad_timestamp"
        );
        assert_eq!(
            reason(
                Format::Keycloak,
                &line(r#""time":1.5,"userId":"u","ipAddress":"1.2.3.4""#)
            )
            .code(),
            "bad_timestamp"
        );
        assert_eq!(
            reason(Format::Keycloak, r#"{"type":7}"#).code(),
            "bad_field"
        );
    }
}
