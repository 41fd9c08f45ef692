//! `impossible_travel`: two successful logins of an account too far apart for the time
//! between them.
//!
//! **Pairs checked.** Every located record is compared with its *baseline*: the nearest
//! earlier record that is located and not anonymized. So a hop onto an anonymizer is still
//! checked (Seoul → VPN exit in Frankfurt), but an anonymized point never becomes the baseline:
//! the next ordinary login is compared with the last ordinary one (Seoul), not with the VPN
//! exit. When a late login lands between earlier ones it is checked against its baseline and,
//! if it is itself a baseline, against each later located record up to and including the next
//! baseline (those records' baseline just changed to it).
//!
//! **No alert** for a same-host pair (same IPv4 address, same IPv6 /64), for an IPv4/IPv6 pair
//! within one ASN (dual stack), when either point lacks a location, or when the distance —
//! haversine minus both accuracy radii, floored at 0 — is 0 or below `min_distance_km`.
//! Otherwise an alert when the speed exceeds `max_speed_kmh`; zero elapsed time is an
//! infinite speed (`speed_kmh: null`, `simultaneous: true` in the evidence).
//!
//! **Severity** (`×` = speed / `max_speed_kmh`), then one step lower when either point is
//! anonymized (never dropped):
//!
//! | distance | ≤ 2× | ≤ 5× | > 5× or simultaneous |
//! |---|---|---|---|
//! | < 500 km | low | low | medium |
//! | 500–2,000 km | low | medium | high |
//! | ≥ 2,000 km | medium | high | critical |

use super::{human, human_ms, round1};
use crate::config::ImpossibleTravelConfig;
use crate::detector::{Ctx, Detector, Finding};
use crate::record::{anon_flags, Record};
use crate::suppress::{country_key, Escalation};
use loginwatch_geo::{haversine_km, net::host_key};
use loginwatch_model::alert::evidence::kinds as evidence;
use loginwatch_model::{AlertKind, Severity};
use std::fmt::Write as _;

/// The impossible-travel detector.
#[derive(Debug)]
pub(crate) struct ImpossibleTravel {
    max_speed_kmh: f64,
    min_distance_km: f64,
}

/// The numbers of one hop that is too fast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Hop {
    distance_km: f64,
    raw_km: f64,
    speed_kmh: f64,
    elapsed_ms: i64,
}

impl ImpossibleTravel {
    pub(crate) fn new(c: &ImpossibleTravelConfig) -> Self {
        ImpossibleTravel {
            max_speed_kmh: c.max_speed_kmh,
            min_distance_km: c.min_distance_km,
        }
    }

    /// The hop from `a` to `b` (`a` not later than `b`) when it is impossible.
    pub(crate) fn hop(&self, a: &Record, b: &Record) -> Option<Hop> {
        if !a.located || !b.located || host_key(a.ip) == host_key(b.ip) {
            return None;
        }
        if a.ip.is_ipv4() != b.ip.is_ipv4() && a.asn().is_some() && a.asn() == b.asn() {
            return None;
        }
        let raw_km = haversine_km(a.lat.into(), a.lon.into(), b.lat.into(), b.lon.into());
        let radii = f64::from(a.accuracy_km) + f64::from(b.accuracy_km);
        let distance_km = (raw_km - radii).max(0.0);
        if distance_km <= 0.0 || distance_km < self.min_distance_km {
            return None;
        }
        let elapsed_ms = b.time.0.saturating_sub(a.time.0).max(0);
        let speed_kmh = if elapsed_ms == 0 {
            f64::INFINITY
        } else {
            distance_km / (elapsed_ms as f64 / 3_600_000.0)
        };
        (speed_kmh > self.max_speed_kmh).then_some(Hop {
            distance_km,
            raw_km,
            speed_kmh,
            elapsed_ms,
        })
    }

    fn severity(&self, hop: &Hop, anonymized: bool) -> Severity {
        let fast = hop.speed_kmh / self.max_speed_kmh;
        let col = usize::from(fast > 2.0) + usize::from(fast > 5.0);
        let row = usize::from(hop.distance_km >= 500.0) + usize::from(hop.distance_km >= 2000.0);
        use Severity::*;
        const TABLE: [[Severity; 3]; 3] = [
            [Low, Low, Medium],
            [Low, Medium, High],
            [Medium, High, Critical],
        ];
        let s = TABLE[row][col];
        if anonymized {
            s.lowered()
        } else {
            s
        }
    }

    pub(crate) fn finding(&self, account: &str, a: &Record, b: &Record, hop: Hop) -> Finding {
        let anonymized = a.is_anon() || b.is_anon();
        let simultaneous = hop.elapsed_ms == 0;
        // One buffer: "{account} logged in from {a} then {b} {when}: {speed}".
        let mut summary = String::with_capacity(128);
        let _ = write!(
            summary,
            "{account} logged in from {} then {} ",
            a.place(),
            b.place()
        );
        let _ = if simultaneous {
            write!(
                summary,
                "at the same time: {} km apart",
                human(hop.distance_km)
            )
        } else {
            write!(
                summary,
                "{} later: {} km at {} km/h",
                human_ms(hop.elapsed_ms),
                human(hop.distance_km),
                human(hop.speed_kmh)
            )
        };
        if anonymized {
            let flags = anon_flags(a.anon | b.anon).names().join(", ");
            let _ = write!(summary, " (through an anonymizer: {flags})");
        }
        let (from, to) = (a.evidence(), b.evidence());
        // The evidence's texts of the ids, not formatted twice.
        let event_ids = vec![from.event_id.clone(), to.event_id.clone()];
        let evidence = evidence::Travel {
            anonymized,
            distance_km: round1(hop.distance_km),
            elapsed_s: hop.elapsed_ms as f64 / 1000.0,
            from,
            max_speed_kmh: self.max_speed_kmh,
            min_distance_km: self.min_distance_km,
            raw_distance_km: round1(hop.raw_km),
            simultaneous,
            speed_kmh: hop.speed_kmh.is_finite().then(|| round1(hop.speed_kmh)),
            to,
        };
        Finding {
            kind: AlertKind::ImpossibleTravel,
            severity: self.severity(&hop, anonymized),
            time: b.time,
            summary,
            event_ids,
            evidence: evidence.into(),
            escalation: Escalation {
                magnitude: hop.speed_kmh as f32,
                ratio: 1.25,
                keys: [a.country, b.country]
                    .into_iter()
                    .flatten()
                    .map(country_key)
                    .collect(),
            },
        }
    }

    fn check(&self, account: &str, a: &Record, b: &Record, out: &mut Vec<Finding>) {
        if let Some(hop) = self.hop(a, b) {
            out.push(self.finding(account, a, b, hop));
        }
    }
}

impl Detector for ImpossibleTravel {
    fn kind(&self) -> AlertKind {
        AlertKind::ImpossibleTravel
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        let Some(i) = cx.inserted else { return };
        let records = cx.state.window().records();
        let Some(cur) = records.get(i).filter(|r| r.located) else {
            return;
        };
        if let Some(base) = records[..i].iter().rev().find(|r| r.is_baseline()) {
            self.check(cx.account, base, cur, out);
        }
        if cur.is_baseline() {
            for later in records[i + 1..].iter().filter(|r| r.located) {
                self.check(cx.account, cur, later, out);
                if later.is_baseline() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
