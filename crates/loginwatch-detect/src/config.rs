//! Typed configuration of the engine: one struct per `[detect.X]` table of CONTRACT §4, plus
//! `[exceptions]` and the `[engine]` limits, with named defaults and [`EngineConfig::validate`],
//! which reports every problem at once, each prefixed with its full key path.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) mod validate;

/// Everything the engine needs: detectors, exceptions and limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// `[detect.*]`
    pub detect: DetectConfig,
    /// `[exceptions]`
    pub exceptions: ExceptionsConfig,
    /// `[engine]`
    pub engine: LimitsConfig,
}

/// `[detect]`: one table per detector. Tables for detectors this crate does not run yet are
/// accepted (and validated) so that a contract-conforming file always loads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    pub impossible_travel: ImpossibleTravelConfig,
    pub concurrent_ips: ConcurrentIpsConfig,
    pub shared_ip: SharedIpConfig,
    pub anonymized_ip: AnonymizedIpConfig,
    pub location_mismatch: LocationMismatchConfig,
    pub session_hijack: SessionHijackConfig,
    pub long_session: LongSessionConfig,
    pub sanctioned_region: SanctionedRegionConfig,
    /// Extension: `[detect.new_account]`.
    pub new_account: NewAccountConfig,
    /// Extension: `[detect.account_risk]`.
    pub account_risk: AccountRiskConfig,
}

/// `[detect.impossible_travel]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImpossibleTravelConfig {
    pub enabled: bool,
    /// Alert above this speed (km/h). Default 900.
    pub max_speed_kmh: f64,
    /// Ignore hops shorter than this, after subtracting both accuracy radii. Default 100.
    pub min_distance_km: f64,
}

impl Default for ImpossibleTravelConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_speed_kmh: 900.0,
            min_distance_km: 100.0,
        }
    }
}

/// `[detect.concurrent_ips]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConcurrentIpsConfig {
    pub enabled: bool,
    /// Look-back window ending at (and including) each login. Default 30m.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Distinct host keys (IPv4 address, IPv6 /64) needed. Default 2.
    pub min_distinct_ips: usize,
    /// Distinct countries needed among the located logins (0 = no requirement). Default 2.
    pub min_distinct_countries: usize,
    /// Extension: two of the logins in different countries must also be at least this far
    /// apart (km, after accuracy radii). 0 (default) disables the check.
    pub min_spread_km: f64,
}

impl Default for ConcurrentIpsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(30 * 60),
            min_distinct_ips: 2,
            min_distinct_countries: 2,
            min_spread_km: 0.0,
        }
    }
}

/// `[detect.shared_ip]` (many accounts behind one network; run by the cross-account
/// [`SharedIndex`](crate::SharedIndex)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharedIpConfig {
    pub enabled: bool,
    /// Accounts count towards a farm while their last login on the network is at most this
    /// old (the floor: at least `min_accounts` within it). Default 24h.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Distinct accounts living on one IPv4 address / IPv6 /64 (or IPv4 /24 / IPv6 /48 with
    /// `prefixes`) within `window`: the floor of a farm. Default 5.
    pub min_accounts: usize,
    /// Extension: how long an account's logins on a network are remembered; whether it lives
    /// there is judged over this. Default 7d.
    #[serde(with = "humantime_serde")]
    pub history: Duration,
    /// Extension: logins on the network before an account can count as living there.
    /// Default 3.
    pub min_logins: u16,
    /// Extension: distinct UTC days with a login on the network. Default 2.
    pub min_days: u16,
    /// Extension: the share of the account's logins, since its first one on the network, that
    /// came from it. Default 0.8.
    pub min_share: f64,
    /// Extension: the share of the accounts seen on the network within `window` that live
    /// there: a farm's address is its workers' home, while a venue where a few regulars
    /// happen to log in mostly from it is still mostly passers-by. Default 0.5.
    pub min_resident_share: f64,
    /// Extension: also count IPv4 /24s (CONTRACT §4). Default false: a carrier's /24 holds
    /// most of its subscribers' logins, so living on a /24 says little.
    pub prefixes: bool,
    /// Extension: distinct accounts needed at the prefix level (/24, /48). Unrelated neighbours
    /// share an ISP's /24 far more often than an address, so the default is 10 (twice
    /// `min_accounts`'s default): at 5, a 1M-account stream put ordinary users over it.
    pub prefix_min_accounts: usize,
    /// Extension: also count IPv6 /48s (one site for businesses, but a pool of thousands of
    /// households at residential ISPs). Default false. The IPv6 host level is the /64.
    pub ipv6_prefix_48: bool,
    /// Extension: count logins from anonymizer networks (commercial VPN exits carry thousands
    /// of unrelated users; those are the anonymized_ip detector's job). Default false.
    pub include_anonymized: bool,
    /// Extension: accounts remembered per network (enough to decide and list them); beyond
    /// it the least recently seen make room. Default 64.
    pub max_accounts_per_network: usize,
    /// Extension: networks (addresses and prefixes) in the index of one process; beyond it the
    /// least recently used are evicted. Default 1 000 000.
    pub max_networks: usize,
    /// Extension: accounts remembered across all networks beyond each network's first (which
    /// its entry holds); beyond it the least recently used networks are evicted. Default
    /// 4 000 000: with `max_networks`, a bound of ~0.5 GB for the index.
    pub max_members: usize,
}

