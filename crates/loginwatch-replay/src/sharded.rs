//! `loginwatch replay`: the reader thread shards lines by account across worker threads, each
//! owning a [`Pipeline`] (so one account's events stay in order on one engine, no locks on the
//! per-account path), and a writer thread writes their alerts and dead letters. With one
//! worker, the reader decodes the lines too (the worker's pipeline observes what it decoded),
//! so reading and decoding run beside detection instead of before it.
//!
//! Every channel is bounded: `QUEUE_BATCHES` batches of up to `BATCH_LINES` lines per worker,
//! and as many result batches towards the writer, so memory stays flat whatever the input size.
//! Workers hand emptied batches back to the reader, which refills them instead of allocating.

use crate::locator::SharedLocator;
use crate::normalize::{for_each_record, Translated, Translator};
use crate::replay::{write_dead_letter, Lines, Summary};
use loginwatch_detect::{Decoder, Group, Pipeline};
use loginwatch_model::{Alert, AlertFormat};
use std::borrow::Cow;
use std::io::{self, BufRead, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

/// Lines per batch sent to a worker.
const BATCH_LINES: usize = 512;
/// Batches queued per worker (and per worker towards the writer).
const QUEUE_BATCHES: usize = 8;

/// Lines for a worker and, when the reader decodes (one worker), the groups it decoded them
/// into; otherwise the worker's pipeline decodes them into its own group.
#[derive(Default)]
struct Batch {
    lines: Lines,
    groups: Vec<Group>,
    /// `groups` hold these lines.
    decoded: bool,
}

impl Batch {
    /// Forgets the lines, keeping the buffers (the groups' events' too).
    fn clear(&mut self) {
        self.lines.clear();
        self.decoded = false;
    }
}

/// What a worker made of a batch: serialized alerts and dead letters plus counts.
#[derive(Default)]
struct Output {
    alerts: Vec<u8>,
    dead: Vec<u8>,
    rejected: Vec<&'static str>,
    alert_kinds: Vec<&'static str>,
    /// The worker it goes back to once written, buffers and all (none: dropped).
    worker: Option<usize>,
}

impl Output {
    /// Forgets what was written, keeping the buffers.
    fn clear(&mut self) {
        self.alerts.clear();
        self.dead.clear();
        self.rejected.clear();
        self.alert_kinds.clear();
    }

    fn add_alerts(&mut self, alerts: &[Alert], format: AlertFormat) -> io::Result<()> {
        for alert in alerts {
            self.alert_kinds.push(alert.kind.as_str());
            format.write(&mut self.alerts, alert)?;
            self.alerts.push(b'\n');
        }
        Ok(())
    }
}

/// The `account_id` string of a line, found without decoding the whole line: the value's own
/// bytes, or the decoded text when it holds escapes (as `\u00e9` from writers that escape
/// every non-ASCII character); `None` when absent, not a string, or not valid JSON (such
/// lines all go to shard 0, where the decoder judges them).
pub(crate) fn account_key(line: &[u8]) -> Option<Cow<'_, [u8]>> {
    const KEY: &[u8] = b"\"account_id\"";
    let at = memchr::memmem::find(line, KEY)? + KEY.len();
    let rest = &line[at..];
    let colon = rest.iter().position(|&c| !c.is_ascii_whitespace())?;
    let rest = rest.get(colon..)?.strip_prefix(b":")?;
    let open = rest.iter().position(|&c| !c.is_ascii_whitespace())?;
    let value = rest.get(open..)?;
    let rest = value.strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] == b'"' {
        return Some(Cow::Borrowed(&rest[..end]));
    }
    // Escapes: let the JSON parser read the string (it stops at its closing quote).
    let mut strings = serde_json::Deserializer::from_slice(value).into_iter::<String>();
    Some(Cow::Owned(strings.next()?.ok()?.into_bytes()))
}

/// The worker that owns `account` (where its lines go: [`account_key`] finds the id itself).
pub(crate) fn shard_of_account(account: &str, workers: usize) -> usize {
    shard_of_key(Some(account.as_bytes()), workers)
}

fn shard_of(line: &[u8], workers: usize) -> usize {
    shard_of_key(account_key(line).as_deref(), workers)
}

/// The worker of an account's id bytes; shard 0 when they are unknown.
fn shard_of_key(key: Option<&[u8]>, workers: usize) -> usize {
    key.map_or(0, |k| {
        (xxhash_rust::xxh3::xxh3_64(k) % workers as u64) as usize
    })
}

