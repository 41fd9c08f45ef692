//! `location_mismatch`: what the account does contradicts what its profile claims (advisory
//! red flags R6, R11). Three rules, each judged over several events, never one stray hop:
//!
//! - **country**: at least `min_logins` (3) located, non-anonymized successful logins, and at
//!   least `min_outside_share` (60 %) of them outside `claimed_country`. VPN/hosting logins are
//!   not observations (their exit country is not the user's), trusted networks are ignored, so
//!   a traveller's few logins abroad among many at home stay below the share;
//! - **korean_language**: at least `min_logins` logins carry `accept_language`, most of them
//!   with Korean (`ko`) as the first preference, while the claimed country is neither KR nor
//!   KP;
//! - **night_hours**: at least `min_active_hours` (24) *active hours* — clock hours with a
//!   successful login or activity event, each counted once however busy, so one long night
//!   session is not "most of the activity" — and at least `min_night_share` (50 %) of them
//!   between 00:00 and 06:00 in `claimed_timezone` (local hours from [`crate::tz`]; an
//!   unknown zone disables the rule).
//!
//! Each rule alerts once per claim (a changed `claimed_country` or `claimed_timezone` starts
//! the count again). Severity: low for the language rule alone, medium for another single
//! rule, one step up when two or more hold. Evidence: claimed values, the share of located
//! logins per country, the 24-hour histogram in the claimed zone, the counts, the login.
//!
//! Memory: a [`Profile`] of 72 bytes, a part of the account's state (the hour counts are
//! stored packed, see `loginwatch_storage::pack`); counts halve past 4096.

use super::round1;
use crate::config::LocationMismatchConfig;
use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use crate::suppress::{country_key, Escalation};
use crate::tz;
use loginwatch_model::alert::evidence::kinds::{self as evidence, CountryShares, MismatchReason};
use loginwatch_model::{AlertKind, CountryCode, EventType, Severity};
use loginwatch_storage::pack::HourCounts;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

const COUNTRY: u8 = 1;
const LANGUAGE: u8 = 2;
const NIGHT: u8 = 4;
const CAP: u16 = 4096;

/// What an account claims and what it was seen doing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    claimed: Option<CountryCode>,
    zone: u8,
    /// Reasons already alerted.
    reported: u8,
    located: u16,
    outside: u16,
    /// Up to 4 countries outside the claimed one (see [`code`]), with their login counts.
    other_cc: [[u8; 2]; 4],
    other_n: [u16; 4],
    language: u16,
    korean: u16,
    /// Active hours per local hour of the day.
    hours: HourCounts,
    /// The last hour counted (hours since the epoch).
    last_hour: u32,
}

impl Profile {
    pub(crate) fn claim(&mut self, country: Option<CountryCode>, zone: u8) {
        if country.is_some() && country != self.claimed {
            self.claimed = country;
            (self.located, self.outside) = (0, 0);
            (self.other_cc, self.other_n) = Default::default();
            self.reported &= !(COUNTRY | LANGUAGE);
        }
        if zone != 0 && zone != self.zone {
            self.zone = zone;
            self.hours = HourCounts::default();
            self.reported &= !NIGHT;
        }
    }

    pub(crate) fn observe_country(&mut self, c: CountryCode) {
        if self.located >= CAP {
            self.located /= 2;
            self.outside /= 2;
            self.other_n.iter_mut().for_each(|n| *n /= 2);
        }
        self.located += 1;
        if Some(c) == self.claimed {
            return;
        }
        self.outside += 1;
        if let Some(i) = self.other_cc.iter().position(|o| *o == code(c)) {
            self.other_n[i] += 1;
        } else if let Some(i) = (0..4).min_by_key(|&i| self.other_n[i]) {
            (self.other_cc[i], self.other_n[i]) = (code(c), 1);
        }
    }

