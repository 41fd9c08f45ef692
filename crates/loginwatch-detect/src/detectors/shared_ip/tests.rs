//! shared_ip through the engine: farms, prefixes, exceptions, and sharing across engines.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use crate::{Engine, EngineConfig, SharedIndex};
use loginwatch_model::{Alert, AlertKind, Severity};
use std::collections::BTreeSet;
use std::sync::Arc;

/// `n` accounts `farm-i` logging in from `ip(i)` 10 minutes apart, starting at `from_min`.
fn farm(n: usize, from_min: i64, ip: impl Fn(usize) -> String) -> Vec<Ev> {
    named("farm", 0, n, from_min, ip)
}

/// Accounts `{name}-{first}` .. `{name}-{first + n - 1}`.
fn named(
    name: &str,
    first: usize,
    n: usize,
    from_min: i64,
    ip: impl Fn(usize) -> String,
) -> Vec<Ev> {
    (first..first + n)
        .map(|i| {
            let secs = (from_min + 10 * (i - first) as i64) * 60;
            let id = format!("{name}-{i}");
            ev(&id, &format!("e{from_min}-{id}"), secs, &ip(i)).city("Chicago")
        })
        .collect()
}

fn shared(alerts: &[Alert]) -> Vec<&Alert> {
    of_kind(alerts, AlertKind::SharedIp)
}

fn accounts(alerts: &[&Alert]) -> BTreeSet<String> {
    alerts.iter().map(|a| a.account_id.clone()).collect()
}

#[test]
fn a_farm_on_one_address_alerts_each_account_once_naming_the_address() {
    let mut e = engine_with(|_| {});
    assert!(shared(&run(&mut e, farm(4, 0, |_| "8.8.4.4".into()))).is_empty());
    let alerts = run(&mut e, named("farm", 4, 1, 40, |_| "8.8.4.4".into()));
    let s = shared(&alerts);
    assert_eq!(s.len(), 5, "{alerts:#?}");
    assert_eq!(accounts(&s).len(), 5);
    let evd = &s[0].evidence;
    assert_eq!(evd["network"], "8.8.4.4/32");
    assert_eq!(evd["level"], "ip");
    assert_eq!(evd["distinct_accounts"], 5);
    assert_eq!(evd["window_s"], 86_400);
    assert_eq!(evd["accounts"].as_array().map(Vec::len), Some(5));
    assert!(s
        .iter()
        .all(|a| a.severity == Severity::Medium && a.event_ids.len() == 1));
    // A sixth account joins: one alert, for it; the farm's members are not alerted again, and
    // the /24 never adds a second alert for the same farm.
    let more = run(
        &mut e,
        vec![ev("late", "x1", 60 * 60, "8.8.4.4").city("Chicago")],
    );
    let s = shared(&more);
    assert_eq!(accounts(&s), BTreeSet::from(["late".to_owned()]));
    let again = run(&mut e, farm(5, 70, |_| "8.8.4.4".into()));
    assert!(shared(&again).is_empty(), "{again:#?}");
}

#[test]
fn quiet_cases_stay_quiet() {
    type Tweak = Box<dyn Fn(&mut EngineConfig)>;
    let cases: Vec<(&str, Tweak, Vec<Ev>)> = vec![
        (
            "four accounts",
            Box::new(|_| {}),
            farm(4, 0, |_| "8.8.4.4".into()),
        ),
        (
            "five accounts over more than the window",
            Box::new(|_| {}),
            farm(4, 0, |_| "8.8.4.4".into())
                .into_iter()
                .chain(named("farm", 4, 1, 25 * 60, |_| "8.8.4.4".into()))
                .collect(),
        ),
        (
            "office NAT in trusted_cidrs",
            Box::new(|c| c.exceptions.trusted_cidrs = vec!["8.8.4.0/24".into()]),
            farm(20, 0, |_| "8.8.4.4".into()),
        ),
        (
            "carrier ASN in trusted_asns",
            Box::new(|c| c.exceptions.trusted_asns = vec!["AS21928".into()]),
            farm(20, 0, |_| "8.8.4.4".into())
                .into_iter()
                .map(|e| e.asn(21928))
                .collect(),
        ),
        (
            "commercial VPN exit",
            Box::new(|_| {}),
            farm(20, 0, |_| "8.8.4.4".into())
                .into_iter()
                .map(Ev::vpn)
                .collect(),
        ),
        (
            "failed logins",
            Box::new(|_| {}),
            farm(20, 0, |_| "8.8.4.4".into())
                .into_iter()
                .map(Ev::failed)
                .collect(),
        ),
        (
            "private address of an internal proxy",
            Box::new(|_| {}),
            farm(20, 0, |_| "10.0.0.1".into()),
        ),
        (
            "households in their own /24 and /64",
            Box::new(|_| {}),
            farm(20, 0, |i| format!("8.8.{i}.4"))
                .into_iter()
                .chain(farm(20, 0, |i| format!("2001:4860:{i}::1")))
                .collect(),
        ),
        (
            "dual stack: one household's IPv4 and privacy addresses",
            Box::new(|_| {}),
            (0..10)
                .map(|i| {
                    let ip = if i % 2 == 0 {
                        "8.8.4.4".to_owned()
                    } else {
                        format!("2001:4860:1:2::{i}")
                    };
                    ev("home", &format!("d{i}"), i * 600, &ip).city("Chicago")
                })
                .collect(),
        ),
        (
            "disabled",
            Box::new(|c| c.detect.shared_ip.enabled = false),
            farm(20, 0, |_| "8.8.4.4".into()),
        ),
    ];
    for (name, tweak, logins) in cases {
        let mut e = engine_with(tweak);
        let alerts = run(&mut e, logins);
        assert!(shared(&alerts).is_empty(), "{name}: {alerts:#?}");
    }
}

