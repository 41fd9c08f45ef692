//! Input formats at the edge: a [`Translator`] turns each record of the configured format
//! (`--format`, `[input] format`) into the contract event line the pipeline reads, or a skip,
//! or a reject with the original bytes; `replay` and `run` put one in front of the pipeline,
//! and `loginwatch normalize` writes what it makes. Native lines pass through untouched, so
//! the default format costs nothing.

use crate::replay::{list, read_bounded_line, write_dead_letter};
use loginwatch_model::{decode_as, Decoded, Format, Reject, RejectReason, Skip};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::time::{Duration, Instant};

/// One record of the input format, as the pipeline is to see it.
#[derive(Debug)]
pub enum Translated<'a> {
    /// A contract event line (CONTRACT §1).
    Event(&'a [u8]),
    /// A well-formed record that is not a login event.
    Skipped(Skip),
    /// A malformed record: the reason and the original bytes, for the dead letters.
    Rejected(Reject),
}

/// Turns records of one [`Format`] into contract event lines, reusing one buffer.
#[derive(Debug)]
pub struct Translator {
    format: Format,
    max_bytes: usize,
    /// Native lines are rewritten too (`normalize`), not passed through.
    rewrite_native: bool,
    line: Vec<u8>,
}

impl Translator {
    /// A translator for `format`, rejecting records over `max_bytes` (`too_large`); native
    /// lines pass through for the pipeline to decode.
    pub fn new(format: Format, max_bytes: usize) -> Translator {
        Translator {
            format,
            max_bytes,
            rewrite_native: false,
            line: Vec::with_capacity(512),
        }
    }

    /// [`Translator::new`], except that native lines are decoded and written back in full
    /// (defaults made explicit, derived ids filled in), as `normalize` shows them.
    pub fn rewriting(format: Format, max_bytes: usize) -> Translator {
        Translator {
            rewrite_native: true,
            ..Translator::new(format, max_bytes)
        }
    }

    /// The input format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The size limit of one record.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// What `bytes`, one record, becomes.
    pub fn translate<'a>(&'a mut self, bytes: &'a [u8]) -> Translated<'a> {
        if self.format == Format::Loginwatch && !self.rewrite_native {
            return Translated::Event(bytes);
        }
        match decode_as(self.format, bytes, self.max_bytes) {
            Ok(Decoded::Event(event)) => {
                self.line.clear();
                if let Err(e) = serde_json::to_writer(&mut self.line, &event) {
                    // Cannot happen: every value of a decoded event serializes.
                    return reject(RejectReason::NotJson(e.to_string()), bytes);
                }
                // The contract line goes through the same size limit as the record did.
                if self.line.len() > self.max_bytes {
                    let (size, limit) = (self.line.len(), self.max_bytes);
                    return reject(RejectReason::TooLarge { size, limit }, bytes);
                }
                Translated::Event(&self.line)
            }
            Ok(Decoded::Skipped(skip)) => Translated::Skipped(skip),
            Err(reject) => Translated::Rejected(reject),
        }
    }
}

fn reject(reason: RejectReason, bytes: &[u8]) -> Translated<'static> {
    Translated::Rejected(Reject {
        reason,
        bytes: bytes.to_vec(),
    })
}

/// Reads `input` one bounded line at a time and hands `f` each non-blank line's number
/// (from 1) and what `translator` makes of it; returns how many lines and blank lines there
/// were. The one reading loop of `replay` (both drivers) and `normalize`.
pub(crate) fn for_each_record(
    input: &mut dyn BufRead,
    translator: &mut Translator,
    mut f: impl FnMut(u64, Translated<'_>) -> io::Result<()>,
) -> io::Result<(u64, u64)> {
    let (mut lines, mut blank) = (0, 0);
    let mut line = Vec::with_capacity(1024);
    while read_bounded_line(input, &mut line, translator.max_bytes())? {
        lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            blank += 1;
            continue;
        }
        f(lines, translator.translate(&line))?;
    }
    Ok((lines, blank))
}

/// What a `normalize` run saw, printed on stderr at the end.
#[derive(Debug, Default, Clone)]
pub struct NormalizeSummary {
    pub format: Format,
    pub lines: u64,
    pub blank_lines: u64,
    pub events: u64,
    pub skipped: BTreeMap<&'static str, u64>,
    pub rejected: BTreeMap<&'static str, u64>,
    pub elapsed: Duration,
}

impl fmt::Display for NormalizeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "normalize ({}): {} lines in {:.2} s",
            self.format,
            self.lines,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "  events:    {}", self.events)?;
        let total = |m: &BTreeMap<&str, u64>| m.values().sum::<u64>();
        writeln!(
            f,
            "  skipped:   {}{}",
            total(&self.skipped),
            list(&self.skipped)
        )?;
        write!(
            f,
            "  rejected:  {}{}",
            total(&self.rejected),
            list(&self.rejected)
        )
    }
}

