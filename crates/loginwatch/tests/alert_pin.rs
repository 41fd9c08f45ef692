//! Pins the alert set of a generated stream, so an optimisation cannot change what is found:
//! `gen` in the demo world, `replay` with one and two workers, then a hash of the sorted
//! (alert id, kind, severity) triples compared to a constant. A deliberate change of the
//! detectors or the generator re-blesses it: `LOGINWATCH_BLESS=1 cargo test -p loginwatch
//! --test alert_pin -- --nocapture` prints the new value.

mod pinned;

use loginwatch::config::Config;
use loginwatch_model::Alert;

/// Alerts of the pinned stream and the FNV-1a hash of their sorted triples.
const PINNED: (usize, u64) = (103, 0x1ee76712671e7b04);

fn alerts(bytes: &[u8], workers: usize) -> Vec<Alert> {
    let mut config = Config::default();
    config.replay.workers = workers;
    pinned::replay_lines(bytes, &config)
}

/// (count, FNV-1a 64 of the sorted `id kind severity` lines).
fn fingerprint(alerts: &[Alert]) -> (usize, u64) {
    let mut lines: Vec<String> = alerts
        .iter()
        .map(|a| format!("{} {} {:?}\n", a.alert_id, a.kind.as_str(), a.severity))
        .collect();
    lines.sort_unstable();
    let hash = lines
        .iter()
        .flat_map(|l| l.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    (lines.len(), hash)
}

/// Alert ids of every kind except the cross-account ones.
fn per_account_ids(alerts: &[Alert]) -> std::collections::BTreeSet<&str> {
    alerts
        .iter()
        .filter(|a| !matches!(a.kind.as_str(), "shared_ip" | "account_risk"))
        .map(|a| a.alert_id.as_str())
        .collect()
}

#[test]
fn the_alert_set_of_a_generated_stream_is_pinned() {
    let bytes = pinned::stream();
    let one = alerts(&bytes, 1);
    let pin = fingerprint(&one);
    if std::env::var_os("LOGINWATCH_BLESS").is_some() {
        println!("const PINNED: (usize, u64) = ({}, {:#018x});", pin.0, pin.1);
    }
    assert_eq!(
        pin, PINNED,
        "the alert set changed (LOGINWATCH_BLESS=1 prints the new value)"
    );
    // With two workers the shared_ip index sees the workers' logins in whatever order the
    // threads run, so shared_ip (and the account_risk it feeds) may differ by a few alerts;
    // every per-account alert must be the same.
    let two = alerts(&bytes, 2);
    assert_eq!(
        per_account_ids(&one),
        per_account_ids(&two),
        "sharding must not change the per-account alerts"
    );
}
