//! Identity providers' own login records (CONTRACT §5, `--format`): the [`Format`] that names
//! them, [`decode_as`], and what the per-vendor decoders (one file each) share — reading
//! nested JSON fields, the contract's required fields with their rejection reasons, the geo
//! hint, and assembling a validated [`LoginEvent`].
//!
//! A record of another kind (an admin change, a token exchange) is [`Decoded::Skipped`] with a
//! [`Skip`] reason, not rejected: a vendor stream is mostly not logins. A login record that
//! lacks what the contract requires, or is not JSON, is a [`Reject`] like a bad native event.

use super::{
    derive_event_id, parse_ip, prechecked, reject, EventType, GeoHint, LoginEvent, Outcome, Reject,
    RejectReason, MAX_ACCOUNT_ID_BYTES,
};
use crate::{country::CountryCode, time::EventTime};
use node::{Node, NULL};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

mod auth0;
mod cloudtrail;
mod entra;
mod google_workspace;
mod keycloak;
mod node;
mod okta;

/// The input formats: loginwatch's own (CONTRACT §1) and the vendors' login records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// CONTRACT §1 events.
    #[default]
    Loginwatch,
    /// An Okta System Log event (`user.session.start`, `user.session.end`, SSO).
    Okta,
    /// An Entra ID sign-in log record as diagnostic settings export it.
    Entra,
    /// An Auth0 log event, bare or in the log stream's `{"log_id", "data"}` wrapper.
    Auth0,
    /// One CloudTrail record (`ConsoleLogin`).
    Cloudtrail,
    /// One Google Workspace Reports API activity of application `login`.
    GoogleWorkspace,
    /// A Keycloak `EventRepresentation` (user events).
    Keycloak,
}

impl Format {
    /// Every format, the default first.
    pub const ALL: [Format; 7] = [
        Format::Loginwatch,
        Format::Okta,
        Format::Entra,
        Format::Auth0,
        Format::Cloudtrail,
        Format::GoogleWorkspace,
        Format::Keycloak,
    ];

    /// The name used by `--format` and `[input] format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Loginwatch => "loginwatch",
            Format::Okta => "okta",
            Format::Entra => "entra",
            Format::Auth0 => "auth0",
            Format::Cloudtrail => "cloudtrail",
            Format::GoogleWorkspace => "google-workspace",
            Format::Keycloak => "keycloak",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`Format`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown input format {0:?}: expected one of loginwatch, okta, entra, auth0, cloudtrail, google-workspace, keycloak")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Why a well-formed vendor record is not an event; [`Skip::code`] is a small fixed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    /// A record of another kind: an admin change, a token exchange, an MFA step, an audit log.
    NotLogin,
    /// A sign-in by a workload, not a person (Entra service principals, managed identities).
    NotAUser,
    /// A login the vendor recorded without a result yet (Okta `CHALLENGE`, `UNKNOWN`).
    NoOutcome,
}

impl Skip {
    /// Every code [`Skip::code`] can return, for pre-registering metric labels.
    pub const CODES: [&'static str; 3] = ["not_login", "not_a_user", "no_outcome"];

    /// A short, stable label: one of [`Skip::CODES`].
    pub fn code(self) -> &'static str {
        match self {
            Skip::NotLogin => "not_login",
            Skip::NotAUser => "not_a_user",
            Skip::NoOutcome => "no_outcome",
        }
    }
}

/// What a record became: an event, or a skipped record and why.
// Returned once per record and unpacked at once: boxing the event would cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    Event(LoginEvent),
    Skipped(Skip),
}

/// Decodes one message of `format`: [`decode`](super::decode) for the native format, the
/// vendor's decoder otherwise. `max_bytes` is the configured size limit, as for native events.
pub fn decode_as(format: Format, bytes: &[u8], max_bytes: usize) -> Result<Decoded, Reject> {
    let vendor: fn(&Node<'_>) -> Result<Decoded, RejectReason> = match format {
        Format::Loginwatch => return super::decode(bytes, max_bytes).map(Decoded::Event),
        Format::Okta => okta::decode,
        Format::Entra => entra::decode,
        Format::Auth0 => auth0::decode,
        Format::Cloudtrail => cloudtrail::decode,
        Format::GoogleWorkspace => google_workspace::decode,
        Format::Keycloak => keycloak::decode,
    };
    record(bytes, max_bytes)
        .and_then(|r| vendor(&r))
        .map_err(|reason| reject(reason, bytes))
}

/// The message as a JSON object, after the checks every format passes.
fn record(bytes: &[u8], max_bytes: usize) -> Result<Node<'_>, RejectReason> {
    let text = prechecked(bytes, max_bytes)?;
    match serde_json::from_str(text) {
        Ok(v @ Node::Object(_)) => Ok(v),
        Ok(_) => Err(RejectReason::NotJson("not a JSON object".into())),
        Err(e) => Err(RejectReason::NotJson(e.to_string())),
    }
}

/// The value at a dotted `path` (`client.geographicalContext.city`; a number indexes an
/// array: `request.ipChain.0.ip`); `None` when absent or null.
fn get<'v, 'a>(v: &'v Node<'a>, path: &str) -> Option<&'v Node<'a>> {
    let found = path.split('.').try_fold(v, |v, key| match v {
        Node::Object(_) => v.field(key),
        Node::Array(a) => a.get(key.parse::<usize>().ok()?),
        _ => None,
    })?;
    (!found.is_null()).then_some(found)
}

