//! One account's successful logins, ordered by event time and bounded.
//!
//! Bounds (applied by [`Window::trim`] after each event):
//! - **time span**: records older than `newest - span` are dropped, where `span` is
//!   [`EngineConfig::window_span`](crate::EngineConfig::window_span) — except the *anchor*, the
//!   newest located, non-anonymized record before that cut, which stays as the travel baseline
//!   for the next login however much later it comes;
//! - **entries**: at most `max_logins_per_account`; beyond it the oldest go (counted as
//!   `window_overflow`).
//!
//! Capacity grows by halves, not doubling, and shrinks when mostly empty, so an account with
//! one login holds one 88-byte record.

use crate::record::Record;
use loginwatch_model::EventTime;

/// Logins of one account, oldest first; equal times keep arrival order.
#[derive(Debug, Default)]
pub(crate) struct Window {
    records: Vec<Record>,
}

impl Window {
    /// The records, oldest first.
    pub(crate) fn records(&self) -> &[Record] {
        &self.records
    }

    /// Heap bytes: record slots plus event ids.
    pub(crate) fn heap_bytes(&self) -> usize {
        let ids: usize = self.records.iter().map(Record::heap_bytes).sum();
        self.records.capacity() * std::mem::size_of::<Record>() + ids
    }

    /// True when a record with this time and event id is already held (a redelivery).
    pub(crate) fn contains(&self, time: EventTime, event_id: &str) -> bool {
        let from = self.records.partition_point(|r| r.time < time);
        self.records[from..]
            .iter()
            .take_while(|r| r.time == time)
            .any(|r| r.event_id.is(event_id))
    }

    /// Inserts in time order (after records of equal time); returns its index.
    pub(crate) fn insert(&mut self, record: Record) -> usize {
        let at = self.records.partition_point(|r| r.time <= record.time);
        if self.records.len() == self.records.capacity() {
            let grow = (self.records.len() / 2).max(1);
            self.records.reserve_exact(grow);
        }
        self.records.insert(at, record);
        at
    }

    fn drain(&mut self, range: std::ops::Range<usize>) {
        self.records.drain(range);
    }

    /// Applies both bounds; returns how many records went because of `max_len`.
    pub(crate) fn trim(&mut self, newest: EventTime, span_ms: i64, max_len: usize) -> u64 {
        let cut = newest.0.saturating_sub(span_ms);
        let first_in = self.records.partition_point(|r| r.time.0 < cut);
        let anchor = self.records[..first_in]
            .iter()
            .rposition(Record::is_baseline);
        // Drop everything before the cut except the anchor.
        let drop_before = anchor.unwrap_or(first_in);
        self.drain(0..drop_before);
        if anchor.is_some() {
            // The anchor is now at 0; the rest up to the cut follow it.
            let stale = first_in - drop_before - 1;
            self.drain(1..1 + stale);
        }
        let overflow = self.records.len().saturating_sub(max_len);
        self.drain(0..overflow);
        if self.records.capacity() > 4 && self.records.len() * 4 <= self.records.capacity() {
            self.records.shrink_to(self.records.len() * 2);
        }
        overflow as u64
    }
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
        assert_eq!(w.trim(newest, 100_000, 32), 0);
        assert_eq!(ids(&w), ["old-located", "recent"]);
        // Without a baseline-capable record before the cut, nothing old stays.
        let mut w = Window::default();
        w.insert(rec("old-unlocated", 10, None));
        w.insert(rec("recent", 1000, None));
        w.trim(newest, 100_000, 32);
        assert_eq!(ids(&w), ["recent"]);
    }

    #[test]
    fn trims_by_count_and_counts_overflow() {
        let mut w = Window::default();
        for i in 0..10 {
            w.insert(rec(&format!("e{i}"), i, None));
        }
        let newest = w.records()[9].time;
        assert_eq!(w.trim(newest, 3_600_000, 4), 6);
        assert_eq!(ids(&w), ["e6", "e7", "e8", "e9"]);
        assert!(w.records.capacity() <= 16);
    }
}
