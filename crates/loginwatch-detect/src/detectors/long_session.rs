//! `long_session`: an account that never stops working (advisory red flag R3: accounts
//! logged in continuously for a day or more — shifts of several people behind one identity).
//!
//! Successful logins and `activity` events (from any network: a trusted office does not make a
//! 30-hour session normal) form *runs*: a gap longer than `max_idle` (1h) ends a run. Alerts:
//! - **continuous**: a run has lasted `min_duration` (24h) — once per run;
//! - **active_hours**: one UTC day has events in at least `min_active_hours` (20) of its 24
//!   hourly buckets — once per day (0 disables).
//!
//! Medium; high when both hold at once. Evidence: run start, last event, duration, events in
//! the run, the active hours of the day (as a list) and the bucket count.
//!
//! Memory: an [`ActivityRun`] of 32 bytes, a part of the account's state created at its
//! second event (the first one's time is the account's newest).

use super::human_ms;
use crate::config::LongSessionConfig;
use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use crate::suppress::Escalation;
use loginwatch_model::alert::evidence::kinds::{self as evidence, HourSet, LongSessionReason};
use loginwatch_model::{AlertKind, EventTime, EventType, Outcome, Severity};
use loginwatch_storage::pack::HourMask;
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The current run of activity and the hourly buckets of the current UTC day.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActivityRun {
    start: i64,
    last: i64,
    events: u32,
    /// The UTC day (days since epoch) of `mask`.
    day: i32,
    /// The hours (UTC) of `day` with an event.
    hours: HourMask,
    /// The day whose active-hours alert was raised (`i32::MIN` = none).
    reported_day: i32,
    reported_run: bool,
}

impl ActivityRun {
    /// Bit h: an event in hour h (UTC) of `day`.
    fn mask(&self) -> u32 {
        self.hours.bits()
    }

    /// A run from `start`, which counts as an event unless it is `now`'s (about to be added).
    pub(crate) fn starting(start: i64, now: i64) -> ActivityRun {
        let mut r = ActivityRun {
            start,
            last: start,
            events: u32::from(start != now),
            day: i32::MIN,
            reported_day: i32::MIN,
            ..ActivityRun::default()
        };
        r.mark(start);
        r
    }

    /// Adds an event at `t` to the run.
    pub(crate) fn add(&mut self, t: i64) {
        self.last = self.last.max(t);
        self.events = self.events.saturating_add(1);
        self.mark(t);
    }

    fn mark(&mut self, t: i64) {
        let day = i32::try_from(t.div_euclid(DAY_MS)).unwrap_or(i32::MAX);
        if day > self.day {
            (self.day, self.hours) = (day, HourMask::default());
        }
        if day == self.day {
            self.hours.insert((t.rem_euclid(DAY_MS) / HOUR_MS) as u32);
        }
    }
}

/// The long-session detector.
#[derive(Debug)]
pub(crate) struct LongSession {
    min_ms: i64,
    idle_ms: i64,
    min_hours: u32,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl LongSession {
    pub(crate) fn new(c: &LongSessionConfig) -> Self {
        LongSession {
            min_ms: ms(c.min_duration),
            idle_ms: ms(c.max_idle),
            min_hours: c.min_active_hours,
        }
    }

    /// Advances the run with an event at `t`; `None` until the account's second event.
    fn advance<'a>(&self, cx: &'a mut Ctx<'_>, t: i64) -> Option<&'a mut ActivityRun> {
        let prev = cx.prev_newest?;
        let run = if cx.state.get::<ActivityRun>().is_some() {
            cx.state.get_mut::<ActivityRun>()?
        } else {
            let start = if t - prev <= self.idle_ms { prev } else { t };
            let run = cx.state.get_or_default::<ActivityRun>();
            *run = ActivityRun::starting(start, t);
            run
        };
        if t > run.last.saturating_add(self.idle_ms) {
            (run.start, run.last, run.events, run.reported_run) = (t, t, 0, false);
        }
        run.add(t);
        Some(run)
    }
}

impl Detector for LongSession {
    fn kind(&self) -> AlertKind {
        AlertKind::LongSession
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        let e = &cx.login.event;
        let active = matches!(e.event_type, EventType::Login | EventType::Activity);
        if !active || e.outcome != Outcome::Success {
            return;
        }
        let t = e.timestamp.0;
        let (account, login) = (cx.account, cx.login);
        let (min_ms, min_hours) = (self.min_ms, self.min_hours);
        let Some(run) = self.advance(cx, t) else {
            return;
        };
        let continuous = !run.reported_run && run.last - run.start >= min_ms;
        let hours = run.mask().count_ones();
        let busy_day = min_hours > 0 && hours >= min_hours && run.reported_day != run.day;
        if !(continuous || busy_day) {
            return;
        }
        run.reported_run |= continuous;
        if busy_day {
            run.reported_day = run.day;
        }
        let run = run.clone();
        out.push(finding(account, login, &run, continuous, busy_day));
    }
}

/// The finding for `login`, the newest event of `run`, which is `continuous` or fills a
/// `busy_day` (or both).
pub(crate) fn finding(
    account: &str,
    login: &loginwatch_geo::Login,
    run: &ActivityRun,
    continuous: bool,
    busy_day: bool,
) -> Finding {
    let record = Record::from_login(login);
    let duration = run.last - run.start;
    let hours = HourSet::from_bits(run.mask());
    let mut reasons = Vec::new();
    let mut parts = Vec::new();
    if continuous {
        reasons.push(LongSessionReason::Continuous);
        parts.push(format!(
            "has been active without a break longer than the idle limit for {}",
            human_ms(duration)
        ));
    }
    if busy_day {
        reasons.push(LongSessionReason::ActiveHours);
        parts.push(format!(
            "was active in {} of the 24 hours of one UTC day",
            hours.len()
        ));
    }
    let severity = if continuous && busy_day {
        Severity::High
    } else {
        Severity::Medium
    };
    Finding {
        kind: AlertKind::LongSession,
        severity,
        time: record.time,
        summary: format!("{account} {}", parts.join(" and ")),
        event_ids: vec![record.event_id.to_text()],
        evidence: evidence::LongSession {
            active_hour_count: hours.len(),
            active_hours_utc: hours,
            duration_s: duration / 1000,
            events_in_run: run.events,
            last_event: EventTime(run.last),
            login: record.evidence(),
            reasons,
            run_start: EventTime(run.start),
            utc_day: EventTime(i64::from(run.day) * DAY_MS),
        }
        .into(),
        escalation: Escalation {
            magnitude: 0.0,
            ratio: 1.0,
            keys: vec![
                run.day as u32,
                u32::from(continuous) << 31 | run.start as u32 >> 1,
            ],
        },
    }
}

#[cfg(test)]
mod tests;
