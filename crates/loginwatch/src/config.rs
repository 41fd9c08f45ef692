//! The configuration file (CONTRACT §4): typed sections owned by the crates that use them,
//! read leniently enough that one run reports every problem, each with its key.
//!
//! Reading goes in two passes. Structure: the TOML is deserialized into [`FileConfig`]; each
//! error (wrong type, unknown key, bad duration) is recorded with its dotted key path, the
//! offending key is removed so its default applies, and deserialization is retried — so a file
//! with five mistakes yields five problems, not one. Meaning: each section's `validate()` then
//! reports values that parse but make no sense (a zero window, a CIDR that is not one).

mod env;

pub use env::{Environment, NoEnv, ProcessEnv};

use loginwatch_detect::{DetectConfig, EngineConfig, ExceptionsConfig, LimitsConfig};
use loginwatch_geo::GeoConfig;
use loginwatch_model::{AlertFormat, Format};
use loginwatch_service::{KafkaConfig, MetricsConfig, ServiceConfig};
use serde::{Deserialize, Serialize};
use serde_path_to_error::{Path, Segment};
use std::fmt;
use std::path::Path as FsPath;

/// `[input]`: what the events are written in, and limits on what is accepted as one.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// Events larger than this many bytes are rejected (`too_large`).
    pub max_event_bytes: usize,
    /// The records' format: `loginwatch` (CONTRACT §1) or a vendor's login log records
    /// (`okta`, `entra`, `auth0`, `cloudtrail`, `google-workspace`, `keycloak`).
    pub format: Format,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            max_event_bytes: 64 * 1024,
            format: Format::Loginwatch,
        }
    }
}

/// `[output]`: how alerts are written, by `replay` and by `run` alike (CONTRACT §5).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// `loginwatch` (the alert JSON of CONTRACT §2, default) or `ocsf` (an OCSF Detection
    /// Finding, class_uid 2004, `finding_info.uid` = `alert_id`).
    pub format: AlertFormat,
}

/// `[replay]`: the local driver.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplayConfig {
    /// Worker threads; accounts are sharded across them by hash. 0 = one per core.
    pub workers: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig { workers: 1 }
    }
}

/// The whole file. Every table is optional; an empty file is the default configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub geoip: GeoConfig,
    pub detect: DetectConfig,
    pub exceptions: ExceptionsConfig,
    pub engine: LimitsConfig,
    pub input: InputConfig,
    pub output: OutputConfig,
    pub replay: ReplayConfig,
    pub kafka: KafkaConfig,
    pub metrics: MetricsConfig,
}

/// A validated configuration, ready to build the pipeline from.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub geoip: GeoConfig,
    pub engine: EngineConfig,
    pub input: InputConfig,
    pub output: OutputConfig,
    pub replay: ReplayConfig,
    /// `[kafka]` and `[metrics]`: the service (`loginwatch run`).
    pub service: ServiceConfig,
}

/// One thing wrong with a configuration file, with the key it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `detect.concurrent_ips.window`; empty for the file as a whole.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Upper bound on structural problems collected from one file before giving up.
const MAX_PROBLEMS: usize = 200;

