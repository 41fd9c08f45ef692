//! The files in `deploy/` cannot be run here (no Docker, no cluster), so this checks them on
//! paper: they parse, the configuration they carry is valid, and the facts that must agree do
//! (ports, probe paths, topic names, grace periods, broker addresses).

use loginwatch_service::ServiceConfig;
use serde::Deserialize;
use serde_yaml::Value;
use std::path::{Path, PathBuf};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(rel: &str) -> String {
    let p = deploy_dir().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml(rel: &str) -> Value {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The `[kafka]` and `[metrics]` tables of a loginwatch TOML file, validated.
fn service_config(toml_text: &str, what: &str) -> ServiceConfig {
    let mut table: toml::Table =
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{what}: {e}"));
    table.retain(|k, _| k == "kafka" || k == "metrics");
    let c = ServiceConfig::deserialize(toml::Value::Table(table))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(c.validate(), Vec::<String>::new(), "{what} validates");
    c
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

#[test]
fn compose_runs_kraft_kafka_loginwatch_and_prometheus_in_agreement() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    let cfg = service_config(&read("loginwatch.toml"), "deploy/loginwatch.toml");
    let port = cfg.metrics.listen.port();
    assert!(
        cfg.metrics.listen.ip().is_unspecified(),
        "listens beyond the container"
    );

    let kafka_env = &services["kafka"]["environment"];
    assert!(
        s(&kafka_env["KAFKA_PROCESS_ROLES"]).contains("controller"),
        "KRaft mode"
    );
    assert!(services.get("zookeeper").is_none());
    assert!(
        s(&kafka_env["KAFKA_ADVERTISED_LISTENERS"]).contains(&format!("//{}", cfg.kafka.brokers))
    );

    let init = serde_yaml::to_string(&services["kafka-init"]).expect("yaml");
    for topic in [
        &cfg.kafka.input_topic,
        &cfg.kafka.alert_topic,
        &cfg.kafka.dead_letter_topic,
    ] {
        assert!(
            init.contains(&format!("{topic}:")),
            "kafka-init creates {topic}"
        );
    }

    let lw = &services["loginwatch"];
    assert_eq!(s(&lw["build"]["dockerfile"]), "deploy/Dockerfile");
    let ports: Vec<&str> = lw["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(s)
        .collect();
    assert!(
        ports.contains(&format!("{port}:{port}").as_str()),
        "{ports:?}"
    );
    let command: Vec<&str> = lw["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .map(s)
        .collect();
    let config_path = command[command
        .iter()
        .position(|a| *a == "--config")
        .expect("--config")
        + 1];
    assert!(command.contains(&"run"));
    let volumes = serde_yaml::to_string(&lw["volumes"]).expect("yaml");
    assert!(
        volumes.contains(&format!("./loginwatch.toml:{config_path}")),
        "config mounted"
    );
    let stop = humantime::parse_duration(s(&lw["stop_grace_period"])).expect("duration");
    assert!(
        stop > cfg.kafka.shutdown_grace,
        "compose waits longer than the grace period"
    );

    let prom = yaml("prometheus.yml");
    let job = prom["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs")
        .iter()
        .find(|j| j["job_name"] == "loginwatch")
        .expect("loginwatch job");
    let targets = serde_yaml::to_string(&job["static_configs"]).expect("yaml");
    assert!(targets.contains(&format!("loginwatch:{port}")), "{targets}");
    let mounts = serde_yaml::to_string(&services["prometheus"]["volumes"]).expect("yaml");
    assert!(mounts.contains("./prometheus.yml:/etc/prometheus/prometheus.yml"));
}

/// Every document of every manifest in `deploy/k8s`, by kind.
fn k8s(kind: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(deploy_dir().join("k8s")).expect("deploy/k8s") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("manifest");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if v["kind"] == kind {
                out.push(v);
            }
        }
    }
    out
}

fn one(kind: &str) -> Value {
    let mut all = k8s(kind);
    assert_eq!(all.len(), 1, "one {kind}");
    all.remove(0)
}

#[test]
fn kubernetes_manifests_agree_on_port_probes_config_and_grace() {
    let cm = one("ConfigMap");
    let cfg = service_config(
        s(&cm["data"]["loginwatch.toml"]),
        "ConfigMap loginwatch.toml",
    );
    let port = i64::from(cfg.metrics.listen.port());
    assert!(cfg.metrics.listen.ip().is_unspecified());

    let dep = one("StatefulSet");
    let pod = &dep["spec"]["template"];
    assert_eq!(
        dep["spec"]["selector"]["matchLabels"],
        pod["metadata"]["labels"]
    );
    let spec = &pod["spec"];
    let grace = spec["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    assert!(
        grace > cfg.kafka.shutdown_grace.as_secs(),
        "SIGKILL comes after the grace period"
    );
    let c = spec["containers"]
        .as_sequence()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == "loginwatch")
        .expect("loginwatch container");
    let p = c["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == "metrics")
        .expect("metrics port");
    assert_eq!(p["containerPort"].as_i64(), Some(port));
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &c[probe]["httpGet"];
        assert_eq!(s(&get["path"]), path, "{probe}");
        assert!(
            get["port"] == "metrics" || get["port"].as_i64() == Some(port),
            "{probe}"
        );
    }
    for r in ["cpu", "memory"] {
        assert!(c["resources"]["limits"][r].is_string(), "limit {r}");
        assert!(c["resources"]["requests"][r].is_string(), "request {r}");
    }
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(s)
        .collect();
    assert!(args.contains(&"run"));
    // Static membership: each pod's stable name is its group instance id.
    let id = args.iter().position(|a| *a == "--group-instance-id");
    assert_eq!(id.map(|i| args[i + 1]), Some("$(POD_NAME)"));
    let env = c["env"].as_sequence().expect("env");
    let pod_name = env
        .iter()
        .find(|e| e["name"] == "POD_NAME")
        .expect("POD_NAME");
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    let config_path = args[args
        .iter()
        .position(|a| *a == "--config")
        .expect("--config")
        + 1];
    let mount = c["volumeMounts"]
        .as_sequence()
        .expect("mounts")
        .iter()
        .find(|m| config_path.starts_with(s(&m["mountPath"])))
        .expect("config file is mounted");
    let volume = spec["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("volume");
    assert_eq!(volume["configMap"]["name"], cm["metadata"]["name"]);
    let file = Path::new(config_path).file_name().and_then(|f| f.to_str());
    assert_eq!(
        file,
        Some("loginwatch.toml"),
        "file name matches the ConfigMap key"
    );

    let svc = one("Service");
    assert_eq!(svc["spec"]["selector"], pod["metadata"]["labels"]);
    assert_eq!(dep["spec"]["serviceName"], svc["metadata"]["name"]);
    assert_eq!(
        svc["spec"]["clusterIP"], "None",
        "a StatefulSet's headless service"
    );
    let sp = &svc["spec"]["ports"][0];
    assert_eq!(sp["port"].as_i64(), Some(port));
    assert!(sp["targetPort"] == "metrics" || sp["targetPort"].as_i64() == Some(port));

    let kust = yaml("k8s/kustomization.yaml");
    let listed = serde_yaml::to_string(&kust["resources"]).expect("yaml");
    for f in ["configmap.yaml", "statefulset.yaml", "service.yaml"] {
        assert!(listed.contains(f), "kustomization lists {f}");
    }
}

#[test]
fn dockerfile_is_multi_stage_and_exposes_the_metrics_port() {
    let text = read("Dockerfile");
    let froms = text
        .lines()
        .filter(|l| l.trim_start().starts_with("FROM "))
        .count();
    assert!(froms >= 2, "multi-stage");
    assert!(text.contains("COPY --from=build"));
    let cfg = service_config(&read("loginwatch.toml"), "deploy/loginwatch.toml");
    assert!(text.contains(&format!("EXPOSE {}", cfg.metrics.listen.port())));
    assert!(text.contains("COPY deploy/loginwatch.toml /etc/loginwatch/loginwatch.toml"));
    assert!(text
        .contains(r#"CMD ["--log-json", "run", "--config", "/etc/loginwatch/loginwatch.toml"]"#));
}

#[test]
fn scripts_are_valid_bash() {
    for script in ["local-broker.sh", "install-tansu.sh"] {
        let path = deploy_dir().join(script);
        let status = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .status()
            .expect("bash");
        assert!(status.success(), "{script} parses");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("script")
                .permissions()
                .mode();
            assert!(mode & 0o111 != 0, "{script} is executable");
        }
    }
}
