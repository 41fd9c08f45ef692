//! `concurrent_ips`: within `window` before and including a successful login, the account's
//! successful (untrusted) logins span at least `min_distinct_ips` host keys (IPv4 address,
//! IPv6 /64) and at least `min_distinct_countries` countries (counted over located logins).
//! Optional `min_spread_km`: two of them in different countries must be that far apart after
//! subtracting accuracy radii. The alert lists every login in the window.
//!
//! **Severity**: medium; high with ≥ 3 countries or ≥ 5 IPs; critical with ≥ 4 countries;
//! low when fewer than 2 countries are involved (IP-only configurations). One step lower when
//! the country requirement is met only thanks to anonymized logins.

use super::{human_ms, round1, Listed};
use crate::config::ConcurrentIpsConfig;
use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use crate::suppress::{country_key, Escalation};
use ipnet::IpNet;
use loginwatch_geo::{haversine_km, net::host_key};
use loginwatch_model::alert::evidence::kinds as evidence;
use loginwatch_model::{AlertKind, CountryCode, Severity};

/// The concurrent-IPs detector.
#[derive(Debug)]
pub(crate) struct ConcurrentIps {
    window_ms: i64,
    min_ips: usize,
    min_countries: usize,
    min_spread_km: f64,
}

/// Distinct values in insertion order (windows hold a few dozen records at most).
fn distinct<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for x in items {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// The largest distance (km, after accuracy radii) between located logins in different
/// countries.
fn spread_km(group: &[Record]) -> f64 {
    let located: Vec<&Record> = group
        .iter()
        .filter(|r| r.located && r.country.is_some())
        .collect();
    let mut best = 0.0f64;
    for (i, a) in located.iter().enumerate() {
        for b in &located[i + 1..] {
            if a.country != b.country {
                let d = haversine_km(a.lat.into(), a.lon.into(), b.lat.into(), b.lon.into());
                let radii = f64::from(a.accuracy_km) + f64::from(b.accuracy_km);
                best = best.max(d - radii);
            }
        }
    }
    best.max(0.0)
}

impl ConcurrentIps {
    pub(crate) fn new(c: &ConcurrentIpsConfig) -> Self {
        ConcurrentIps {
            window_ms: i64::try_from(c.window.as_millis()).unwrap_or(i64::MAX),
            min_ips: c.min_distinct_ips,
            min_countries: c.min_distinct_countries,
            min_spread_km: c.min_spread_km,
        }
    }

    fn severity(&self, ips: usize, countries: usize, plain_countries: usize) -> Severity {
        let s = match countries {
            0 | 1 => Severity::Low,
            _ if countries >= 4 => Severity::Critical,
            _ if countries >= 3 || ips >= 5 => Severity::High,
            _ => Severity::Medium,
        };
        if plain_countries < self.min_countries {
            s.lowered()
        } else {
            s
        }
    }

    pub(crate) fn finding(
        &self,
        account: &str,
        group: &[Record],
        ips: &[IpNet],
        cs: &[CountryCode],
    ) -> Option<Finding> {
        let spread = spread_km(group);
        if self.min_spread_km > 0.0 && spread < self.min_spread_km {
            return None;
        }
        let plain = distinct(
            group
                .iter()
                .filter(|r| !r.is_anon())
                .filter_map(|r| r.country),
        );
        let (first, last) = (group.first()?, group.last()?);
        let summary = format!(
            "{account} logged in from {} IPs in {} countries ({}) within {}",
            ips.len(),
            cs.len(),
            Listed(cs),
            human_ms(last.time.0 - first.time.0)
        );
        let logins: Vec<_> = group.iter().map(Record::evidence).collect();
        // The evidence's texts of the ids, not formatted twice.
        let event_ids = logins.iter().map(|l| l.event_id.clone()).collect();
        let evidence = evidence::Concurrent {
            countries: cs.to_vec(),
            distinct_countries: cs.len(),
            distinct_ips: ips.len(),
            logins,
            max_distance_km: round1(spread),
            span_s: (last.time.0 - first.time.0) as f64 / 1000.0,
            window_s: self.window_ms as f64 / 1000.0,
        };
        Some(Finding {
            kind: AlertKind::ConcurrentIps,
            severity: self.severity(ips.len(), cs.len(), plain.len()),
            time: last.time,
            summary,
            event_ids,
            evidence: evidence.into(),
            escalation: Escalation {
                magnitude: ips.len() as f32,
                ratio: 1.0,
                keys: cs.iter().copied().map(country_key).collect(),
            },
        })
    }
}

impl Detector for ConcurrentIps {
    fn kind(&self) -> AlertKind {
        AlertKind::ConcurrentIps
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        let Some(i) = cx.inserted else { return };
        let records = cx.state.window().records();
        let Some(cur) = records.get(i) else { return };
        let from = cur.time.0.saturating_sub(self.window_ms);
        let start = records[..i].partition_point(|r| r.time.0 < from);
        let group = &records[start..=i];
        if group.len() < self.min_ips {
            return;
        }
        let ips = distinct(group.iter().map(|r| host_key(r.ip)));
        if ips.len() < self.min_ips {
            return;
        }
        let countries = distinct(group.iter().filter(|r| r.located).filter_map(|r| r.country));
        if countries.len() < self.min_countries {
            return;
        }
        out.extend(self.finding(cx.account, group, &ips, &countries));
    }
}

#[cfg(test)]
mod tests;
