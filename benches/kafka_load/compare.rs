//! `compare`: the alert topic against `replay`'s alerts on the same events — what
//! `benches/members-harness.sh` reports after killing or adding members. Every alert is
//! compared by its id, except `shared_ip` and `account_risk`, compared by kind and account
//! (which login carries a cross-account finding, or tips the risk score over, depends on how
//! partitions interleave; which accounts are flagged does not).

use anyhow::{Context, Result};
use clap::Args;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Args, Clone)]
pub(crate) struct CompareArgs {
    #[arg(long)]
    brokers: String,
    /// The alert topic.
    #[arg(long)]
    alerts: String,
    #[arg(long, default_value_t = 2)]
    alert_partitions: i32,
    /// `loginwatch replay` output over the same events (JSON lines).
    #[arg(long)]
    expected: String,
    /// Stop reading once every expected key arrived and nothing new came for this many
    /// seconds, or after `--timeout`.
    #[arg(long, default_value_t = 5)]
    idle: u64,
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// What is compared of an alert (see the module docs).
fn key(alert: &Value) -> Option<String> {
    let kind = alert["kind"].as_str()?;
    match kind {
        "shared_ip" | "account_risk" => Some(format!("{kind} {}", alert["account_id"].as_str()?)),
        _ => Some(alert["alert_id"].as_str()?.to_owned()),
    }
}

pub(crate) fn compare(a: &CompareArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.expected).with_context(|| a.expected.clone())?;
    let mut expected = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).context("an expected alert")?;
        expected.extend(key(&v));
    }
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &a.brokers)
        .set("group.id", "members-harness-compare")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "50")
        .create()
        .context("alert reader")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..a.alert_partitions {
        tpl.add_partition_offset(&a.alerts, p, Offset::Beginning)?;
    }
    c.assign(&tpl)?;
    let (started, mut last_new) = (Instant::now(), Instant::now());
    let (mut got, mut records) = (BTreeSet::new(), 0u64);
    let idle = Duration::from_secs(a.idle);
    while started.elapsed() < Duration::from_secs(a.timeout)
        && !(expected.is_subset(&got) && last_new.elapsed() >= idle)
    {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                records += 1;
                let v: Value = serde_json::from_slice(m.payload().unwrap_or_default())
                    .context("an alert record")?;
                if key(&v).is_some_and(|k| got.insert(k)) {
                    last_new = Instant::now();
                }
            }
            Some(Err(e)) => eprintln!("alert reader: {e}"),
            None => {}
        }
    }
    let missing: Vec<&String> = expected.difference(&got).collect();
    let extra: Vec<&String> = got.difference(&expected).collect();
    for (what, list) in [("missing", &missing), ("extra", &extra)] {
        for k in list.iter().take(10) {
            eprintln!("{what}: {k}");
        }
    }
    let farms = |s: &BTreeSet<String>| s.iter().filter(|k| k.starts_with("shared_ip ")).count();
    println!(
        "RESULT expected={} got={} missing={} extra={} records={records} shared_ip_expected={} shared_ip_got={}",
        expected.len(),
        got.len(),
        missing.len(),
        extra.len(),
        farms(&expected),
        farms(&got),
    );
    Ok(())
}
