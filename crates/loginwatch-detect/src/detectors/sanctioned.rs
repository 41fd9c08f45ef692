//! `sanctioned_region`: a successful login or activity from an untrusted network located in
//! one of `[detect.sanctioned_region] countries` (default KP). Failed logins do not count:
//! they say where an attacker is, not where the account holder is.
//!
//! **Severity**: high; critical when the event's `claimed_country` is set and differs.
//! Suppression keys: the country (a second sanctioned country re-alerts within the cooldown).
//!
//! The companion list `watch_countries` does not alert by itself: the engine remembers that
//! the account was seen there and raises its other alerts one step (see `engine.rs`).

use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use crate::suppress::{country_key, Escalation};
use loginwatch_geo::Login;
use loginwatch_model::alert::evidence::kinds as evidence;
use loginwatch_model::{AlertKind, CountryCode, Severity};

/// The sanctioned-region detector.
#[derive(Debug)]
pub(crate) struct SanctionedRegion;

impl Detector for SanctionedRegion {
    fn kind(&self) -> AlertKind {
        AlertKind::SanctionedRegion
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        if !cx.is_untrusted_action() {
            return;
        }
        let Some(country) = cx.login.location.as_ref().and_then(|l| l.country) else {
            return;
        };
        if !cx.rules.sanctioned.contains(&country) {
            return;
        }
        out.push(finding(cx.account, cx.login, country));
    }
}

/// The finding for a login located in the sanctioned `country`.
pub(crate) fn finding(account: &str, login: &Login, country: CountryCode) -> Finding {
    let claimed = login.event.claimed_country;
    let contradicts = claimed.is_some_and(|c| c != country);
    let record = Record::from_login(login);
    let mut summary = format!(
        "{} {} from {}, a sanctioned region",
        account,
        match login.event.event_type {
            loginwatch_model::EventType::Activity => "was active",
            _ => "logged in",
        },
        record.place()
    );
    if let Some(c) = claimed.filter(|_| contradicts) {
        summary.push_str(&format!(" (profile claims {c})"));
    }
    Finding {
        kind: AlertKind::SanctionedRegion,
        severity: if contradicts {
            Severity::Critical
        } else {
            Severity::High
        },
        time: record.time,
        summary,
        event_ids: vec![record.event_id.to_text()],
        evidence: evidence::Sanctioned {
            claimed_country: claimed,
            country,
            login: record.evidence(),
        }
        .into(),
        escalation: Escalation {
            magnitude: 0.0,
            ratio: 1.0,
            keys: vec![country_key(country)],
        },
    }
}

#[cfg(test)]
mod tests;
