//! Reproducible synthetic login streams with planted, labelled anomalies and benign crowds
//! behind shared addresses (`loginwatch gen`).
//!
//! [`generate`] writes exactly `events` JSON lines (CONTRACT §1) for `accounts` accounts, in
//! non-decreasing `timestamp` order except a documented late share, and returns the ground
//! truth as [`Labels`]. The same [`GenConfig`] and [`World`] give the same bytes on every
//! platform: randomness is a hand-written SplitMix64 ([`rng`]), one 8-byte generator per account.
//! A world is the embedded demo world's networks ([`demo_places`]), networks sampled from a real
//! city database ([`db_places`]), or any other [`World`].
//!
//! [`score`] says how well alerts find what was planted: precision and recall per kind against
//! the labels (`loginwatch score`).
//!
//! # Memory
//! O(accounts), never O(events): one [`account::Account`] of about 64 bytes per account plus a
//! 16-byte heap entry, so a million accounts take under 100 MB however many events are written;
//! while casting, 2 bytes per member of a benign crowd.
//! Events are produced in time order from a binary heap keyed by each account's next event.
//!
//! # The stream
//! The stream spans `ceil(events / accounts / 7)` days, clamped to 2..28, from `start_ms`.
//! Events per ordinary account are heavy-tailed (weights 1..20); planted accounts emit what
//! their script needs; the total is exactly `events`. Ordinary sessions are 1–9 events:
//! [failed login] (6 %), login, activities 1–25 min apart, [logout] (30 %). Logins carry
//! `user_agent`, `accept_language`, `claimed_country` and `claimed_timezone`; activity and
//! logout events only ids, IP, session and device. Lines average about 265 bytes at 20 events
//! per account, and up to about 315 at 3 events per account (a larger share of logins).
//!
//! **Ordinary accounts** live in a residential place (weighted by its number of networks),
//! claim its country and zone, speak its language, and start sessions only in local waking
//! hours (07:30–22:00). Each gets its own IPv4 /24 and IPv6 /64 as long as the place's space
//! lasts ([`pools`]). Kinds (shares of ordinary accounts outside the crowds below): one home
//! IP (~50 %); dual stack, an IPv4 plus privacy addresses in one /64 (~24 %); mobile users
//! (~20 %, when the home has mobile networks within 45 km in its country) who switch between
//! home and carrier networks, all within 90 km of each other; travellers (~6 %, accounts with
//! ≥ 14 events) who make one trip to a place ≥ 300 km away, at most 3 events there, leaving and
//! returning no faster than 2 h plus the distance at 600 km/h ([`script::travel_ms`]), never
//! logging in during the trip's travel.
//! None of them should raise any alert at CONTRACT §4 defaults: a session keeps one IP and one
//! session id; an account never shows two countries within 30 minutes; no IP or /24 is shared
//! by 5 accounts unless a place has fewer /24s than accounts; no hosting or KP network.
//!
//! **Benign crowds** ([`benign`]): ordinary accounts, never labelled, that share a public
//! address with many others, as real users do. Counting accounts per address flags them all
//! (`loginwatch score` counts every `shared_ip` alert on them as a false positive); nothing
//! else should fire: they live where their crowd is, claim its country and zone, keep one IP
//! per session and never travel. Members are spread evenly over the ordinary accounts.
//! - *Carrier-grade NAT subscribers*: [`GenConfig::carriers`] carriers (default 3; none when
//!   the world has no mobile network with IPv4), each in a mobile place (distinct places while
//!   there are enough, places with homes within 45 km first) with a pool of
//!   [`GenConfig::carrier_pool`] (8–24, drawn per carrier) public IPv4 addresses: consecutive
//!   slots of the place, so one address per /24 while its space lasts. Subscribers:
//!   [`GenConfig::subscriber_share`] (3 %) of the ordinary accounts split evenly over the
//!   carriers, but at least 30 per pool address ([`benign::SUBSCRIBERS_PER_ADDRESS`]; this
//!   floor decides below roughly 50,000 accounts), in all at most 10 % of the ordinary
//!   accounts ([`benign::MAX_SUBSCRIBER_SHARE`]: beyond it the carriers share that equally,
//!   each with a pool of one address per 30 subscribers, at least one). Each session (phone,
//!   1–4 events) takes an address of its carrier's pool drawn anew; 30 % of subscribers also
//!   have a home line of their own in a residential place within 45 km of the carrier and use
//!   it for 10–30 % of their sessions (spread evenly). With 20,000 accounts and 400,000
//!   events (seed 7, demo world): 1,468 subscribers on 49 addresses, 36–109 distinct
//!   subscribers per address on each day of the span.
//! - *Shared venues* (coworking spaces, internet cafés, universities): [`GenConfig::venues`]
//!   venues (default 6), each one IPv4 address of a residential place (picked like a home),
//!   with [`GenConfig::venue_accounts`] (8–40, drawn per venue) members; in all at most 5 % of
//!   the ordinary accounts ([`benign::MAX_VENUE_SHARE`]: venues that do not fit are left out,
//!   the first one shrinks to fit). Members have their own home address in the venue's place;
//!   30–60 % of each member's sessions (drawn per account, spread evenly: the first at the
//!   venue, the second at home, any four hold both) come from home at any waking hour, the
//!   others from the venue, starting Monday–Friday between 09:00 and 17:00 local. Members are
//!   regulars: their event weight is at least 6 (about the mean).
//!
//! **Planted accounts** (`anomaly_rate` of accounts, default 2 %, dealt evenly over the account
//! range in a cycle: each kind the world allows twice, then a laptop farm of
//! [`GenConfig::farm_accounts`] (12–20, drawn per farm) accounts (with all kinds: about half
//! of the planted accounts are farm workers); a farm the last cycle cannot fill is dealt as
//! single kinds, but a stream too small for one whole farm gets a farm of the slots left when
//! there are at least 6 ([`plan::SMALL_FARM`]; 1,000 accounts at 2 % do); kinds whose places
//! the world lacks are skipped and not labelled; planted events take at most half the stream,
//! further anomalies are dropped). Each has exactly one kind, desktop browser, sessions of
//! login + 2 activities, 6–20 h apart but for farms:
//! - `impossible_travel`: 2–4 home sessions, then a home login and, 40 min to min(3 h, distance
//!   / 2,500 km/h) later, a login from a place in another country ≥ 2,200 km away (≥ 2,500 km/h),
//!   then one more session there. Single hop, and more than 30 minutes between the two
//!   countries' events, so it is not also a `concurrent_ips` case. Most logins stay at home.
//! - `concurrent_ips`: 2–4 home sessions, then logins alternating home / another country, 1–3
//!   min apart (A, B, A, B; B from another device), then a home session. This is also very fast
//!   travel: a detector may report `impossible_travel` for it as well.
//! - `session_hijack`: a home login and activity, then 20–40 min later three `activity` events
//!   with the same `session_id` from another country and another device. Activity events feed
//!   no travel or concurrency rule, so only the session rule should fire.
//! - `anonymized_ip`: 4–6 sessions, each from a fresh address of a hosting network, alternating
//!   between two hosting places of one country (or two networks of one place); claims that
//!   country; moves no faster than travel allows.
//! - `location_mismatch`: 4–6 sessions from CN or RU (anywhere else when the world has neither)
//!   while claiming KR (`ko-KR`), JP (`ja-JP`) or the US with a Korean browser (`ko-KR`).
//! - `long_session`: one login then `activity` every 20–29 min, 83 times (28–40 h) from home.
//! - `sanctioned_region`: 3–5 sessions from a KP place, claiming KP (so nothing else fires).
//! - `shared_ip`: a laptop farm as the advisories describe it: one IPv4 address of a
//!   residential place (in the US when eight home picks find one), where every worker account
//!   of the farm, each claiming the farm's country and zone and with its own device, does every
//!   login and activity. They work every working day (Monday–Friday in the farm's zone) of the
//!   span, at least 2 ([`profile::workdays`]): a session at 08:00–09:30 and one at 13:00–14:30
//!   local, done by 16:00 ([`script::FARM_SESSIONS_PER_DAY`]). Nothing else about them stands
//!   out: no travel, night work or other kind's pattern.
//!
//! **Late events**: 0.1 % of ordinary accounts' events are written 5 s to 2 min after their
//! time ([`stream::LATE_SHARE`], [`stream::MAX_LATE_MS`]); planted accounts are never late.
//! `event_id`s are unique (a bijective mix of the sequence number); `account_id`s are
//! `acct-000123`; session ids are unique per account and session, device ids per account.

