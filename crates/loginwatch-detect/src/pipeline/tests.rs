//! The pipeline's tests: groups against one message at a time, hooks, vendor formats, and a
//! group decoded by another decoder.
use super::*;
use crate::testkit::engine_with;
use loginwatch_geo::{Location, NetInfo};
use loginwatch_model::{AlertKind, CountryCode};

/// Places 198.51.100.x in Seoul and 203.0.113.x in Lagos; everything else nowhere.
struct Fixed;

impl Locate for Fixed {
    fn locate(&self, event: LoginEvent) -> Login {
        let place = match event.ip.to_string() {
            s if s.starts_with("198.51.100.") => Some((37.5665, 126.978, "KR", "Seoul")),
            s if s.starts_with("203.0.113.") => Some((6.5244, 3.3792, "NG", "Lagos")),
            _ => None,
        };
        let location = place.map(|(lat, lon, cc, city)| Location {
            lat,
            lon,
            accuracy_km: 10.0,
            country: CountryCode::parse(cc),
            city: Some(city.into()),
        });
        Login {
            event,
            location,
            net: NetInfo::default(),
        }
    }
}

#[test]
fn bytes_to_alerts_and_rejects() {
    let mut p = Pipeline::new(Fixed, engine_with(|_| {}), 4096);
    let mut out = Vec::new();
    let lines = [
        r#"{"account_id":"acct-42","ip":"198.51.100.7","timestamp":"2026-11-24T10:00:00Z","event_id":"e1"}"#,
        r#"not json"#,
        r#"{"account_id":"acct-42","ip":"203.0.113.9","timestamp":"2026-11-24T10:12:00Z","event_id":"e2"}"#,
    ];
    let results: Vec<bool> = lines
        .iter()
        .map(|l| p.process(l.as_bytes(), &mut out).is_ok())
        .collect();
    assert_eq!(results, [true, false, true]);
    let kinds: Vec<AlertKind> = out.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [AlertKind::ImpossibleTravel, AlertKind::ConcurrentIps]
    );
    assert!(out[0]
        .summary
        .starts_with("acct-42 logged in from Seoul, KR then Lagos, NG 12 min later"));
    let too_big = p.process(&[b' '; 5000], &mut out);
    assert_eq!(too_big.map_err(|r| r.reason.code()), Err("too_large"));
    assert_eq!(p.engine().stats().events, 2);
}

#[test]
fn groups_give_the_results_of_one_by_one() {
    let mut lines = Vec::new();
    for i in 0..40 {
        let (account, ip) = (
            i % 3,
            if i % 2 == 0 {
                "198.51.100.7"
            } else {
                "203.0.113.9"
            },
        );
        lines.push(format!(
            r#"{{"account_id":"acct-{account}","ip":"{ip}","timestamp":"2026-11-24T10:{:02}:00Z","event_id":"e{i}"}}"#,
            i
        ));
        if i % 7 == 0 {
            lines.push("not json".into());
        }
    }
    let mut one = Pipeline::new(Fixed, engine_with(|_| {}), 4096);
    let (mut want_alerts, mut want) = (Vec::new(), Vec::new());
    for line in &lines {
        let before = want_alerts.len();
        let r = one.process(line.as_bytes(), &mut want_alerts);
        want.push(
            r.map(|()| want_alerts.len() - before)
                .map_err(|e| e.reason.code()),
        );
    }
    assert!(want_alerts.len() > 5 && want.iter().any(|r| r.is_err()));

    let mut grouped = Pipeline::new(Fixed, engine_with(|_| {}), 4096);
    let (mut alerts, mut got, mut results) = (Vec::new(), Vec::new(), Vec::new());
    for group in lines.chunks(9) {
        let slices: Vec<&[u8]> = group.iter().map(|l| l.as_bytes()).collect();
        grouped.process_group(&slices, &mut results, &mut alerts);
        got.extend(results.drain(..).map(|r| r.map_err(|e| e.reason.code())));
    }
    assert_eq!(got, want);
    let ids = |a: &[Alert]| a.iter().map(|a| a.alert_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&alerts), ids(&want_alerts));
    assert_eq!(grouped.engine().stats(), one.engine().stats());
}