/// Writes the contract event each record of `input` becomes to `output`, one a line;
/// rejected records go to `dead` as `replay` writes them, skipped ones are counted.
pub fn normalize(
    translator: &mut Translator,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    dead: &mut dyn Write,
) -> io::Result<NormalizeSummary> {
    let started = Instant::now();
    let format = translator.format();
    let (mut events, mut skipped, mut rejected) = (0, BTreeMap::new(), BTreeMap::new());
    let (lines, blank_lines) = for_each_record(input, translator, |line_no, t| {
        match t {
            Translated::Event(event) => {
                events += 1;
                output.write_all(event)?;
                output.write_all(b"\n")?;
            }
            Translated::Skipped(skip) => *skipped.entry(skip.code()).or_default() += 1,
            Translated::Rejected(reject) => {
                *rejected.entry(reject.reason.code()).or_default() += 1;
                write_dead_letter(dead, line_no, &reject)?;
            }
        }
        Ok(())
    })?;
    output.flush()?;
    dead.flush()?;
    Ok(NormalizeSummary {
        format,
        lines,
        blank_lines,
        events,
        skipped,
        rejected,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OKTA: &str = r#"{"uuid":"u1","published":"2026-11-24T10:05:00.123Z","eventType":"user.session.start","actor":{"alternateId":"kim@example.com","type":"User"},"client":{"ipAddress":"203.0.113.24"},"outcome":{"result":"SUCCESS"}}"#;

    #[test]
    fn native_lines_pass_through_and_vendor_records_become_contract_lines() {
        let native = br#"{"account_id":"a","ip":"1.2.3.4","timestamp":0}"#;
        let mut t = Translator::new(Format::Loginwatch, 4096);
        assert!(matches!(t.translate(native), Translated::Event(b) if b == native));
        let mut t = Translator::new(Format::Okta, 4096);
        let Translated::Event(line) = t.translate(OKTA.as_bytes()) else {
            panic!("an Okta login")
        };
        let e = loginwatch_model::decode(line, 4096).expect("a contract event");
        assert_eq!(
            (e.account_id.as_str(), e.event_id.as_str()),
            ("kim@example.com", "u1")
        );
        assert_eq!(e.timestamp.to_string(), "2026-11-24T10:05:00.123Z");
        let other = OKTA.replace("user.session.start", "user.account.lock");
        assert!(matches!(
            t.translate(other.as_bytes()),
            Translated::Skipped(Skip::NotLogin)
        ));
        match t.translate(b"{") {
            Translated::Rejected(r) => {
                assert_eq!((r.reason.code(), &r.bytes[..]), ("not_json", &b"{"[..]))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_contract_line_over_the_limit_is_rejected_with_the_record() {
        // The record fits; its contract line, with a derived 35-byte id, does not.
        let record = r#"{"type":"LOGIN","time":0,"userId":"u","ipAddress":"1.2.3.4"}"#;
        let mut t = Translator::new(Format::Keycloak, record.len());
        match t.translate(record.as_bytes()) {
            Translated::Rejected(r) => {
                assert_eq!(r.reason.code(), "too_large");
                assert_eq!(r.bytes, record.as_bytes());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn normalize_writes_events_counts_skips_and_dead_letters_rejects() {
        let input = format!(
            "{OKTA}\n\n{}\nnot json\n",
            OKTA.replace("user.session.start", "user.account.lock")
        );
        let (mut out, mut dead) = (Vec::new(), Vec::new());
        let mut t = Translator::rewriting(Format::Okta, 4096);
        let s = normalize(&mut t, &mut input.as_bytes(), &mut out, &mut dead).expect("io");
        assert_eq!((s.lines, s.blank_lines, s.events), (4, 1, 1));
        assert_eq!(s.skipped.get("not_login"), Some(&1));
        assert_eq!(s.rejected.get("not_json"), Some(&1));
        assert_eq!(String::from_utf8_lossy(&out).lines().count(), 1);
        let dead: serde_json::Value = serde_json::from_slice(&dead).expect("a dead letter");
        assert_eq!(
            (dead["line"].as_u64(), dead["original"].as_str()),
            (Some(4), Some("not json"))
        );
        let text = s.to_string();
        assert!(text.contains("skipped:   1 (not_login 1)"), "{text}");

        let mut native = Translator::rewriting(Format::Loginwatch, 4096);
        let mut out = Vec::new();
        let line = br#"{"account_id":"a","ip":"1.2.3.4","timestamp":0}"#;
        normalize(&mut native, &mut &line[..], &mut out, &mut io::sink()).expect("io");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains(r#""event_type":"login","outcome":"success""#),
            "{text}"
        );
    }
}
