//! The [`Engine`]: per-account state, the detectors, and the one place a [`Login`] becomes
//! zero or more [`Alert`]s (exemptions, suppression, watch-country severity, counters).
//!
//! Time is the events' time only. An event older than its account's newest event by more than
//! `max_lateness` is dropped as `too_late`; a redelivered successful login (same time and
//! event id as one held) is dropped as `duplicate`. Both are counted, never silent.

use crate::detector::{Ctx, Detector, Finding, Networks};
use crate::record::Record;
use crate::rules::Rules;
use crate::shared::{Delivery, Owner, SharedIndex};
use crate::stage::NetworkVisit;
use crate::state::AccountState;
use crate::store::Accounts;
use crate::window::Window;
use crate::{detectors, ConfigError, EngineConfig};
use emit::{emit, note_new_account, note_watch, Trigger};
use loginwatch_geo::Login;
use loginwatch_model::{Alert, AlertKind, EventTime};
use loginwatch_storage::hint::STAGES;
use loginwatch_storage::{stable_hash, HeapSize};
use std::sync::Arc;

/// Why an event was not used for detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Older than its account's newest event by more than `engine.max_lateness`.
    TooLate = 0,
    /// The same successful login (time and event id) is already held.
    Duplicate = 1,
    /// Read again after a restart, and already part of the account's restored state (see
    /// [`Engine::observe_applied`]).
    Restored = 2,
}

impl DropReason {
    /// Every reason, in a fixed order (metric labels).
    pub const ALL: [DropReason; 3] = [
        DropReason::TooLate,
        DropReason::Duplicate,
        DropReason::Restored,
    ];

    /// A short, stable label: `too_late`, `duplicate`, `restored`.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::TooLate => "too_late",
            DropReason::Duplicate => "duplicate",
            DropReason::Restored => "restored",
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
pub(crate) struct Counters {
    events: u64,
    dropped: [u64; DropReason::ALL.len()],
    window_overflow: u64,
    alerts: [u64; AlertKind::ALL.len()],
    suppressed: [u64; AlertKind::ALL.len()],
}

pub(crate) mod emit;
mod stage;

fn kind_index(kind: AlertKind) -> usize {
    AlertKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// The high-water mark of event time. Idle expiry follows `confirmed`, the highest time
/// reached by at least two different accounts, so one account with a skewed clock (a
/// timestamp years ahead) cannot make every other account look idle and wipe the state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Watermark {
    /// Highest time seen and a hash of the account that reached it.
    top: Option<(i64, u64)>,
    confirmed: Option<i64>,
}

impl Watermark {
    /// The later of two watermarks, each part on its own.
    pub(crate) fn merged(self, other: Watermark) -> Watermark {
        let top = match (self.top, other.top) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        let confirmed = match (self.confirmed, other.confirmed) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Watermark { top, confirmed }
    }

    /// The time reached by two accounts, which expiry follows.
    pub(crate) fn confirmed(&self) -> Option<i64> {
        self.confirmed
    }

    pub(crate) fn observe(&mut self, t: i64, account: &str) {
        // Only compared for equality: a collision merely delays confirmation.
        let h = stable_hash(account.as_bytes());
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
    /// Which engine of the process this is (its replay worker or Kafka partition): findings
    /// for accounts it owns are delivered to it.
    owner: Owner,
    /// Reused buffer of findings for other accounts.
    others: Vec<Delivery>,
    /// With a network stage (`stage.rs`): the visits for it, until taken.
    stage: Option<Vec<NetworkVisit>>,
    /// The changelog round being handed out ([`Engine::take_changes`]).
    pub(crate) changes: crate::snapshot::Round<loginwatch_storage::InlineStr>,
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
        let sip = &rules.cfg.detect.shared_ip;
        index.set_limits(sip.max_networks, sip.max_members);
        let owner = index.new_owner();
        Ok(Engine {
            detectors: detectors::build(&rules.cfg),
            accounts: Accounts::new(rules.cfg.engine.max_accounts),
            rules,
            counters: Counters::default(),
            watermark: Watermark::default(),
            scratch: Vec::new(),
            shared: index,
            owner,
            others: Vec::new(),
            stage: None,
            changes: Default::default(),
        })
    }

