//! An [`Alert`] as an OCSF 1.3.0 Detection Finding (class_uid 2004): the one place where
//! loginwatch's alert becomes OCSF (`[output] format = "ocsf"`).
//!
//! | alert | finding |
//! |---|---|
//! | `alert_id` | `finding_info.uid` |
//! | `kind` | `finding_info.types`, `finding_info.analytic.name`, `finding_info.title` |
//! | `summary` | `message`, `finding_info.desc` |
//! | `severity` | `severity_id` / `severity` (low 2, medium 3, high 4, critical 5) |
//! | `event_time` / `detected_at` | `time` / `finding_info.created_time` (epoch ms) |
//! | `event_ids` | `finding_info.related_events[].uid` |
//! | `account_id` | `evidences[].actor.user` (`name` and `uid`) and a User Name observable |
//! | evidence logins (`from`, `to`, `login`, `logins`) | one `evidences[]` each: `src_endpoint` (ip, `location`, `autonomous_system`), the rest under `data` |
//! | shared_ip `network`, `accounts` | an `evidences[]` for the network, one per member account |
//! | `risk_score` | `risk_score` |
//! | `evidence` (whole) | `unmapped.evidence` |
//!
//! The oldest and newest login timestamps in the evidence become `finding_info.first_seen_time`
//! and `last_seen_time` (both `event_time` when the evidence names none). Every IP address,
//! account, country and shared_ip subnet also appears once in `observables`. The tests in
//! `tests/ocsf.rs` check the result against a copy of the published schema definitions.

use super::{Alert, AlertKind, Severity};
use crate::time::EventTime;
use serde_json::{json, Map, Value};

/// The OCSF schema version the findings follow (`metadata.version`).
pub const SCHEMA_VERSION: &str = "1.3.0";
/// The Findings category.
pub const CATEGORY_UID: u32 = 2;
/// The Detection Finding class.
pub const CLASS_UID: u32 = 2004;
/// Activity 1, Create: every alert is a new finding.
pub const ACTIVITY_CREATE: u32 = 1;
/// `class_uid * 100 + activity_id`.
pub const TYPE_UID: u32 = CLASS_UID * 100 + ACTIVITY_CREATE;

/// Observable type ids (OCSF dictionary: `ip_t`, `username_t`, `subnet_t`, `country`).
const OBSERVE_IP: u8 = 2;
const OBSERVE_USER_NAME: u8 = 4;
const OBSERVE_SUBNET: u8 = 12;
const OBSERVE_COUNTRY: u8 = 14;

/// Login fields that map onto `src_endpoint` (evidence name, endpoint or location name).
const ENDPOINT_FIELDS: [(&str, &str); 4] = [
    ("city", "city"),
    ("country", "country"),
    ("lat", "lat"),
    ("lon", "long"),
];

/// The Detection Finding for `alert`.
pub fn finding(alert: &Alert) -> Value {
    // The finding reads the evidence as the JSON object it is in the alert.
    let evidence = alert.evidence.to_value();
    let mut ev = Evidences::new(&alert.account_id);
    ev.collect(&evidence);
    let (first, last) = ev.seen(alert.event_time);
    let (severity_id, severity) = severity(alert.severity);
    let related: Vec<Value> = alert
        .event_ids
        .iter()
        .map(|id| json!({ "uid": id }))
        .collect();
    let mut out = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": TYPE_UID,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": alert.event_time.millis(),
        "timezone_offset": 0,
        "message": alert.summary,
        "metadata": {
            "version": SCHEMA_VERSION,
            "product": {
                "name": "loginwatch",
                "vendor_name": "loginwatch",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": {
            "uid": alert.alert_id,
            "title": title(alert.kind),
            "desc": alert.summary,
            "types": [alert.kind.as_str()],
            "analytic": { "name": alert.kind.as_str(), "type_id": 1, "type": "Rule" },
            "created_time": alert.detected_at.millis(),
            "first_seen_time": first,
            "last_seen_time": last,
            "related_events": related,
        },
        "evidences": ev.entries,
        "observables": ev.observables,
        "unmapped": { "evidence": evidence },
    });
    if let (Some(score), Some(obj)) = (alert.risk_score, out.as_object_mut()) {
        obj.insert("risk_score".into(), score.into());
    }
    out
}

