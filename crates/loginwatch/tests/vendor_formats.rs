//! Vendor input formats through the binary (CONTRACT §5): `normalize --format` writes the
//! contract events each fixture's records become; `replay --format` finds the same alerts as
//! a replay of those events, on one worker and on several; a bad format name is refused.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Every vendor format, by its `--format` name.
const FORMATS: [&str; 6] = [
    "okta",
    "entra",
    "auth0",
    "cloudtrail",
    "google-workspace",
    "keycloak",
];

fn fixture(format: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../loginwatch-model/src/event/vendor/fixtures")
        .join(format!("{format}.jsonl"))
}

fn loginwatch(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_loginwatch"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run loginwatch");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The alert ids of `replay` over `args`.
fn alert_ids(args: &[&str], stdin: Option<&[u8]>) -> Vec<String> {
    let out = loginwatch(args, stdin);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("an alert");
            format!(
                "{} {}",
                v["kind"].as_str().unwrap_or("?"),
                v["alert_id"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn normalize_writes_each_vendor_fixture_as_contract_events() {
    for (format, events, skipped) in [
        ("okta", 5, 2),
        ("entra", 4, 2),
        ("auth0", 6, 2),
        ("cloudtrail", 5, 1),
        ("google-workspace", 4, 2),
        ("keycloak", 5, 2),
    ] {
        let path = fixture(format);
        let input = path.to_str().expect("utf-8 path");
        let out = loginwatch(&["normalize", "--format", format, "--input", input], None);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{format}: {stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), events, "{format}: {stdout}");
        for line in lines {
            let e = loginwatch_model::decode(line.as_bytes(), 65536)
                .unwrap_or_else(|r| panic!("{format}: {line}: {r}"));
            assert!(
                !e.account_id.is_empty() && e.timestamp.0 > 0,
                "{format}: {line}"
            );
        }
        assert!(
            stderr.contains(&format!("skipped:   {skipped}")),
            "{format}: {stderr}"
        );
        assert!(stderr.contains("rejected:  0"), "{format}: {stderr}");
    }
}

#[test]
fn normalize_dead_letters_malformed_records_and_reads_stdin() {
    let input =
        b"{\"eventType\":\"user.session.start\",\"outcome\":{\"result\":\"SUCCESS\"}}\nnot json\n";
    let out = loginwatch(
        &["normalize", "--format", "okta", "--input", "-"],
        Some(input),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains(r#""reason":"missing_field""#), "{stderr}");
    assert!(stderr.contains(r#""reason":"not_json""#), "{stderr}");
    assert!(
        stderr.contains("rejected:  2 (missing_field 1, not_json 1)"),
        "{stderr}"
    );
}

/// The accepted / rejected / skipped lines of a replay's summary (stderr).
fn counted(args: &[&str]) -> Vec<String> {
    let out = loginwatch(args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stderr)
        .lines()
        .map(str::trim)
        .filter(|l| {
            ["accepted:", "rejected:", "skipped:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn replay_of_a_vendor_stream_alerts_as_a_replay_of_its_contract_events() {
    let path = fixture("okta");
    let input = path.to_str().expect("utf-8 path");
    let vendor = alert_ids(&["replay", "--format", "okta", "--input", input], None);
    let kinds: Vec<&str> = vendor.iter().filter_map(|a| a.split(' ').next()).collect();
    // Seoul then New York 15 minutes later, the second through a proxy Okta flagged.
    assert_eq!(
        kinds,
        ["impossible_travel", "concurrent_ips", "anonymized_ip"]
    );
    // One worker's pipeline decodes the records itself; several workers' reader translates
    // them into contract lines (to shard them by account); `normalize` writes those lines.
    for format in FORMATS {
        let path = fixture(format);
        let input = path.to_str().expect("utf-8 path");
        let one = ["replay", "--format", format, "--input", input];
        let several = [&one[..], &["--workers", "3"]].concat();
        let direct = alert_ids(&one, None);
        assert_eq!(alert_ids(&several, None), direct, "{format}: sharded");
        let normalized = loginwatch(&["normalize", "--format", format, "--input", input], None);
        let native = alert_ids(&["replay"], Some(&normalized.stdout));
        assert_eq!(native, direct, "{format}: the same alerts, ids and all");
        let counts = counted(&one);
        assert_eq!(counts.len(), 3, "{format}: {counts:?}");
        assert_eq!(counted(&several), counts, "{format}: the same counts");
    }
}

#[test]
fn an_unknown_format_is_refused_naming_the_flag_or_the_key() {
    let out = loginwatch(&["normalize", "--format", "splunk"], None);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--format") && stderr.contains("google-workspace"),
        "{stderr}"
    );

    let dir = std::env::temp_dir().join(format!("lw-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[input]\nformat = \"splunk\"\n").expect("write");
    let out = loginwatch(&["check-config", file.to_str().expect("utf-8")], None);
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("input.format: unknown variant `splunk`"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
