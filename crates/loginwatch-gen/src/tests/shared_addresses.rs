//! The populations behind shared addresses: laptop farms, carrier-grade NAT pools, venues.

use super::*;

/// Local (day number, time of day) of `t` at a place of the generator's world.
fn local(g: &stream::Generator<'_>, place: u32, t: i64) -> (i64, i64) {
    let off = (g.ctx.offsets[place as usize] * profile::HOUR_MS as f64) as i64;
    let day = profile::DAY_MS;
    ((t + off).div_euclid(day), (t + off).rem_euclid(day))
}

/// Same host: the same IPv4 address, or the same IPv6 /64.
fn same_host(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V6(x), IpAddr::V6(y)) => x.segments()[..4] == y.segments()[..4],
        _ => a == b,
    }
}

#[test]
fn farms_work_from_their_address_every_working_day() {
    let w = toy_world();
    // 50 events per account: an 8-day span from Monday, six working days in New York.
    let c = cfg(3_000, 150_000, 21);
    let (bytes, g) = run_gen(&c, &w);
    let mut farms: HashMap<IpAddr, HashMap<String, Vec<LoginEvent>>> = HashMap::new();
    for e in events(&bytes) {
        let a = account_of(&g, &e.account_id);
        if a.role != Role::Planted(Kind::SharedIp) {
            continue;
        }
        let ip = g.ctx.pools.any(a.home, 0);
        assert_eq!(e.ip, ip, "{} logs in only from its farm", e.account_id);
        assert!(ip.is_ipv4());
        let farm = farms.entry(ip).or_default();
        farm.entry(e.account_id.clone()).or_default().push(e);
    }
    assert!(farms.len() >= 2, "{} farms", farms.len());
    for (ip, workers) in &farms {
        assert!(
            (12..=20).contains(&workers.len()),
            "{ip}: {}",
            workers.len()
        );
        let devices: HashSet<_> = workers.values().map(|es| es[0].device_id.clone()).collect();
        assert_eq!(devices.len(), workers.len(), "{ip}: a device per worker");
        for (acct, es) in workers {
            let place = account_of(&g, acct).home.place;
            let country = &w.places[place as usize].country;
            let off = g.ctx.offsets[place as usize];
            let end = g.ctx.span_end;
            let (from, until) = (script::FARM_FROM_MS, script::FARM_UNTIL_MS);
            let expected = profile::workdays(c.start_ms, end, off, from, until).max(2);
            let mut days = HashSet::new();
            for e in es {
                let (day, ms) = local(&g, place, e.timestamp.millis());
                assert!(profile::is_workday(day), "{acct} works on weekdays");
                assert!((from..until).contains(&ms), "{acct} at {ms} ms local");
                assert_eq!(e.device_id, es[0].device_id, "{acct}: its own device");
                if e.event_type == EventType::Login {
                    let claimed = e.claimed_country.map(|c| c.to_string());
                    assert_eq!(claimed.as_ref(), Some(country));
                }
                days.insert(day);
            }
            assert!(days.len() >= 2, "{acct}: {} days", days.len());
            assert_eq!(days.len() as u32, expected, "{acct}: every working day");
        }
    }
}

#[test]
fn subscribers_share_their_carriers_pool_addresses() {
    let w = toy_world();
    // 10 events per account: a two-day span.
    let c = cfg(20_000, 200_000, 9);
    let (bytes, g) = run_gen(&c, &w);
    assert_eq!(g.ctx.nat.len(), 3, "three carriers by default");
    let pools: Vec<HashSet<IpAddr>> = g
        .ctx
        .nat
        .iter()
        .map(|p| (0..p.size).map(|k| g.ctx.pools.any(p.addr(k), 0)).collect())
        .collect();
    for (p, ips) in g.ctx.nat.iter().zip(&pools) {
        assert!((8..=24).contains(&p.size), "{}", p.size);
        assert_eq!(ips.len(), p.size as usize, "distinct addresses");
        assert!(ips.iter().all(|ip| ip.is_ipv4()));
    }
    let mut per_day: HashMap<(IpAddr, i64), HashSet<String>> = HashMap::new();
    let (mut subscribers, mut home) = (HashSet::new(), 0);
    for e in events(&bytes) {
        let a = account_of(&g, &e.account_id);
        let in_pool = pools.iter().any(|p| p.contains(&e.ip));
        if a.role != Role::Subscriber {
            assert!(!in_pool, "{} is no subscriber", e.account_id);
            continue;
        }
        subscribers.insert(e.account_id.clone());
        if pools[usize::from(a.param)].contains(&e.ip) {
            let day = e.timestamp.millis().div_euclid(profile::DAY_MS);
            per_day.entry((e.ip, day)).or_default().insert(e.account_id);
        } else {
            let own = g.ctx.pools.ip(a.home, 0, false);
            assert!(
                a.share > 0 && same_host(e.ip, own),
                "{}: {}",
                e.account_id,
                e.ip
            );
            home += 1;
        }
        if e.event_type == EventType::Login {
            let claimed = e.claimed_country.map(|c| c.to_string());
            assert_eq!(claimed, Some(place_of(&w, e.ip).country.clone()));
        }
    }
    let cast: u64 = g.crowds.0.iter().sum();
    assert!(subscribers.len() as u64 * 100 >= cast * 95, "{cast} cast");
    assert!((30 * 8 * 3..=2_000).contains(&cast), "{cast} subscribers");
    assert!(home > 0, "some subscribers also log in from home");
    let first = c.start_ms.div_euclid(profile::DAY_MS);
    for ip in pools.iter().flatten() {
        for day in first..first + 2 {
            let n = per_day.get(&(*ip, day)).map_or(0, HashSet::len);
            assert!(n > 10, "{ip} on day {day}: {n} subscribers");
        }
    }
}

