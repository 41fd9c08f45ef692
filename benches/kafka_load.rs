//! `kafka_load`: the load tool of `benches/service-harness.sh` — drives `loginwatch run` through
//! a real Kafka-protocol broker and measures it from the outside. Not a criterion bench; it is a
//! `harness = false` bench target only so that it builds with the bench profile and the
//! workspace's rdkafka. Subcommands:
//!
//! - `create`: the input (`--partitions`), alert and dead-letter topics, through the admin API.
//! - `backlog`: produce the last `--events` lines of a `loginwatch gen` file, keyed by
//!   `account_id`, as fast as the broker takes them; exits once every one is acknowledged.
//! - `drain`: with the service started over that backlog, wait until the group's committed
//!   offsets reach the high watermarks; report events/s (max sustained throughput).
//! - `latency`: with the service running, produce at `--rate` events/s for `--duration`, consume
//!   the alert topic and report produce → alert-consumed latency (p50/p99/max).
//!
//! `drain` and `latency` sample the service every 250 ms (RSS and CPU from `/proc`,
//! `loginwatch_events_consumed_total` and `loginwatch_in_flight_messages` from `/metrics`) into
//! a TSV file. Every message carries an `lw-produced-at` header (epoch µs); alerts do not copy
//! input headers, so latency maps an alert's `event_ids` back to the produce time of its newest
//! event (the one that triggered it). The last stdout line is `RESULT key=value ...`.

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Parser, Subcommand};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Header stamped on every input message: produce time, epoch microseconds, decimal.
const PRODUCED_AT: &str = "lw-produced-at";
/// How often `drain` and `latency` sample the service.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Linux's clock tick for `/proc/PID/stat` CPU times (`getconf CLK_TCK`).
const CLK_TCK: f64 = 100.0;

#[derive(Parser)]
#[command(about = "Load and measure `loginwatch run` through a Kafka broker")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Create(Topics),
    Backlog(Produce),
    Drain(Watch),
    Latency(LatencyArgs),
    Consume(Bare),
}

/// A bare consumer reading the input topic to its high watermarks: the broker's own floor.
#[derive(Args, Clone)]
struct Bare {
    #[arg(long)]
    brokers: String,
    #[arg(long)]
    input: String,
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Start every partition at this offset instead of the beginning (a broker must then
    /// return that offset first, even from the middle of a record batch).
    #[arg(long)]
    from: Option<i64>,
}

#[derive(Args, Clone)]
struct Topics {
    #[arg(long)]
    brokers: String,
    #[arg(long)]
    input: String,
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    #[arg(long)]
    alerts: String,
    #[arg(long, default_value_t = 2)]
    alert_partitions: i32,
    #[arg(long)]
    dead_letters: String,
}

#[derive(Args, Clone)]
struct Produce {
    #[arg(long)]
    brokers: String,
    #[arg(long)]
    input: String,
    /// `loginwatch gen` output (JSON lines).
    #[arg(long)]
    file: String,
    /// Lines to produce from the end of the file.
    #[arg(long)]
    events: usize,
    /// Producer `batch.num.messages`.
    #[arg(long, default_value_t = 10000)]
    batch_messages: u32,
}

#[derive(Args, Clone)]
struct Watch {
    #[arg(long)]
    brokers: String,
    #[arg(long)]
    input: String,
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// The service's consumer group.
    #[arg(long)]
    group: String,
    /// The service's `metrics.listen` (host:port).
    #[arg(long)]
    metrics: String,
    /// The service's process id.
    #[arg(long)]
    pid: u32,
    /// The broker's process id (its RSS and CPU are sampled too).
    #[arg(long)]
    broker_pid: Option<u32>,
    /// TSV of samples: t_s, produced, consumed, in_flight, service RSS kB, broker RSS kB.
    #[arg(long)]
    samples: String,
    /// Events produced into the input topic (drain: done when the committed offsets add up to
    /// this; offsets start at 0 and are dense, and tansu's high watermarks are not reliable).
    #[arg(long, default_value_t = 0)]
    events: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

#[derive(Args, Clone)]
struct LatencyArgs {
    #[command(flatten)]
    watch: Watch,
    #[arg(long)]
    alerts: String,
    #[arg(long, default_value_t = 2)]
    alert_partitions: i32,
    #[arg(long)]
    file: String,
    /// Target input rate, events/s.
    #[arg(long)]
    rate: f64,
    /// Producer `batch.num.messages`.
    #[arg(long, default_value_t = 10000)]
    batch_messages: u32,
    /// Producer `linger.ms`: how long it may hold a message to batch it (counted in latency).
    #[arg(long, default_value_t = 5)]
    linger_ms: u32,
    /// Seconds of production at `--rate`.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench` to every bench target; this one only runs when asked.
    if std::env::args().any(|a| a == "--bench") {
        eprintln!("kafka_load: run through benches/service-harness.sh");
        return Ok(());
    }
    match Cli::parse().cmd {
        Cmd::Create(t) => create(&t),
        Cmd::Backlog(p) => backlog(&p),
        Cmd::Drain(w) => drain(&w),
        Cmd::Latency(l) => latency(&l),
        Cmd::Consume(b) => consume(&b),
    }
}

fn create(t: &Topics) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &t.brokers)
        .create()
        .context("admin client")?;
    let new = [
        NewTopic::new(&t.input, t.partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&t.alerts, t.alert_partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&t.dead_letters, 1, TopicReplication::Fixed(1)),
    ];
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for r in rt.block_on(admin.create_topics(&new, &opts))? {
        if let Err((topic, e)) = r {
            bail!("creating topic {topic}: {e}");
        }
    }
    println!("RESULT created={}", new.len());
    Ok(())
}

