//! What one input message produces (alerts and/or a dead letter) as owned Kafka records, and
//! getting them acknowledged: enqueue with backpressure, then await delivery, re-sending on
//! failure until acknowledged or stopped.

use crate::kafka::Producer;
use crate::metrics::Metrics;
use loginwatch_model::{Alert, AlertFormat, AlertKind, EventTime, Reject};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use rdkafka::Message;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Dead-letter header: `RejectReason::code()`, e.g. `bad_ip`.
pub const HEADER_REASON: &str = "loginwatch.reason";
/// Dead-letter header: the reason as a sentence.
pub const HEADER_REASON_DETAIL: &str = "loginwatch.reason_detail";
/// Dead-letter header: the input topic.
pub const HEADER_SOURCE_TOPIC: &str = "loginwatch.source_topic";
/// Dead-letter header: the input partition, decimal.
pub const HEADER_SOURCE_PARTITION: &str = "loginwatch.source_partition";
/// Dead-letter header: the input offset, decimal.
pub const HEADER_SOURCE_OFFSET: &str = "loginwatch.source_offset";
/// Alert header: the alert's deterministic id.
pub const HEADER_ALERT_ID: &str = "alert_id";
/// Alert header: the alert's kind, e.g. `impossible_travel`.
pub const HEADER_KIND: &str = "kind";

/// Where a network-topic item comes from: `kind` (`v`: a visit, made by input message
/// `offset` of input partition `partition`; `m`: mail, made by network-topic message `offset`
/// of partition `partition`) and its `index` among what that message made. An item sent
/// again after a crash has the origin it had the first time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub kind: u8,
    pub partition: i32,
    pub offset: i64,
    pub index: u32,
}

impl Origin {
    /// Encoded size: `kind` byte, partition (i32 LE), offset (i64 LE), index (u32 LE).
    pub const LEN: usize = 17;

    pub fn write(self, out: &mut Vec<u8>) {
        out.push(self.kind);
        out.extend_from_slice(&self.partition.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.index.to_le_bytes());
    }

    pub fn read(b: &[u8; Self::LEN]) -> Origin {
        let mut p = [0u8; 4];
        let mut o = [0u8; 8];
        let mut i = [0u8; 4];
        p.copy_from_slice(&b[1..5]);
        o.copy_from_slice(&b[5..13]);
        i.copy_from_slice(&b[13..17]);
        Origin {
            kind: b[0],
            partition: i32::from_le_bytes(p),
            offset: i64::from_le_bytes(o),
            index: u32::from_le_bytes(i),
        }
    }
}

/// Wait between attempts when the producer queue is full (backpressure, not an error).
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);
/// Wait between attempts after a failed send or delivery.
const RETRY_WAIT: Duration = Duration::from_millis(500);

/// What a record is, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Alert(AlertKind),
    DeadLetter,
    State,
    /// A visit or mail on the network topic.
    Network,
}

impl Output {
    fn topic_label(self) -> &'static str {
        match self {
            Output::Alert(_) => "alert",
            Output::DeadLetter => "dead_letter",
            Output::State => "state",
            Output::Network => "network",
        }
    }
}

/// One record to publish, owned so it can be re-sent.
pub(crate) struct OutRecord {
    topic: Arc<str>,
    /// Set for state records (the input partition); the partitioner picks otherwise.
    partition: Option<i32>,
    key: Option<Vec<u8>>,
    /// `None`: a tombstone.
    payload: Option<Vec<u8>>,
    headers: OwnedHeaders,
    pub what: Output,
}

impl OutRecord {
    /// An alert written as `format`, keyed by `account_id`, with `alert_id` and `kind` headers
    /// whatever the format; `detected_at` is stamped with the wall clock (the engine leaves it
    /// at event time).
    pub fn alert(
        topic: &Arc<str>,
        mut alert: Alert,
        format: AlertFormat,
    ) -> Result<Self, serde_json::Error> {
        alert.detected_at = now();
        let payload = format.to_vec(&alert)?;
        let headers = OwnedHeaders::new()
            .insert(header(HEADER_ALERT_ID, alert.alert_id.as_bytes()))
            .insert(header(HEADER_KIND, alert.kind.as_str().as_bytes()));
        Ok(OutRecord {
            topic: topic.clone(),
            partition: None,
            key: Some(alert.account_id.into_bytes()),
            payload: Some(payload),
            headers,
            what: Output::Alert(alert.kind),
        })
    }

