//! What a replay is made of: its [`Summary`]; [`Lines`], input lines in one buffer, decoded
//! and observed a group at a time; dead letters; [`read_bounded_line`], which keeps memory
//! bounded whatever the input (`normalize` reads with it too).

use loginwatch_detect::{Decoder, Engine, Group, Locate, Pipeline, SaveSummary};
use loginwatch_geo::LocateCounts;
use loginwatch_model::{Alert, Reject, Skip};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::time::Duration;

/// What a replay saw, printed on stderr at the end.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub lines: u64,
    pub blank_lines: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    /// Records of a vendor format that are not login events, by [`Skip::code`].
    pub skipped: BTreeMap<&'static str, u64>,
    pub alerts: BTreeMap<&'static str, u64>,
    pub suppressed: u64,
    pub tracked_accounts: u64,
    /// The engines' own estimate of their per-account state, in bytes.
    pub state_bytes: u64,
    /// The process-wide shared_ip index: networks held and estimated bytes.
    pub shared_networks: u64,
    pub shared_bytes: u64,
    pub elapsed: Duration,
    /// How the events were (not) located (the locator's counts over the run).
    pub located: LocateCounts,
    /// What `--state-in` restored (records, accounts among them), and how long it took.
    pub state_restored: Option<(u64, u64, Duration)>,
    /// What `--state-out` wrote, and how long it took.
    pub state_saved: Option<(SaveSummary, Duration)>,
}

impl Summary {
    /// Rejected lines, all reasons together.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Adds an engine's end-of-run counters (suppressed alerts, accounts, state bytes).
    pub(crate) fn add_engine(&mut self, engine: &Engine) {
        let stats = engine.stats();
        self.suppressed += stats.suppressed_alerts;
        self.tracked_accounts += stats.tracked_accounts as u64;
        self.state_bytes += stats.approx_state_bytes as u64;
    }

    /// Records the shared_ip index's size (once per process: engines share it).
    pub(crate) fn add_shared_index(&mut self, engine: &Engine) {
        let shared = engine.shared_index().stats();
        self.shared_networks = shared.networks as u64;
        self.shared_bytes = shared.approx_bytes as u64;
    }

    /// Counts a skipped record.
    pub(crate) fn skip(&mut self, skip: Skip) {
        *self.skipped.entry(skip.code()).or_default() += 1;
    }

