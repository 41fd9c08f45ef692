//! `shared_ip`: laptop farms (advisory red flag R2) — several accounts that *live* on one
//! network — told apart from carrier-grade NAT and shared venues, where many accounts pass
//! through one address but live elsewhere.
//!
//! Each successful login from a routable, untrusted, non-anonymized address (anonymizers
//! count with `include_anonymized = true`) is counted for its account ([`NetworkLogins`]) and
//! recorded in the process's [`SharedIndex`] under its **host** (the IPv4 address; for IPv6
//! the /64, one household per FIELD-NOTES) and, with `prefixes = true`, its **prefix** (IPv4
//! /24; IPv6 /48 only with `ipv6_prefix_48 = true`). A network remembers each account's
//! logins there for `history` (7 d): how many, on how many UTC days, and the account's own
//! login count when it first came and when it last came, which the observation carries (so
//! a stage keyed by network can decide without the account's state).
//!
//! **Who lives on a network.** An account *lives* on a network when, over `history`, it
//! logged in there at least `min_logins` (3) times on at least `min_days` (2) distinct days,
//! and at least `min_share` (80 %) of its logins since its first one there came from there.
//! A farm's workers log in from the farm address and almost nowhere else, day after day; a
//! carrier subscriber gets another address of the pool at every session (each holds a small
//! share of its logins); a coworking or café regular also logs in from home; an account seen
//! once (100 % "so far") has neither the logins nor the days.
//!
//! **Rule.** When at least `min_accounts` (5) accounts live on a host and logged in there
//! within `window` (24 h) of its newest login, and they are at least `min_resident_share`
//! (half) of the accounts that logged in there within `window` (a farm's address is its
//! workers' home; a venue with a few regulars is still mostly passers-by), each of them gets
//! one `shared_ip` alert for it;
//! with prefixes, the same at `prefix_min_accounts` (10) over at least two hosts for accounts
//! not alerted for their host. Accounts that come to live there later get their own alert as
//! they qualify.
//!
//! **Across processes.** An engine built with a network stage (`stage.rs`) does only the
//! account side here (it counts the login) and hands the visit over; the stage runs the same
//! [`SharedIp::judge`] on its own index and mails the findings back.
//!
//! **Which engine, which id.** The engine observing the login that makes the network a farm
//! finds every member to alert at once; each member's finding goes to the engine that owns the
//! account (itself, or another through the index's deliveries), which turns it into an alert
//! through the one emit path, with that account's exemptions, new-account and watch-country
//! raises, cooldown and risk score. Each alert's `event_ids` is that account's first login
//! on the network, so its `alert_id` depends only on (account, that login), not on which login
//! made the farm nor on which thread saw it first. Residual nondeterminism with several
//! engines: the evidence (the accounts listed, their counts), the severity and `event_time`
//! reflect the index when the alert was emitted; an account at the edge of a threshold may
//! qualify in one interleaving and not another.
//!
//! Severity: medium for a host (high from 2 × `min_accounts`), low for a prefix (medium from 2
//! ×). Evidence: network, prefix length, level, `window_s`, `history_s`, the thresholds, and
//! the accounts living there (id, first and last seen, first event id, logins, days, share;
//! oldest first).

use super::human_ms;
use crate::config::SharedIpConfig;
use crate::detector::{Ctx, Detector, Finding, Networks};
use crate::shared::{Delivery, Member, NetKey, SharedIndex, Visit};
use crate::stage::NetworkVisit;
use crate::suppress::Escalation;
use loginwatch_geo::net::is_routable;
use loginwatch_model::alert::evidence::kinds as evidence;
use loginwatch_model::{AlertKind, EventTime, Severity};
use loginwatch_storage::stable_hash32;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// An account's successful logins that the index recorded: the denominator of its share on
/// each network (a part of the account's state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct NetworkLogins(pub u32);

/// The shared-IP detector.
#[derive(Debug)]
pub(crate) struct SharedIp {
    window_ms: i64,
    history_ms: i64,
    min_logins: u16,
    min_days: u16,
    min_share: f64,
    min_resident_share: f64,
    min: usize,
    prefix_min: usize,
    max_members: usize,
    prefixes: bool,
    ipv6_48: bool,
    include_anon: bool,
}

/// Members to alert, found under one network's lock.
pub(crate) struct Report {
    pub key: NetKey,
    pub host_level: bool,
    /// The members counted (oldest first) and which of them to alert.
    pub members: Vec<Member>,
    pub alert: Vec<usize>,
}

