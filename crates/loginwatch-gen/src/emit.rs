//! One event as one JSON line (CONTRACT §1), written by hand into a reused buffer: every value
//! is an id, a number or a string from a fixed table, so nothing needs escaping.

use super::account::{Account, Ev, What};
use super::profile::{language, zone, USER_AGENTS};
use super::rng::mix;
use loginwatch_model::EventTime;
use std::io::Write;

/// Per-run keys that make ids differ between seeds while staying unique within a run.
#[derive(Clone, Copy, Debug)]
pub struct Keys {
    pub event: u64,
    pub session: u64,
    pub device: u64,
}

impl Keys {
    /// Keys derived from the seed.
    pub fn new(seed: u64) -> Self {
        Keys {
            event: mix(seed ^ 0x0E7E),
            session: mix(seed ^ 0x5E55),
            device: mix(seed ^ 0xDE71),
        }
    }
}

/// The account id of account `id`: `acct-000123`.
pub fn account_id(id: u32) -> String {
    format!("acct-{id:06}")
}

/// Appends the JSON line of `ev` (newline included) to `buf`. `seq` is the event's sequence
/// number in the run; `lon` the longitude of the account's home (for the claimed zone).
pub fn write_line(
    buf: &mut Vec<u8>,
    keys: Keys,
    seq: u64,
    id: u32,
    a: &Account,
    ev: &Ev,
    lon: f64,
) {
    // `mix` is a bijection, so distinct (sequence, account, session) give distinct ids.
    let event_id = mix(seq ^ keys.event);
    let (kind, outcome) = match ev.what {
        What::Login => ("login", "success"),
        What::Failure => ("login", "failure"),
        What::Activity => ("activity", "success"),
        What::Logout => ("logout", "success"),
    };
    // Writing into a Vec cannot fail.
    let _ = write!(
        buf,
        r#"{{"event_id":"ev-{event_id:016x}","account_id":"acct-{id:06}","timestamp":"{}","ip":"{}","event_type":"{kind}""#,
        EventTime(ev.ts),
        ev.ip,
    );
    if ev.what == What::Failure {
        let _ = write!(buf, r#","outcome":"{outcome}""#);
    }
    if let Some(s) = ev.session {
        let key = mix((u64::from(id) << 24 | u64::from(s)) ^ keys.session);
        let _ = write!(buf, r#","session_id":"s-{key:016x}""#);
    }
    let device = mix((u64::from(id) << 8 | u64::from(ev.device)) ^ keys.device);
    let _ = write!(buf, r#","device_id":"d-{device:016x}""#);
    if matches!(ev.what, What::Login | What::Failure) {
        write_profile(buf, a, ev, lon);
    }
    buf.extend_from_slice(b"}\n");
}

/// The fields a login carries: browser, language and the account's claims.
fn write_profile(buf: &mut Vec<u8>, a: &Account, ev: &Ev, lon: f64) {
    let claim = std::str::from_utf8(&a.claim).unwrap_or("US");
    let lang = if a.lang_ko {
        "ko-KR,ko;q=0.9,en-US;q=0.8"
    } else {
        language(claim)
    };
    let (tz, _) = zone(claim, lon);
    let ua = USER_AGENTS[usize::from(ev.ua) % USER_AGENTS.len()];
    let _ = write!(
        buf,
        r#","user_agent":"{ua}","accept_language":"{lang}","claimed_country":"{claim}","claimed_timezone":"{tz}""#
    );
}