    /// A dead letter: the input's original key, bytes and headers, plus reason and source.
    pub fn dead_letter(topic: &Arc<str>, input: &impl Message, reject: &Reject) -> Self {
        let detail = reject.reason.to_string();
        Self::dead_letter_because(topic, input, reject.reason.code(), &detail)
    }

    /// A dead letter with reason `code` and `detail` (see [`OutRecord::dead_letter`]).
    pub fn dead_letter_because(
        topic: &Arc<str>,
        input: &impl Message,
        code: &str,
        detail: &str,
    ) -> Self {
        let mut headers = OwnedHeaders::new();
        if let Some(original) = input.headers() {
            for h in original.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        let headers = headers
            .insert(header(HEADER_REASON, code.as_bytes()))
            .insert(header(HEADER_REASON_DETAIL, detail.as_bytes()))
            .insert(header(HEADER_SOURCE_TOPIC, input.topic().as_bytes()))
            .insert(header(
                HEADER_SOURCE_PARTITION,
                input.partition().to_string().as_bytes(),
            ))
            .insert(header(
                HEADER_SOURCE_OFFSET,
                input.offset().to_string().as_bytes(),
            ));
        OutRecord {
            topic: topic.clone(),
            partition: None,
            key: input.key().map(<[u8]>::to_vec),
            // The original bytes, exactly as received.
            payload: Some(input.payload().unwrap_or_default().to_vec()),
            headers,
            what: Output::DeadLetter,
        }
    }

    /// A state record (see the `state` module): `key` in `partition`, a tombstone when
    /// `value` is `None`.
    pub fn state(topic: &Arc<str>, partition: i32, key: Vec<u8>, value: Option<Vec<u8>>) -> Self {
        OutRecord {
            topic: topic.clone(),
            partition: Some(partition),
            key: Some(key),
            payload: value,
            headers: OwnedHeaders::new(),
            what: Output::State,
        }
    }

    /// A batch of items for the network topic's `partition` (see `worker/network.rs`).
    pub fn network(topic: &Arc<str>, partition: i32, payload: Vec<u8>) -> Self {
        OutRecord {
            topic: topic.clone(),
            partition: Some(partition),
            key: None,
            payload: Some(payload),
            headers: OwnedHeaders::new(),
            what: Output::Network,
        }
    }

    /// The bytes this record puts on the wire (key and value).
    pub fn len(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len) + self.payload.as_ref().map_or(0, Vec::len)
    }

    fn record(&self) -> FutureRecord<'_, [u8], [u8]> {
        let mut r = FutureRecord::to(&self.topic).headers(self.headers.clone());
        if let Some(p) = &self.payload {
            r = r.payload(&p[..]);
        }
        if let Some(k) = &self.key {
            r = r.key(&k[..]);
        }
        if let Some(p) = self.partition {
            r = r.partition(p);
        }
        r
    }
}

fn header<'a>(key: &'a str, value: &'a [u8]) -> Header<'a, &'a [u8]> {
    Header {
        key,
        value: Some(value),
    }
}

fn now() -> EventTime {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    EventTime(ms)
}