impl SharedIp {
    pub(crate) fn new(c: &SharedIpConfig) -> Self {
        SharedIp {
            window_ms: crate::rules::ms(c.window),
            history_ms: crate::rules::ms(c.history),
            min_logins: c.min_logins,
            min_days: c.min_days,
            min_share: c.min_share,
            min_resident_share: c.min_resident_share,
            min: c.min_accounts,
            prefix_min: c.prefix_min_accounts,
            max_members: c.max_accounts_per_network,
            prefixes: c.prefixes,
            ipv6_48: c.ipv6_prefix_48,
            include_anon: c.include_anonymized,
        }
    }

    /// Whether `m` lives on its network as of `newest` (see the module docs).
    fn lives_there(&self, m: &Member, newest: i64) -> bool {
        m.last >= newest.saturating_sub(self.window_ms)
            && m.logins >= self.min_logins
            && m.days >= self.min_days
            && m.share() >= self.min_share
    }

    /// Whether the members living on a network as of `newest` make a farm: at least
    /// `at_least` of them, and at least `min_resident_share` of the accounts that logged in
    /// there within `window`. One pass over the members.
    fn is_farm(&self, m: &[Member], newest: i64, at_least: usize) -> bool {
        let cut = newest.saturating_sub(self.window_ms);
        let (mut living, mut recent) = (0usize, 0usize);
        for x in m.iter().filter(|x| x.last >= cut) {
            recent += 1;
            living += usize::from(self.lives_there(x, newest));
        }
        living >= at_least && living as f64 >= self.min_resident_share * recent as f64
    }

