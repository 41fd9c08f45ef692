//! Login events (CONTRACT §1) and [`decode`], the one place where bytes become an event or a
//! [`Reject`] with a precise reason; [`vendor::decode_as`] reads identity providers' own
//! records (CONTRACT §5, `--format`) onto the same events, and `write` writes an event back
//! in the contract's form.

use crate::{country::CountryCode, time::EventTime};
use raw::{Checked, RawEvent};
use std::net::IpAddr;

/// What the event says happened. `activity` = the session was seen active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum EventType {
    #[default]
    Login,
    Logout,
    Activity,
}

/// Whether the login succeeded. Failed logins never feed travel or concurrency detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Outcome {
    #[default]
    Success,
    Failure,
}

/// A location resolved upstream (CDN edge headers, IdP); used instead of the GeoIP lookup.
///
/// An identity provider that located the login may also say which network it came from
/// (Okta's `securityContext`): `asn` fills in when the ASN database has no answer, and
/// `proxy` marks the address as an anonymizer, as the databases and lists would.
#[derive(Clone, Debug, PartialEq)]
pub struct GeoHint {
    pub lat: f64,
    pub lon: f64,
    pub country: Option<CountryCode>,
    pub city: Option<String>,
    pub accuracy_km: Option<f64>,
    /// The autonomous system the upstream placed the address in.
    pub asn: Option<u32>,
    /// The upstream flagged the address as a proxy (VPN, Tor or other anonymizer).
    pub proxy: bool,
}

/// One decoded, validated login event.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginEvent {
    pub account_id: String,
    /// IPv4-mapped IPv6 addresses are stored as IPv4.
    pub ip: IpAddr,
    pub timestamp: EventTime,
    /// Given, or derived from the content by [`derive_event_id`].
    pub event_id: String,
    pub event_type: EventType,
    pub outcome: Outcome,
    pub session_id: Option<String>,
    pub device_id: Option<String>,
    pub user_agent: Option<String>,
    pub accept_language: Option<String>,
    pub claimed_country: Option<CountryCode>,
    pub claimed_timezone: Option<String>,
    pub account_created_at: Option<EventTime>,
    pub geo: Option<GeoHint>,
}

impl LoginEvent {
    /// A successful login of `account_id` from `ip` at `timestamp`, with nothing else known
    /// (callers set what they have: tests, benches).
    pub fn login(account_id: &str, ip: IpAddr, timestamp: EventTime, event_id: &str) -> Self {
        LoginEvent {
            account_id: account_id.into(),
            ip,
            timestamp,
            event_id: event_id.into(),
            event_type: EventType::Login,
            outcome: Outcome::Success,
            session_id: None,
            device_id: None,
            user_agent: None,
            accept_language: None,
            claimed_country: None,
            claimed_timezone: None,
            account_created_at: None,
            geo: None,
        }
    }

    /// A successful interactive login: the only kind that feeds travel and concurrency.
    pub fn is_successful_login(&self) -> bool {
        self.event_type == EventType::Login && self.outcome == Outcome::Success
    }
}

/// Why an input message was rejected; [`RejectReason::code`] is a small fixed set for metrics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("event is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}` {problem}")]
    BadField {
        field: &'static str,
        problem: String,
    },
    #[error("`account_id` must be a string of 1 to 256 bytes")]
    BadAccountId,
    #[error("`ip` is not an IPv4 or IPv6 address: {0:?}")]
    BadIp(String),
    #[error("`timestamp` is not RFC 3339 or epoch milliseconds in range: {0}")]
    BadTimestamp(String),
}

impl RejectReason {
    /// Every code [`RejectReason::code`] can return, for pre-registering metric labels.
    pub const CODES: [&'static str; 8] = [
        "too_large",
        "not_utf8",
        "not_json",
        "missing_field",
        "bad_field",
        "bad_account_id",
        "bad_ip",
        "bad_timestamp",
    ];

    /// A short, stable label: one of [`RejectReason::CODES`].
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::NotUtf8 => "not_utf8",
            Self::NotJson(_) => "not_json",
            Self::MissingField(_) => "missing_field",
            Self::BadField { .. } => "bad_field",
            Self::BadAccountId => "bad_account_id",
            Self::BadIp(_) => "bad_ip",
            Self::BadTimestamp(_) => "bad_timestamp",
        }
    }
}

