//! One Google Workspace Reports API activity (`admin#reports#activity`) of application
//! `login`: its first event named `login_success`, `login_failure` or `logout` decides what
//! it is; an activity with none of them (`login_challenge`, `suspicious_login`, a password
//! change) or of another application is skipped. The login audit has no session, device or
//! user agent.

use super::Node;
use super::{get, ip, required, text, time, Decoded, Login, Skip};
use crate::event::{EventType, Outcome, RejectReason};
use std::borrow::Cow;

pub(super) fn decode(r: &Node<'_>) -> Result<Decoded, RejectReason> {
    if text(r, "id.applicationName").is_some_and(|app| app != "login") {
        return Ok(Decoded::Skipped(Skip::NotLogin));
    }
    let events = match get(r, "events") {
        Some(Node::Array(events)) => events,
        None => return Err(RejectReason::MissingField("events")),
        Some(_) => {
            return Err(RejectReason::BadField {
                field: "events",
                problem: "must be an array".into(),
            })
        }
    };
    let kind = events.iter().find_map(|e| match text(e, "name")? {
        "login_success" => Some((EventType::Login, Outcome::Success)),
        "login_failure" => Some((EventType::Login, Outcome::Failure)),
        "logout" => Some((EventType::Logout, Outcome::Success)),
        _ => None,
    });
    let Some((event_type, outcome)) = kind else {
        return Ok(Decoded::Skipped(Skip::NotLogin));
    };
    let timestamp = time(r, "id.time")?;
    // `uniqueQualifier` tells apart activities of the same time, so the pair names one.
    let event_id = match get(r, "id.uniqueQualifier") {
        Some(Node::String(q)) => Some(format!("{q}@{timestamp}")),
        Some(Node::Number(q)) => Some(format!("{q}@{timestamp}")),
        _ => None,
    };
    Login {
        account_id: Cow::Borrowed(required(r, "actor.email")?),
        ip: ip(r, "ipAddress")?,
        timestamp,
        event_id: event_id.map(Cow::Owned),
        event_type,
        outcome,
        session_id: None,
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
        let lines = fixture(Format::GoogleWorkspace);
        let e = event(Format::GoogleWorkspace, lines[0]);
        assert_eq!(e.account_id, "kim.dev@example.com");
        assert_eq!(e.ip.to_string(), "203.0.113.24");
        assert_eq!(e.timestamp.to_string(), "2026-11-24T10:05:00.412Z");
        assert_eq!(e.event_id, "-4185012361794937312@2026-11-24T10:05:00.412Z");
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Login, Outcome::Success)
        );
        let failed = event(Format::GoogleWorkspace, lines[1]);
        assert_eq!(
            (failed.event_type, failed.outcome),
            (EventType::Login, Outcome::Failure)
        );
        assert_eq!(
            event(Format::GoogleWorkspace, lines[2]).ip.to_string(),
            "2001:db8:1f70:0:999:de8:7648:6e8"
        );
        assert_eq!(
            event(Format::GoogleWorkspace, lines[3]).event_type,
            EventType::Logout
        );
        assert_eq!(skipped(Format::GoogleWorkspace, lines[4]), Skip::NotLogin);
        assert_eq!(skipped(Format::GoogleWorkspace, lines[5]), Skip::NotLogin);
    }

    #[test]
    fn malformed_activities_are_rejected_with_the_field() {
        let line = |rest: &str| {
            format!(
                r#"{{"id":{{"time":"2026-01-01T00:00:00Z","applicationName":"login"}},"events":[{{"name":"login_success"}}],{rest}}}"#
            )
        };
        assert_eq!(
            reason(Format::GoogleWorkspace, &line(r#""ipAddress":"1.2.3.4""#)),
            RejectReason::MissingField("actor.email")
        );
        assert_eq!(
            reason(Format::GoogleWorkspace, &line(r#""actor":{"email":"a"}"#)),
            RejectReason::MissingField("ipAddress")
        );
        let ok = event(
            Format::GoogleWorkspace,
            &line(r#""actor":{"email":"a"},"ipAddress":"1.2.3.4""#),
        );
        assert!(
            ok.event_id.starts_with("ev-"),
            "no uniqueQualifier: a derived id"
        );
        let not_array = r#"{"id":{"applicationName":"login"},"events":{"name":"login_success"}}"#;
        assert_eq!(
            reason(Format::GoogleWorkspace, not_array).code(),
            "bad_field"
        );
        let no_time =
            r#"{"events":[{"name":"logout"}],"actor":{"email":"a"},"ipAddress":"1.2.3.4"}"#;
        assert_eq!(
            reason(Format::GoogleWorkspace, no_time),
            RejectReason::MissingField("id.time")
        );
    }
}
