//! What an account says about itself: user agents, `accept_language`, the claimed time zone,
//! and the local hour used to keep ordinary people active in their daytime.

/// Desktop browsers (index < [`DESKTOP`]), then phone browsers and the platform's phone apps;
/// realistic strings of late 2026.
pub const USER_AGENTS: [&str; 13] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 19_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 16; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 15; SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 19_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.1 Mobile/15E148 Safari/604.1",
    "Marketplace/8.14.2 (iPhone16,2; iOS 19.1; Scale/3.00)",
    "Marketplace/8.14.0 (Android 16; Pixel 9) okhttp/4.12.0",
    "okhttp/4.12.0",
];

/// Number of phone user agents (browsers and apps) after the desktop ones.
pub const PHONE: u8 = 7;

/// Number of desktop user agents at the start of [`USER_AGENTS`].
pub const DESKTOP: u8 = 6;

/// A zone: (easternmost longitude, IANA name, standard UTC offset in hours).
type Zone = (f64, &'static str, f64);

/// Countries with their language preference, main IANA zone and standard UTC offset (hours).
/// Countries spanning several zones list their zones west to east with the longitude where
/// each ends; the generator picks by the home's longitude.
#[rustfmt::skip]
const COUNTRIES: &[(&str, &str, &[Zone])] = &[
    ("US", "en-US,en;q=0.9", &[(-115.0, "America/Los_Angeles", -8.0), (-101.0, "America/Denver", -7.0), (-87.0, "America/Chicago", -6.0), (180.0, "America/New_York", -5.0)]),
    ("CA", "en-CA,en;q=0.9,fr;q=0.8", &[(-115.0, "America/Vancouver", -8.0), (-90.0, "America/Winnipeg", -6.0), (180.0, "America/Toronto", -5.0)]),
    ("MX", "es-MX,es;q=0.9", &[(180.0, "America/Mexico_City", -6.0)]),
    ("BR", "pt-BR,pt;q=0.9", &[(180.0, "America/Sao_Paulo", -3.0)]),
    ("AR", "es-AR,es;q=0.9", &[(180.0, "America/Argentina/Buenos_Aires", -3.0)]),
    ("GB", "en-GB,en;q=0.9", &[(180.0, "Europe/London", 0.0)]),
    ("IE", "en-IE,en;q=0.9", &[(180.0, "Europe/Dublin", 0.0)]),
    ("FR", "fr-FR,fr;q=0.9,en;q=0.8", &[(180.0, "Europe/Paris", 1.0)]),
    ("DE", "de-DE,de;q=0.9,en;q=0.8", &[(180.0, "Europe/Berlin", 1.0)]),
    ("NL", "nl-NL,nl;q=0.9,en;q=0.8", &[(180.0, "Europe/Amsterdam", 1.0)]),
    ("ES", "es-ES,es;q=0.9", &[(180.0, "Europe/Madrid", 1.0)]),
    ("IT", "it-IT,it;q=0.9", &[(180.0, "Europe/Rome", 1.0)]),
    ("PL", "pl-PL,pl;q=0.9", &[(180.0, "Europe/Warsaw", 1.0)]),
    ("SE", "sv-SE,sv;q=0.9,en;q=0.8", &[(180.0, "Europe/Stockholm", 1.0)]),
    ("UA", "uk-UA,uk;q=0.9", &[(180.0, "Europe/Kyiv", 2.0)]),
    ("TR", "tr-TR,tr;q=0.9", &[(180.0, "Europe/Istanbul", 3.0)]),
    ("RU", "ru-RU,ru;q=0.9", &[(50.0, "Europe/Moscow", 3.0), (75.0, "Asia/Yekaterinburg", 5.0), (110.0, "Asia/Novosibirsk", 7.0), (180.0, "Asia/Vladivostok", 10.0)]),
    ("AE", "ar-AE,ar;q=0.9,en;q=0.8", &[(180.0, "Asia/Dubai", 4.0)]),
    ("IN", "en-IN,en;q=0.9,hi;q=0.8", &[(180.0, "Asia/Kolkata", 5.5)]),
    ("PK", "ur-PK,en;q=0.8", &[(180.0, "Asia/Karachi", 5.0)]),
    ("SG", "en-SG,en;q=0.9", &[(180.0, "Asia/Singapore", 8.0)]),
    ("VN", "vi-VN,vi;q=0.9", &[(180.0, "Asia/Ho_Chi_Minh", 7.0)]),
    ("TH", "th-TH,th;q=0.9", &[(180.0, "Asia/Bangkok", 7.0)]),
    ("ID", "id-ID,id;q=0.9", &[(180.0, "Asia/Jakarta", 7.0)]),
    ("PH", "en-PH,en;q=0.9", &[(180.0, "Asia/Manila", 8.0)]),
    ("CN", "zh-CN,zh;q=0.9", &[(180.0, "Asia/Shanghai", 8.0)]),
    ("HK", "zh-HK,zh;q=0.9,en;q=0.8", &[(180.0, "Asia/Hong_Kong", 8.0)]),
    ("TW", "zh-TW,zh;q=0.9", &[(180.0, "Asia/Taipei", 8.0)]),
    ("KR", "ko-KR,ko;q=0.9,en;q=0.8", &[(180.0, "Asia/Seoul", 9.0)]),
    ("KP", "ko-KP,ko;q=0.9", &[(180.0, "Asia/Pyongyang", 9.0)]),
    ("JP", "ja-JP,ja;q=0.9", &[(180.0, "Asia/Tokyo", 9.0)]),
    ("AU", "en-AU,en;q=0.9", &[(129.0, "Australia/Perth", 8.0), (141.0, "Australia/Adelaide", 9.5), (180.0, "Australia/Sydney", 10.0)]),
    ("NZ", "en-NZ,en;q=0.9", &[(180.0, "Pacific/Auckland", 12.0)]),
    ("ZA", "en-ZA,en;q=0.9", &[(180.0, "Africa/Johannesburg", 2.0)]),
    ("NG", "en-NG,en;q=0.9", &[(180.0, "Africa/Lagos", 1.0)]),
    ("EG", "ar-EG,ar;q=0.9", &[(180.0, "Africa/Cairo", 2.0)]),
];

/// `accept_language` for a country; English for countries not in the table.
pub fn language(country: &str) -> &'static str {
    COUNTRIES
        .iter()
        .find(|c| c.0 == country)
        .map_or("en-US,en;q=0.9", |c| c.1)
}

