//! `session_hijack`: one `session_id` used from somewhere else than where it started
//! (advisory red flag R8, stolen session cookies).
//!
//! The first successful login or activity event of a session (from an untrusted network)
//! sets its fingerprint: ASN, country, device (each filled in later if unknown at first). A
//! later event of the same session alerts when
//! - **device**: both carry a `device_id` and they differ (high);
//! - **country**: both are located in different countries and neither came through an
//!   anonymizer (VPN egress flips countries mid-session; that is anonymized_ip's business)
//!   (high; critical together with a device change);
//! - **asn** (only with `alert_on_asn_change = true`): the same country but another ASN, neither
//!   anonymized (medium). Off by default: phones hand sessions over between Wi-Fi and carrier
//!   networks all day.
//!
//! Each reason alerts once per session. Activity events count (a stolen cookie is used, not
//! logged in with). Evidence: the session id, the reasons, the original fingerprint and first
//! time, the new network and device, the event.
//!
//! Memory: at most `max_sessions` (8) fingerprints of 40 bytes (hashes, not ids) per account
//! ([`Sessions`], a part of the account's state), the least recently seen make room; the
//! first is inline, more are on the heap (exact capacity). A fingerprint not seen for `forget_after` (24 h) is dropped
//! at the account's next session event, so an account's memory follows its recent sessions,
//! not its age; a session id seen again after that starts a new fingerprint.

use crate::config::SessionHijackConfig;
use crate::detector::{Ctx, Detector, Finding};
use crate::record::Record;
use loginwatch_geo::Login;
use loginwatch_model::alert::evidence::kinds::{self as evidence, HijackReason};
use loginwatch_model::{AlertKind, CountryCode, Severity};
use loginwatch_storage::{stable_hash, stable_hash32, InlineList};
use serde::{Deserialize, Serialize};

const DEVICE: u8 = 1;
const COUNTRY: u8 = 2;
const ASN: u8 = 4;

/// An account's recent sessions, the first inline (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Sessions(pub InlineList<SessionFp>);

impl loginwatch_storage::HeapSize for Sessions {
    fn heap_bytes(&self) -> usize {
        self.0.heap_slots() * std::mem::size_of::<SessionFp>()
    }
}

/// One session's fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionFp {
    sid: u64,
    first: i64,
    last: i64,
    asn: u32,
    /// Hash of the first `device_id` (0 = none seen).
    device: u32,
    country: Option<CountryCode>,
    anon: bool,
    reported: u8,
}

impl SessionFp {
    /// The fingerprint of `login`, which carries `session`.
    pub(crate) fn of(login: &Login, session: &str) -> SessionFp {
        let t = login.event.timestamp.0;
        SessionFp {
            // Only compared for equality: a collision merges two sessions.
            sid: stable_hash(session.as_bytes()),
            first: t,
            last: t,
            asn: login.net.asn.unwrap_or(0),
            device: device_hash(login.event.device_id.as_deref()),
            country: login.location.as_ref().and_then(|l| l.country),
            anon: login.net.anon.any(),
            reported: 0,
        }
    }
}

/// The stored hash of a `device_id` (0 = none; only compared for equality).
fn device_hash(d: Option<&str>) -> u32 {
    d.map_or(0, |d| stable_hash32(d.as_bytes()))
}

/// The session-hijack detector.
#[derive(Debug)]
pub(crate) struct SessionHijack {
    max_sessions: usize,
    asn_change: bool,
    forget_after_ms: i64,
}

impl SessionHijack {
    pub(crate) fn new(c: &SessionHijackConfig) -> Self {
        SessionHijack {
            max_sessions: c.max_sessions,
            asn_change: c.alert_on_asn_change,
            forget_after_ms: crate::rules::ms(c.forget_after),
        }
    }

    pub(crate) fn reasons(&self, fp: &SessionFp, now: &SessionFp) -> u8 {
        let mut r = 0;
        if fp.device != 0 && now.device != 0 && fp.device != now.device {
            r |= DEVICE;
        }
        let plain = !fp.anon && !now.anon;
        let countries = fp.country.zip(now.country);
        if plain && countries.is_some_and(|(a, b)| a != b) {
            r |= COUNTRY;
        }
        let same_country = countries.is_none_or(|(a, b)| a == b);
        let asns = fp.asn != 0 && now.asn != 0 && fp.asn != now.asn;
        if self.asn_change && plain && same_country && asns {
            r |= ASN;
        }
        r
    }
}

