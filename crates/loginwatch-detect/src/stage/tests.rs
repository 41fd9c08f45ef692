//! The network stage: the wire format, engines with stages giving one engine's alerts, and
//! the stage's changelog.

use super::*;
use crate::snapshot::Saved;
use crate::testkit::{engine_with, ev, of_kind, Ev};
use crate::Engine;
use loginwatch_model::Alert;
use std::collections::{BTreeMap, BTreeSet};

const DAY_MIN: i64 = 24 * 60;

/// `n` accounts `{name}-i` living on `ip(i)`: each logs in from it twice on each of two days.
fn living(name: &str, n: usize, from_min: i64, ip: impl Fn(usize) -> String) -> Vec<Ev> {
    [0, 8 * 60, DAY_MIN, DAY_MIN + 8 * 60]
        .into_iter()
        .flat_map(|at| {
            let ip = &ip;
            (0..n).map(move |i| {
                let min = from_min + at + 10 * i as i64;
                let id = format!("{name}-{i}");
                ev(&id, &format!("e{min}-{id}"), min * 60, &ip(i)).city("Chicago")
            })
        })
        .collect()
}

/// Two farms (one address; one /24 over several hosts) and passers-by, in time order.
fn stream() -> Vec<Login> {
    let mut v = living("farm", 7, 0, |_| "8.8.4.4".into());
    v.extend(living("crew", 6, 5, |i| format!("8.8.8.{}", i + 1)));
    v.extend(living("late", 3, 300, |_| "8.8.4.4".into()));
    v.extend((0..40).map(|i| ev(&format!("pass-{i}"), &format!("p{i}"), i * 900, "9.9.9.9")));
    let mut logins: Vec<Login> = v.into_iter().map(Ev::build).collect();
    logins.sort_by_key(|l| l.event.timestamp);
    logins
}

use loginwatch_geo::Login;

fn config() -> EngineConfig {
    let mut c = EngineConfig::default();
    c.detect.shared_ip.prefixes = true;
    c.detect.shared_ip.prefix_min_accounts = 5;
    c
}

fn ids(alerts: &[Alert]) -> BTreeSet<(String, String)> {
    of_kind(alerts, AlertKind::SharedIp)
        .iter()
        .map(|a| (a.account_id.clone(), a.alert_id.clone()))
        .collect()
}

/// Through the wire and back.
fn wire(m: StageMessage) -> StageMessage {
    let mut bytes = Vec::new();
    m.encode(&mut bytes);
    StageMessage::decode(&bytes).expect("decodes")
}

/// `engines` account engines and `stages` network stages; every visit and mail goes through
/// the wire; mail is delivered at once or, with `late`, only after the whole stream.
fn sharded(engines: usize, stages: usize, late: bool) -> Vec<Alert> {
    let cfg = Arc::new(config());
    let mut es: Vec<Engine> = (0..engines)
        .map(|i| {
            let mut e = Engine::with_network_stage(cfg.clone()).unwrap();
            e.set_owner(i as Owner);
            e
        })
        .collect();
    let mut ss: Vec<NetworkStage> = (0..stages)
        .map(|_| NetworkStage::new(cfg.clone()).unwrap())
        .collect();
    let shard = |a: &str| a.bytes().map(usize::from).sum::<usize>() % engines;
    let (mut out, mut visits, mut mail, mut held) = (Vec::new(), Vec::new(), Vec::new(), vec![]);
    for l in stream() {
        let s = shard(&l.event.account_id);
        es[s].observe(&l, &mut out);
        es[s].take_visits(&mut visits);
        for v in visits.drain(..) {
            let StageMessage::Visit(v) = wire(StageMessage::Visit(v)) else {
                panic!("a visit comes back a visit")
            };
            ss[v.partition(stages as u32) as usize].observe(&v, None, &mut mail);
        }
        for m in mail.drain(..) {
            let StageMessage::Mail(m) = wire(StageMessage::Mail(m)) else {
                panic!("mail comes back mail")
            };
            if late {
                held.push(m);
            } else {
                es[m.owner() as usize].receive(m, &mut out);
            }
        }
    }
    for m in held {
        es[m.owner() as usize].receive(m, &mut out);
    }
    out
}

#[test]
fn engines_with_network_stages_alert_what_one_engine_alerts() {
    let mut one = engine_with(|c| *c = config());
    let mut expected = Vec::new();
    for l in stream() {
        one.observe(&l, &mut expected);
    }
    let expected = ids(&expected);
    let farms: BTreeSet<&str> = expected.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(farms.len(), 16, "{farms:?}");
    assert!(!farms.iter().any(|a| a.starts_with("pass")));
    for (engines, stages) in [(1, 1), (3, 1), (3, 2), (2, 5)] {
        for late in [false, true] {
            assert_eq!(
                ids(&sharded(engines, stages, late)),
                expected,
                "{engines} engines, {stages} stages, late mail {late}"
            );
        }
    }
    // Without the stage each engine would see only its own accounts (as private indexes).
    let mut apart: Vec<Engine> = (0..3).map(|_| engine_with(|c| *c = config())).collect();
    let mut out = Vec::new();
    for l in stream() {
        let s = l.event.account_id.bytes().map(usize::from).sum::<usize>() % 3;
        apart[s].observe(&l, &mut out);
    }
    assert!(ids(&out).len() < expected.len());
}

