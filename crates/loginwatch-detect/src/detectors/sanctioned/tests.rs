//! Tests of the sanctioned-region detector.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use loginwatch_model::{AlertKind, Severity};

/// (name, logins, expected alerts)
type Case<'a> = (&'a str, Vec<Ev>, Vec<(Vec<String>, Severity)>);

fn sanctioned(logins: Vec<Ev>) -> Vec<(Vec<String>, Severity)> {
    let mut e = engine_with(|_| {});
    let alerts = run(&mut e, logins);
    of_kind(&alerts, AlertKind::SanctionedRegion)
        .into_iter()
        .map(|a| (a.event_ids.clone(), a.severity))
        .collect()
}

#[test]
fn table() {
    use Severity::*;
    let a = "acct";
    let one = |id: &str, s| (vec![id.to_owned()], s);
    let cases: Vec<Case> = vec![
        (
            "login from Pyongyang",
            vec![ev(a, "e1", 0, "175.45.176.1").city("Pyongyang")],
            vec![one("e1", High)],
        ),
        (
            "claims another country: critical",
            vec![ev(a, "e1", 0, "175.45.176.1")
                .city("Pyongyang")
                .claims("JP")],
            vec![one("e1", Critical)],
        ),
        (
            "activity counts",
            vec![ev(a, "e1", 0, "175.45.176.1").city("Pyongyang").activity()],
            vec![one("e1", High)],
        ),
        (
            "a failed attempt does not",
            vec![ev(a, "e1", 0, "175.45.176.1").city("Pyongyang").failed()],
            vec![],
        ),
        (
            "elsewhere is quiet",
            vec![ev(a, "e1", 0, "1.1.1.1").city("Shenyang")],
            vec![],
        ),
        (
            "repeats are suppressed within the cooldown",
            vec![
                ev(a, "e1", 0, "175.45.176.1").city("Pyongyang"),
                ev(a, "e2", 600, "175.45.176.2").city("Pyongyang"),
                ev(a, "e3", 3700, "175.45.176.2").city("Pyongyang"),
            ],
            vec![one("e1", High), one("e3", High)],
        ),
    ];
    for (name, logins, want) in cases {
        assert_eq!(sanctioned(logins), want, "{name}");
    }
}

#[test]
fn configurable_list_and_summary() {
    let mut e =
        engine_with(|c| c.detect.sanctioned_region.countries = vec!["KP".into(), "IR".into()]);
    let alerts = run(
        &mut e,
        vec![ev("a", "e1", 0, "5.5.5.5").at(35.6892, 51.389, 20.0, "IR", "Tehran")],
    );
    let s = of_kind(&alerts, AlertKind::SanctionedRegion);
    assert_eq!(
        s[0].summary,
        "a logged in from Tehran, IR, a sanctioned region"
    );
    assert_eq!(s[0].evidence.to_value()["country"], "IR");
}
