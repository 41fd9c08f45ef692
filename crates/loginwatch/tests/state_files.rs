//! `replay --state-out` / `--state-in` through the binary: a generated stream split at several
//! points and replayed as two runs joined by the state file raises exactly the alert ids of
//! one uninterrupted replay (with two workers, every per-account kind: the cross-account ones
//! depend on how the threads interleave, as in one run); a truncated or altered state file
//! is refused with a clear error and a non-zero exit.

use loginwatch::gen_cmd::world_for;
use loginwatch_gen::{generate, GenConfig};
use loginwatch_model::Alert;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stream() -> Vec<u8> {
    let cfg = GenConfig {
        accounts: 1_500,
        events: 30_000,
        seed: 17,
        ..GenConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&cfg, &world_for(None).expect("demo world"), &mut bytes).expect("generate");
    bytes
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("lw-state-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Runs `replay` over `input` with `args`; returns its output.
fn replay(input: &Path, workers: usize, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loginwatch"))
        .arg("replay")
        .arg("--input")
        .arg(input)
        .args(["--workers", &workers.to_string()])
        .args(args)
        .output()
        .expect("run loginwatch")
}

/// The alert ids of a run; with several workers, those of per-account kinds only.
fn ids(out: &Output, workers: usize) -> BTreeSet<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Alert>(l).expect("alert"))
        .filter(|a| workers == 1 || !matches!(a.kind.as_str(), "shared_ip" | "account_risk"))
        .map(|a| a.alert_id)
        .collect()
}

#[test]
fn two_runs_joined_by_state_raise_the_alerts_of_one() {
    let bytes = stream();
    let d = dir();
    let whole_path = d.join("whole.jsonl");
    std::fs::write(&whole_path, &bytes).expect("write");
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    for workers in [1, 2] {
        let whole = ids(&replay(&whole_path, workers, &[]), workers);
        assert!(whole.len() > 20, "the stream must raise alerts");
        for cut in [1, lines.len() / 3, lines.len() * 7 / 10] {
            let (a, b) = (d.join("a.jsonl"), d.join("b.jsonl"));
            std::fs::write(&a, lines[..cut].concat()).expect("write");
            std::fs::write(&b, lines[cut..].concat()).expect("write");
            let state = d.join(format!("state-{workers}-{cut}.bin"));
            let state_arg = state.to_str().expect("path");
            let first = replay(&a, workers, &["--state-out", state_arg]);
            let second = replay(&b, workers, &["--state-in", state_arg]);
            let mut joined = ids(&first, workers);
            joined.extend(ids(&second, workers));
            assert_eq!(joined, whole, "{workers} worker(s), cut at line {cut}");
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn damaged_state_files_are_refused() {
    let bytes = stream();
    let d = dir().join("damaged");
    std::fs::create_dir_all(&d).expect("dir");
    let input = d.join("in.jsonl");
    std::fs::write(&input, &bytes).expect("write");
    let state = d.join("state.bin");
    let saved = replay(&input, 1, &["--state-out", state.to_str().expect("path")]);
    assert!(saved.status.success());
    let good = std::fs::read(&state).expect("state");
    let mut altered = good.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x40;
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "truncated",
            good[..good.len() * 2 / 3].to_vec(),
            "truncated",
        ),
        ("altered", altered, "damaged"),
        (
            "foreign",
            b"{\"account_id\":\"a\"}\n".to_vec(),
            "not a loginwatch state file",
        ),
    ];
    for (name, content, says) in cases {
        let f = d.join(format!("{name}.bin"));
        std::fs::write(&f, content).expect("write");
        let out = replay(&input, 1, &["--state-in", f.to_str().expect("path")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: accepted");
        assert!(
            err.contains(says) && !err.contains("panicked"),
            "{name}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{name}: alerts written before the refusal"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}
