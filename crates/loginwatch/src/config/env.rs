//! Configuration from the environment (CONTRACT §5): every key as
//! `LOGINWATCH_<TABLE>__<KEY>`, nested tables joined by `__`
//! (`LOGINWATCH_DETECT__IMPOSSIBLE_TRAVEL__MAX_SPEED_KMH=800`), between the file and the flags
//! in precedence. A value is read as a TOML value when it is one (`800`, `0.8`, `true`,
//! `["KP", "IR"]`) and as a string otherwise (`24h`, `broker:9092`). A variable ending in
//! `_FILE` names a file whose contents (without the trailing newline) are the value, for
//! Kubernetes secrets: `LOGINWATCH_KAFKA__COMMON__SASL_PASSWORD_FILE=/run/secrets/kafka`.
//! In `[kafka.common]`, `[kafka.consumer]` and `[kafka.producer]` the key is a librdkafka
//! property, whose dots are written as `_` (`SASL_PASSWORD` is `sasl.password`).
//!
//! Variables are read through [`Environment`], so tests pass a map; nothing calls
//! `std::env::set_var`. Variables without `__` (`LOGINWATCH_KAFKA_BROKERS` of the test suite)
//! are not configuration and are left alone.

use super::Problem;
use std::path::Path;

/// Prefix of every configuration variable.
const PREFIX: &str = "LOGINWATCH_";

/// Where variables come from.
pub trait Environment {
    /// Every variable, name and value (non-Unicode ones are skipped).
    fn vars(&self) -> Vec<(String, String)>;
    /// The contents of a file named by a `…_FILE` variable.
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// The process's environment and file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn vars(&self) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// No variables at all (the file alone).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEnv;

impl Environment for NoEnv {
    fn vars(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        Err(std::io::Error::other(format!(
            "{} not read",
            path.display()
        )))
    }
}

/// One configuration value set by a variable.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Override {
    /// The key path in the configuration, e.g. `["detect", "shared_ip", "window"]`.
    pub keys: Vec<String>,
    pub value: toml::Value,
    /// The value as the variable wrote it.
    pub raw: String,
    /// The variable it came from.
    pub var: String,
}

/// The librdkafka passthrough tables, whose keys are properties with dots.
fn is_passthrough(keys: &[String]) -> bool {
    matches!(keys, [k, t] if k == "kafka" && matches!(t.as_str(), "common" | "consumer" | "producer"))
}

/// A variable's value as TOML: a value when it parses as one, a string otherwise; always a
/// string for librdkafka properties.
fn parse_value(raw: &str, passthrough: bool) -> toml::Value {
    if !passthrough {
        if let Ok(mut t) = toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            if let Some(v) = t.remove("v") {
                return v;
            }
        }
    }
    toml::Value::String(raw.to_owned())
}

/// The configuration values the environment sets, and a problem for each variable that
/// cannot be used (a `…_FILE` that cannot be read, an empty segment).
pub(super) fn overrides(env: &dyn Environment) -> (Vec<Override>, Vec<Problem>) {
    let (mut out, mut problems) = (Vec::new(), Vec::new());
    let mut vars = env.vars();
    vars.sort();
    for (var, raw) in vars {
        let Some(rest) = var.strip_prefix(PREFIX).filter(|r| r.contains("__")) else {
            continue;
        };
        let mut keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            problems.push(Problem {
                key: var.clone(),
                message: "an empty table or key name".into(),
            });
            continue;
        }
        let mut raw = raw;
        if let Some(last) = keys.last_mut() {
            if let Some(key) = last.strip_suffix("_file").map(str::to_owned) {
                match env.read_file(Path::new(&raw)) {
                    Ok(text) => raw = text.trim_end_matches(['\n', '\r']).to_owned(),
                    Err(e) => {
                        problems.push(Problem {
                            key: var.clone(),
                            message: format!("cannot read {raw}: {e}"),
                        });
                        continue;
                    }
                }
                *last = key;
            }
        }
        let passthrough = is_passthrough(&keys[..keys.len() - 1]);
        if let (true, Some(last)) = (passthrough, keys.last_mut()) {
            *last = last.replace('_', ".");
        }
        out.push(Override {
            value: parse_value(&raw, passthrough),
            raw,
            keys,
            var,
        });
    }
    (out, problems)
}

