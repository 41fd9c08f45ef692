//! `check-config` through the binary with `LOGINWATCH_…` variables (CONTRACT §5): they override
//! the file, a bad one is reported with its name, `--effective` prints the merged
//! configuration with secrets redacted.

use std::process::Command;

fn check(file: &std::path::Path, effective: bool, vars: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loginwatch"));
    cmd.arg("check-config");
    if effective {
        cmd.arg("--effective");
    }
    cmd.arg(file).envs(vars.iter().copied());
    let out = cmd.output().expect("run loginwatch");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn environment_overrides_are_checked_and_printed() {
    let dir = std::env::temp_dir().join(format!("lw-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("loginwatch.toml");
    std::fs::write(&file, "[detect.impossible_travel]\nmax_speed_kmh = 900.0\n").expect("write");
    let secret = dir.join("pw");
    std::fs::write(&secret, "hunter2\n").expect("write");
    let secret_var = secret.to_str().expect("path");

    let (ok, text) = check(
        &file,
        true,
        &[
            ("LOGINWATCH_DETECT__IMPOSSIBLE_TRAVEL__MAX_SPEED_KMH", "800"),
            ("LOGINWATCH_DETECT__SHARED_IP__WINDOW", "12h"),
            ("LOGINWATCH_KAFKA__COMMON__SASL_PASSWORD_FILE", secret_var),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("max_speed_kmh = 800.0"), "{text}");
    assert!(text.contains("window = \"12h\""), "{text}");
    assert!(
        text.contains("\"sasl.password\" = \"[redacted]\""),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");

    let (ok, text) = check(
        &file,
        false,
        &[("LOGINWATCH_DETECT__CONCURRENT_IPS__WINDOW", "soon")],
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("LOGINWATCH_DETECT__CONCURRENT_IPS__WINDOW"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
