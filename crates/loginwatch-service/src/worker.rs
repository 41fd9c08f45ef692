//! One partition's worker: reads that partition's own queue, owns its [`Processor`] (so each
//! account's events are handled in order by one owner), publishes what it produces, and stores
//! an input offset only once everything that message caused is acknowledged — in offset
//! order. It takes what its queue already holds (up to [`GROUP_MESSAGES`]) as one group, as
//! librdkafka fetched them (not copied): the processor runs the group through the pipeline
//! together (decode all, prefetch, locate, engine), and the group's outputs settle as one.
//!
//! With a state topic (module `crate::state`; the worker's part in `worker/state.rs`) the worker first restores the partition's state, then
//! stores offsets only at flushes: every commit interval it encodes the changed accounts and,
//! while it goes on with its input, waits for the outputs in flight (the state must not be
//! durable before what it reflects), writes the records and the flush record, and then
//! stores the offset after the last message they reflect. Revoked, it takes no more
//! input, settles, flushes and ends while the revoke waits for it.

use crate::kafka::{Consumer, PartitionInput, Producer};
use crate::metrics::Metrics;
use crate::output::{enqueue, settle, OutRecord, Output};
use crate::state::{Restored, StateSetup};
use crate::Processor;
use futures_util::stream::{FuturesOrdered, StreamExt};
use futures_util::FutureExt as _;
use loginwatch_model::Alert;
use rdkafka::consumer::Consumer as _;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

mod network;
mod state;
use crate::output::Origin;
use network::{NetworkInput, Outbox, LINGER};
use state::{Encoding, Flushing, FLUSH_STEP};

/// The most input messages a worker takes together from its queue (what is already there;
/// it never waits for more): they go through the pipeline as one group and settle as one.
const GROUP_MESSAGES: usize = 64;

/// How often a worker publishes the alerts other partitions' engines left for its accounts
/// when it has no message to handle.
const DELIVERY_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Messages (up to `offset`) whose outputs are all acknowledged.
pub(super) struct Settled {
    offset: i64,
    /// Seconds from the oldest of them received to their outputs acknowledged.
    latency: f64,
    /// How many input messages they are (the `in_flight` gauge and limit).
    messages: usize,
    outputs: Vec<Output>,
}

type Pending = Pin<Box<dyn Future<Output = Settled> + Send>>;

/// Everything a worker shares with the rest of the service.
#[derive(Clone)]
pub(crate) struct Shared {
    pub consumer: Arc<Consumer>,
    /// Writes alerts and dead letters (state and network-topic records: [`StateSetup`]'s).
    pub producer: Producer,
    /// Shared by reference: cloned into every message's settling.
    pub metrics: Arc<Metrics>,
    pub alert_topic: Arc<str>,
    /// How alert records are written (`[output] format`).
    pub alert_format: loginwatch_model::AlertFormat,
    pub dead_letter_topic: Arc<str>,
    pub max_in_flight: usize,
    /// The state topic, when state persistence is on.
    pub state: Option<Arc<StateSetup>>,
}

/// The worker of one partition.
pub(crate) struct Worker {
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset when the partition was assigned: consumption starts
    /// `kafka.rewind_on_assign` messages before it (see `context.rs`).
    pub committed: Option<i64>,
    pub processor: Box<dyn Processor>,
    /// Cancelled when the grace period of a revoke or of the shutdown ran out: stop at once,
    /// storing nothing more.
    pub stop: CancellationToken,
    /// Cancelled when the partition is revoked: take no more input, settle, flush, end.
    pub finish: CancellationToken,
    /// Dropped when the worker ends, which the revoke waits for.
    pub ended: std::sync::mpsc::SyncSender<()>,
    /// Dropped when the worker ends or panics: tells the dispatcher.
    pub gone: DropGuard,
    pub shared: Shared,
    /// Input messages taken whose outputs are not all acknowledged.
    pub unsettled: usize,
}