/// The IANA zone and standard UTC offset (hours) of a place. Countries not in the table get
/// `Etc/GMT±N` from the longitude (POSIX sign: `Etc/GMT-9` is UTC+9).
pub fn zone(country: &str, lon: f64) -> (String, f64) {
    if let Some(c) = COUNTRIES.iter().find(|c| c.0 == country) {
        let z =
            c.2.iter()
                .find(|z| lon <= z.0)
                .unwrap_or(&c.2[c.2.len() - 1]);
        return (z.1.to_string(), z.2);
    }
    let h = (lon / 15.0).round() as i64;
    let name = match h {
        0 => "Etc/GMT".to_string(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    };
    (name, h as f64)
}

/// Milliseconds in a day and an hour.
pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const MIN_MS: i64 = 60_000;

/// Local waking hours of ordinary accounts: sessions start between 07:30 and 22:00.
pub const WAKE_MS: i64 = 7 * HOUR_MS + 30 * MIN_MS;
pub const SLEEP_MS: i64 = 22 * HOUR_MS;

/// Moves `t` to the next local waking time at UTC offset `offset_h` when it falls at night;
/// `jitter_ms` spreads the morning starts.
pub fn awake(t: i64, offset_h: f64, jitter_ms: i64) -> i64 {
    let off = (offset_h * HOUR_MS as f64) as i64;
    let local = (t + off).rem_euclid(DAY_MS);
    if (WAKE_MS..SLEEP_MS).contains(&local) {
        return t;
    }
    let to_wake = (WAKE_MS - local).rem_euclid(DAY_MS);
    t + to_wake + jitter_ms
}

/// Working hours at shared venues: venue sessions start between 09:00 and 17:00 local, Monday
/// to Friday.
pub const WORK_START_MS: i64 = 9 * HOUR_MS;
pub const WORK_END_MS: i64 = 17 * HOUR_MS;

/// Weekday of local day number `day` (days since 1970-01-01, a Thursday): 0 = Monday.
pub fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// Whether local day number `day` is a working day (Monday to Friday).
pub fn is_workday(day: i64) -> bool {
    weekday(day) < 5
}

/// Moves `t` to the next local working time (Monday–Friday, [`WORK_START_MS`] ..
/// [`WORK_END_MS`]) at UTC offset `offset_h` when it falls outside one; `jitter_ms` spreads
/// the morning starts.
pub fn working(t: i64, offset_h: f64, jitter_ms: i64) -> i64 {
    let off = (offset_h * HOUR_MS as f64) as i64;
    let local = t + off;
    let (day, time) = (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS));
    if is_workday(day) && (WORK_START_MS..WORK_END_MS).contains(&time) {
        return t;
    }
    let mut next = if time < WORK_START_MS { day } else { day + 1 };
    while !is_workday(next) {
        next += 1;
    }
    next * DAY_MS + WORK_START_MS - off + jitter_ms
}

