//! Not a criterion bench: small file-driven tools that `benches/replay-harness.sh` and
//! `benches/scale-harness.sh` run next to `loginwatch replay` over the same generated file. Registered as a `[[bench]]`
//! (harness = false) so it builds with the release profile and adds no example to the crate.
//!
//! - `bare-parse FILE`: the floor. Reads lines exactly as `replay` does (1 MiB `BufReader`,
//!   `loginwatch_replay::read_bounded_line`) and does one borrowed `serde_json` parse per line
//!   into `BareEvent`; nothing else. Prints `bare-parse: N lines in S s (R events/s)` on stderr.
//! - `state FILE [CITY_MMDB]`: one `Pipeline` over the file (default configuration, alerts
//!   serialized and discarded), then the engine's own estimate (`EngineStats`:
//!   tracked accounts, `approx_state_bytes`) and the process's `VmRSS`/`RssAnon` before and
//!   after, from `/proc/self/status`.
//! - `repeat FILE TIMES`: writes the file TIMES times to stdout, each copy's `timestamp`s
//!   moved later by the file's time span (rounded up to the hour, plus an hour), so the same
//!   accounts come back period after period: a long stream with a steady population, for
//!   watching RSS over tens of millions of events.
//!
//! - `hop ACCOUNTS ADDRESSES EVENTS DAYS`: writes a stream of pre-located logins (a `geo` hint
//!   on each, so no database is needed) where ACCOUNTS accounts hop between ADDRESSES random
//!   IPv4 addresses (each address one of 40 cities, fixed), EVENTS events evenly over DAYS
//!   days: the shared_ip index's worst case (1,000 accounts over 200,000 addresses) and the
//!   alert-heavy stream (1 M accounts over 200,000 addresses: ~15 accounts an address).
//!
//! - `okta FILE`: writes each contract event of FILE as the Okta System Log record
//!   (`user.session.start`, `.end`, `user.authentication.sso`) that `--format okta` reads back
//!   as that event, padded with the fields a real record carries (≈ 1.2 kB a record): the
//!   input of the vendor-format throughput runs.
//!
//! `cargo bench` runs every bench target with `--bench`; without a subcommand this prints a
//! note and exits successfully.

#[path = "common/mod.rs"]
mod common;

use loginwatch::config::Config;
use loginwatch::wiring;
use loginwatch_detect::SharedIndex;
use loginwatch_model::EventTime;
use loginwatch_replay::read_bounded_line;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const MAX_EVENT_BYTES: usize = 64 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bare-parse", file] => bare_parse(file.into()),
        ["state", file] => state(file.into(), None),
        ["state", file, city] => state(file.into(), Some(city.into())),
        ["hop", accounts, addresses, events, days] => {
            match (
                accounts.parse(),
                addresses.parse(),
                events.parse(),
                days.parse(),
            ) {
                (Ok(a), Ok(n), Ok(e), Ok(d)) => hop(a, n, e, d),
                _ => Err(std::io::Error::other("hop takes four whole numbers")),
            }
        }
        ["okta", file] => okta(file.into()),
        ["repeat", file, times] => match times.parse() {
            Ok(n) => repeat(file.into(), n),
            Err(_) => Err(std::io::Error::other("TIMES must be a whole number")),
        },
        _ => {
            eprintln!("replay_tools: no subcommand (bare-parse FILE | state FILE [CITY_MMDB] | repeat FILE TIMES | hop ACCOUNTS ADDRESSES EVENTS DAYS | okta FILE); nothing to do");
            return;
        }
    };
    if let Err(e) = result {
        eprintln!("replay_tools: {e}");
        std::process::exit(1);
    }
}

fn open(file: &PathBuf) -> std::io::Result<BufReader<File>> {
    Ok(BufReader::with_capacity(1 << 20, File::open(file)?))
}

