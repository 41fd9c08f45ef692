//! [`EngineConfig::validate`](super::EngineConfig::validate): every problem at once, and the
//! value parsers the compiled rules share with it (so a value that validates always compiles).

use super::EngineConfig;
use ipnet::IpNet;
use loginwatch_model::{AlertKind, CountryCode};
use std::net::IpAddr;
use std::time::Duration;

/// Parses `"10.0.0.0/8"`, `"2001:db8::/32"` or a bare address (as /32 or /128).
pub(crate) fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Parses `"AS22351"`, `"as22351"` or `"22351"`.
pub(crate) fn parse_asn(s: &str) -> Option<u32> {
    let s = s.trim();
    let digits = s
        .strip_prefix("AS")
        .or_else(|| s.strip_prefix("as"))
        .unwrap_or(s);
    digits.parse().ok()
}

/// Parses an exemption kind: an alert kind's wire name, or `"*"` for all (`None` inside).
pub(crate) fn parse_kind(s: &str) -> Option<Option<AlertKind>> {
    if s.trim() == "*" {
        Some(None)
    } else {
        AlertKind::parse(s.trim()).map(Some)
    }
}

struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, key: &str, problem: &str) {
        if !ok {
            self.0.push(format!("{key}: {problem}"));
        }
    }

    fn positive(&mut self, key: &str, d: Duration) {
        self.check(!d.is_zero(), key, "must be > 0");
    }

    fn countries(&mut self, key: &str, list: &[String]) {
        for (i, c) in list.iter().enumerate() {
            let ok = CountryCode::parse(c).is_some();
            self.check(
                ok,
                &format!("{key}[{i}]"),
                &not_a("ISO 3166-1 alpha-2 code", c),
            );
        }
    }

    fn kinds(&mut self, key: &str, list: &[String]) {
        for (i, k) in list.iter().enumerate() {
            let ok = parse_kind(k).is_some();
            self.check(
                ok,
                &format!("{key}[{i}]"),
                &not_a("known alert kind or \"*\"", k),
            );
        }
    }
}

fn not_a(what: &str, value: &str) -> String {
    format!("{value:?} is not a {what}")
}

/// Every problem of `c`, each as `"full.key.path: problem"`.
pub(crate) fn problems(c: &EngineConfig) -> Vec<String> {
    let mut p = Problems(Vec::new());
    detect(&mut p, c);
    exceptions(&mut p, c);
    limits(&mut p, c);
    p.0
}