/// The non-empty string at `path`; `None` when absent, empty or not a string (optional
/// fields are read leniently: a vendor's odd value there loses the field, not the event).
fn text<'a>(v: &'a Node<'_>, path: &str) -> Option<&'a str> {
    get(v, path)?.as_str().filter(|s| !s.trim().is_empty())
}

/// The string at `path`, which the contract needs: `missing_field` when absent or empty,
/// `bad_field` when not a string.
fn required<'a>(v: &'a Node<'_>, path: &'static str) -> Result<&'a str, RejectReason> {
    match get(v, path) {
        None => Err(RejectReason::MissingField(path)),
        Some(Node::String(s)) if s.trim().is_empty() => Err(RejectReason::MissingField(path)),
        Some(Node::String(s)) => Ok(s),
        Some(other) => Err(RejectReason::BadField {
            field: path,
            problem: format!("must be a string, got {}", describe(other)),
        }),
    }
}

fn describe(v: &Node<'_>) -> &'static str {
    match v {
        Node::Null => "null",
        Node::Bool(_) => "a boolean",
        Node::Number(_) => "a number",
        Node::String(_) => "a string",
        Node::Array(_) => "an array",
        Node::Object(_) => "an object",
    }
}

/// A number at `path`, written as a JSON number or as a string holding one (Auth0 writes
/// coordinates as strings).
fn number(v: &Node<'_>, path: &str) -> Option<f64> {
    match get(v, path)? {
        Node::Number(n) => n.as_f64(),
        Node::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer in `u32` at `path` (an ASN), as a number or a string of digits.
fn integer(v: &Node<'_>, path: &str) -> Option<u32> {
    match get(v, path)? {
        Node::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Node::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The client address at `path`: `missing_field` when absent, `bad_ip` when unparsable.
fn ip(v: &Node<'_>, path: &'static str) -> Result<IpAddr, RejectReason> {
    let s = required(v, path).map_err(|e| match e {
        RejectReason::BadField { .. } => RejectReason::BadIp(format!("<{path}>")),
        other => other,
    })?;
    parse_ip(s).ok_or_else(|| RejectReason::BadIp(s.to_owned()))
}

/// The event time at `path`: an RFC 3339 string or integer epoch milliseconds.
fn time(v: &Node<'_>, path: &'static str) -> Result<EventTime, RejectReason> {
    let parsed = match get(v, path) {
        None => return Err(RejectReason::MissingField(path)),
        Some(Node::String(s)) => EventTime::parse_rfc3339(s.trim()),
        Some(Node::Number(n)) => n.as_i64().and_then(EventTime::from_millis),
        Some(_) => None,
    };
    parsed.ok_or_else(|| {
        RejectReason::BadTimestamp(format!(
            "{path}: {}",
            get(v, path).map_or_else(String::new, |n| n.to_value().to_string())
        ))
    })
}

/// The vendor's location of the login as the `geo` hint, when it gave coordinates in range.
/// `country` is an ISO code or an English name ("United States" → `US`).
fn geo(
    lat: Option<f64>,
    lon: Option<f64>,
    country: Option<&str>,
    city: Option<&str>,
) -> Option<GeoHint> {
    let (lat, lon) = (lat?, lon?);
    let in_range = lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0;
    in_range.then(|| GeoHint {
        lat,
        lon,
        country: country.and_then(CountryCode::from_name),
        city: city.map(str::to_owned),
        accuracy_km: None,
        asn: None,
        proxy: false,
    })
}

/// The contract fields a vendor decoder found, before the checks every event passes.
struct Login<'a> {
    account_id: Cow<'a, str>,
    ip: IpAddr,
    timestamp: EventTime,
    /// The vendor's own id of the record; derived from the content when absent.
    event_id: Option<Cow<'a, str>>,
    event_type: EventType,
    outcome: Outcome,
    session_id: Option<&'a str>,
    device_id: Option<&'a str>,
    user_agent: Option<&'a str>,
    geo: Option<GeoHint>,
}

impl Login<'_> {
    /// The event, when the account id is one the contract accepts (1 to 256 bytes).
    fn into_event(self) -> Result<Decoded, RejectReason> {
        if self.account_id.is_empty() || self.account_id.len() > MAX_ACCOUNT_ID_BYTES {
            return Err(RejectReason::BadAccountId);
        }
        let event_id = match self.event_id {
            Some(id) => id.into_owned(),
            None => derive_event_id(
                &self.account_id,
                self.ip,
                self.timestamp,
                self.event_type,
                self.outcome,
                self.session_id,
            ),
        };
        Ok(Decoded::Event(LoginEvent {
            account_id: self.account_id.into_owned(),
            ip: self.ip,
            timestamp: self.timestamp,
            event_id,
            event_type: self.event_type,
            outcome: self.outcome,
            session_id: self.session_id.map(str::to_owned),
            device_id: self.device_id.map(str::to_owned),
            user_agent: self.user_agent.map(str::to_owned),
            accept_language: None,
            claimed_country: None,
            claimed_timezone: None,
            account_created_at: None,
            geo: self.geo,
        }))
    }
}

#[cfg(test)]
mod tests;