impl Worker {
    /// Reads `queue` until `finish` and every pending message is settled (graceful), or until
    /// `stop` (abandoning pending messages, which the next owner will re-read).
    pub async fn run(mut self, queue: PartitionInput) {
        let stateful = match self.shared.state.clone() {
            Some(setup) if self.processor.state().is_some() => Some(setup),
            _ => None,
        };
        let mut restored = Restored::default();
        if let Some(setup) = &stateful {
            match self.restore(setup).await {
                Some(r) => restored = r,
                None => return, // stopped while restoring
            }
        }
        // Messages before this offset only bring the worker to where its state stands: the
        // restored state holds them (up to its last flush), or, without state or a flush,
        // they were processed before the committed offset.
        let start = match restored.through {
            Some(t) => t + 1,
            None => self.committed.unwrap_or(0),
        };
        let label = self.partition.to_string();
        let mut net = match stateful.as_ref().filter(|s| s.network.is_some()) {
            Some(setup) => {
                match NetworkInput::open(setup, self.partition, &restored, &self.shared.metrics) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        // A client that cannot be built (a bad property): the dispatcher
                        // sees the worker gone and stops the service with an error.
                        tracing::error!(partition = self.partition, error = %e, "cannot read the network topic; the partition stops");
                        return;
                    }
                }
            }
            None => None,
        };
        let mut outbox = Outbox::default();
        let mut linger = tokio::time::interval(LINGER);
        linger.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gap_checked = false;
        let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
        let mut alerts = Vec::new();
        let mut open = true;
        // The last offset handled: alerts delivered from other partitions' engines between
        // messages are published as part of it (storing its successor again is harmless).
        let mut last: Option<(i64, Instant)> = None;
        // Where the input and the network topic stand, as a flush records them.
        let progress = |last: &Option<(i64, Instant)>, net: &Option<NetworkInput>| {
            (
                last.map_or(start - 1, |l| l.0),
                net.as_ref().and_then(|n| n.last),
            )
        };
        // What the last flush covered or is covering (one flush at a time: a flush's
        // records must not interleave with the next one's on the state topic).
        let mut flushed = progress(&None, &net);
        // A flush is encoded a step at a time between input groups, then written.
        let mut encoding: Option<Encoding> = None;
        let mut flushing: Option<Flushing> = None;
        let mut deliveries = tokio::time::interval(DELIVERY_POLL);
        deliveries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let period = stateful
            .as_ref()
            .map_or(std::time::Duration::from_secs(3600), |s| s.flush_interval);
        let mut flushes = tokio::time::interval(period);
        flushes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let tracked = self
            .shared
            .metrics
            .tracked_accounts
            .with_label_values(&[&label]);
        let max_in_flight = self.shared.max_in_flight;
        let mut input = queue.stream();
        // A group's messages as librdkafka fetched them (not copied).
        let mut group: Vec<BorrowedMessage<'_>> = Vec::with_capacity(GROUP_MESSAGES);
        while open || !pending.is_empty() {
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => break,
                // Revoked: what was taken is settled and flushed below; the rest of the
                // queue is the next owner's.
                _ = self.finish.cancelled(), if open => open = false,
                Some(done) = pending.next(), if !pending.is_empty() => {
                    self.settled(done, stateful.is_none());
                }
                done = async { flushing.as_mut().expect("guarded").await }, if flushing.is_some() => {
                    flushing = None;
                    match done {
                        Some((through, settled)) => self.flushed(through, settled),
                        None => break, // stopped while writing
                    }
                }
                Some(()) = outbox.sending.next(), if !outbox.sending.is_empty() => {}
                _ = linger.tick(), if outbox.items > 0 => {
                    if self.send_outbox(&mut outbox).await.is_none() {
                        break;
                    }
                }
                _ = flushes.tick(), if stateful.is_some() && flushing.is_none() && encoding.is_none() && progress(&last, &net) != flushed => {
                    let now = progress(&last, &net);
                    let seen = net.as_ref().map(|n| n.seen.clone()).unwrap_or_default();
                    match self.begin_flush(now, seen) {
                        Some(e) => encoding = Some(e),
                        None => break,
                    }
                    flushed = now;
                }
                _ = deliveries.tick(), if self.unsettled < max_in_flight => {
                    let Some(last) = last else { continue };
                    match self.publish_deliveries(last, &mut alerts).await {
                        Some(Some(p)) => pending.push_back(p),
                        Some(None) => {}
                        None => break, // stopped while waiting on the producer queue
                    }
                }
                msg = async { net.as_ref().expect("guarded").consumer.recv().await.map(|m| m.detach()) },
                    if net.is_some() && open && self.unsettled < max_in_flight => {
                    let msg = match msg {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!(partition = self.partition, error = %e, "network topic read error");
                            continue;
                        }
                    };
                    let at = last.unwrap_or((start - 1, Instant::now()));
                    let n = net.as_mut().expect("guarded");
                    match self.handle_network(n, &mut outbox, msg, at, &restored, &mut alerts).await {
                        Some(Some(p)) => pending.push_back(p),
                        Some(None) => {}
                        None => break, // stopped while waiting on the producer queue
                    }
                    if outbox.full() && self.send_outbox(&mut outbox).await.is_none() {
                        break;
                    }
                }
                msg = input.next(), if open && self.unsettled < max_in_flight => {
                    // What else is already queued joins it, up to the group size and the
                    // in-flight limit.
                    let room = GROUP_MESSAGES.min(max_in_flight - self.unsettled);
                    group.clear();
                    let received = Instant::now();
                    let mut next = msg;
                    while let Some(msg) = next {
                        match msg {
                            Ok(msg) => group.push(msg),
                            Err(e) => tracing::warn!(partition = self.partition, error = %e, "consume error"),
                        }
                        if group.len() >= room {
                            break;
                        }
                        next = input.next().now_or_never().flatten();
                    }
                    group.retain(|msg| msg.offset() >= start);
                    let Some(first) = group.first() else { continue };
                    let offset = first.offset();
                    if !std::mem::replace(&mut gap_checked, true) && offset > start {
                        tracing::warn!(
                            partition = self.partition,
                            expected = start,
                            first = offset,
                            "the partition resumes after a gap: messages between were \
                             deleted by retention, or the state is further behind the \
                             committed offset than kafka.rewind_on_assign"
                        );
                    }
                    let newest = group.last().expect("not empty");
                    last = Some((newest.offset(), received));
                    let handled = self.handle(&group, received, &restored, &mut outbox, &mut alerts).await;
                    group.clear(); // librdkafka's messages back
                    let Some(p) = handled else {
                        break; // stopped while waiting on the producer queue
                    };
                    pending.push_back(p);
                    if outbox.full() && self.send_outbox(&mut outbox).await.is_none() {
                        break;
                    }
                    tracked.set(self.processor.tracked_accounts() as i64);
                    // A flush under way takes a step after each group.
                    let step = (&mut encoding, &mut flushing);
                    let now = progress(&last, &net);
                    if self.flush_step(step, (&mut pending, &mut outbox), now, FLUSH_STEP).await.is_none() {
                        break;
                    }
                }
                // Nothing else to do: the flush under way takes a step.
                () = std::future::ready(()), if encoding.is_some() => {
                    let step = (&mut encoding, &mut flushing);
                    let now = progress(&last, &net);
                    if self.flush_step(step, (&mut pending, &mut outbox), now, FLUSH_STEP).await.is_none() {
                        break;
                    }
                }
            }
        }
        // A graceful end (the input closed, every output settled) flushes what is left: the
        // flush under way, then one of everything since.
        if !self.stop.is_cancelled() && stateful.is_some() {
            let now = progress(&last, &net);
            loop {
                let step = (&mut encoding, &mut flushing);
                if self
                    .flush_step(step, (&mut pending, &mut outbox), now, usize::MAX)
                    .await
                    .is_none()
                {
                    break;
                }
                if let Some(f) = flushing.take() {
                    match f.await {
                        Some((through, settled)) => self.flushed(through, settled),
                        None => break,
                    }
                }
                if now == flushed {
                    break;
                }
                let seen = net.as_ref().map(|n| n.seen.clone()).unwrap_or_default();
                match self.begin_flush(now, seen) {
                    Some(e) => encoding = Some(e),
                    None => break,
                }
                flushed = now;
            }
        }
        self.shared.metrics.in_flight.sub(self.unsettled as i64);
        tracing::debug!(
            partition = self.partition,
            abandoned = self.unsettled,
            "worker stopped"
        );
        // A revoke waiting for this worker goes on; the dispatcher sees it gone.
        drop(self.ended);
        drop(self.gone);
    }

    /// Processes a group of messages (in offset order, taken at `received`) and enqueues their
    /// outputs, to settle together; `None` if stopped meanwhile.
    async fn handle(
        &mut self,
        group: &[BorrowedMessage<'_>],
        received: Instant,
        restored: &Restored,
        outbox: &mut Outbox,
        alerts: &mut Vec<Alert>,
    ) -> Option<Pending> {
        let sh = &self.shared;
        sh.metrics.events_consumed.inc_by(group.len() as u64);
        alerts.clear();
        let payloads: Vec<&[u8]> = group
            .iter()
            .map(|msg| msg.payload().unwrap_or_default())
            .collect();
        let offset_of = |i: usize| group[i].offset();
        let applied = |i: usize, account: &str| restored.applied(account, offset_of(i));
        let mut results = Vec::with_capacity(group.len());
        let network = sh.state.as_ref().filter(|s| s.network.is_some());
        let partitions = network.map_or(0, |s| s.partitions);
        // Items of the network topic, numbered per message as a message's own.
        let (from, mut numbered) = (self.partition, (usize::MAX, 0u32));
        self.processor.process_group(
            &payloads,
            &applied,
            partitions,
            &mut |i, to, item| {
                if numbered.0 != i {
                    numbered = (i, 0);
                }
                let origin = Origin {
                    kind: b'v',
                    partition: from,
                    offset: offset_of(i),
                    index: numbered.1,
                };
                outbox.put(to, origin, item);
                numbered.1 += 1;
            },
            &mut results,
            alerts,
        );
        let mut records = Vec::new();
        for (input, result) in group.iter().zip(&results) {
            let Err(reject) = result else { continue };
            let code = reject.reason.code();
            sh.metrics.events_rejected.with_label_values(&[code]).inc();
            tracing::warn!(
                partition = self.partition,
                offset = input.offset(),
                reason = code,
                detail = %reject.reason,
                "event rejected"
            );
            let dlq = &sh.dead_letter_topic;
            records.push(OutRecord::dead_letter(dlq, input, reject));
        }
        let offset = group[group.len() - 1].offset();
        self.publish(records, alerts, offset, received, group.len())
            .await
    }

    /// Publishes the alerts other partitions' engines left for this partition's accounts, as
    /// part of the last message handled, `(offset, received)`: `Some(None)` when there were
    /// none, `None` if stopped meanwhile.
    async fn publish_deliveries(
        &mut self,
        (offset, received): (i64, Instant),
        alerts: &mut Vec<Alert>,
    ) -> Option<Option<Pending>> {
        alerts.clear();
        self.processor.take_deliveries(alerts);
        if alerts.is_empty() {
            return Some(None);
        }
        let published = self.publish(Vec::new(), alerts, offset, received, 1).await;
        published.map(Some)
    }

    /// Enqueues `records` and `alerts` as what `messages` input messages up to `offset`
    /// caused (the oldest received at `received`); `None` if stopped meanwhile.
    async fn publish(
        &mut self,
        mut records: Vec<OutRecord>,
        alerts: &mut Vec<Alert>,
        offset: i64,
        received: Instant,
        messages: usize,
    ) -> Option<Pending> {
        let sh = &self.shared;
        for alert in alerts.drain(..) {
            match OutRecord::alert(&sh.alert_topic, alert, sh.alert_format) {
                Ok(r) => records.push(r),
                Err(e) => tracing::error!(error = %e, "alert could not be serialized"),
            }
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for r in &records {
            deliveries.push(enqueue(&sh.producer, r, &sh.metrics, &self.stop).await?);
        }
        let (producer, metrics) = (sh.producer.clone(), sh.metrics.clone());
        metrics.in_flight.add(messages as i64);
        self.unsettled += messages;
        Some(Box::pin(async move {
            let outputs = records.iter().map(|r| r.what).collect();
            settle(producer, records, deliveries, metrics).await;
            Settled {
                offset,
                latency: received.elapsed().as_secs_f64(),
                messages,
                outputs,
            }
        }))
    }

    /// Everything message `done.offset` caused is acknowledged, and so is everything before it
    /// (pending is in offset order): with `store`, store `offset + 1` for the next commit
    /// (with a state topic, flushes store offsets instead).
    fn settled(&mut self, done: Settled, store: bool) {
        let m = &self.shared.metrics;
        m.in_flight.sub(done.messages as i64);
        self.unsettled -= done.messages;
        let latency = done.latency;
        for o in done.outputs {
            match o {
                Output::Alert(kind) => {
                    m.alerts_published.with_label_values(&[kind.as_str()]).inc();
                    m.end_to_end_latency.observe(latency);
                }
                Output::DeadLetter => m.dead_letters.inc(),
                Output::State | Output::Network => {}
            }
        }
        if !store {
            return;
        }
        self.store_after(done.offset);
    }

    /// A flush through message `through` is durable, and so are the outputs it waited for.
    fn flushed(&mut self, through: i64, settled: Vec<Settled>) {
        for done in settled {
            self.settled(done, false);
        }
        self.store_after(through);
    }

    /// Stores `offset + 1` for the next commit: everything up to `offset` is done.
    fn store_after(&self, offset: i64) {
        let mut tpl = TopicPartitionList::new();
        let next = Offset::Offset(offset + 1);
        if let Err(e) = tpl.add_partition_offset(&self.topic, self.partition, next) {
            tracing::warn!(error = %e, "offset list could not be built");
            return;
        }
        if let Err(e) = self.shared.consumer.store_offsets(&tpl) {
            // Happens when the partition was just revoked: the next owner re-reads it.
            tracing::debug!(partition = self.partition, error = %e, "offset not stored");
        }
    }
}
