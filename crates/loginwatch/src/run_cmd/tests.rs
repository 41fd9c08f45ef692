//! The service's wiring: metrics the deploy files name, engine counters, a partition's
//! state records.

use super::*;
use loginwatch_model::Alert;

/// Every `loginwatch_…` name in a deploy file.
fn names_in(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("loginwatch_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
            .collect();
        rest = &rest[at + name.len()..];
        out.insert(name);
    }
    out
}

#[test]
fn dashboards_and_alert_rules_name_only_exported_metrics() {
    let telemetry = Telemetry::new().expect("metrics");
    let m = &telemetry.metrics;
    preregister(m);
    ProcessGauges::register(&telemetry.registry).expect("gauges");
    register_skipped(&telemetry.registry).expect("skip counter");
    // Families with labels show once a series exists.
    for vec in [
        &m.tracked_accounts,
        &m.state_bytes,
        &m.consumer_lag,
        &m.network_stage_lag,
        &m.network_stage_networks,
    ] {
        vec.with_label_values(&["0"]);
    }
    m.reloads.with_label_values(&["geoip", "ok"]);
    m.state_restore_seconds.with_label_values(&["0"]);
    let exported: std::collections::BTreeSet<String> = telemetry
        .registry
        .gather()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    let files = [
        (
            "prometheus-alerts.yml",
            include_str!("../../../../deploy/prometheus-alerts.yml"),
        ),
        (
            "grafana/loginwatch.json",
            include_str!("../../../../deploy/grafana/loginwatch.json"),
        ),
    ];
    for (file, text) in files {
        let named = names_in(text);
        assert!(named.len() > 5, "{file} names metrics");
        for name in named {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| exported.contains(*b)))
                .unwrap_or(&name);
            assert!(exported.contains(base), "{file}: {name} is not exported");
        }
    }
}

/// The factory `serve` builds over `config` (state on; the network stage with `network`).
fn factory_for(config: Config, network: bool) -> (Factory, Telemetry) {
    let telemetry = Telemetry::new().expect("metrics");
    let factory = Factory {
        stateful: true,
        network,
        shared: Arc::new(SharedIndex::for_config(&config.engine)),
        locator: Reloadable::new(open_locator(&config).expect("demo world")),
        metrics: telemetry.metrics.clone(),
        skipped: register_skipped(&telemetry.registry).expect("skip counter"),
        config,
    };
    (factory, telemetry)
}

/// The factory `serve` builds over the default configuration (demo world).
fn factory() -> (Factory, Telemetry) {
    factory_for(Config::default(), false)
}