    /// Names this engine `owner` among the engines sharing its index (replay worker, Kafka
    /// partition), so that a shared_ip finding for one of its accounts observed by another
    /// engine reaches it (see [`Engine::take_deliveries`]). Each engine gets a fresh one from
    /// its index when built; a driver that routes accounts to engines itself (and restores
    /// saved networks by that routing) sets its own.
    pub fn set_owner(&mut self, owner: Owner) {
        self.owner = owner;
    }

    /// Which engine of the process this is (see [`Engine::set_owner`]).
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// Turns the shared_ip findings other engines left for this engine's accounts into alerts
    /// (through the same emit path as its own), appended to `out`. [`Engine::observe`] does
    /// it first thing; a driver calls it when an engine may see no event for a while, and
    /// once every engine is done at the end of a replay.
    pub fn take_deliveries(&mut self, out: &mut Vec<Alert>) {
        // The per-event case: nothing waits for anyone (one atomic load).
        if self.shared.pending_deliveries() == 0 {
            return;
        }
        let mut mail = std::mem::take(&mut self.others);
        self.shared.take_deliveries(self.owner, &mut mail);
        for d in mail.drain(..) {
            self.deliver(d, out);
        }
        self.others = mail;
    }

    /// Emits `d`'s finding for its account (which this engine owns).
    fn deliver(&mut self, d: Delivery, out: &mut Vec<Alert>) {
        let Engine {
            rules,
            accounts,
            counters,
            ..
        } = self;
        let account = d.account.as_str();
        let state = accounts.get_or_insert(account).state;
        let before = state.heap_bytes();
        let first = d.finding.event_ids.first().cloned().unwrap_or_default();
        let trigger = Trigger::of_finding(account, d.finding.time, &first);
        emit(rules, state, counters, &mut vec![d.finding], &trigger, out);
        let after = state.heap_bytes();
        accounts.bytes = (accounts.bytes + after).saturating_sub(before);
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
    /// `stage` (see [`loginwatch_storage::hint`]), and in the last stage the shared_ip networks
    /// a successful login will update: finding those takes a stripe's lock, an atomic
    /// instruction that waits for earlier loads, so it comes after the account probes of the
    /// whole group are under way rather than between them.
    pub fn prefetch(&self, event: &loginwatch_model::LoginEvent, stage: usize) {
        self.accounts.prefetch(event.account_id.as_str(), stage);
        let sip = &self.rules.cfg.detect.shared_ip;
        let local = self.stage.is_none();
        if stage + 1 == STAGES && sip.enabled && local && event.is_successful_login() {
            self.shared
                .prefetch(event.ip, sip.prefixes, sip.ipv6_prefix_48);
        }
    }

    /// Observes one login and appends the alerts it causes to `out`, oldest first (after
    /// those of findings other engines left for this one's accounts).
    pub fn observe(&mut self, login: &Login, out: &mut Vec<Alert>) {
        self.take_deliveries(out);
        let account = login.event.account_id.as_str();
        self.advance(login.event.timestamp.0, account);
        let Engine {
            rules,
            detectors,
            accounts,
            counters,
            scratch,
            shared,
            owner,
            others,
            stage,
            ..
        } = self;
        let entry = accounts.get_or_insert(account);
        let (state, newest) = (entry.state, entry.newest);
        let prev_newest = (!entry.created).then_some(*newest);
        if let Some(reason) = drop_reason(rules, state, prev_newest, login) {
            counters.dropped[reason as usize] += 1;
            return;
        }
        let before = state.heap_bytes();
        let trusted = rules.is_trusted(login);
        *newest = (*newest).max(login.event.timestamp.0);
        let newest = *newest;
        note_new_account(rules, login, state);
        let inserted = (login.event.is_successful_login() && !trusted).then(|| {
            state
                .get_or_default::<Window>()
                .insert(Record::from_login(login))
        });
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
            networks: match stage {
                Some(visits) => Networks::Stage(visits),
                None => Networks::Index(shared),
            },
            owner: *owner,
            others,
        };
        for d in detectors.iter().filter(|d| !exempt.contains(d.kind())) {
            d.observe(&mut cx, scratch);
        }
        emit(
            rules,
            state,
            counters,
            scratch,
            &Trigger::of_login(login),
            out,
        );
        if let Some(w) = state.get_mut::<Window>() {
            counters.window_overflow += w.trim(EventTime(newest), &rules.bounds);
        }
        let after = state.heap_bytes();
        accounts.bytes = (accounts.bytes + after).saturating_sub(before);
        self.route_others(out);
    }

