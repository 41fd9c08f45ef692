//! Measuring the service from outside: periodic [`Sample`]s of its `/metrics` counters and of
//! the service's and broker's RSS and CPU from `/proc`, and the summaries drawn from them.

use anyhow::Result;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often `drain` and `latency` sample the service.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Linux's clock tick for `/proc/PID/stat` CPU times (`getconf CLK_TCK`).
const CLK_TCK: f64 = 100.0;

/// One observation of the service (and broker).
#[derive(Clone, Copy, Default)]
pub(crate) struct Sample {
    pub(crate) t: f64,
    pub(crate) produced: usize,
    pub(crate) consumed: u64,
    pub(crate) in_flight: i64,
    pub(crate) rss_kb: u64,
    pub(crate) broker_rss_kb: u64,
}

/// Samples in the background until dropped.
pub(crate) struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Samples `pid` (and `broker_pid`) and the service's `/metrics` on `metrics` (host:port).
    pub(crate) fn start(
        metrics: String,
        pid: u32,
        broker_pid: Option<u32>,
        produced: Arc<AtomicUsize>,
    ) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (samples.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !st.load(Relaxed) {
                let m = http_get(&metrics, "/metrics")
                    .map(|r| r.1)
                    .unwrap_or_default();
                let sample = Sample {
                    t: start.elapsed().as_secs_f64(),
                    produced: produced.load(Relaxed),
                    consumed: metric(&m, "loginwatch_events_consumed_total") as u64,
                    in_flight: metric(&m, "loginwatch_in_flight_messages") as i64,
                    rss_kb: rss_kb(pid),
                    broker_rss_kb: broker_pid.map(rss_kb).unwrap_or(0),
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

    pub(crate) fn latest(&self) -> Sample {
        let s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        s.last().copied().unwrap_or_default()
    }

    pub(crate) fn finish(mut self, path: &str) -> Result<Vec<Sample>> {
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
pub(crate) fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
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
pub(crate) fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub(crate) fn rss_kb(pid: u32) -> u64 {
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
pub(crate) fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / CLK_TCK
}

/// Peak RSS, peak in-flight and the first/last RSS of a run, as `key=value` text.
pub(crate) fn memory_summary(s: &[Sample]) -> String {
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

/// Events/s between the samples where 10 % and 90 % of `n` had been consumed (no warm-up, no
/// tail).
pub(crate) fn steady_rate(s: &[Sample], n: u64) -> f64 {
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
