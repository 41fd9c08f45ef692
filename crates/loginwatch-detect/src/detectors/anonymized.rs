//! `anonymized_ip`: an account acting through a VPN, hosting/VPS, Tor or proxy network — a
//! signal of its own, not noise (advisory red flag R5).
//!
//! Looks at successful logins and activity from untrusted networks whose
//! [`AnonFlags`](loginwatch_geo::AnonFlags) are set, in arrival order, and alerts on
//! - the **first** anonymized event the engine remembers for the account (unless
//!   `alert_on_first = false`): low for VPN, hosting and proxy networks (corporate VPNs look
//!   the same), medium for residential proxies, high for Tor;
//! - a **switch**: an anonymized event whose ASN differs from the previous anonymized event's
//!   ASN, both known: medium; high once 3 or more anonymizer ASNs were seen; Tor raises.
//!
//! Per-account memory: [`AnonMemory`], 40 bytes, a part of the account's state only for accounts
//! that used an anonymizer; it remembers the last anonymizer ASN and organisation and up to 4 distinct
//! ASNs. The evidence names the flags, ASN, organisation, and for a switch the previous one.

use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use crate::suppress::Escalation;
use loginwatch_geo::Login;
use loginwatch_model::alert::evidence::kinds as evidence;
use loginwatch_model::{AlertKind, Severity};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What an account's anonymizer use looked like so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AnonMemory {
    last_org: Option<Arc<str>>,
    last_asn: u32,
    asns: [u32; 4],
    count: u8,
}

impl AnonMemory {
    /// Lets `share` replace the organisation name (restored records share one copy).
    pub(crate) fn share_org(&mut self, share: impl FnOnce(&mut Arc<str>)) {
        if let Some(o) = self.last_org.as_mut() {
            share(o);
        }
    }

    /// Why saved memory cannot be used, if it cannot.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        (usize::from(self.count) <= self.asns.len())
            .then_some(())
            .ok_or("anonymizer memory counts more networks than it holds")
    }

    /// Remembers `asn` (0 = unknown) as the newest anonymizer network.
    fn note(&mut self, asn: u32, org: Option<Arc<str>>) {
        if asn != 0 && !self.asns[..usize::from(self.count)].contains(&asn) {
            if usize::from(self.count) == self.asns.len() {
                self.asns.rotate_left(1);
                self.count -= 1;
            }
            self.asns[usize::from(self.count)] = asn;
            self.count += 1;
        }
        if asn != 0 {
            self.last_asn = asn;
            self.last_org = org;
        }
    }
}

/// The anonymized-IP detector.
#[derive(Debug)]
pub(crate) struct AnonymizedIp {
    pub alert_on_first: bool,
}

fn network(asn: Option<u32>, org: Option<&str>) -> String {
    match (asn, org) {
        (Some(a), Some(o)) => format!("AS{a} ({o})"),
        (Some(a), None) => format!("AS{a}"),
        (None, _) => "an unknown network".into(),
    }
}

impl Detector for AnonymizedIp {
    fn kind(&self) -> AlertKind {
        AlertKind::AnonymizedIp
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        let anon = cx.login.net.anon;
        if !anon.any() || !cx.is_untrusted_action() {
            return;
        }
        let asn = cx.login.net.asn.filter(|a| *a != 0);
        let org = cx.login.net.as_org.clone();
        let first = cx.state.get::<AnonMemory>().is_none();
        let memory = cx.state.get_or_default::<AnonMemory>();
        let previous = (memory.last_asn != 0).then_some(memory.last_asn);
        let previous_org = memory.last_org.clone();
        let switched = matches!((previous, asn), (Some(p), Some(a)) if p != a);
        memory.note(asn.unwrap_or(0), org.clone());
        let distinct = usize::from(memory.count);
        let report_first = first && self.alert_on_first;
        if !(report_first || switched) {
            return;
        }
        let seen = Seen {
            asn,
            org,
            previous,
            previous_org,
            first,
            switched,
            distinct,
        };
        out.push(finding(cx.account, cx.login, &seen));
    }
}

/// What an alerting anonymized login looked like next to the account's memory.
pub(crate) struct Seen {
    /// The login's network (never AS0) and its organisation.
    pub asn: Option<u32>,
    pub org: Option<Arc<str>>,
    /// The newest anonymizer network before this login.
    pub previous: Option<u32>,
    pub previous_org: Option<Arc<str>>,
    /// The account's first anonymized login.
    pub first: bool,
    /// A switch from `previous` to another network.
    pub switched: bool,
    /// Distinct anonymizer networks remembered, this one included.
    pub distinct: usize,
}

/// The finding for an alerting anonymized login.
pub(crate) fn finding(account: &str, login: &Login, seen: &Seen) -> Finding {
    let Seen {
        asn,
        ref org,
        previous,
        ref previous_org,
        first,
        switched,
        distinct,
    } = *seen;
    let anon = login.net.anon;
    let here = network(asn, org.as_deref());
    let record = Record::from_login(login);
    let flags = anon.names();
    let (reason, summary) = if first {
        let s = format!(
            "{} used an anonymizer for the first time: {} via {here} from {}",
            account,
            flags.join(", "),
            record.place()
        );
        (evidence::AnonymizedReason::First, s)
    } else {
        let before = network(previous, previous_org.as_deref());
        let s = format!(
            "{} switched anonymizer networks: {before} → {here} ({})",
            account,
            flags.join(", ")
        );
        (evidence::AnonymizedReason::Switch, s)
    };
    let severity = match (first, distinct >= 3) {
        (true, _) if anon.residential_proxy => Severity::Medium,
        (true, _) => Severity::Low,
        (false, false) => Severity::Medium,
        (false, true) => Severity::High,
    };
    let severity = if anon.tor {
        severity.raised().raised()
    } else {
        severity
    };
    Finding {
        kind: AlertKind::AnonymizedIp,
        severity,
        time: record.time,
        summary,
        event_ids: vec![record.event_id.to_text()],
        evidence: evidence::Anonymized {
            as_org: org.clone(),
            asn,
            distinct_anonymizer_asns: distinct,
            flags: evidence::Anonymizers::from_bits(record.anon),
            login: record.evidence(),
            previous_as_org: previous_org.clone().filter(|_| switched),
            previous_asn: previous.filter(|_| switched),
            reason,
        }
        .into(),
        escalation: Escalation {
            magnitude: distinct as f32,
            ratio: 1.0,
            keys: asn.into_iter().collect(),
        },
    }
}

#[cfg(test)]
mod tests;
