//! `loginwatch score`: precision and recall of alerts against labelled accounts, per kind —
//! how we check detectors on generated (or your own labelled) streams.
//!
//! An account counts as found for a kind when it has at least one alert of that kind; the
//! labels give at most one kind per planted account. Unlabelled accounts with an alert of a
//! kind are false positives for that kind. `account_risk` is a summary kind and not scored.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, BufRead};

/// One label line: `{"account_id": "...", "kind": "..."}` (other fields ignored).
#[derive(Debug, Deserialize)]
pub struct LabelLine {
    pub account_id: String,
    pub kind: String,
}

/// One alert line, as far as scoring needs it.
#[derive(Debug, Deserialize)]
pub struct AlertLine {
    pub account_id: String,
    pub kind: String,
}

/// Counts for one kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KindScore {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl KindScore {
    /// TP / (TP + FP); 1 when nothing was flagged.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// TP / (TP + FN); 1 when nothing was planted.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores per kind, for every kind that was planted or alerted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scores(pub BTreeMap<String, KindScore>);

/// Compares the accounts flagged per kind with the labelled ones.
pub fn score(labels: &[LabelLine], alerts: &[AlertLine]) -> Scores {
    let mut planted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for l in labels {
        planted.entry(&l.kind).or_default().insert(&l.account_id);
    }
    let mut flagged: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.kind != "account_risk") {
        flagged.entry(&a.kind).or_default().insert(&a.account_id);
    }
    let kinds: BTreeSet<&str> = planted.keys().chain(flagged.keys()).copied().collect();
    let empty = BTreeSet::new();
    let scores = kinds
        .into_iter()
        .map(|kind| {
            let p = planted.get(kind).unwrap_or(&empty);
            let f = flagged.get(kind).unwrap_or(&empty);
            let s = KindScore {
                true_positives: p.intersection(f).count(),
                false_positives: f.difference(p).count(),
                false_negatives: p.difference(f).count(),
            };
            (kind.to_owned(), s)
        })
        .collect();
    Scores(scores)
}

/// Why a JSON-lines file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A line that is not the JSON object expected.
    #[error("line {line}")]
    Line {
        line: usize,
        source: serde_json::Error,
    },
}

/// Reads JSON lines of `T`, skipping blank lines; errors name the line.
pub fn read_jsonl<T: for<'de> Deserialize<'de>>(
    input: &mut dyn BufRead,
) -> Result<Vec<T>, ReadError> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(&line).map_err(|source| ReadError::Line {
            line: i + 1,
            source,
        })?;
        out.push(item);
    }
    Ok(out)
}

impl fmt::Display for Scores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:>6} {:>6} {:>6} {:>9} {:>7}",
            "kind", "TP", "FP", "FN", "precision", "recall"
        )?;
        for (kind, s) in &self.0 {
            writeln!(
                f,
                "{:<20} {:>6} {:>6} {:>6} {:>9.3} {:>7.3}",
                kind,
                s.true_positives,
                s.false_positives,
                s.false_negatives,
                s.precision(),
                s.recall()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(a: &str, k: &str) -> LabelLine {
        LabelLine {
            account_id: a.into(),
            kind: k.into(),
        }
    }
    fn al(a: &str, k: &str) -> AlertLine {
        AlertLine {
            account_id: a.into(),
            kind: k.into(),
        }
    }

    #[test]
    fn counts_per_kind_by_account() {
        let labels = [
            l("a", "impossible_travel"),
            l("b", "impossible_travel"),
            l("c", "shared_ip"),
        ];
        let alerts = [
            al("a", "impossible_travel"),
            al("a", "impossible_travel"),
            al("x", "impossible_travel"),
            al("c", "account_risk"),
        ];
        let s = score(&labels, &alerts);
        let it = s.0["impossible_travel"];
        assert_eq!(
            (it.true_positives, it.false_positives, it.false_negatives),
            (1, 1, 1)
        );
        assert_eq!(it.precision(), 0.5);
        assert_eq!(s.0["shared_ip"].recall(), 0.0);
        assert!(!s.0.contains_key("account_risk"));
    }
}
