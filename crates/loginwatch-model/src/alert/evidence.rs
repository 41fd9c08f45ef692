//! An alert's `evidence` as typed data: one struct per kind ([`kinds`]) and the engine's
//! severity raises, written straight to the output by the native alert's writer (`json.rs`)
//! — no `serde_json::Value` in between. Through serde (values for OCSF and tools) the
//! evidence is a struct, or with raises a map.
//!
//! **The bytes are those of a sorted JSON object.** The evidence was first written as a
//! `serde_json::Value` map, whose keys come out in alphabetical order, and alerts already
//! published must not change. So every struct lists its fields in byte order of their names
//! (nested ones too), and the engine's raises (`new_account_until`, `watch_countries`) are
//! written between the fields at their sorted place (`json::Pending`). Absent values are
//! written as `null`, never skipped, as before; numbers keep their types (an `f64` stays an
//! `f64`, so `2400.0` stays `2400.0`). The tests check each kind against its `Value` form.
//!
//! **Reading back.** An alert read from JSON (tests, tools, alerts compared across runs, the
//! network stage's findings) gets typed evidence when the object is exactly what this build
//! writes for its kind (same keys, same number types, writing it again gives the same
//! bytes); anything else (an older or newer build's alert, a hand-written one) is kept as
//! [`Detail::Json`], which writes back the object it was read as.

pub mod kinds;

use super::json::{via_serde, Json, Pending};
use super::AlertKind;
use crate::country::CountryCode;
use crate::time::EventTime;
use kinds::*;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::sync::Arc;

/// The `evidence` object of an alert (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    detail: Detail,
    /// Empty for [`Detail::Json`], whose raises are in its object.
    raises: Raises,
}

/// What the detector found, by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    ImpossibleTravel(Box<Travel>),
    ConcurrentIps(Box<Concurrent>),
    /// Shared by the alerts of every member of one farm.
    SharedIp(Arc<SharedIp>),
    AnonymizedIp(Box<Anonymized>),
    LocationMismatch(Box<LocationMismatch>),
    SessionHijack(Box<SessionHijack>),
    LongSession(Box<LongSession>),
    SanctionedRegion(Box<Sanctioned>),
    AccountRisk(Box<AccountRisk>),
    /// Evidence read from JSON that is not exactly what this build writes for the kind: the
    /// object as read (raises included).
    Json(Value),
}

/// The engine's severity raises, noted in the evidence (`engine/emit.rs`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Raises {
    /// Until when the account counts as new (`[detect.new_account]`).
    pub new_account_until: Option<EventTime>,
    /// The watch countries the account was seen in (`watch_countries`).
    pub watch_countries: Option<Vec<CountryCode>>,
}

impl Raises {
    fn is_empty(&self) -> bool {
        self.new_account_until.is_none() && self.watch_countries.is_none()
    }
}

impl Evidence {
    /// What the detector found.
    pub fn detail(&self) -> &Detail {
        &self.detail
    }

    /// The raises noted so far (always empty for [`Detail::Json`]).
    pub fn raises(&self) -> &Raises {
        &self.raises
    }

    /// Notes the watch countries the account was seen in (`watch_countries`).
    pub fn raise_watch_countries(&mut self, countries: Vec<CountryCode>) {
        match &mut self.detail {
            Detail::Json(v) => insert(v, "watch_countries", &countries),
            _ => self.raises.watch_countries = Some(countries),
        }
    }

    /// Notes until when the account counts as new (`new_account_until`).
    pub fn raise_new_account(&mut self, until: EventTime) {
        match &mut self.detail {
            Detail::Json(v) => insert(v, "new_account_until", &until),
            _ => self.raises.new_account_until = Some(until),
        }
    }

    /// Evidence kept as the JSON `value` it is (see [`Detail::Json`]); [`Evidence::read`]
    /// types it when it can.
    pub fn json(value: Value) -> Evidence {
        Evidence {
            detail: Detail::Json(value),
            raises: Raises::default(),
        }
    }

    /// The evidence of a `kind` alert read as `value`: typed when `value` is exactly what
    /// this build writes for the kind, else kept as it is (see the module docs).
    pub fn read(kind: AlertKind, value: Value) -> Evidence {
        match typed(kind, &value) {
            Some(e) if e.to_value() == value => e,
            _ => Evidence::json(value),
        }
    }

    /// [`Evidence::read`] from JSON text.
    pub fn from_json(kind: AlertKind, text: &str) -> serde_json::Result<Evidence> {
        Ok(Evidence::read(kind, serde_json::from_str(text)?))
    }

