//! shared_ip through the engine: farms, prefixes, exceptions, and sharing across engines.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use crate::{Engine, EngineConfig, SharedIndex};
use loginwatch_model::{Alert, AlertKind, Severity};
use std::collections::BTreeSet;
use std::sync::Arc;

const DAY_MIN: i64 = 24 * 60;

/// `n` accounts `farm-i` that live on `ip(i)`: each logs in from it twice on each of two
/// days (at `from_min` + 10 min × i, and 8 h later), and nowhere else.
fn farm(n: usize, from_min: i64, ip: impl Fn(usize) -> String) -> Vec<Ev> {
    named("farm", 0, n, from_min, ip)
}

/// Accounts `{name}-{first}` .. `{name}-{first + n - 1}` living on `ip(i)` as [`farm`] says.
fn named(
    name: &str,
    first: usize,
    n: usize,
    from_min: i64,
    ip: impl Fn(usize) -> String,
) -> Vec<Ev> {
    let mut v: Vec<Ev> = [0, 8 * 60, DAY_MIN, DAY_MIN + 8 * 60]
        .into_iter()
        .flat_map(|at| {
            let ip = &ip;
            (first..first + n).map(move |i| {
                let min = from_min + at + 10 * (i - first) as i64;
                let id = format!("{name}-{i}");
                ev(&id, &format!("e{min}-{id}"), min * 60, &ip(i)).city("Chicago")
            })
        })
        .collect();
    v.sort_by_key(|e| e.clone().build().event.timestamp);
    v
}

/// One login of `account` at minute `min` from `ip`.
fn login(account: &str, min: i64, ip: &str) -> Ev {
    ev(account, &format!("e{min}-{account}-{ip}"), min * 60, ip).city("Chicago")
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
    // A fifth account living there: every one of them is alerted, once.
    let alerts = run(&mut e, named("farm", 4, 1, 40, |_| "8.8.4.4".into()));
    let s = shared(&alerts);
    assert_eq!(s.len(), 5, "{alerts:#?}");
    assert_eq!(accounts(&s).len(), 5);
    let evd = &s[0].evidence.to_value();
    assert_eq!(evd["network"], "8.8.4.4/32");
    assert_eq!(evd["level"], "ip");
    assert_eq!(evd["distinct_accounts"], 5);
    assert_eq!(evd["window_s"], 86_400);
    assert_eq!(evd["history_s"], 7 * 86_400);
    assert_eq!(evd["accounts"].as_array().map(Vec::len), Some(5));
    assert_eq!(evd["accounts"][0]["days"], 2);
    assert_eq!(evd["accounts"][0]["share"], 1.0);
    assert!(evd["accounts"][0]["logins"].as_u64() >= Some(3));
    assert!(
        s[0].summary.contains("live on 8.8.4.4/32"),
        "{}",
        s[0].summary
    );
    assert!(s
        .iter()
        .all(|a| a.severity == Severity::Medium && a.event_ids.len() == 1));
    // A sixth account comes to live there: one alert, for it; the others are not alerted
    // again.
    let more = run(
        &mut e,
        named("late", 0, 1, DAY_MIN + 60, |_| "8.8.4.4".into()),
    );
    assert_eq!(
        accounts(&shared(&more)),
        BTreeSet::from(["late-0".to_owned()])
    );
    let again = run(&mut e, farm(5, 2 * DAY_MIN + 60, |_| "8.8.4.4".into()));
    assert!(shared(&again).is_empty(), "{again:#?}");
}

