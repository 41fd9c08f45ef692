//! Detection for loginwatch: per-account windows, detectors, suppression — pure and
//! synchronous (no async, no clock, no I/O). Time is the events' time.
//!
//! - [`config`]: [`EngineConfig`] (`[detect.*]`, `[exceptions]`, `[engine]`) and
//!   [`EngineConfig::validate`].
//! - [`engine`]: [`Engine::observe`], the one place a [`Login`](loginwatch_geo::Login) becomes
//!   alerts, and [`EngineStats`].
//! - [`pipeline`]: [`Pipeline`] (bytes → decode → [`Locate`] → engine), used by both drivers.
//! - `detector` + `detectors/`: the `Detector` extension point and the detectors
//!   (`impossible_travel`, `concurrent_ips`, `anonymized_ip`, `sanctioned_region`,
//!   `shared_ip`, `location_mismatch`, `session_hijack`, `long_session`).
//! - [`shared`]: [`SharedIndex`], the cross-account index of shared_ip, one per process,
//!   shared by its engines ([`Engine::with_shared_index`]).
//! - [`stage`]: [`NetworkStage`], the same rule as a stage of its own for engines spread over
//!   processes ([`Engine::with_network_stage`]): visits in, mail out ([`StageMessage`]).
//! - `risk`: the per-account risk score and `account_risk`; `engine/emit.rs`: severity raises
//!   (watch countries, new accounts), cooldown, risk, in one place; `tz`: claimed-zone hours.
//! - `window`, `record`, `state`, `store`: per-account state and its bounds. `state.rs`
//!   decides where each detector's typed per-account part lives; the mechanisms under it
//!   (slab map, inline list, packed counters, stable hash, prefetch) are the
//!   `loginwatch-storage` crate's. `suppress`: the cooldown; `rules`: the configuration
//!   compiled for the hot path.
//! - [`snapshot`]: the engine's state as versioned binary records ([`StateWriter`],
//!   [`StateReader`], [`Restore`]), used by `replay --state-out/--state-in`.
//!
//! ## One alert path
//! Every alert comes out of `engine/emit.rs` with the account's own state: a shared_ip
//! finding for another account is delivered to the engine that owns it ([`Owner`]; in the
//! same call when it is the observing engine, through the shared index otherwise, taken at
//! that engine's next event or [`Engine::take_deliveries`]; as [`Mail`] from a network
//! stage, taken with [`Engine::receive`]).
//!
//! ## Memory bounds
//! - **Per account**: a 40-byte slab entry (a 16-byte state, the account id inline when ≤ 22
//!   bytes), its 8-byte newest time and its index bucket, 53 bytes at the index's load,
//!   pointing to one 96-byte box holding the window's first record; further records (88
//!   bytes, at most `engine.max_logins_per_account` = 32) spanning
//!   [`EngineConfig::window_span`] (default 35 min: the concurrent window plus
//!   `max_lateness`) plus one *anchor* record (the travel baseline, kept at most 22.3 h at
//!   900 km/h; see `window.rs`). So a quiet account costs **149 bytes** with one login in the
//!   last 22 h, 88 more per further login in the window.
//! - **Later detectors, per account**: one 160-byte box created at the first event carrying a
//!   claim, a session or needing the detectors' memory (location profile, activity run, the
//!   first session fingerprint inline): an account with claims and a session costs **309
//!   bytes**; each further remembered session costs 40 (≤ `max_sessions` = 8, dropped once unseen
//!   for `forget_after` = 24 h), 80 of risk memory once it raised a signal, ≤ 9 cooldown
//!   entries of 40 bytes once it alerted, 40 of anonymizer memory once it used one. Worst
//!   case ~3.6 KB (a full window and every box).
//! - **In total**: at most `engine.max_accounts` (1 000 000) accounts; the least recently
//!   seen (by event time) are evicted in batches of 1/64; accounts idle for
//!   `engine.idle_timeout` (7 days of event time) are forgotten.
//!   [`EngineStats::approx_state_bytes`] tracks the estimate.
//! - **Cross-account** ([`SharedIndex`], per process, not per engine): ~130 bytes per IPv4
//!   network seen by one account plus 88 per further account (≤ 64 per network), at most
//!   `detect.shared_ip.max_networks` (1 000 000) networks and `max_members` (4 000 000)
//!   further accounts (~0.5 GB), forgotten after `history`;
//!   [`SharedIndexStats::approx_bytes`] tracks it. Findings waiting for another engine: at
//!   most 64 per login that crosses a threshold, taken at that engine's next event.

#[doc(hidden)]
pub mod bench;
pub mod config;
mod detector;
mod detectors;
pub mod engine;
mod event_id;
pub mod pipeline;
mod record;
mod risk;
mod rules;
pub mod shared;
pub mod snapshot;
pub mod stage;
mod state;
mod store;
mod suppress;
mod tz;
mod window;

#[cfg(test)]
mod testkit;

pub use config::{
    AccountRiskConfig, AnonymizedIpConfig, ConcurrentIpsConfig, DetectConfig, EngineConfig,
    ExceptionsConfig, ExemptGroup, ImpossibleTravelConfig, LimitsConfig, LocationMismatchConfig,
    LongSessionConfig, NewAccountConfig, SanctionedRegionConfig, SessionHijackConfig,
    SharedIpConfig,
};
pub use engine::{DropReason, Engine, EngineStats};
pub use pipeline::{Decoder, Group, GroupHooks, Locate, Pipeline};
pub use shared::{Owner, SharedIndex, SharedIndexStats};
pub use snapshot::{Restore, SaveSummary, Saved, StateError, StateReader, StateWriter, Target};
pub use stage::{Mail, NetworkStage, NetworkVisit, StageMessage, WireError};

/// A configuration the engine cannot run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Every problem found, each `"full.key.path: problem"`.
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
}
