//! The per-account risk score: the signals an account raised over `[detect.account_risk]
//! horizon` (default 7 days) combined into 0–100, carried on every alert as `risk_score`,
//! with an `account_risk` alert when it reaches `threshold` (default 70).
//!
//! # The rule (fixed, not learned)
//! Each kind counts once, by the worst severity it reached within the horizon and the age of
//! its newest signal (findings withheld by the cooldown count too):
//!
//! `score = min(100, round(Σ_kind weight(kind) × factor(severity) × (1 − age / (2 × horizon))))`
//!
//! | kind | weight | | severity | factor |
//! |---|---|---|---|---|
//! | sanctioned_region | 60 | | low | 0.5 |
//! | shared_ip, location_mismatch, session_hijack | 30 | | medium | 1.0 |
//! | impossible_travel, concurrent_ips, long_session | 20 | | high | 1.5 |
//! | anonymized_ip | 15 | | critical | 2.0 |
//!
//! So a signal counts fully when fresh and half at the horizon's end, then not at all; one
//! kind alone reaches 70 only from a high sanctioned region (90); independent red flags add
//! up (a high location mismatch 45 + a medium laptop farm 30 = 75). The `account_risk` alert
//! fires once when the score reaches the threshold and re-arms when it falls below.
//!
//! Memory: 80 bytes boxed, only for accounts that raised a signal.

use loginwatch_model::{AlertKind, Severity};
use loginwatch_storage::HeapSize;
use serde::{Deserialize, Serialize};

const KINDS: usize = 8;

/// Points of a kind at medium severity.
pub(crate) fn weight(kind: AlertKind) -> f64 {
    match kind {
        AlertKind::SanctionedRegion => 60.0,
        AlertKind::SharedIp | AlertKind::LocationMismatch | AlertKind::SessionHijack => 30.0,
        AlertKind::ImpossibleTravel | AlertKind::ConcurrentIps | AlertKind::LongSession => 20.0,
        AlertKind::AnonymizedIp => 15.0,
        AlertKind::AccountRisk => 0.0,
    }
}

/// Multiplier of a severity.
pub(crate) fn factor(s: Severity) -> f64 {
    match s {
        Severity::Low => 0.5,
        Severity::Medium => 1.0,
        Severity::High => 1.5,
        Severity::Critical => 2.0,
    }
}

fn sev_code(s: Severity) -> u8 {
    s as u8 + 1
}

fn sev_of(code: u8) -> Severity {
    match code {
        0 | 1 => Severity::Low,
        2 => Severity::Medium,
        3 => Severity::High,
        _ => Severity::Critical,
    }
}

fn slot(kind: AlertKind) -> Option<usize> {
    AlertKind::ALL[..KINDS].iter().position(|k| *k == kind)
}

/// What an account's signals look like within the horizon.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RiskMemory {
    last: [i64; KINDS],
    /// 0 = none, else severity + 1.
    worst: [u8; KINDS],
    /// The score was at or above the threshold when last computed.
    pub above: bool,
    /// The score when last computed.
    pub score: u8,
}

impl HeapSize for RiskMemory {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl RiskMemory {
    /// Remembers a signal of `kind` at `time`.
    pub(crate) fn note(&mut self, kind: AlertKind, sev: Severity, time: i64, horizon_ms: i64) {
        let Some(i) = slot(kind) else { return };
        let stale = self.worst[i] == 0 || time.saturating_sub(self.last[i]) > horizon_ms;
        self.worst[i] = if stale {
            sev_code(sev)
        } else {
            self.worst[i].max(sev_code(sev))
        };
        self.last[i] = if stale { time } else { self.last[i].max(time) };
    }

    /// Each contributing kind: (kind, worst severity, newest signal, points).
    pub(crate) fn contributions(
        &self,
        now: i64,
        horizon_ms: i64,
    ) -> Vec<(AlertKind, Severity, i64, f64)> {
        let h = horizon_ms.max(1) as f64;
        (0..KINDS)
            .filter(|&i| self.worst[i] != 0)
            .filter_map(|i| {
                let age = now.saturating_sub(self.last[i]).max(0);
                let (kind, sev) = (AlertKind::ALL[i], sev_of(self.worst[i]));
                (age <= horizon_ms).then(|| {
                    let points = weight(kind) * factor(sev) * (1.0 - age as f64 / (2.0 * h));
                    (kind, sev, self.last[i], points)
                })
            })
            .collect()
    }

    /// The score at `now` (also stored in `score`).
    pub(crate) fn update_score(&mut self, now: i64, horizon_ms: i64) -> u8 {
        let h = horizon_ms.max(1) as f64;
        let mut sum = 0.0;
        for i in (0..KINDS).filter(|&i| self.worst[i] != 0) {
            let age = now.saturating_sub(self.last[i]).max(0);
            if age <= horizon_ms {
                let kind = AlertKind::ALL[i];
                sum +=
                    weight(kind) * factor(sev_of(self.worst[i])) * (1.0 - age as f64 / (2.0 * h));
            }
        }
        self.score = sum.round().clamp(0.0, 100.0) as u8;
        self.score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 7 * 86_400_000;

    #[test]
    fn combination_rule_table() {
        use AlertKind::*;
        use Severity::*;
        // (signals as (kind, severity, time in days), score at day `now`)
        type Signals<'a> = &'a [(AlertKind, Severity, i64)];
        let table: &[(Signals, i64, u8)] = &[
            (&[], 0, 0),
            (&[(AnonymizedIp, Low, 0)], 0, 8),
            (&[(LocationMismatch, High, 0), (SharedIp, Medium, 0)], 0, 75),
            (&[(SanctionedRegion, High, 0)], 0, 90),
            (&[(SanctionedRegion, High, 0)], 7, 45), // half at the horizon's end
            (&[(SanctionedRegion, High, 0)], 8, 0),  // gone after it
            (
                &[(ImpossibleTravel, Low, 0), (ImpossibleTravel, High, 1)],
                1,
                30,
            ), // worst counts once
            (
                &[
                    (SanctionedRegion, Critical, 0),
                    (SessionHijack, Critical, 0),
                    (SharedIp, Critical, 0),
                ],
                0,
                100, // capped
            ),
        ];
        for (signals, now, want) in table {
            let mut m = RiskMemory::default();
            for &(k, s, d) in *signals {
                m.note(k, s, d * 86_400_000, H);
            }
            assert_eq!(
                m.update_score(now * 86_400_000, H),
                *want,
                "{signals:?} at {now}"
            );
        }
    }

    #[test]
    fn a_stale_signal_restarts_and_account_risk_is_not_scored() {
        let mut m = RiskMemory::default();
        m.note(AlertKind::SharedIp, Severity::Critical, 0, H);
        m.note(AlertKind::SharedIp, Severity::Low, 8 * 86_400_000, H);
        m.note(
            AlertKind::AccountRisk,
            Severity::Critical,
            8 * 86_400_000,
            H,
        );
        assert_eq!(m.update_score(8 * 86_400_000, H), 15);
        assert_eq!(m.contributions(8 * 86_400_000, H).len(), 1);
    }
}
