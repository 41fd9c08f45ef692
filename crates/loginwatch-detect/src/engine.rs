//! The [`Engine`]: per-account state, the detectors, and the one place a [`Login`] becomes
//! zero or more [`Alert`]s (exemptions, suppression, watch-country severity, counters).
//!
//! Time is the events' time only. An event older than its account's newest event by more than
//! `max_lateness` is dropped as `too_late`; a redelivered successful login (same time and
//! event id as one held) is dropped as `duplicate`. Both are counted, never silent.

use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use crate::rules::Rules;
use crate::shared::SharedIndex;
use crate::state::AccountState;
use crate::store::Accounts;
use crate::{detectors, ConfigError, EngineConfig};
use emit::{emit, note_new_account, note_watch};
use loginwatch_geo::Login;
use loginwatch_model::hint::STAGES;
use loginwatch_model::{Alert, AlertKind, EventTime};
use std::sync::Arc;

/// Why an event was not used for detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Older than its account's newest event by more than `engine.max_lateness`.
    TooLate = 0,
    /// The same successful login (time and event id) is already held.
    Duplicate = 1,
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

mod emit;

fn kind_index(kind: AlertKind) -> usize {
    AlertKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// The high-water mark of event time. Idle expiry follows `confirmed`, the highest time
/// reached by at least two different accounts, so one account with a skewed clock (a
/// timestamp years ahead) cannot make every other account look idle and wipe the state.
#[derive(Debug, Default)]
struct Watermark {
    /// Highest time seen and a hash of the account that reached it.
    top: Option<(i64, u64)>,
    confirmed: Option<i64>,
}

impl Watermark {
    fn observe(&mut self, t: i64, account: &str) {
        // FNV-1a: only compared for equality, collisions merely delay confirmation.
        let h = account.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let raise = |c: &mut Option<i64>, x: i64| *c = Some(c.map_or(x, |c| c.max(x)));
        match self.top {
            None => self.top = Some((t, h)),
            Some((top, who)) if who == h => self.top = Some((top.max(t), h)),
            Some((top, _)) if t > top => {
                raise(&mut self.confirmed, top);
                self.top = Some((t, h));
            }
            Some(_) => raise(&mut self.confirmed, t),
        }
    }
}

/// The detection engine: pure and synchronous. Feed it [`Login`]s in roughly event-time order.
pub struct Engine {
    rules: Rules,
    detectors: Vec<Box<dyn Detector>>,
    accounts: Accounts,
    counters: Counters,
    /// The highest event time seen, and the one idle expiry follows.
    watermark: Watermark,
    /// Reused buffer of findings.
    scratch: Vec<Finding>,
    /// The cross-account index (shared_ip), shared with the process's other engines.
    shared: Arc<SharedIndex>,
    /// Reused buffer of alerts for other accounts.
    others: Vec<Alert>,
}

impl Engine {
    /// An engine for `config` with its own cross-account index — right when it is the only
    /// engine; engines that share the work of one process must share one index (see
    /// [`Engine::with_shared_index`]). Fails with every configuration problem at once.
    pub fn new(config: Arc<EngineConfig>) -> Result<Engine, ConfigError> {
        let index = Arc::new(SharedIndex::for_config(&config));
        Engine::with_shared_index(config, index)
    }

    /// An engine for `config` using `index` for the cross-account detector (shared_ip): give
    /// every engine of a process (replay workers, Kafka partitions) the same `Arc`, so a
    /// laptop farm whose accounts land on different engines is still seen whole.
    pub fn with_shared_index(
        config: Arc<EngineConfig>,
        index: Arc<SharedIndex>,
    ) -> Result<Engine, ConfigError> {
        let rules = Rules::compile(config)?;
        index.set_max_networks(rules.cfg.detect.shared_ip.max_networks);
        Ok(Engine {
            detectors: detectors::build(&rules.cfg),
            accounts: Accounts::new(rules.cfg.engine.max_accounts),
            rules,
            counters: Counters::default(),
            watermark: Watermark::default(),
            scratch: Vec::new(),
            shared: index,
            others: Vec::new(),
        })
    }

    /// The cross-account index this engine uses.
    pub fn shared_index(&self) -> &Arc<SharedIndex> {
        &self.shared
    }

    /// The configuration in use.
    pub fn config(&self) -> &Arc<EngineConfig> {
        &self.rules.cfg
    }

    /// The highest event time seen so far.
    pub fn watermark(&self) -> Option<EventTime> {
        self.watermark.top.map(|(t, _)| EventTime(t))
    }

    /// Starts loading the account state that observing `event` will read, one level per
    /// `stage` (see [`loginwatch_model::hint`]), and in the last stage the shared_ip networks
    /// a successful login will update: finding those takes a stripe's lock, an atomic
    /// instruction that waits for earlier loads, so it comes after the account probes of the
    /// whole group are under way rather than between them.
    pub fn prefetch(&self, event: &loginwatch_model::LoginEvent, stage: usize) {
        self.accounts.prefetch(event.account_id.as_str(), stage);
        let sip = &self.rules.cfg.detect.shared_ip;
        if stage + 1 == STAGES && sip.enabled && event.is_successful_login() {
            self.shared
                .prefetch(event.ip, sip.prefixes, sip.ipv6_prefix_48);
        }
    }

    /// Observes one login and appends the alerts it causes to `out`, oldest first.
    pub fn observe(&mut self, login: &Login, out: &mut Vec<Alert>) {
        self.counters.events += 1;
        let account = login.event.account_id.as_str();
        self.watermark.observe(login.event.timestamp.0, account);
        if let Some(wm) = self.watermark.confirmed {
            self.accounts.expire_idle(wm, self.rules.idle_ms);
            if let Some(keep) = self.rules.shared_keep_ms {
                self.shared.maintain(wm, keep);
            }
        }
        let Engine {
            rules,
            detectors,
            accounts,
            counters,
            scratch,
            shared,
            others,
            ..
        } = self;
        let (state, created) = accounts.get_or_insert(account);
        if let Some(reason) = drop_reason(rules, state, created, login) {
            counters.dropped[reason as usize] += 1;
            return;
        }
        let before = state.heap_bytes();
        let trusted = rules.is_trusted(login);
        let prev_newest = (!created).then_some(state.newest.0);
        state.newest = state.newest.max(login.event.timestamp);
        note_new_account(rules, login, state);
        let inserted = (login.event.is_successful_login() && !trusted)
            .then(|| state.window_mut().insert(Record::from_login(login)));
        note_watch(rules, login, trusted, state);
        let exempt = rules.exemptions.of(account);
        let mut cx = Ctx {
            rules,
            login,
            account,
            trusted,
            inserted,
            state,
            prev_newest,
            shared,
            others,
        };
        for d in detectors.iter().filter(|d| !exempt.contains(d.kind())) {
            d.observe(&mut cx, scratch);
        }
        emit(rules, state, counters, scratch, login, out);
        for a in others.drain(..) {
            counters.alerts[kind_index(a.kind)] += 1;
            out.push(a);
        }
        let newest = state.newest;
        if let Some(w) = state.window_if_any() {
            counters.window_overflow += w.trim(newest, &rules.bounds);
        }
        let after = state.heap_bytes();
        accounts.bytes = (accounts.bytes + after).saturating_sub(before);
    }

    /// Applies a new configuration (e.g. reloaded exceptions) and keeps the state. Detectors
    /// are rebuilt; a smaller `max_accounts` evicts at once; a changed `watch_countries` list
    /// forgets which watch countries accounts were seen in; new window bounds apply as each
    /// account is next touched.
    pub fn reconfigure(&mut self, config: Arc<EngineConfig>) -> Result<(), ConfigError> {
        let rules = Rules::compile(config)?;
        if rules.watch != self.rules.watch {
            self.accounts.clear_watch();
        }
        self.accounts.set_max(rules.cfg.engine.max_accounts);
        self.shared
            .set_max_networks(rules.cfg.detect.shared_ip.max_networks);
        self.detectors = detectors::build(&rules.cfg);
        self.rules = rules;
        Ok(())
    }

    /// The state of an account (tests of detectors' memory bounds).
    #[cfg(test)]
    pub(crate) fn state_of(&mut self, id: &str) -> Option<&AccountState> {
        Some(&*self.accounts.get_or_insert(id).0)
    }

    /// Accounts currently tracked; O(1), for a gauge updated per message.
    pub fn tracked_accounts(&self) -> usize {
        self.accounts.len()
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

impl std::fmt::Debug for Engine {
    /// A summary: the state of a million accounts is not for a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<AlertKind> = self.detectors.iter().map(|d| d.kind()).collect();
        f.debug_struct("Engine")
            .field("detectors", &kinds)
            .field("tracked_accounts", &self.accounts.len())
            .field("watermark", &self.watermark())
            .finish_non_exhaustive()
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
    (login.event.is_successful_login() && state.window().contains(t, &login.event.event_id))
        .then_some(DropReason::Duplicate)
}

#[cfg(test)]
mod tests;
