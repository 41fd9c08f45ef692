//! The consumer loop: receives input messages, hands each to its partition's worker over a
//! bounded channel, pauses a partition whose worker is full (resuming once it has room), applies
//! rebalance changes, and commits stored offsets periodically.

use crate::context::{is_no_offset, Assignment, Change};
use crate::kafka::Consumer;
use crate::worker::{Input, Shared, Worker};
use crate::{ProcessorFactory, ServiceError};
use futures_util::stream::{FuturesUnordered, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::{Message, TopicPartitionList};
use std::collections::{HashMap, VecDeque};
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

/// Resolves when a paused partition's worker has room again.
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
    /// Messages held for paused partitions, oldest first.
    parked: HashMap<i32, VecDeque<Input>>,
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
            parked: HashMap::new(),
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
                msg = consumer.recv() => match msg {
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
                Change::Assigned(p) => self.start_worker(p),
                Change::Revoked(p) => {
                    if let Some(h) = self.handles.remove(&p) {
                        h.stop.cancel();
                    }
                    self.parked.remove(&p);
                }
            }
        }
    }

    fn start_worker(&mut self, partition: i32) {
        if let Some(old) = self.handles.remove(&partition) {
            old.stop.cancel();
        }
        self.parked.remove(&partition);
        // A partition we paused before it was revoked may come back paused.
        self.set_paused(partition, false);
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let stop = self.hard_stop.child_token();
        self.assignment.register_worker(partition, stop.clone());
        self.generation += 1;
        let worker = Worker {
            topic: self.topic.clone(),
            partition,
            processor: self.factory.create(&self.topic, partition),
            rx,
            stop: stop.clone(),
            shared: self.shared.clone(),
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

    /// Hands `input` to its worker, or parks it and pauses the partition if the worker is full.
    fn dispatch(&mut self, input: Input) -> Result<(), ServiceError> {
        let p = input.msg.partition();
        if let Some(queue) = self.parked.get_mut(&p) {
            // Fetched before the pause took effect: keep the order.
            queue.push_back(input);
            return Ok(());
        }
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
                tracing::debug!(partition = p, "worker full; pausing partition");
                self.set_paused(p, true);
                self.parked.insert(p, VecDeque::from([input]));
                self.wait_for_room(p);
                Ok(())
            }
            Err(TrySendError::Closed(_)) if h.stop.is_cancelled() => Ok(()),
            Err(TrySendError::Closed(_)) => Err(ServiceError::WorkerFailed { partition: p }),
        }
    }

    fn wait_for_room(&mut self, partition: i32) {
        let Some(h) = self.handles.get(&partition) else {
            return;
        };
        let (tx, generation) = (h.tx.clone(), h.generation);
        self.unparking.push(Box::pin(async move {
            (partition, generation, tx.reserve_owned().await.ok())
        }));
    }

    /// A paused partition's worker has room: hand over one parked message, then resume the
    /// partition once none is left.
    fn unpark(&mut self, (partition, generation, permit): (i32, u64, Option<OwnedPermit<Input>>)) {
        let current = self.handles.get(&partition).map(|h| h.generation);
        if current != Some(generation) {
            return; // the worker this was waiting for is gone
        }
        let Some(permit) = permit else {
            self.parked.remove(&partition);
            return;
        };
        let Some(queue) = self.parked.get_mut(&partition) else {
            return;
        };
        if let Some(input) = queue.pop_front() {
            permit.send(input);
        }
        if queue.is_empty() {
            self.parked.remove(&partition);
            self.set_paused(partition, false);
        } else {
            self.wait_for_room(partition);
        }
    }

    fn set_paused(&self, partition: i32, paused: bool) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.topic, partition);
        let r = if paused {
            self.consumer().pause(&tpl)
        } else {
            self.consumer().resume(&tpl)
        };
        if let Err(e) = r {
            tracing::debug!(partition, paused, error = %e, "pause/resume failed");
        }
    }

    /// Stops taking input: closes every worker's channel (workers finish what they hold and
    /// settle it) and drops parked messages, which the next run re-reads.
    pub fn close_inputs(&mut self) {
        let assigned: Vec<i32> = self.handles.keys().copied().collect();
        for p in assigned {
            self.set_paused(p, true);
        }
        self.handles.clear();
        self.parked.clear();
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
