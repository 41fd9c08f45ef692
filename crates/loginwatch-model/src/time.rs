//! Event time: RFC 3339 strings or epoch milliseconds in, RFC 3339 UTC out.
//!
//! Hand-written because the hot path parses one timestamp per event and needs nothing but
//! "instant in milliseconds": no time zones, no calendars beyond the proleptic Gregorian one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Milliseconds since the Unix epoch, UTC. Serialized as RFC 3339 (`2026-11-24T10:05:00Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventTime(pub i64);

/// Earliest accepted instant: 1970-01-01T00:00:00Z.
pub const MIN_MS: i64 = 0;
/// Latest accepted instant: 9999-12-31T23:59:59.999Z.
pub const MAX_MS: i64 = 253_402_300_799_999;

impl EventTime {
    /// Epoch milliseconds.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 (`T` or space separator, optional fraction, `Z` or `±HH:MM`).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        parse_rfc3339(s.as_bytes()).map(EventTime)
    }

    /// Accepts epoch milliseconds in the supported range.
    pub fn from_millis(ms: i64) -> Option<Self> {
        (MIN_MS..=MAX_MS).contains(&ms).then_some(EventTime(ms))
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1–12, day) of a day count from 1970-01-01 (inverse of
/// [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_rfc3339(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = i64::from(digits(&b[0..4])?);
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let (hour, min, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // A leap second (:60) is read as the last millisecond-aligned instant of that minute.
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0u32;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let frac = &tail[..n];
        let take = frac.len().min(3);
        millis = digits(&frac[..take])? * 10u32.pow(3 - take as u32);
        rest = &tail[n..];
    }
    let offset_min: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = i64::from(digits(&[*h1, *h2])?);
            let m = i64::from(digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let v = h * 60 + m;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let sec = sec.min(59);
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec) - offset_min * 60;
    let ms = secs * 1000 + i64::from(millis);
    (MIN_MS..=MAX_MS).contains(&ms).then_some(ms)
}

/// The two-digit texts `00` to `99`, one after another.
pub(crate) const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// An instant's RFC 3339 text, written without the formatting machinery (every alert
/// carries several).
pub(crate) struct Rfc3339 {
    buf: [u8; 24],
    len: usize,
}

impl Rfc3339 {
    /// The text of `t`, or `None` for a year outside 0–9999 (left to `write!`).
    pub(crate) fn of(t: EventTime) -> Option<Rfc3339> {
        let days = t.0.div_euclid(86_400_000);
        let in_day = t.0.rem_euclid(86_400_000) as u32;
        let (y, m, d) = civil_from_days(days);
        let y = u32::try_from(y).ok().filter(|y| *y <= 9999)?;
        let (h, rem) = (in_day / 3_600_000, in_day % 3_600_000);
        let (mi, rem) = (rem / 60_000, rem % 60_000);
        let (s, ms) = (rem / 1000, rem % 1000);
        let mut buf = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, n: u32| {
            let i = 2 * n as usize;
            buf[at..at + 2].copy_from_slice(&PAIRS[i..i + 2]);
        };
        put(0, y / 100);
        put(2, y % 100);
        put(5, m);
        put(8, d);
        put(11, h);
        put(14, mi);
        put(17, s);
        let len = if ms == 0 {
            buf[19] = b'Z';
            20
        } else {
            put(21, ms % 100);
            buf[20] = b'0' + (ms / 100) as u8;
            24
        };
        Some(Rfc3339 { buf, len })
    }

    /// The text's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_str(&self) -> &str {
        // ASCII digits and separators only.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Display for EventTime {
    /// `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` when the milliseconds are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = Rfc3339::of(*self) {
            return f.write_str(text.as_str());
        }
        let days = self.0.div_euclid(86_400_000);
        let in_day = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, rem) = (in_day / 3_600_000, in_day % 3_600_000);
        let (mi, rem) = (rem / 60_000, rem % 60_000);
        let (s, ms) = (rem / 1000, rem % 1000);
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match Rfc3339::of(*self) {
            Some(text) => s.serialize_str(text.as_str()),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = EventTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp or epoch milliseconds")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EventTime, E> {
                EventTime::parse_rfc3339(v).ok_or_else(|| E::custom("bad RFC 3339 timestamp"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<EventTime, E> {
                EventTime::from_millis(v)
                    .ok_or_else(|| E::custom("epoch milliseconds out of range"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<EventTime, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_forms() {
        let t = |s| EventTime::parse_rfc3339(s).map(|t| t.0);
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2026-11-24T10:05:00Z"), Some(1_795_514_700_000));
        assert_eq!(t("2026-11-24T10:05:00.120Z"), Some(1_795_514_700_120));
        assert_eq!(t("2026-11-24T10:05:00.1Z"), Some(1_795_514_700_100));
        assert_eq!(t("2026-11-24T10:05:00.123456789Z"), Some(1_795_514_700_123));
        assert_eq!(t("2026-11-24T19:05:00+09:00"), Some(1_795_514_700_000));
        assert_eq!(t("2026-11-24 05:05:00-05:00"), Some(1_795_514_700_000));
        assert_eq!(t("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2026-11-24",
            "2026-11-24T10:05:00",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T10:05:00.Z",
            "2026-11-24T10:05:00+9:00",
            "1969-12-31T23:59:59Z",
            "2026-11-24T10:05:00Zjunk",
            "abcd-11-24T10:05:00Z",
        ] {
            assert!(EventTime::parse_rfc3339(s).is_none(), "{s}");
        }
    }

    /// The `write!` form [`Rfc3339`] stands in for.
    fn formatted(t: EventTime) -> String {
        let days = t.0.div_euclid(86_400_000);
        let in_day = t.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, rem) = (in_day / 3_600_000, in_day % 3_600_000);
        let (mi, rem) = (rem / 60_000, rem % 60_000);
        let (s, ms) = (rem / 1000, rem % 1000);
        let mut out = format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
        if ms != 0 {
            out.push_str(&format!(".{ms:03}"));
        }
        out + "Z"
    }

    #[test]
    fn outside_years_0_to_9999_written_as_before() {
        for ms in [-1, -86_400_001, MAX_MS + 1, i64::MAX / 2, i64::MIN / 2] {
            assert_eq!(EventTime(ms).to_string(), formatted(EventTime(ms)));
            let json = serde_json::to_string(&EventTime(ms)).unwrap();
            assert_eq!(json, format!("\"{}\"", formatted(EventTime(ms))));
        }
    }

    proptest! {
        #[test]
        fn fast_text_is_the_formatted_one(ms in -62_167_219_200_000i64..=MAX_MS + 86_400_000) {
            let t = EventTime(ms);
            prop_assert_eq!(t.to_string(), formatted(t));
            let json = serde_json::to_string(&t).unwrap();
            prop_assert_eq!(json, format!("\"{}\"", formatted(t)));
        }

        #[test]
        fn display_round_trips(ms in MIN_MS..=MAX_MS) {
            let text = EventTime(ms).to_string();
            prop_assert_eq!(EventTime::parse_rfc3339(&text), Some(EventTime(ms)));
        }
    }
}