    /// Records the login; returns whether the account is (now) alerted for this network and
    /// the members to alert.
    fn record(
        &self,
        index: &SharedIndex,
        ip: std::net::IpAddr,
        v: &Visit<'_>,
    ) -> (bool, Option<Report>) {
        let (host, prefix) = self.networks(ip);
        let (min, h, cap) = (self.min, self.history_ms, self.max_members);
        let Some(prefix) = prefix else {
            return index.visit(host, v, h, cap, |m, newest| {
                let farm = self.is_farm(m, newest, min);
                pick(m, v.account, host, true, |x| {
                    farm && self.lives_there(x, newest)
                })
            });
        };
        let group: Option<Vec<u32>> = index.visit(host, v, h, cap, |m, newest| {
            self.is_farm(m, newest, min).then(|| {
                m.iter()
                    .filter(|x| self.lives_there(x, newest))
                    .map(|x| account_hash(&x.account))
                    .collect()
            })
        });
        index.visit(prefix, v, h, cap, |m, newest| {
            if let Some(g) = &group {
                let r = pick(m, v.account, host, true, |x| {
                    g.contains(&account_hash(&x.account))
                });
                if r.1.is_some() {
                    return r;
                }
            }
            let lives = |x: &Member| self.lives_there(x, newest);
            let farm = self.is_farm(m, newest, self.prefix_min) && {
                // Over at least two hosts of the prefix.
                let mut hosts = m.iter().filter(|x| lives(x)).map(|x| x.host);
                let first = hosts.next();
                hosts.any(|h| Some(h) != first)
            };
            pick(m, v.account, prefix, false, |x| farm && lives(x))
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
        let own = members.iter().any(|m| m.reported && m.account.is(account));
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
    let own = members.iter().any(|m| m.reported && m.account.is(account));
    if alert.is_empty() {
        return (own, None);
    }
    listed.sort_by(|a, b| (a.first, a.account.as_str()).cmp(&(b.first, b.account.as_str())));
    let alert = listed
        .iter()
        .enumerate()
        .filter(|(_, m)| alert.contains(&m.account))
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
        let counted = cx.state.get_or_default::<NetworkLogins>();
        counted.0 = counted.0.saturating_add(1);
        let total = counted.0;
        let index = match &mut cx.networks {
            Networks::Index(index) => *index,
            Networks::Stage(visits) => {
                visits.push(NetworkVisit {
                    account: cx.account.to_owned(),
                    event_id: e.event_id.clone(),
                    time: t,
                    ip: e.ip,
                    owner: cx.owner,
                    total,
                });
                return;
            }
        };
        let v = Visit {
            account: cx.account,
            event_id: &e.event_id,
            time: t,
            host: NetKey::of(e.ip, 32, 64).fingerprint(),
            owner: cx.owner,
            total,
        };
        let mut found = Vec::new();
        if self.judge(index, e.ip, &v, &mut found) {
            cx.note_risk(AlertKind::SharedIp, Severity::Medium, t);
        }
        for d in found {
            if d.account.is(cx.account) {
                out.push(d.finding);
            } else {
                cx.others.push(d);
            }
        }
    }
}

impl SharedIp {
    /// The networks a login from `ip` counts on: its host and, with prefixes, its prefix.
    pub(crate) fn networks(&self, ip: std::net::IpAddr) -> (NetKey, Option<NetKey>) {
        NetKey::of_login(ip, self.prefixes, self.ipv6_48)
    }

    /// The network side of a login, shared by the in-process index and the network stage:
    /// records `v` (a login from `ip`) in `index`, pushes onto `out` a finding for each member
    /// to alert (the visiting account included) with its owner, and says whether the visiting
    /// account is alerted for one of the login's networks.
    pub(crate) fn judge(
        &self,
        index: &SharedIndex,
        ip: std::net::IpAddr,
        v: &Visit<'_>,
        out: &mut Vec<Delivery>,
    ) -> bool {
        let (own, report) = self.record(index, ip, v);
        if let Some(r) = report {
            let evidence = self.evidence(&r);
            let severity = self.severity(&r);
            for &i in &r.alert {
                let m = &r.members[i];
                out.push(Delivery {
                    owner: m.owner,
                    account: m.account.clone(),
                    finding: self.finding(&r, m, severity, evidence.clone(), v.time),
                });
            }
        }
        own
    }

    pub(crate) fn severity(&self, r: &Report) -> Severity {
        let big = r.members.len() >= 2 * self.min;
        match (r.host_level, big) {
            (true, false) => Severity::Medium,
            (true, true) => Severity::High,
            (false, false) => Severity::Low,
            (false, true) => Severity::Medium,
        }
    }

    /// The farm's evidence, one copy shared by its members' alerts.
    pub(crate) fn evidence(&self, r: &Report) -> Arc<evidence::SharedIp> {
        let net = r.key.net();
        let accounts = r
            .members
            .iter()
            .map(|m| evidence::FarmMember {
                account_id: m.account.as_str().to_owned(),
                days: m.days,
                event_id: m.first_event.to_text(),
                first_seen: EventTime(m.first),
                last_seen: EventTime(m.last),
                logins: m.logins,
                share: super::round1(100.0 * m.share()) / 100.0,
            })
            .collect();
        Arc::new(evidence::SharedIp {
            accounts,
            distinct_accounts: r.members.len(),
            history_s: self.history_ms / 1000,
            level: if r.host_level {
                evidence::NetworkLevel::Ip
            } else {
                evidence::NetworkLevel::Prefix
            },
            min_days: self.min_days,
            min_logins: self.min_logins,
            min_resident_share: self.min_resident_share,
            min_share: self.min_share,
            network: net.to_string(),
            prefix_len: net.prefix_len(),
            window_s: self.window_ms / 1000,
        })
    }

    pub(crate) fn finding(
        &self,
        r: &Report,
        m: &Member,
        severity: Severity,
        evidence: Arc<evidence::SharedIp>,
        t: i64,
    ) -> Finding {
        use std::fmt::Write;
        let mut summary = String::with_capacity(256);
        // Writing to a `String` cannot fail.
        let _ = write!(
            summary,
            "{} is one of {} accounts that live on {}: over {}, each logged in there on {}+ days \
             with {:.0} %+ of its logins, the latest within {}: ",
            m.account.as_str(),
            r.members.len(),
            r.key.net(),
            human_ms(self.history_ms),
            self.min_days,
            100.0 * self.min_share,
            human_ms(self.window_ms),
        );
        const NAMED: usize = 6;
        for (i, named) in r.members.iter().take(NAMED).enumerate() {
            if i > 0 {
                summary.push_str(", ");
            }
            summary.push_str(named.account.as_str());
        }
        let more = r.members.len().saturating_sub(NAMED);
        if more > 0 {
            let _ = write!(summary, " and {more} more");
        }
        Finding {
            kind: AlertKind::SharedIp,
            severity,
            time: EventTime(t),
            summary,
            event_ids: vec![m.first_event.to_text()],
            evidence: evidence.into(),
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
