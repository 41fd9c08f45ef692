//! Test-only builders: located logins in a line (`ev("acct", "e1", 60, "1.2.3.4").city("Seoul")`)
//! and an engine with a tweaked default configuration.

use crate::{Engine, EngineConfig};
use loginwatch_geo::{Location, Login, NetInfo};
use loginwatch_model::{Alert, AlertKind, CountryCode, EventTime, EventType, LoginEvent, Outcome};
use std::sync::Arc;

/// 2026-11-24T10:00:00Z: time zero of the tests; offsets are in seconds.
pub const T0_MS: i64 = 1_795_514_400_000;

/// Cities used in the tables: name, lat, lon, country.
const CITIES: &[(&str, f64, f64, &str)] = &[
    ("Seoul", 37.5665, 126.978, "KR"),
    ("Busan", 35.1796, 129.0756, "KR"),
    ("Incheon", 37.4563, 126.7052, "KR"),
    ("Pyongyang", 39.0392, 125.7625, "KP"),
    ("Tokyo", 35.6762, 139.6503, "JP"),
    ("Beijing", 39.9042, 116.4074, "CN"),
    ("Shenyang", 41.8057, 123.4315, "CN"),
    ("Moscow", 55.7558, 37.6173, "RU"),
    ("Lagos", 6.5244, 3.3792, "NG"),
    ("London", 51.5074, -0.1278, "GB"),
    ("Paris", 48.8566, 2.3522, "FR"),
    ("Frankfurt", 50.1109, 8.6821, "DE"),
    ("Amsterdam", 52.3676, 4.9041, "NL"),
    ("New York", 40.7128, -74.006, "US"),
    ("Chicago", 41.8781, -87.6298, "US"),
];

/// A login under construction.
#[derive(Clone)]
pub struct Ev(Login);

/// A successful login of `account` at `T0 + secs` from `ip`, not located.
pub fn ev(account: &str, event_id: &str, secs: i64, ip: &str) -> Ev {
    let ip = loginwatch_model::event::parse_ip(ip).unwrap_or_else(|| panic!("bad ip {ip}"));
    Ev(Login {
        event: LoginEvent::login(account, ip, EventTime(T0_MS + secs * 1000), event_id),
        location: None,
        net: NetInfo::default(),
    })
}

impl Ev {
    /// Located at an explicit point.
    pub fn at(mut self, lat: f64, lon: f64, accuracy_km: f64, country: &str, city: &str) -> Ev {
        self.0.location = Some(Location {
            lat,
            lon,
            accuracy_km,
            country: CountryCode::parse(country),
            city: Some(city.into()),
        });
        self
    }

    /// Located in one of the [`CITIES`], accuracy 10 km.
    pub fn city(self, name: &str) -> Ev {
        let &(n, lat, lon, cc) = CITIES
            .iter()
            .find(|c| c.0 == name)
            .unwrap_or_else(|| panic!("unknown test city {name}"));
        self.at(lat, lon, 10.0, cc, n)
    }

    /// Sets the accuracy radius of the location.
    pub fn accuracy(mut self, km: f64) -> Ev {
        if let Some(l) = self.0.location.as_mut() {
            l.accuracy_km = km;
        }
        self
    }

    pub fn asn(mut self, asn: u32) -> Ev {
        self.0.net.asn = Some(asn);
        self.0.net.as_org = Some(format!("Org {asn}").into());
        self
    }

    pub fn vpn(mut self) -> Ev {
        self.0.net.anon.vpn = true;
        self
    }

    pub fn tor(mut self) -> Ev {
        self.0.net.anon.tor = true;
        self
    }

    pub fn failed(mut self) -> Ev {
        self.0.event.outcome = Outcome::Failure;
        self
    }

    pub fn activity(mut self) -> Ev {
        self.0.event.event_type = EventType::Activity;
        self
    }

    pub fn claims(mut self, country: &str) -> Ev {
        self.0.event.claimed_country = CountryCode::parse(country);
        self
    }

    pub fn session(mut self, id: &str) -> Ev {
        self.0.event.session_id = Some(id.into());
        self
    }

    pub fn device(mut self, id: &str) -> Ev {
        self.0.event.device_id = Some(id.into());
        self
    }

    pub fn lang(mut self, accept_language: &str) -> Ev {
        self.0.event.accept_language = Some(accept_language.into());
        self
    }

    pub fn tz(mut self, zone: &str) -> Ev {
        self.0.event.claimed_timezone = Some(zone.into());
        self
    }

    /// `account_created_at` = T0 + `secs`.
    pub fn created(mut self, secs: i64) -> Ev {
        self.0.event.account_created_at = Some(EventTime(T0_MS + secs * 1000));
        self
    }

    pub fn build(self) -> Login {
        self.0
    }
}

/// An engine over the default configuration changed by `tweak`.
pub fn engine_with(tweak: impl FnOnce(&mut EngineConfig)) -> Engine {
    let mut c = EngineConfig::default();
    tweak(&mut c);
    Engine::new(Arc::new(c)).unwrap_or_else(|e| panic!("{e}"))
}

/// Feeds every login and returns all alerts.
pub fn run(engine: &mut Engine, logins: Vec<Ev>) -> Vec<Alert> {
    let mut out = Vec::new();
    for l in logins {
        engine.observe(&l.build(), &mut out);
    }
    out
}

/// The alerts of one kind.
pub fn of_kind(alerts: &[Alert], kind: AlertKind) -> Vec<&Alert> {
    alerts.iter().filter(|a| a.kind == kind).collect()
}
