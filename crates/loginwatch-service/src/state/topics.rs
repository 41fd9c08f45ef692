//! The state and network topics at start-up: checked against the input topic's partition
//! count (and, for the state topic, a compact cleanup policy), created when missing.

use super::REQUEST_TIMEOUT;
use crate::config::KafkaConfig;
use crate::kafka::{client_config, Role};
use crate::ServiceError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::Arc;
use std::time::Duration;

/// How long the cleanup-policy check may wait: a broker without the request (librdkafka's
/// mock cluster) only delays the start by this much.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Checks that the state topic exists with the input topic's partition count and a compact
/// cleanup policy, and the network topic (when configured) with that partition count,
/// creating them when missing; returns the partition count.
pub(crate) async fn ensure_topics(k: &KafkaConfig) -> Result<u32, ServiceError> {
    let fail = |topic: &str, reason: String| ServiceError::StateTopic {
        topic: topic.to_owned(),
        reason,
    };
    let admin: Arc<AdminClient<DefaultClientContext>> = client_config(k, Role::Admin)
        .create()
        .map(Arc::new)
        .map_err(|source| ServiceError::Client {
            role: "admin",
            source,
        })?;
    let want = match partitions(&admin, &k.input_topic).await {
        Ok(Some(n)) => n,
        Ok(None) => {
            return Err(fail(
                &k.state_topic,
                format!(
                    "the input topic {} was not found; its partition count decides the state \
                     topic's",
                    k.input_topic
                ),
            ))
        }
        Err(e) => {
            return Err(fail(
                &k.state_topic,
                format!("cannot read the brokers' metadata: {e}"),
            ))
        }
    };
    ensure(&admin, k, &k.state_topic, want, true)
        .await
        .map_err(|why| fail(&k.state_topic, why))?;
    if !k.network_topic.is_empty() {
        ensure(&admin, k, &k.network_topic, want, false)
            .await
            .map_err(|why| fail(&k.network_topic, why))?;
    }
    u32::try_from(want).map_err(|_| fail(&k.state_topic, "too many input partitions".into()))
}

/// Checks that `topic` exists with `want` partitions (and, with `compact`, a compact cleanup
/// policy), creating it when missing.
async fn ensure(
    admin: &Arc<AdminClient<DefaultClientContext>>,
    k: &KafkaConfig,
    topic: &str,
    want: usize,
    compact: bool,
) -> Result<(), String> {
    match partitions(admin, topic).await {
        Ok(Some(n)) if n == want => {}
        Ok(Some(n)) => {
            return Err(format!(
                "it has {n} partitions, the input topic {} has {want}: its partitions must \
                 match the input partitions (delete it, or name another topic)",
                k.input_topic
            ))
        }
        Ok(None) => return create(admin, topic, want, compact).await,
        Err(e) => return Err(format!("cannot read the brokers' metadata: {e}")),
    }
    if !compact {
        return Ok(());
    }
    let spec = ResourceSpecifier::Topic(topic);
    match admin
        .describe_configs(
            [&spec],
            &AdminOptions::new().request_timeout(Some(DESCRIBE_TIMEOUT)),
        )
        .await
        .map(|mut r| r.pop())
    {
        Ok(Some(Ok(resource))) => {
            match resource.get("cleanup.policy").and_then(|e| e.value.clone()) {
                Some(policy) if policy.split(',').any(|p| p.trim() == "compact") => Ok(()),
                Some(policy) => Err(format!(
                    "its cleanup.policy is {policy}; it must be compact (otherwise the broker \
                 deletes state by age)"
                )),
                None => {
                    tracing::warn!(
                        topic,
                        "the broker did not report the state topic's cleanup.policy"
                    );
                    Ok(())
                }
            }
        }
        Ok(Some(Err(code))) => {
            tracing::warn!(topic, error = %code, "cannot check the state topic's cleanup.policy");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(topic, error = %e, "cannot check the state topic's cleanup.policy");
            Ok(())
        }
        Ok(None) => Ok(()),
    }
}

/// The partition count of `topic`, `None` when it does not exist.
async fn partitions(
    admin: &Arc<AdminClient<DefaultClientContext>>,
    topic: &str,
) -> Result<Option<usize>, KafkaError> {
    let admin = Arc::clone(admin);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let m = admin
            .inner()
            .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)?;
        Ok(m.topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len())
            .filter(|n| *n > 0))
    })
    .await
    .unwrap_or(Err(KafkaError::Canceled))
}

/// Creates `topic`: `partitions` partitions (compacted with `compact`), the broker's
/// replication.
async fn create(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    partitions: usize,
    compact: bool,
) -> Result<(), String> {
    let n = i32::try_from(partitions).map_err(|_| "too many input partitions".to_owned())?;
    let mut new = NewTopic::new(topic, n, TopicReplication::Fixed(-1));
    if compact {
        new = new.set("cleanup.policy", "compact");
    }
    let opts = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
    match admin.create_topics([&new], &opts).await {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) | None => {
                tracing::info!(topic, partitions, "created the topic");
                Ok(())
            }
            // Another member created it first.
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(()),
            Some(Err((_, code))) => Err(format!("cannot create it: {code}")),
        },
        Err(e) => Err(format!("cannot create it: {e}")),
    }
}