/// Local midnight (as epoch ms) of the `k`-th working day, counting from the first one whose
/// `from_ms` local time of day is at or after `start` (offset `offset_h`).
pub fn workday(start: i64, offset_h: f64, from_ms: i64, k: u32) -> i64 {
    let off = (offset_h * HOUR_MS as f64) as i64;
    let mut day = (start + off).div_euclid(DAY_MS);
    if day * DAY_MS - off + from_ms < start {
        day += 1;
    }
    let mut left = k;
    loop {
        if is_workday(day) {
            if left == 0 {
                return day * DAY_MS - off;
            }
            left -= 1;
        }
        day += 1;
    }
}

/// Working days whose local `from_ms` .. `until_ms` lies within `start` .. `end`.
pub fn workdays(start: i64, end: i64, offset_h: f64, from_ms: i64, until_ms: i64) -> u32 {
    (0..)
        .take_while(|&k| workday(start, offset_h, from_ms, k) + until_ms <= end)
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_by_longitude_and_fallback() {
        assert_eq!(zone("US", -118.2), ("America/Los_Angeles".into(), -8.0));
        assert_eq!(zone("US", -74.0), ("America/New_York".into(), -5.0));
        assert_eq!(zone("KR", 127.0), ("Asia/Seoul".into(), 9.0));
        assert_eq!(zone("XX", 135.0), ("Etc/GMT-9".into(), 9.0));
        assert_eq!(zone("XX", -45.0), ("Etc/GMT+3".into(), -3.0));
        assert_eq!(language("KR"), "ko-KR,ko;q=0.9,en;q=0.8");
        assert_eq!(language("ZZ"), "en-US,en;q=0.9");
    }

    #[test]
    fn awake_moves_nights_to_the_morning() {
        // 03:00 UTC at offset +9 is 12:00 local: unchanged.
        assert_eq!(awake(3 * HOUR_MS, 9.0, 0), 3 * HOUR_MS);
        // 23:00 UTC at offset 0 is night: moved to 07:30 next day.
        assert_eq!(awake(23 * HOUR_MS, 0.0, 0), DAY_MS + WAKE_MS);
        // 02:00 UTC at offset -5 is 21:00 local the day before: unchanged.
        assert_eq!(awake(2 * HOUR_MS, -5.0, 0), 2 * HOUR_MS);
    }

    #[test]
    fn working_days_and_hours() {
        // 2026-11-02 (a Monday) 00:00 UTC.
        let monday = 1_793_577_600_000;
        assert_eq!(weekday(monday / DAY_MS), 0);
        // Monday 12:00 UTC at offset 0: working; Saturday 10:00 goes to Monday 09:00.
        let noon = monday + 12 * HOUR_MS;
        assert_eq!(working(noon, 0.0, 0), noon);
        let saturday = monday + 5 * DAY_MS + 10 * HOUR_MS;
        assert_eq!(
            working(saturday, 0.0, 7),
            monday + 7 * DAY_MS + WORK_START_MS + 7
        );
        // Monday 00:00 UTC is Sunday 19:00 in New York: the first working day is Monday.
        let ny = workday(monday, -5.0, 8 * HOUR_MS, 0);
        assert_eq!(ny, monday + 5 * HOUR_MS);
        // Friday is day 4, then Monday.
        assert_eq!(workday(monday, -5.0, 8 * HOUR_MS, 5), ny + 7 * DAY_MS);
        // In Seoul Monday 08:00 has passed at 00:00 UTC (09:00 local): Tuesday first.
        assert_eq!(
            workday(monday, 9.0, 8 * HOUR_MS, 0),
            monday + DAY_MS - 9 * HOUR_MS
        );
        // A two-week span holds ten working days in New York, nine in Seoul.
        let end = monday + 14 * DAY_MS;
        assert_eq!(workdays(monday, end, -5.0, 8 * HOUR_MS, 16 * HOUR_MS), 10);
        assert_eq!(workdays(monday, end, 9.0, 8 * HOUR_MS, 16 * HOUR_MS), 9);
    }
}
