//! Local hours for `claimed_timezone`: a small table of common IANA zones with their standard
//! UTC offset and daylight-saving rule (US/Canada, EU/UK, south-east Australia, New Zealand),
//! instead of a full tz database. The working-hours rule only asks "is it 00–06 there?", so an
//! hour off on a transition day, or a zone's rule changed by law, does not matter; a zone
//! missing from the table disables the rule for that account (it never guesses). `Etc/GMT±N`
//! and `UTC` are understood too. Add zones to [`ZONES`] as users claim them.

use loginwatch_model::time::{civil_from_days, days_from_civil};

/// Daylight-saving rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dst {
    None,
    /// Second Sunday of March to first Sunday of November, 02:00 local.
    Us,
    /// Last Sunday of March to last Sunday of October, 01:00 UTC.
    Eu,
    /// First Sunday of October to first Sunday of April, 02:00 local (southern).
    Au,
    /// Last Sunday of September to first Sunday of April, 02:00 local (southern).
    Nz,
}

/// (zone, standard offset in minutes east of UTC, rule).
const ZONES: &[(&str, i16, Dst)] = &[
    ("UTC", 0, Dst::None),
    ("Etc/UTC", 0, Dst::None),
    ("Etc/GMT", 0, Dst::None),
    ("America/New_York", -300, Dst::Us),
    ("America/Toronto", -300, Dst::Us),
    ("America/Detroit", -300, Dst::Us),
    ("America/Chicago", -360, Dst::Us),
    ("America/Winnipeg", -360, Dst::Us),
    ("America/Denver", -420, Dst::Us),
    ("America/Phoenix", -420, Dst::None),
    ("America/Los_Angeles", -480, Dst::Us),
    ("America/Vancouver", -480, Dst::Us),
    ("America/Anchorage", -540, Dst::Us),
    ("Pacific/Honolulu", -600, Dst::None),
    ("America/Mexico_City", -360, Dst::None),
    ("America/Bogota", -300, Dst::None),
    ("America/Lima", -300, Dst::None),
    ("America/Sao_Paulo", -180, Dst::None),
    ("America/Argentina/Buenos_Aires", -180, Dst::None),
    ("Europe/London", 0, Dst::Eu),
    ("Europe/Dublin", 0, Dst::Eu),
    ("Europe/Lisbon", 0, Dst::Eu),
    ("Europe/Paris", 60, Dst::Eu),
    ("Europe/Berlin", 60, Dst::Eu),
    ("Europe/Amsterdam", 60, Dst::Eu),
    ("Europe/Brussels", 60, Dst::Eu),
    ("Europe/Madrid", 60, Dst::Eu),
    ("Europe/Rome", 60, Dst::Eu),
    ("Europe/Vienna", 60, Dst::Eu),
    ("Europe/Zurich", 60, Dst::Eu),
    ("Europe/Stockholm", 60, Dst::Eu),
    ("Europe/Oslo", 60, Dst::Eu),
    ("Europe/Copenhagen", 60, Dst::Eu),
    ("Europe/Warsaw", 60, Dst::Eu),
    ("Europe/Prague", 60, Dst::Eu),
    ("Europe/Budapest", 60, Dst::Eu),
    ("Europe/Helsinki", 120, Dst::Eu),
    ("Europe/Kyiv", 120, Dst::Eu),
    ("Europe/Kiev", 120, Dst::Eu),
    ("Europe/Bucharest", 120, Dst::Eu),
    ("Europe/Athens", 120, Dst::Eu),
    ("Europe/Istanbul", 180, Dst::None),
    ("Europe/Moscow", 180, Dst::None),
    ("Africa/Lagos", 60, Dst::None),
    ("Africa/Cairo", 120, Dst::None),
    ("Africa/Johannesburg", 120, Dst::None),
    ("Africa/Nairobi", 180, Dst::None),
    ("Asia/Dubai", 240, Dst::None),
    ("Asia/Karachi", 300, Dst::None),
    ("Asia/Kolkata", 330, Dst::None),
    ("Asia/Calcutta", 330, Dst::None),
    ("Asia/Yekaterinburg", 300, Dst::None),
    ("Asia/Dhaka", 360, Dst::None),
    ("Asia/Novosibirsk", 420, Dst::None),
    ("Asia/Bangkok", 420, Dst::None),
    ("Asia/Vientiane", 420, Dst::None),
    ("Asia/Ho_Chi_Minh", 420, Dst::None),
    ("Asia/Jakarta", 420, Dst::None),
    ("Asia/Shanghai", 480, Dst::None),
    ("Asia/Hong_Kong", 480, Dst::None),
    ("Asia/Taipei", 480, Dst::None),
    ("Asia/Singapore", 480, Dst::None),
    ("Asia/Manila", 480, Dst::None),
    ("Asia/Ulaanbaatar", 480, Dst::None),
    ("Australia/Perth", 480, Dst::None),
    ("Asia/Seoul", 540, Dst::None),
    ("Asia/Pyongyang", 540, Dst::None),
    ("Asia/Tokyo", 540, Dst::None),
    ("Asia/Vladivostok", 600, Dst::None),
    ("Australia/Brisbane", 600, Dst::None),
    ("Australia/Adelaide", 570, Dst::Au),
    ("Australia/Sydney", 600, Dst::Au),
    ("Australia/Melbourne", 600, Dst::Au),
    ("Pacific/Auckland", 720, Dst::Nz),
];