#[test]
fn carrier_pools_and_venues_are_not_farms() {
    type Tweak = Box<dyn Fn(&mut EngineConfig)>;
    let mut carrier = Vec::new();
    // 60 subscribers, 3 sessions a day for 4 days, each on a random address of a pool of 6:
    // every address sees dozens of subscribers a day, each with a small share of its logins.
    let mut r = 7u64;
    for day in 0..4 {
        for s in 0..3 {
            for i in 0..60 {
                r = r
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let ip = format!("100.64.0.{}", 1 + (r >> 33) % 6);
                carrier.push(login(&format!("sub-{i}"), day * DAY_MIN + s * 300 + i, &ip));
            }
        }
    }
    // A coworking space: 12 regulars, two logins there on workdays, two from home.
    let mut venue = Vec::new();
    for day in 0..4 {
        for i in 0..12i64 {
            let at = day * DAY_MIN + i;
            for (dt, ip) in [(0, "8.8.4.4".to_owned()), (120, "8.8.4.4".into())] {
                venue.push(login(&format!("desk-{i}"), at + dt, &ip));
            }
            for dt in [600, 700] {
                venue.push(login(&format!("desk-{i}"), at + dt, &format!("8.9.{i}.1")));
            }
        }
    }
    // A campus: six accounts that log in from it alone, among twenty regulars who also log
    // in from home: those living there are a minority of its accounts.
    let mut campus = farm(6, 0, |_| "8.8.4.4".into());
    for day in 0..2 {
        for i in 0..20i64 {
            let at = day * DAY_MIN + 60 + i;
            campus.push(login(&format!("student-{i}"), at, "8.8.4.4"));
            campus.push(login(
                &format!("student-{i}"),
                at + 600,
                &format!("8.9.{i}.1"),
            ));
        }
    }
    // Twenty accounts passing through once (100 % of their logins "so far").
    let once = farm(20, 0, |_| "8.8.4.4".into())
        .into_iter()
        .take(20)
        .collect::<Vec<_>>();
    // Many logins, but all on one day.
    let one_day: Vec<Ev> = (0..8)
        .flat_map(|k| (0..10).map(move |i| login(&format!("day-{i}"), k * 30 + i, "8.8.4.4")))
        .collect();
    let cases: Vec<(&str, Tweak, Vec<Ev>)> = vec![
        ("carrier-grade NAT pool", Box::new(|_| {}), carrier),
        ("coworking space with home logins", Box::new(|_| {}), venue),
        (
            "a few living on a busy campus address",
            Box::new(|_| {}),
            campus,
        ),
        ("first logins only", Box::new(|_| {}), once),
        ("one day only", Box::new(|_| {}), one_day),
    ];
    for (name, tweak, mut logins) in cases {
        logins.sort_by_key(|e| e.clone().build().event.timestamp);
        let mut e = engine_with(tweak);
        let alerts = run(&mut e, logins);
        assert!(shared(&alerts).is_empty(), "{name}: {alerts:#?}");
    }
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
                .chain(named("farm", 4, 1, 3 * DAY_MIN, |_| "8.8.4.4".into()))
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
    // Five accounts living on five addresses of one /24: no farm by default (prefixes off) …
    let mut e = engine_with(|_| {});
    assert!(shared(&run(&mut e, farm(5, 0, |i| format!("8.8.4.{}", i + 1)))).is_empty());
    // … with prefixes on, ten are over the prefix bar, and with the bar at five: one low
    // alert each, for the /24.
    let on = |c: &mut EngineConfig| c.detect.shared_ip.prefixes = true;
    let mut e = engine_with(on);
    assert!(shared(&run(&mut e, farm(5, 0, |i| format!("8.8.4.{}", i + 1)))).is_empty());
    let mut e = engine_with(on);
    assert_eq!(
        shared(&run(&mut e, farm(10, 0, |i| format!("8.8.4.{}", i + 1)))).len(),
        10
    );
    let mut e = engine_with(|c| {
        on(c);
        c.detect.shared_ip.prefix_min_accounts = 5;
    });
    let alerts = run(&mut e, farm(5, 0, |i| format!("8.8.4.{}", i + 1)));
    let s = shared(&alerts);
    assert_eq!(s.len(), 5);
    assert_eq!(s[0].evidence.to_value()["network"], "8.8.4.0/24");
    assert_eq!(s[0].evidence.to_value()["level"], "prefix");
    assert!(s.iter().all(|a| a.severity == Severity::Low));
    // IPv6: privacy addresses of one /64 are one host.
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, farm(5, 0, |i| format!("2001:4860:1:2::{}", i + 1)));
    let s = shared(&alerts);
    assert_eq!(s.len(), 5);
    assert_eq!(s[0].evidence.to_value()["network"], "2001:4860:1:2::/64");
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
    v.sort_by_key(|e| e.clone().build().event.timestamp);
    v
}

#[test]
fn engines_sharing_an_index_give_the_alerts_of_one_engine_in_any_interleaving() {
    let five = |c: &mut EngineConfig| {
        c.detect.shared_ip.prefixes = true;
        c.detect.shared_ip.prefix_min_accounts = 5;
    };
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
        // Findings left for engines that saw no event since.
        for e in &mut engines {
            e.take_deliveries(&mut out);
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
    assert!(!one.is_empty());
    let index = Arc::new(SharedIndex::new(1000));
    let cfg = Arc::new(EngineConfig::default());
    let (mut engines, outs): (Vec<Engine>, Vec<Vec<Alert>>) = std::thread::scope(|s| {
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
                    (e, out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).unzip()
    });
    let mut out: Vec<Alert> = outs.into_iter().flatten().collect();
    for e in &mut engines {
        e.take_deliveries(&mut out);
    }
    assert_eq!(ids(&out), one);
}
