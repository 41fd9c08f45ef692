//! The wire side of [`decode`](super::decode): every contract field read as "any JSON value"
//! (so each problem names its field), then validated into a [`Checked`] event whose strings
//! still borrow from the message, then written into a new or reused [`LoginEvent`].

use super::MAX_ACCOUNT_ID_BYTES;
use super::{derive_event_id, parse_ip, EventType, GeoHint, LoginEvent, Outcome, RejectReason};
use crate::{country::CountryCode, time::EventTime};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// Any JSON value, kept only as far as validation needs it; objects and arrays are skipped.
#[derive(Debug)]
enum Any<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    Compound,
}

impl Any<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Any::Str(_) => "a string",
            Any::Int(_) | Any::UInt(_) | Any::Float(_) => "a number",
            Any::Bool(_) => "a boolean",
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
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Any<'de>, E> {
                Ok(Any::Bool(v))
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
    asn: Option<Any<'a>>,
    proxy: Option<Any<'a>>,
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
pub(super) struct RawEvent<'a> {
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
        let asn = match self.asn {
            Some(Any::UInt(n)) => u32::try_from(n).ok(),
            Some(Any::Int(n)) => u32::try_from(n).ok(),
            _ => None,
        };
        Some(GeoHint {
            lat,
            lon,
            country: match &self.country {
                Some(Any::Str(s)) => CountryCode::parse(s),
                _ => None,
            },
            city: text(self.city),
            accuracy_km,
            asn,
            proxy: matches!(self.proxy, Some(Any::Bool(true))),
        })
    }
}

/// A validated event whose strings still borrow from the message where they can.
pub(super) struct Checked<'a> {
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
    pub(super) fn into_event(self) -> LoginEvent {
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

    pub(super) fn write_into(self, e: &mut LoginEvent) {
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
    pub(super) fn validate(self) -> Result<Checked<'a>, RejectReason> {
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