fn bare_parse(file: PathBuf) -> std::io::Result<()> {
    let mut input = open(&file)?;
    let started = Instant::now();
    let (mut lines, mut ok, mut bytes) = (0u64, 0u64, 0u64);
    let mut line = Vec::with_capacity(1024);
    while read_bounded_line(&mut input, &mut line, MAX_EVENT_BYTES)? {
        lines += 1;
        bytes += line.len() as u64;
        if let Ok(ev) = serde_json::from_slice::<common::BareEvent<'_>>(&line) {
            ok += 1;
            std::hint::black_box(ev);
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "bare-parse: {lines} lines in {secs:.2} s ({:.0} events/s, {:.0} MB/s); parsed {ok}",
        lines as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    Ok(())
}

/// `VmRSS` and `RssAnon` of this process in bytes (0 where unavailable). `RssAnon` leaves
/// out the memory-mapped database pages, which grow with the distinct IPs looked up.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

fn state(file: PathBuf, city: Option<PathBuf>) -> std::io::Result<()> {
    let mut config = Config::default();
    config.geoip.city = city.into_iter().collect();
    let other = |e: anyhow::Error| std::io::Error::other(format!("{e:#}"));
    let locator = Arc::new(wiring::open_locator(&config).map_err(other)?);
    let shared = Arc::new(SharedIndex::for_config(&config.engine));
    let mut pipeline = wiring::pipeline(&config, locator, shared).map_err(other)?;
    let mut input = open(&file)?;
    let (rss0, anon0) = rss();
    let started = Instant::now();
    let (mut lines, mut alerts_n) = (0u64, 0u64);
    let (mut line, mut alerts, mut json) = (Vec::new(), Vec::new(), Vec::new());
    while read_bounded_line(&mut input, &mut line, MAX_EVENT_BYTES)? {
        lines += 1;
        alerts.clear();
        let _ = pipeline.process(&line, &mut alerts);
        for a in &alerts {
            json.clear();
            serde_json::to_writer(&mut json, a)?;
            json.write_all(b"\n")?;
            alerts_n += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let (rss1, anon1) = rss();
    let s = pipeline.engine().stats();
    let per = |b: u64| b as f64 / s.tracked_accounts.max(1) as f64;
    eprintln!(
        "state: {lines} lines in {secs:.2} s ({:.0} events/s), {alerts_n} alerts",
        lines as f64 / secs
    );
    eprintln!(
        "state: tracked_accounts {} evicted {} expired {} approx_state_bytes {} ({:.0} per account)",
        s.tracked_accounts,
        s.evicted_accounts,
        s.expired_accounts,
        s.approx_state_bytes,
        per(s.approx_state_bytes as u64)
    );
    eprintln!(
        "state: rss_before {rss0} rss_after {rss1} anon_before {anon0} anon_after {anon1} anon_growth {} ({:.0} per account)",
        anon1.saturating_sub(anon0),
        per(anon1.saturating_sub(anon0))
    );
    Ok(())
}

const TIMESTAMP: &[u8] = b"\"timestamp\":\"";

/// The RFC 3339 `timestamp` string of a line: (start, end) of its text, and its time.
fn timestamp_of(line: &[u8]) -> Option<(usize, usize, EventTime)> {
    let start = memchr::memmem::find(line, TIMESTAMP)? + TIMESTAMP.len();
    let end = start + memchr::memchr(b'"', &line[start..])?;
    let text = std::str::from_utf8(&line[start..end]).ok()?;
    Some((start, end, EventTime::parse_rfc3339(text)?))
}

fn okta(file: PathBuf) -> std::io::Result<()> {
    use loginwatch_model::{EventType, Outcome};
    use serde_json::json;
    let mut line = Vec::with_capacity(1024);
    let mut input = open(&file)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let (mut written, mut unreadable) = (0u64, 0u64);
    while read_bounded_line(&mut input, &mut line, MAX_EVENT_BYTES)? {
        let Ok(e) = loginwatch_model::decode(&line, MAX_EVENT_BYTES) else {
            unreadable += 1;
            continue;
        };
        let event_type = match e.event_type {
            EventType::Login => "user.session.start",
            EventType::Logout => "user.session.end",
            EventType::Activity => "user.authentication.sso",
        };
        let result = match e.outcome {
            Outcome::Success => "SUCCESS",
            Outcome::Failure => "FAILURE",
        };
        let ip = e.ip.to_string();
        let record = json!({
            "uuid": e.event_id,
            "published": e.timestamp,
            "eventType": event_type,
            "version": "0",
            "severity": "INFO",
            "displayMessage": "User login to Okta",
            "actor": {"id": "00u1ab2cd3EF4gh5i6j7", "type": "User",
                      "alternateId": e.account_id, "displayName": e.account_id},
            "client": {"userAgent": {"rawUserAgent": e.user_agent, "os": "Mac OS X",
                                     "browser": "SAFARI"},
                       "zone": "null", "device": "Computer", "ipAddress": ip},
            "authenticationContext": {"authenticationStep": 0,
                                      "externalSessionId": e.session_id},
            "outcome": {"result": result, "reason": null},
            "securityContext": {"asNumber": null, "asOrg": null, "isp": null,
                                "domain": null, "isProxy": null},
            "transaction": {"type": "WEB", "id": "ZxYw9b1f4c2e", "detail": {}},
            "debugContext": {"debugData": {"requestUri": "/api/v1/authn",
                                           "threatSuspected": "false"}},
            "request": {"ipChain": [{"ip": ip, "version": "V4", "source": null}]},
            "target": [],
            "device": {"id": e.device_id},
        });
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
        written += 1;
    }
    eprintln!("okta: {written} records ({unreadable} lines not contract events, left out)");
    out.flush()
}

fn repeat(file: PathBuf, times: u32) -> std::io::Result<()> {
    const HOUR_MS: i64 = 3_600_000;
    let mut line = Vec::with_capacity(1024);
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut input = open(&file)?;
    while read_bounded_line(&mut input, &mut line, MAX_EVENT_BYTES)? {
        if let Some((_, _, t)) = timestamp_of(&line) {
            (first, last) = (first.min(t.0), last.max(t.0));
        }
    }
    let span = last.saturating_sub(first).max(0);
    let shift = (span + HOUR_MS - 1) / HOUR_MS * HOUR_MS + HOUR_MS;
    eprintln!("repeat: {times} copies, each {} h later", shift / HOUR_MS);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    for k in 0..i64::from(times) {
        let mut input = open(&file)?;
        while read_bounded_line(&mut input, &mut line, MAX_EVENT_BYTES)? {
            match timestamp_of(&line) {
                Some((start, end, t)) if k > 0 => {
                    out.write_all(&line[..start])?;
                    write!(out, "{}", EventTime(t.0 + k * shift))?;
                    out.write_all(&line[end..])?;
                }
                _ => out.write_all(&line)?,
            }
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// SplitMix64's finaliser: a fixed, well-spread hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hop(accounts: u64, addresses: u64, events: u64, days: u64) -> std::io::Result<()> {
    // Forty cities on a grid of the inhabited latitudes; each address sits in one.
    let city = |a: u64| {
        let c = mix(a ^ 0xC17) % 40;
        let lat = -35.0 + (c % 8) as f64 * 10.0;
        let lon = -150.0 + (c / 8) as f64 * 70.0;
        (lat, lon, format!("City{c}"))
    };
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out.lock());
    let start = 1_793_577_600_000i64; // 2026-11-02T00:00:00Z
    let step = (days.max(1) * 86_400_000) as f64 / events.max(1) as f64;
    for i in 0..events {
        let account = mix(i) % accounts.max(1);
        let address = mix(i ^ 0xADD) % addresses.max(1);
        let ip = std::net::Ipv4Addr::from(0x0b00_0000u32 + (mix(address) as u32 % 0x3000_0000));
        let (lat, lon, name) = city(address);
        let t = EventTime(start + (i as f64 * step) as i64);
        writeln!(
            out,
            r#"{{"account_id":"hop-{account}","ip":"{ip}","timestamp":"{t}","event_id":"h{i}","geo":{{"lat":{lat},"lon":{lon},"country":"US","city":"{name}"}}}}"#,
        )?;
    }
    out.flush()
}