/// Worker `me`: observes the batches of `rx` and sends what they caused to the writer (`tx`),
/// which hands the written outputs back through `written`.
fn work(
    me: usize,
    mut pipeline: Pipeline<SharedLocator>,
    rx: Receiver<Batch>,
    tx: SyncSender<Output>,
    (spares, written): (SyncSender<Batch>, Receiver<Output>),
    format: AlertFormat,
) -> Pipeline<SharedLocator> {
    for mut batch in rx {
        // Buffers the writer is done with: fresh ones would cost page faults as they grow.
        let mut out = written.try_recv().unwrap_or_default();
        out.worker = Some(me);
        // Writing into a Vec cannot fail.
        let groups = (&mut batch.groups, batch.decoded);
        let _ = batch
            .lines
            .process(groups, &mut pipeline, |line_no, outcome| {
                match outcome {
                    Ok(alerts) => out.add_alerts(alerts, format)?,
                    Err(reject) => {
                        out.rejected.push(reject.reason.code());
                        write_dead_letter(&mut out.dead, line_no, reject)?;
                    }
                }
                io::Result::Ok(())
            });
        // Back to the reader, buffers and all: fresh ones would cost it page faults.
        batch.clear();
        let _ = spares.try_send(batch);
        if tx.send(out).is_err() {
            break;
        }
    }
    pipeline
}

/// Writes the outputs of `rx` and hands each back to its worker (`written`).
fn write_all(
    rx: Receiver<Output>,
    written: Vec<SyncSender<Output>>,
    alerts_out: &mut dyn Write,
    dead: &mut dyn Write,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    for mut out in rx {
        alerts_out.write_all(&out.alerts)?;
        dead.write_all(&out.dead)?;
        for &code in &out.rejected {
            *summary.rejected.entry(code).or_default() += 1;
        }
        for &kind in &out.alert_kinds {
            *summary.alerts.entry(kind).or_default() += 1;
        }
        if let Some(back) = out.worker.and_then(|w| written.get(w)) {
            out.clear();
            let _ = back.try_send(out);
        }
    }
    alerts_out.flush()?;
    dead.flush()?;
    Ok(summary)
}

/// Dead letters of records the input format rejected, sent to the writer once this big.
const REJECTS_BYTES: usize = 64 * 1024;

/// Reads `input`, translates it from the input format and feeds the workers, decoding their
/// batches first with `decoder` when it is given (one worker); records the format rejects go
/// to the writer as dead letters. Returns the line counts and skips.
fn read_all(
    input: &mut dyn BufRead,
    senders: &[SyncSender<Batch>],
    spares: &Receiver<Batch>,
    translator: &mut Translator,
    mut decoder: Option<&mut Decoder>,
    writer: &SyncSender<Output>,
) -> io::Result<Summary> {
    let mut batches: Vec<Batch> = senders.iter().map(|_| Batch::default()).collect();
    let mut send_batch = |shard: usize, batch: &mut Batch| {
        if let Some(decoder) = decoder.as_deref_mut() {
            batch.lines.decode(decoder, &mut batch.groups);
            batch.decoded = true;
        }
        let full = std::mem::replace(batch, spares.try_recv().unwrap_or_default());
        senders[shard]
            .send(full)
            .map_err(|_| io::Error::other("a replay worker stopped"))
    };
    let mut counts = Summary::default();
    let mut rejects = Output::default();
    let (lines, blank_lines) = for_each_record(input, translator, |line_no, t| {
        let event = match t {
            Translated::Event(event) => event,
            Translated::Skipped(skip) => {
                counts.skip(skip);
                return Ok(());
            }
            Translated::Rejected(reject) => {
                rejects.rejected.push(reject.reason.code());
                write_dead_letter(&mut rejects.dead, line_no, &reject)?;
                if rejects.dead.len() >= REJECTS_BYTES {
                    send(writer, std::mem::take(&mut rejects))?;
                }
                return Ok(());
            }
        };
        let shard = match senders.len() {
            1 => 0,
            n => shard_of(event, n),
        };
        let batch = &mut batches[shard];
        batch.lines.push(line_no, event);
        if batch.lines.len() >= BATCH_LINES {
            send_batch(shard, batch)?;
        }
        Ok(())
    })?;
    (counts.lines, counts.blank_lines) = (lines, blank_lines);
    for (shard, batch) in batches.iter_mut().enumerate() {
        if batch.lines.len() > 0 {
            send_batch(shard, batch)?;
        }
    }
    if !rejects.rejected.is_empty() {
        send(writer, rejects)?;
    }
    Ok(counts)
}

fn send(writer: &SyncSender<Output>, out: Output) -> io::Result<()> {
    writer
        .send(out)
        .map_err(|_| io::Error::other("the replay writer stopped"))
}

