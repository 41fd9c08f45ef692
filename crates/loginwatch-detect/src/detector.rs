//! The extension point: a [`Detector`] looks at one login in the context of its account and
//! appends [`Finding`]s; the engine turns findings into alerts (exemptions, suppression,
//! watch-country severity, counters, deterministic ids) in one place.
//!
//! To add a detector: write `detectors/<name>.rs` with a type implementing [`Detector`],
//! register it in [`crate::detectors::build`] (read its config there, skip it when disabled),
//! give it per-account memory as a plain type if it needs any (serde-serializable, so saved
//! state carries it): a [`Part`](crate::state::Part) given its place in `state.rs` and its
//! field in `snapshot.rs`, reached with `cx.state.get::<T>()` / `get_or_default::<T>()`, and
//! describe its [`Escalation`] in the table of [`crate::suppress`], and give its evidence a
//! struct in `loginwatch_model::alert::evidence::kinds` (fields in sorted key order) with its
//! variant of `evidence::Detail` (a new kind is a new `AlertKind`). Test it through the engine
//! with the builders of `testkit` (see `detectors/travel/tests.rs` for the table style).
//!
//! A cross-account detector (shared_ip) keeps its bounded index outside the account state:
//! the [`SharedIndex`] is shared by every engine of a process (`Arc`), reached through
//! [`Ctx::networks`]; findings for accounts other than the observed one go to [`Ctx::others`],
//! and the engine that owns each such account turns them into alerts through the same emit
//! path as its own (exemptions, raises, cooldown, risk). With a network stage (`stage.rs`)
//! the login's visit goes out instead and the findings come back as mail.

use crate::rules::Rules;
use crate::shared::{Delivery, Owner, SharedIndex};
use crate::stage::NetworkVisit;
use crate::state::AccountState;
use crate::suppress::Escalation;
use loginwatch_geo::Login;
use loginwatch_model::{AlertKind, EventTime, Evidence, Severity};

/// What a detector sees for one login.
pub(crate) struct Ctx<'a> {
    /// Compiled configuration (the raw one is `rules.cfg`).
    pub rules: &'a Rules,
    pub login: &'a Login,
    pub account: &'a str,
    /// The login comes from `[exceptions] trusted_cidrs / trusted_asns`.
    pub trusted: bool,
    /// Index of this login's record in `state.window` when it was stored (a successful,
    /// untrusted login); `None` for failures, logouts, activity and trusted logins.
    pub inserted: Option<usize>,
    /// The account's state, window already including this login.
    pub state: &'a mut AccountState,
    /// The account's newest event time before this event (`None` for a new account).
    pub prev_newest: Option<i64>,
    /// Where shared_ip records the login's networks.
    pub networks: Networks<'a>,
    /// The engine observing (see [`Delivery`]).
    pub owner: Owner,
    /// Findings for other accounts (shared_ip members), for the engines that own them.
    pub others: &'a mut Vec<Delivery>,
}

impl Ctx<'_> {
    /// A successful login or activity event from an untrusted network: something the account
    /// holder did, from somewhere that is not vouched for.
    pub(crate) fn is_untrusted_action(&self) -> bool {
        use loginwatch_model::{EventType, Outcome};
        let e = &self.login.event;
        !self.trusted
            && e.outcome == Outcome::Success
            && matches!(e.event_type, EventType::Login | EventType::Activity)
    }

    /// Counts a signal towards the account's risk score without an alert (e.g. another
    /// engine alerted this account's laptop farm).
    pub(crate) fn note_risk(&mut self, kind: AlertKind, severity: Severity, time: i64) {
        crate::engine::emit::note_risk(self.rules, self.state, kind, severity, time);
    }
}

/// Where the cross-account detector (shared_ip) records a login's networks.
pub(crate) enum Networks<'a> {
    /// The process's index: the rule runs at once.
    Index(&'a SharedIndex),
    /// A network stage elsewhere (`stage.rs`): the visit goes out, the findings come back.
    Stage(&'a mut Vec<NetworkVisit>),
}

/// A candidate alert, before suppression and exemptions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    pub kind: AlertKind,
    pub severity: Severity,
    /// Event time of the newest event involved.
    pub time: EventTime,
    pub summary: String,
    /// The events involved, oldest first.
    pub event_ids: Vec<String>,
    /// What was found, typed by kind; the engine may note its raises in it
    /// (`watch_countries`, `new_account_until`).
    pub evidence: Evidence,
    pub escalation: Escalation,
}

/// One detector. Implementations are pure: no clock, no I/O, only the context.
pub(crate) trait Detector: std::fmt::Debug + Send + Sync {
    /// The kind of alert raised (exemptions are checked against it before `observe`).
    fn kind(&self) -> AlertKind;
    /// Looks at one login; may update its per-account memory; appends findings.
    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>);
}
