//! From findings to alerts, in one place, for every alert (shared_ip findings for other
//! accounts too, once they reach the engine that owns the account): exemptions,
//! watch-country and new-account severity raises, the cooldown, the risk score carried on
//! every alert, and the `account_risk` alert.

use super::Counters;
use crate::detector::Finding;
use crate::risk::RiskMemory;
use crate::rules::{ms, Rules};
use crate::state::{AccountState, NewAccount};
use crate::suppress::{self, Cooldowns};
use loginwatch_geo::Login;
use loginwatch_model::alert::evidence::kinds::{AccountRisk, RiskContribution};
use loginwatch_model::{Alert, AlertKind, EventTime, Severity};

/// Remembers a successful login or activity in a watch country.
pub(super) fn note_watch(rules: &Rules, login: &Login, trusted: bool, state: &mut AccountState) {
    use loginwatch_model::{EventType, Outcome};
    let e = &login.event;
    if rules.watch.is_empty()
        || trusted
        || e.outcome != Outcome::Success
        || e.event_type == EventType::Logout
    {
        return;
    }
    let country = login.location.as_ref().and_then(|l| l.country);
    if let Some(i) = country.and_then(|c| rules.watch.iter().position(|w| *w == c)) {
        state.watch_seen |= 1 << i;
    }
}

/// Remembers until when the account counts as new (`[detect.new_account]`), from the event's
/// `account_created_at`; memory is only created for a new account.
pub(super) fn note_new_account(rules: &Rules, login: &Login, state: &mut AccountState) {
    let cfg = &rules.cfg.detect.new_account;
    let Some(created) = login.event.account_created_at.filter(|_| cfg.enabled) else {
        return;
    };
    let until = created.0.saturating_add(ms(cfg.max_age));
    if login.event.timestamp.0 < until {
        state.get_or_default::<NewAccount>().until = until;
    } else if let Some(n) = state.get_mut::<NewAccount>() {
        n.until = 0;
    }
}

/// What the findings being emitted were raised for: the account, and the event an
/// `account_risk` alert they cause names.
pub(crate) struct Trigger<'a> {
    account: &'a str,
    time: EventTime,
    event_id: &'a str,
}

impl<'a> Trigger<'a> {
    /// The findings of an account's own login.
    pub(crate) fn of_login(login: &'a Login) -> Self {
        let e = &login.event;
        Trigger {
            account: e.account_id.as_str(),
            time: e.timestamp,
            event_id: &e.event_id,
        }
    }

    /// A finding another engine raised for `account`, at `time`, naming `event_id` first.
    pub(crate) fn of_finding(account: &'a str, time: EventTime, event_id: &'a str) -> Self {
        Trigger {
            account,
            time,
            event_id,
        }
    }
}

/// Sorts the findings by time and turns those the account is not exempt from and the cooldown
/// admits into alerts, each with the account's risk score; adds an `account_risk` alert when
/// the score reaches the threshold.
pub(crate) fn emit(
    rules: &Rules,
    state: &mut AccountState,
    counters: &mut Counters,
    findings: &mut Vec<Finding>,
    trigger: &Trigger<'_>,
    out: &mut Vec<Alert>,
) {
    let account = trigger.account;
    let exempt = rules.exemptions.of(account);
    findings.sort_by_key(|f| f.time);
    for mut f in findings.drain(..).filter(|f| !exempt.contains(f.kind)) {
        let k = super::kind_index(f.kind);
        raise(&mut f, state, rules);
        let score = note_risk(rules, state, f.kind, f.severity, f.time.0);
        let entries = &mut state.get_or_default::<Cooldowns>().0;
        if suppress::admit(entries, f.kind, f.time, &f.escalation, rules.cooldown_ms) {
            counters.alerts[k] += 1;
            let mut alert = finish(f, account);
            alert.risk_score = score;
            out.push(alert);
        } else {
            counters.suppressed[k] += 1;
        }
    }
    if let Some(alert) = risk_alert(rules, state, trigger) {
        counters.alerts[super::kind_index(AlertKind::AccountRisk)] += 1;
        out.push(alert);
    }
}

/// Watch-country and new-account raises, each one step, noted in the evidence.
pub(crate) fn raise(f: &mut Finding, state: &AccountState, rules: &Rules) {
    if state.watch_seen != 0 && f.kind != AlertKind::SanctionedRegion {
        f.severity = f.severity.raised();
        let seen = rules
            .watch
            .iter()
            .enumerate()
            .filter(|(i, _)| state.watch_seen & (1 << i) != 0)
            .map(|(_, c)| *c)
            .collect();
        f.evidence.raise_watch_countries(seen);
    }
    if state.is_new(f.time.0) {
        f.severity = f.severity.raised();
        let until = state.get::<NewAccount>().map_or(0, |n| n.until);
        f.evidence.raise_new_account(EventTime(until));
    }
}

/// Counts a signal and returns the account's score (`None` when risk scoring is off).
pub(crate) fn note_risk(
    rules: &Rules,
    state: &mut AccountState,
    kind: AlertKind,
    sev: Severity,
    time: i64,
) -> Option<u8> {
    let cfg = &rules.cfg.detect.account_risk;
    if !cfg.enabled {
        return None;
    }
    let horizon = ms(cfg.horizon);
    let memory = state.get_or_default::<RiskMemory>();
    memory.note(kind, sev, time, horizon);
    Some(memory.update_score(time, horizon))
}

/// The `account_risk` alert when the score has just reached the threshold.
pub(crate) fn risk_alert(
    rules: &Rules,
    state: &mut AccountState,
    trigger: &Trigger<'_>,
) -> Option<Alert> {
    let cfg = &rules.cfg.detect.account_risk;
    let account = trigger.account;
    let memory = state.get_mut::<RiskMemory>()?;
    let t = trigger.time.0;
    let horizon = ms(cfg.horizon);
    let score = memory.update_score(t, horizon);
    let crossed = score >= cfg.threshold && !memory.above;
    memory.above = score >= cfg.threshold;
    let exempt = rules
        .exemptions
        .of(account)
        .contains(AlertKind::AccountRisk);
    if !cfg.enabled || !crossed || exempt {
        return None;
    }
    let parts = memory.contributions(t, horizon);
    let names: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    let summary = format!(
        "{account}'s risk score reached {score} (threshold {}) from {}",
        cfg.threshold,
        names.join(", ")
    );
    let contributions = parts
        .iter()
        .map(|&(kind, severity, last, points)| RiskContribution {
            kind,
            last_seen: EventTime(last),
            points: (points * 10.0).round() / 10.0,
            severity,
        })
        .collect();
    let evidence = AccountRisk {
        contributions,
        horizon_s: horizon / 1000,
        score,
        threshold: cfg.threshold,
    };
    let severity = if score >= 90 {
        Severity::Critical
    } else {
        Severity::High
    };
    let ids = vec![trigger.event_id.to_owned()];
    let time = trigger.time;
    let mut alert = Alert::new(
        AlertKind::AccountRisk,
        severity,
        account,
        time,
        summary,
        ids,
        evidence.into(),
    );
    alert.risk_score = Some(score);
    Some(alert)
}

/// Turns an admitted finding into an alert with its deterministic id.
pub(crate) fn finish(f: Finding, account: &str) -> Alert {
    Alert::new(
        f.kind,
        f.severity,
        account,
        f.time,
        f.summary,
        f.event_ids,
        f.evidence,
    )
}