    /// The evidence as JSON text (the bytes it has in an alert).
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        // Only maps with non-string keys fail to serialize; the evidence has none.
        if super::json::write_json(&mut out, self).is_err() {
            out.clear();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// The evidence as a `serde_json::Value` (an object, for reading fields in tests and
    /// tools, and for OCSF).
    pub fn to_value(&self) -> Value {
        // Only maps with non-string keys fail to convert; the evidence has none.
        let mut v = match &self.detail {
            Detail::Json(v) => return v.clone(),
            d => serde_json::to_value(d).unwrap_or(Value::Null),
        };
        // A map's keys come out sorted: the raises at their place.
        if let Some(until) = &self.raises.new_account_until {
            insert(&mut v, "new_account_until", until);
        }
        if let Some(countries) = &self.raises.watch_countries {
            insert(&mut v, "watch_countries", countries);
        }
        v
    }
}

/// Inserts `key` into the object `v` (nothing when `v` is not one), as the raises always were.
fn insert(v: &mut Value, key: &str, value: &impl Serialize) {
    if let (Some(obj), Ok(value)) = (v.as_object_mut(), serde_json::to_value(value)) {
        obj.insert(key.into(), value);
    }
}

/// `value` as the typed evidence of `kind`, if it has that shape (raises taken out first).
fn typed(kind: AlertKind, value: &Value) -> Option<Evidence> {
    fn detail<T: serde::de::DeserializeOwned>(v: Value) -> Option<T> {
        serde_json::from_value(v).ok()
    }
    let mut map = value.as_object()?.clone();
    let raises = Raises {
        new_account_until: match map.remove("new_account_until") {
            Some(v) => Some(detail(v)?),
            None => None,
        },
        watch_countries: match map.remove("watch_countries") {
            Some(v) => Some(detail(v)?),
            None => None,
        },
    };
    let v = Value::Object(map);
    let detail = match kind {
        AlertKind::ImpossibleTravel => Detail::ImpossibleTravel(detail(v)?),
        AlertKind::ConcurrentIps => Detail::ConcurrentIps(detail(v)?),
        AlertKind::SharedIp => Detail::SharedIp(detail(v)?),
        AlertKind::AnonymizedIp => Detail::AnonymizedIp(detail(v)?),
        AlertKind::LocationMismatch => Detail::LocationMismatch(detail(v)?),
        AlertKind::SessionHijack => Detail::SessionHijack(detail(v)?),
        AlertKind::LongSession => Detail::LongSession(detail(v)?),
        AlertKind::SanctionedRegion => Detail::SanctionedRegion(detail(v)?),
        AlertKind::AccountRisk => Detail::AccountRisk(detail(v)?),
    };
    Some(Evidence { detail, raises })
}

impl Json for Evidence {
    fn write(&self, out: &mut Vec<u8>) {
        let mut pending = Pending::new(&self.raises);
        let before = |out: &mut Vec<u8>, next: Option<&str>| pending.before(out, next);
        match &self.detail {
            Detail::ImpossibleTravel(d) => d.write_with(out, before),
            Detail::ConcurrentIps(d) => d.write_with(out, before),
            Detail::SharedIp(d) if self.raises.is_empty() => super::json::write_farm(out, d),
            Detail::SharedIp(d) => d.write_with(out, before),
            Detail::AnonymizedIp(d) => d.write_with(out, before),
            Detail::LocationMismatch(d) => d.write_with(out, before),
            Detail::SessionHijack(d) => d.write_with(out, before),
            Detail::LongSession(d) => d.write_with(out, before),
            Detail::SanctionedRegion(d) => d.write_with(out, before),
            Detail::AccountRisk(d) => d.write_with(out, before),
            // Raises on JSON evidence are in its object.
            Detail::Json(v) => via_serde(out, v),
        }
    }
}

impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.raises.is_empty() {
            return self.detail.serialize(s);
        }
        self.to_value().serialize(s)
    }
}

impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Detail::ImpossibleTravel(d) => d.serialize(s),
            Detail::ConcurrentIps(d) => d.serialize(s),
            Detail::SharedIp(d) => d.serialize(s),
            Detail::AnonymizedIp(d) => d.serialize(s),
            Detail::LocationMismatch(d) => d.serialize(s),
            Detail::SessionHijack(d) => d.serialize(s),
            Detail::LongSession(d) => d.serialize(s),
            Detail::SanctionedRegion(d) => d.serialize(s),
            Detail::AccountRisk(d) => d.serialize(s),
            Detail::Json(v) => v.serialize(s),
        }
    }
}

macro_rules! evidence_from {
    ($($variant:ident($ty:ty) = $wrap:path),* $(,)?) => {$(
        impl From<$ty> for Evidence {
            fn from(d: $ty) -> Evidence {
                Evidence {
                    detail: Detail::$variant($wrap(d)),
                    raises: Raises::default(),
                }
            }
        }
    )*};
}

evidence_from! {
    ImpossibleTravel(Travel) = Box::new,
    ConcurrentIps(Concurrent) = Box::new,
    SharedIp(SharedIp) = Arc::new,
    AnonymizedIp(Anonymized) = Box::new,
    LocationMismatch(LocationMismatch) = Box::new,
    SessionHijack(SessionHijack) = Box::new,
    LongSession(LongSession) = Box::new,
    SanctionedRegion(Sanctioned) = Box::new,
    AccountRisk(AccountRisk) = Box::new,
}

impl From<Arc<SharedIp>> for Evidence {
    /// One farm's evidence, shared by its members' alerts.
    fn from(d: Arc<SharedIp>) -> Evidence {
        Evidence {
            detail: Detail::SharedIp(d),
            raises: Raises::default(),
        }
    }
}

#[cfg(test)]
mod tests;