/// Replays `input` over one pipeline per worker (`pipelines.len()` workers, engine `i` named
/// owner `i`), writing alerts as `format`; returns the summary and the pipelines (their
/// engines' state). With one worker the reader decodes with `decoder` (records of the input
/// format: `translator` passes them through); with several, the reader translates records into
/// contract lines (it must find each one's account) and the workers decode those.
pub(crate) fn replay_sharded(
    pipelines: Vec<Pipeline<SharedLocator>>,
    input: &mut dyn BufRead,
    alerts_out: &mut (dyn Write + Send),
    dead: &mut (dyn Write + Send),
    translator: &mut Translator,
    mut decoder: Option<Decoder>,
    format: AlertFormat,
) -> io::Result<(Summary, Vec<Pipeline<SharedLocator>>)> {
    let started = Instant::now();
    let workers = pipelines.len().max(1);
    std::thread::scope(|scope| {
        let (out_tx, out_rx) = sync_channel::<Output>(QUEUE_BATCHES * workers);
        let (written_tx, written_rx): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| sync_channel::<Output>(QUEUE_BATCHES))
            .unzip();
        let writer = scope.spawn(move || write_all(out_rx, written_tx, alerts_out, dead));
        // Emptied batches come back to the reader for reuse (bounded; extras are dropped).
        let (spare_tx, spare_rx) = sync_channel::<Batch>((QUEUE_BATCHES + 1) * workers);
        let mut senders = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for (me, (pipeline, written)) in pipelines.into_iter().zip(written_rx).enumerate() {
            let (tx, rx) = sync_channel::<Batch>(QUEUE_BATCHES);
            let spares = (spare_tx.clone(), written);
            let out_tx = out_tx.clone();
            senders.push(tx);
            handles.push(scope.spawn(move || work(me, pipeline, rx, out_tx, spares, format)));
        }
        drop(spare_tx);
        let read = read_all(
            input,
            &senders,
            &spare_rx,
            translator,
            decoder.as_mut(),
            &out_tx,
        );
        drop(senders);
        let mut finished: Vec<_> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        // Every engine is done observing: the laptop-farm findings engines left for each
        // other's accounts are all posted; each owner turns its own into alerts.
        let mut alerts = Vec::new();
        for p in &mut finished {
            alerts.clear();
            p.engine_mut().take_deliveries(&mut alerts);
            let mut out = Output::default();
            out.add_alerts(&alerts, format)?;
            if out_tx.send(out).is_err() {
                break;
            }
        }
        drop(out_tx);
        let mut summary = writer
            .join()
            .map_err(|_| io::Error::other("writer thread panicked"))??;
        let counts = read?;
        if finished.len() != workers {
            return Err(io::Error::other("a replay worker panicked"));
        }
        summary.lines = counts.lines;
        summary.blank_lines = counts.blank_lines;
        summary.skipped = counts.skipped;
        if let Some(decoder) = &decoder {
            summary.add_skipped(&decoder.skipped());
        }
        for p in &finished {
            summary.add_engine(p.engine());
        }
        if let Some(p) = finished.first() {
            summary.add_shared_index(p.engine());
        }
        summary.elapsed = started.elapsed();
        Ok((summary, finished))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A line holding `account` as serde_json writes it, and as writers that escape every
    /// non-ASCII character and `/` (Python's `json.dumps`, say) write it.
    fn lines_of(account: &str) -> (String, String) {
        let line = serde_json::json!({ "account_id": account, "ip": "x" }).to_string();
        let mut escaped = String::from("{\"account_id\":\"");
        for c in account.chars() {
            match c {
                '"' | '\\' => escaped.extend(['\\', c]),
                '/' => escaped.push_str("\\/"),
                c if c.is_ascii() && !c.is_ascii_control() => escaped.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        escaped.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
        }
        escaped.push_str("\",\"ip\":\"x\"}");
        (line, escaped)
    }

    proptest! {
        #[test]
        fn any_id_is_found_however_it_is_escaped(account in any::<String>(), junk in any::<Vec<u8>>()) {
            let (line, escaped) = lines_of(&account);
            for line in [line, escaped] {
                let found = account_key(line.as_bytes());
                prop_assert_eq!(found.as_deref(), Some(account.as_bytes()));
            }
            // Whatever the bytes, an answer and no panic.
            let _ = account_key(&junk);
            let mut cut = br#"{"account_id":"a\u00"#.to_vec();
            cut.extend_from_slice(&junk);
            let _ = account_key(&cut);
        }
    }

    #[test]
    fn an_account_goes_where_its_lines_go() {
        for account in [
            "a-1",
            "kim.dev@example.com",
            "ünï",
            "a\"b",
            "a\\b",
            "tab\there",
            "a/b",
            "emoji 😀",
            "",
        ] {
            let (line, escaped) = lines_of(account);
            for workers in [1, 2, 3, 7] {
                for line in [&line, &escaped] {
                    assert_eq!(
                        shard_of_account(account, workers),
                        shard_of(line.as_bytes(), workers),
                        "{account:?} over {workers} in {line}"
                    );
                }
            }
        }
    }

    #[test]
    fn finds_the_account_key_without_decoding() {
        assert_eq!(
            account_key(br#"{"account_id":"a-1","ip":"x"}"#).as_deref(),
            Some(&b"a-1"[..])
        );
        assert_eq!(
            account_key(br#"{"ip":"x", "account_id" : "b" }"#).as_deref(),
            Some(&b"b"[..])
        );
        assert_eq!(
            account_key(br#"{"account_id":"a\"b"}"#).as_deref(),
            Some(&b"a\"b"[..])
        );
        assert_eq!(
            account_key(br#"{"account_id":"\u00fcn\u00ef" }"#).as_deref(),
            Some("ünï".as_bytes())
        );
        assert_eq!(account_key(br#"{"account_id":"bad \x escape"}"#), None);
        assert_eq!(account_key(br#"{"account_id":7}"#), None);
        assert_eq!(account_key(b"garbage"), None);
    }
}