/// A rejected message: the reason plus the original bytes, ready for the dead-letter output.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Reject {
    pub reason: RejectReason,
    pub bytes: Vec<u8>,
}

/// Maximum length of `account_id` in bytes (CONTRACT §1).
pub const MAX_ACCOUNT_ID_BYTES: usize = 256;

/// Deepest nesting of arrays and objects a message may have, the event object itself being
/// level 1; deeper is `not_json`. An event needs 2 (`geo`); 128 is serde_json's own limit.
pub const MAX_NESTING: usize = 128;

/// Decodes one message. `max_bytes` is the configured size limit.
pub fn decode(bytes: &[u8], max_bytes: usize) -> Result<LoginEvent, Reject> {
    checked(bytes, max_bytes)
        .map(Checked::into_event)
        .map_err(|reason| reject(reason, bytes))
}

/// Decodes one message into `event`, reusing its strings' buffers: the hot path of a
/// pipeline, which allocates nothing per event once its buffers have grown. On error `event`
/// is left unchanged.
pub fn decode_into(bytes: &[u8], max_bytes: usize, event: &mut LoginEvent) -> Result<(), Reject> {
    let c = checked(bytes, max_bytes).map_err(|reason| reject(reason, bytes))?;
    c.write_into(event);
    Ok(())
}

fn reject(reason: RejectReason, bytes: &[u8]) -> Reject {
    Reject {
        reason,
        bytes: bytes.to_vec(),
    }
}

fn checked(bytes: &[u8], max_bytes: usize) -> Result<Checked<'_>, RejectReason> {
    let text = prechecked(bytes, max_bytes)?;
    let raw: RawEvent<'_> =
        serde_json::from_str(text).map_err(|e| RejectReason::NotJson(e.to_string()))?;
    raw.validate()
}

/// The checks every format's message passes before it is parsed: size, UTF-8, nesting.
fn prechecked(bytes: &[u8], max_bytes: usize) -> Result<&str, RejectReason> {
    if bytes.len() > max_bytes {
        return Err(RejectReason::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| RejectReason::NotUtf8)?;
    if let Some(at) = too_deep(bytes, MAX_NESTING) {
        return Err(RejectReason::NotJson(format!(
            "arrays and objects nested deeper than {MAX_NESTING} levels at byte {at}"
        )));
    }
    Ok(text)
}

/// The offset of the first `[` or `{` (outside strings) that opens level `limit + 1`, if any.
///
/// serde_json skips unknown fields (and the values we read as "any") without a depth limit,
/// so without this check an event with a 20,000-deep `extra` field was accepted, and a parser
/// that recurses (sonic-rs, BENCHMARKS.md) would overflow its stack on it.
fn too_deep(bytes: &[u8], limit: usize) -> Option<usize> {
    // No more opening brackets than `limit` (any event): cannot nest deeper.
    if opening_brackets(bytes) <= limit {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// How many `[` and `{` bytes `bytes` holds, strings included. Counted in u8 over 255-byte
/// chunks so that it vectorises: ~12 ns for a 288-byte event where `filter().count()` took
/// ~115 ns (rustc -O, x86-64 baseline).
fn opening_brackets(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| {
            c.iter()
                .fold(0u8, |n, &b| n + u8::from(b == b'[' || b == b'{'))
        })
        .map(usize::from)
        .sum()
}

/// Parses an IP, folding IPv4-mapped IPv6 (`::ffff:a.b.c.d`) to IPv4.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// The id of an event that came without one: a 128-bit hash of its identifying content, so a
/// redelivered message gets the same id.
pub fn derive_event_id(
    account_id: &str,
    ip: IpAddr,
    timestamp: EventTime,
    event_type: EventType,
    outcome: Outcome,
    session_id: Option<&str>,
) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [
        account_id.as_bytes(),
        b"\0",
        ip.to_string().as_bytes(),
        b"\0",
    ] {
        h.update(part);
    }
    h.update(&timestamp.0.to_le_bytes());
    h.update(&[event_type as u8, outcome as u8]);
    if let Some(s) = session_id {
        h.update(b"\0");
        h.update(s.as_bytes());
    }
    format!("ev-{:032x}", h.digest128())
}

mod raw;
pub mod vendor;
mod write;

#[cfg(test)]
mod tests;
