//! One account's successful logins, ordered by event time and bounded.
//!
//! Bounds (applied by [`Window::trim`] after each event, see [`Bounds`]):
//! - **time span**: records older than `newest - span` are dropped, where `span` is
//!   [`EngineConfig::window_span`](crate::EngineConfig::window_span) (the concurrent_ips window
//!   plus `max_lateness`: 35 min at defaults) — except the *anchor*: the newest located,
//!   non-anonymized record older than `newest - max_lateness`. Every login still accepted
//!   (the next one, or one up to `max_lateness` late) may need it as its travel baseline, so
//!   it stays until it is older than half the Earth's circumference at `max_speed_kmh`
//!   (22.3 h at 900 km/h), when no hop from it can be too fast any more;
//! - **entries**: at most `max_logins_per_account`; beyond it the oldest go (counted as
//!   `window_overflow`).
//!
//! So a quiet account holds one record (its last login) once its previous login is more than
//! 22.3 h older, and two (last login plus anchor) while it logs in several times a day.
//! A single record is kept inline (see [`InlineList`]: no allocation); from two on they are on the
//! heap with the capacity kept close to the length (88 bytes a record).

use crate::record::Record;
use loginwatch_model::EventTime;
use loginwatch_storage::{HeapSize, InlineList};
use serde::{Deserialize, Serialize};

/// Logins of one account, oldest first; equal times keep arrival order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Window {
    records: InlineList<Record>,
}

impl Window {
    /// The records, oldest first.
    pub(crate) fn records(&self) -> &[Record] {
        self.records.as_slice()
    }

    /// An empty window (for accounts without detector memory).
    pub(crate) const EMPTY: Window = Window {
        records: InlineList::Empty,
    };

    /// Lets `share` replace each record's city name (restored records share one copy).
    pub(crate) fn share_cities(&mut self, mut share: impl FnMut(&mut std::sync::Arc<str>)) {
        for r in self.records.as_mut_slice() {
            if let Some(c) = r.city.as_mut() {
                share(c);
            }
        }
    }

    /// Why a saved window cannot be used, if it cannot.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let ordered = self.records().windows(2).all(|w| w[0].time <= w[1].time);
        ordered
            .then_some(())
            .ok_or("window records out of time order")
    }

    /// True when a record with this time and event id is already held (a redelivery).
    pub(crate) fn contains(&self, time: EventTime, event_id: &str) -> bool {
        let records = self.records();
        let from = records.partition_point(|r| r.time < time);
        records[from..]
            .iter()
            .take_while(|r| r.time == time)
            .any(|r| r.event_id.is(event_id))
    }

    /// Inserts in time order (after records of equal time); returns its index.
    pub(crate) fn insert(&mut self, record: Record) -> usize {
        let at = self.records().partition_point(|r| r.time <= record.time);
        self.records.insert(at, record, |len| len / 2);
        at
    }

    fn drain(&mut self, range: std::ops::Range<usize>) {
        self.records.remove_range(range);
    }

    /// Applies the bounds; returns how many records went because of `max_len`.
    pub(crate) fn trim(&mut self, newest: EventTime, b: &Bounds) -> u64 {
        let cut = newest.0.saturating_sub(b.span_ms);
        let records = self.records();
        let first_in = records.partition_point(|r| r.time.0 < cut);
        let late_cut = newest.0.saturating_sub(b.lateness_ms);
        let before_late = records.partition_point(|r| r.time.0 < late_cut);
        let anchor = records[..before_late.min(first_in)]
            .iter()
            .rposition(Record::is_baseline)
            .filter(|&i| newest.0.saturating_sub(records[i].time.0) <= b.anchor_ms);
        // Drop everything before the cut except the anchor.
        let drop_before = anchor.unwrap_or(first_in);
        self.drain(0..drop_before);
        if anchor.is_some() {
            // The anchor is now at 0; the rest up to the cut follow it.
            let stale = first_in - drop_before - 1;
            self.drain(1..1 + stale);
        }
        let overflow = self.records.len().saturating_sub(b.max_len);
        self.drain(0..overflow);
        let (len, cap) = (self.records.len(), self.records.capacity());
        if cap > len && (cap <= 4 || len * 2 <= cap) {
            self.records.shrink_to(len + len / 4);
        }
        overflow as u64
    }
}

