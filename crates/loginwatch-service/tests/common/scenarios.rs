//! The end-to-end scenarios, run against any Kafka-protocol broker: the in-process mock cluster
//! (`tests/mock_cluster.rs`, in the default suite) and a real broker named by
//! `LOGINWATCH_KAFKA_BROKERS` (`tests/real_broker.rs`, ignored unless `--include-ignored`).

use super::*;

const READ_LIMIT: Duration = Duration::from_secs(60);

/// The alerts on the alert topic, read until `want` distinct ids arrived (or `READ_LIMIT`).
async fn read_alerts(env: &Env, want: usize) -> Seen {
    let alerts = reader(&env.brokers, &env.alerts, env.alert_partitions);
    let mut seen = Seen::default();
    read_until(
        &alerts,
        &mut seen,
        READ_LIMIT,
        |s| s.alerts.len() >= want,
        true,
    )
    .await;
    seen
}

fn group(name: &str, env: &Env) -> String {
    format!("{name}-{}", env.input)
}

/// Events in → alerts on the alert topic (keyed, `alert_id` header, exactly the expected ids)
/// and dead letters with the original bytes and reason/source headers.
pub async fn end_to_end(env: &Env) {
    let evs = events(120, "e2e");
    produce(&env.brokers, &env.input, &evs).await;
    let member = start(config(env, &group("e2e", env)), Duration::ZERO);

    let want = expected_ids(&evs);
    let seen = read_alerts(env, want.len()).await;
    assert_eq!(
        seen.alert_ids(),
        want,
        "the alert set is exactly the expected one"
    );
    for (id, copies) in &seen.alerts {
        for (key, alert) in copies {
            assert_eq!(key, &alert.account_id, "alert {id} keyed by account");
            assert_eq!(alert.kind, AlertKind::ImpossibleTravel);
        }
    }

    let rejected: Vec<&Event> = evs.iter().filter(|e| e.rejected).collect();
    let dlq = reader(&env.brokers, &env.dead_letters, 1);
    let mut dead = Seen::default();
    read_until(
        &dlq,
        &mut dead,
        READ_LIMIT,
        |s| s.dead.len() >= rejected.len(),
        false,
    )
    .await;
    assert_eq!(
        dead.dead.len(),
        rejected.len(),
        "one dead letter per rejected event"
    );
    let originals: BTreeSet<&[u8]> = rejected.iter().map(|e| &e.payload[..]).collect();
    for (payload, h) in &dead.dead {
        assert!(
            originals.contains(&payload[..]),
            "dead letter keeps the original bytes"
        );
        assert_eq!(h["loginwatch.reason"], "not_json");
        assert_eq!(h["loginwatch.source_topic"], env.input);
        let p: i32 = h["loginwatch.source_partition"].parse().expect("partition");
        assert!((0..env.input_partitions).contains(&p));
        let _: i64 = h["loginwatch.source_offset"].parse().expect("offset");
    }

    let m = member.telemetry.metrics.clone();
    assert!(
        eventually(READ_LIMIT, || m.events_consumed.get() == evs.len() as u64).await,
        "every event counted"
    );
    assert_eq!(
        m.events_rejected.with_label_values(&["not_json"]).get(),
        rejected.len() as u64
    );
    assert!(eventually(READ_LIMIT, || m.dead_letters.get() == rejected.len() as u64).await);
    assert!(
        eventually(READ_LIMIT, || {
            m.alerts_published
                .with_label_values(&["impossible_travel"])
                .get()
                == want.len() as u64
        })
        .await
    );
    assert!(m.end_to_end_latency.get_sample_count() >= want.len() as u64);
    let registry = member.telemetry.registry.clone();
    let lag_zero = || {
        let families = registry.gather();
        let Some(lag) = families
            .iter()
            .find(|f| f.name() == "loginwatch_consumer_lag_messages")
        else {
            return false;
        };
        let series = lag.get_metric();
        series.len() == env.input_partitions as usize
            && series.iter().all(|s| s.get_gauge().get_value() == 0.0)
    };
    assert!(
        eventually(READ_LIMIT, lag_zero).await,
        "lag of every partition reaches 0"
    );
    let tracked: i64 = (0..env.input_partitions)
        .map(|p| {
            m.tracked_accounts
                .with_label_values(&[&p.to_string()])
                .get()
        })
        .sum();
    assert_eq!(
        tracked, 25,
        "every account is tracked by the partition that carries it"
    );
    assert!(
        member.telemetry.readiness.is_ready(),
        "{}",
        member.telemetry.readiness.report()
    );
    member.stop().await;
}

