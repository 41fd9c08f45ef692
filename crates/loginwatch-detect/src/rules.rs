//! The configuration compiled for the hot path: durations in milliseconds, country codes,
//! trusted networks (loginwatch-geo's [`CidrSet`] / [`AsnSet`]), and the exemption table.

use crate::config::validate::{parse_asn, parse_cidr, parse_kind};
use crate::config::EngineConfig;
use crate::window::Bounds;
use crate::ConfigError;
use loginwatch_geo::lists::{AsnSet, CidrSet};
use loginwatch_geo::Login;
use loginwatch_model::{AlertKind, CountryCode};
use std::collections::HashMap;
use std::sync::Arc;

/// A bit per [`AlertKind`] (by its position in [`AlertKind::ALL`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KindMask(u32);

impl KindMask {
    pub(crate) const ALL: KindMask = KindMask(u32::MAX);

    fn bit(kind: AlertKind) -> u32 {
        let i = AlertKind::ALL.iter().position(|k| *k == kind).unwrap_or(31);
        1 << i
    }

    pub(crate) fn with(self, kind: Option<AlertKind>) -> Self {
        match kind {
            None => Self::ALL,
            Some(k) => KindMask(self.0 | Self::bit(k)),
        }
    }

    pub(crate) fn contains(self, kind: AlertKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }
}

/// Per-account exemptions: exact ids and id prefixes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exemptions {
    exact: HashMap<Box<str>, KindMask>,
    prefixes: Vec<(Box<str>, KindMask)>,
}

impl Exemptions {
    /// The kinds `account` is exempt from.
    pub(crate) fn of(&self, account: &str) -> KindMask {
        if self.exact.is_empty() && self.prefixes.is_empty() {
            return KindMask::default();
        }
        let mut m = self.exact.get(account).copied().unwrap_or_default();
        for (p, k) in &self.prefixes {
            if account.starts_with(&**p) {
                m = KindMask(m.0 | k.0);
            }
        }
        m
    }

    fn add(&mut self, account: &str, kinds: KindMask) {
        let e = self.exact.entry(account.into()).or_default();
        *e = KindMask(e.0 | kinds.0);
    }
}

fn mask(kinds: &[String]) -> KindMask {
    kinds
        .iter()
        .filter_map(|k| parse_kind(k))
        .fold(KindMask::default(), KindMask::with)
}

/// [`EngineConfig`] compiled for the hot path.
#[derive(Debug)]
pub(crate) struct Rules {
    pub cfg: Arc<EngineConfig>,
    pub trusted_cidrs: CidrSet,
    pub trusted_asns: AsnSet,
    pub exemptions: Exemptions,
    pub sanctioned: Vec<CountryCode>,
    pub watch: Vec<CountryCode>,
    pub bounds: Bounds,
    pub lateness_ms: i64,
    pub cooldown_ms: i64,
    pub idle_ms: i64,
    /// How long the shared_ip index keeps a network after its newest login (its history plus
    /// `max_lateness`); `None` when shared_ip is off.
    pub shared_keep_ms: Option<i64>,
}

/// How long a travel baseline can matter: beyond half the Earth's circumference at
/// `max_speed_kmh`, no hop from it can be too fast (0 when impossible_travel is off).
fn anchor_ms(cfg: &EngineConfig) -> i64 {
    let t = &cfg.detect.impossible_travel;
    if !t.enabled {
        return 0;
    }
    let half_earth_km = std::f64::consts::PI * loginwatch_geo::distance::EARTH_RADIUS_KM;
    // `as` saturates for a tiny speed.
    (half_earth_km / t.max_speed_kmh * 3_600_000.0).ceil() as i64
}

pub(crate) fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Rules {
    /// Validates and compiles; every problem is reported at once.
    pub(crate) fn compile(cfg: Arc<EngineConfig>) -> Result<Rules, ConfigError> {
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let ex = &cfg.exceptions;
        let mut exemptions = Exemptions::default();
        for (account, kinds) in &ex.accounts {
            exemptions.add(account, mask(kinds));
        }
        for g in ex.groups.values() {
            let m = mask(&g.kinds);
            g.accounts.iter().for_each(|a| exemptions.add(a, m));
            let prefixes = g.account_prefixes.iter().map(|p| (p.as_str().into(), m));
            exemptions.prefixes.extend(prefixes);
        }
        let countries = |l: &[String]| l.iter().filter_map(|c| CountryCode::parse(c)).collect();
        let sr = &cfg.detect.sanctioned_region;
        Ok(Rules {
            trusted_cidrs: CidrSet::from_nets(
                ex.trusted_cidrs.iter().filter_map(|c| parse_cidr(c)),
            ),
            trusted_asns: AsnSet::from_asns(ex.trusted_asns.iter().filter_map(|a| parse_asn(a))),
            exemptions,
            sanctioned: countries(&sr.countries),
            watch: countries(&sr.watch_countries),
            bounds: Bounds {
                span_ms: ms(cfg.window_span()),
                lateness_ms: ms(cfg.engine.max_lateness),
                anchor_ms: anchor_ms(&cfg),
                max_len: cfg.engine.max_logins_per_account,
            },
            lateness_ms: ms(cfg.engine.max_lateness),
            cooldown_ms: ms(cfg.engine.suppression_cooldown),
            idle_ms: ms(cfg.engine.idle_timeout),
            shared_keep_ms: cfg.detect.shared_ip.enabled.then(|| {
                ms(cfg.detect.shared_ip.history).saturating_add(ms(cfg.engine.max_lateness))
            }),
            cfg,
        })
    }

    /// True when the login comes from a trusted network (CIDR or ASN).
    pub(crate) fn is_trusted(&self, login: &Login) -> bool {
        let by_asn = login.net.asn.is_some_and(|a| self.trusted_asns.contains(a));
        by_asn || self.trusted_cidrs.contains(login.event.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemptions_by_account_group_and_prefix() {
        let mut c = EngineConfig::default();
        c.exceptions
            .accounts
            .insert("acct-1".into(), vec!["impossible_travel".into()]);
        c.exceptions.groups.insert(
            "travellers".into(),
            crate::config::ExemptGroup {
                accounts: vec!["acct-2".into()],
                account_prefixes: vec!["svc-".into()],
                kinds: vec!["*".into()],
            },
        );
        let r = Rules::compile(Arc::new(c)).unwrap();
        let e = &r.exemptions;
        assert!(e.of("acct-1").contains(AlertKind::ImpossibleTravel));
        assert!(!e.of("acct-1").contains(AlertKind::ConcurrentIps));
        assert!(e.of("acct-2").contains(AlertKind::ConcurrentIps));
        assert!(e.of("svc-backup").contains(AlertKind::AnonymizedIp));
        assert_eq!(e.of("acct-3"), KindMask::default());
    }
}