#[test]
fn prefixes_and_ipv6_hosts() {
    // Five neighbours on five addresses of one /24 are below the prefix bar (10) …
    let mut e = engine_with(|_| {});
    assert!(shared(&run(&mut e, farm(5, 0, |i| format!("8.8.4.{}", i + 1)))).is_empty());
    // … ten are over it; and with the bar at five: one low alert each, for the /24.
    let mut e = engine_with(|_| {});
    assert_eq!(
        shared(&run(&mut e, farm(10, 0, |i| format!("8.8.4.{}", i + 1)))).len(),
        10
    );
    let mut e = engine_with(|c| c.detect.shared_ip.prefix_min_accounts = 5);
    let alerts = run(&mut e, farm(5, 0, |i| format!("8.8.4.{}", i + 1)));
    let s = shared(&alerts);
    assert_eq!(s.len(), 5);
    assert_eq!(s[0].evidence["network"], "8.8.4.0/24");
    assert_eq!(s[0].evidence["level"], "prefix");
    assert!(s.iter().all(|a| a.severity == Severity::Low));
    // IPv6: privacy addresses of one /64 are one host.
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, farm(5, 0, |i| format!("2001:4860:1:2::{}", i + 1)));
    let s = shared(&alerts);
    assert_eq!(s.len(), 5);
    assert_eq!(s[0].evidence["network"], "2001:4860:1:2::/64");
    // Prefixes off: the /24 case is quiet.
    let mut e = engine_with(|c| c.detect.shared_ip.prefixes = false);
    assert!(shared(&run(&mut e, farm(5, 0, |i| format!("8.8.4.{}", i + 1)))).is_empty());
}

#[test]
fn exempt_accounts_are_neither_counted_nor_alerted() {
    let mut e = engine_with(|c| {
        c.exceptions
            .accounts
            .insert("farm-0".into(), vec!["shared_ip".into()]);
    });
    assert!(shared(&run(&mut e, farm(5, 0, |_| "8.8.4.4".into()))).is_empty());
    let alerts = run(&mut e, farm(6, 0, |_| "8.8.4.4".into()));
    assert!(!accounts(&shared(&alerts)).contains("farm-0"));
}

fn ids(alerts: &[Alert]) -> BTreeSet<String> {
    shared(alerts).iter().map(|a| a.alert_id.clone()).collect()
}

/// Two farms over the same address range, logins interleaved with ordinary ones.
fn stream() -> Vec<Ev> {
    let mut v = farm(7, 0, |_| "8.8.4.4".into());
    v.extend(named("crew", 0, 6, 5, |i| format!("8.8.8.{}", i + 1)));
    v.extend(farm(7, 200, |_| "8.8.4.4".into()));
    v
}

#[test]
fn engines_sharing_an_index_give_the_alerts_of_one_engine_in_any_interleaving() {
    let five = |c: &mut EngineConfig| c.detect.shared_ip.prefix_min_accounts = 5;
    let one = run(&mut engine_with(five), stream());
    assert_eq!(accounts(&shared(&one)).len(), 13, "{one:#?}");
    let logins: Vec<_> = stream().into_iter().map(Ev::build).collect();
    let shard = |a: &str| a.bytes().map(usize::from).sum::<usize>();
    for order in [false, true] {
        let index = Arc::new(SharedIndex::new(1000));
        let mut cfg = EngineConfig::default();
        five(&mut cfg);
        let cfg = Arc::new(cfg);
        let mut engines: Vec<Engine> = (0..3)
            .map(|_| Engine::with_shared_index(cfg.clone(), index.clone()).unwrap())
            .collect();
        let mut out = Vec::new();
        // Sequentially by shard (worst interleaving), or in reverse shard order.
        let mut shards: Vec<usize> = (0..3).collect();
        if order {
            shards.reverse();
        }
        for s in shards {
            for l in logins
                .iter()
                .filter(|l| shard(&l.event.account_id) % 3 == s)
            {
                engines[s].observe(l, &mut out);
            }
        }
        assert_eq!(ids(&out), ids(&one), "order {order}");
    }
    // Private indexes (Engine::new) each see only their shard: why the binary must share one.
    let mut engines: Vec<Engine> = (0..3).map(|_| engine_with(|_| {})).collect();
    let mut out = Vec::new();
    for l in &logins {
        engines[shard(&l.event.account_id) % 3].observe(l, &mut out);
    }
    assert!(ids(&out).len() < ids(&one).len());
}

#[test]
fn threads_sharing_an_index() {
    let logins: Vec<_> = stream().into_iter().map(Ev::build).collect();
    let one = ids(&run(&mut engine_with(|_| {}), stream()));
    let index = Arc::new(SharedIndex::new(1000));
    let cfg = Arc::new(EngineConfig::default());
    let got: BTreeSet<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|w| {
                let (cfg, index, logins) = (cfg.clone(), index.clone(), &logins);
                s.spawn(move || {
                    let mut e = Engine::with_shared_index(cfg, index).unwrap();
                    let mut out = Vec::new();
                    for l in logins.iter().filter(|l| {
                        l.event.account_id.bytes().map(usize::from).sum::<usize>() % 2 == w
                    }) {
                        e.observe(l, &mut out);
                    }
                    ids(&out)
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(got, one);
}
