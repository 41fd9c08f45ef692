//! `replay` with `[output] format = "ocsf"` over a generated stream: one finding per alert, in
//! the same order, `finding_info.uid` = `alert_id`, and every finding the real detectors
//! produce valid against the published OCSF 1.3.0 definitions (the model crate's copy).

mod pinned;
#[path = "../../loginwatch-model/tests/support/ocsf_validator.rs"]
mod validator;

use loginwatch::config::Config;
use loginwatch_model::{Alert, AlertFormat, AlertKind};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn lines<T: serde::de::DeserializeOwned>(bytes: &[u8], format: AlertFormat) -> Vec<T> {
    let mut config = Config::default();
    config.output.format = format;
    pinned::replay_lines(bytes, &config)
}

#[test]
fn replay_writes_valid_ocsf_findings_for_every_alert() {
    let bytes = pinned::stream();
    let alerts: Vec<Alert> = lines(&bytes, AlertFormat::Loginwatch);
    let findings: Vec<Value> = lines(&bytes, AlertFormat::Ocsf);
    assert_eq!(findings.len(), alerts.len());
    let schema = validator::Schema::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../loginwatch-model/tests/ocsf-schema"),
    );
    let mut kinds = BTreeSet::new();
    for (a, f) in alerts.iter().zip(&findings) {
        assert_eq!(f["finding_info"]["uid"], a.alert_id.as_str());
        assert_eq!(f["finding_info"]["types"][0], a.kind.as_str());
        let problems = schema.validate("detection_finding", f);
        assert!(problems.is_empty(), "{}: {problems:#?}\n{f:#}", a.kind);
        kinds.insert(a.kind);
    }
    assert_eq!(
        kinds.len(),
        AlertKind::ALL.len(),
        "the pinned stream raises every kind: {kinds:?}"
    );
}
