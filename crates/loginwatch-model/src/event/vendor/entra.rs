//! Entra ID sign-in log records as diagnostic settings export them (storage, Event Hubs):
//! top-level `time`, `category`, `resultType`, `callerIpAddress`, and the sign-in under
//! `properties`. Interactive user sign-ins are logins, non-interactive ones (token
//! refreshes) session activity; workload sign-ins and other categories are skipped.

use super::Node;
use super::{geo, get, integer, ip, number, required, text, time, Decoded, Login, Skip};
use crate::event::{EventType, Outcome, RejectReason};
use std::borrow::Cow;

pub(super) fn decode(r: &Node<'_>) -> Result<Decoded, RejectReason> {
    let event_type = match text(r, "category") {
        Some("SignInLogs") => EventType::Login,
        Some("NonInteractiveUserSignInLogs") => EventType::Activity,
        Some("ServicePrincipalSignInLogs" | "ManagedIdentitySignInLogs") => {
            return Ok(Decoded::Skipped(Skip::NotAUser))
        }
        Some(_) => return Ok(Decoded::Skipped(Skip::NotLogin)),
        // No category: a sign-in record by its operation, interactive unless it says not.
        None if text(r, "operationName").is_some_and(|op| op != "Sign-in activity") => {
            return Ok(Decoded::Skipped(Skip::NotLogin))
        }
        None if get(r, "properties.isInteractive").and_then(Node::as_bool) == Some(false) => {
            EventType::Activity
        }
        None => EventType::Login,
    };
    let p = get(r, "properties").unwrap_or(&super::NULL);
    let client_ip = match get(r, "callerIpAddress") {
        Some(_) => ip(r, "callerIpAddress")?,
        None => ip(p, "ipAddress").map_err(|_| RejectReason::MissingField("callerIpAddress"))?,
    };
    let timestamp = match get(r, "time") {
        Some(_) => time(r, "time")?,
        None => time(p, "createdDateTime").map_err(|_| RejectReason::MissingField("time"))?,
    };
    let mut hint = geo(
        number(p, "location.geoCoordinates.latitude"),
        number(p, "location.geoCoordinates.longitude"),
        text(p, "location.countryOrRegion"),
        text(p, "location.city"),
    );
    if let Some(g) = &mut hint {
        g.asn = integer(p, "autonomousSystemNumber");
    }
    Login {
        account_id: Cow::Borrowed(
            required(p, "userPrincipalName")
                .map_err(|e| in_properties(e, "properties.userPrincipalName"))?,
        ),
        ip: client_ip,
        timestamp,
        event_id: text(p, "id").map(Cow::Borrowed),
        event_type,
        outcome: outcome(r)?,
        session_id: text(p, "sessionId"),
        device_id: text(p, "deviceDetail.deviceId"),
        user_agent: text(p, "userAgent"),
        geo: hint,
    }
    .into_event()
}

