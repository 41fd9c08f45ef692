//! The compact per-login record kept in an account's window (88 bytes, no heap for event ids
//! of up to 22 bytes or derived ones), instead of a whole `LoginEvent`: time, address,
//! position as `f32`, accuracy, country, ASN, anonymizer flags, city (shared `Arc`), event id.

use crate::event_id::EventId;
use loginwatch_geo::{AnonFlags, Login};
use loginwatch_model::alert::evidence::kinds::{self, Anonymizers};
use loginwatch_model::{CountryCode, EventTime};
use loginwatch_storage::HeapSize;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// One successful, untrusted login of an account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    #[serde(with = "crate::snapshot::millis")]
    pub time: EventTime,
    pub event_id: EventId,
    pub city: Option<Arc<str>>,
    pub ip: IpAddr,
    pub lat: f32,
    pub lon: f32,
    /// 0 = unknown (AS0 is reserved and never announced).
    pub asn: u32,
    /// Accuracy radius in whole km, saturating.
    pub accuracy_km: u16,
    pub country: Option<CountryCode>,
    /// [`AnonFlags`] as bits (see [`anon_bits`]).
    pub anon: u8,
    pub located: bool,
}

/// [`AnonFlags`] packed in a byte, in the order of [`Anonymizers::NAMES`] (bit 0 `vpn`).
pub(crate) fn anon_bits(f: &AnonFlags) -> u8 {
    u8::from(f.vpn)
        | u8::from(f.hosting) << 1
        | u8::from(f.tor) << 2
        | u8::from(f.proxy) << 3
        | u8::from(f.residential_proxy) << 4
}

/// The inverse of [`anon_bits`].
pub(crate) fn anon_flags(bits: u8) -> AnonFlags {
    AnonFlags {
        vpn: bits & 1 != 0,
        hosting: bits & 2 != 0,
        tor: bits & 4 != 0,
        proxy: bits & 8 != 0,
        residential_proxy: bits & 16 != 0,
    }
}

impl Record {
    /// The record of a login (the caller decides whether it belongs in the window).
    pub(crate) fn from_login(login: &Login) -> Record {
        let loc = login.location.as_ref();
        let finite = loc.is_some_and(|l| l.lat.is_finite() && l.lon.is_finite());
        let accuracy = loc.map_or(0.0, |l| l.accuracy_km);
        Record {
            time: login.event.timestamp,
            event_id: EventId::new(&login.event.event_id),
            city: loc.and_then(|l| l.city.clone()),
            ip: login.event.ip,
            lat: loc.map_or(0.0, |l| l.lat as f32),
            lon: loc.map_or(0.0, |l| l.lon as f32),
            asn: login.net.asn.unwrap_or(0),
            // `as` saturates; NaN and negatives become 0.
            accuracy_km: accuracy.ceil() as u16,
            country: loc.and_then(|l| l.country),
            anon: anon_bits(&login.net.anon),
            located: finite,
        }
    }

    /// True when an anonymizer class is set.
    pub(crate) fn is_anon(&self) -> bool {
        self.anon != 0
    }

    /// A located, non-anonymized login: the only kind that can be a travel baseline.
    pub(crate) fn is_baseline(&self) -> bool {
        self.located && !self.is_anon()
    }

    /// The ASN, if known.
    pub(crate) fn asn(&self) -> Option<u32> {
        (self.asn != 0).then_some(self.asn)
    }

    /// "Seoul, KR", "KR" or the address when nothing better is known, written where the
    /// summary is formatted.
    pub(crate) fn place(&self) -> Place<'_> {
        Place(self)
    }

    /// The login as alert evidence: event id, ip, timestamp, position, country, city, ASN and
    /// anonymizer flags.
    pub(crate) fn evidence(&self) -> kinds::Login {
        kinds::Login {
            accuracy_km: self.accuracy_km,
            anonymizer: Anonymizers::from_bits(self.anon),
            asn: self.asn(),
            city: self.city.clone(),
            country: self.country,
            event_id: self.event_id.to_text(),
            ip: self.ip,
            lat: self.located.then(|| round4(self.lat)),
            lon: self.located.then(|| round4(self.lon)),
            timestamp: self.time,
        }
    }
}

