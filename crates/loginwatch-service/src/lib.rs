//! loginwatch's Kafka driver: a consumer-group member that feeds each assigned input partition
//! to its own [`Processor`] and publishes the alerts, at least once.
//!
//! How the binary uses it:
//! ```text
//! init_tracing(json)?;
//! let telemetry = Telemetry::new()?;                  // registry + metrics + readiness
//! telemetry.readiness.set("geoip", false);            // … true once the databases are loaded
//! tracker.spawn(watch_files(watch, geo.clone(), loader, telemetry.metrics.clone(), stop.clone()));
//! tracker.spawn(shutdown_on_signals(stop.clone()));
//! run(service_config, Arc::new(MyFactory { geo, .. }), telemetry, stop).await?;
//! ```
//!
//! Modules:
//! - [`config`]: the `[kafka]` / `[metrics]` tables, passthrough librdkafka properties, validation.
//! - `service`: [`run`] and the graceful shutdown.
//! - `dispatch`: the consumer loop — callbacks, a worker per assigned partition (reading that
//!   partition's own queue), commits.
//! - `worker`: one partition's worker — restore, process, publish, flush state, store the
//!   offset once acknowledged.
//! - `state`: the state topic — checked or created at start-up, a partition's changelog read
//!   back, a flush's records.
//! - `output`: alert and dead-letter records, enqueue with backpressure, delivery with retries.
//! - `context`: librdkafka callbacks — logs into `tracing`, statistics, rebalance hand-over.
//! - `kafka`: building the clients (defaults < passthrough < managed properties).
//! - [`metrics`], [`readiness`], `http`: `/metrics`, `/healthz`, `/readyz`.
//! - [`reload`]: [`Reloadable`] values and the file watcher that reloads them.
//! - [`redact`]: secret property values kept out of every log line.
//! - `logging`, `signals`: [`init_tracing`] and [`shutdown_on_signals`].
//!
//! Delivery guarantee: an input offset is stored (and later committed) only after every alert
//! and dead letter it caused is acknowledged by the broker, in offset order. A crash or a
//! rebalance re-reads what was not committed; the re-read alerts carry the same `alert_id`.
//! Producers must key login events by `account_id` so one account's events stay in one
//! partition, in order, owned by one worker.

pub mod config;
mod context;
mod dispatch;
mod http;
mod kafka;
mod logging;
pub mod metrics;
mod output;
pub mod readiness;
pub mod redact;
pub mod reload;
mod service;
mod signals;
mod state;
mod worker;

pub use config::{ClientProperties, KafkaConfig, MetricsConfig, ServiceConfig};
pub use logging::{init_tracing, LoggingError};
pub use metrics::Metrics;
pub use output::{
    HEADER_ALERT_ID, HEADER_KIND, HEADER_REASON, HEADER_REASON_DETAIL, HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION, HEADER_SOURCE_TOPIC,
};
pub use readiness::Readiness;
pub use reload::{watch_files, FileWatch, Reloadable};
pub use service::run;
pub use signals::shutdown_on_signals;

use loginwatch_model::{Alert, Reject};
use std::net::SocketAddr;

/// Where a group's network-topic items go: `(message index in the group, destination
/// partition, item bytes)` (see [`Processor::process_group`]).
pub type NetworkSink<'a> = dyn FnMut(usize, i32, &[u8]) + 'a;

/// One partition's worth of state: bytes in, alerts (or a rejection) out. Implemented by the
/// binary over the real pipeline (decode → locate → engine).
pub trait Processor: Send + 'static {
    /// Handles one input message value (empty for a message without one), pushing any alerts
    /// onto `out`. A rejection becomes a dead letter. `applied(account)`
    /// says whether the account's restored state already holds this message (its changelog
    /// record was written after it): then only the processor's clocks move.
    fn process(
        &mut self,
        payload: &[u8],
        out: &mut Vec<Alert>,
        applied: &dyn Fn(&str) -> bool,
    ) -> Result<(), Reject>;
    /// Handles the messages of one poll in order, as `process` would one after the other:
    /// `results[i]` is how many alerts message `i` pushed onto `out`, or its rejection;
    /// `applied(i, account)` is `process`'s `applied` for message `i`; the network-topic
    /// items message `i` made go to `network(i, partition, bytes)` (as
    /// [`Processor::take_network_messages`] would hand them after it). Processors over the
    /// real pipeline process the group together (decode all, prefetch, locate, engine).
    fn process_group(
        &mut self,
        payloads: &[&[u8]],
        applied: &dyn Fn(usize, &str) -> bool,
        partitions: u32,
        network: &mut NetworkSink<'_>,
        results: &mut Vec<Result<usize, Reject>>,
        out: &mut Vec<Alert>,
    ) {
        results.clear();
        for (i, payload) in payloads.iter().enumerate() {
            let before = out.len();
            let result = self.process(payload, out, &|account| applied(i, account));
            results.push(result.map(|()| out.len() - before));
            self.take_network_messages(partitions, &mut |to, bytes| network(i, to, bytes));
        }
    }
    /// Accounts currently held in this partition's state (for a gauge); called after every
    /// group of messages, so it must be cheap.
    fn tracked_accounts(&self) -> usize;
    /// Pushes onto `out` the alerts of findings other partitions' engines left for this
    /// partition's accounts (laptop-farm members), which `process` also emits; called
    /// periodically, so a partition that sees no message still publishes them.
    fn take_deliveries(&mut self, _out: &mut Vec<Alert>) {}
    /// The processor's state as a changelog, when it keeps one (see [`PartitionState`]); a
    /// processor without it starts empty on every assignment.
    fn state(&mut self) -> Option<&mut dyn PartitionState> {
        None
    }
    /// With a network stage (`kafka.network_topic`): hands `out` each item for the network
    /// topic that the last `process` or `process_network` call made, with its partition among
    /// `partitions` (a visit goes to the partition owning its networks, mail to its
    /// account's).
    fn take_network_messages(&mut self, _partitions: u32, _out: &mut dyn FnMut(i32, &[u8])) {}
    /// Handles one message of the network topic's partition paired with this processor's
    /// (a visit for its stage, or mail for its accounts), pushing any alerts onto `out`.
    /// `ahead(network)` says whether a network's restored state already holds it. An `Err`
    /// refuses the message (it becomes a dead letter).
    fn process_network(
        &mut self,
        _payload: &[u8],
        _out: &mut Vec<Alert>,
        _ahead: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<(), String> {
        Err("this processor has no network stage".into())
    }
}

