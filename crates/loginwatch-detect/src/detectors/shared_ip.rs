//! `shared_ip`: many accounts behind one network — laptop farms (advisory red flag R2).
//!
//! Each successful login from a routable, untrusted, non-anonymized address (anonymizers
//! count with `include_anonymized = true`) is recorded in the process's [`SharedIndex`] under
//! its **host** (the IPv4 address; for IPv6 the /64, one household per FIELD-NOTES) and its
//! **prefix** (IPv4 /24 with `prefixes = true`; IPv6 /48 only with `ipv6_prefix_48 = true`:
//! residential ISPs hand each customer a /56–/64 out of shared /48 pools, so a /48 holds
//! thousands of unrelated households — on by default it alerted on every busy ISP pool). An
//! account counts for a network while its last login there is at most `window` (24h) older
//! than the network's newest.
//!
//! **Rule.** When a host holds `min_accounts` (5) or more accounts, each of them gets one
//! `shared_ip` alert for it; when a prefix holds `prefix_min_accounts` (10) or more accounts over
//! at least two hosts, each of them not yet alerted gets one for the prefix (a higher bar:
//! unrelated neighbours share an ISP's /24 far more often than an address). So a farm on one address
//! raises one alert per account, naming the address, never a second one for its /24 or /64:
//! the "already alerted" mark lives in the prefix entry, shared by both levels. Later
//! accounts joining an alerted network get their own alert as they log in.
//!
//! **Which engine, which id.** The engine observing the login that makes the network reach the
//! threshold finds every member to alert at once; each member's finding goes to the engine
//! that owns the account (itself, or another through the index's deliveries), which turns it
//! into an alert through the one emit path, with that account's exemptions, new-account and
//! watch-country raises, cooldown and risk score. Each alert's `event_ids` is that account's first login on the network
//! (prefix), so its `alert_id` depends only on (account, that login), not on which login
//! crossed the threshold nor on which thread saw it first: with several engines the *set of
//! alert ids* is the same whatever the interleaving. Residual nondeterminism: the evidence (the
//! accounts listed, their count), the severity and `event_time` reflect the index when the
//! alert was emitted; an account whose logins sit right at the edge of `window` may count in
//! one interleaving and not another; with more than `max_accounts_per_network` accounts the
//! ones evicted may differ.
//!
//! Severity: medium for a host (high from 2 × `min_accounts`), low for a prefix (medium from 2
//! ×). Evidence: network, prefix length, level, `window_s`, `distinct_accounts`, `accounts`
//! (account id, first and last seen, first event id; oldest first).

use super::human_ms;
use crate::config::SharedIpConfig;
use crate::detector::{Ctx, Detector, Finding};
use crate::shared::{Delivery, Member, NetKey, SharedIndex, Visit};
use crate::suppress::Escalation;
use loginwatch_geo::net::is_routable;
use loginwatch_model::{AlertKind, EventTime, Severity};
use loginwatch_storage::stable_hash32;
use serde_json::{json, Value};

/// The shared-IP detector.
#[derive(Debug)]
pub(crate) struct SharedIp {
    window_ms: i64,
    min: usize,
    prefix_min: usize,
    max_members: usize,
    prefixes: bool,
    ipv6_48: bool,
    include_anon: bool,
}

/// Members to alert, found under one network's lock.
struct Report {
    key: NetKey,
    host_level: bool,
    /// The members counted (oldest first) and which of them to alert.
    members: Vec<Member>,
    alert: Vec<usize>,
}

impl SharedIp {
    pub(crate) fn new(c: &SharedIpConfig) -> Self {
        SharedIp {
            window_ms: i64::try_from(c.window.as_millis()).unwrap_or(i64::MAX),
            min: c.min_accounts,
            prefix_min: c.prefix_min_accounts,
            max_members: c.max_accounts_per_network,
            prefixes: c.prefixes,
            ipv6_48: c.ipv6_prefix_48,
            include_anon: c.include_anonymized,
        }
    }

    /// Records the login; returns whether the account is (now) alerted for this network and
    /// the members to alert.
    fn record(
        &self,
        index: &SharedIndex,
        ip: std::net::IpAddr,
        v: &Visit<'_>,
    ) -> (bool, Option<Report>) {
        let (host, prefix) = NetKey::of_login(ip, self.prefixes, self.ipv6_48);
        let min = self.min;
        let (w, cap) = (self.window_ms, self.max_members);
        let Some(prefix) = prefix else {
            return index.visit(host, v, w, cap, |m| {
                let enough = m.len() >= min;
                pick(m, v.account, host, true, |_| enough)
            });
        };
        let group: Option<Vec<u32>> = index.visit(host, v, w, cap, |m| {
            (m.len() >= min).then(|| m.iter().map(|x| account_hash(&x.account)).collect())
        });
        index.visit(prefix, v, w, cap, |m| {
            if let Some(g) = &group {
                let r = pick(m, v.account, host, true, |x| {
                    g.contains(&account_hash(&x.account))
                });
                if r.1.is_some() {
                    return r;
                }
            }
            let hosts = m.iter().any(|x| x.host != m[0].host);
            let enough = m.len() >= self.prefix_min && hosts;
            pick(m, v.account, prefix, false, |_| enough)
        })
    }
}