/// Hands `rec` to the producer, waiting while its queue is full (this is where a slow broker
/// pushes back on the worker). `None` when `stop` fired first.
pub(crate) async fn enqueue(
    producer: &Producer,
    rec: &OutRecord,
    metrics: &Metrics,
    stop: &CancellationToken,
) -> Option<DeliveryFuture> {
    loop {
        let wait = match producer.send_result(rec.record()) {
            Ok(f) => return Some(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => QUEUE_FULL_WAIT,
            Err((e, _)) => {
                send_failed(metrics, rec, &e);
                RETRY_WAIT
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Waits until every record is acknowledged, re-sending any whose delivery failed. Dropping the
/// returned future abandons the wait (the offset is then never stored).
pub(crate) async fn settle(
    producer: Producer,
    records: Vec<OutRecord>,
    mut deliveries: Vec<DeliveryFuture>,
    metrics: Arc<Metrics>,
) {
    let never = CancellationToken::new();
    for (rec, first) in records.iter().zip(deliveries.drain(..)) {
        let mut delivery = first;
        loop {
            match delivery.await {
                Ok(Ok(_)) => break,
                Ok(Err((e, _))) => send_failed(&metrics, rec, &e),
                Err(_canceled) => {
                    tracing::warn!(topic = %rec.topic, "delivery report lost; sending again")
                }
            }
            tokio::time::sleep(RETRY_WAIT).await;
            match enqueue(&producer, rec, &metrics, &never).await {
                Some(d) => delivery = d,
                None => return,
            }
        }
    }
}

fn send_failed(metrics: &Metrics, rec: &OutRecord, e: &KafkaError) {
    metrics
        .produce_errors
        .with_label_values(&[rec.what.topic_label()])
        .inc();
    tracing::warn!(topic = %rec.topic, error = %e, "send failed; retrying");
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginwatch_model::{RejectReason, Severity};
    use rdkafka::message::Timestamp;

    fn value<'a>(h: &'a OwnedHeaders, key: &str) -> Option<&'a [u8]> {
        h.iter().find(|x| x.key == key).and_then(|x| x.value)
    }

    #[test]
    fn alert_records_are_keyed_and_carry_the_id_in_either_format() {
        let topic: Arc<str> = Arc::from("alerts");
        for format in [AlertFormat::Loginwatch, AlertFormat::Ocsf] {
            let alert = Alert::new(
                AlertKind::ConcurrentIps,
                Severity::High,
                "acct-1",
                EventTime(1_000),
                "s".into(),
                vec!["e1".into()],
                loginwatch_model::Evidence::json(serde_json::json!({})),
            );
            let id = alert.alert_id.clone();
            let r = OutRecord::alert(&topic, alert, format).unwrap();
            assert_eq!(r.key.as_deref(), Some(&b"acct-1"[..]));
            assert_eq!(value(&r.headers, HEADER_ALERT_ID), Some(id.as_bytes()));
            assert_eq!(value(&r.headers, HEADER_KIND), Some(&b"concurrent_ips"[..]));
            let v: serde_json::Value =
                serde_json::from_slice(r.payload.as_deref().unwrap()).unwrap();
            match format {
                AlertFormat::Loginwatch => {
                    assert_eq!(v["alert_id"], id.as_str());
                    assert!(v["detected_at"]
                        .as_str()
                        .is_some_and(|t| t > "1970-01-01T00:00:01"));
                }
                AlertFormat::Ocsf => {
                    assert_eq!(v["class_uid"], 2004);
                    assert_eq!(v["finding_info"]["uid"], id.as_str());
                    assert!(v["finding_info"]["created_time"].as_i64().unwrap() > 1_000);
                }
            }
        }
    }

    #[test]
    fn dead_letters_keep_the_original_and_say_why() {
        let topic: Arc<str> = Arc::from("dlq");
        let original = OwnedHeaders::new().insert(header("trace", b"t1"));
        let input = rdkafka::message::OwnedMessage::new(
            Some(b"{not json".to_vec()),
            Some(b"k".to_vec()),
            "logins".into(),
            Timestamp::NotAvailable,
            3,
            42,
            Some(original),
        );
        let reject = Reject {
            reason: RejectReason::NotJson("eof".into()),
            bytes: b"{not json".to_vec(),
        };
        let r = OutRecord::dead_letter(&topic, &input, &reject);
        assert_eq!(r.payload.as_deref(), Some(&b"{not json"[..]));
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(value(&r.headers, "trace"), Some(&b"t1"[..]));
        assert_eq!(value(&r.headers, HEADER_REASON), Some(&b"not_json"[..]));
        assert_eq!(value(&r.headers, HEADER_SOURCE_TOPIC), Some(&b"logins"[..]));
        assert_eq!(value(&r.headers, HEADER_SOURCE_PARTITION), Some(&b"3"[..]));
        assert_eq!(value(&r.headers, HEADER_SOURCE_OFFSET), Some(&b"42"[..]));
        assert!(value(&r.headers, HEADER_REASON_DETAIL).is_some());
    }
}
