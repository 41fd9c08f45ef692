//! The evidence of each alert kind, and of one login. **Fields are listed in byte order of
//! their names** (`as_org` < `asn`: `_` sorts before letters): that order is the order of
//! the keys in the output (see the parent module). Absent values are `null`, not skipped.

use super::super::json::{json_struct, json_via_serde, write_str, Json};
use super::super::{AlertKind, Severity};
use crate::country::CountryCode;
use crate::time::EventTime;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

json_struct! {
    /// One login as evidence (`from`, `to`, `login`, `logins[]`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Login {
        /// The GeoIP accuracy radius, whole km.
        pub accuracy_km: u16,
        pub anonymizer: Anonymizers,
        pub asn: Option<u32>,
        pub city: Option<Arc<str>>,
        pub country: Option<CountryCode>,
        pub event_id: String,
        pub ip: IpAddr,
        /// Rounded to 4 decimals; `None` when the login was not located.
        pub lat: Option<f64>,
        pub lon: Option<f64>,
        pub timestamp: EventTime,
    }
}

json_struct! {
    /// `impossible_travel`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Travel {
        pub anonymized: bool,
        pub distance_km: f64,
        pub elapsed_s: f64,
        pub from: Login,
        pub max_speed_kmh: f64,
        pub min_distance_km: f64,
        pub raw_distance_km: f64,
        pub simultaneous: bool,
        /// `None` for simultaneous logins (an infinite speed).
        pub speed_kmh: Option<f64>,
        pub to: Login,
    }
}

json_struct! {
    /// `concurrent_ips`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Concurrent {
        pub countries: Vec<CountryCode>,
        pub distinct_countries: usize,
        pub distinct_ips: usize,
        pub logins: Vec<Login>,
        pub max_distance_km: f64,
        pub span_s: f64,
        pub window_s: f64,
    }
}

json_struct! {
    /// `shared_ip`: the farm, the rule's settings, and its members.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SharedIp {
        pub accounts: Vec<FarmMember>,
        pub distinct_accounts: usize,
        pub history_s: i64,
        pub level: NetworkLevel,
        pub min_days: u16,
        pub min_logins: u16,
        pub min_resident_share: f64,
        pub min_share: f64,
        /// The network in CIDR notation (`203.0.113.5/32`, `2001:db8::/64`).
        pub network: String,
        pub prefix_len: u8,
        pub window_s: i64,
    }
}

json_struct! {
    /// One account living on a shared_ip network.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FarmMember {
        pub account_id: String,
        pub days: u16,
        pub event_id: String,
        pub first_seen: EventTime,
        pub last_seen: EventTime,
        pub logins: u16,
        pub share: f64,
    }
}

/// Whether a farm was found on one address or on a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkLevel {
    Ip,
    Prefix,
}

json_struct! {
    /// `anonymized_ip`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Anonymized {
        pub as_org: Option<Arc<str>>,
        pub asn: Option<u32>,
        pub distinct_anonymizer_asns: usize,
        pub flags: Anonymizers,
        pub login: Login,
        pub previous_as_org: Option<Arc<str>>,
        pub previous_asn: Option<u32>,
        pub reason: AnonymizedReason,
    }
}

/// Why an anonymized_ip alert was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnonymizedReason {
    First,
    Switch,
}

json_struct! {
    /// `location_mismatch`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LocationMismatch {
        pub accept_language: Option<String>,
        pub active_hours: u32,
        pub claimed_country: Option<CountryCode>,
        pub claimed_timezone: Option<Cow<'static, str>>,
        pub country_share_pct: CountryShares,
        pub hours_local: [u16; 24],
        pub korean_first_logins: u16,
        pub language_logins: u16,
        pub located_logins: u16,
        pub login: Login,
        pub night_share: f64,
        pub outside_share: f64,
        pub reasons: Vec<MismatchReason>,
    }
}

/// A location_mismatch rule that held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchReason {
    Country,
    KoreanLanguage,
    NightHours,
}

json_struct! {
    /// `session_hijack`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SessionHijack {
        pub device_id: Option<String>,
        pub login: Login,
        pub now: SessionFingerprint,
        pub original: SessionFingerprint,
        pub reasons: Vec<HijackReason>,
        pub session_first_seen: EventTime,
        pub session_id: String,
    }
}

json_struct! {
    /// How a session looked when first seen, or now.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SessionFingerprint {
        pub anonymized: bool,
        pub asn: Option<u32>,
        pub country: Option<CountryCode>,
        /// A hash of the `device_id`, written as 8 hex digits.
        pub device_fp: Option<DeviceFp>,
    }
}

/// A session_hijack reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HijackReason {
    Device,
    Country,
    Asn,
}

json_struct! {
    /// `long_session`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LongSession {
        pub active_hour_count: u32,
        pub active_hours_utc: HourSet,
        pub duration_s: i64,
        pub events_in_run: u32,
        pub last_event: EventTime,
        pub login: Login,
        pub reasons: Vec<LongSessionReason>,
        pub run_start: EventTime,
        pub utc_day: EventTime,
    }
}

