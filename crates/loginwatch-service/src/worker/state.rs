//! A worker's part in keeping its partition's state on the state topic: the restore before
//! the first message, and flushes (see the module docs of `crate::state`).

use super::network::Sending;
use super::{Pending, Settled, Shared, Worker};
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

    /// Starts the flush of the state as of message `through`: encodes the changed accounts
    /// and the clocks now, and returns the rest, which the worker awaits beside its input:
    /// waiting for `waiting` — the outputs and network-topic batches in flight, since the
    /// state records must not be durable before what they reflect — then writing the
    /// records (see [`write_flush`]). It resolves to `through` and the settled outputs.
    /// `None` if the state could not be encoded.
    pub(super) fn start_flush(
        &mut self,
        (mut pending, mut sending): (FuturesOrdered<Pending>, Sending),
        (through, network_through): (i64, Option<i64>),
        seen: Seen,
    ) -> Option<Flushing> {
        let started = Instant::now();
        let setup = self.shared.state.clone()?;
        let (topic, p, ns) = (&setup.topic, self.partition, &setup.namespace);
        let (mut gone, mut live) = (Vec::new(), Vec::new());
        let state = self.processor.state()?;
        let taken = state.take_changes(&mut |account, record| match record {
            Some(r) => live.push(OutRecord::state(
                topic,
                p,
                ns.key(account),
                Some(state::value(through, r)),
            )),
            None => gone.push(OutRecord::state(topic, p, ns.key(account), None)),
        });
        // The network stage's networks, as of the network topic's offset.
        let at = network_through.unwrap_or(-1);
        let networks = taken.and_then(|_| {
            state.take_network_changes(&mut |network, record| match record {
                Some(r) => live.push(OutRecord::state(
                    topic,
                    p,
                    ns.network_key(network),
                    Some(state::value(at, r)),
                )),
                None => gone.push(OutRecord::state(topic, p, ns.network_key(network), None)),
            })
        });
        let clocks = match networks.and_then(|_| state.clocks()) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(partition = p, error = %e, "the state could not be encoded; stopping the partition");
                return None;
            }
        };
        let meta = FlushMeta {
            network_through,
            seen,
        };
        let closing = vec![OutRecord::state(
            topic,
            p,
            ns.key(FLUSH_ACCOUNT),
            Some(state::flush_value(through, &meta, &clocks)),
        )];
        let (sh, stop) = (self.shared.clone(), self.stop.clone());
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
            write_flush(&sh, &stop, [gone, live, closing]).await?;
            sh.metrics
                .state_flush_seconds
                .observe(started.elapsed().as_secs_f64());
            Some((through, settled))
        }))
    }
}

/// Writes a flush's batches (tombstones, records, the flush record), each acknowledged
/// before the next is sent, so a crash leaves a prefix of the flush on the state topic;
/// `None` if stopped first.
async fn write_flush(
    sh: &Shared,
    stop: &CancellationToken,
    batches: [Vec<OutRecord>; 3],
) -> Option<()> {
    for records in batches {
        if records.is_empty() {
            continue;
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for r in &records {
            deliveries.push(enqueue(&sh.producer, r, &sh.metrics, stop).await?);
        }
        let (n, bytes) = (
            records.len(),
            records.iter().map(OutRecord::len).sum::<usize>(),
        );
        tokio::select! {
            _ = stop.cancelled() => return None,
            () = settle(sh.producer.clone(), records, deliveries, sh.metrics.clone()) => {}
        }
        sh.metrics.state_records_written.inc_by(n as u64);
        sh.metrics.state_bytes_written.inc_by(bytes as u64);
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
