//! The contract form of an event (CONTRACT §1): what `loginwatch normalize` writes, and what a
//! vendor record becomes before the pipeline reads it. [`decode`](super::decode) reads it
//! back as the same event.

use super::{EventType, GeoHint, LoginEvent, Outcome};
use serde::ser::{Serialize, SerializeMap, Serializer};

impl EventType {
    /// The contract's name: `login`, `logout` or `activity`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Login => "login",
            EventType::Logout => "logout",
            EventType::Activity => "activity",
        }
    }
}

impl Outcome {
    /// The contract's name: `success` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// Every field the event has; absent optional fields are left out.
impl Serialize for LoginEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("account_id", &self.account_id)?;
        m.serialize_entry("ip", &self.ip)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        m.serialize_entry("event_id", &self.event_id)?;
        m.serialize_entry("event_type", self.event_type.as_str())?;
        m.serialize_entry("outcome", self.outcome.as_str())?;
        let optional = [
            ("session_id", &self.session_id),
            ("device_id", &self.device_id),
            ("user_agent", &self.user_agent),
            ("accept_language", &self.accept_language),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                m.serialize_entry(key, v)?;
            }
        }
        if let Some(c) = &self.claimed_country {
            m.serialize_entry("claimed_country", c)?;
        }
        if let Some(tz) = &self.claimed_timezone {
            m.serialize_entry("claimed_timezone", tz)?;
        }
        if let Some(t) = &self.account_created_at {
            m.serialize_entry("account_created_at", t)?;
        }
        if let Some(g) = &self.geo {
            m.serialize_entry("geo", g)?;
        }
        m.end()
    }
}

/// `{lat, lon, country?, city?, accuracy_km?, asn?, proxy?}`; `proxy` only when set.
impl Serialize for GeoHint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("lat", &self.lat)?;
        m.serialize_entry("lon", &self.lon)?;
        if let Some(c) = &self.country {
            m.serialize_entry("country", c)?;
        }
        if let Some(c) = &self.city {
            m.serialize_entry("city", c)?;
        }
        if let Some(a) = &self.accuracy_km {
            m.serialize_entry("accuracy_km", a)?;
        }
        if let Some(a) = &self.asn {
            m.serialize_entry("asn", a)?;
        }
        if self.proxy {
            m.serialize_entry("proxy", &true)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::{decode, CountryCode, EventTime, GeoHint, LoginEvent};
    use proptest::prelude::*;

    fn line(e: &LoginEvent) -> String {
        serde_json::to_string(e).expect("an event serializes")
    }

    #[test]
    fn a_minimal_event_is_written_with_its_defaults_made_explicit() {
        let e = decode(
            br#"{"account_id":"a","ip":"::ffff:1.2.3.4","timestamp":1}"#,
            4096,
        )
        .expect("valid");
        assert_eq!(
            line(&e),
            format!(
                r#"{{"account_id":"a","ip":"1.2.3.4","timestamp":"1970-01-01T00:00:00.001Z","event_id":"{}","event_type":"login","outcome":"success"}}"#,
                e.event_id
            )
        );
    }

    #[test]
    fn a_full_event_reads_back_as_itself() {
        let e = decode(
            br#"{"account_id":"a\"b","ip":"2001:db8::1","timestamp":"2026-11-24T10:05:00.120Z",
            "event_id":"x","event_type":"logout","outcome":"failure","session_id":"s",
            "device_id":"d","user_agent":"ua","accept_language":"ko","claimed_country":"kr",
            "claimed_timezone":"Asia/Seoul","account_created_at":0,
            "geo":{"lat":1.5,"lon":-2,"country":"US","city":"X","accuracy_km":5,"asn":64500,"proxy":true}}"#,
            4096,
        )
        .expect("valid");
        assert_eq!(
            e.geo.as_ref().map(|g| (g.asn, g.proxy)),
            Some((Some(64500), true))
        );
        assert_eq!(decode(line(&e).as_bytes(), 4096), Ok(e));
    }

    proptest! {
        #[test]
        fn written_events_decode_to_themselves(
            account in "[ -~]{1,40}",
            ms in 0i64..=crate::time::MAX_MS,
            v6 in any::<bool>(),
            octets in any::<[u8; 16]>(),
            // Micro-degrees: what a location carries, and what serde_json reads back exactly
            // (its default parse may be one ULP off on 17-digit numbers).
            lat in (-90_000_000i32..=90_000_000).prop_map(|n| f64::from(n) / 1e6),
            lon in (-180_000_000i32..=180_000_000).prop_map(|n| f64::from(n) / 1e6),
            asn in proptest::option::of(any::<u32>()),
            proxy in any::<bool>(),
        ) {
            let ip = if v6 {
                let a = std::net::Ipv6Addr::from(octets);
                a.to_ipv4_mapped().map_or(a.into(), Into::into)
            } else {
                std::net::Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]).into()
            };
            let mut e = decode(br#"{"account_id":"x","ip":"1.1.1.1","timestamp":0}"#, 4096)
                .expect("valid");
            (e.account_id, e.ip, e.timestamp) = (account, ip, EventTime(ms));
            e.geo = Some(GeoHint {
                lat, lon, country: CountryCode::parse("KR"), city: None, accuracy_km: None,
                asn, proxy,
            });
            prop_assert_eq!(decode(line(&e).as_bytes(), 4096), Ok(e));
        }
    }
}