#[test]
fn a_vendor_format_is_decoded_skipped_and_rejected_by_the_pipeline() {
    let mut config = Config::default();
    config.input.format = loginwatch_model::Format::Keycloak;
    let (factory, telemetry) = factory_for(config, false);
    let mut p = factory.create("logins", 0, 4);
    let (mut out, applied) = (Vec::new(), |_: &str| false);
    let login = |ms: u64, ip: &str| {
        format!(r#"{{"type":"LOGIN","time":{ms},"userId":"u1","ipAddress":"{ip}","id":"k{ms}"}}"#)
    };
    // A login from the demo world's Pyongyang: a sanctioned-region alert.
    use loginwatch_geo::demo_world::{city_ip, find_city};
    let pyongyang = city_ip(find_city("Pyongyang").expect("a demo city"), 9).to_string();
    p.process(
        login(1_795_514_700_000, &pyongyang).as_bytes(),
        &mut out,
        &applied,
    )
    .expect("a login");
    assert!(
        out.iter().any(|a| a.event_ids == ["k1795514700000"]),
        "{out:?}"
    );
    let token = r#"{"type":"CODE_TO_TOKEN","time":0,"userId":"u1","ipAddress":"10.0.0.1"}"#;
    p.process(token.as_bytes(), &mut out, &applied)
        .expect("skipped, not rejected");
    let bad = r#"{"type":"LOGIN","time":0,"ipAddress":"10.0.0.1"}"#;
    let reject = p
        .process(bad.as_bytes(), &mut out, &applied)
        .expect_err("no user");
    assert_eq!(
        (reject.reason.code(), &reject.bytes[..]),
        ("missing_field", bad.as_bytes())
    );
    assert_eq!(p.tracked_accounts(), 1);
    let skipped = &factory.skipped;
    assert_eq!(skipped.with_label_values(&["not_login"]).get(), 1);
    let registered = telemetry.registry.gather();
    assert!(registered
        .iter()
        .any(|f| f.name() == "loginwatch_events_skipped_total"));
}

#[test]
fn partitions_export_the_engines_counters() {
    let (factory, telemetry) = factory();
    let mut p = factory.create("logins", 3, 4);
    let line = |id: &str, t: &str| {
        format!(r#"{{"account_id":"a","ip":"203.0.113.9","timestamp":"{t}","event_id":"{id}"}}"#)
    };
    let mut out = Vec::new();
    for (id, t) in [
        ("e1", "2026-11-24T12:00:00Z"),
        ("e1", "2026-11-24T12:00:00Z"), // a redelivery
        ("e0", "2026-11-24T10:00:00Z"), // two hours late
    ] {
        p.process(line(id, t).as_bytes(), &mut out, &|_| false)
            .expect("valid");
    }
    drop(p); // exports
    let m = &telemetry.metrics;
    let dropped = |r: &str| m.events_dropped.with_label_values(&[r]).get();
    assert_eq!((dropped("duplicate"), dropped("too_late")), (1, 1));
    assert!(m.state_bytes.with_label_values(&["3"]).get() > 0);
}

#[test]
fn a_partition_restored_from_its_changes_goes_on_as_the_original() {
    let (factory, _telemetry) = factory();
    let line = |id: &str, ip: &str, t: &str| {
        format!(r#"{{"account_id":"a","ip":"{ip}","timestamp":"{t}","event_id":"{id}"}}"#)
    };
    // Seoul, then New York 40 minutes later (the demo world's addresses).
    use loginwatch_geo::demo_world::{city_ip, find_city};
    let ip = |city| city_ip(find_city(city).expect("demo city"), 7).to_string();
    let before = [line("e1", &ip("Seoul"), "2026-11-24T12:00:00Z")];
    let next = line("e2", &ip("New York"), "2026-11-24T12:40:00Z");
    let mut original = factory.create("logins", 0, 4);
    let mut out = Vec::new();
    for l in &before {
        original
            .process(l.as_bytes(), &mut out, &|_| false)
            .expect("valid");
    }
    let mut records: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let state = original.state().expect("stateful");
    state
        .take_changes(usize::MAX, &mut |a, r| {
            records.push((a.to_owned(), r.map(<[u8]>::to_vec)))
        })
        .expect("encoded");
    let clocks = state.clocks().expect("clocks");
    assert_eq!(records.len(), 1);

    let mut restored = factory.create("logins", 0, 4);
    let state = restored.state().expect("stateful");
    for (account, record) in &records {
        state.restore(account, record.as_deref()).expect("restored");
    }
    state.restore_clocks(&clocks).expect("clocks restored");
    state.finish_restore();
    assert!(
        state
            .restore("b", Some(&records[0].1.clone().unwrap()))
            .is_err(),
        "key and record must agree"
    );
    assert_eq!(restored.tracked_accounts(), 1);

    let (mut a, mut b) = (Vec::new(), Vec::new());
    original
        .process(next.as_bytes(), &mut a, &|_| false)
        .expect("valid");
    restored
        .process(next.as_bytes(), &mut b, &|_| false)
        .expect("valid");
    assert!(!a.is_empty(), "the second login raises alerts");
    assert_eq!(a, b);
    // Read again after a restart, the event is already in the restored state.
    let mut c = Vec::new();
    restored
        .process(next.as_bytes(), &mut c, &|_| true)
        .expect("valid");
    assert!(c.is_empty());
}

/// Five accounts living on one address, each logging in from it twice on each of two days.
fn farm_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for (day, hour) in [(24, 9), (24, 17), (25, 9), (25, 17)] {
        for i in 0..5 {
            lines.push(format!(
                r#"{{"account_id":"farm-{i}","ip":"8.8.4.4","timestamp":"2026-11-{day}T{hour:02}:0{i}:00Z","event_id":"f{day}{hour}{i}"}}"#
            ));
        }
    }
    lines
}

#[test]
fn partitions_with_network_stages_find_a_farm_spread_over_them() {
    let shared = |alerts: &[Alert]| -> std::collections::BTreeSet<(String, String)> {
        alerts
            .iter()
            .filter(|a| a.kind == loginwatch_model::AlertKind::SharedIp)
            .map(|a| (a.account_id.clone(), a.alert_id.clone()))
            .collect()
    };
    let (factory, _t) = factory();
    let mut one = factory.create("logins", 0, 1);
    let mut expected = Vec::new();
    for l in farm_lines() {
        one.process(l.as_bytes(), &mut expected, &|_| false)
            .expect("valid");
    }
    assert_eq!(shared(&expected).len(), 5, "{expected:#?}");

    let (factory, _t) = factory_for(Config::default(), true);
    let mut parts: Vec<_> = (0..3).map(|p| factory.create("logins", p, 3)).collect();
    let (mut alerts, mut queue) = (Vec::new(), Vec::new());
    for (n, l) in farm_lines().iter().enumerate() {
        // Accounts spread over the partitions as a producer keyed by account would.
        let p = n % 5 % 3;
        parts[p]
            .process(l.as_bytes(), &mut alerts, &|_| false)
            .expect("valid");
        parts[p].take_network_messages(3, &mut |to, b| queue.push((to, b.to_vec())));
        while let Some((to, bytes)) = queue.pop() {
            let to = to as usize;
            parts[to]
                .process_network(&bytes, &mut alerts, None)
                .expect("taken");
            parts[to].take_network_messages(3, &mut |to, b| queue.push((to, b.to_vec())));
        }
    }
    assert_eq!(shared(&alerts), shared(&expected));
    // A message for another partition is refused, as is a damaged one.
    let mut visits = Vec::new();
    let other_login = r#"{"account_id":"x","ip":"9.9.9.9","timestamp":"2026-11-26T09:00:00Z"}"#;
    parts[0]
        .process(other_login.as_bytes(), &mut alerts, &|_| false)
        .expect("valid");
    parts[0].take_network_messages(3, &mut |to, b| visits.push((to, b.to_vec())));
    let (to, bytes) = visits.pop().expect("a visit");
    let other = (to as usize + 1) % 3;
    assert!(parts[other]
        .process_network(&bytes, &mut alerts, None)
        .is_err());
    assert!(parts[0]
        .process_network(b"\x01junk", &mut alerts, None)
        .is_err());
}

#[test]
fn a_group_gives_what_its_messages_give_one_at_a_time() {
    let mut lines = farm_lines();
    lines.insert(3, "not json".into());
    // A traveller from Seoul to Lagos in ten minutes raises alerts of its own.
    use loginwatch_geo::demo_world::{city_ip, find_city};
    let at = |city| city_ip(find_city(city).expect("a demo city"), 5).to_string();
    for (t, ip) in [
        ("2026-11-24T09:30:00Z", at("Seoul")),
        ("2026-11-24T09:40:00Z", at("Lagos")),
    ] {
        lines.push(format!(
            r#"{{"account_id":"traveller","ip":"{ip}","timestamp":"{t}","event_id":"t{t}"}}"#
        ));
    }
    let payloads: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    // Message 7's account holds it already (a restored state written after it).
    let applied = |i: usize, _: &str| i == 7;
    let (factory, _t) = factory_for(Config::default(), true);

    let mut one = factory.create("logins", 0, 3);
    let (mut want_alerts, mut want, mut want_items) = (Vec::new(), Vec::new(), Vec::new());
    for (i, payload) in payloads.iter().enumerate() {
        let before = want_alerts.len();
        let r = one.process(payload, &mut want_alerts, &|a| applied(i, a));
        want.push(
            r.map(|()| want_alerts.len() - before)
                .map_err(|e| e.reason.code()),
        );
        one.take_network_messages(3, &mut |to, b| want_items.push((i, to, b.to_vec())));
    }
    assert!(want.iter().any(|r| r.is_err()) && want_items.len() > 10);

    let mut grouped = factory.create("logins", 0, 3);
    let (mut alerts, mut results, mut items) = (Vec::new(), Vec::new(), Vec::new());
    for (n, chunk) in payloads.chunks(8).enumerate() {
        let base = n * 8;
        grouped.process_group(
            chunk,
            &|i, a| applied(base + i, a),
            3,
            &mut |i, to, b| items.push((base + i, to, b.to_vec())),
            &mut results,
            &mut alerts,
        );
        let got: Vec<_> = results
            .drain(..)
            .map(|r| r.map_err(|e| e.reason.code()))
            .collect();
        assert_eq!(got, want[base..base + chunk.len()]);
    }
    let ids = |a: &[Alert]| a.iter().map(|a| a.alert_id.clone()).collect::<Vec<_>>();
    assert!(!want_alerts.is_empty());
    assert_eq!(ids(&alerts), ids(&want_alerts));
    assert_eq!(items, want_items);
}