impl Default for SharedIpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(24 * 3600),
            min_accounts: 5,
            history: Duration::from_secs(7 * 24 * 3600),
            min_logins: 3,
            min_days: 2,
            min_share: 0.8,
            min_resident_share: 0.5,
            prefixes: false,
            prefix_min_accounts: 10,
            ipv6_prefix_48: false,
            include_anonymized: false,
            max_accounts_per_network: 64,
            max_networks: 1_000_000,
            max_members: 4_000_000,
        }
    }
}

/// `[detect.anonymized_ip]`. The list files are read by the locator (loginwatch-geo), which
/// sets [`loginwatch_geo::AnonFlags`]; the engine only consumes the flags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnonymizedIpConfig {
    pub enabled: bool,
    pub cidr_lists: Vec<PathBuf>,
    pub asn_lists: Vec<PathBuf>,
    /// Extension: alert on an account's first anonymized login (low for VPN/hosting/proxy,
    /// medium for residential proxies, high for Tor). `false` keeps only the alerts on
    /// switching anonymizer networks. Default true.
    pub alert_on_first: bool,
}

impl Default for AnonymizedIpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            cidr_lists: Vec::new(),
            asn_lists: Vec::new(),
            alert_on_first: true,
        }
    }
}

/// `[detect.location_mismatch]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocationMismatchConfig {
    pub enabled: bool,
    /// Located, non-anonymized successful logins (or Korean-first logins) needed before the
    /// country (or language) rule judges. Default 3.
    pub min_logins: usize,
    /// Extension: share of those logins outside `claimed_country` that alerts. Default 0.6.
    pub min_outside_share: f64,
    /// Extension: alert when most logins prefer Korean (`ko` first in `accept_language`)
    /// while the claimed country is neither KR nor KP. Default true.
    pub korean_language: bool,
    /// Extension: active hours (clock hours with at least one login or activity event)
    /// needed before the working-hours rule judges. Default 24.
    pub min_active_hours: usize,
    /// Extension: share of active hours in the claimed zone's night (00:00–06:00 local) that
    /// alerts; 0 disables the rule. Default 0.5.
    pub min_night_share: f64,
}

impl Default for LocationMismatchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_logins: 3,
            min_outside_share: 0.6,
            korean_language: true,
            min_active_hours: 24,
            min_night_share: 0.5,
        }
    }
}

/// `[detect.session_hijack]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionHijackConfig {
    pub enabled: bool,
    /// Extension: sessions remembered per account (fingerprints only). Default 8.
    pub max_sessions: usize,
    /// Extension: also alert when a session moves to another ASN in the same country (mobile
    /// users hand over between Wi-Fi and carrier networks mid-session). Default false.
    pub alert_on_asn_change: bool,
    /// Extension: a session fingerprint not seen for this long is forgotten (a session idle
    /// that long has usually expired; it also keeps an account's memory from growing with its
    /// age). Default 24h.
    #[serde(with = "humantime_serde")]
    pub forget_after: Duration,
}

impl Default for SessionHijackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_sessions: 8,
            alert_on_asn_change: false,
            forget_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// `[detect.long_session]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LongSessionConfig {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub min_duration: Duration,
    #[serde(with = "humantime_serde")]
    pub max_idle: Duration,
    /// Extension: alert when one UTC day has activity in at least this many of its 24 hourly
    /// buckets; 0 disables the rule. Default 20.
    pub min_active_hours: u32,
}

impl Default for LongSessionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_duration: Duration::from_secs(24 * 3600),
            max_idle: Duration::from_secs(3600),
            min_active_hours: 20,
        }
    }
}

