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
//!
//! The finding is a tree of structs (`shape`) borrowing from the alert and from its evidence
//! read as a JSON object, written straight to the output ([`write`]): this mapping reads the
//! evidence as the object it is in the alert, whatever its kind (also evidence kept as read
//! from JSON), and builds no JSON maps of its own. The pinned emission bytes
//! (`loginwatch-detect`'s `bench` tests) check that the bytes are those of the sorted maps
//! the findings were first written from.

mod shape;

use super::{Alert, AlertKind, Severity};
use crate::time::EventTime;
use serde_json::{Map, Value};
use shape::*;

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

/// The shared_ip evidence fields of the network's entry, in byte order.
const NETWORK_FIELDS: &[&str] = &["distinct_accounts", "level", "network", "prefix_len"];

/// Appends the Detection Finding for `alert` to `out` as JSON.
pub(super) fn write(out: &mut Vec<u8>, alert: &Alert) -> serde_json::Result<()> {
    let evidence = alert.evidence.to_value();
    super::json::write_json(out, &Finding::new(alert, &evidence))
}

/// The Detection Finding for `alert`, as a JSON value (to read its fields).
pub fn finding(alert: &Alert) -> Value {
    let evidence = alert.evidence.to_value();
    // Only maps with non-string keys fail to convert; the finding has none.
    serde_json::to_value(Finding::new(alert, &evidence)).unwrap_or(Value::Null)
}

impl<'a> Finding<'a> {
    fn new(alert: &'a Alert, evidence: &'a Value) -> Self {
        let mut ev = Evidences::new(&alert.account_id);
        ev.collect(evidence);
        let (first, last) = ev.seen(alert.event_time);
        let (severity_id, severity) = severity(alert.severity);
        Finding {
            activity_id: ACTIVITY_CREATE,
            activity_name: "Create",
            category_name: "Findings",
            category_uid: CATEGORY_UID,
            class_name: "Detection Finding",
            class_uid: CLASS_UID,
            evidences: ev.entries,
            finding_info: Info {
                analytic: Analytic {
                    name: alert.kind.as_str(),
                    kind: "Rule",
                    type_id: 1,
                },
                created_time: alert.detected_at.millis(),
                desc: &alert.summary,
                first_seen_time: first,
                last_seen_time: last,
                related_events: Related(&alert.event_ids),
                title: title(alert.kind),
                types: [alert.kind.as_str()],
                uid: &alert.alert_id,
            },
            message: &alert.summary,
            metadata: Metadata {
                product: Product {
                    name: "loginwatch",
                    vendor_name: "loginwatch",
                    version: env!("CARGO_PKG_VERSION"),
                },
                version: SCHEMA_VERSION,
            },
            observables: ev.observables,
            risk_score: alert.risk_score,
            severity,
            severity_id,
            status: "New",
            status_id: 1,
            time: alert.event_time.millis(),
            timezone_offset: 0,
            type_name: "Detection Finding: Create",
            type_uid: TYPE_UID,
            unmapped: Unmapped { evidence },
        }
    }
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
    entries: Vec<Entry<'a>>,
    observables: Vec<Observable<'a>>,
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
            times: Vec::new(),
            has_account: false,
        };
        ev.observe(OBSERVE_USER_NAME, "evidences.actor.user.name", account);
        ev
    }

    /// Every login and network the evidence names, in a fixed order; at least the account.
    fn collect(&mut self, evidence: &'a Value) {
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
            self.entries.push(Entry {
                actor: actor(self.account),
                data: None,
                src_endpoint: None,
            });
        }
    }

    /// One login: the account, where it came from (with its network's name when known), and
    /// its other fields as `data`.
    fn login(&mut self, login: &'a Map<String, Value>, as_name: Option<&'a str>) {
        let mut endpoint = Endpoint::default();
        if let Some(ip) = text(login, "ip") {
            endpoint.ip = Some(ip);
            self.observe(OBSERVE_IP, "evidences.src_endpoint.ip", ip);
        }
        let field = |k| login.get(k).filter(|v| !v.is_null());
        let location = Location {
            city: field("city"),
            country: field("country"),
            lat: field("lat"),
            long: field("lon"),
        };
        // OCSF wants a city or a country in a location; coordinates alone stay in `data`.
        let located = location.city.is_some() || location.country.is_some();
        if located {
            if let Some(c) = text(login, "country") {
                self.observe(
                    OBSERVE_COUNTRY,
                    "evidences.src_endpoint.location.country",
                    c,
                );
            }
            endpoint.location = Some(location);
        }
        let asn = login.get("asn").and_then(Value::as_u64);
        if let Some(number) = asn {
            endpoint.autonomous_system = Some(System {
                name: as_name,
                number,
            });
        }
        if let Some(t) = text(login, "timestamp").and_then(EventTime::parse_rfc3339) {
            self.times.push(t.millis());
        }
        self.has_account = true;
        // What the endpoint says is not repeated in `data`.
        let used: &'static [&'static str] = match (located, asn.is_some()) {
            (false, false) => &["ip"],
            (false, true) => &["ip", "asn"],
            (true, false) => &["ip", "city", "country", "lat", "lon"],
            (true, true) => &["ip", "city", "country", "lat", "lon", "asn"],
        };
        let data = Data {
            obj: login,
            pick: Pick::Rest(used),
        };
        let has_data = data.fields().next().is_some();
        self.entries.push(Entry {
            actor: actor(self.account),
            data: has_data.then_some(data),
            src_endpoint: (!endpoint.is_empty()).then_some(endpoint),
        });
    }

    /// shared_ip: the network (its address when the farm is one host), then each member.
    fn network(&mut self, evidence: &'a Value) {
        let (Some(net), Some(obj)) = (
            evidence.get("network").and_then(Value::as_str),
            evidence.as_object(),
        ) else {
            return;
        };
        let mut endpoint = None;
        if evidence.get("level").and_then(Value::as_str) == Some("ip") {
            let ip = net.split('/').next().unwrap_or(net);
            endpoint = Some(Endpoint {
                ip: Some(ip),
                ..Endpoint::default()
            });
            self.observe(OBSERVE_IP, "evidences.src_endpoint.ip", ip);
        } else {
            self.observe(OBSERVE_SUBNET, "evidences.data.network", net);
        }
        self.entries.push(Entry {
            actor: None,
            data: Some(Data {
                obj,
                pick: Pick::Only(NETWORK_FIELDS),
            }),
            src_endpoint: endpoint,
        });
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
            self.entries.push(Entry {
                actor: actor(account),
                data: Some(Data {
                    obj: member,
                    pick: Pick::Rest(&["account_id"]),
                }),
                src_endpoint: None,
            });
        }
    }

    /// Adds an observable unless one with the same type and value is there.
    fn observe(&mut self, type_id: u8, name: &'static str, value: &'a str) {
        if self
            .observables
            .iter()
            .any(|o| o.type_id == type_id && o.value == value)
        {
            return;
        }
        let caption = match type_id {
            OBSERVE_IP => "IP Address",
            OBSERVE_USER_NAME => "User Name",
            OBSERVE_SUBNET => "Subnet",
            _ => "Country",
        };
        self.observables.push(Observable {
            name,
            caption,
            type_id,
            value,
        });
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

#[cfg(test)]
mod tests;