/// A long_session reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongSessionReason {
    Continuous,
    ActiveHours,
}

json_struct! {
    /// `sanctioned_region`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Sanctioned {
        pub claimed_country: Option<CountryCode>,
        pub country: CountryCode,
        pub login: Login,
    }
}

json_struct! {
    /// `account_risk`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AccountRisk {
        pub contributions: Vec<RiskContribution>,
        pub horizon_s: i64,
        pub score: u8,
        pub threshold: u8,
    }
}

json_struct! {
    /// One kind's part of a risk score.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RiskContribution {
        pub kind: AlertKind,
        pub last_seen: EventTime,
        /// Rounded to one decimal.
        pub points: f64,
        pub severity: Severity,
    }
}

/// Anonymizer classes, written as their names in a fixed order (`["vpn","hosting"]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anonymizers(u8);

impl Anonymizers {
    /// The classes, bit `i` of [`Anonymizers::from_bits`] naming `NAMES[i]`.
    pub const NAMES: [&'static str; 5] = ["vpn", "hosting", "tor", "proxy", "residential_proxy"];

    /// The classes whose bits are set (bits past the last name are ignored).
    pub fn from_bits(bits: u8) -> Self {
        Anonymizers(bits & 0b1_1111)
    }

    /// The classes' names, in [`Anonymizers::NAMES`] order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        (0..Self::NAMES.len())
            .filter(move |i| self.0 & (1 << i) != 0)
            .map(|i| Self::NAMES[i])
    }
}

impl Serialize for Anonymizers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl Json for Anonymizers {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, name);
        }
        out.push(b']');
    }
}

impl<'de> Deserialize<'de> for Anonymizers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = <Vec<Cow<'de, str>>>::deserialize(d)?;
        let mut bits = 0u8;
        for name in names {
            let i = Self::NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| de::Error::unknown_variant(&name, &Self::NAMES))?;
            bits |= 1 << i;
        }
        Ok(Anonymizers(bits))
    }
}

/// The share (percent) of located logins per country, written as an object keyed by
/// country code, in code order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CountryShares(Vec<(CountryCode, f64)>);

impl CountryShares {
    /// From (country, percent) pairs in any order; a country given twice keeps its last value.
    pub fn new(mut pairs: Vec<(CountryCode, f64)>) -> Self {
        // A stable sort keeps equal countries in the order given; the last one wins.
        pairs.sort_by_key(|p| p.0);
        let mut out: Vec<(CountryCode, f64)> = Vec::with_capacity(pairs.len());
        for (c, v) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == c => last.1 = v,
                _ => out.push((c, v)),
            }
        }
        CountryShares(out)
    }

    /// The (country, percent) pairs in code order.
    pub fn as_slice(&self) -> &[(CountryCode, f64)] {
        &self.0
    }
}

impl Serialize for CountryShares {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (c, v) in &self.0 {
            m.serialize_entry(c.as_str(), v)?;
        }
        m.end()
    }
}

impl Json for CountryShares {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (c, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            c.write(out);
            out.push(b':');
            v.write(out);
        }
        out.push(b'}');
    }
}

impl<'de> Deserialize<'de> for CountryShares {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = std::collections::BTreeMap::<CountryCode, f64>::deserialize(d)?;
        Ok(CountryShares(m.into_iter().collect()))
    }
}

/// A device hash, written as 8 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceFp(pub u32);

impl Serialize for DeviceFp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:08x}", self.0))
    }
}

impl<'de> Deserialize<'de> for DeviceFp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        let hex = s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        hex.then(|| u32::from_str_radix(&s, 16).ok())
            .flatten()
            .map(DeviceFp)
            .ok_or_else(|| de::Error::custom("a device fingerprint is 8 lower-case hex digits"))
    }
}

/// Hours of a day (0–23), written as the ascending list of those set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HourSet(u32);

impl HourSet {
    /// Bit `h` set: hour `h` (bits from 24 up are ignored).
    pub fn from_bits(bits: u32) -> Self {
        HourSet(bits & 0xff_ffff)
    }

    /// How many hours are set.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// No hour set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Serialize for HourSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len() as usize))?;
        for h in (0..24u32).filter(|h| self.0 & (1 << h) != 0) {
            seq.serialize_element(&h)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for HourSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HourSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("ascending hours 0-23")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HourSet, A::Error> {
                let mut bits = 0u32;
                let mut next = 0u32;
                while let Some(h) = seq.next_element::<u32>()? {
                    if h < next || h > 23 {
                        return Err(de::Error::custom("hours must ascend within 0-23"));
                    }
                    bits |= 1 << h;
                    next = h + 1;
                }
                Ok(HourSet(bits))
            }
        }
        d.deserialize_seq(V)
    }
}

json_via_serde!(
    NetworkLevel,
    AnonymizedReason,
    MismatchReason,
    HijackReason,
    LongSessionReason,
    DeviceFp,
    HourSet,
);
