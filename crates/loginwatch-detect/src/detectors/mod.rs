//! The detectors, and [`build`]: the one place they are registered.

pub(crate) mod anonymized;
pub(crate) mod concurrent;
pub(crate) mod location;
pub(crate) mod long_session;
pub(crate) mod sanctioned;
pub(crate) mod session;
pub(crate) mod shared_ip;
pub(crate) mod travel;

use crate::config::EngineConfig;
use crate::detector::Detector;
use std::fmt;

/// The enabled detectors, in the order they run for each login.
pub(crate) fn build(cfg: &EngineConfig) -> Vec<Box<dyn Detector>> {
    let d = &cfg.detect;
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    if d.impossible_travel.enabled {
        out.push(Box::new(travel::ImpossibleTravel::new(
            &d.impossible_travel,
        )));
    }
    if d.concurrent_ips.enabled {
        out.push(Box::new(concurrent::ConcurrentIps::new(&d.concurrent_ips)));
    }
    if d.anonymized_ip.enabled {
        out.push(Box::new(anonymized::AnonymizedIp {
            alert_on_first: d.anonymized_ip.alert_on_first,
        }));
    }
    if d.sanctioned_region.enabled {
        out.push(Box::new(sanctioned::SanctionedRegion));
    }
    if d.shared_ip.enabled {
        out.push(Box::new(shared_ip::SharedIp::new(&d.shared_ip)));
    }
    if d.location_mismatch.enabled {
        out.push(Box::new(location::LocationMismatch::new(
            &d.location_mismatch,
        )));
    }
    if d.session_hijack.enabled {
        out.push(Box::new(session::SessionHijack::new(&d.session_hijack)));
    }
    if d.long_session.enabled {
        out.push(Box::new(long_session::LongSession::new(&d.long_session)));
    }
    out
}

/// Human numbers for summaries: three significant digits with thousands separators
/// (`11523.4` → `"11,500"`, `57.61` → `"57.6"`), written where the summary is formatted.
pub(crate) fn human(x: f64) -> Human {
    Human(x)
}

/// [`human`]'s number.
pub(crate) struct Human(f64);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if !x.is_finite() {
            return f.write_str("∞");
        }
        if x.abs() < 100.0 {
            let s = format!("{:.1}", x);
            return f.write_str(s.strip_suffix(".0").unwrap_or(&s));
        }
        let digits = x.abs().log10().floor() as i32;
        let unit = 10f64.powi(digits - 2);
        let rounded = ((x / unit).round() * unit) as i64;
        if rounded < 0 {
            f.write_str("-")?;
        }
        grouped(f, rounded.unsigned_abs())
    }
}

/// `n` with a thousands separator: `15300` → `15,300`.
fn grouped(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    if n < 1000 {
        return write!(f, "{n}");
    }
    grouped(f, n / 1000)?;
    write!(f, ",{:03}", n % 1000)
}

/// Items for summaries, comma-separated: `KR, CN`.
pub(crate) struct Listed<'a, T>(pub &'a [T]);

impl<T: fmt::Display> fmt::Display for Listed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, x) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            x.fmt(f)?;
        }
        Ok(())
    }
}

/// A duration for summaries: `"45 s"`, `"12 min"`, `"3 h 5 min"`, `"2 d 4 h"`.
pub(crate) fn human_ms(ms: i64) -> HumanMs {
    HumanMs(ms)
}

/// [`human_ms`]'s duration.
pub(crate) struct HumanMs(i64);

impl fmt::Display for HumanMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0 / 1000;
        match s {
            _ if s < 60 => write!(f, "{s} s"),
            _ if s < 3600 => write!(f, "{} min", s / 60),
            _ if s < 86_400 => write!(f, "{} h {} min", s / 3600, s % 3600 / 60),
            _ => write!(f, "{} d {} h", s / 86_400, s % 86_400 / 3600),
        }
    }
}

/// Rounds to one decimal for evidence numbers.
pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers() {
        assert_eq!(human(11_523.4).to_string(), "11,500");
        assert_eq!(human(57_615.0).to_string(), "57,600");
        assert_eq!(human(999.6).to_string(), "1,000");
        assert_eq!(human(57.61).to_string(), "57.6");
        assert_eq!(human(5.0).to_string(), "5");
        assert_eq!(human(f64::INFINITY).to_string(), "∞");
        assert_eq!(human_ms(720_000).to_string(), "12 min");
        assert_eq!(human_ms(11_100_000).to_string(), "3 h 5 min");
        assert_eq!(human_ms(5_000).to_string(), "5 s");
        assert_eq!(human(-12_345.0).to_string(), "-12,300");
        assert_eq!(human(123_456_789.0).to_string(), "123,000,000");
        assert_eq!(human(100.0).to_string(), "100");
    }
}
