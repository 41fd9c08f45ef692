//! Alerts (CONTRACT §2): kinds, severities, deterministic ids, and the formats an alert is
//! written in (native JSON, or an OCSF Detection Finding from [`ocsf`]).

pub mod evidence;
mod json;
pub mod ocsf;

pub use evidence::Evidence;

use crate::time::EventTime;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The value of every alert's `schema` field.
pub const ALERT_SCHEMA: &str = "loginwatch.alert.v1";

/// What an alert is about. Serialized in snake_case (`impossible_travel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    ImpossibleTravel,
    ConcurrentIps,
    SharedIp,
    AnonymizedIp,
    LocationMismatch,
    SessionHijack,
    LongSession,
    SanctionedRegion,
    AccountRisk,
}

impl AlertKind {
    /// Every kind, in a fixed order (metric labels, summaries).
    pub const ALL: [AlertKind; 9] = [
        AlertKind::ImpossibleTravel,
        AlertKind::ConcurrentIps,
        AlertKind::SharedIp,
        AlertKind::AnonymizedIp,
        AlertKind::LocationMismatch,
        AlertKind::SessionHijack,
        AlertKind::LongSession,
        AlertKind::SanctionedRegion,
        AlertKind::AccountRisk,
    ];

    /// The wire name, e.g. `"impossible_travel"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ImpossibleTravel => "impossible_travel",
            AlertKind::ConcurrentIps => "concurrent_ips",
            AlertKind::SharedIp => "shared_ip",
            AlertKind::AnonymizedIp => "anonymized_ip",
            AlertKind::LocationMismatch => "location_mismatch",
            AlertKind::SessionHijack => "session_hijack",
            AlertKind::LongSession => "long_session",
            AlertKind::SanctionedRegion => "sanctioned_region",
            AlertKind::AccountRisk => "account_risk",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an alert is; ordered `Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// One step more urgent (saturating at `Critical`).
    pub fn raised(self) -> Self {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    /// One step less urgent (saturating at `Low`).
    pub fn lowered(self) -> Self {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium | Severity::Low => Severity::Low,
        }
    }

    /// The wire name, e.g. `"high"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert as published (CONTRACT §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "AlertRepr")]
pub struct Alert {
    /// [`ALERT_SCHEMA`] for the alerts this build raises (no allocation).
    pub schema: Cow<'static, str>,
    pub alert_id: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub account_id: String,
    /// Event time of the newest event that triggered the alert.
    pub event_time: EventTime,
    /// When the alert was produced; the engine sets it to `event_time`, drivers stamp wall time.
    pub detected_at: EventTime,
    pub summary: String,
    /// The triggering events, oldest first.
    pub event_ids: Vec<String>,
    /// Kind-specific numbers and the logins involved (see [`evidence`]).
    pub evidence: Evidence,
    /// Extension: the account's 0–100 risk score when the alert was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<u8>,
}

/// An alert as read from JSON, before its evidence is typed by its kind
/// ([`Evidence::read`]).
#[derive(Deserialize)]
struct AlertRepr {
    schema: String,
    alert_id: String,
    kind: AlertKind,
    severity: Severity,
    account_id: String,
    event_time: EventTime,
    detected_at: EventTime,
    summary: String,
    event_ids: Vec<String>,
    evidence: serde_json::Value,
    #[serde(default)]
    risk_score: Option<u8>,
}

impl From<AlertRepr> for Alert {
    fn from(a: AlertRepr) -> Alert {
        Alert {
            evidence: Evidence::read(a.kind, a.evidence),
            schema: match a.schema == ALERT_SCHEMA {
                true => Cow::Borrowed(ALERT_SCHEMA),
                false => Cow::Owned(a.schema),
            },
            alert_id: a.alert_id,
            kind: a.kind,
            severity: a.severity,
            account_id: a.account_id,
            event_time: a.event_time,
            detected_at: a.detected_at,
            summary: a.summary,
            event_ids: a.event_ids,
            risk_score: a.risk_score,
        }
    }
}

impl Alert {
    /// Builds an alert whose `alert_id` is derived from kind, account and event ids.
    pub fn new(
        kind: AlertKind,
        severity: Severity,
        account_id: &str,
        event_time: EventTime,
        summary: String,
        event_ids: Vec<String>,
        evidence: Evidence,
    ) -> Self {
        Alert {
            schema: Cow::Borrowed(ALERT_SCHEMA),
            alert_id: alert_id(kind, account_id, &event_ids),
            kind,
            severity,
            account_id: account_id.to_owned(),
            event_time,
            detected_at: event_time,
            summary,
            event_ids,
            evidence,
            risk_score: None,
        }
    }
}

/// How alerts are written (`[output] format`, `--output-format`; CONTRACT §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    /// The contract's alert JSON (§2), `schema` = [`ALERT_SCHEMA`].
    #[default]
    Loginwatch,
    /// An OCSF Detection Finding (class_uid 2004), `finding_info.uid` = `alert_id`.
    Ocsf,
}

/// A format name that is neither `loginwatch` nor `ocsf`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown alert format {0:?}: expected \"loginwatch\" or \"ocsf\"")]
pub struct UnknownAlertFormat(pub String);

impl AlertFormat {
    /// The configuration name, e.g. `"ocsf"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Loginwatch => "loginwatch",
            AlertFormat::Ocsf => "ocsf",
        }
    }

    /// Appends `alert` to `out` as one JSON object (no newline) in this format.
    pub fn write(self, out: &mut Vec<u8>, alert: &Alert) -> serde_json::Result<()> {
        match self {
            AlertFormat::Loginwatch => {
                json::Json::write(alert, out);
                Ok(())
            }
            AlertFormat::Ocsf => ocsf::write(out, alert),
        }
    }

    /// `alert` as the bytes of one JSON object in this format.
    pub fn to_vec(self, alert: &Alert) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        self.write(&mut out, alert)?;
        Ok(out)
    }
}

