//! [`run`]: start the HTTP listener and both Kafka clients, run the consumer loop until the stop
//! signal, then shut down within the grace period: finish in-flight work, flush, commit, close.

use crate::config::ServiceConfig;
use crate::context::{log_commit_error, Assignment, ServiceContext};
use crate::dispatch::Dispatcher;
use crate::http::{serve, HttpState};
use crate::kafka::{client_config, describe, Consumer, Producer, Role};
use crate::readiness::{CHECK_ASSIGNMENT, CHECK_BROKER};
use crate::redact::Redactor;
use crate::state::{Restoring, StateSetup};
use crate::worker::Shared;
use crate::{ProcessorFactory, ServiceError, Telemetry};
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::producer::Producer as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Runs the service until `shutdown` is cancelled (then returns `Ok` after a graceful stop) or a
/// fatal error occurs (then stops the same way and returns the error).
///
/// Serves `/metrics`, `/healthz` and `/readyz` on `config.metrics.listen` from `telemetry`, and
/// creates one [`crate::Processor`] per assigned input partition with `factory`. The caller
/// handles signals: cancel `shutdown` on SIGINT/SIGTERM (see [`crate::shutdown_on_signals`]).
pub async fn run(
    config: ServiceConfig,
    factory: Arc<dyn ProcessorFactory>,
    telemetry: Telemetry,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let problems = config.validate();
    if !problems.is_empty() {
        return Err(ServiceError::Config(problems));
    }
    let k = &config.kafka;
    let Telemetry {
        registry,
        metrics,
        readiness,
    } = telemetry;
    readiness.set(CHECK_ASSIGNMENT, false);
    readiness.set(CHECK_BROKER, false);

    let addr = config.metrics.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Bind { addr, source })?;
    let http_addr = listener.local_addr().unwrap_or(addr);
    let tasks = TaskTracker::new();
    let http_stop = CancellationToken::new();
    let state = HttpState {
        registry,
        readiness: readiness.clone(),
    };
    tasks.spawn(serve(listener, state, http_stop.clone()));
    tracing::info!(listen = %http_addr, "http listening");

    let redactor = Redactor::from_properties(
        k.common
            .iter()
            .chain(k.consumer.iter())
            .chain(k.producer.iter()),
    );
    let fatal = CancellationToken::new();
    let assignment = Arc::new(Assignment::new(k.shutdown_grace));
    let context = |role, assignment| ServiceContext {
        role,
        metrics: metrics.clone(),
        readiness: readiness.clone(),
        redactor: redactor.clone(),
        input_topic: k.input_topic.clone(),
        rewind: i64::from(k.rewind_on_assign),
        assignment,
        consumer: std::sync::OnceLock::new(),
        queue_capacity: i64::try_from(k.partition_queue_capacity.get()).unwrap_or(i64::MAX),
        fatal: fatal.clone(),
    };
    tracing::info!(properties = %describe(k, Role::Consumer), "creating kafka consumer");
    let consumer: Arc<Consumer> = client_config(k, Role::Consumer)
        .create_with_context(context("consumer", Some(assignment.clone())))
        .map(Arc::new)
        .map_err(|source| ServiceError::Client {
            role: "consumer",
            source,
        })?;
    // The rebalance callback gives each assigned partition its own queue from it.
    let _ = consumer.context().consumer.set(Arc::downgrade(&consumer));
    // Alerts and dead letters (`Role::Producer`), or state and network-topic records.
    let create_producer = |role, name: &'static str| -> Result<Producer, ServiceError> {
        tracing::info!(properties = %describe(k, role), "creating kafka {name}");
        client_config(k, role)
            .create_with_context(context(name, None))
            .map_err(|source| ServiceError::Client { role: name, source })
    };
    let producer = create_producer(Role::Producer, "producer")?;
    let state_setup = if k.state_topic.is_empty() {
        None
    } else {
        let partitions = crate::state::ensure_topics(k).await?;
        Some(Arc::new(StateSetup {
            producer: create_producer(Role::StateWriter, "state producer")?,
            partitions,
            network: (!k.network_topic.is_empty()).then(|| Arc::from(k.network_topic.as_str())),
            kafka: k.clone(),
            redactor: redactor.clone(),
            topic: Arc::from(k.state_topic.as_str()),
            namespace: crate::state::Namespace::new(&k.group_id, &k.input_topic),
            flush_interval: k.commit_interval,
            restoring: Restoring::new(readiness.clone(), metrics.partitions_restoring.clone()),
        }))
    };
    consumer
        .subscribe(&[&k.input_topic])
        .map_err(|source| ServiceError::Subscribe {
            topic: k.input_topic.clone(),
            source,
        })?;
    tracing::info!(topic = %k.input_topic, group = %k.group_id, "consuming");

    let shared = Shared {
        consumer,
        producer,
        metrics: Arc::new(metrics.clone()),
        alert_topic: Arc::from(k.alert_topic.as_str()),
        alert_format: config.alert_format,
        dead_letter_topic: Arc::from(k.dead_letter_topic.as_str()),
        max_in_flight: k.max_in_flight_per_partition.get(),
        state: state_setup,
    };
    let hard_stop = CancellationToken::new();
    let mut dispatcher = Dispatcher::new(
        k.input_topic.clone(),
        shared.clone(),
        factory,
        assignment,
        k.commit_interval,
        hard_stop.clone(),
        fatal,
    );
    let result = dispatcher.run(&shutdown).await;
    readiness.set(CHECK_ASSIGNMENT, false);
    match &result {
        Ok(()) => tracing::info!(grace = ?k.shutdown_grace, "shutting down"),
        Err(e) => tracing::error!(error = %e, "stopping after an error"),
    }
    let deadline = Instant::now() + k.shutdown_grace;
    dispatcher.close_inputs();
    let workers = dispatcher.workers.clone();
    drop(dispatcher);
    if tokio::time::timeout_at(deadline, workers.wait())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; abandoning unacknowledged messages");
        hard_stop.cancel();
        workers.wait().await;
    }
    finish_kafka(shared, deadline).await;
    http_stop.cancel();
    tasks.close();
    tasks.wait().await;
    tracing::info!("stopped");
    result
}

/// Flushes the producer, commits what is stored and closes the consumer (leaving the group),
/// on a blocking thread since librdkafka's calls block. Bounded by `deadline` (at least 1 s).
async fn finish_kafka(shared: Shared, deadline: Instant) {
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(1));
    let Shared {
        consumer,
        producer,
        state,
        ..
    } = shared;
    let closing = tokio::task::spawn_blocking(move || {
        let state_producer = state.as_ref().map(|s| &s.producer);
        for p in std::iter::once(&producer).chain(state_producer) {
            if let Err(e) = p.flush(remaining) {
                tracing::warn!(error = %e, "producer flush incomplete");
            }
        }
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => tracing::info!("offsets committed"),
            Err(e) => log_commit_error(&e, "final commit failed"),
        }
        // The last reference: dropping closes the consumer and leaves the group.
        drop(consumer);
    });
    let limit = remaining + Duration::from_secs(5);
    match tokio::time::timeout(limit, closing).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "kafka close task failed"),
        Err(_) => tracing::warn!("kafka close did not finish in time"),
    }
}