/// Who was in a host's group, compared by hash (a collision counts an account twice).
fn account_hash(a: &loginwatch_storage::InlineStr) -> u32 {
    stable_hash32(a.as_str().as_bytes())
}

/// Marks the unreported members selected by `counts` as reported; the report lists the
/// counted members (all when the network is over the threshold).
fn pick(
    members: &mut [Member],
    account: &str,
    key: NetKey,
    host_level: bool,
    counts: impl Fn(&Member) -> bool,
) -> (bool, Option<Report>) {
    // Nothing new to alert (the common case on a busy network): no copies.
    if !members.iter().any(|m| !m.reported && counts(m)) {
        let own = members
            .iter()
            .any(|m| m.reported && m.account.as_str() == account);
        return (own, None);
    }
    let mut alert = Vec::new();
    let mut listed: Vec<Member> = Vec::new();
    for m in members.iter_mut().filter(|m| counts(m)) {
        if !m.reported {
            m.reported = true;
            alert.push(m.account.clone());
        }
        listed.push(m.clone());
    }
    let own = members
        .iter()
        .any(|m| m.reported && m.account.as_str() == account);
    if alert.is_empty() {
        return (own, None);
    }
    listed.sort_by(|a, b| (a.first, a.account.as_str()).cmp(&(b.first, b.account.as_str())));
    let alert = listed
        .iter()
        .enumerate()
        .filter(|(_, m)| alert.iter().any(|a| a.as_str() == m.account.as_str()))
        .map(|(i, _)| i)
        .collect();
    let report = Report {
        key,
        host_level,
        members: listed,
        alert,
    };
    (own, Some(report))
}

impl Detector for SharedIp {
    fn kind(&self) -> AlertKind {
        AlertKind::SharedIp
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        let login = cx.login;
        let e = &login.event;
        let anon_skip = !self.include_anon && login.net.anon.any();
        if !e.is_successful_login() || cx.trusted || anon_skip || !is_routable(e.ip) {
            return;
        }
        let t = e.timestamp.0;
        let v = Visit {
            account: cx.account,
            event_id: &e.event_id,
            time: t,
            host: NetKey::of(e.ip, 32, 64).fingerprint(),
            owner: cx.owner,
        };
        let (own, report) = self.record(cx.shared, e.ip, &v);
        if own {
            cx.note_risk(AlertKind::SharedIp, Severity::Medium, t);
        }
        let Some(r) = report else { return };
        let evidence = self.evidence(&r);
        let severity = self.severity(&r);
        for &i in &r.alert {
            let m = &r.members[i];
            let finding = self.finding(&r, m, severity, evidence.clone(), t);
            if m.account.as_str() == cx.account {
                out.push(finding);
            } else {
                cx.others.push(Delivery {
                    owner: m.owner,
                    account: m.account.clone(),
                    finding,
                });
            }
        }
    }
}

impl SharedIp {
    fn severity(&self, r: &Report) -> Severity {
        let big = r.members.len() >= 2 * self.min;
        match (r.host_level, big) {
            (true, false) => Severity::Medium,
            (true, true) => Severity::High,
            (false, false) => Severity::Low,
            (false, true) => Severity::Medium,
        }
    }

    fn evidence(&self, r: &Report) -> Value {
        let net = r.key.net();
        let accounts: Vec<Value> = r
            .members
            .iter()
            .map(|m| {
                json!({
                    "account_id": m.account.as_str(),
                    "first_seen": EventTime(m.first),
                    "last_seen": EventTime(m.last),
                    "event_id": m.first_event.to_string(),
                })
            })
            .collect();
        json!({
            "network": net.to_string(),
            "prefix_len": net.prefix_len(),
            "level": if r.host_level { "ip" } else { "prefix" },
            "window_s": self.window_ms / 1000,
            "distinct_accounts": r.members.len(),
            "accounts": accounts,
        })
    }

    fn finding(
        &self,
        r: &Report,
        m: &Member,
        severity: Severity,
        evidence: Value,
        t: i64,
    ) -> Finding {
        let names: Vec<&str> = r
            .members
            .iter()
            .take(6)
            .map(|m| m.account.as_str())
            .collect();
        let more = r.members.len().saturating_sub(names.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let summary = format!(
            "{} is one of {} accounts that logged in from {} within {}: {}{more}",
            m.account.as_str(),
            r.members.len(),
            r.key.net(),
            human_ms(self.window_ms),
            names.join(", "),
        );
        Finding {
            kind: AlertKind::SharedIp,
            severity,
            time: EventTime(t),
            summary,
            event_ids: vec![m.first_event.to_string()],
            evidence,
            escalation: Escalation {
                magnitude: r.members.len() as f32,
                ratio: 2.0,
                keys: vec![r.key.fingerprint()],
            },
        }
    }
}

#[cfg(test)]
mod tests;