/// `[detect.new_account]` (extension): while an account is younger than `max_age` (from the
/// events' `account_created_at`), every alert of it is raised one severity step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewAccountConfig {
    pub enabled: bool,
    /// Default 30d.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for NewAccountConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// `[detect.account_risk]` (extension): the per-account 0–100 score carried on every alert,
/// and an `account_risk` alert when it reaches `threshold` (see `risk.rs` for the rule).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountRiskConfig {
    pub enabled: bool,
    /// Signals older than this no longer count. Default 7d.
    #[serde(with = "humantime_serde")]
    pub horizon: Duration,
    /// Default 70.
    pub threshold: u8,
}

impl Default for AccountRiskConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            horizon: Duration::from_secs(7 * 24 * 3600),
            threshold: 70,
        }
    }
}

/// `[detect.sanctioned_region]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SanctionedRegionConfig {
    pub enabled: bool,
    /// A successful login or activity located here raises a `sanctioned_region` alert.
    /// ISO 3166-1 alpha-2. Default `["KP"]`.
    pub countries: Vec<String>,
    /// Extension: once an account has a successful login or activity located here, every
    /// other alert of that account is raised one severity step. At most 32. Default
    /// `["CN", "RU"]` (where the advisories place most DPRK IT workers).
    pub watch_countries: Vec<String>,
}

impl Default for SanctionedRegionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            countries: vec!["KP".into()],
            watch_countries: vec!["CN".into(), "RU".into()],
        }
    }
}

/// `[exceptions]`: trusted networks and exempt accounts.
///
/// - A login from `trusted_cidrs` (CIDR or bare address) or `trusted_asns` (`"AS22351"` or
///   `"22351"`) is invisible to the detectors of this crate: never a travel point, never
///   counted for concurrent IPs, never anonymized or sanctioned.
/// - `accounts`: account id → alert kinds it is exempt from (`["impossible_travel"]`; `"*"`
///   means every kind). `groups`: named sets of accounts (by id or id prefix) sharing
///   exempt kinds, e.g. frequent travellers. Exempt detectors do not run for the account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExceptionsConfig {
    pub trusted_cidrs: Vec<String>,
    pub trusted_asns: Vec<String>,
    pub accounts: BTreeMap<String, Vec<String>>,
    pub groups: BTreeMap<String, ExemptGroup>,
}

/// `[exceptions.groups.NAME]`: accounts exempt from the same kinds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExemptGroup {
    /// Exact account ids.
    pub accounts: Vec<String>,
    /// Account ids starting with any of these (e.g. `"svc-"`).
    pub account_prefixes: Vec<String>,
    /// Alert kinds the members are exempt from (`"*"` = all).
    pub kinds: Vec<String>,
}

/// `[engine]`: the bounds on the engine's memory and its tolerance for late events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Accounts tracked at once; beyond it the least recently seen (by event time) are
    /// evicted. Default 1 000 000.
    pub max_accounts: usize,
    /// Successful logins kept per account; beyond it the oldest are dropped. Default 32.
    pub max_logins_per_account: usize,
    /// An event older than its account's newest event by more than this is counted as
    /// too late and not used. Default 5m.
    #[serde(with = "humantime_serde")]
    pub max_lateness: Duration,
    /// The same (account, kind) does not alert again within this much event time unless it
    /// got worse. Default 1h.
    #[serde(with = "humantime_serde")]
    pub suppression_cooldown: Duration,
    /// Minimum time span of logins kept per account; the span is never shorter than the
    /// concurrent_ips window plus `max_lateness`. Default: unset (35 min at defaults).
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub window_horizon: Option<Duration>,
    /// An account with no event for this long (behind the highest event time seen) is
    /// forgotten. Default 7d.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_accounts: 1_000_000,
            max_logins_per_account: 32,
            max_lateness: Duration::from_secs(5 * 60),
            suppression_cooldown: Duration::from_secs(3600),
            window_horizon: None,
            idle_timeout: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl EngineConfig {
    /// Every problem of this configuration at once, each as `"full.key.path: problem"`.
    /// Empty when the configuration is usable.
    pub fn validate(&self) -> Vec<String> {
        validate::problems(self)
    }

    /// The time span of logins kept per account (see [`LimitsConfig::window_horizon`]).
    pub fn window_span(&self) -> Duration {
        let d = &self.detect;
        let concurrent = if d.concurrent_ips.enabled {
            d.concurrent_ips.window
        } else {
            Duration::ZERO
        };
        // A login up to `max_lateness` late still looks `window` back from its own time.
        (concurrent + self.engine.max_lateness).max(self.engine.window_horizon.unwrap_or_default())
    }
}