// The generator's parts are its own: what a caller needs is re-exported below. The docs above
// point into them; `cargo doc --document-private-items` renders those links.
#![allow(rustdoc::private_intra_doc_links)]

mod account;
mod benign;
mod emit;
mod index;
mod kind;
mod plan;
mod planted;
mod pools;
mod profile;
mod rng;
pub mod score;
mod script;
mod stream;
mod world;

#[cfg(test)]
mod tests;

pub use kind::Kind;
pub use world::{db_places, demo_places, NetClass, Place, PlaceWorld, World};

use loginwatch_model::EventTime;
use serde::Serialize;
use std::io::{self, Write};
use std::ops::RangeInclusive;

/// 2026-11-02T00:00:00Z in epoch milliseconds: the default start of a generated stream.
pub const DEFAULT_START_MS: i64 = 1_793_577_600_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    pub accounts: u64,
    /// Exactly this many lines are written.
    pub events: u64,
    pub seed: u64,
    /// Epoch milliseconds of the stream's start; default 2026-11-02T00:00:00Z.
    pub start_ms: i64,
    /// Share of accounts with a planted anomaly, 0..=1; default 0.02.
    pub anomaly_rate: f64,
    /// Accounts per laptop farm (drawn per farm), 1..=1000; default 12..=20.
    pub farm_accounts: RangeInclusive<u32>,
    /// Carriers whose subscribers share a carrier-grade NAT pool, when the world has mobile
    /// networks with IPv4; at most 64; default 3. 0 turns them off.
    pub carriers: u32,
    /// Public IPv4 addresses per carrier pool (drawn per carrier), 1..=4096; default 8..=24.
    pub carrier_pool: RangeInclusive<u32>,
    /// Share of ordinary accounts behind the carriers' NAT, 0..=1; default 0.03 (raised to
    /// [`benign::SUBSCRIBERS_PER_ADDRESS`] per pool address, capped at
    /// [`benign::MAX_SUBSCRIBER_SHARE`]).
    pub subscriber_share: f64,
    /// Shared venues (coworking spaces, internet cafés, universities), at most 10,000;
    /// default 6. 0 turns them off.
    pub venues: u32,
    /// Accounts per venue (drawn per venue), 1..=100,000; default 8..=40.
    pub venue_accounts: RangeInclusive<u32>,
}