    /// The countries outside the claimed one, with their login counts.
    fn others(&self) -> impl Iterator<Item = (CountryCode, u16)> + '_ {
        let known = |(cc, n): (&[u8; 2], &u16)| {
            let c = std::str::from_utf8(cc).ok().and_then(CountryCode::parse)?;
            Some((c, *n))
        };
        self.other_cc.iter().zip(&self.other_n).filter_map(known)
    }

    pub(crate) fn observe_hour(&mut self, hour: u8) {
        let mut hours = self.hours.get();
        if hours.iter().map(|h| u32::from(*h)).sum::<u32>() >= u32::from(CAP) {
            hours.iter_mut().for_each(|h| *h /= 2);
        }
        if let Some(h) = hours.get_mut(usize::from(hour)) {
            *h += 1;
        }
        self.hours.set(&hours);
    }

    fn active(&self) -> u32 {
        self.hours.get().iter().map(|h| u32::from(*h)).sum()
    }

    fn night(&self) -> u32 {
        self.hours.get()[..6].iter().map(|h| u32::from(*h)).sum()
    }
}

/// A country as its two ASCII bytes (`[0, 0]` = none), 2 bytes where an
/// `Option<CountryCode>` beside a count takes 4.
fn code(c: CountryCode) -> [u8; 2] {
    match c.as_str().as_bytes() {
        [a, b] => [*a, *b],
        _ => [0; 2],
    }
}

/// The location-mismatch detector.
#[derive(Debug)]
pub(crate) struct LocationMismatch {
    cfg: LocationMismatchConfig,
}

fn prefers_korean(accept_language: &str) -> bool {
    let first = accept_language.split(',').next().unwrap_or("");
    let tag = first.split(';').next().unwrap_or("").trim();
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    primary.eq_ignore_ascii_case("ko")
}

fn korean_ok(c: Option<CountryCode>) -> bool {
    c.is_some_and(|c| matches!(c.as_str(), "KR" | "KP"))
}

impl LocationMismatch {
    pub(crate) fn new(cfg: &LocationMismatchConfig) -> Self {
        LocationMismatch { cfg: cfg.clone() }
    }

    pub(crate) fn reasons(&self, p: &Profile) -> u8 {
        let c = &self.cfg;
        let n = c.min_logins as u32;
        let located = u32::from(p.located);
        let mut r = 0;
        if p.claimed.is_some()
            && located >= n
            && f64::from(p.outside) >= c.min_outside_share * f64::from(located)
        {
            r |= COUNTRY;
        }
        let lang = u32::from(p.language);
        if c.korean_language
            && p.claimed.is_some()
            && !korean_ok(p.claimed)
            && lang >= n
            && 2 * u32::from(p.korean) > lang
        {
            r |= LANGUAGE;
        }
        let active = p.active();
        if c.min_night_share > 0.0
            && active >= c.min_active_hours as u32
            && f64::from(p.night()) >= c.min_night_share * f64::from(active)
        {
            r |= NIGHT;
        }
        r
    }

    /// Updates the profile with this event; `None` when the account has no profile yet and
    /// the event brings no claim.
    fn update<'a>(&self, cx: &'a mut Ctx<'_>) -> Option<&'a mut Profile> {
        let e = &cx.login.event;
        let is_login = e.event_type == EventType::Login;
        let zone = e.claimed_timezone.as_deref().map_or(0, tz::zone_id);
        let brings = is_login && (e.claimed_country.is_some() || zone != 0);
        if !brings && cx.state.get::<Profile>().is_none() {
            return None;
        }
        let p = cx.state.get_or_default::<Profile>();
        if is_login {
            p.claim(e.claimed_country, zone);
            if let Some(lang) = e.accept_language.as_deref() {
                p.language = p.language.saturating_add(1).min(CAP);
                p.korean = (p.korean + u16::from(prefers_korean(lang))).min(p.language);
            }
            let loc = cx.login.location.as_ref();
            let country = loc.and_then(|l| l.country);
            if let Some(c) = country.filter(|_| !cx.login.net.anon.any()) {
                p.observe_country(c);
            }
        }
        let hour = u32::try_from(e.timestamp.0.div_euclid(3_600_000)).unwrap_or(0);
        if hour != p.last_hour {
            if let Some(h) = tz::local_hour(p.zone, e.timestamp.0) {
                p.observe_hour(h);
                p.last_hour = hour;
            }
        }
        Some(p)
    }
}