    /// Counts an event and moves the clocks to its time: the watermark, idle expiry, the
    /// index's sweep.
    fn advance(&mut self, t: i64, account: &str) {
        self.counters.events += 1;
        self.watermark.observe(t, account);
        if let Some(wm) = self.watermark.confirmed {
            self.accounts.expire_idle(wm, self.rules.idle_ms);
            if let Some(keep) = self.rules.shared_keep_ms {
                self.shared.maintain(wm, keep);
            }
        }
    }

    /// Takes an event read again after a restart whose effect its account's restored state
    /// already holds (a changelog record written after it): only the clocks move, as they
    /// did the first time, and it is counted as dropped (`restored`).
    pub fn observe_applied(&mut self, event: &loginwatch_model::LoginEvent) {
        self.advance(event.timestamp.0, event.account_id.as_str());
        self.counters.dropped[DropReason::Restored as usize] += 1;
    }

    /// Emits the findings for other accounts that this engine owns; leaves the rest in the
    /// index for their engines.
    fn route_others(&mut self, out: &mut Vec<Alert>) {
        if self.others.is_empty() {
            return;
        }
        let owner = self.owner;
        let (mine, mut theirs): (Vec<Delivery>, Vec<Delivery>) =
            self.others.drain(..).partition(|d| d.owner == owner);
        for d in mine {
            self.deliver(d, out);
        }
        self.shared.post_deliveries(&mut theirs);
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
        let sip = &rules.cfg.detect.shared_ip;
        self.shared.set_limits(sip.max_networks, sip.max_members);
        self.detectors = detectors::build(&rules.cfg);
        self.rules = rules;
        Ok(())
    }

    /// The watermark and the next idle sweep (saved state).
    pub(crate) fn clocks(&self) -> (Watermark, Option<i64>) {
        (self.watermark, self.accounts.next_sweep)
    }

    /// The account table (saved state).
    pub(crate) fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The account table, mutably (changelog).
    pub(crate) fn accounts_mut(&mut self) -> &mut Accounts {
        &mut self.accounts
    }

    /// Takes saved clocks; an engine that already has some (several engines' records restored
    /// into one) keeps the later of each.
    pub(crate) fn restore_clocks(&mut self, saved: Watermark, next_sweep: Option<i64>) {
        self.watermark = self.watermark.merged(saved);
        self.accounts.next_sweep = match (self.accounts.next_sweep, next_sweep) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Takes a saved account (replacing one of the same id).
    pub(crate) fn restore_account(&mut self, id: &str, state: AccountState, newest: i64) {
        self.accounts.restore(id, state, newest);
    }

    /// The state of an account (tests of detectors' memory bounds).
    #[cfg(test)]
    pub(crate) fn state_of(&mut self, id: &str) -> Option<&AccountState> {
        self.accounts.get(id).map(|(s, _)| s)
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

/// Whether `login` must be dropped before detection (`newest`: the account's newest event
/// time, `None` for a new account).
fn drop_reason(
    rules: &Rules,
    state: &AccountState,
    newest: Option<i64>,
    login: &Login,
) -> Option<DropReason> {
    let t = login.event.timestamp;
    if newest.is_some_and(|n| t.0 < n.saturating_sub(rules.lateness_ms)) {
        return Some(DropReason::TooLate);
    }
    (login.event.is_successful_login() && state.window().contains(t, &login.event.event_id))
        .then_some(DropReason::Duplicate)
}

#[cfg(test)]
mod tests;