/// Sets each override in `table`, creating tables on the way; a key path through a value that
/// is not a table is a problem.
pub(super) fn apply(table: &mut toml::Table, overrides: &[Override]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for o in overrides {
        if let Err(at) = set(table, &o.keys, o.value.clone()) {
            problems.push(Problem {
                key: o.var.clone(),
                message: format!("{at} is not a table"),
            });
        }
    }
    problems
}

/// Sets `keys` in `table` to `value`; the dotted path of a value in the way if there is one.
fn set(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    match keys {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set(t, rest, value).map_err(|at| format!("{first}.{at}")),
                _ => Err(first.clone()),
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Variables and files from maps.
    pub(crate) struct MapEnv {
        pub vars: Vec<(&'static str, &'static str)>,
        pub files: BTreeMap<&'static str, &'static str>,
    }

    impl Environment for MapEnv {
        fn vars(&self) -> Vec<(String, String)> {
            let own = |(k, v): &(&str, &str)| (k.to_string(), v.to_string());
            self.vars.iter().map(own).collect()
        }

        fn read_file(&self, path: &Path) -> std::io::Result<String> {
            let name = path.to_str().unwrap_or_default();
            self.files
                .get(name)
                .map(|s| s.to_string())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    }

    #[test]
    fn variables_become_keys_and_values() {
        let env = MapEnv {
            vars: vec![
                ("LOGINWATCH_DETECT__IMPOSSIBLE_TRAVEL__MAX_SPEED_KMH", "800"),
                ("LOGINWATCH_DETECT__SHARED_IP__WINDOW", "12h"),
                (
                    "LOGINWATCH_DETECT__SANCTIONED_REGION__COUNTRIES",
                    r#"["KP", "IR"]"#,
                ),
                (
                    "LOGINWATCH_KAFKA__COMMON__SASL_PASSWORD_FILE",
                    "/run/secrets/pw",
                ),
                ("LOGINWATCH_KAFKA__CONSUMER__SESSION_TIMEOUT_MS", "6000"),
                ("LOGINWATCH_KAFKA_BROKERS", "not configuration"),
                ("HOME", "/root"),
            ],
            files: BTreeMap::from([("/run/secrets/pw", "hunter2\n")]),
        };
        let (o, problems) = overrides(&env);
        assert!(problems.is_empty(), "{problems:?}");
        let find = |k: &str| o.iter().find(|o| o.keys.join(".") == k).map(|o| &o.value);
        assert_eq!(
            find("detect.impossible_travel.max_speed_kmh"),
            Some(&toml::Value::Integer(800))
        );
        assert_eq!(
            find("detect.shared_ip.window"),
            Some(&toml::Value::String("12h".into()))
        );
        assert!(
            matches!(find("detect.sanctioned_region.countries"), Some(toml::Value::Array(a)) if a.len() == 2)
        );
        assert_eq!(
            find("kafka.common.sasl.password"),
            Some(&toml::Value::String("hunter2".into()))
        );
        assert_eq!(
            find("kafka.consumer.session.timeout.ms"),
            Some(&toml::Value::String("6000".into()))
        );
        assert_eq!(o.len(), 5, "{o:?}");
    }

    #[test]
    fn unusable_variables_are_problems_named_by_variable() {
        let env = MapEnv {
            vars: vec![
                (
                    "LOGINWATCH_KAFKA__COMMON__SSL_KEY_PASSWORD_FILE",
                    "/missing",
                ),
                ("LOGINWATCH_DETECT____WINDOW", "1h"),
            ],
            files: BTreeMap::new(),
        };
        let (o, problems) = overrides(&env);
        assert!(o.is_empty());
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "LOGINWATCH_DETECT____WINDOW",
                "LOGINWATCH_KAFKA__COMMON__SSL_KEY_PASSWORD_FILE"
            ]
        );
        let mut table: toml::Table = toml::from_str("detect = 1").unwrap();
        let o = overrides(&MapEnv {
            vars: vec![("LOGINWATCH_DETECT__X__Y", "1")],
            files: BTreeMap::new(),
        })
        .0;
        assert_eq!(apply(&mut table, &o)[0].key, "LOGINWATCH_DETECT__X__Y");
    }
}