/// One input line and what it is keyed and identified by.
struct Event {
    line: String,
    account: String,
    id: String,
}

#[derive(serde::Deserialize)]
struct Ids<'a> {
    event_id: &'a str,
    account_id: &'a str,
}

/// The last `limit` lines of `path`: `gen`'s planted anomalies cluster at the end of its time
/// range, so that is where alerts flow.
fn load_events(path: &str, limit: usize) -> Result<Vec<Event>> {
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
struct Counting {
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

fn producer(brokers: &str, linger_ms: u32, batch: u32) -> Result<ThreadedProducer<Counting>> {
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

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Produces `events` in order at `rate` events/s (0 = as fast as possible), storing each one's
/// produce time in `times` and counting in `produced`. Returns the seconds it took.
fn produce_at(
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

fn flush(p: &ThreadedProducer<Counting>, n: usize) -> Result<()> {
    p.flush(Duration::from_secs(120)).context("flushing")?;
    let c = p.context();
    let (ok, failed) = (c.ok.load(Relaxed), c.failed.load(Relaxed));
    ensure!(
        ok == n as u64 && failed == 0,
        "delivered {ok}/{n}, {failed} failed"
    );
    Ok(())
}

fn backlog(a: &Produce) -> Result<()> {
    let events = load_events(&a.file, a.events)?;
    let p = producer(&a.brokers, 20, a.batch_messages)?;
    let times: Vec<AtomicU64> = (0..events.len()).map(|_| AtomicU64::new(0)).collect();
    let produced = AtomicUsize::new(0);
    let start = Instant::now();
    produce_at(&p, &a.input, &events, 0.0, &times, &produced);
    flush(&p, events.len())?;
    let s = start.elapsed().as_secs_f64();
    let eps = events.len() as f64 / s;
    eprintln!(
        "backlog: {} events acknowledged in {s:.1} s ({eps:.0}/s)",
        events.len()
    );
    println!(
        "RESULT produced={} produce_s={s:.2} produce_eps={eps:.0}",
        events.len()
    );
    Ok(())
}

/// One observation of the service (and broker).
#[derive(Clone, Copy, Default)]
struct Sample {
    t: f64,
    produced: usize,
    consumed: u64,
    in_flight: i64,
    rss_kb: u64,
    broker_rss_kb: u64,
}

/// Samples in the background until dropped.
struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(w: &Watch, produced: Arc<AtomicUsize>) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, w) = (samples.clone(), stop.clone(), w.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !st.load(Relaxed) {
                let m = http_get(&w.metrics, "/metrics")
                    .map(|r| r.1)
                    .unwrap_or_default();
                let sample = Sample {
                    t: start.elapsed().as_secs_f64(),
                    produced: produced.load(Relaxed),
                    consumed: metric(&m, "loginwatch_events_consumed_total") as u64,
                    in_flight: metric(&m, "loginwatch_in_flight_messages") as i64,
                    rss_kb: rss_kb(w.pid),
                    broker_rss_kb: w.broker_pid.map(rss_kb).unwrap_or(0),
                };
                s.lock().unwrap_or_else(|e| e.into_inner()).push(sample);
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        Sampler {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    fn latest(&self) -> Sample {
        let s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        s.last().copied().unwrap_or_default()
    }

    fn finish(mut self, path: &str) -> Result<Vec<Sample>> {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()));
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(
            f,
            "t_s\tproduced\tconsumed\tin_flight\trss_kb\tbroker_rss_kb"
        )?;
        for x in &s {
            let (t, p, c, i, r, b) = (
                x.t,
                x.produced,
                x.consumed,
                x.in_flight,
                x.rss_kb,
                x.broker_rss_kb,
            );
            writeln!(f, "{t:.2}\t{p}\t{c}\t{i}\t{r}\t{b}")?;
        }
        Ok(s)
    }
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|b| b.1).unwrap_or_default();
    Ok((status, body.to_owned()))
}

/// Sum of every series of metric `name` (any labels) in a Prometheus text body.
fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU seconds of `pid` so far.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / CLK_TCK
}

/// Sums of the group's committed offsets and of the high watermarks over the input partitions.
fn committed_and_high(c: &BaseConsumer, w: &Watch) -> Result<(i64, i64)> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..w.partitions {
        tpl.add_partition(&w.input, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(5))?;
    let mut committed = 0;
    let mut high = 0;
    for p in 0..w.partitions {
        if let Some(Offset::Offset(o)) = got.find_partition(&w.input, p).map(|e| e.offset()) {
            committed += o;
        }
        high += c.fetch_watermarks(&w.input, p, Duration::from_secs(5))?.1;
    }
    Ok((committed, high))
}

fn offset_reader(w: &Watch) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", &w.brokers)
        .set("group.id", &w.group) // reads the group's offsets; never joins it
        .create()
        .context("offset reader")
}

