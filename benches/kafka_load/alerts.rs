//! The alert side of `latency`: reads the alert topic back and maps each alert to the produce
//! time of the event that triggered it.

use super::produce::now_micros;
use super::LatencyArgs;
use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Kind whose `event_ids` is each member's *first* login on the network, not the login that
/// crossed the threshold: its "latency" is that login's age, so it is reported apart.
pub(crate) const NO_TRIGGER_ID: &str = "shared_ip";

/// Latencies (µs) of the alerts read, split by whether the alert names its triggering event.
#[derive(Default)]
pub(crate) struct Latencies {
    /// Alerts whose newest event is the one that triggered them.
    pub(crate) triggered: Vec<u64>,
    /// `shared_ip` alerts: age of the member's first login on the network.
    pub(crate) first_login_age: Vec<u64>,
    /// Alerts naming no event of this run.
    pub(crate) unknown: usize,
}

/// Consumes the alert topic from the beginning until `stop`.
pub(crate) fn consume_alerts(
    a: &LatencyArgs,
    ids: &HashMap<&str, u32>,
    times: &[AtomicU64],
    stop: &AtomicBool,
) -> Result<Latencies> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &a.watch.target.brokers)
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
pub(crate) fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |&v| v as f64 / 1000.0)
}
