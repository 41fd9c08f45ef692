//! One AWS CloudTrail record (a line of `jq -c '.Records[]'`, or an EventBridge event whose
//! `detail` is the record): `ConsoleLogin` is a login whose `responseElements.ConsoleLogin`
//! says `Success` or `Failure`; every other event name is skipped.

use super::Node;
use super::{get, ip, required, text, time, Decoded, Login, Skip};
use crate::event::{EventType, Outcome, RejectReason};
use std::borrow::Cow;

pub(super) fn decode(r: &Node<'_>) -> Result<Decoded, RejectReason> {
    let r = match get(r, "detail") {
        Some(detail @ Node::Object(_)) if get(r, "eventName").is_none() => detail,
        _ => r,
    };
    if get(r, "eventName").is_none() && get(r, "Records").is_some() {
        return Err(RejectReason::BadField {
            field: "Records",
            problem: "is a whole log file: write one record a line (jq -c '.Records[]')".into(),
        });
    }
    if required(r, "eventName")? != "ConsoleLogin" {
        return Ok(Decoded::Skipped(Skip::NotLogin));
    }
    let outcome = match text(r, "responseElements.ConsoleLogin") {
        Some(s) if s.eq_ignore_ascii_case("Success") => Outcome::Success,
        Some(s) if s.eq_ignore_ascii_case("Failure") => Outcome::Failure,
        None if text(r, "errorMessage").is_some() => Outcome::Failure,
        None => return Err(RejectReason::MissingField("responseElements.ConsoleLogin")),
        Some(other) => {
            return Err(RejectReason::BadField {
                field: "responseElements.ConsoleLogin",
                problem: format!("is neither Success nor Failure: {other:?}"),
            })
        }
    };
    Login {
        account_id: account(r)?,
        ip: ip(r, "sourceIPAddress")?,
        timestamp: time(r, "eventTime")?,
        event_id: text(r, "eventID").map(Cow::Borrowed),
        event_type: EventType::Login,
        outcome,
        session_id: None,
        device_id: None,
        user_agent: text(r, "userAgent"),
        geo: None,
    }
    .into_event()
}

/// `userIdentity.arn`; without one (failed sign-ins often lack it) the ARN the account id and
/// user name make for an IAM user or the root user, so that a user's failures and successes
/// share an account; otherwise `<account id>:<user name>`.
fn account<'a>(r: &'a Node<'_>) -> Result<Cow<'a, str>, RejectReason> {
    if let Some(arn) = text(r, "userIdentity.arn") {
        return Ok(Cow::Borrowed(arn));
    }
    let id = text(r, "userIdentity.accountId").or_else(|| text(r, "recipientAccountId"));
    let name = text(r, "userIdentity.userName");
    Ok(Cow::Owned(match (text(r, "userIdentity.type"), id, name) {
        (Some("Root"), Some(id), _) => format!("arn:aws:iam::{id}:root"),
        (None | Some("IAMUser"), Some(id), Some(name)) => format!("arn:aws:iam::{id}:user/{name}"),
        (_, Some(id), Some(name)) => format!("{id}:{name}"),
        _ => return Err(RejectReason::MissingField("userIdentity.arn")),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{event, fixture, reason, skipped};
    use crate::{EventType, Format, Outcome, RejectReason, Skip};

    #[test]
    fn the_fixture_maps_onto_the_contract() {
        let lines = fixture(Format::Cloudtrail);
        let e = event(Format::Cloudtrail, lines[0]);
        assert_eq!(e.account_id, "arn:aws:iam::111122223333:user/kim.dev");
        assert_eq!(e.ip.to_string(), "203.0.113.24");
        assert_eq!(e.timestamp.to_string(), "2026-11-24T10:05:00Z");
        assert_eq!(e.event_id, "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7");
        assert_eq!(
            (e.event_type, e.outcome),
            (EventType::Login, Outcome::Success)
        );
        assert!(e
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("Mozilla/5.0")));
        assert_eq!((e.session_id, e.geo), (None, None));

        let failed = event(Format::Cloudtrail, lines[1]);
        assert_eq!(failed.outcome, Outcome::Failure);
        assert_eq!(
            failed.account_id, e.account_id,
            "the ARN made from the account id and user name"
        );
        let root = event(Format::Cloudtrail, lines[2]);
        assert_eq!(root.account_id, "arn:aws:iam::111122223333:root");
        let sso = event(Format::Cloudtrail, lines[3]);
        assert!(sso
            .account_id
            .starts_with("arn:aws:sts::111122223333:assumed-role/"));
        assert_eq!(skipped(Format::Cloudtrail, lines[4]), Skip::NotLogin);
        let bridged = event(Format::Cloudtrail, lines[5]);
        assert_eq!(bridged.ip.to_string(), "198.51.100.77");
    }

    #[test]
    fn malformed_records_are_rejected_with_the_field() {
        let line = |identity: &str, response: &str| {
            format!(
                r#"{{"eventName":"ConsoleLogin","eventTime":"2026-01-01T00:00:00Z","sourceIPAddress":"1.2.3.4",
                "userIdentity":{identity},"responseElements":{response}}}"#
            )
        };
        let ok = event(
            Format::Cloudtrail,
            &line(
                r#"{"type":"FederatedUser","accountId":"1","userName":"x"}"#,
                r#"{"ConsoleLogin":"Success"}"#,
            ),
        );
        assert_eq!(ok.account_id, "1:x");
        assert_eq!(
            reason(
                Format::Cloudtrail,
                &line("{}", r#"{"ConsoleLogin":"Success"}"#)
            ),
            RejectReason::MissingField("userIdentity.arn")
        );
        assert_eq!(
            reason(Format::Cloudtrail, &line(r#"{"arn":"a"}"#, "null")),
            RejectReason::MissingField("responseElements.ConsoleLogin")
        );
        assert_eq!(
            reason(
                Format::Cloudtrail,
                &line(r#"{"arn":"a"}"#, r#"{"ConsoleLogin":"Maybe"}"#)
            )
            .code(),
            "bad_field"
        );
        let file = r#"{"Records":[{"eventName":"ConsoleLogin"}]}"#;
        assert!(matches!(
            reason(Format::Cloudtrail, file),
            RejectReason::BadField {
                field: "Records",
                ..
            }
        ));
        let service = r#"{"eventName":"ConsoleLogin","eventTime":"2026-01-01T00:00:00Z","sourceIPAddress":"signin.amazonaws.com","userIdentity":{"arn":"a"},"responseElements":{"ConsoleLogin":"Success"}}"#;
        assert_eq!(reason(Format::Cloudtrail, service).code(), "bad_ip");
    }
}