/// Peak RSS, peak in-flight and the first/last RSS of a run, as `key=value` text.
fn memory_summary(s: &[Sample]) -> String {
    let max_rss = s.iter().map(|x| x.rss_kb).max().unwrap_or(0);
    let max_broker = s.iter().map(|x| x.broker_rss_kb).max().unwrap_or(0);
    let max_in_flight = s.iter().map(|x| x.in_flight).max().unwrap_or(0);
    let first = s
        .iter()
        .find(|x| x.rss_kb > 0)
        .map(|x| x.rss_kb)
        .unwrap_or(0);
    let last = s.last().map(|x| x.rss_kb).unwrap_or(0);
    format!("rss_first_kb={first} rss_last_kb={last} rss_max_kb={max_rss} in_flight_max={max_in_flight} broker_rss_max_kb={max_broker}")
}

fn drain(w: &Watch) -> Result<()> {
    ensure!(w.events > 0, "drain needs --events");
    let reader = offset_reader(w)?;
    let (_, high) = committed_and_high(&reader, w)?;
    let sampler = Sampler::start(w, Arc::new(AtomicUsize::new(w.events as usize)));
    let (cpu0, bcpu0) = (cpu_s(w.pid), w.broker_pid.map(cpu_s).unwrap_or(0.0));
    let start = Instant::now();
    let (mut first, mut all_consumed) = (None, None);
    let done = loop {
        std::thread::sleep(Duration::from_millis(100));
        let s = sampler.latest();
        let t = start.elapsed().as_secs_f64();
        if first.is_none() && s.consumed > 0 {
            first = Some(s.t);
        }
        if all_consumed.is_none() && s.consumed >= w.events {
            all_consumed = Some(s.t);
        }
        if first.is_some() && committed_and_high(&reader, w)?.0 >= w.events as i64 {
            break t;
        }
        ensure!(
            t < w.timeout as f64,
            "not drained after {} s: {}",
            w.timeout,
            s.consumed
        );
    };
    let (cpu, bcpu) = (
        cpu_s(w.pid) - cpu0,
        w.broker_pid.map(cpu_s).unwrap_or(0.0) - bcpu0,
    );
    let samples = sampler.finish(&w.samples)?;
    let first = first.unwrap_or(0.0);
    let (committed_s, consumed_s) = (done - first, all_consumed.unwrap_or(done) - first);
    let n = w.events as f64;
    let steady = steady_rate(&samples, w.events);
    eprintln!(
        "drain: {n} events committed {committed_s:.1} s after the first was consumed ({:.0}/s)",
        n / committed_s
    );
    println!(
        "RESULT events={n} broker_high={high} committed_s={committed_s:.2} eps_committed={:.0} consumed_s={consumed_s:.2} eps_consumed={:.0} eps_steady={steady:.0} service_cpu_s={cpu:.1} broker_cpu_s={bcpu:.1} {} {}",
        n / committed_s,
        n / consumed_s,
        memory_summary(&samples),
        counters(w)?
    );
    Ok(())
}