impl Config {
    /// Reads and validates a file (none: the defaults) with `env`'s `LOGINWATCH_…` variables
    /// over it; on failure returns every problem found.
    pub fn load(path: Option<&FsPath>, env: &dyn Environment) -> Result<Config, Vec<Problem>> {
        let (config, problems) = Self::check(path, env);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// [`Config::check_with`] over a file's text (none: the defaults); a file that cannot be
    /// read is one problem.
    pub fn check(path: Option<&FsPath>, env: &dyn Environment) -> (Config, Vec<Problem>) {
        let text = match path.map(std::fs::read_to_string) {
            None => String::new(),
            Some(Ok(text)) => text,
            Some(Err(e)) => {
                let problem = Problem {
                    key: String::new(),
                    message: format!(
                        "cannot read {}: {e}",
                        path.unwrap_or(FsPath::new("")).display()
                    ),
                };
                return (Config::default(), vec![problem]);
            }
        };
        Self::check_with(&text, env)
    }

    /// The configuration as TOML, defaults filled in and secret values `[redacted]`
    /// (`check-config --effective`).
    pub fn effective_toml(&self) -> Result<String, toml::ser::Error> {
        let file = FileConfig {
            geoip: self.geoip.clone(),
            detect: self.engine.detect.clone(),
            exceptions: self.engine.exceptions.clone(),
            engine: self.engine.engine.clone(),
            input: self.input.clone(),
            output: self.output.clone(),
            replay: self.replay.clone(),
            kafka: self.service.kafka.clone(),
            metrics: self.service.metrics.clone(),
        };
        toml::to_string(&file)
    }

    /// Parses and validates TOML text; on failure returns every problem found.
    pub fn from_toml(text: &str) -> Result<Config, Vec<Problem>> {
        let (config, problems) = Self::check_toml(text);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Parses leniently: the configuration with defaults in place of every bad value, and the
    /// list of problems (empty when the text is valid). The file alone, no environment.
    pub fn check_toml(text: &str) -> (Config, Vec<Problem>) {
        Self::check_with(text, &NoEnv)
    }

    /// [`Config::check_toml`] with `env`'s variables over the file (CONTRACT §5): a problem
    /// with a value set by a variable names the variable.
    pub fn check_with(text: &str, env: &dyn Environment) -> (Config, Vec<Problem>) {
        let (mut overrides, mut env_problems) = env::overrides(env);
        // A value that reads as a number or boolean where a string is expected (a type error)
        // is retried as the string it was written as (`LOGINWATCH_KAFKA__GROUP_ID=2024`).
        loop {
            let (config, mut problems) = Self::check_overridden(text, &overrides);
            let mut retried = false;
            for o in &mut overrides {
                let key = o.keys.join(".");
                let mistyped = problems
                    .iter()
                    .any(|p| p.key == key && p.message.starts_with("invalid type"));
                if mistyped && !o.value.is_str() {
                    o.value = toml::Value::String(o.raw.clone());
                    retried = true;
                }
            }
            if retried {
                continue;
            }
            for p in &mut problems {
                if let Some(o) = overrides.iter().find(|o| o.keys.join(".") == p.key) {
                    p.key = format!("{} ({})", p.key, o.var);
                }
            }
            problems.append(&mut env_problems);
            return (config, problems);
        }
    }

    fn check_overridden(text: &str, overrides: &[env::Override]) -> (Config, Vec<Problem>) {
        let mut table: toml::Table = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                let problem = Problem {
                    key: String::new(),
                    message: format!("not valid TOML: {}", e.message()),
                };
                return (Config::default(), vec![problem]);
            }
        };
        let mut problems = env::apply(&mut table, overrides);
        let (file, more) = deserialize_collecting(table);
        problems.extend(more);
        let config = Config {
            geoip: file.geoip,
            engine: EngineConfig {
                detect: file.detect,
                exceptions: file.exceptions,
                engine: file.engine,
            },
            input: file.input,
            output: file.output,
            replay: file.replay,
            service: ServiceConfig {
                kafka: file.kafka,
                metrics: file.metrics,
                // Set from `output.format` when the service starts (`run_cmd`).
                alert_format: AlertFormat::default(),
            },
        };
        problems.extend(config.validate());
        (config, problems)
    }

    /// Problems with values that parse but make no sense.
    pub fn validate(&self) -> Vec<Problem> {
        let mut out: Vec<Problem> = self
            .engine
            .validate()
            .iter()
            .chain(self.service.validate().iter())
            .map(|s| split_problem(s))
            .collect();
        if self.input.max_event_bytes < 64 {
            out.push(Problem {
                key: "input.max_event_bytes".into(),
                message: "must be at least 64".into(),
            });
        }
        out
    }
}

/// Splits a crate's `"key.path: message"` string into a [`Problem`].
fn split_problem(s: &str) -> Problem {
    match s.split_once(": ") {
        Some((key, message)) if !key.contains(' ') => Problem {
            key: key.to_owned(),
            message: message.to_owned(),
        },
        _ => Problem {
            key: String::new(),
            message: s.to_owned(),
        },
    }
}