impl GenConfig {
    /// Every problem with the configuration, at once; empty when it is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.accounts == 0 && self.events > 0 {
            out.push("--accounts must be at least 1".to_string());
        }
        if self.accounts > u64::from(u32::MAX) {
            out.push("--accounts must be at most 4294967295".to_string());
        }
        let share = |name: &str, x: f64, out: &mut Vec<String>| {
            if !(0.0..=1.0).contains(&x) {
                out.push(format!("{name} must be between 0 and 1"));
            }
        };
        share("anomaly_rate", self.anomaly_rate, &mut out);
        share("subscriber_share", self.subscriber_share, &mut out);
        let range = |name: &str, r: &RangeInclusive<u32>, max: u32, out: &mut Vec<String>| {
            if *r.start() < 1 || r.start() > r.end() || *r.end() > max {
                out.push(format!("{name} must be a range within 1..={max}"));
            }
        };
        range("farm_accounts", &self.farm_accounts, 1_000, &mut out);
        range("carrier_pool", &self.carrier_pool, 4_096, &mut out);
        range("venue_accounts", &self.venue_accounts, 100_000, &mut out);
        if self.carriers > 64 {
            out.push("carriers must be at most 64".to_string());
        }
        if self.venues > 10_000 {
            out.push("venues must be at most 10000".to_string());
        }
        out
    }
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            accounts: 1_000,
            events: 10_000,
            seed: 0,
            start_ms: DEFAULT_START_MS,
            anomaly_rate: 0.02,
            farm_accounts: 12..=20,
            carriers: 3,
            carrier_pool: 8..=24,
            subscriber_share: 0.03,
            venues: 6,
            venue_accounts: 8..=40,
        }
    }
}

/// The ground truth of one planted account.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Label {
    pub account_id: String,
    /// Serialized as the wire name, e.g. `"impossible_travel"`.
    pub kind: Kind,
    /// Time of the account's first and last event.
    pub first_event: EventTime,
    pub last_event: EventTime,
}

impl Label {
    fn new(id: u32, kind: Kind) -> Self {
        Label {
            account_id: emit::account_id(id),
            kind,
            first_event: EventTime(i64::MAX),
            last_event: EventTime(i64::MIN),
        }
    }

    fn saw(&mut self, ts: i64) {
        self.first_event.0 = self.first_event.0.min(ts);
        self.last_event.0 = self.last_event.0.max(ts);
    }
}

/// Every planted account, in account order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Labels {
    pub accounts: Vec<Label>,
}

impl Labels {
    /// Writes one JSON object per line: `{"account_id","kind","first_event","last_event"}`.
    pub fn write_jsonl(&self, out: &mut dyn Write) -> io::Result<()> {
        for l in &self.accounts {
            serde_json::to_writer(&mut *out, l)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Number of planted accounts of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.accounts.iter().filter(|l| l.kind == kind).count()
    }
}

/// Writes `cfg.events` JSON lines (CONTRACT §1) drawn from `world` to `out`, in non-decreasing
/// timestamp order except the documented late share, and returns the planted accounts.
/// Fails with `InvalidInput` on a configuration or world it cannot use, or on a write error.
pub fn generate(cfg: &GenConfig, world: &dyn World, out: &mut dyn Write) -> io::Result<Labels> {
    let mut g = stream::Generator::new(cfg, world.places())?;
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    while g.step(&mut w)? {}
    g.release_late(None, &mut w)?;
    w.flush()?;
    Ok(g.labels)
}