/// OCSF `severity_id` and its caption.
fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// `finding_info.title`: what kind of finding, in a few words.
fn title(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::ImpossibleTravel => "Impossible travel between logins",
        AlertKind::ConcurrentIps => "Concurrent logins from distant addresses",
        AlertKind::SharedIp => "Account among many on one network",
        AlertKind::AnonymizedIp => "Login through an anonymizer",
        AlertKind::LocationMismatch => "Logins contradict the account's claimed location",
        AlertKind::SessionHijack => "Session used from another network or device",
        AlertKind::LongSession => "Unusually long session",
        AlertKind::SanctionedRegion => "Login from a sanctioned region",
        AlertKind::AccountRisk => "Account risk score reached its threshold",
    }
}

/// The `evidences` and `observables` being built from an alert's evidence.
struct Evidences<'a> {
    account: &'a str,
    entries: Vec<Value>,
    observables: Vec<Value>,
    /// (type_id, value) of every observable so far: each appears once.
    observed: Vec<(u8, String)>,
    /// Epoch ms of the logins (or, for shared_ip, the account's first and last login).
    times: Vec<i64>,
    /// Whether an entry names the alert's account.
    has_account: bool,
}

impl<'a> Evidences<'a> {
    fn new(account: &'a str) -> Self {
        let mut ev = Evidences {
            account,
            entries: Vec::new(),
            observables: Vec::new(),
            observed: Vec::new(),
            times: Vec::new(),
            has_account: false,
        };
        ev.observe(OBSERVE_USER_NAME, "evidences.actor.user.name", account);
        ev
    }

    /// Every login and network the evidence names, in a fixed order; at least the account.
    fn collect(&mut self, evidence: &Value) {
        for key in ["from", "to", "login"] {
            if let Some(login) = evidence.get(key).and_then(Value::as_object) {
                self.login(login, as_org(evidence, login));
            }
        }
        for login in list(evidence, "logins") {
            self.login(login, None);
        }
        self.network(evidence);
        if !self.has_account {
            self.entries.push(json!({ "actor": actor(self.account) }));
        }
    }

    /// One login: the account, where it came from (with its network's name when known), and
    /// its other fields as `data`.
    fn login(&mut self, login: &Map<String, Value>, as_name: Option<&str>) {
        let mut used = vec!["ip"];
        let mut endpoint = Map::new();
        if let Some(ip) = text(login, "ip") {
            endpoint.insert("ip".into(), ip.into());
            self.observe(OBSERVE_IP, "evidences.src_endpoint.ip", ip);
        }
        let mut location = Map::new();
        for (from, to) in ENDPOINT_FIELDS {
            if let Some(v) = login.get(from).filter(|v| !v.is_null()) {
                location.insert(to.into(), v.clone());
            }
        }
        // OCSF wants a city or a country in a location; coordinates alone stay in `data`.
        if location.contains_key("city") || location.contains_key("country") {
            used.extend(ENDPOINT_FIELDS.iter().map(|(from, _)| *from));
            if let Some(c) = text(login, "country") {
                self.observe(
                    OBSERVE_COUNTRY,
                    "evidences.src_endpoint.location.country",
                    c,
                );
            }
            endpoint.insert("location".into(), location.into());
        }
        if let Some(asn) = login.get("asn").and_then(Value::as_u64) {
            used.push("asn");
            let mut system = json!({ "number": asn });
            if let Some(name) = as_name {
                system["name"] = name.into();
            }
            endpoint.insert("autonomous_system".into(), system);
        }
        if let Some(t) = text(login, "timestamp").and_then(EventTime::parse_rfc3339) {
            self.times.push(t.millis());
        }
        let mut entry = Map::new();
        if !endpoint.is_empty() {
            entry.insert("src_endpoint".into(), endpoint.into());
        }
        entry.insert("actor".into(), actor(self.account));
        self.has_account = true;
        let data = rest(login, &used);
        if !data.is_empty() {
            entry.insert("data".into(), data.into());
        }
        self.entries.push(entry.into());
    }

