//! The service's wiring: metrics the deploy files name, engine counters, a partition's
//! state records.

use super::*;

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
    // Families with labels show once a series exists.
    for vec in [&m.tracked_accounts, &m.state_bytes, &m.consumer_lag] {
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

/// The factory `serve` builds over the default configuration (demo world, state on).
fn factory() -> (Factory, Telemetry) {
    let config = Config::default();
    let telemetry = Telemetry::new().expect("metrics");
    let factory = Factory {
        stateful: true,
        shared: Arc::new(SharedIndex::for_config(&config.engine)),
        locator: Reloadable::new(open_locator(&config).expect("demo world")),
        metrics: telemetry.metrics.clone(),
        config,
    };
    (factory, telemetry)
}

#[test]
fn partitions_export_the_engines_counters() {
    let (factory, telemetry) = factory();
    let mut p = factory.create("logins", 3);
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
    let mut original = factory.create("logins", 0);
    let mut out = Vec::new();
    for l in &before {
        original
            .process(l.as_bytes(), &mut out, &|_| false)
            .expect("valid");
    }
    let mut records: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let state = original.state().expect("stateful");
    state
        .take_changes(&mut |a, r| records.push((a.to_owned(), r.map(<[u8]>::to_vec))))
        .expect("encoded");
    let clocks = state.clocks().expect("clocks");
    assert_eq!(records.len(), 1);

    let mut restored = factory.create("logins", 0);
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
