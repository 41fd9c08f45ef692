//! Save and restore: a stream split anywhere and joined by saved state raises exactly the
//! alerts of the uninterrupted stream; damaged state is refused, never a panic.

use super::*;
use crate::testkit::{engine_with, ev, Ev};
use loginwatch_model::{Alert, AlertKind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::time::Duration;

const CITIES: &[&str] = &[
    "Seoul",
    "Tokyo",
    "Beijing",
    "Moscow",
    "Pyongyang",
    "Lagos",
    "New York",
    "London",
];
const ZONES: &[&str] = &["Asia/Seoul", "America/New_York", "Europe/London"];

/// One generated event: (account, seconds step, ip, city, flags).
type Step = (u8, u16, u8, u8, u16);

/// Events from steps: 12 accounts over 10 addresses (several accounts per address, so
/// laptop farms form), some late, failed, activity, VPN, Tor, sessions, devices, claims,
/// languages, zones and creation dates: every kind of alert can arise.
fn events(steps: &[Step]) -> Vec<Ev> {
    let mut t = 0i64;
    steps
        .iter()
        .enumerate()
        .map(|(i, &(a, dt, ip, city, f))| {
            t += i64::from(dt % 900);
            // Every 11th event is late by up to 20 minutes.
            let at = if f % 11 == 0 {
                t - i64::from(dt % 1200)
            } else {
                t
            };
            // Accounts 0–3 live on one address (a farm); the others wander.
            let ip = match a % 12 {
                0..=3 => "198.51.7.7".to_owned(),
                _ => format!("198.51.{}.{}", ip % 3, 10 + ip % 10),
            };
            let mut e = ev(&format!("acct-{}", a % 12), &format!("e{i}"), at, &ip)
                .city(CITIES[usize::from(city) % CITIES.len()])
                .asn(64_500 + u32::from(city % 4));
            if f % 7 == 0 {
                e = e.vpn();
            }
            if f % 53 == 0 {
                e = e.tor();
            }
            if f % 13 == 0 {
                e = e.failed();
            }
            if f % 5 == 0 {
                e = e.activity();
            }
            if f % 3 == 0 {
                e = e
                    .session(&format!("s{}", a % 4))
                    .device(&format!("d{}", f % 3));
            }
            if f % 4 == 0 {
                e = e.claims(["US", "KR", "GB"][usize::from(a % 3)]);
            }
            if f % 6 == 0 {
                e = e.lang(if f % 12 == 0 { "ko-KR,ko" } else { "en-US" });
            }
            if f % 9 == 0 {
                e = e.tz(ZONES[usize::from(a) % ZONES.len()]);
            }
            if a % 5 == 0 {
                e = e.created(-86_400);
            }
            e
        })
        .collect()
}

fn engine() -> Engine {
    engine_with(|c| {
        c.detect.shared_ip.min_accounts = 3;
        c.detect.shared_ip.min_days = 1;
        c.detect.location_mismatch.min_logins = 2;
        c.detect.long_session.min_duration = Duration::from_secs(3 * 3600);
        c.detect.account_risk.threshold = 40;
        c.engine.suppression_cooldown = Duration::from_secs(600);
    })
}

fn observe(engine: &mut Engine, logins: &[Ev]) -> Vec<Alert> {
    let mut out = Vec::new();
    for l in logins {
        engine.observe(&l.clone().build(), &mut out);
    }
    out
}

fn save(engine: &Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut w = StateWriter::new(&mut bytes).unwrap();
    w.engine(engine).unwrap();
    w.shared_index(engine.shared_index()).unwrap();
    w.finish().unwrap();
    bytes
}

fn restore(bytes: &[u8]) -> Result<Engine, StateError> {
    let mut engine = engine();
    let mut r = StateReader::new(bytes)?;
    while let Some(saved) = r.next_record()? {
        engine.restore(saved, &|_| 0);
    }
    Ok(engine)
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(any::<Step>(), 40..160)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_split_stream_joined_by_saved_state_raises_the_same_alerts(
        steps in steps(),
        cut in 0.0..1.0f64,
    ) {
        let logins = events(&steps);
        let k = (cut * logins.len() as f64) as usize;
        let whole = observe(&mut engine(), &logins);

        let mut first = engine();
        let mut split = observe(&mut first, &logins[..k]);
        let bytes = save(&first);
        let mut second = restore(&bytes).unwrap();
        split.extend(observe(&mut second, &logins[k..]));
        prop_assert_eq!(&split, &whole);
        // Saved again, the restored engine writes the same records (networks in another
        // order: the index's stripes hash with a per-process seed).
        let again = save(&restore(&bytes).unwrap());
        prop_assert_eq!(again.len(), bytes.len());
    }

    #[test]
    fn damaged_state_is_refused_never_a_panic(
        steps in steps(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut engine = engine();
        observe(&mut engine, &events(&steps));
        let bytes = save(&engine);
        let mut altered = bytes.clone();
        let i = at.index(altered.len());
        altered[i] = altered[i].wrapping_add(byte.max(1));
        prop_assert!(restore(&altered).is_err(), "altered byte {i} accepted");
        let truncated = &bytes[..cut.index(bytes.len())];
        prop_assert!(restore(truncated).is_err(), "truncated file accepted");
    }
}

#[test]
fn the_generated_streams_raise_every_kind() {
    let mut seen = std::collections::BTreeSet::new();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..64 {
        let s = steps().new_tree(&mut runner).unwrap().current();
        seen.extend(observe(&mut engine(), &events(&s)).iter().map(|a| a.kind));
    }
    let missing: Vec<_> = AlertKind::ALL
        .iter()
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(missing.is_empty(), "never raised: {missing:?}");
}

#[test]
fn errors_name_what_is_wrong() {
    let mut engine = engine();
    observe(&mut engine, &events(&[(1, 60, 1, 1, 3), (2, 60, 1, 2, 4)]));
    let bytes = save(&engine);
    let err = |b: &[u8]| restore(b).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(b"{\"not\":\"state\"}").contains("not a loginwatch state file"));
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert!(err(&v2).contains("format 2"), "{}", err(&v2));
    assert!(err(&bytes[..bytes.len() - 3]).contains("truncated"));
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(
        err(&flipped).contains("checksum mismatch"),
        "{}",
        err(&flipped)
    );
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(err(&trailing).contains("after the end record"));
}

#[test]
fn records_with_impossible_values_are_refused() {
    // A well-framed record (right checksum) whose cooldown entry claims 200 keys.
    let mut bytes = Vec::new();
    let mut w = StateWriter::new(&mut bytes).unwrap();
    let mut state = AccountState::default();
    let mut cooldowns = Cooldowns::default();
    cooldowns
        .0
        .push(crate::suppress::Suppression::with_keys(200));
    state.set(cooldowns);
    w.write(&Body::Account(AccountRecord::of("a", &state, 0)))
        .unwrap();
    w.finish().unwrap();
    let e = restore(&bytes)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("record 1") && e.contains("more keys"), "{e}");
}