#[test]
fn venue_members_log_in_from_the_venue_and_from_home() {
    let w = toy_world();
    // 30 events per account: Monday to Friday.
    let (bytes, g) = run_gen(&cfg(4_000, 120_000, 17), &w);
    let mut members: HashMap<IpAddr, HashMap<String, (u32, u32)>> = HashMap::new();
    for e in events(&bytes) {
        let a = account_of(&g, &e.account_id);
        if a.role != Role::Venue
            || e.event_type != EventType::Login
            || e.outcome != Outcome::Success
        {
            continue;
        }
        let venue = g.ctx.pools.any(a.alt, 0);
        let counts = members.entry(venue).or_default();
        let n = counts.entry(e.account_id.clone()).or_default();
        if e.ip == venue {
            let (day, ms) = local(&g, a.alt.place, e.timestamp.millis());
            assert!(profile::is_workday(day), "{} on a weekend", e.account_id);
            // A failed login may come first, up to a minute before.
            let latest = profile::WORK_END_MS + profile::MIN_MS;
            assert!((profile::WORK_START_MS..latest).contains(&ms), "{ms}");
            n.0 += 1;
        } else {
            assert!(same_host(e.ip, g.ctx.pools.ip(a.home, 0, false)));
            n.1 += 1;
        }
        let claimed = e.claimed_country.map(|c| c.to_string());
        assert_eq!(claimed, Some(place_of(&w, e.ip).country.clone()));
    }
    let mut sizes: Vec<u64> = members.values().map(|m| m.len() as u64).collect();
    let mut cast = g.crowds.1.clone();
    sizes.sort_unstable();
    cast.sort_unstable();
    assert_eq!(cast.len(), 6, "six venues by default");
    assert_eq!(sizes, cast);
    assert!(cast.iter().all(|n| (8..=40).contains(n)), "{cast:?}");
    let (mut venue, mut home) = (0, 0);
    for (acct, (v, h)) in members.values().flatten() {
        if v + h >= 2 {
            assert!(*v > 0 && *h > 0, "{acct}: {v} venue, {h} home logins");
        }
        venue += v;
        home += h;
    }
    let share = f64::from(home) / f64::from(venue + home);
    assert!((0.3..=0.6).contains(&share), "home share {share}");
}

#[test]
fn small_streams_get_smaller_crowds_and_worlds_without_mobile_no_carriers() {
    let w = toy_world();
    let g = stream::Generator::new(&cfg(1_000, 10_000, 3), &w.places).unwrap();
    let (carriers, venues) = &g.crowds;
    let (c, v): (u64, u64) = (carriers.iter().sum(), venues.iter().sum());
    assert!(!carriers.is_empty() && !venues.is_empty());
    assert!(c <= 100 && v <= 50, "{carriers:?} {venues:?}");
    for p in &g.ctx.nat {
        assert!(
            p.size >= 1 && p.size <= 4,
            "{} addresses for ~33 subscribers",
            p.size
        );
    }
    let homes = PlaceWorld {
        places: w
            .places
            .iter()
            .filter(|p| p.class != NetClass::Mobile)
            .cloned()
            .collect(),
    };
    let g = stream::Generator::new(&cfg(3_000, 30_000, 3), &homes.places).unwrap();
    assert!(g.crowds.0.is_empty() && g.ctx.nat.is_empty());
    assert_eq!(g.crowds.1.len(), 6);
    let bad = GenConfig {
        farm_accounts: 0..=2,
        carrier_pool: 0..=3,
        carriers: 100,
        ..cfg(10, 10, 1)
    };
    assert_eq!(bad.problems().len(), 3, "{:?}", bad.problems());
}
