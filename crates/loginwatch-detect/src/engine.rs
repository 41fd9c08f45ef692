//! The [`Engine`]: per-account state, the detectors, and the one place a [`Login`] becomes
//! zero or more [`Alert`]s (exemptions, suppression, watch-country severity, counters).
//!
//! Time is the events' time only. An event older than its account's newest event by more than
//! `max_lateness` is dropped as `too_late`; a redelivered successful login (same time and
//! event id as one held) is dropped as `duplicate`. Both are counted, never silent.

use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use crate::rules::Rules;
use crate::state::AccountState;
use crate::store::Accounts;
use crate::{detectors, suppress, ConfigError, EngineConfig};
use loginwatch_geo::Login;
use loginwatch_model::{Alert, AlertKind, EventTime};
use std::sync::Arc;

/// Why an event was not used for detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Older than its account's newest event by more than `engine.max_lateness`.
    TooLate,
    /// The same successful login (time and event id) is already held.
    Duplicate,
}

impl DropReason {
    /// Every reason, in a fixed order (metric labels).
    pub const ALL: [DropReason; 2] = [DropReason::TooLate, DropReason::Duplicate];

    /// A short, stable label: `too_late`, `duplicate`.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::TooLate => "too_late",
            DropReason::Duplicate => "duplicate",
        }
    }
}

/// Counters and sizes of an [`Engine`], for metrics and the replay summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Logins observed, dropped ones included.
    pub events: u64,
    /// Accounts currently tracked (≤ `engine.max_accounts`).
    pub tracked_accounts: usize,
    /// Accounts evicted because the table was full (least recently seen first).
    pub evicted_accounts: u64,
    /// Accounts forgotten after `engine.idle_timeout` without events.
    pub expired_accounts: u64,
    /// Events dropped as too late (the `too_late` entry of `dropped`).
    pub late_dropped: u64,
    /// Events not used, by reason (every [`DropReason`], in [`DropReason::ALL`] order).
    pub dropped: Vec<(DropReason, u64)>,
    /// Logins dropped from full windows (`engine.max_logins_per_account`).
    pub window_overflow: u64,
    /// Alerts withheld by the cooldown, in total and by kind (every kind, fixed order).
    pub suppressed_alerts: u64,
    pub suppressed_by_kind: Vec<(AlertKind, u64)>,
    /// Alerts raised by kind (every [`AlertKind`], in [`AlertKind::ALL`] order).
    pub alerts_by_kind: Vec<(AlertKind, u64)>,
    /// Estimated bytes of all per-account state.
    pub approx_state_bytes: usize,
}

#[derive(Debug, Default)]
struct Counters {
    events: u64,
    dropped: [u64; DropReason::ALL.len()],
    window_overflow: u64,
    alerts: [u64; AlertKind::ALL.len()],
    suppressed: [u64; AlertKind::ALL.len()],
}