impl Detector for SessionHijack {
    fn kind(&self) -> AlertKind {
        AlertKind::SessionHijack
    }

    fn observe(&self, cx: &mut Ctx<'_>, out: &mut Vec<Finding>) {
        let e = &cx.login.event;
        let Some(session) = e.session_id.as_deref() else {
            return;
        };
        if !cx.is_untrusted_action() {
            return;
        }
        let t = e.timestamp.0;
        let now = SessionFp::of(cx.login, session);
        let list = &mut cx.state.get_or_default::<Sessions>().0;
        let cut = t.saturating_sub(self.forget_after_ms);
        if list.as_slice().iter().any(|f| f.last < cut) {
            list.retain(|f| f.last >= cut);
        }
        let Some(fp) = list.as_mut_slice().iter_mut().find(|f| f.sid == now.sid) else {
            if list.len() >= self.max_sessions {
                let slice = list.as_slice();
                if let Some(i) = (0..slice.len()).min_by_key(|&i| slice[i].last) {
                    list.swap_remove(i);
                }
            }
            // The first inline; then one slot at a time (most accounts see one or two).
            list.insert(list.len(), now, |_| 1);
            return;
        };
        fp.last = fp.last.max(t);
        let r = self.reasons(fp, &now);
        fp.device = if fp.device == 0 {
            now.device
        } else {
            fp.device
        };
        fp.asn = if fp.asn == 0 { now.asn } else { fp.asn };
        fp.country = fp.country.or(now.country);
        let new = r & !fp.reported;
        fp.reported |= r;
        if new != 0 {
            let fp = fp.clone();
            out.push(finding(cx.account, cx.login, session, &fp, &now, r));
        }
    }
}

/// The finding for `login` (whose fingerprint is `now`) in session `session`, first seen as
/// `fp`, for the reasons `r`.
pub(crate) fn finding(
    account: &str,
    login: &Login,
    session: &str,
    fp: &SessionFp,
    now: &SessionFp,
    r: u8,
) -> Finding {
    let record = Record::from_login(login);
    let reasons: Vec<HijackReason> = [
        (DEVICE, HijackReason::Device),
        (COUNTRY, HijackReason::Country),
        (ASN, HijackReason::Asn),
    ]
    .into_iter()
    .filter_map(|(b, n)| (r & b != 0).then_some(n))
    .collect();
    let severity = match r {
        _ if r & DEVICE != 0 && r & COUNTRY != 0 => Severity::Critical,
        _ if r & (DEVICE | COUNTRY) != 0 => Severity::High,
        _ => Severity::Medium,
    };
    let place =
        |c: Option<CountryCode>| c.map_or("an unknown country".to_owned(), |c| c.to_string());
    let summary = format!(
        "{}'s session {session} started in {} and was used from {} ({}, {})",
        account,
        place(fp.country),
        place(now.country),
        record.ip,
        if r & DEVICE != 0 {
            "another device"
        } else {
            "same device"
        }
    );
    let fingerprint = |f: &SessionFp| evidence::SessionFingerprint {
        anonymized: f.anon,
        asn: (f.asn != 0).then_some(f.asn),
        country: f.country,
        device_fp: (f.device != 0).then_some(evidence::DeviceFp(f.device)),
    };
    Finding {
        kind: AlertKind::SessionHijack,
        severity,
        time: record.time,
        summary,
        event_ids: vec![record.event_id.to_text()],
        evidence: evidence::SessionHijack {
            device_id: login.event.device_id.clone(),
            login: record.evidence(),
            now: fingerprint(now),
            original: fingerprint(fp),
            reasons,
            session_first_seen: loginwatch_model::EventTime(fp.first),
            session_id: session.to_owned(),
        }
        .into(),
        escalation: crate::suppress::Escalation {
            magnitude: r.count_ones() as f32,
            ratio: 1.0,
            keys: vec![fp.sid as u32, u32::from(r) << 24],
        },
    }
}

#[cfg(test)]
mod tests;