impl HeapSize for Window {
    /// Record slots beyond the inline one, plus event ids.
    fn heap_bytes(&self) -> usize {
        self.records.heap_bytes()
    }
}

/// The limits [`Window::trim`] applies (compiled from the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Keep every record this close to the newest.
    pub span_ms: i64,
    /// Events up to this much older than the newest are still accepted.
    pub lateness_ms: i64,
    /// Keep the anchor while it is at most this old (0 when impossible_travel is off).
    pub anchor_ms: i64,
    /// At most this many records.
    pub max_len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::ev;

    fn rec(id: &str, secs: i64, city: Option<&str>) -> Record {
        let e = ev("a", id, secs, "192.0.2.1");
        let e = match city {
            Some(c) => e.city(c),
            None => e,
        };
        Record::from_login(&e.build())
    }

    fn ids(w: &Window) -> Vec<String> {
        w.records().iter().map(|r| r.event_id.to_string()).collect()
    }

    #[test]
    fn keeps_time_order_with_late_inserts() {
        let mut w = Window::default();
        assert_eq!(w.insert(rec("b", 20, None)), 0);
        assert_eq!(w.insert(rec("c", 30, None)), 1);
        assert_eq!(w.insert(rec("a", 10, None)), 0);
        assert_eq!(w.insert(rec("b2", 20, None)), 2);
        assert_eq!(ids(&w), ["a", "b", "b2", "c"]);
        assert!(w.contains(EventTime(crate::testkit::T0_MS + 20_000), "b2"));
        assert!(!w.contains(EventTime(crate::testkit::T0_MS + 30_000), "b2"));
    }

    #[test]
    fn trims_by_span_keeping_the_anchor() {
        let mut w = Window::default();
        w.insert(rec("old-located", 0, Some("Seoul")));
        w.insert(rec("old-unlocated", 10, None));
        w.insert(rec("recent", 1000, None));
        let newest = w.records()[2].time;
        let b = |span_ms, max_len| Bounds {
            span_ms,
            lateness_ms: 1000,
            anchor_ms: i64::MAX,
            max_len,
        };
        assert_eq!(w.trim(newest, &b(100_000, 32)), 0);
        assert_eq!(ids(&w), ["old-located", "recent"]);
        // Without a baseline-capable record before the cut, nothing old stays.
        let mut w = Window::default();
        w.insert(rec("old-unlocated", 10, None));
        w.insert(rec("recent", 1000, None));
        w.trim(newest, &b(100_000, 32));
        assert_eq!(ids(&w), ["recent"]);
    }

    #[test]
    fn anchor_is_kept_only_while_it_can_matter() {
        let fill = || {
            let mut w = Window::default();
            w.insert(rec("seoul", 0, Some("Seoul")));
            w.insert(rec("busan", 1000, Some("Busan")));
            w
        };
        let newest = fill().records()[1].time;
        let b = |anchor_ms| Bounds {
            span_ms: 100_000,
            lateness_ms: 5_000,
            anchor_ms,
            max_len: 32,
        };
        // A login late by up to 5 s would land after "seoul": it stays as its baseline...
        let mut w = fill();
        w.trim(newest, &b(i64::MAX));
        assert_eq!(ids(&w), ["seoul", "busan"]);
        // ...unless it is too old for any hop from it to be too fast.
        let mut w = fill();
        w.trim(newest, &b(500_000));
        assert_eq!(ids(&w), ["busan"]);
        assert!(matches!(w.records, InlineList::One(_)));
    }

    #[test]
    fn trims_by_count_and_counts_overflow() {
        let mut w = Window::default();
        for i in 0..10 {
            w.insert(rec(&format!("e{i}"), i, None));
        }
        let newest = w.records()[9].time;
        let b = Bounds {
            span_ms: 3_600_000,
            lateness_ms: 0,
            anchor_ms: 0,
            max_len: 4,
        };
        assert_eq!(w.trim(newest, &b), 6);
        assert_eq!(ids(&w), ["e6", "e7", "e8", "e9"]);
        assert!(w.records.capacity() <= 16);
    }
}