fn detect(p: &mut Problems, c: &EngineConfig) {
    let d = &c.detect;
    let t = &d.impossible_travel;
    let finite_pos = |x: f64| x.is_finite() && x > 0.0;
    let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
    p.check(
        finite_pos(t.max_speed_kmh),
        "detect.impossible_travel.max_speed_kmh",
        "must be a number > 0",
    );
    p.check(
        finite_nonneg(t.min_distance_km),
        "detect.impossible_travel.min_distance_km",
        "must be a number >= 0",
    );
    let ci = &d.concurrent_ips;
    p.positive("detect.concurrent_ips.window", ci.window);
    p.check(
        ci.min_distinct_ips > 0,
        "detect.concurrent_ips.min_distinct_ips",
        "must be > 0",
    );
    p.check(
        finite_nonneg(ci.min_spread_km),
        "detect.concurrent_ips.min_spread_km",
        "must be a number >= 0",
    );
    p.positive("detect.shared_ip.window", d.shared_ip.window);
    p.check(
        d.shared_ip.min_accounts > 1,
        "detect.shared_ip.min_accounts",
        "must be > 1",
    );
    p.check(
        d.shared_ip.prefix_min_accounts > 1,
        "detect.shared_ip.prefix_min_accounts",
        "must be > 1",
    );
    p.check(
        d.shared_ip.max_accounts_per_network
            >= d.shared_ip
                .min_accounts
                .max(d.shared_ip.prefix_min_accounts),
        "detect.shared_ip.max_accounts_per_network",
        "must be at least min_accounts and prefix_min_accounts",
    );
    p.check(
        d.shared_ip.max_networks > 0,
        "detect.shared_ip.max_networks",
        "must be > 0",
    );
    p.check(
        d.shared_ip.history >= d.shared_ip.window,
        "detect.shared_ip.history",
        "must be at least window",
    );
    p.check(
        d.shared_ip.min_logins > 0,
        "detect.shared_ip.min_logins",
        "must be > 0",
    );
    p.check(
        d.shared_ip.min_days > 0,
        "detect.shared_ip.min_days",
        "must be > 0",
    );
    p.check(
        d.shared_ip.min_share > 0.0 && d.shared_ip.min_share <= 1.0,
        "detect.shared_ip.min_share",
        "must be in (0, 1]",
    );
    p.check(
        (0.0..=1.0).contains(&d.shared_ip.min_resident_share),
        "detect.shared_ip.min_resident_share",
        "must be in [0, 1]",
    );
    let lm = &d.location_mismatch;
    p.check(
        lm.min_logins > 0,
        "detect.location_mismatch.min_logins",
        "must be > 0",
    );
    let share = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
    p.check(
        share(lm.min_outside_share) && lm.min_outside_share > 0.0,
        "detect.location_mismatch.min_outside_share",
        "must be a number in (0, 1]",
    );
    p.check(
        share(lm.min_night_share),
        "detect.location_mismatch.min_night_share",
        "must be a number in [0, 1]",
    );
    p.check(
        lm.min_active_hours > 0,
        "detect.location_mismatch.min_active_hours",
        "must be > 0",
    );
    p.check(
        (1..=64).contains(&d.session_hijack.max_sessions),
        "detect.session_hijack.max_sessions",
        "must be between 1 and 64",
    );
    p.positive(
        "detect.session_hijack.forget_after",
        d.session_hijack.forget_after,
    );
    p.positive(
        "detect.long_session.min_duration",
        d.long_session.min_duration,
    );
    p.positive("detect.long_session.max_idle", d.long_session.max_idle);
    p.check(
        d.long_session.min_active_hours <= 24,
        "detect.long_session.min_active_hours",
        "must be at most 24",
    );
    p.positive("detect.new_account.max_age", d.new_account.max_age);
    p.positive("detect.account_risk.horizon", d.account_risk.horizon);
    p.check(
        (1..=100).contains(&d.account_risk.threshold),
        "detect.account_risk.threshold",
        "must be between 1 and 100",
    );
    let sr = &d.sanctioned_region;
    p.countries("detect.sanctioned_region.countries", &sr.countries);
    p.countries(
        "detect.sanctioned_region.watch_countries",
        &sr.watch_countries,
    );
    p.check(
        sr.watch_countries.len() <= 32,
        "detect.sanctioned_region.watch_countries",
        "at most 32 countries",
    );
}

fn exceptions(p: &mut Problems, c: &EngineConfig) {
    let e = &c.exceptions;
    for (i, s) in e.trusted_cidrs.iter().enumerate() {
        let key = format!("exceptions.trusted_cidrs[{i}]");
        p.check(
            parse_cidr(s).is_some(),
            &key,
            &not_a("CIDR or IP address", s),
        );
    }
    for (i, s) in e.trusted_asns.iter().enumerate() {
        let key = format!("exceptions.trusted_asns[{i}]");
        p.check(
            parse_asn(s).is_some(),
            &key,
            &not_a("ASN like \"AS22351\"", s),
        );
    }
    for (account, kinds) in &e.accounts {
        p.kinds(&format!("exceptions.accounts.{account:?}"), kinds);
    }
    for (name, g) in &e.groups {
        let key = format!("exceptions.groups.{name}");
        p.kinds(&format!("{key}.kinds"), &g.kinds);
        let has_members = !g.accounts.is_empty() || !g.account_prefixes.is_empty();
        p.check(has_members, &key, "needs `accounts` or `account_prefixes`");
        let no_empty_prefix = g.account_prefixes.iter().all(|x| !x.is_empty());
        p.check(
            no_empty_prefix,
            &format!("{key}.account_prefixes"),
            "an empty prefix would match every account; use \"*\" exemptions per account instead",
        );
    }
}

