//! Tests of the anonymized-IP detector.

use crate::testkit::{engine_with, ev, of_kind, run, Ev};
use loginwatch_model::{AlertKind, Severity};

/// (name, logins, expected alerts)
type Case<'a> = (&'a str, Vec<Ev>, Vec<(&'a str, Severity)>);

/// Runs `logins` with the default configuration; returns (reason, severity) per alert.
fn anonymized(logins: Vec<Ev>) -> Vec<(String, Severity)> {
    let mut e = engine_with(|c| c.detect.sanctioned_region.watch_countries.clear());
    let alerts = run(&mut e, logins);
    of_kind(&alerts, AlertKind::AnonymizedIp)
        .into_iter()
        .map(|a| {
            (
                a.evidence.to_value()["reason"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                a.severity,
            )
        })
        .collect()
}

#[test]
fn table() {
    use Severity::*;
    let a = "acct";
    let cases: Vec<Case> = vec![
        (
            "plain logins are quiet",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Seoul"),
                ev(a, "e2", 60, "1.1.1.2").city("Seoul"),
            ],
            vec![],
        ),
        (
            "first anonymized login alerts once",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Amsterdam").vpn().asn(9009),
                ev(a, "e2", 60, "1.1.1.2").city("Amsterdam").vpn().asn(9009),
            ],
            vec![("first", Low)],
        ),
        (
            "Tor is high",
            vec![ev(a, "e1", 0, "1.1.1.1").tor()],
            vec![("first", High)],
        ),
        (
            "switching anonymizer networks alerts (cooldown: new ASN is worse)",
            vec![
                ev(a, "e1", 0, "1.1.1.1").city("Amsterdam").vpn().asn(9009),
                ev(a, "e2", 60, "2.2.2.2")
                    .city("Frankfurt")
                    .vpn()
                    .asn(60068),
                ev(a, "e3", 120, "1.1.1.1")
                    .city("Amsterdam")
                    .vpn()
                    .asn(9009), // back: suppressed
                ev(a, "e4", 180, "3.3.3.3").city("Paris").vpn().asn(16276),
            ],
            vec![("first", Low), ("switch", Medium), ("switch", High)],
        ),
        (
            "failed logins are ignored",
            vec![ev(a, "e1", 0, "1.1.1.1").vpn().asn(9009).failed()],
            vec![],
        ),
        (
            "activity through an anonymizer counts",
            vec![ev(a, "e1", 0, "1.1.1.1").vpn().asn(9009).activity()],
            vec![("first", Low)],
        ),
    ];
    for (name, logins, want) in cases {
        let want: Vec<(String, Severity)> =
            want.into_iter().map(|(r, s)| (r.to_owned(), s)).collect();
        assert_eq!(anonymized(logins), want, "{name}");
    }
}

#[test]
fn evidence_names_flags_asn_and_org() {
    let mut e = engine_with(|_| {});
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1")
                .city("Amsterdam")
                .vpn()
                .asn(9009),
            ev("a", "e2", 60, "2.2.2.2")
                .city("Frankfurt")
                .vpn()
                .asn(60068),
        ],
    );
    let x = of_kind(&alerts, AlertKind::AnonymizedIp);
    assert_eq!(
        x[0].summary,
        "a used an anonymizer for the first time: vpn via AS9009 (Org 9009) from Amsterdam, NL"
    );
    assert_eq!(
        x[1].summary,
        "a switched anonymizer networks: AS9009 (Org 9009) → AS60068 (Org 60068) (vpn)"
    );
    let v = &x[1].evidence.to_value();
    assert_eq!(v["flags"], serde_json::json!(["vpn"]));
    assert_eq!(
        (v["asn"].as_u64(), v["previous_asn"].as_u64()),
        (Some(60068), Some(9009))
    );
    assert_eq!(v["as_org"], "Org 60068");
    assert_eq!(x[1].event_ids, ["e2"]);
}

#[test]
fn switches_only_when_first_is_off() {
    let mut e = engine_with(|c| c.detect.anonymized_ip.alert_on_first = false);
    let alerts = run(
        &mut e,
        vec![
            ev("a", "e1", 0, "1.1.1.1").vpn().asn(9009),
            ev("a", "e2", 60, "2.2.2.2").vpn().asn(60068),
        ],
    );
    let x = of_kind(&alerts, AlertKind::AnonymizedIp);
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].evidence.to_value()["reason"], "switch");
}