fn kind_index(kind: AlertKind) -> usize {
    AlertKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// The detection engine: pure and synchronous. Feed it [`Login`]s in roughly event-time order.
#[derive(Debug)]
pub struct Engine {
    rules: Rules,
    detectors: Vec<Box<dyn Detector>>,
    accounts: Accounts,
    counters: Counters,
    /// The highest event time seen (drives idle expiry).
    watermark: Option<EventTime>,
    /// Reused buffer of findings.
    scratch: Vec<Finding>,
}

impl Engine {
    /// An engine for `config`; fails with every configuration problem at once.
    pub fn new(config: Arc<EngineConfig>) -> Result<Engine, ConfigError> {
        let rules = Rules::compile(config)?;
        Ok(Engine {
            detectors: detectors::build(&rules.cfg),
            accounts: Accounts::new(rules.cfg.engine.max_accounts),
            rules,
            counters: Counters::default(),
            watermark: None,
            scratch: Vec::new(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Arc<EngineConfig> {
        &self.rules.cfg
    }

    /// The highest event time seen so far.
    pub fn watermark(&self) -> Option<EventTime> {
        self.watermark
    }

    /// Observes one login and appends the alerts it causes to `out`, oldest first.
    pub fn observe(&mut self, login: &Login, out: &mut Vec<Alert>) {
        self.counters.events += 1;
        let t = login.event.timestamp;
        let wm = self.watermark.map_or(t, |w| w.max(t));
        self.watermark = Some(wm);
        self.accounts.expire_idle(wm.0, self.rules.idle_ms);
        let Engine {
            rules,
            detectors,
            accounts,
            counters,
            scratch,
            ..
        } = self;
        let Some((state, created)) = accounts.get_or_insert(&login.event.account_id) else {
            return;
        };
        let before = state.heap_bytes();
        if let Some(reason) = drop_reason(rules, state, created, login) {
            let i = DropReason::ALL
                .iter()
                .position(|r| *r == reason)
                .unwrap_or(0);
            counters.dropped[i] += 1;
            return;
        }
        state.newest = state.newest.max(t);
        let trusted = rules.is_trusted(login);
        let inserted = (login.event.is_successful_login() && !trusted)
            .then(|| state.window.insert(Record::from_login(login)));
        note_watch(rules, login, trusted, state);
        let exempt = rules.exemptions.of(&login.event.account_id);
        let mut cx = Ctx {
            rules,
            login,
            account: &login.event.account_id,
            trusted,
            inserted,
            state,
        };
        for d in detectors.iter().filter(|d| !exempt.contains(d.kind())) {
            d.observe(&mut cx, scratch);
        }
        scratch.sort_by_key(|f| f.time);
        for f in scratch.drain(..) {
            let k = kind_index(f.kind);
            if suppress::admit(
                &mut state.suppress,
                f.kind,
                f.time,
                &f.escalation,
                rules.cooldown_ms,
            ) {
                counters.alerts[k] += 1;
                out.push(finish(f, &login.event.account_id, state.watch_seen, rules));
            } else {
                counters.suppressed[k] += 1;
            }
        }
        let max_len = rules.cfg.engine.max_logins_per_account;
        counters.window_overflow += state.window.trim(state.newest, rules.span_ms, max_len);
        let after = state.heap_bytes();
        accounts.bytes = (accounts.bytes + after).saturating_sub(before);
    }

    /// Counters and sizes.
    pub fn stats(&self) -> EngineStats {
        let c = &self.counters;
        let by_kind = |a: &[u64]| {
            AlertKind::ALL
                .iter()
                .copied()
                .zip(a.iter().copied())
                .collect()
        };
        EngineStats {
            events: c.events,
            tracked_accounts: self.accounts.len(),
            evicted_accounts: self.accounts.evicted,
            expired_accounts: self.accounts.expired,
            late_dropped: c.dropped[0],
            dropped: DropReason::ALL.iter().copied().zip(c.dropped).collect(),
            window_overflow: c.window_overflow,
            suppressed_alerts: c.suppressed.iter().sum(),
            suppressed_by_kind: by_kind(&c.suppressed),
            alerts_by_kind: by_kind(&c.alerts),
            approx_state_bytes: self.accounts.bytes,
        }
    }
}

/// Whether `login` must be dropped before detection.
fn drop_reason(
    rules: &Rules,
    state: &AccountState,
    created: bool,
    login: &Login,
) -> Option<DropReason> {
    let t = login.event.timestamp;
    if !created && t.0 < state.newest.0.saturating_sub(rules.lateness_ms) {
        return Some(DropReason::TooLate);
    }
    (login.event.is_successful_login() && state.window.contains(t, &login.event.event_id))
        .then_some(DropReason::Duplicate)
}

/// Remembers a successful login or activity in a watch country.
fn note_watch(rules: &Rules, login: &Login, trusted: bool, state: &mut AccountState) {
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

/// Turns an admitted finding into an alert: watch-country raise, deterministic id.
fn finish(mut f: Finding, account: &str, watch_seen: u32, rules: &Rules) -> Alert {
    if watch_seen != 0 && f.kind != AlertKind::SanctionedRegion {
        f.severity = f.severity.raised();
        let seen: Vec<&str> = rules
            .watch
            .iter()
            .enumerate()
            .filter(|(i, _)| watch_seen & (1 << i) != 0)
            .map(|(_, c)| c.as_str())
            .collect();
        if let Some(obj) = f.evidence.as_object_mut() {
            obj.insert("watch_countries".into(), seen.into());
        }
    }
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

#[cfg(test)]
mod tests;