/// Error code 0 is a success, any other a failure: `properties.status.errorCode`, else the
/// top-level `resultType` (a string of digits in the export).
fn outcome(r: &Node<'_>) -> Result<Outcome, RejectReason> {
    let code = get(r, "properties.status.errorCode").or_else(|| get(r, "resultType"));
    let zero = match code {
        None => return Err(RejectReason::MissingField("resultType")),
        Some(Node::Number(n)) => n.as_i64() == Some(0),
        Some(Node::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => n == 0,
            Err(_) => {
                return Err(RejectReason::BadField {
                    field: "resultType",
                    problem: format!("is not an error code: {s:?}"),
                })
            }
        },
        Some(_) => {
            return Err(RejectReason::BadField {
                field: "resultType",
                problem: "is not an error code".into(),
            })
        }
    };
    Ok(if zero {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// A problem with a field under `properties`, named by its full path.
fn in_properties(e: RejectReason, path: &'static str) -> RejectReason {
    match e {
        RejectReason::MissingField(_) => RejectReason::MissingField(path),
        RejectReason::BadField { problem, .. } => RejectReason::BadField {
            field: path,
            problem,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{event, fixture, reason, skipped};
    use crate::{EventType, Format, Outcome, RejectReason, Skip};

    #[test]
    fn the_fixture_maps_onto_the_contract() {
        let lines = fixture(Format::Entra);
        let e = event(Format::Entra, lines[0]);
        assert_eq!(e.account_id, "kim.dev@contoso.example");
        assert_eq!(e.ip.to_string(), "203.0.113.24");
        assert_eq!(e.timestamp.to_string(), "2026-11-24T10:05:00.877Z");
        assert_eq!(e.event_id, "6f2c1f0a-8d3e-4b7a-9c11-2a3b4c5d6e01");
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Login, Outcome::Success)
        );
        assert_eq!(
            e.session_id.as_deref(),
            Some("5e6f7a8b-1111-4c2d-9e3f-0a1b2c3d4e5f")
        );
        assert_eq!(
            e.device_id.as_deref(),
            Some("d3c2b1a0-2222-4f5e-8d7c-6b5a4f3e2d1c")
        );
        assert!(e.user_agent.is_some());
        let g = e.geo.expect("Entra located it");
        assert_eq!((g.lat, g.lon), (37.5665, 126.978));
        assert_eq!(g.country.map(|c| c.to_string()).as_deref(), Some("KR"));
        assert_eq!((g.city.as_deref(), g.asn), (Some("Seoul"), Some(4766)));

        let failed = event(Format::Entra, lines[1]);
        assert_eq!(
            (failed.event_type, failed.outcome),
            (EventType::Login, Outcome::Failure)
        );
        assert_eq!(failed.device_id, None, "an empty device id is none");
        let far = event(Format::Entra, lines[2]);
        assert_eq!(far.ip.to_string(), "2001:db8:85a3::8a2e:370:7334");
        assert_eq!(
            event(Format::Entra, lines[3]).event_type,
            EventType::Activity
        );
        assert_eq!(skipped(Format::Entra, lines[4]), Skip::NotAUser);
        assert_eq!(skipped(Format::Entra, lines[5]), Skip::NotLogin);
    }

    #[test]
    fn without_category_or_status_the_record_still_reads() {
        let e = event(
            Format::Entra,
            r#"{"time":"2026-01-01T00:00:00Z","resultType":"50126","callerIpAddress":"1.2.3.4",
            "properties":{"userPrincipalName":"a@b","isInteractive":true}}"#,
        );
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Login, Outcome::Failure)
        );
        let e = event(
            Format::Entra,
            r#"{"resultType":"0","properties":{"userPrincipalName":"a@b","isInteractive":false,
            "createdDateTime":"2026-01-01T00:00:00Z","ipAddress":"1.2.3.4","status":{"errorCode":0}}}"#,
        );
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Activity, Outcome::Success)
        );
        let audit = r#"{"operationName":"Add member to group","category":null}"#;
        assert_eq!(skipped(Format::Entra, audit), Skip::NotLogin);
    }

    #[test]
    fn malformed_sign_ins_are_rejected_with_the_field() {
        let base =
            r#""category":"SignInLogs","time":"2026-01-01T00:00:00Z","callerIpAddress":"1.2.3.4""#;
        let line = |rest: &str| format!("{{{base},{rest}}}");
        assert_eq!(
            reason(Format::Entra, &line(r#""resultType":"0","properties":{}"#)),
            RejectReason::MissingField("properties.userPrincipalName")
        );
        assert_eq!(
            reason(
                Format::Entra,
                &line(r#""properties":{"userPrincipalName":"a"}"#)
            ),
            RejectReason::MissingField("resultType")
        );
        let bad = reason(
            Format::Entra,
            &line(r#""resultType":"oops","properties":{"userPrincipalName":"a"}"#),
        );
        assert_eq!(bad.code(), "bad_field");
        let no_ip = r#"{"category":"SignInLogs","time":"2026-01-01T00:00:00Z","resultType":"0","properties":{"userPrincipalName":"a"}}"#;
        assert_eq!(
            reason(Format::Entra, no_ip),
            RejectReason::MissingField("callerIpAddress")
        );
    }
}