/// The changelog protocol of the service's state topic, over one engine: records of changed
/// accounts at flush points (each carrying the flush's position), a clocks record closing
/// each complete flush, a crash anywhere (even between one flush's records), and a restart
/// that restores the latest record of each account, takes the last complete flush's clocks,
/// re-reads from after that flush and only moves the clocks for an event whose account's
/// record was written after it.
mod changelog {
    use super::*;
    use std::collections::BTreeMap;

    /// The topic as compaction leaves it: the latest record of each key (`None`: a
    /// tombstone) with the position it reflects, and the last complete flush.
    #[derive(Default)]
    struct Topic {
        accounts: BTreeMap<String, (usize, Option<Vec<u8>>)>,
        flushed: Option<(usize, Vec<u8>)>,
    }

    fn farmless() -> Engine {
        farmless_holding(900)
    }

    /// `farmless` with room for `max` accounts. Exactness after a crash mid-flush holds below
    /// the table's capacity: an eviction decided at an event whose account's record was
    /// written after it is not made again, and the one made instead may pick another account
    /// (README, "What a crash replays").
    fn farmless_holding(max: usize) -> Engine {
        engine_with(|c| {
            // The farm index is the cross-account stage's state, not an account's.
            c.detect.shared_ip.enabled = false;
            c.detect.location_mismatch.min_logins = 2;
            c.detect.long_session.min_duration = Duration::from_secs(3 * 3600);
            c.detect.account_risk.threshold = 40;
            c.engine.suppression_cooldown = Duration::from_secs(600);
            c.engine.idle_timeout = Duration::from_secs(4 * 3600);
            c.engine.max_accounts = max;
        })
    }