impl HeapSize for Record {
    fn heap_bytes(&self) -> usize {
        self.event_id.heap_bytes()
    }
}

/// An `f32` coordinate as a short decimal (4 places ≈ 11 m).
fn round4(x: f32) -> f64 {
    (f64::from(x) * 10_000.0).round() / 10_000.0
}

/// [`Record::place`].
pub(crate) struct Place<'a>(&'a Record);

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        match (&r.city, r.country) {
            (Some(city), Some(c)) => write!(f, "{city}, {}", c.as_str()),
            (Some(city), None) => f.write_str(city),
            (None, Some(c)) => f.write_str(c.as_str()),
            (None, None) => write!(f, "{}", r.ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::ev;

    #[test]
    fn stays_compact() {
        assert!(
            std::mem::size_of::<Record>() <= 88,
            "{}",
            std::mem::size_of::<Record>()
        );
    }

    #[test]
    fn converts_a_login() {
        let login = ev("a", "e1", 0, "203.0.113.9")
            .at(37.5665, 126.978, 25.0, "KR", "Seoul")
            .asn(4766)
            .vpn()
            .build();
        let r = Record::from_login(&login);
        assert!(r.located && r.is_anon() && !r.is_baseline());
        assert_eq!(r.asn(), Some(4766));
        assert_eq!(r.accuracy_km, 25);
        assert_eq!(r.place().to_string(), "Seoul, KR");
        let v = r.evidence();
        assert_eq!(
            v.anonymizer.names().collect::<Vec<_>>(),
            login.net.anon.names()
        );
        let v = serde_json::to_value(v).unwrap();
        assert_eq!(v["ip"], "203.0.113.9");
        assert_eq!(v["country"], "KR");
        assert_eq!(v["lat"], 37.5665);
        assert_eq!(v["anonymizer"][0], "vpn");
        assert_eq!(anon_flags(anon_bits(&login.net.anon)), login.net.anon);
    }

    /// The evidence as it was built before it was typed: a `serde_json::Value` map.
    fn as_a_map(r: &Record) -> serde_json::Value {
        use serde_json::{json, Value};
        let (lat, lon) = if r.located {
            (json!(round4(r.lat)), json!(round4(r.lon)))
        } else {
            (Value::Null, Value::Null)
        };
        json!({
            "event_id": r.event_id.to_string(),
            "ip": r.ip.to_string(),
            "timestamp": r.time,
            "lat": lat,
            "lon": lon,
            "accuracy_km": r.accuracy_km,
            "country": r.country,
            "city": r.city.as_deref(),
            "asn": r.asn(),
            "anonymizer": anon_flags(r.anon).names(),
        })
    }

    #[test]
    fn evidence_writes_the_bytes_the_map_did() {
        let logins = [
            ev("a", "e1", 0, "203.0.113.9")
                .at(37.56654321, 126.978, 25.4, "KR", "Seoul")
                .asn(4766)
                .vpn()
                .tor()
                .build(),
            ev("a", "a-much-longer-event-id-than-inline", 1, "2001:db8::1")
                .at(-33.8688, 151.2093, 0.0, "AU", "Sydney")
                .build(),
            ev("a", "e3", 2, "10.0.0.1").build(),
        ];
        for login in &logins {
            let r = Record::from_login(login);
            let typed = serde_json::to_string(&r.evidence()).unwrap();
            assert_eq!(typed, as_a_map(&r).to_string());
        }
    }

    #[test]
    fn unlocated_login() {
        let r = Record::from_login(&ev("a", "e1", 0, "10.0.0.1").build());
        assert!(!r.located && !r.is_baseline());
        assert_eq!(r.place().to_string(), "10.0.0.1");
        assert!(r.evidence().lat.is_none());
    }
}