/// A partition's state as records keyed by account, for the state topic: the service restores
/// them on assignment before the first message, and writes the changes every commit interval
/// before it commits the offsets they reflect (module `state`).
pub trait PartitionState {
    /// Takes one record read back (`None`: a tombstone, the account is gone). An `Err` says
    /// why the record is refused; the service counts it and goes on without it.
    fn restore(&mut self, account: &str, record: Option<&[u8]>) -> Result<(), String>;
    /// Takes the clocks of the last complete flush.
    fn restore_clocks(&mut self, record: &[u8]) -> Result<(), String>;
    /// Every record is read back: restore-time bounds apply.
    fn finish_restore(&mut self);
    /// Hands `f` up to `max` of the accounts changed before this round of calls began,
    /// each with its record as of now (`None` once gone), tombstones first. A round begins,
    /// with every account changed since the last one began, when the last one was handed out
    /// whole, so a flush can be spread over several calls. Returns whether this call ended
    /// its round.
    fn take_changes(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&str, Option<&[u8]>),
    ) -> Result<bool, String>;
    /// The clocks as one record, written last in each flush.
    fn clocks(&self) -> Result<Vec<u8>, String>;
    /// Takes one record of the network stage read back (`network` empty: its clocks; `None`:
    /// a tombstone, the network is gone).
    fn restore_network(&mut self, _network: &str, _record: Option<&[u8]>) -> Result<(), String> {
        Err("a network stage's record, and this processor has no network stage".into())
    }
    /// [`PartitionState::take_changes`] for the network stage's networks, with the stage's
    /// clocks as of the round's beginning under an empty name in the round's first call.
    fn take_network_changes(
        &mut self,
        _max: usize,
        _f: &mut dyn FnMut(&str, Option<&[u8]>),
    ) -> Result<bool, String> {
        Ok(true)
    }
}

/// Makes a fresh [`Processor`] when a partition is assigned; with a state topic it is then
/// restored from the partition's changelog.
pub trait ProcessorFactory: Send + Sync + 'static {
    /// The processor for `partition` of `topic`, one of `partitions` (0 when not known: the
    /// count is read at start-up with a state topic).
    fn create(&self, topic: &str, partition: i32, partitions: u32) -> Box<dyn Processor>;
}

/// Where metrics go and what `/readyz` checks; cheap to clone.
#[derive(Clone, Debug)]
pub struct Telemetry {
    /// Served on `/metrics`; the binary may register more metrics on it.
    pub registry: prometheus::Registry,
    /// Every loginwatch metric, registered on `registry`.
    pub metrics: Metrics,
    /// The `/readyz` checks.
    pub readiness: Readiness,
}

impl Telemetry {
    /// A fresh registry with every loginwatch metric registered, and no readiness check yet.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = prometheus::Registry::new();
        let metrics = Metrics::register(&registry)?;
        Ok(Telemetry {
            registry,
            metrics,
            readiness: Readiness::new(),
        })
    }
}

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Every problem found by [`ServiceConfig::validate`].
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Config(Vec<String>),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the kafka {role}")]
    Client {
        role: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot subscribe to topic {topic}")]
    Subscribe {
        topic: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The client can no longer keep its guarantees (e.g. idempotent producer fenced).
    #[error("fatal kafka {client} error: {reason}")]
    Fatal {
        client: &'static str,
        reason: String,
    },
    /// The state topic (or the network topic) cannot be used as configured.
    #[error("topic {topic}: {reason}")]
    StateTopic { topic: String, reason: String },
    /// A partition worker ended while still assigned (its processor panicked).
    #[error("the worker of partition {partition} stopped unexpectedly")]
    WorkerFailed { partition: i32 },
}
