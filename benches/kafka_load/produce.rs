//! The load side: the input lines of a `loginwatch gen` file, and a producer that sends them
//! keyed by account at a set rate, stamping each with its produce time.

use anyhow::{ensure, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Header stamped on every input message: produce time, epoch microseconds, decimal.
pub(crate) const PRODUCED_AT: &str = "lw-produced-at";

/// One input line and what it is keyed and identified by.
pub(crate) struct Event {
    line: String,
    account: String,
    pub(crate) id: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct Ids<'a> {
    event_id: &'a str,
    account_id: &'a str,
}

/// The last `limit` lines of `path`: `gen`'s planted anomalies cluster at the end of its time
/// range, so that is where alerts flow.
pub(crate) fn load_events(path: &str, limit: usize) -> Result<Vec<Event>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let mut tail = std::collections::VecDeque::with_capacity(limit);
    for line in BufReader::with_capacity(1 << 20, f).lines() {
        if tail.len() == limit {
            tail.pop_front();
        }
        tail.push_back(line?);
    }
    ensure!(tail.len() == limit, "{path} has only {} lines", tail.len());
    let mut out = Vec::with_capacity(limit);
    for line in tail {
        let ids: Ids<'_> = serde_json::from_str(&line).context("event line")?;
        let (account, id) = (ids.account_id.to_owned(), ids.event_id.to_owned());
        out.push(Event { line, account, id });
    }
    Ok(out)
}

/// Counts delivery reports.
#[derive(Default)]
pub(crate) struct Counting {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => self.ok.fetch_add(1, Relaxed),
            Err(_) => self.failed.fetch_add(1, Relaxed),
        };
    }
}

pub(crate) fn producer(
    brokers: &str,
    linger_ms: u32,
    batch: u32,
) -> Result<ThreadedProducer<Counting>> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", linger_ms.to_string())
        .set("partitioner", "murmur2_random") // what a Java producer keyed by account does
        .set("queue.buffering.max.messages", "200000")
        // tansu, asked to fetch from an offset inside a record batch, answers from the next
        // batch (the rest of that batch is skipped), and reports the last batch's base offset
        // as the high watermark. librdkafka re-fetches from the middle of a batch after every
        // pause/resume, which is how loginwatch applies backpressure: `--batch-messages 1`
        // makes every offset start a batch (nothing skipped, but tansu ingests ~7k/s).
        .set("batch.num.messages", batch.to_string())
        .create_with_context(Counting::default())
        .context("producer")
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Produces `events` in order at `rate` events/s (0 = as fast as possible), storing each one's
/// produce time in `times` and counting in `produced`. Returns the seconds it took.
pub(crate) fn produce_at(
    p: &ThreadedProducer<Counting>,
    topic: &str,
    events: &[Event],
    rate: f64,
    times: &[AtomicU64],
    produced: &AtomicUsize,
) -> f64 {
    let start = Instant::now();
    let mut i = 0;
    while i < events.len() {
        let due = if rate > 0.0 {
            ((start.elapsed().as_secs_f64() * rate) as usize).min(events.len())
        } else {
            events.len()
        };
        while i < due {
            let (ev, t) = (&events[i], now_micros());
            let stamp = t.to_string();
            let headers = OwnedHeaders::new().insert(Header {
                key: PRODUCED_AT,
                value: Some(&stamp),
            });
            let mut rec = BaseRecord::to(topic)
                .key(&ev.account)
                .payload(&ev.line)
                .headers(headers);
            loop {
                match p.send(rec) {
                    Ok(()) => break,
                    Err((_queue_full_or_other, back)) => {
                        rec = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            times[i].store(t, Relaxed);
            i += 1;
            produced.store(i, Relaxed);
        }
        if i < events.len() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    start.elapsed().as_secs_f64()
}

pub(crate) fn flush(p: &ThreadedProducer<Counting>, n: usize) -> Result<()> {
    p.flush(Duration::from_secs(120)).context("flushing")?;
    let c = p.context();
    let (ok, failed) = (c.ok.load(Relaxed), c.failed.load(Relaxed));
    ensure!(
        ok == n as u64 && failed == 0,
        "delivered {ok}/{n}, {failed} failed"
    );
    Ok(())
}
