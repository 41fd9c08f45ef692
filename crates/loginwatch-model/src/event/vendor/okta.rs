//! Okta System Log events (`LogEvent`): `user.session.start` is a login whose
//! `outcome.result` says how it went, `user.session.end` a logout, `user.authentication.sso`
//! the session seen active (an app opened through it); every other event type is skipped.

use super::Node;
use super::{geo, get, integer, ip, number, required, text, time, Decoded, Login, Skip};
use crate::event::{EventType, Outcome, RejectReason};
use std::borrow::Cow;

pub(super) fn decode(r: &Node<'_>) -> Result<Decoded, RejectReason> {
    let event_type = match required(r, "eventType")? {
        "user.session.start" => EventType::Login,
        "user.session.end" => EventType::Logout,
        "user.authentication.sso" => EventType::Activity,
        _ => return Ok(Decoded::Skipped(Skip::NotLogin)),
    };
    if text(r, "actor.type").is_some_and(|t| !t.eq_ignore_ascii_case("User")) {
        return Ok(Decoded::Skipped(Skip::NotAUser));
    }
    let outcome = match required(r, "outcome.result")? {
        "SUCCESS" | "ALLOW" => Outcome::Success,
        "FAILURE" | "DENY" => Outcome::Failure,
        _ => return Ok(Decoded::Skipped(Skip::NoOutcome)),
    };
    let client_ip = match get(r, "client.ipAddress") {
        Some(_) => ip(r, "client.ipAddress")?,
        None => ip(r, "request.ipChain.0.ip")
            .map_err(|_| RejectReason::MissingField("client.ipAddress"))?,
    };
    let place = "client.geographicalContext";
    let mut hint = geo(
        number(r, &format!("{place}.geolocation.lat")),
        number(r, &format!("{place}.geolocation.lon")),
        text(r, &format!("{place}.country")),
        text(r, &format!("{place}.city")),
    );
    if let Some(g) = &mut hint {
        g.asn = integer(r, "securityContext.asNumber");
        g.proxy = get(r, "securityContext.isProxy").and_then(Node::as_bool) == Some(true);
    }
    // Okta writes "unknown" where it has no session (failed logins) and "UNKNOWN" where it
    // could not read the user agent: no value, not one shared by every such event.
    let known = |s: &&str| !s.eq_ignore_ascii_case("unknown");
    Login {
        account_id: Cow::Borrowed(required(r, "actor.alternateId")?),
        ip: client_ip,
        timestamp: time(r, "published")?,
        event_id: text(r, "uuid").map(Cow::Borrowed),
        event_type,
        outcome,
        session_id: text(r, "authenticationContext.externalSessionId").filter(known),
        device_id: text(r, "device.id"),
        user_agent: text(r, "client.userAgent.rawUserAgent").filter(known),
        geo: hint,
    }
    .into_event()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{event, fixture, reason, skipped};
    use crate::{EventType, Format, Outcome, Skip};

    #[test]
    fn the_fixture_maps_onto_the_contract() {
        let lines = fixture(Format::Okta);
        let e = event(Format::Okta, lines[0]);
        assert_eq!(e.account_id, "kim.dev@example.com");
        assert_eq!(e.ip.to_string(), "203.0.113.24");
        assert_eq!(e.timestamp.to_string(), "2026-11-24T10:05:00.123Z");
        assert_eq!(e.event_id, "9b1f4c2e-5a77-11f0-8c2b-0242ac120002");
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Login, Outcome::Success)
        );
        assert_eq!(e.session_id.as_deref(), Some("102nZ4dLbqCRHOq0nmRxwbM5A"));
        assert_eq!(e.device_id.as_deref(), Some("guo1a2b3c4d5e6f7g8h9"));
        assert!(e
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("Mozilla/5.0")));
        let g = e.geo.expect("Okta located it");
        assert_eq!((g.lat, g.lon), (37.5665, 126.978));
        assert_eq!(
            g.country.map(|c| c.to_string()).as_deref(),
            Some("KR"),
            "South Korea"
        );
        assert_eq!(g.city.as_deref(), Some("Seoul"));
        assert_eq!((g.asn, g.proxy), (Some(4766), false));

        let failed = event(Format::Okta, lines[1]);
        assert_eq!(
            (failed.event_type, failed.outcome),
            (EventType::Login, Outcome::Failure)
        );
        assert_eq!(
            failed.session_id, None,
            "Okta's \"unknown\" session is none"
        );
        let proxied = event(Format::Okta, lines[2]);
        let g = proxied.geo.expect("located");
        assert_eq!(g.country.map(|c| c.to_string()).as_deref(), Some("US"));
        assert_eq!((g.asn, g.proxy), (Some(9009), true));
        assert_eq!(
            event(Format::Okta, lines[3]).event_type,
            EventType::Activity
        );
        assert_eq!(event(Format::Okta, lines[4]).event_type, EventType::Logout);
        assert_eq!(skipped(Format::Okta, lines[5]), Skip::NotLogin);
        assert_eq!(skipped(Format::Okta, lines[6]), Skip::NoOutcome);
    }

    #[test]
    fn the_ip_chain_stands_in_for_a_missing_client_address() {
        let e = event(
            Format::Okta,
            r#"{"eventType":"user.session.start","outcome":{"result":"SUCCESS"},
            "actor":{"alternateId":"a","type":"User"},"published":"2026-01-01T00:00:00Z",
            "client":{},"request":{"ipChain":[{"ip":"198.51.100.9"}]}}"#,
        );
        assert_eq!(e.ip.to_string(), "198.51.100.9");
        assert_eq!(e.geo, None);
    }

    #[test]
    fn malformed_logins_are_rejected_with_the_field() {
        let login = |rest: &str| {
            format!(
                r#"{{"eventType":"user.session.start","published":"2026-01-01T00:00:00Z",{rest}}}"#
            )
        };
        let full = r#""outcome":{"result":"SUCCESS"},"actor":{"alternateId":"a"},"client":{"ipAddress":"1.2.3.4"}"#;
        assert!(event(Format::Okta, &login(full)).is_successful_login());
        for (rest, code) in [
            (
                r#""actor":{"alternateId":"a"},"client":{"ipAddress":"1.2.3.4"}"#,
                "missing_field",
            ),
            (
                r#""outcome":{"result":"SUCCESS"},"client":{"ipAddress":"1.2.3.4"}"#,
                "missing_field",
            ),
            (
                r#""outcome":{"result":"SUCCESS"},"actor":{"alternateId":"a"},"client":{}"#,
                "missing_field",
            ),
            (
                r#""outcome":{"result":"SUCCESS"},"actor":{"alternateId":"a"},"client":{"ipAddress":"nope"}"#,
                "bad_ip",
            ),
            (
                r#""outcome":{"result":"SUCCESS"},"actor":{"alternateId":7},"client":{"ipAddress":"1.2.3.4"}"#,
                "bad_field",
            ),
        ] {
            assert_eq!(reason(Format::Okta, &login(rest)).code(), code, "{rest}");
        }
        let no_time = r#"{"eventType":"user.session.start","outcome":{"result":"SUCCESS"},"actor":{"alternateId":"a"},"client":{"ipAddress":"1.2.3.4"},"published":"yesterday"}"#;
        assert_eq!(reason(Format::Okta, no_time).code(), "bad_timestamp");
        assert_eq!(
            reason(Format::Okta, r#"{"published":"x"}"#).code(),
            "missing_field"
        );
    }
}