#[test]
fn a_group_decoded_by_another_decoder_gives_the_same_results() {
    let lines: Vec<String> = (0..50)
        .map(|i| match i % 11 {
            10 => "not json".into(),
            _ => format!(
                r#"{{"account_id":"acct-{}","ip":"{}","timestamp":"2026-11-24T10:{:02}:00Z"}}"#,
                i % 4,
                ["198.51.100.7", "203.0.113.9"][i % 3 % 2],
                i
            ),
        })
        .collect();
    let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let code = |r: &Result<usize, Reject>| r.as_ref().map(|n| *n).map_err(|e| e.reason.code());

    let mut whole = Pipeline::new(Fixed, engine_with(|_| {}), 4096);
    let (mut want_alerts, mut want, mut results) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in lines.chunks(16) {
        whole.process_group(chunk, &mut results, &mut want_alerts);
        want.extend(results.iter().map(code));
    }

    let mut split = Pipeline::new(Fixed, engine_with(|_| {}), 4096);
    let mut decoder = Decoder::new(Format::Loginwatch, 4096);
    let (mut group, mut alerts, mut got, mut outcomes) =
        (Group::default(), Vec::new(), Vec::new(), 0);
    for chunk in lines.chunks(16) {
        decoder.decode(chunk, &mut group);
        let before = alerts.len();
        split.observe_group(&mut group, &mut (), &mut alerts);
        got.extend(group.results.iter().map(code));
        outcomes += group.outcomes(&alerts[before..]).count();
        assert!(group.logins.len() <= 16, "the events' slots are reused");
    }
    assert_eq!(got, want);
    assert!(want_alerts.len() > 3 && want.iter().any(|r| r.is_err()));
    assert_eq!(outcomes, lines.len());
    let ids = |a: &[Alert]| a.iter().map(|a| a.alert_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&alerts), ids(&want_alerts));
    assert_eq!(split.engine().stats(), whole.engine().stats());
}

/// Counts the lines it was called after; line 2's event is already applied.
#[derive(Default)]
struct Noted(Vec<usize>);

impl GroupHooks for Noted {
    fn applied(&mut self, line: usize, _: &str) -> bool {
        line == 2
    }

    fn after(&mut self, line: usize, _: &mut Engine) {
        self.0.push(line);
    }
}

#[test]
fn hooks_see_every_event_and_applied_ones_only_move_the_clocks() {
    let mut p = Pipeline::new(Fixed, engine_with(|_| {}), 4096);
    let lines: [&[u8]; 4] = [
        br#"{"account_id":"a","ip":"198.51.100.7","timestamp":"2026-11-24T10:00:00Z"}"#,
        b"not json",
        br#"{"account_id":"a","ip":"203.0.113.9","timestamp":"2026-11-24T10:10:00Z"}"#,
        br#"{"account_id":"b","ip":"203.0.113.9","timestamp":"2026-11-24T10:20:00Z"}"#,
    ];
    let (mut hooks, mut results, mut out) = (Noted::default(), Vec::new(), Vec::new());
    p.process_group_with(&lines, &mut hooks, &mut results, &mut out);
    assert_eq!(hooks.0, [0, 2, 3], "after each event, none for the reject");
    assert!(out.is_empty(), "the applied second login raised nothing");
    assert_eq!(p.engine().stats().events, 3, "applied events count as seen");
    let restored = p.engine().stats().dropped;
    assert!(
        restored.contains(&(crate::DropReason::Restored, 1)),
        "{restored:?}"
    );
}

#[test]
fn a_vendor_format_is_decoded_in_the_group() {
    let mut p = Pipeline::new(Fixed, engine_with(|_| {}), 4096);
    p.set_format(Format::Keycloak);
    let login = |ms: u64, ip: &str| {
        format!(r#"{{"type":"LOGIN","time":{ms},"userId":"u1","ipAddress":"{ip}","id":"k{ms}"}}"#)
    };
    let lines = [
        login(1_795_514_400_000, "198.51.100.7"),
        r#"{"type":"CODE_TO_TOKEN","time":0,"userId":"u1","ipAddress":"10.0.0.1"}"#.into(),
        r#"{"type":"LOGIN","time":0,"ipAddress":"10.0.0.1"}"#.into(),
        login(1_795_514_700_000, "203.0.113.9"),
    ];
    let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let (mut results, mut out) = (Vec::new(), Vec::new());
    p.process_group(&lines, &mut results, &mut out);
    let results: Vec<_> = results
        .into_iter()
        .map(|r| r.map_err(|e| e.reason.code()))
        .collect();
    assert_eq!(results, [Ok(0), Ok(0), Err("missing_field"), Ok(2)]);
    assert_eq!(out[0].event_ids, ["k1795514400000", "k1795514700000"]);
    assert_eq!(p.skipped()[0], ("not_login", 1));
    assert_eq!(
        p.group.logins.len(),
        2,
        "one slot per event of the group, reused by the next"
    );
    assert_eq!(
        p.engine().stats().events,
        2,
        "the skipped record is no event"
    );
}

#[test]
fn closures_locate() {
    let locate = |event: LoginEvent| Login {
        event,
        location: None,
        net: NetInfo::default(),
    };
    let mut p = Pipeline::new(locate, engine_with(|_| {}), 4096);
    let line = br#"{"account_id":"a","ip":"10.0.0.1","timestamp":0}"#;
    assert!(p.process(line, &mut Vec::new()).is_ok());
    assert_eq!(p.engine().stats().tracked_accounts, 1);
}