/// The service's counters that tell whether a run is valid: every event consumed once, no
/// pause (each one loses the rest of a batch on tansu), alerts and rejects.
fn counters(w: &Watch) -> Result<String> {
    let m = http_get(&w.metrics, "/metrics")?.1;
    let get = |name| metric(&m, name) as u64;
    Ok(format!(
        "consumed={} pauses={} alerts_published={} rejected={}",
        get("loginwatch_events_consumed_total"),
        get("loginwatch_partition_pauses_total"),
        get("loginwatch_alerts_published_total"),
        get("loginwatch_events_rejected_total")
    ))
}

/// Events/s between the samples where 10 % and 90 % of `n` had been consumed (no warm-up, no
/// tail).
fn steady_rate(s: &[Sample], n: u64) -> f64 {
    let at = |q: f64| {
        s.iter()
            .find(|x| x.consumed as f64 >= q * n as f64)
            .copied()
    };
    match (at(0.1), at(0.9)) {
        (Some(a), Some(b)) if b.t > a.t => (b.consumed - a.consumed) as f64 / (b.t - a.t),
        _ => 0.0,
    }
}

/// Kind whose `event_ids` is each member's *first* login on the network, not the login that
/// crossed the threshold: its "latency" is that login's age, so it is reported apart.
const NO_TRIGGER_ID: &str = "shared_ip";

/// Latencies (µs) of the alerts read, split by whether the alert names its triggering event.
#[derive(Default)]
struct Latencies {
    /// Alerts whose newest event is the one that triggered them.
    triggered: Vec<u64>,
    /// `shared_ip` alerts: age of the member's first login on the network.
    first_login_age: Vec<u64>,
    /// Alerts naming no event of this run.
    unknown: usize,
}

/// Consumes the alert topic from the beginning until `stop`.
fn consume_alerts(
    a: &LatencyArgs,
    ids: &HashMap<&str, u32>,
    times: &[AtomicU64],
    stop: &AtomicBool,
) -> Result<Latencies> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &a.watch.brokers)
        .set("group.id", format!("{}-alert-reader", a.watch.group))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "20")
        .create()
        .context("alert consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..a.alert_partitions {
        tpl.add_partition_offset(&a.alerts, p, Offset::Beginning)?;
    }
    c.assign(&tpl)?;
    #[derive(serde::Deserialize)]
    struct AlertIds<'a> {
        kind: &'a str,
        event_ids: Vec<&'a str>,
    }
    let mut out = Latencies::default();
    while !stop.load(Relaxed) {
        let Some(m) = c.poll(Duration::from_millis(100)) else {
            continue;
        };
        let now = now_micros();
        let m = m?;
        let alert: AlertIds<'_> = serde_json::from_slice(m.payload().unwrap_or_default())?;
        let produced = alert.event_ids.iter().filter_map(|e| ids.get(e));
        match produced.map(|&i| times[i as usize].load(Relaxed)).max() {
            Some(t) if t > 0 && alert.kind == NO_TRIGGER_ID => {
                out.first_login_age.push(now.saturating_sub(t))
            }
            Some(t) if t > 0 => out.triggered.push(now.saturating_sub(t)),
            _ => out.unknown += 1,
        }
    }
    Ok(out)
}

/// The `q` quantile of sorted µs values, in ms.
fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |&v| v as f64 / 1000.0)
}