fn limits(p: &mut Problems, c: &EngineConfig) {
    let l = &c.engine;
    p.check(l.max_accounts > 0, "engine.max_accounts", "must be > 0");
    p.check(
        (1..=4096).contains(&l.max_logins_per_account),
        "engine.max_logins_per_account",
        "must be between 1 and 4096",
    );
    p.positive("engine.idle_timeout", l.idle_timeout);
    p.check(
        l.idle_timeout >= c.window_span(),
        "engine.idle_timeout",
        "must be at least the window span (longest detector window, max_lateness, window_horizon)",
    );
    let too_long = Duration::from_secs(10 * 365 * 24 * 3600);
    for (key, d) in [
        ("engine.max_lateness", l.max_lateness),
        ("engine.suppression_cooldown", l.suppression_cooldown),
        ("engine.idle_timeout", l.idle_timeout),
        (
            "engine.window_horizon",
            l.window_horizon.unwrap_or_default(),
        ),
    ] {
        p.check(d <= too_long, key, "must be at most 10 years");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(EngineConfig::default().validate(), Vec::<String>::new());
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let mut c = EngineConfig::default();
        c.detect.concurrent_ips.window = Duration::ZERO;
        c.detect.concurrent_ips.min_distinct_ips = 0;
        c.detect.impossible_travel.max_speed_kmh = f64::NAN;
        c.detect.sanctioned_region.countries = vec!["KP".into(), "North Korea".into()];
        c.exceptions.trusted_cidrs = vec!["10.0.0.0/8".into(), "10.0.0.0/33".into()];
        c.exceptions.trusted_asns = vec!["AS22351".into(), "ASX".into()];
        c.exceptions.accounts.insert(
            "acct-1".into(),
            vec!["impossible_travel".into(), "teleport".into()],
        );
        c.engine.max_accounts = 0;
        let got = c.validate();
        let expect_prefixes = [
            "detect.impossible_travel.max_speed_kmh: ",
            "detect.concurrent_ips.window: must be > 0",
            "detect.concurrent_ips.min_distinct_ips: must be > 0",
            "detect.sanctioned_region.countries[1]: ",
            "exceptions.trusted_cidrs[1]: ",
            "exceptions.trusted_asns[1]: ",
            "exceptions.accounts.\"acct-1\"[1]: ",
            "engine.max_accounts: must be > 0",
        ];
        assert_eq!(got.len(), expect_prefixes.len(), "{got:#?}");
        for (g, e) in got.iter().zip(expect_prefixes) {
            assert!(g.starts_with(e), "{g} should start with {e}");
        }
    }

    #[test]
    fn parses_values() {
        assert_eq!(parse_asn("AS22351"), Some(22351));
        assert_eq!(parse_asn(" 9009 "), Some(9009));
        assert_eq!(parse_asn("AS-1"), None);
        assert_eq!(
            parse_cidr("10.1.2.3/8").map(|n| n.to_string()),
            Some("10.0.0.0/8".into())
        );
        assert_eq!(
            parse_cidr("2001:db8::1").map(|n| n.to_string()),
            Some("2001:db8::1/128".into())
        );
        assert_eq!(parse_kind("*"), Some(None));
        assert_eq!(
            parse_kind("concurrent_ips"),
            Some(Some(AlertKind::ConcurrentIps))
        );
        assert_eq!(parse_kind("nope"), None);
    }

    #[test]
    fn deserializes_with_defaults_and_rejects_unknown_keys() {
        let c: EngineConfig = from_json(
            r#"{"detect":{"concurrent_ips":{"window":"15m"}},"engine":{"max_lateness":"1m"}}"#,
        );
        assert_eq!(c.detect.concurrent_ips.window, Duration::from_secs(900));
        assert_eq!(c.engine.max_lateness, Duration::from_secs(60));
        assert_eq!(c.detect.impossible_travel.max_speed_kmh, 900.0);
        let bad = serde_json::from_str::<EngineConfig>(r#"{"detect":{"travel":{}}}"#);
        assert!(bad.is_err());
        let c = from_json(r#"{"engine":{"window_horizon":"2h","idle_timeout":"1d"}}"#);
        assert_eq!(c.engine.window_horizon, Some(Duration::from_secs(7200)));
        assert_eq!(c.window_span(), Duration::from_secs(7200));
        let text = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(from_json(&text), c);
    }

    fn from_json(json: &str) -> EngineConfig {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"))
    }
}