#[test]
fn a_visit_names_the_stage_of_all_its_networks() {
    let v = |ip: &str| NetworkVisit {
        account: "a".into(),
        event_id: "e".into(),
        time: 0,
        ip: ip.parse().unwrap(),
        owner: 0,
        total: 1,
    };
    for n in [1, 3, 8, 64] {
        assert_eq!(v("8.8.4.4").partition(n), v("8.8.4.200").partition(n));
        assert_eq!(
            v("2001:db8:1:2::1").partition(n),
            v("2001:db8:1:ffff::9").partition(n)
        );
        assert!(v("8.8.4.4").partition(n) < n);
    }
    let spread: BTreeSet<u32> = (0..64)
        .map(|i| v(&format!("10.{i}.0.1")).partition(8))
        .collect();
    assert_eq!(spread.len(), 8, "{spread:?}");
}

#[test]
fn damaged_or_foreign_messages_are_refused() {
    let mut bytes = Vec::new();
    let visit = NetworkVisit {
        account: "acct".into(),
        event_id: "e1".into(),
        time: 5,
        ip: "8.8.4.4".parse().unwrap(),
        owner: 3,
        total: 2,
    };
    StageMessage::Visit(visit.clone()).encode(&mut bytes);
    assert_eq!(
        StageMessage::decode(&bytes).unwrap(),
        StageMessage::Visit(visit)
    );
    assert!(matches!(StageMessage::decode(&[]), Err(WireError::Empty)));
    let mut newer = bytes.clone();
    newer[0] = WIRE_VERSION + 1;
    assert!(matches!(
        StageMessage::decode(&newer),
        Err(WireError::Version(_))
    ));
    assert!(matches!(
        StageMessage::decode(&bytes[..bytes.len() - 3]),
        Err(WireError::Decode(_))
    ));
    assert!(StageMessage::decode(b"\x01{\"account\":1}").is_err());
}

/// Applies a changelog's records to `log` (a tombstone removes).
fn keep(log: &mut BTreeMap<String, Vec<u8>>, stage: &mut NetworkStage) -> usize {
    stage
        .take_changes(usize::MAX, |c| match c.record {
            Some(r) => {
                log.insert(c.network.to_owned(), r.to_vec());
            }
            None => {
                log.remove(c.network);
            }
        })
        .unwrap()
        .handed
}

#[test]
fn a_stage_restored_from_its_changelog_goes_on_as_the_original() {
    let cfg = Arc::new(config());
    let mut engine = Engine::with_network_stage(cfg.clone()).unwrap();
    let mut visits = Vec::new();
    for l in stream() {
        engine.observe(&l, &mut Vec::new());
        engine.take_visits(&mut visits);
    }
    let mut original = NetworkStage::new(cfg.clone()).unwrap();
    original.track_changes();
    // Small bounds: evictions must reach the changelog as tombstones.
    original.set_limits(6, 1000);
    let (first, rest) = visits.split_at(visits.len() / 2);
    let mut log = BTreeMap::new();
    let mut mail = Vec::new();
    for (i, v) in first.iter().enumerate() {
        original.observe(v, None, &mut mail);
        if i % 7 == 0 {
            keep(&mut log, &mut original);
        }
    }
    assert!(keep(&mut log, &mut original) > 0);
    assert!(original.stats().evicted > 0);
    assert_eq!(log.len(), original.stats().networks);
    let clocks = original.clocks_record().unwrap();
    let mut restored = NetworkStage::new(cfg).unwrap();
    restored.set_limits(6, 1000);
    for record in log.values() {
        restored.restore(Saved::decode(record).unwrap()).unwrap();
    }
    restored.restore(Saved::decode(&clocks).unwrap()).unwrap();
    restored.finish_restore();
    assert_eq!(restored.stats().networks, original.stats().networks);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for v in rest {
        original.observe(v, None, &mut a);
        restored.observe(v, None, &mut b);
    }
    assert!(!a.is_empty());
    assert_eq!(a, b);
    // A tombstone read back forgets its network; an engine's record is refused.
    let name = log.keys().next().unwrap().clone();
    assert!(restored.forget_network(&name));
    assert_eq!(restored.stats().networks, original.stats().networks - 1);
    assert!(!restored.forget_network("not a network"));
    let engine_clocks = Engine::with_network_stage(Arc::new(config()))
        .unwrap()
        .clocks_record()
        .unwrap();
    assert!(restored
        .restore(Saved::decode(&engine_clocks).unwrap())
        .is_err());
}

#[test]
fn a_visit_its_restored_networks_already_hold_only_moves_the_clocks() {
    let cfg = Arc::new(config());
    let mut stage = NetworkStage::new(cfg).unwrap();
    let visit = |ip: &str| NetworkVisit {
        account: "acct".into(),
        event_id: "e1".into(),
        time: 5,
        ip: ip.parse().unwrap(),
        owner: 0,
        total: 1,
    };
    let mut mail = Vec::new();
    let held = |n: &str| n == "8.8.4.0/24";
    stage.observe(&visit("8.8.4.4"), Some(&held), &mut mail);
    assert_eq!(stage.stats().networks, 0);
    stage.observe(&visit("8.8.5.4"), Some(&held), &mut mail);
    assert_eq!(stage.stats().networks, 2);
}