    /// Counts the records a decoder skipped (a vendor's records that are not login events,
    /// which it decoded itself; [`Decoder::skipped`]).
    pub(crate) fn add_skipped(&mut self, skipped: &[(&'static str, u64)]) {
        for &(code, n) in skipped {
            if n > 0 {
                *self.skipped.entry(code).or_default() += n;
            }
        }
    }

    /// Events accepted: every line that was not blank, rejected or skipped.
    pub fn events(&self) -> u64 {
        let skipped: u64 = self.skipped.values().sum();
        self.lines - self.blank_lines - self.rejected_total() - skipped
    }

    /// Alerts written, all kinds together.
    pub fn alerts_total(&self) -> u64 {
        self.alerts.values().sum()
    }
}

/// ` (a 1, b 2)` for a count by reason; empty when there is none.
pub(crate) fn list(map: &BTreeMap<&'static str, u64>) -> String {
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "replay: {} lines in {:.2} s ({:.0} events/s)",
            self.lines,
            secs,
            self.lines as f64 / secs
        )?;
        writeln!(f, "  accepted:  {}", self.events())?;
        writeln!(
            f,
            "  rejected:  {}{}",
            self.rejected_total(),
            list(&self.rejected)
        )?;
        if !self.skipped.is_empty() {
            let total: u64 = self.skipped.values().sum();
            writeln!(f, "  skipped:   {total}{}", list(&self.skipped))?;
        }
        writeln!(
            f,
            "  alerts:    {}{}",
            self.alerts_total(),
            list(&self.alerts)
        )?;
        let l = &self.located;
        let by_db = self
            .events()
            .saturating_sub(l.hinted + l.not_found + l.no_database + l.unroutable);
        writeln!(
            f,
            "  located:   {by_db} by the city database, {} by the event's geo hint; not located: {} not found, {} of an address family no city database holds, {} not routable",
            l.hinted, l.not_found, l.no_database, l.unroutable
        )?;
        writeln!(f, "  suppressed alerts: {}", self.suppressed)?;
        writeln!(f, "  tracked accounts at end: {}", self.tracked_accounts)?;
        let mb = |b: u64| b as f64 / 1e6;
        write!(
            f,
            "  state (estimate): accounts {:.1} MB ({} B per account), shared_ip index {:.1} MB ({} networks)",
            mb(self.state_bytes),
            self.state_bytes / self.tracked_accounts.max(1),
            mb(self.shared_bytes),
            self.shared_networks
        )?;
        if let Some((records, accounts, took)) = &self.state_restored {
            write!(
                f,
                "\n  state restored: {records} records ({accounts} accounts) in {:.2} s",
                took.as_secs_f64()
            )?;
        }
        if let Some((s, took)) = &self.state_saved {
            write!(
                f,
                "\n  state saved: {} accounts, {} networks, {:.1} MB ({} B per account) in {:.2} s",
                s.accounts,
                s.networks,
                mb(s.bytes),
                s.bytes / s.accounts.max(1),
                took.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

/// Lines a pipeline decodes before it observes them (see [`Pipeline::process_group`]).
const GROUP_LINES: usize = 32;

/// Input lines stored back to back, each with its line number.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    data: Vec<u8>,
    /// (line number, end offset in `data`).
    ends: Vec<(u64, usize)>,
}

impl Lines {
    /// Adds `line`, numbered `line_no`.
    pub(crate) fn push(&mut self, line_no: u64, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.ends.push((line_no, self.data.len()));
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Forgets every line, keeping the buffers.
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Hands `f` each group of [`GROUP_LINES`] lines in turn: its index, its lines' numbers
    /// and ends, and its lines.
    fn for_each_group<E>(
        &self,
        mut f: impl FnMut(usize, &[(u64, usize)], &[&[u8]]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut slices: Vec<&[u8]> = Vec::with_capacity(GROUP_LINES);
        let mut start = 0;
        for (k, chunk) in self.ends.chunks(GROUP_LINES).enumerate() {
            slices.clear();
            for &(_, end) in chunk {
                slices.push(&self.data[start..end]);
                start = end;
            }
            f(k, chunk, &slices)?;
        }
        Ok(())
    }

    /// Decodes every line with `decoder` into `groups`, a group of [`GROUP_LINES`] each (as
    /// many as that takes; reused, with the buffers of the events they held).
    pub(crate) fn decode(&self, decoder: &mut Decoder, groups: &mut Vec<Group>) {
        groups.resize_with(self.ends.len().div_ceil(GROUP_LINES), Group::default);
        let Ok(()) = self.for_each_group(|k, _, lines| {
            decoder.decode(lines, &mut groups[k]);
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// Runs the lines through `pipeline` a group at a time — the `groups` [`Lines::decode`]
    /// filled when `decoded`, else decoded by the pipeline itself into its own group — and
    /// hands `each` every line's outcome in order: its line number and the alerts it caused,
    /// or its reject.
    pub(crate) fn process<L: Locate, E>(
        &self,
        (groups, decoded): (&mut Vec<Group>, bool),
        pipeline: &mut Pipeline<L>,
        mut each: impl FnMut(u64, Result<&[Alert], &Reject>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut alerts = Vec::new();
        self.for_each_group(|k, chunk, lines| {
            alerts.clear();
            let group = if decoded {
                let group = &mut groups[k];
                pipeline.observe_group(group, &mut (), &mut alerts);
                &*group
            } else {
                pipeline.process_in_place(lines, &mut alerts)
            };
            for (&(line_no, _), outcome) in chunk.iter().zip(group.outcomes(&alerts)) {
                each(line_no, outcome)?;
            }
            Ok(())
        })
    }
}

/// Where rejected lines go: one JSON object per line with the reason and the original bytes.
pub(crate) fn write_dead_letter(
    out: &mut dyn Write,
    line_no: u64,
    reject: &Reject,
) -> io::Result<()> {
    let original = String::from_utf8_lossy(&reject.bytes);
    let record = serde_json::json!({
        "line": line_no,
        "reason": reject.reason.code(),
        "error": reject.reason.to_string(),
        "original": original,
        "original_is_utf8": std::str::from_utf8(&reject.bytes).is_ok(),
    });
    serde_json::to_writer(&mut *out, &record)?;
    out.write_all(b"\n")
}

/// Reads one line of at most `limit` bytes into `buf` (without the newline). A longer line is
/// consumed to its end but only `limit + 1` bytes are kept, so memory stays bounded and the
/// decoder rejects it as too large. Returns false at end of input.
pub fn read_bounded_line<R: BufRead + ?Sized>(
    input: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any);
        }
        any = true;
        let (used, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (limit + 1).saturating_sub(buf.len());
        let content = if done { &chunk[..used - 1] } else { chunk };
        buf.extend_from_slice(&content[..content.len().min(room)]);
        input.consume(used);
        if done {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let data = b"short\r\n0123456789ABCDEF\nlast";
        let mut r = io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert!(read_bounded_line(&mut r, &mut buf, 8).unwrap());
        assert_eq!(buf, b"short");
        assert!(read_bounded_line(&mut r, &mut buf, 8).unwrap());
        assert_eq!(
            buf, b"012345678",
            "kept limit + 1 bytes of an over-long line"
        );
        assert!(read_bounded_line(&mut r, &mut buf, 8).unwrap());
        assert_eq!(buf, b"last");
        assert!(!read_bounded_line(&mut r, &mut buf, 8).unwrap());
    }
}