impl FromStr for AlertFormat {
    type Err = UnknownAlertFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [AlertFormat::Loginwatch, AlertFormat::Ocsf]
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownAlertFormat(s.to_owned()))
    }
}

impl fmt::Display for AlertFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The deterministic id of an alert: a 128-bit hash of kind, account and triggering events.
/// The same input always yields the same id, so a replayed or redelivered alert is recognisable.
pub fn alert_id(kind: AlertKind, account_id: &str, event_ids: &[String]) -> String {
    // The hashed bytes: kind, account and event ids, NUL-separated; gathered on the stack when
    // they fit, hashed in one call (a streaming hasher first copies its 192-byte secret).
    let parts = || {
        let ids = event_ids.iter().map(String::as_str);
        [kind.as_str(), account_id].into_iter().chain(ids)
    };
    let len = parts().map(|p| p.len() + 1).sum::<usize>() - 1;
    let (mut stack, mut heap) = ([0u8; 128], Vec::new());
    let key = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap[..]
    };
    let mut at = 0;
    for (i, part) in parts().enumerate() {
        if i > 0 {
            at += 1; // the NUL the buffer already holds
        }
        key[at..at + part.len()].copy_from_slice(part.as_bytes());
        at += part.len();
    }
    let mut id = String::with_capacity(35);
    id.push_str("al-");
    push_hex(&mut id, xxhash_rust::xxh3::xxh3_128(key));
    id
}

/// Appends `n` as 32 lower-case hex digits (`format!("{n:032x}")` without the formatter).
pub fn push_hex(out: &mut String, n: u128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 32];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = DIGITS[((n >> (4 * (31 - i))) & 0xf) as usize];
    }
    // ASCII digits: always UTF-8.
    out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let ids = vec!["e1".to_owned(), "e2".to_owned()];
        let a = alert_id(AlertKind::ImpossibleTravel, "acct", &ids);
        assert_eq!(a, alert_id(AlertKind::ImpossibleTravel, "acct", &ids));
        assert_ne!(a, alert_id(AlertKind::ConcurrentIps, "acct", &ids));
        assert_ne!(a, alert_id(AlertKind::ImpossibleTravel, "acct2", &ids));
        assert_ne!(a, alert_id(AlertKind::ImpossibleTravel, "acct", &ids[..1]));
    }

    proptest! {
        /// The id is the streaming hash of the NUL-separated parts it always was.
        #[test]
        fn ids_hash_the_separated_parts(
            account in ".{0,40}",
            ids in prop::collection::vec(".{0,200}", 0..4),
        ) {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(b"shared_ip\0");
            h.update(account.as_bytes());
            for id in &ids {
                h.update(b"\0");
                h.update(id.as_bytes());
            }
            let mut want = "al-".to_owned();
            push_hex(&mut want, h.digest128());
            prop_assert_eq!(alert_id(AlertKind::SharedIp, &account, &ids), want);
        }
    }

    #[test]
    fn hex_is_the_formatted_one() {
        for n in [0, 1, 0xabc, u128::MAX, u128::MAX / 3, 1 << 127] {
            let mut s = String::new();
            push_hex(&mut s, n);
            assert_eq!(s, format!("{n:032x}"));
        }
        let ids = vec!["e1".to_owned()];
        let id = alert_id(AlertKind::SharedIp, "a", &ids);
        assert!(id.starts_with("al-") && id.len() == 35);
    }

    #[test]
    fn serializes_per_contract() {
        let a = Alert::new(
            AlertKind::ImpossibleTravel,
            Severity::High,
            "acct-42",
            EventTime(1_795_514_700_000),
            "s".into(),
            vec!["e1".into()],
            Evidence::json(serde_json::json!({"distance_km": 1.0})),
        );
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["schema"], "loginwatch.alert.v1");
        assert_eq!(v["kind"], "impossible_travel");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["event_time"], "2026-11-24T10:05:00Z");
        assert!(v.get("risk_score").is_none());
        let back: Alert = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn formats_parse_and_write() {
        assert_eq!("ocsf".parse(), Ok(AlertFormat::Ocsf));
        assert_eq!("loginwatch".parse(), Ok(AlertFormat::Loginwatch));
        assert!("OCSF".parse::<AlertFormat>().is_err());
        assert_eq!(AlertFormat::default(), AlertFormat::Loginwatch);
        let a = Alert::new(
            AlertKind::LongSession,
            Severity::Medium,
            "acct-1",
            EventTime(1_000),
            "s".into(),
            vec!["e1".into()],
            Evidence::json(serde_json::json!({})),
        );
        let native: serde_json::Value =
            serde_json::from_slice(&AlertFormat::Loginwatch.to_vec(&a).unwrap()).unwrap();
        assert_eq!(native, serde_json::to_value(&a).unwrap());
        let ocsf: serde_json::Value =
            serde_json::from_slice(&AlertFormat::Ocsf.to_vec(&a).unwrap()).unwrap();
        assert_eq!(ocsf["finding_info"]["uid"], a.alert_id.as_str());
    }

    #[test]
    fn kinds_round_trip() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
        }
        assert!(Severity::Low < Severity::Critical);
        assert_eq!(Severity::High.raised(), Severity::Critical);
        assert_eq!(Severity::Low.lowered(), Severity::Low);
    }
}