    /// shared_ip: the network (its address when the farm is one host), then each member.
    fn network(&mut self, evidence: &Value) {
        let Some(net) = evidence.get("network").and_then(Value::as_str) else {
            return;
        };
        let mut entry = Map::new();
        if evidence.get("level").and_then(Value::as_str) == Some("ip") {
            let ip = net.split('/').next().unwrap_or(net);
            entry.insert("src_endpoint".into(), json!({ "ip": ip }));
            self.observe(OBSERVE_IP, "evidences.src_endpoint.ip", ip);
        } else {
            self.observe(OBSERVE_SUBNET, "evidences.data.network", net);
        }
        let data: Map<String, Value> = ["network", "prefix_len", "level", "distinct_accounts"]
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), evidence.get(k)?.clone())))
            .collect();
        entry.insert("data".into(), data.into());
        self.entries.push(entry.into());
        for member in list(evidence, "accounts") {
            let Some(account) = text(member, "account_id") else {
                continue;
            };
            if account == self.account {
                self.has_account = true;
                for key in ["first_seen", "last_seen"] {
                    if let Some(t) = text(member, key).and_then(EventTime::parse_rfc3339) {
                        self.times.push(t.millis());
                    }
                }
            } else {
                self.observe(OBSERVE_USER_NAME, "evidences.actor.user.name", account);
            }
            let data = rest(member, &["account_id"]);
            self.entries
                .push(json!({ "actor": actor(account), "data": data }));
        }
    }

    /// Adds an observable unless one with the same type and value is there.
    fn observe(&mut self, type_id: u8, name: &str, value: &str) {
        if self
            .observed
            .iter()
            .any(|(t, v)| *t == type_id && v == value)
        {
            return;
        }
        self.observed.push((type_id, value.to_owned()));
        let caption = match type_id {
            OBSERVE_IP => "IP Address",
            OBSERVE_USER_NAME => "User Name",
            OBSERVE_SUBNET => "Subnet",
            _ => "Country",
        };
        self.observables.push(json!({
            "name": name,
            "type": caption,
            "type_id": type_id,
            "value": value,
        }));
    }

    /// First and last seen (epoch ms): the span of the logins, else `fallback`.
    fn seen(&self, fallback: EventTime) -> (i64, i64) {
        let first = self.times.iter().min().copied();
        let last = self.times.iter().max().copied();
        (
            first.unwrap_or(fallback.millis()),
            last.unwrap_or(fallback.millis()),
        )
    }
}

/// anonymized_ip names the login's network: `as_org` when `asn` is the login's.
fn as_org<'v>(evidence: &'v Value, login: &Map<String, Value>) -> Option<&'v str> {
    let same = evidence
        .get("asn")
        .is_some_and(|a| !a.is_null() && login.get("asn") == Some(a));
    same.then(|| evidence.get("as_org").and_then(Value::as_str))
        .flatten()
}

/// The actor of a login: the account, as a user with that name and unique id. (`actor`, not
/// `evidences.user`, which OCSF added only in 1.3: the finding is valid from 1.2 to 1.8.)
fn actor(account: &str) -> Value {
    json!({ "user": { "name": account, "uid": account } })
}

fn text<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    obj.get(key).and_then(Value::as_str)
}

/// The objects in the array `evidence[key]`.
fn list<'v>(evidence: &'v Value, key: &str) -> impl Iterator<Item = &'v Map<String, Value>> {
    evidence
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// `obj` without the `used` keys and without empty values (null, `[]`).
fn rest(obj: &Map<String, Value>, used: &[&str]) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, v)| {
            !used.contains(&k.as_str())
                && !v.is_null()
                && v.as_array().is_none_or(|a| !a.is_empty())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
