//! The consumer loop: receives input messages, hands each to its partition's worker over a
//! bounded channel, applies rebalance changes, and commits stored offsets periodically.
//!
//! **Backpressure without pause/resume.** When a worker's queue is full, the loop holds that
//! one message and stops receiving until the worker has room (rebalances, commits and
//! shutdown are still handled meanwhile). librdkafka then stops fetching once its own bounded
//! prefetch queue is full (`queued.max.messages.kbytes`) and carries on from its next offset:
//! the ordinary fetch path. Pausing and resuming a partition instead makes the client fetch
//! again from the partition's position, and a broker that answers such a fetch from inside a
//! record batch with the next batch (tansu, the CI broker, does) skips messages at every
//! resume; this design never asks for that. The price: one slow partition holds the
//! member's other partitions back until its worker takes the message (they have their own
//! queued messages to work through meanwhile).

use crate::context::{is_no_offset, Assignment, Change, WorkerControl};
use crate::kafka::Consumer;
use crate::worker::{Input, Shared, Worker};
use crate::{ProcessorFactory, ServiceError};
use futures_util::stream::{FuturesUnordered, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::{Message, TopicPartitionList};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TrySendError, OwnedPermit};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A live worker as the dispatcher sees it.
struct Handle {
    tx: mpsc::Sender<Input>,
    stop: CancellationToken,
    generation: u64,
}

/// Resolves when the held message's worker has room again.
type Unpark = Pin<Box<dyn Future<Output = (i32, u64, Option<OwnedPermit<Input>>)> + Send>>;