impl Detector for LocationMismatch {
    fn kind(&self) -> AlertKind {
        AlertKind::LocationMismatch
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        if !cx.is_untrusted_action() {
            return;
        }
        let account = cx.account;
        let login = cx.login;
        let Some(p) = self.update(cx) else { return };
        let now = self.reasons(p);
        if now & !p.reported == 0 {
            return;
        }
        p.reported |= now;
        let p = p.clone();
        out.push(finding(account, login, &p, now));
    }
}

fn reasons(r: u8) -> Vec<MismatchReason> {
    [
        (COUNTRY, MismatchReason::Country),
        (LANGUAGE, MismatchReason::KoreanLanguage),
        (NIGHT, MismatchReason::NightHours),
    ]
    .into_iter()
    .filter_map(|(bit, reason)| (r & bit != 0).then_some(reason))
    .collect()
}

fn country_shares(p: &Profile) -> CountryShares {
    let total = f64::from(p.located.max(1));
    let home = p.claimed.map(|c| {
        let n = p.located.saturating_sub(p.outside);
        (c, round1(100.0 * f64::from(n) / total))
    });
    let others = p
        .others()
        .map(|(c, n)| (c, round1(100.0 * f64::from(n) / total)));
    CountryShares::new(home.into_iter().chain(others).collect())
}

fn sentence(account: &str, p: &Profile, r: u8, claimed: &str) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(192);
    // Writing to a `String` cannot fail.
    let _ = write!(s, "{account} claims {claimed}, but ");
    let mut sep = "";
    if r & COUNTRY != 0 {
        let pct = 100.0 * f64::from(p.outside) / f64::from(p.located.max(1));
        let _ = write!(
            s,
            "{pct:.0} % of its {} located logins came from outside {claimed}",
            p.located
        );
        sep = "; ";
    }
    if r & LANGUAGE != 0 {
        let _ = write!(
            s,
            "{sep}{} of {} logins prefer Korean",
            p.korean, p.language
        );
        sep = "; ";
    }
    if r & NIGHT != 0 {
        let zone = tz::zone_name(p.zone).unwrap_or("?");
        let pct = 100.0 * f64::from(p.night()) / f64::from(p.active().max(1));
        let _ = write!(
            s,
            "{sep}{pct:.0} % of its {} active hours fall between 00:00 and 06:00 {zone}",
            p.active()
        );
    }
    s
}

pub(crate) fn finding(account: &str, login: &loginwatch_geo::Login, p: &Profile, r: u8) -> Finding {
    let record = Record::from_login(login);
    let claimed = p.claimed.as_ref().map_or("?", CountryCode::as_str);
    let rules = r.count_ones();
    let base = if r == LANGUAGE {
        Severity::Low
    } else {
        Severity::Medium
    };
    let severity = if rules >= 2 { base.raised() } else { base };
    let evidence = evidence::LocationMismatch {
        accept_language: login.event.accept_language.clone(),
        active_hours: p.active(),
        claimed_country: p.claimed,
        claimed_timezone: tz::zone_name(p.zone).map(Cow::Borrowed),
        country_share_pct: country_shares(p),
        hours_local: p.hours.get(),
        korean_first_logins: p.korean,
        language_logins: p.language,
        located_logins: p.located,
        login: record.evidence(),
        night_share: round1(100.0 * f64::from(p.night()) / f64::from(p.active().max(1))) / 100.0,
        outside_share: round1(100.0 * f64::from(p.outside) / f64::from(p.located.max(1))) / 100.0,
        reasons: reasons(r),
    };
    let mut keys: Vec<u32> = vec![u32::from(r) << 16];
    keys.extend(p.others().map(|(c, _)| country_key(c)));
    Finding {
        kind: AlertKind::LocationMismatch,
        severity,
        time: record.time,
        summary: sentence(account, p, r, claimed),
        event_ids: vec![record.event_id.to_text()],
        evidence: evidence.into(),
        escalation: Escalation {
            magnitude: rules as f32,
            ratio: 1.0,
            keys,
        },
    }
}

#[cfg(test)]
mod tests;
