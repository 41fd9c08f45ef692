//! Suppression: the same (account, kind) does not alert again within the cooldown unless the
//! new finding is worse. Each finding carries an [`Escalation`]:
//!
//! | kind | magnitude (worse when it grows by the ratio) | keys (worse when one is new) |
//! |---|---|---|
//! | impossible_travel | speed, ratio 1.25 (a hop at least 25 % faster) | both countries |
//! | concurrent_ips | distinct IPs, ratio 1 (one more IP) | the countries in the window |
//! | anonymized_ip | distinct anonymizer ASNs, ratio 1 | the anonymizer ASN |
//! | sanctioned_region | — | the sanctioned country |
//! | shared_ip | accounts on the network, ratio 2 (twice as many) | the network |
//! | location_mismatch | rules that hold, ratio 1 | the rules and the countries seen |
//! | session_hijack | reasons, ratio 1 | the session and its reasons |
//! | long_session | — | the UTC day and the run |
//!
//! The later detectors also remember what they alerted (each member once per network, each
//! rule once per claim, each reason once per session, each run and day once), so the cooldown
//! is a second guard for them.
//!
//! A re-alert restarts the cooldown and merges its keys into the entry. The state is at most
//! one 40-byte entry per kind per account ([`Cooldowns`], a part of the account's state),
//! and expired entries are dropped when the account next alerts.

use loginwatch_model::{AlertKind, CountryCode, EventTime};
use loginwatch_storage::HeapSize;
use serde::{Deserialize, Serialize};

/// How bad a finding is, for "did it get worse?".
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Escalation {
    pub magnitude: f32,
    /// The magnitude must exceed the remembered one times this to count as worse.
    pub ratio: f32,
    /// Novelty keys (countries, ASNs): any unseen one counts as worse.
    pub keys: Vec<u32>,
}

/// A country as a novelty key.
pub(crate) fn country_key(c: CountryCode) -> u32 {
    let b = c.as_str().as_bytes();
    match b {
        [x, y] => u32::from(*x) << 8 | u32::from(*y),
        _ => 0,
    }
}

const MAX_KEYS: usize = 6;

/// An account's cooldown entries: at most one per kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Cooldowns(pub Vec<Suppression>);

impl Cooldowns {
    /// Why saved entries cannot be used, if they cannot.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let ok = self.0.iter().all(|s| usize::from(s.nkeys) <= MAX_KEYS);
        ok.then_some(())
            .ok_or("a cooldown entry holds more keys than it can")
    }
}

impl HeapSize for Cooldowns {
    fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<Suppression>()
    }
}

/// The remembered last alert of one kind for one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Suppression {
    kind: AlertKind,
    nkeys: u8,
    magnitude: f32,
    #[serde(with = "crate::snapshot::millis")]
    last: EventTime,
    keys: [u32; MAX_KEYS],
}

impl Suppression {
    /// An entry claiming `nkeys` keys, possible or not (tests of saved state).
    #[cfg(test)]
    pub(crate) fn with_keys(nkeys: u8) -> Self {
        Suppression {
            kind: AlertKind::ImpossibleTravel,
            nkeys,
            magnitude: 0.0,
            last: EventTime(0),
            keys: [0; MAX_KEYS],
        }
    }

    fn new(kind: AlertKind, time: EventTime, esc: &Escalation) -> Self {
        let mut s = Suppression {
            kind,
            nkeys: 0,
            magnitude: esc.magnitude,
            last: time,
            keys: [0; MAX_KEYS],
        };
        s.merge_keys(&esc.keys);
        s
    }

    fn keys(&self) -> &[u32] {
        &self.keys[..usize::from(self.nkeys)]
    }