/// Deserializes, removing each offending key and retrying, so every structural problem shows.
fn deserialize_collecting(mut table: toml::Table) -> (FileConfig, Vec<Problem>) {
    let mut problems = Vec::new();
    loop {
        let value = toml::Value::Table(table.clone());
        match serde_path_to_error::deserialize::<_, FileConfig>(value) {
            Ok(file) => return (file, problems),
            Err(err) => {
                let message = err.inner().to_string();
                let mut keys = path_keys(err.path());
                if let Some(unknown) = unknown_field(&message) {
                    if keys.last() != Some(&unknown) {
                        keys.push(unknown);
                    }
                }
                problems.push(Problem {
                    key: keys.join("."),
                    message: first_line(&message),
                });
                if keys.is_empty()
                    || !remove_key(&mut table, &keys)
                    || problems.len() >= MAX_PROBLEMS
                {
                    return (FileConfig::default(), problems);
                }
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

fn path_keys(path: &Path) -> Vec<String> {
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Map { key } => Some(key.clone()),
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect()
}

/// The key named by serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// Removes the value at `keys` (table keys or array indices); false when nothing was there.
fn remove_key(table: &mut toml::Table, keys: &[String]) -> bool {
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut current = table;
    for key in parents {
        if matches!(current.get(key), Some(toml::Value::Array(_))) {
            // An array element is at fault: drop the whole array, its default applies.
            return current.remove(key).is_some();
        }
        match current.get_mut(key) {
            Some(toml::Value::Table(t)) => current = t,
            _ => return false,
        }
    }
    current.remove(last).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        let c = Config::from_toml("").expect("defaults are valid");
        assert_eq!(c.input.max_event_bytes, 64 * 1024);
        assert_eq!(c.output.format, AlertFormat::Loginwatch);
    }

    #[test]
    fn the_output_format_is_read_from_the_file_and_the_environment() {
        let c = Config::from_toml("[output]\nformat = \"ocsf\"\n").expect("valid");
        assert_eq!(c.output.format, AlertFormat::Ocsf);
        let text = c.effective_toml().expect("toml");
        assert!(text.contains("[output]\nformat = \"ocsf\""), "{text}");

        let problems = Config::from_toml("[output]\nformat = \"cef\"\n").expect_err("invalid");
        assert_eq!(problems[0].key, "output.format", "{problems:?}");

        let env = env::tests::MapEnv {
            vars: vec![("LOGINWATCH_OUTPUT__FORMAT", "ocsf")],
            files: Default::default(),
        };
        let (c, problems) = Config::check_with("", &env);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.output.format, AlertFormat::Ocsf);
    }

    #[test]
    fn contract_example_is_accepted() {
        let text = include_str!("../../../config/loginwatch.toml");
        if let Err(p) = Config::from_toml(text) {
            panic!("config/loginwatch.toml: {p:?}");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let text = r#"
            bogus = 1
            [detect.impossible_travel]
            max_speed_kmh = "fast"
            colour = "red"
            [detect.concurrent_ips]
            window = "soon"
            [input]
            max_event_bytes = 10
            [kafka]
            brokers = ""
        "#;
        let problems = Config::from_toml(text).expect_err("invalid");
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "bogus",
            "detect.impossible_travel.max_speed_kmh",
            "detect.impossible_travel.colour",
            "detect.concurrent_ips.window",
            "input.max_event_bytes",
            "kafka.brokers",
        ] {
            assert!(keys.contains(&key), "{key} missing from {problems:?}");
        }
    }

    #[test]
    fn the_environment_overrides_the_file_and_names_itself_in_problems() {
        use std::collections::BTreeMap;
        let file = "[detect.impossible_travel]\nmax_speed_kmh = 900.0\n[kafka]\ngroup_id = \"f\"\n";
        let env = env::tests::MapEnv {
            vars: vec![
                ("LOGINWATCH_DETECT__IMPOSSIBLE_TRAVEL__MAX_SPEED_KMH", "800"),
                ("LOGINWATCH_KAFKA__GROUP_ID", "2024"),
                ("LOGINWATCH_KAFKA__COMMON__SASL_PASSWORD_FILE", "/s/pw"),
            ],
            files: BTreeMap::from([("/s/pw", "hunter2\n")]),
        };
        let (c, problems) = Config::check_with(file, &env);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.engine.detect.impossible_travel.max_speed_kmh, 800.0);
        assert_eq!(
            c.service.kafka.group_id, "2024",
            "a number read as the string it was"
        );
        assert_eq!(c.service.kafka.common.get("sasl.password"), Some("hunter2"));
        let text = c.effective_toml().expect("toml");
        assert!(text.contains("max_speed_kmh = 800.0"), "{text}");
        assert!(
            text.contains("[redacted]") && !text.contains("hunter2"),
            "{text}"
        );
        // What the effective configuration prints reads back as the same configuration.
        let again = Config::from_toml(&text.replace("\"[redacted]\"", "\"hunter2\""));
        assert_eq!(again.map(|a| a.engine), Ok(c.engine.clone()));

        let bad = env::tests::MapEnv {
            vars: vec![
                ("LOGINWATCH_DETECT__SHARED_IP__WINDOW", "soon"),
                ("LOGINWATCH_DETECT__SHARED_IP__MIN_SHARE", "2"),
            ],
            files: BTreeMap::new(),
        };
        let (_, problems) = Config::check_with("", &bad);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert!(
            keys.contains(&"detect.shared_ip.window (LOGINWATCH_DETECT__SHARED_IP__WINDOW)"),
            "{problems:?}"
        );
        assert!(
            keys.contains(&"detect.shared_ip.min_share (LOGINWATCH_DETECT__SHARED_IP__MIN_SHARE)"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_input_format_is_a_known_name() {
        let c = Config::from_toml("[input]\nformat = \"google-workspace\"\n").expect("valid");
        assert_eq!(c.input.format, Format::GoogleWorkspace);
        assert_eq!(
            Config::from_toml("").map(|c| c.input.format).ok(),
            Some(Format::Loginwatch)
        );
        let problems = Config::from_toml("[input]\nformat = \"splunk\"\n").expect_err("unknown");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "input.format");
        for name in ["splunk", "okta", "keycloak", "google-workspace"] {
            assert!(problems[0].message.contains(name), "{}", problems[0]);
        }
    }

    #[test]
    fn syntax_errors_are_one_problem() {
        let problems = Config::from_toml("[detect\n").expect_err("invalid");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("not valid TOML"));
    }
}
