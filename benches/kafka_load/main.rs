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
//! - `compare`: the alert topic against `replay`'s alerts (`compare.rs`).
//!
//! `drain` and `latency` sample the service every 250 ms (RSS and CPU from `/proc`,
//! `loginwatch_events_consumed_total` and `loginwatch_in_flight_messages` from `/metrics`) into
//! a TSV file. Every message carries an `lw-produced-at` header (epoch µs); alerts do not copy
//! input headers, so latency maps an alert's `event_ids` back to the produce time of its newest
//! event (the one that triggered it). The last stdout line is `RESULT key=value ...`.

mod alerts;
mod compare;
mod produce;
mod sample;

use alerts::{consume_alerts, quantile_ms, NO_TRIGGER_ID};
use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Parser, Subcommand};
use produce::{flush, load_events, produce_at, producer};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use sample::{cpu_s, http_get, memory_summary, metric, steady_rate, Sampler};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    Compare(compare::CompareArgs),
}

/// The broker and the input topic (`--brokers`, `--input`), common to every subcommand.
#[derive(Args, Clone)]
struct Target {
    #[arg(long)]
    brokers: String,
    #[arg(long)]
    input: String,
}

/// A bare consumer reading the input topic to its high watermarks: the broker's own floor.
#[derive(Args, Clone)]
struct Bare {
    #[command(flatten)]
    target: Target,
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Start every partition at this offset instead of the beginning (a broker must then
    /// return that offset first, even from the middle of a record batch).
    #[arg(long)]
    from: Option<i64>,
}

#[derive(Args, Clone)]
struct Topics {
    #[command(flatten)]
    target: Target,
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
    #[command(flatten)]
    target: Target,
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
    #[command(flatten)]
    target: Target,
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
        Cmd::Compare(c) => compare::compare(&c),
    }
}

fn create(t: &Topics) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &t.target.brokers)
        .create()
        .context("admin client")?;
    let new = [
        NewTopic::new(&t.target.input, t.partitions, TopicReplication::Fixed(1)),
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

fn backlog(a: &Produce) -> Result<()> {
    let events = load_events(&a.file, a.events)?;
    let p = producer(&a.target.brokers, 20, a.batch_messages)?;
    let times: Vec<AtomicU64> = (0..events.len()).map(|_| AtomicU64::new(0)).collect();
    let produced = AtomicUsize::new(0);
    let start = Instant::now();
    produce_at(&p, &a.target.input, &events, 0.0, &times, &produced);
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

/// Sums of the group's committed offsets and of the high watermarks over the input partitions.
fn committed_and_high(c: &BaseConsumer, w: &Watch) -> Result<(i64, i64)> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..w.partitions {
        tpl.add_partition(&w.target.input, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(5))?;
    let mut committed = 0;
    let mut high = 0;
    for p in 0..w.partitions {
        if let Some(Offset::Offset(o)) = got.find_partition(&w.target.input, p).map(|e| e.offset())
        {
            committed += o;
        }
        high += c
            .fetch_watermarks(&w.target.input, p, Duration::from_secs(5))?
            .1;
    }
    Ok((committed, high))
}

fn offset_reader(w: &Watch) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", &w.target.brokers)
        .set("group.id", &w.group) // reads the group's offsets; never joins it
        .create()
        .context("offset reader")
}

fn drain(w: &Watch) -> Result<()> {
    ensure!(w.events > 0, "drain needs --events");
    let reader = offset_reader(w)?;
    let (_, high) = committed_and_high(&reader, w)?;
    let sampler = Sampler::start(
        w.metrics.clone(),
        w.pid,
        w.broker_pid,
        Arc::new(AtomicUsize::new(w.events as usize)),
    );
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
    let p = producer(&a.watch.target.brokers, a.linger_ms, a.batch_messages)?;
    wait_ready(&a.watch)?;
    let produced = Arc::new(AtomicUsize::new(0));
    let sampler = Sampler::start(
        a.watch.metrics.clone(),
        a.watch.pid,
        a.watch.broker_pid,
        produced.clone(),
    );
    let (cpu0, bcpu0) = (
        cpu_s(a.watch.pid),
        a.watch.broker_pid.map(cpu_s).unwrap_or(0.0),
    );
    let stop = AtomicBool::new(false);
    let (produce_s, result) = std::thread::scope(|s| {
        let consumer = s.spawn(|| consume_alerts(a, &ids, &times, &stop));
        let produce_s = produce_at(
            &p,
            &a.watch.target.input,
            &events,
            a.rate,
            &times,
            &produced,
        );
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
        .set("bootstrap.servers", &b.target.brokers)
        .set("group.id", "kafka-load-bare")
        .set("enable.auto.commit", "false")
        .create()
        .context("bare consumer")?;
    let mut tpl = TopicPartitionList::new();
    let mut high = Vec::new();
    for p in 0..b.partitions {
        let start = b.from.map_or(Offset::Beginning, Offset::Offset);
        tpl.add_partition_offset(&b.target.input, p, start)?;
        high.push(
            c.fetch_watermarks(&b.target.input, p, Duration::from_secs(5))?
                .1,
        );
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