    /// Adds unseen keys; when full, the oldest make room.
    fn merge_keys(&mut self, keys: &[u32]) {
        for &k in keys {
            if self.keys().contains(&k) {
                continue;
            }
            if usize::from(self.nkeys) == MAX_KEYS {
                self.keys.rotate_left(1);
                self.nkeys -= 1;
            }
            self.keys[usize::from(self.nkeys)] = k;
            self.nkeys += 1;
        }
    }

    fn is_worse(&self, esc: &Escalation) -> bool {
        esc.keys.iter().any(|k| !self.keys().contains(k))
            || esc.magnitude > self.magnitude * esc.ratio.max(1.0)
    }
}

/// Decides whether a finding of `kind` at `time` alerts (true) or is suppressed (false),
/// updating the remembered state either way.
pub(crate) fn admit(
    entries: &mut Vec<Suppression>,
    kind: AlertKind,
    time: EventTime,
    esc: &Escalation,
    cooldown_ms: i64,
) -> bool {
    let active = |s: &Suppression| time.0.abs_diff(s.last.0) < cooldown_ms.unsigned_abs();
    entries.retain(|s| s.kind == kind || active(s));
    let Some(pos) = entries.iter().position(|s| s.kind == kind) else {
        entries.push(Suppression::new(kind, time, esc));
        return true;
    };
    let entry = &mut entries[pos];
    if !active(entry) {
        *entry = Suppression::new(kind, time, esc);
        return true;
    }
    if !entry.is_worse(esc) {
        return false;
    }
    entry.last = entry.last.max(time);
    entry.magnitude = entry.magnitude.max(esc.magnitude);
    entry.merge_keys(&esc.keys);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn esc(magnitude: f32, ratio: f32, keys: &[u32]) -> Escalation {
        Escalation {
            magnitude,
            ratio,
            keys: keys.to_vec(),
        }
    }

    #[test]
    fn cooldown_new_key_and_growth() {
        let k = AlertKind::ImpossibleTravel;
        let mut e = Vec::new();
        let t = |m: i64| EventTime(m * 60_000);
        // (minute, magnitude, keys, admitted)
        let table: &[(i64, f32, &[u32], bool)] = &[
            (0, 1000.0, &[1, 2], true),
            (10, 1100.0, &[2, 1], false), // not 25 % faster, same countries
            (20, 1300.0, &[1], true),     // 30 % faster than 1000
            (30, 1400.0, &[1], false),    // < 1.25 × 1300
            (40, 1400.0, &[3], true),     // new country
            (99, 1.0, &[1], false),       // cooldown restarted at 40
            (101, 1.0, &[1], true),       // cooldown over
        ];
        for &(m, mag, keys, want) in table {
            assert_eq!(
                admit(&mut e, k, t(m), &esc(mag, 1.25, keys), H),
                want,
                "minute {m}"
            );
        }
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn kinds_are_independent_and_keys_bounded() {
        let mut e = Vec::new();
        let t = EventTime(0);
        assert!(admit(
            &mut e,
            AlertKind::ConcurrentIps,
            t,
            &esc(2.0, 1.0, &[1]),
            H
        ));
        assert!(admit(
            &mut e,
            AlertKind::AnonymizedIp,
            t,
            &esc(1.0, 1.0, &[9]),
            H
        ));
        assert!(admit(
            &mut e,
            AlertKind::ConcurrentIps,
            t,
            &esc(3.0, 1.0, &[1]),
            H
        ));
        assert!(!admit(
            &mut e,
            AlertKind::ConcurrentIps,
            t,
            &esc(3.0, 1.0, &[1]),
            H
        ));
        for k in 10..20 {
            assert!(admit(
                &mut e,
                AlertKind::AnonymizedIp,
                t,
                &esc(1.0, 1.0, &[k]),
                H
            ));
        }
        assert!(e.iter().all(|s| s.keys().len() <= MAX_KEYS));
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn country_keys_differ() {
        let kr = CountryCode::parse("KR").map(country_key);
        let kp = CountryCode::parse("KP").map(country_key);
        assert_ne!(kr, kp);
    }
}