fn wait_ready(w: &Watch) -> Result<()> {
    let start = Instant::now();
    while http_get(&w.metrics, "/readyz").map(|r| r.0).unwrap_or(0) != 200 {
        ensure!(
            start.elapsed() < Duration::from_secs(60),
            "service not ready after 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn latency(a: &LatencyArgs) -> Result<()> {
    let n = (a.rate * a.duration) as usize;
    let events = load_events(&a.file, n)?;
    let ids: HashMap<&str, u32> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i as u32))
        .collect();
    let times: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let p = producer(&a.watch.brokers, a.linger_ms, a.batch_messages)?;
    wait_ready(&a.watch)?;
    let produced = Arc::new(AtomicUsize::new(0));
    let sampler = Sampler::start(&a.watch, produced.clone());
    let (cpu0, bcpu0) = (
        cpu_s(a.watch.pid),
        a.watch.broker_pid.map(cpu_s).unwrap_or(0.0),
    );
    let stop = AtomicBool::new(false);
    let (produce_s, result) = std::thread::scope(|s| {
        let consumer = s.spawn(|| consume_alerts(a, &ids, &times, &stop));
        let produce_s = produce_at(&p, &a.watch.input, &events, a.rate, &times, &produced);
        let settled = flush(&p, n).map(|()| wait_settled(&sampler, n as u64, a.watch.timeout));
        std::thread::sleep(Duration::from_secs(2)); // the last alerts reach the reader
        stop.store(true, Relaxed);
        let r = consumer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("alert reader panicked")));
        (produce_s, settled.and_then(|settled| Ok((settled, r?))))
    });
    let (settled, mut lat) = result?;
    let (cpu, bcpu) = (
        cpu_s(a.watch.pid) - cpu0,
        a.watch.broker_pid.map(cpu_s).unwrap_or(0.0) - bcpu0,
    );
    let samples = sampler.finish(&a.watch.samples)?;
    lat.triggered.sort_unstable();
    lat.first_login_age.sort_unstable();
    let t = &lat.triggered;
    let behind = samples
        .iter()
        .map(|x| x.produced as i64 - x.consumed as i64)
        .max()
        .unwrap_or(0);
    let shared = &lat.first_login_age;
    eprintln!(
        "latency: {} alerts, p50 {:.1} ms, p99 {:.1} ms at {:.0} events/s (+{} {NO_TRIGGER_ID})",
        t.len(),
        quantile_ms(t, 0.5),
        quantile_ms(t, 0.99),
        n as f64 / produce_s,
        shared.len()
    );
    println!(
        "RESULT settled={settled} events={n} rate_target={:.0} rate_achieved={:.0} alerts={} unknown_alerts={} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} shared_ip_alerts={} shared_ip_age_p50_ms={:.1} behind_max={behind} service_cpu_s={cpu:.1} broker_cpu_s={bcpu:.1} {} {}",
        a.rate,
        n as f64 / produce_s,
        t.len(),
        lat.unknown,
        quantile_ms(t, 0.5),
        quantile_ms(t, 0.9),
        quantile_ms(t, 0.99),
        t.last().map_or(0.0, |&v| v as f64 / 1000.0),
        shared.len(),
        quantile_ms(shared, 0.5),
        memory_summary(&samples),
        counters(&a.watch)?
    );
    Ok(())
}

/// Waits until the service has consumed `n` events and has none in flight: `true`; `false`
/// after `timeout` s, or once the consumed count has not moved for 15 s (messages were lost:
/// on tansu, a pause does that).
fn wait_settled(sampler: &Sampler, n: u64, timeout: u64) -> bool {
    let start = Instant::now();
    let (mut last, mut moved) = (0, Instant::now());
    loop {
        let s = sampler.latest();
        if s.consumed >= n && s.in_flight == 0 {
            return true;
        }
        if s.consumed != last {
            (last, moved) = (s.consumed, Instant::now());
        }
        if start.elapsed().as_secs() >= timeout || moved.elapsed() > Duration::from_secs(15) {
            eprintln!("latency: the service consumed {} of {n} events", s.consumed);
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads every partition from the beginning to its high watermark with a plain consumer (no
/// group, no processing): messages, offset gaps, events/s.
fn consume(b: &Bare) -> Result<()> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &b.brokers)
        .set("group.id", "kafka-load-bare")
        .set("enable.auto.commit", "false")
        .create()
        .context("bare consumer")?;
    let mut tpl = TopicPartitionList::new();
    let mut high = Vec::new();
    for p in 0..b.partitions {
        let start = b.from.map_or(Offset::Beginning, Offset::Offset);
        tpl.add_partition_offset(&b.input, p, start)?;
        high.push(c.fetch_watermarks(&b.input, p, Duration::from_secs(5))?.1);
    }
    c.assign(&tpl)?;
    let mut next: Vec<i64> = vec![b.from.unwrap_or(0); high.len()];
    let (mut n, mut gaps, start) = (0u64, 0u64, Instant::now());
    while next.iter().zip(&high).any(|(n, h)| n < h) {
        ensure!(
            start.elapsed() < Duration::from_secs(300),
            "not done: {next:?} of {high:?}"
        );
        let Some(m) = c.poll(Duration::from_millis(500)) else {
            continue;
        };
        let m = m?;
        let p = m.partition() as usize;
        gaps += u64::from(m.offset() != next[p]);
        next[p] = m.offset() + 1;
        n += 1;
    }
    let s = start.elapsed().as_secs_f64();
    eprintln!("consume: {n} messages to high watermarks {high:?} in {s:.2} s, {gaps} offset gaps");
    println!(
        "RESULT messages={n} high={} gaps={gaps} consume_s={s:.2} eps={:.0}",
        high.iter().sum::<i64>(),
        n as f64 / s
    );
    Ok(())
}
