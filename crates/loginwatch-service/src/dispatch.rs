//! The consumer loop: serves the consumer's callbacks (rebalances, statistics, commits),
//! starts a worker for each assigned partition and stops it when the partition is revoked,
//! and commits stored offsets periodically.
//!
//! **Each worker reads its own partition's queue.** The rebalance callback splits an assigned
//! partition off the consumer's queue before it is fetched (`context.rs`), so messages go
//! from librdkafka straight to their worker: no copy, no hand-over. **Backpressure without
//! pause/resume**: a worker that is behind leaves its queue full (at
//! `kafka.partition_queue_capacity`, librdkafka's `queued.min.messages`), librdkafka stops
//! fetching that partition, and carries on from its next offset once the worker took some —
//! the ordinary fetch path, for that partition only. Pausing and resuming a partition instead
//! makes the client fetch again from the partition's position, and a broker that answers such
//! a fetch from inside a record batch with the next batch (tansu, the CI broker, does) skips
//! messages at every resume; this design never asks for that.

use crate::context::{is_no_offset, Assignment, Change, WorkerControl};
use crate::kafka::Consumer;
use crate::worker::{Shared, Worker};
use crate::{ProcessorFactory, ServiceError};
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::{Message, TopicPartitionList};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A live worker as the dispatcher sees it.
struct Handle {
    stop: CancellationToken,
    /// Asks the worker to take no more input, settle, flush and end.
    finish: CancellationToken,
    /// Cancelled when the worker has ended (or panicked).
    gone: CancellationToken,
}

/// Owns the consumer loop and the per-partition workers.
pub(crate) struct Dispatcher {
    pub topic: String,
    pub shared: Shared,
    pub factory: Arc<dyn ProcessorFactory>,
    pub assignment: Arc<Assignment>,
    pub commit_interval: Duration,
    /// Parent of every worker's stop token: cancelled when the grace period runs out.
    pub hard_stop: CancellationToken,
    /// Cancelled on a fatal producer error.
    pub fatal: CancellationToken,
    pub workers: TaskTracker,
    handles: HashMap<i32, Handle>,
}

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        topic: String,
        shared: Shared,
        factory: Arc<dyn ProcessorFactory>,
        assignment: Arc<Assignment>,
        commit_interval: Duration,
        hard_stop: CancellationToken,
        fatal: CancellationToken,
    ) -> Self {
        Dispatcher {
            topic,
            shared,
            factory,
            assignment,
            commit_interval,
            hard_stop,
            fatal,
            workers: TaskTracker::new(),
            handles: HashMap::new(),
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
                _ = self.fatal.cancelled() => {
                    let (client, reason) = fatal_reason(&self.shared);
                    return Err(ServiceError::Fatal { client, reason });
                }
                _ = self.assignment.changed.notified() => self.apply_changes(),
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
                // Serves the callbacks; messages all go to the partitions' own queues.
                msg = consumer.recv() => match msg {
                    Ok(m) => {
                        // Cannot happen (every assigned partition is split before it is
                        // fetched); should it, the service stops with an error rather than
                        // pass over a message no worker will see.
                        return Err(ServiceError::Fatal {
                            client: "consumer",
                            reason: format!(
                                "a message of partition {} reached the consumer's own queue",
                                m.partition()
                            ),
                        });
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
                }
            }
        }
    }

    fn start_worker(&mut self, partition: i32, committed: Option<i64>) {
        if let Some(old) = self.handles.remove(&partition) {
            old.stop.cancel();
        }
        let Some(queue) = self.assignment.take_queue(partition) else {
            // Revoked again before this change was applied: a later change says so.
            return;
        };
        let stop = self.hard_stop.child_token();
        let finish = CancellationToken::new();
        let gone = CancellationToken::new();
        let (ended, done) = std::sync::mpsc::sync_channel(0);
        self.assignment.register_worker(
            partition,
            WorkerControl {
                stop: stop.clone(),
                finish: finish.clone(),
                done,
            },
        );
        let worker = Worker {
            topic: self.topic.clone(),
            partition,
            committed,
            processor: self.factory.create(
                &self.topic,
                partition,
                self.shared.state.as_ref().map_or(0, |s| s.partitions),
            ),
            stop: stop.clone(),
            finish: finish.clone(),
            ended,
            gone: gone.clone().drop_guard(),
            shared: self.shared.clone(),
            unsettled: 0,
        };
        self.workers.spawn(worker.run(queue));
        self.handles
            .insert(partition, Handle { stop, finish, gone });
    }

    /// Fails when a worker ended while its partition is still owned: it ended on its own
    /// (its processor panicked, or it could not open what it reads).
    fn check_workers(&self) -> Result<(), ServiceError> {
        match self
            .handles
            .iter()
            .find(|(_, h)| h.gone.is_cancelled() && !h.stop.is_cancelled())
        {
            Some((p, _)) => Err(ServiceError::WorkerFailed { partition: *p }),
            None => Ok(()),
        }
    }

    /// Stops taking input: pauses every partition (for good: nothing resumes them) and asks
    /// every worker to take no more input, settle what it took and flush; what was not taken
    /// the next run re-reads.
    pub fn close_inputs(&mut self) {
        let mut tpl = TopicPartitionList::new();
        for p in self.handles.keys() {
            tpl.add_partition(&self.topic, *p);
        }
        if let Err(e) = self.consumer().pause(&tpl) {
            tracing::debug!(error = %e, "pause failed");
        }
        for (_, h) in self.handles.drain() {
            h.finish.cancel();
        }
        self.workers.close();
    }
}

/// Which client failed fatally and why: librdkafka's fatal error of the producer (the
/// idempotent producer losing its guarantees) or of the consumer; otherwise the consumer's
/// assigned partitions could not get their own queues (logged where it happened).
fn fatal_reason(shared: &Shared) -> (&'static str, String) {
    use rdkafka::producer::Producer as _;
    let describe = |(code, reason): (_, String)| format!("{code}: {reason}");
    if let Some(e) = shared.producer.client().fatal_error() {
        return ("producer", describe(e));
    }
    match shared.consumer.client().fatal_error() {
        Some(e) => ("consumer", describe(e)),
        None => (
            "consumer",
            "assigned partitions could not get their own queues".into(),
        ),
    }
}