/// A graceful stop commits exactly what was processed.
pub async fn shutdown_commits(env: &Env) {
    let evs = events(100, "sc");
    produce(&env.brokers, &env.input, &evs).await;
    let g = group("commit", env);
    let member = start(config(env, &g), Duration::ZERO);
    let alerts = reader(&env.brokers, &env.alerts, env.alert_partitions);
    let mut seen = Seen::default();
    let want = expected_ids(&evs);
    read_until(
        &alerts,
        &mut seen,
        READ_LIMIT,
        |s| s.alerts.len() >= want.len(),
        true,
    )
    .await;
    let m = member.telemetry.metrics.clone();
    assert!(
        eventually(READ_LIMIT, || m.in_flight.get() == 0
            && m.events_consumed.get() == evs.len() as u64)
        .await
    );
    member.stop().await;
    let hw = high_watermarks(&env.brokers, &env.input, env.input_partitions);
    let committed = committed(&env.brokers, &g, &env.input, env.input_partitions);
    assert_eq!(
        committed, hw,
        "committed offsets reach the end of every partition"
    );
}

/// A member stopped mid-stream with no grace (in-flight work abandoned) and a second member
/// started after it: every alert arrives, duplicates only as identical copies.
pub async fn restart_loses_nothing(env: &Env) {
    let evs = events(600, "rs");
    produce(&env.brokers, &env.input, &evs).await;
    let g = group("restart", env);
    let mut cfg = config(env, &g);
    cfg.kafka.shutdown_grace = Duration::ZERO;
    let first = start(cfg, Duration::from_millis(5));
    let alerts = reader(&env.brokers, &env.alerts, env.alert_partitions);
    let mut seen = Seen::default();
    read_until(
        &alerts,
        &mut seen,
        READ_LIMIT,
        |s| s.alerts.len() >= 10,
        true,
    )
    .await;
    let consumed_by_first = first.telemetry.metrics.events_consumed.get();
    first.stop().await;
    assert!(
        consumed_by_first < evs.len() as u64,
        "the first member was stopped mid-stream ({consumed_by_first} consumed)"
    );

    let second = start(config(env, &g), Duration::ZERO);
    let want = expected_ids(&evs);
    read_until(
        &alerts,
        &mut seen,
        READ_LIMIT,
        |s| s.alerts.len() >= want.len(),
        true,
    )
    .await;
    assert_eq!(seen.alert_ids(), want, "no alert lost, none invented");
    for (id, copies) in &seen.alerts {
        let (_, a) = &copies[0];
        for (_, b) in &copies[1..] {
            assert_eq!(
                (&a.account_id, &a.event_ids, a.kind),
                (&b.account_id, &b.event_ids, b.kind),
                "a repeated {id} is the same alert"
            );
        }
    }
    second.stop().await;
}

/// Two members of one group split the partitions; together they publish the same alert set as
/// one member alone does.
pub async fn two_members_split(env: &Env) {
    let g = group("pair", env);
    let a = start(config(env, &g), Duration::ZERO);
    let b = start(config(env, &g), Duration::ZERO);
    let n = i64::from(env.input_partitions);
    assert!(
        eventually(READ_LIMIT, || a.partitions() > 0
            && b.partitions() > 0
            && a.partitions() + b.partitions() == n)
        .await,
        "partitions split: {} + {}",
        a.partitions(),
        b.partitions()
    );
    let evs = events(400, "pair");
    produce(&env.brokers, &env.input, &evs).await;
    let want = expected_ids(&evs);
    let alerts = reader(&env.brokers, &env.alerts, env.alert_partitions);
    let mut pair = Seen::default();
    read_until(
        &alerts,
        &mut pair,
        READ_LIMIT,
        |s| s.alerts.len() >= want.len(),
        true,
    )
    .await;
    let (ca, cb) = (
        a.telemetry.metrics.events_consumed.get(),
        b.telemetry.metrics.events_consumed.get(),
    );
    assert!(ca > 0 && cb > 0, "both members worked: {ca} and {cb}");
    a.stop().await;
    b.stop().await;

    let mut cfg = config(env, &group("single", env));
    cfg.kafka.alert_topic = env.spare_alerts.clone();
    let single = start(cfg, Duration::ZERO);
    let spare = reader(&env.brokers, &env.spare_alerts, env.alert_partitions);
    let mut alone = Seen::default();
    read_until(
        &spare,
        &mut alone,
        READ_LIMIT,
        |s| s.alerts.len() >= want.len(),
        true,
    )
    .await;
    single.stop().await;
    assert_eq!(pair.alert_ids(), want);
    assert_eq!(
        pair.alert_ids(),
        alone.alert_ids(),
        "pair and single member agree"
    );
}