    /// Writes the changes of a flush at `position`; with `torn`, only the first `torn`
    /// records and no clocks (the crash hit mid-flush).
    fn flush(engine: &mut Engine, topic: &mut Topic, position: usize, torn: Option<usize>) {
        // In chunks of 3, as a service spreads a flush, each chunk's tombstones ahead of
        // every chunk's records.
        let (mut gone, mut live) = (Vec::new(), Vec::new());
        while !engine
            .take_changes(3, |c| match c.record {
                None => gone.push((c.account.to_owned(), None)),
                Some(r) => live.push((c.account.to_owned(), Some(r.to_vec()))),
            })
            .unwrap()
            .done
        {}
        let records: Vec<_> = gone.into_iter().chain(live).collect();
        let keep = torn.unwrap_or(records.len()).min(records.len());
        for (account, record) in records.into_iter().take(keep) {
            topic.accounts.insert(account, (position, record));
        }
        if torn.is_none() {
            topic.flushed = Some((position, engine.clocks_record().unwrap()));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_crash_anywhere_then_restore_raises_each_alert_once(
            steps in steps(),
            every in 3usize..25,
            crash in 0.0..1.0f64,
            torn in any::<prop::sample::Index>(),
        ) {
            let logins = events(&steps);
            let n = logins.len();
            let mut whole = farmless();
            let per_event: Vec<Vec<Alert>> = logins
                .iter()
                .map(|l| observe(&mut whole, std::slice::from_ref(l)))
                .collect();

            // First run: flushes after every `every` events, the crash at `c`.
            let c = ((crash * n as f64) as usize).max(1);
            let mut first = farmless();
            first.track_changes();
            let mut topic = Topic::default();
            for (i, l) in logins[..c].iter().enumerate() {
                prop_assert_eq!(&observe(&mut first, std::slice::from_ref(l)), &per_event[i]);
                if (i + 1) % every == 0 {
                    let last_flush = i + every >= c;
                    let tear = (last_flush && torn.index(2) == 0).then(|| torn.index(9));
                    flush(&mut first, &mut topic, i, tear);
                }
            }

            // Restart.
            let mut second = farmless();
            let from = match &topic.flushed {
                Some((at, clocks)) => {
                    second.restore(Saved::decode(clocks).unwrap(), &|_| 0);
                    at + 1
                }
                None => 0,
            };
            let mut written_after = BTreeMap::new();
            for (account, (at, record)) in &topic.accounts {
                match record {
                    Some(bytes) => {
                        let saved = Saved::decode(bytes).unwrap();
                        prop_assert_eq!(saved.account(), Some(account.as_str()));
                        second.restore(saved, &|_| 0);
                    }
                    None => {
                        second.forget_account(account);
                    }
                }
                if *at >= from {
                    written_after.insert(account.clone(), *at);
                }
            }
            second.finish_restore();
            for (i, l) in logins.iter().enumerate().skip(from) {
                let event = l.clone().build().event;
                let applied = written_after
                    .get(event.account_id.as_str())
                    .is_some_and(|at| i <= *at);
                if applied {
                    second.observe_applied(&event);
                } else {
                    let got = observe(&mut second, std::slice::from_ref(l));
                    prop_assert_eq!(&got, &per_event[i], "event {} after a restart from {}", i, from);
                }
            }
        }
    }

    #[test]
    fn tombstones_for_evicted_and_expired_accounts() {
        let mut e = farmless_holding(9);
        e.track_changes();
        let logins: Vec<Ev> = (0..12)
            .map(|i| {
                ev(
                    &format!("acct-{i}"),
                    &format!("e{i}"),
                    i * 60,
                    "198.51.100.7",
                )
            })
            .collect();
        observe(&mut e, &logins);
        let mut topic = Topic::default();
        flush(&mut e, &mut topic, 11, None);
        let gone = topic.accounts.values().filter(|(_, r)| r.is_none()).count();
        assert!(
            gone >= 3,
            "12 accounts through a table of 9: {gone} tombstones"
        );
        // Idle for longer than the timeout: the next sweep expires them.
        observe(
            &mut e,
            &[
                ev("late", "x", 6 * 3600, "198.51.100.8"),
                ev("later", "y", 7 * 3600, "198.51.100.9"),
            ],
        );
        flush(&mut e, &mut topic, 13, None);
        let live: Vec<&String> = topic
            .accounts
            .iter()
            .filter(|(_, (_, r))| r.is_some())
            .map(|(a, _)| a)
            .collect();
        assert_eq!(live, ["late", "later"]);
        assert_eq!(e.tracked_accounts(), 2);
    }

    #[test]
    fn a_damaged_record_is_refused() {
        let mut e = farmless();
        e.track_changes();
        observe(&mut e, &[ev("a", "e1", 0, "198.51.100.7")]);
        let mut topic = Topic::default();
        flush(&mut e, &mut topic, 0, None);
        let mut bytes = topic.accounts["a"].1.clone().unwrap();
        assert!(Saved::decode(&bytes).is_ok());
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let err = Saved::decode(&bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("checksum"), "{err}");
        assert!(Saved::decode(&bytes[..5]).is_err());
        assert!(Saved::decode(b"").is_err());
    }
}
