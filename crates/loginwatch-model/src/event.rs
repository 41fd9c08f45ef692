//! Login events (CONTRACT §1) and [`decode`], the one place where bytes become an event or a
//! [`Reject`] with a precise reason.

use crate::{country::CountryCode, time::EventTime};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
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
#[derive(Clone, Debug, PartialEq)]
pub struct GeoHint {
    pub lat: f64,
    pub lon: f64,
    pub country: Option<CountryCode>,
    pub city: Option<String>,
    pub accuracy_km: Option<f64>,
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
    if bytes.len() > max_bytes {
        return Err(RejectReason::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| RejectReason::NotUtf8)?;
    let raw: RawEvent<'_> =
        serde_json::from_str(text).map_err(|e| RejectReason::NotJson(e.to_string()))?;
    raw.validate()
}

/// Any JSON value, kept only as far as validation needs it; objects and arrays are skipped.
#[derive(Debug)]
enum Any<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool,
    Null,
    Compound,
}

impl Any<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Any::Str(_) => "a string",
            Any::Int(_) | Any::UInt(_) | Any::Float(_) => "a number",
            Any::Bool => "a boolean",
            Any::Null => "null",
            Any::Compound => "an object or array",
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Any<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Any<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Any<'de>, E> {
                Ok(Any::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Any<'de>, E> {
                Ok(Any::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Any<'de>, E> {
                Ok(Any::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Any<'de>, E> {
                Ok(Any::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Any<'de>, E> {
                Ok(Any::Float(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Any<'de>, E> {
                Ok(Any::Bool)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Any<'de>, E> {
                Ok(Any::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Any<'de>, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Any::Compound)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Any<'de>, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Any::Compound)
            }
        }
        d.deserialize_any(V)
    }
}

/// The upstream `geo` object; read leniently because an invalid one is ignored, not fatal.
#[derive(Deserialize, Debug)]
struct RawGeo<'a> {
    lat: Option<Any<'a>>,
    lon: Option<Any<'a>>,
    #[serde(borrow)]
    country: Option<Any<'a>>,
    #[serde(borrow)]
    city: Option<Any<'a>>,
    accuracy_km: Option<Any<'a>>,
}

/// `geo` as it came: an object we try to use, or anything else (ignored).
#[derive(Debug)]
enum GeoField<'a> {
    Object(RawGeo<'a>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for GeoField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GeoField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a geo object")
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<GeoField<'de>, A::Error> {
                RawGeo::deserialize(de::value::MapAccessDeserializer::new(m)).map(GeoField::Object)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<GeoField<'de>, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(GeoField::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<GeoField<'de>, E> {
                Ok(GeoField::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<GeoField<'de>, E> {
                Ok(GeoField::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<GeoField<'de>, E> {
                Ok(GeoField::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<GeoField<'de>, E> {
                Ok(GeoField::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<GeoField<'de>, E> {
                Ok(GeoField::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<GeoField<'de>, E> {
                Ok(GeoField::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Every contract field, typed as "any JSON value" so each problem names its field.
#[derive(Deserialize, Debug)]
struct RawEvent<'a> {
    #[serde(borrow)]
    account_id: Option<Any<'a>>,
    #[serde(borrow)]
    ip: Option<Any<'a>>,
    #[serde(borrow)]
    timestamp: Option<Any<'a>>,
    #[serde(borrow)]
    event_id: Option<Any<'a>>,
    #[serde(borrow)]
    event_type: Option<Any<'a>>,
    #[serde(borrow)]
    outcome: Option<Any<'a>>,
    #[serde(borrow)]
    session_id: Option<Any<'a>>,
    #[serde(borrow)]
    device_id: Option<Any<'a>>,
    #[serde(borrow)]
    user_agent: Option<Any<'a>>,
    #[serde(borrow)]
    accept_language: Option<Any<'a>>,
    #[serde(borrow)]
    claimed_country: Option<Any<'a>>,
    #[serde(borrow)]
    claimed_timezone: Option<Any<'a>>,
    #[serde(borrow)]
    account_created_at: Option<Any<'a>>,
    #[serde(borrow)]
    geo: Option<GeoField<'a>>,
}

fn bad(field: &'static str, problem: impl Into<String>) -> RejectReason {
    RejectReason::BadField {
        field,
        problem: problem.into(),
    }
}

/// An optional string field: absent or null is `None`; any other non-string is an error.
fn opt_str<'a>(
    field: &'static str,
    v: Option<Any<'a>>,
) -> Result<Option<Cow<'a, str>>, RejectReason> {
    match v {
        None | Some(Any::Null) => Ok(None),
        Some(Any::Str(s)) => Ok(Some(s)),
        Some(other) => Err(bad(
            field,
            format!("must be a string, got {}", other.describe()),
        )),
    }
}

fn parse_time(v: &Any<'_>) -> Option<EventTime> {
    match v {
        Any::Str(s) => EventTime::parse_rfc3339(s),
        Any::Int(i) => EventTime::from_millis(*i),
        Any::UInt(u) => i64::try_from(*u).ok().and_then(EventTime::from_millis),
        _ => None,
    }
}

/// Parses an IP, folding IPv4-mapped IPv6 (`::ffff:a.b.c.d`) to IPv4.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

fn to_f64(v: &Option<Any<'_>>) -> Option<f64> {
    match v {
        Some(Any::Float(f)) => Some(*f),
        Some(Any::Int(i)) => Some(*i as f64),
        Some(Any::UInt(u)) => Some(*u as f64),
        _ => None,
    }
}

impl RawGeo<'_> {
    /// A usable hint, or `None` when coordinates are missing or out of range.
    fn into_hint(self) -> Option<GeoHint> {
        let (lat, lon) = (to_f64(&self.lat)?, to_f64(&self.lon)?);
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return None;
        }
        let text = |v: Option<Any<'_>>| match v {
            Some(Any::Str(s)) => Some(s.into_owned()),
            _ => None,
        };
        let accuracy_km = to_f64(&self.accuracy_km).filter(|a| a.is_finite() && *a >= 0.0);
        Some(GeoHint {
            lat,
            lon,
            country: text(self.country).and_then(|c| CountryCode::parse(&c)),
            city: text(self.city),
            accuracy_km,
        })
    }
}

/// A validated event whose strings still borrow from the message where they can.
struct Checked<'a> {
    account_id: Cow<'a, str>,
    ip: IpAddr,
    timestamp: EventTime,
    event_id: Cow<'a, str>,
    event_type: EventType,
    outcome: Outcome,
    session_id: Option<Cow<'a, str>>,
    device_id: Option<Cow<'a, str>>,
    user_agent: Option<Cow<'a, str>>,
    accept_language: Option<Cow<'a, str>>,
    claimed_country: Option<CountryCode>,
    claimed_timezone: Option<Cow<'a, str>>,
    account_created_at: Option<EventTime>,
    geo: Option<GeoHint>,
}

/// `dst = src`, keeping `dst`'s buffer.
fn put(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

/// `dst = src`, keeping `dst`'s buffer when both are present.
fn put_opt(dst: &mut Option<String>, src: Option<Cow<'_, str>>) {
    match (dst.as_mut(), src) {
        (_, None) => *dst = None,
        (Some(d), Some(s)) => put(d, &s),
        (None, Some(s)) => *dst = Some(s.into_owned()),
    }
}

impl Checked<'_> {
    fn into_event(self) -> LoginEvent {
        let own = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
        LoginEvent {
            account_id: self.account_id.into_owned(),
            ip: self.ip,
            timestamp: self.timestamp,
            event_id: self.event_id.into_owned(),
            event_type: self.event_type,
            outcome: self.outcome,
            session_id: own(self.session_id),
            device_id: own(self.device_id),
            user_agent: own(self.user_agent),
            accept_language: own(self.accept_language),
            claimed_country: self.claimed_country,
            claimed_timezone: own(self.claimed_timezone),
            account_created_at: self.account_created_at,
            geo: self.geo,
        }
    }

    fn write_into(self, e: &mut LoginEvent) {
        put(&mut e.account_id, &self.account_id);
        e.ip = self.ip;
        e.timestamp = self.timestamp;
        put(&mut e.event_id, &self.event_id);
        e.event_type = self.event_type;
        e.outcome = self.outcome;
        put_opt(&mut e.session_id, self.session_id);
        put_opt(&mut e.device_id, self.device_id);
        put_opt(&mut e.user_agent, self.user_agent);
        put_opt(&mut e.accept_language, self.accept_language);
        e.claimed_country = self.claimed_country;
        put_opt(&mut e.claimed_timezone, self.claimed_timezone);
        e.account_created_at = self.account_created_at;
        e.geo = self.geo;
    }
}

impl<'a> RawEvent<'a> {
    fn validate(self) -> Result<Checked<'a>, RejectReason> {
        let account_id = match self.account_id {
            None | Some(Any::Null) => return Err(RejectReason::MissingField("account_id")),
            Some(Any::Str(s)) if !s.is_empty() && s.len() <= MAX_ACCOUNT_ID_BYTES => s,
            Some(_) => return Err(RejectReason::BadAccountId),
        };
        let ip = match self.ip {
            None | Some(Any::Null) => return Err(RejectReason::MissingField("ip")),
            Some(Any::Str(s)) => parse_ip(&s).ok_or_else(|| RejectReason::BadIp(s.into_owned()))?,
            Some(other) => return Err(RejectReason::BadIp(format!("<{}>", other.describe()))),
        };
        let timestamp = match &self.timestamp {
            None | Some(Any::Null) => return Err(RejectReason::MissingField("timestamp")),
            Some(v) => parse_time(v).ok_or_else(|| RejectReason::BadTimestamp(format!("{v:?}")))?,
        };
        let event_type = match opt_str("event_type", self.event_type)?.as_deref() {
            None | Some("login") => EventType::Login,
            Some("logout") => EventType::Logout,
            Some("activity") => EventType::Activity,
            Some(other) => return Err(bad("event_type", format!("unknown value {other:?}"))),
        };
        let outcome = match opt_str("outcome", self.outcome)?.as_deref() {
            None | Some("success") => Outcome::Success,
            Some("failure") => Outcome::Failure,
            Some(other) => return Err(bad("outcome", format!("unknown value {other:?}"))),
        };
        let claimed_country = match opt_str("claimed_country", self.claimed_country)? {
            None => None,
            Some(c) => Some(CountryCode::parse(&c).ok_or_else(|| {
                bad(
                    "claimed_country",
                    format!("{c:?} is not an ISO 3166-1 alpha-2 code"),
                )
            })?),
        };
        let account_created_at = match &self.account_created_at {
            None | Some(Any::Null) => None,
            Some(v) => Some(parse_time(v).ok_or_else(|| {
                bad(
                    "account_created_at",
                    "is not RFC 3339 or epoch milliseconds",
                )
            })?),
        };
        let geo = match self.geo {
            Some(GeoField::Object(g)) => g.into_hint(),
            _ => None,
        };
        let session_id = opt_str("session_id", self.session_id)?;
        let device_id = opt_str("device_id", self.device_id)?;
        let event_id = match opt_str("event_id", self.event_id)? {
            Some(id) => id,
            None => Cow::Owned(derive_event_id(
                &account_id,
                ip,
                timestamp,
                event_type,
                outcome,
                session_id.as_deref(),
            )),
        };
        Ok(Checked {
            account_id,
            ip,
            timestamp,
            event_id,
            event_type,
            outcome,
            session_id,
            device_id,
            user_agent: opt_str("user_agent", self.user_agent)?,
            accept_language: opt_str("accept_language", self.accept_language)?,
            claimed_country,
            claimed_timezone: opt_str("claimed_timezone", self.claimed_timezone)?,
            account_created_at,
            geo,
        })
    }
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

#[cfg(test)]
mod tests;