/// A zone from the table (its position + 1; 0 means unknown), for compact per-account memory.
pub(crate) fn zone_id(name: &str) -> u8 {
    if let Some(i) = ZONES.iter().position(|z| z.0 == name) {
        return u8::try_from(i + 1).unwrap_or(0);
    }
    0
}

/// The name of a zone id.
pub(crate) fn zone_name(id: u8) -> Option<&'static str> {
    ZONES.get(usize::from(id).checked_sub(1)?).map(|z| z.0)
}

/// The local hour (0–23) at `t_ms` in zone `id`; `None` for an unknown zone.
pub(crate) fn local_hour(id: u8, t_ms: i64) -> Option<u8> {
    let &(_, std, dst) = ZONES.get(usize::from(id).checked_sub(1)?)?;
    let std_ms = i64::from(std) * 60_000;
    let shift = if in_dst(dst, t_ms, std_ms) {
        3_600_000
    } else {
        0
    };
    let local = t_ms + std_ms + shift;
    Some(local.rem_euclid(86_400_000).div_euclid(3_600_000) as u8)
}

/// The day (days since epoch) of the `n`-th Sunday of a month (n = 0: the last one).
fn sunday(y: i64, m: u32, n: i64) -> i64 {
    // 1970-01-01 was a Thursday: weekday 0 = Sunday is (days + 4) mod 7.
    let sunday_on_or_after = |d: i64| d + (7 - (d + 4).rem_euclid(7)) % 7;
    if n > 0 {
        sunday_on_or_after(days_from_civil(y, m, 1)) + 7 * (n - 1)
    } else {
        let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let last = days_from_civil(next.0, next.1, 1) - 1;
        last - (last + 4).rem_euclid(7)
    }
}

fn in_dst(rule: Dst, t_ms: i64, std_ms: i64) -> bool {
    const DAY: i64 = 86_400_000;
    let (y, _, _) = civil_from_days(t_ms.div_euclid(DAY));
    // Transition instants in UTC: 02:00 local standard time, or 01:00 UTC in the EU.
    let at = |day: i64, local_h: i64| day * DAY + local_h * 3_600_000 - std_ms;
    match rule {
        Dst::None => false,
        Dst::Us => (at(sunday(y, 3, 2), 2)..at(sunday(y, 11, 1), 1)).contains(&t_ms),
        Dst::Eu => {
            let (s, e) = (sunday(y, 3, 0), sunday(y, 10, 0));
            (s * DAY + 3_600_000..e * DAY + 3_600_000).contains(&t_ms)
        }
        Dst::Au => !(at(sunday(y, 4, 1), 2)..at(sunday(y, 10, 1), 2)).contains(&t_ms),
        Dst::Nz => !(at(sunday(y, 4, 1), 2)..at(sunday(y, 9, 0), 2)).contains(&t_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Epoch ms of a UTC date and hour.
    fn utc(y: i64, m: u32, d: u32, h: i64) -> i64 {
        days_from_civil(y, m, d) * 86_400_000 + h * 3_600_000
    }

    #[test]
    fn local_hours_with_and_without_daylight_saving() {
        let id = zone_id;
        // (zone, UTC instant, local hour)
        let table = [
            ("Asia/Seoul", utc(2026, 11, 24, 15), 0),
            ("Asia/Tokyo", utc(2026, 6, 1, 0), 9),
            ("America/New_York", utc(2026, 1, 15, 12), 7), // EST
            ("America/New_York", utc(2026, 7, 15, 12), 8), // EDT
            ("America/New_York", utc(2026, 11, 24, 2), 21), // after the first Sunday of Nov
            ("Europe/Berlin", utc(2026, 3, 29, 0), 1),     // last Sunday of March, before 01 UTC
            ("Europe/Berlin", utc(2026, 3, 29, 2), 4),     // after
            ("Europe/London", utc(2026, 10, 30, 12), 12),  // GMT again after Oct 25
            ("Australia/Sydney", utc(2026, 1, 10, 0), 11), // AEDT
            ("Australia/Sydney", utc(2026, 7, 10, 0), 10), // AEST
            ("Asia/Kolkata", utc(2026, 5, 5, 0), 5),
        ];
        for (zone, t, want) in table {
            assert_eq!(local_hour(id(zone), t), Some(want), "{zone}");
        }
        assert_eq!(local_hour(id("Mars/Olympus"), 0), None);
        assert_eq!(zone_name(id("Asia/Seoul")), Some("Asia/Seoul"));
    }

    #[test]
    fn civil_round_trips() {
        for d in [-1000, 0, 19_000, 20_781, 40_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2026-03-08 is the second Sunday of March 2026.
        assert_eq!(sunday(2026, 3, 2), days_from_civil(2026, 3, 8));
        assert_eq!(sunday(2026, 10, 0), days_from_civil(2026, 10, 25));
    }
}