/// Two members in two processes (this test binary re-run as `child_test`): they split the
/// partitions, publish every alert, report over HTTP, and stop cleanly on SIGTERM, committing.
pub async fn two_processes(env: &Env, child_test: &str) {
    let g = group("procs", env);
    let a = super::process::spawn_member(env, &g, child_test);
    let b = super::process::spawn_member(env, &g, child_test);
    let n = f64::from(env.input_partitions);
    let assigned = |m: &super::process::ChildMember| m.metric("loginwatch_partitions_assigned");
    assert!(
        eventually(READ_LIMIT, || match (assigned(&a), assigned(&b)) {
            (Some(x), Some(y)) => x > 0.0 && y > 0.0 && x + y == n,
            _ => false,
        })
        .await,
        "partitions split between the processes"
    );
    for m in [&a, &b] {
        assert!(
            eventually(READ_LIMIT, || m
                .get("/readyz")
                .is_some_and(|(code, _)| code == 200))
            .await,
            "/readyz turns 200"
        );
        assert_eq!(m.get("/healthz").map(|(code, _)| code), Some(200));
    }
    let evs = events(300, "procs");
    produce(&env.brokers, &env.input, &evs).await;
    let want = expected_ids(&evs);
    let seen = read_alerts(env, want.len()).await;
    assert_eq!(seen.alert_ids(), want);
    let consumed = |m: &super::process::ChildMember| {
        m.metric("loginwatch_events_consumed_total").unwrap_or(0.0)
    };
    assert!(
        eventually(READ_LIMIT, || consumed(&a) + consumed(&b)
            >= evs.len() as f64)
        .await,
        "every event consumed"
    );
    assert!(
        consumed(&a) > 0.0 && consumed(&b) > 0.0,
        "both processes worked"
    );
    a.terminate().await;
    b.terminate().await;
    let hw = high_watermarks(&env.brokers, &env.input, env.input_partitions);
    let committed = committed(&env.brokers, &g, &env.input, env.input_partitions);
    assert_eq!(committed, hw, "SIGTERM commits what was processed");
}

/// A member that starts behind a backlog with room for 64 messages per partition: its
/// partitions' queues are full most of the time, so fetching keeps waiting on the workers
/// (backpressure), and it must still read every message exactly as produced — no message
/// skipped, which a consumer that pauses and resumes partitions does on a broker that answers
/// a resumed fetch from inside a record batch with the next batch.
pub async fn catch_up_under_backpressure(env: &Env) {
    let evs = events(12_000, "cu");
    produce(&env.brokers, &env.input, &evs).await;
    let mut cfg = config(env, &group("catchup", env));
    cfg.kafka.partition_queue_capacity = std::num::NonZeroUsize::new(64).expect("64");
    // A full partition is fetched again once the fetch of the others returns: a short wait
    // keeps the test's small queues moving (see `partition_queue_capacity`).
    cfg.kafka.consumer.set("fetch.wait.max.ms", "20");
    let member = start(cfg, Duration::from_micros(200));
    let m = member.telemetry.metrics.clone();
    assert!(
        eventually(Duration::from_secs(120), || m.events_consumed.get()
            >= evs.len() as u64)
        .await,
        "every message read: {} of {}",
        m.events_consumed.get(),
        evs.len()
    );
    let want = expected_ids(&evs);
    let seen = read_alerts(env, want.len()).await;
    assert_eq!(seen.alert_ids(), want, "no alert lost while catching up");
    assert_eq!(
        m.events_consumed.get(),
        evs.len() as u64,
        "no message twice"
    );
    assert!(
        m.partition_pauses.get() > 0,
        "the workers were full: backpressure engaged"
    );
    member.stop().await;
}

/// A partition whose worker is far behind (its queue full, fetching it stopped) does not hold
/// the member's other partitions back: what arrives for them while it is behind is read and
/// committed at once, not after the slow partition's backlog.
pub async fn a_slow_partition_holds_no_other_back(env: &Env) {
    let backlog = events(200, "slow");
    produce(&env.brokers, &env.input, &backlog).await;
    let hw = high_watermarks(&env.brokers, &env.input, env.input_partitions);
    let slow = (0..env.input_partitions)
        .max_by_key(|p| hw[*p as usize])
        .expect("partitions");
    let g = group("slow", env);
    let mut cfg = config(env, &g);
    cfg.kafka.partition_queue_capacity = std::num::NonZeroUsize::new(4).expect("4");
    cfg.kafka.max_in_flight_per_partition = std::num::NonZeroUsize::new(4).expect("4");
    cfg.kafka.consumer.set("fetch.wait.max.ms", "20");
    // Its share of the backlog takes the slow partition's worker ~25 s.
    let factory = TestFactory {
        delay: Duration::from_millis(500),
        only: Some(slow),
    };
    let member = start_with(cfg, Arc::new(factory));
    let m = member.telemetry.metrics.clone();
    assert!(
        eventually(Duration::from_secs(30), || m.events_consumed.get() > 0).await,
        "the member started"
    );
    // More for every partition while the slow one is behind.
    produce(&env.brokers, &env.input, &events(200, "more")).await;
    let hw = high_watermarks(&env.brokers, &env.input, env.input_partitions);
    let others_done = || {
        let c = committed(&env.brokers, &g, &env.input, env.input_partitions);
        (0..env.input_partitions).all(|p| p == slow || c[p as usize] == hw[p as usize])
    };
    assert!(
        eventually(Duration::from_secs(15), others_done).await,
        "the other partitions reach their ends: committed {:?} of {hw:?} (slow: {slow})",
        committed(&env.brokers, &g, &env.input, env.input_partitions)
    );
    let c = committed(&env.brokers, &g, &env.input, env.input_partitions);
    assert!(
        c[slow as usize] < hw[slow as usize],
        "partition {slow} is still behind ({} of {}): the others passed it",
        c[slow as usize],
        hw[slow as usize]
    );
    member.stop().await;
}
