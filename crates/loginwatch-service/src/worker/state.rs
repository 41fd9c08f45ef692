//! A worker's part in keeping its partition's state on the state topic: the restore before
//! the first message, and flushes (see the module docs of `crate::state`).

use super::network::{Outbox, Sending};
use super::{Pending, Settled, Worker};
use crate::kafka::Producer;
use crate::metrics::Metrics;
use crate::output::{enqueue, settle, OutRecord};
use crate::state::{self, FlushMeta, Restored, Seen, StateSetup, FLUSH_ACCOUNT};
use crate::Processor;
use futures_util::stream::{FuturesOrdered, StreamExt};
use loginwatch_model::Alert;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

impl Worker {
    /// Reads the partition's state back before its first message; retried while the broker
    /// cannot be read. `None` when stopped first.
    pub(super) async fn restore(&mut self, setup: &Arc<StateSetup>) -> Option<Restored> {
        let _restoring = setup.restoring.start();
        let label = self.partition.to_string();
        loop {
            let mut processor = std::mem::replace(&mut self.processor, Box::new(Nothing));
            let (s, partition) = (Arc::clone(setup), self.partition);
            let task = tokio::task::spawn_blocking(move || {
                let result = match processor.state() {
                    Some(state) => state::restore(&s, partition, state),
                    None => Ok(Restored::default()),
                };
                (processor, result)
            });
            let (processor, result) = tokio::select! {
                // The blocking read finishes on its own; its processor is dropped with it.
                _ = self.stop.cancelled() => return None,
                _ = self.finish.cancelled() => return None,
                joined = task => match joined {
                    Ok(done) => done,
                    Err(e) => {
                        tracing::error!(partition = self.partition, error = %e, "restore task failed");
                        return None;
                    }
                },
            };
            self.processor = processor;
            match result {
                Ok(r) => {
                    let m = &self.shared.metrics;
                    m.state_restore_seconds
                        .with_label_values(&[&label])
                        .set(r.elapsed.as_secs_f64());
                    m.state_restored_records
                        .with_label_values(&[&label])
                        .set(r.records as i64);
                    m.state_restored_bytes
                        .with_label_values(&[&label])
                        .set(r.bytes as i64);
                    m.state_records_refused.inc_by(r.refused);
                    tracing::info!(
                        partition = self.partition,
                        records = r.records,
                        bytes = r.bytes,
                        refused = r.refused,
                        foreign = r.foreign,
                        through = ?r.through,
                        ahead = r.ahead.len(),
                        seconds = r.elapsed.as_secs_f64(),
                        "state restored"
                    );
                    return Some(r);
                }
                Err(e) => {
                    // Reading again from the start into the same processor converges: every
                    // record is applied again in log order, clocks only move forward.
                    tracing::warn!(partition = self.partition, error = %e, "cannot read the state topic; retrying");
                    tokio::select! {
                        _ = self.stop.cancelled() => return None,
                        _ = self.finish.cancelled() => return None,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    /// Begins the flush of the state as of message `through` (and of the network topic's
    /// message `network_through`): takes the clocks now; the changed accounts and networks
    /// are then encoded by [`Worker::encode_flush`] steps between input groups, and the
    /// records written by [`Worker::write_flush`]. `None` if the state cannot be encoded.
    pub(super) fn begin_flush(
        &mut self,
        (through, network_through): (i64, Option<i64>),
        seen: Seen,
    ) -> Option<Encoding> {
        let state = self.processor.state()?;
        let clocks = match state.clocks() {
            Ok(c) => c,
            Err(e) => return self.unencodable(e),
        };
        Some(Encoding {
            through,
            meta: FlushMeta {
                network_through,
                seen,
            },
            clocks,
            gone: Vec::new(),
            live: Vec::new(),
            accounts_done: false,
            networks_done: false,
            started: Instant::now(),
        })
    }

    /// Encodes up to `max` more of the flush's changed accounts (then networks), each
    /// record marked with the offset its state reflects now (`now`: where the input and the
    /// network topic stand; restore skips the messages a record holds). `Some(true)` once
    /// every change is encoded; `None` if the state cannot be encoded.
    pub(super) fn encode_flush(
        &mut self,
        e: &mut Encoding,
        (at, network_at): (i64, Option<i64>),
        max: usize,
    ) -> Option<bool> {
        let setup = self.shared.state.clone()?;
        let (topic, p, ns) = (&setup.topic, self.partition, &setup.namespace);
        let state = self.processor.state()?;
        let (gone, live) = (&mut e.gone, &mut e.live);
        // A record marked with the offset `at`, or a tombstone.
        let mut put = |key, record: Option<&[u8]>, at| {
            let value = record.map(|r| state::value(at, r));
            let list = if value.is_some() {
                &mut *live
            } else {
                &mut *gone
            };
            list.push(OutRecord::state(topic, p, key, value));
        };
        let step = if !e.accounts_done {
            state
                .take_changes(max, &mut |account, r| put(ns.key(account), r, at))
                .map(|done| e.accounts_done = done)
        } else {
            let at = network_at.unwrap_or(-1);
            state
                .take_network_changes(max, &mut |net, r| put(ns.network_key(net), r, at))
                .map(|done| e.networks_done = done)
        };
        match step {
            Ok(()) => Some(e.accounts_done && e.networks_done),
            Err(err) => self.unencodable(err),
        }
    }

    /// One step of the flush being encoded (`encoding`, up to `max` changes); once it is
    /// encoded whole, sends the outbox and starts writing it (`flushing`), waiting for what
    /// is in flight now. `None` when the worker must stop.
    pub(super) async fn flush_step(
        &mut self,
        (encoding, flushing): (&mut Option<Encoding>, &mut Option<Flushing>),
        (pending, outbox): (&mut FuturesOrdered<Pending>, &mut Outbox),
        now: (i64, Option<i64>),
        max: usize,
    ) -> Option<()> {
        let Some(e) = encoding.as_mut() else {
            return Some(());
        };
        if !self.encode_flush(e, now, max)? {
            return Some(());
        }
        let e = encoding.take().expect("checked above");
        self.send_outbox(outbox).await?;
        let waiting = (std::mem::take(pending), std::mem::take(&mut outbox.sending));
        *flushing = Some(self.write_flush(e, waiting)?);
        Some(())
    }

    fn unencodable<T>(&self, error: String) -> Option<T> {
        tracing::error!(partition = self.partition, %error, "the state could not be encoded; stopping the partition");
        None
    }

    /// Writes an encoded flush, once `waiting` — the outputs and network-topic batches in
    /// flight, since the state records must not be durable before what they reflect — is
    /// durable: tombstones, records, then the flush record. The worker awaits it beside its
    /// input; it resolves to the flush's offset and the settled outputs.
    pub(super) fn write_flush(
        &self,
        e: Encoding,
        (mut pending, mut sending): (FuturesOrdered<Pending>, Sending),
    ) -> Option<Flushing> {
        let setup = self.shared.state.clone()?;
        let closing = vec![OutRecord::state(
            &setup.topic,
            self.partition,
            setup.namespace.key(FLUSH_ACCOUNT),
            Some(state::flush_value(e.through, &e.meta, &e.clocks)),
        )];
        let (sh, stop, through) = (self.shared.clone(), self.stop.clone(), e.through);
        let (gone, live, started) = (e.gone, e.live, e.started);
        Some(Box::pin(async move {
            let settled = tokio::select! {
                _ = stop.cancelled() => return None,
                settled = async {
                    while sending.next().await.is_some() {}
                    let mut settled = Vec::with_capacity(pending.len());
                    while let Some(done) = pending.next().await {
                        settled.push(done);
                    }
                    settled
                } => settled,
            };
            write_records(&setup.producer, &sh.metrics, &stop, [gone, live, closing]).await?;
            sh.metrics
                .state_flush_seconds
                .observe(started.elapsed().as_secs_f64());
            Some((through, settled))
        }))
    }
}

/// A flush being encoded, a step at a time between input groups ([`Worker::begin_flush`]).
pub(super) struct Encoding {
    through: i64,
    meta: FlushMeta,
    clocks: Vec<u8>,
    /// Every step's tombstones are written ahead of every step's records.
    gone: Vec<OutRecord>,
    live: Vec<OutRecord>,
    accounts_done: bool,
    networks_done: bool,
    started: Instant,
}

/// Accounts (or networks) a worker encodes per step of a flush, between input groups:
/// about a millisecond's work, so that a flush delays no message by much more.
pub(super) const FLUSH_STEP: usize = 512;

/// Writes a flush's batches (tombstones, records, the flush record), each acknowledged
/// before the next is sent, so a crash leaves a prefix of the flush on the state topic;
/// `None` if stopped first.
async fn write_records(
    producer: &Producer,
    metrics: &Arc<Metrics>,
    stop: &CancellationToken,
    batches: [Vec<OutRecord>; 3],
) -> Option<()> {
    for records in batches {
        if records.is_empty() {
            continue;
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for r in &records {
            deliveries.push(enqueue(producer, r, metrics, stop).await?);
        }
        let (n, bytes) = (
            records.len(),
            records.iter().map(OutRecord::len).sum::<usize>(),
        );
        tokio::select! {
            _ = stop.cancelled() => return None,
            () = settle(producer.clone(), records, deliveries, metrics.clone()) => {}
        }
        metrics.state_records_written.inc_by(n as u64);
        metrics.state_bytes_written.inc_by(bytes as u64);
    }
    Some(())
}

/// A flush under way: resolves to its offset, and the outputs it waited for, once durable.
pub(super) type Flushing = Pin<Box<dyn Future<Output = Option<(i64, Vec<Settled>)>> + Send>>;

/// Stands in for a worker's processor while the real one restores on a blocking thread (the
/// worker takes no message meanwhile).
struct Nothing;

impl Processor for Nothing {
    fn process(
        &mut self,
        _: &[u8],
        _: &mut Vec<Alert>,
        _: &dyn Fn(&str) -> bool,
    ) -> Result<(), loginwatch_model::Reject> {
        Ok(())
    }

    fn tracked_accounts(&self) -> usize {
        0
    }
}