/// Owns the consumer loop and the per-partition workers.
pub(crate) struct Dispatcher {
    pub topic: String,
    pub shared: Shared,
    pub factory: Arc<dyn ProcessorFactory>,
    pub assignment: Arc<Assignment>,
    pub queue_capacity: usize,
    pub commit_interval: Duration,
    /// Parent of every worker's stop token: cancelled when the grace period runs out.
    pub hard_stop: CancellationToken,
    /// Cancelled on a fatal producer error.
    pub fatal: CancellationToken,
    pub workers: TaskTracker,
    handles: HashMap<i32, Handle>,
    /// The message whose worker was full: nothing more is received until it is handed over.
    held: Option<Input>,
    unparking: FuturesUnordered<Unpark>,
    generation: u64,
}

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        topic: String,
        shared: Shared,
        factory: Arc<dyn ProcessorFactory>,
        assignment: Arc<Assignment>,
        queue_capacity: usize,
        commit_interval: Duration,
        hard_stop: CancellationToken,
        fatal: CancellationToken,
    ) -> Self {
        Dispatcher {
            topic,
            shared,
            factory,
            assignment,
            queue_capacity,
            commit_interval,
            hard_stop,
            fatal,
            workers: TaskTracker::new(),
            handles: HashMap::new(),
            held: None,
            unparking: FuturesUnordered::new(),
            generation: 0,
        }
    }

    fn consumer(&self) -> &Consumer {
        &self.shared.consumer
    }

    /// Runs until `shutdown` (Ok) or a fatal error (Err).
    pub async fn run(&mut self, shutdown: &CancellationToken) -> Result<(), ServiceError> {
        let consumer = self.shared.consumer.clone();
        let mut commit = tokio::time::interval(self.commit_interval);
        commit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                _ = self.fatal.cancelled() => return Err(ServiceError::Fatal {
                    client: "producer",
                    reason: fatal_reason(&self.shared),
                }),
                _ = self.assignment.changed.notified() => self.apply_changes(),
                Some(u) = self.unparking.next(), if !self.unparking.is_empty() => self.unpark(u),
                _ = commit.tick() => {
                    self.apply_changes();
                    // A worker that died with nothing more to be sent would go unnoticed.
                    self.check_workers()?;
                    if let Err(e) = self.consumer().commit_consumer_state(CommitMode::Async) {
                        if !is_no_offset(&e) {
                            tracing::warn!(error = %e, "periodic commit failed");
                        }
                    }
                }
                msg = consumer.recv(), if self.held.is_none() => match msg {
                    Ok(m) => {
                        let input = Input { msg: m.detach(), received: Instant::now() };
                        self.apply_changes();
                        self.dispatch(input)?;
                    }
                    Err(KafkaError::MessageConsumptionFatal(code)) => {
                        return Err(ServiceError::Fatal { client: "consumer", reason: code.to_string() });
                    }
                    Err(e) => tracing::warn!(error = %e, "consume error"),
                },
            }
        }
    }

    /// Applies queued rebalance changes: start workers for new partitions, drop revoked ones.
    fn apply_changes(&mut self) {
        for change in self.assignment.take_changes() {
            match change {
                Change::Assigned(p, committed) => self.start_worker(p, committed),
                Change::Revoked(p) => {
                    if let Some(h) = self.handles.remove(&p) {
                        h.stop.cancel();
                    }
                    self.drop_held(p);
                }
            }
        }
    }

    fn start_worker(&mut self, partition: i32, committed: Option<i64>) {
        if let Some(old) = self.handles.remove(&partition) {
            old.stop.cancel();
        }
        self.drop_held(partition);
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let stop = self.hard_stop.child_token();
        let finish = CancellationToken::new();
        let (ended, done) = std::sync::mpsc::sync_channel(0);
        self.assignment.register_worker(
            partition,
            WorkerControl {
                stop: stop.clone(),
                finish: finish.clone(),
                done,
            },
        );
        self.generation += 1;
        let worker = Worker {
            topic: self.topic.clone(),
            partition,
            committed,
            processor: self.factory.create(
                &self.topic,
                partition,
                self.shared.state.as_ref().map_or(0, |s| s.partitions),
            ),
            rx,
            stop: stop.clone(),
            finish,
            ended,
            shared: self.shared.clone(),
            unsettled: 0,
        };
        self.workers.spawn(worker.run());
        let generation = self.generation;
        self.handles.insert(
            partition,
            Handle {
                tx,
                stop,
                generation,
            },
        );
    }

    /// Fails when a worker's queue closed while its partition is still owned: the worker ended
    /// on its own (its processor panicked).
    fn check_workers(&self) -> Result<(), ServiceError> {
        match self
            .handles
            .iter()
            .find(|(_, h)| h.tx.is_closed() && !h.stop.is_cancelled())
        {
            Some((p, _)) => Err(ServiceError::WorkerFailed { partition: *p }),
            None => Ok(()),
        }
    }

    /// Drops the held message if it is `partition`'s (its worker is gone; the partition's
    /// next owner reads it again), so receiving resumes.
    fn drop_held(&mut self, partition: i32) {
        if self.held.as_ref().map(|i| i.msg.partition()) == Some(partition) {
            self.held = None;
        }
    }

    /// Hands `input` to its worker, or holds it (receiving nothing more) until the worker has
    /// room.
    fn dispatch(&mut self, input: Input) -> Result<(), ServiceError> {
        let p = input.msg.partition();
        let Some(h) = self.handles.get(&p) else {
            // Changes are applied before every dispatch and librdkafka hands out no message of
            // a partition before assigning it, so this is a stale message of a revoked
            // partition: its next owner reads it.
            tracing::debug!(partition = p, "message of a partition not owned; skipped");
            return Ok(());
        };
        match h.tx.try_send(input) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(input)) => {
                self.shared.metrics.partition_pauses.inc();
                tracing::debug!(partition = p, "worker full; holding its message");
                let (tx, generation) = (h.tx.clone(), h.generation);
                self.held = Some(input);
                self.unparking.push(Box::pin(async move {
                    (p, generation, tx.reserve_owned().await.ok())
                }));
                Ok(())
            }
            Err(TrySendError::Closed(_)) if h.stop.is_cancelled() => Ok(()),
            Err(TrySendError::Closed(_)) => Err(ServiceError::WorkerFailed { partition: p }),
        }
    }

    /// The held message's worker has room: hand it over, and receive again.
    fn unpark(&mut self, (partition, generation, permit): (i32, u64, Option<OwnedPermit<Input>>)) {
        let current = self.handles.get(&partition).map(|h| h.generation);
        if current != Some(generation) {
            return; // the worker this was waiting for is gone (and its message with it)
        }
        match (permit, self.held.take()) {
            (Some(permit), Some(input)) if input.msg.partition() == partition => {
                permit.send(input);
            }
            (_, held) => self.held = held.filter(|i| i.msg.partition() != partition),
        }
    }

    fn pause(&self, partition: i32) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.topic, partition);
        if let Err(e) = self.consumer().pause(&tpl) {
            tracing::debug!(partition, error = %e, "pause failed");
        }
    }

    /// Stops taking input: pauses every partition (for good: nothing resumes them), closes
    /// every worker's channel (workers finish what they hold and settle it) and drops the held
    /// message, which the next run re-reads.
    pub fn close_inputs(&mut self) {
        let assigned: Vec<i32> = self.handles.keys().copied().collect();
        for p in assigned {
            self.pause(p);
        }
        self.handles.clear();
        self.held = None;
        self.unparking.clear();
        self.workers.close();
    }
}

fn fatal_reason(shared: &Shared) -> String {
    use rdkafka::producer::Producer as _;
    shared
        .producer
        .client()
        .fatal_error()
        .map(|(code, reason)| format!("{code}: {reason}"))
        .unwrap_or_else(|| "unknown".into())
}
