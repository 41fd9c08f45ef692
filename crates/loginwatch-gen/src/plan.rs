//! Casting: which accounts carry which planted anomaly, how many events each account emits
//! (exactly `events` in total), and where each account lives.

use super::account::{Account, Ctx, Role, Shape, NO_LABEL};
use super::index::WorldIndex;
use super::kind::{Kind, PLANTED};
use super::planted::farm_place;
use super::pools::Addr;
use super::profile::{workdays, DESKTOP, PHONE};
use super::rng::{hash, Rng};
use super::script::{planted_budget, FARM_FROM_MS, FARM_SESSIONS_PER_DAY, FARM_UNTIL_MS};
use super::GenConfig;

/// How many times each single kind is dealt before a farm closes the cycle.
const SINGLE_ROUNDS: u64 = 2;

/// Planted events may take at most this share of the stream; further anomalies are dropped.
pub const MAX_PLANTED_SHARE: f64 = 0.5;

/// The smallest farm a stream too small for a whole one gets: above the `shared_ip` default
/// of 5 accounts.
pub const SMALL_FARM: u64 = 6;

/// One laptop farm: its planted slots, where it is and how many days its workers work.
#[derive(Clone, Debug, PartialEq)]
pub struct Farm {
    /// First planted slot of the farm and its number of accounts.
    pub first: u64,
    pub size: u64,
    /// The farm's residential place (its address is allocated on first use).
    pub place: u32,
    /// Working days in the stream's span in the farm's zone (at least 2).
    pub days: u32,
}

impl Farm {
    fn end(&self) -> u64 {
        self.first + self.size
    }
}

/// Who is planted: every planted slot's kind, dealt in a fixed cycle.
#[derive(Clone, Debug)]
pub struct Cast {
    /// Kinds with one account each, in dealing order.
    singles: Vec<Kind>,
    /// The farm closing each cycle (cycle `c` ends with `farms[c]`), enough to cover every
    /// planted slot.
    pub farms: Vec<Farm>,
    /// Number of planted slots.
    pub planted: u64,
    rate: f64,
    offset: f64,
}

impl Cast {
    /// Deals planted slots for `cfg.accounts` accounts at `cfg.anomaly_rate`, with the kinds
    /// the world allows; `offsets` are the places' UTC offsets, `span_end` where the stream is
    /// meant to end.
    pub fn new(idx: &WorldIndex, cfg: &GenConfig, offsets: &[f64], span_end: i64) -> Self {
        let singles: Vec<Kind> = PLANTED
            .into_iter()
            .filter(|&k| k != Kind::SharedIp && available(idx, k))
            .collect();
        let (seed, rate) = (cfg.seed, cfg.anomaly_rate);
        let offset = Rng::new(hash(&[seed, 0xCA57])).unit();
        let planted = ((cfg.accounts as f64 * rate + offset).floor() - offset.floor()) as u64;
        // Each single kind twice, then a farm of 12–20 accounts (by default).
        let mut farms: Vec<Farm> = Vec::new();
        let (lo, hi) = (*cfg.farm_accounts.start(), *cfg.farm_accounts.end());
        while farms.last().map_or(0, Farm::end) < planted {
            let n = farms.len() as u64;
            let size = u64::from(lo) + hash(&[seed, n, 0xFA51]) % u64::from(hi - lo + 1);
            let mut rng = Rng::new(hash(&[seed, n, 0xFA4D]));
            let place = farm_place(idx, &mut rng);
            let off = offsets[place as usize];
            let days = workdays(cfg.start_ms, span_end, off, FARM_FROM_MS, FARM_UNTIL_MS);
            let first = farms.last().map_or(0, Farm::end) + SINGLE_ROUNDS * singles.len() as u64;
            farms.push(Farm {
                first,
                size,
                place,
                days: days.max(2),
            });
        }
        Cast {
            singles,
            farms,
            planted,
            rate,
            offset,
        }
    }

    /// The planted slot number of account `i`, if it is planted (slots spread evenly).
    pub fn slot(&self, i: u64) -> Option<u64> {
        let f = |x: u64| (x as f64 * self.rate + self.offset).floor() as u64;
        let slot = f(i) - f(0);
        (f(i + 1) > f(i) && slot < self.planted).then_some(slot)
    }

    /// The kind of a planted slot, and its farm number for `shared_ip`. A farm that the last,
    /// incomplete cycle cannot fill is dealt as single kinds instead, but for the first farm:
    /// a stream too small for a whole one gets a farm of the remaining slots when there are at
    /// least [`SMALL_FARM`].
    pub fn kind(&self, slot: u64) -> Option<(Kind, u64)> {
        let n = self.singles.len() as u64;
        let c = self.farms.partition_point(|f| f.end() <= slot);
        let start = if c == 0 { 0 } else { self.farms[c - 1].end() };
        let single = (n > 0).then(|| (self.singles[((slot - start) % n) as usize], 0));
        match self.farms.get(c) {
            Some(f) if slot >= f.first && self.farm_size(c) > 0 => Some((Kind::SharedIp, c as u64)),
            _ => single,
        }
    }

    /// The number of accounts of farm `c` (0 when it is not dealt).
    pub fn farm_size(&self, c: usize) -> u64 {
        let Some(f) = self.farms.get(c) else { return 0 };
        let left = self.planted.saturating_sub(f.first);
        match left {
            _ if left >= f.size => f.size,
            _ if c == 0 && left >= SMALL_FARM => left,
            _ => 0,
        }
    }

    /// The script parameter of planted slot `slot` (sessions before or around the anomaly; a
    /// farm worker's sessions).
    pub fn param(&self, seed: u64, slot: u64, kind: Kind) -> u8 {
        let r = Rng::new(hash(&[seed, slot, 0x9A7A])).next_u64();
        match kind {
            Kind::ImpossibleTravel | Kind::ConcurrentIps | Kind::SessionHijack => 2 + (r % 3) as u8,
            Kind::AnonymizedIp | Kind::LocationMismatch => 4 + (r % 3) as u8,
            Kind::SanctionedRegion => 3 + (r % 3) as u8,
            Kind::SharedIp => {
                let days = self
                    .kind(slot)
                    .map_or(2, |(_, f)| self.farms[f as usize].days);
                let sessions = days * u32::from(FARM_SESSIONS_PER_DAY);
                sessions.min(u32::from(u8::MAX)) as u8
            }
            Kind::LongSession | Kind::AccountRisk => 0,
        }
    }

    /// Lowers the number of planted slots until their events fit in `cap`.
    pub fn fit(&mut self, cap: u64, seed: u64) -> u64 {
        loop {
            let total: u64 = (0..self.planted)
                .filter_map(|s| {
                    self.kind(s)
                        .map(|(k, _)| u64::from(planted_budget(k, self.param(seed, s, k))))
                })
                .sum();
            if total <= cap || self.planted == 0 {
                return total;
            }
            self.planted = (self.planted as f64 * cap as f64 / total as f64) as u64;
            self.planted = self.planted.saturating_sub(1);
        }
    }
}

/// Whether the world has the places a kind needs (farms are checked by the caller).
fn available(idx: &WorldIndex, kind: Kind) -> bool {
    // Up to 64 random homes, each with a search for a partner place (exhaustive per home).
    let pair = |min_km: f64| {
        let mut rng = Rng::new(0xA7A1);
        (0..64).any(|_| {
            let h = idx.pick_home(&mut rng);
            idx.pick_far_home(&mut rng, h, min_km, true).is_some()
        })
    };
    match kind {
        Kind::ImpossibleTravel => pair(super::planted::FAR_KM),
        Kind::ConcurrentIps | Kind::SessionHijack => pair(0.0),
        Kind::AnonymizedIp => !idx.hosting.is_empty(),
        Kind::SanctionedRegion => !idx.kp.is_empty(),
        Kind::SharedIp | Kind::LocationMismatch | Kind::LongSession => true,
        Kind::AccountRisk => false,
    }
}

/// Weight of an ordinary account's share of the events (1 .. 20, heavy-tailed).
pub fn weight(seed: u64, i: u64) -> u64 {
    let u = Rng::new(hash(&[seed, i, 0x3E16])).unit();
    100 + (u * u * u * 1900.0) as u64
}

/// An account with everything but its schedule.
pub fn blank(rng: Rng, remaining: u32, home: Addr, role: Role, claim: &str) -> Account {
    let c = claim.as_bytes();
    Account {
        rng,
        next_ms: 0,
        remaining,
        home,
        alt: home,
        label: NO_LABEL,
        role,
        param: 0,
        share: 0,
        phase: 0,
        shape: Shape::Plain,
        step: 0,
        pos: 0,
        len: 0,
        flags: 0,
        claim: [
            c.first().copied().unwrap_or(b'U'),
            c.get(1).copied().unwrap_or(b'S'),
        ],
        lang_ko: false,
        ua: 0,
    }
}

/// An ordinary account: home, and maybe a second IP family, mobile networks or one trip.
pub fn ordinary(ctx: &mut Ctx, mut rng: Rng, budget: u32) -> Account {
    let place = ctx.idx.pick_home(&mut rng);
    let home = ctx.pools.alloc(place);
    let country = ctx.idx.places[place as usize].country.clone();
    let mut a = blank(rng, budget, home, Role::Home, &country);
    let r = a.rng.unit();
    let near = !ctx.idx.near_mobile(place).is_empty();
    if r < 0.06 && budget >= 14 {
        if let Some(dest) = ctx.idx.pick_far(&mut a.rng, place, 300.0, false) {
            a.role = Role::Traveller;
            a.alt = ctx.pools.alloc(dest);
            a.param = 1 + a.rng.below(2) as u8;
        }
    } else if r < 0.26 && near {
        a.role = Role::Mobile;
        let list = ctx.idx.near_mobile(place);
        a.alt = ctx
            .pools
            .alloc(list[a.rng.below(list.len() as u64) as usize]);
    } else if r < 0.5 && ctx.pools.has(place) == (true, true) {
        a.role = Role::Dual;
    }
    a.ua = match a.role {
        Role::Mobile => DESKTOP + a.rng.below(u64::from(PHONE)) as u8,
        _ if a.rng.chance(0.8) => a.rng.below(u64::from(DESKTOP)) as u8,
        _ => DESKTOP + a.rng.below(u64::from(PHONE)) as u8,
    };
    a
}

/// First session start of an ordinary account: spread over the first of its gaps
/// (`per_session` events per session).
pub fn first_start(rng: &mut Rng, start: i64, span: i64, budget: u32, per_session: f64) -> i64 {
    let sessions = (f64::from(budget) / per_session).max(1.0);
    start + rng.range(0, (span as f64 / sessions) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::toy_world;

    /// The cast of a two-week stream in the toy world.
    fn cast(accounts: u64, seed: u64) -> Cast {
        let w = toy_world();
        let idx = WorldIndex::new(&w.places).unwrap();
        let offsets: Vec<f64> = w
            .places
            .iter()
            .map(|p| crate::profile::zone(&p.country, p.lon).1)
            .collect();
        let cfg = GenConfig {
            accounts,
            seed,
            ..GenConfig::default()
        };
        let end = cfg.start_ms + 14 * crate::profile::DAY_MS;
        Cast::new(&idx, &cfg, &offsets, end)
    }

    #[test]
    fn cast_spreads_kinds_and_fills_farms() {
        let cast = cast(10_000, 1);
        assert!((199..=201).contains(&cast.planted), "{}", cast.planted);
        let planted: Vec<u64> = (0..10_000).filter_map(|i| cast.slot(i)).collect();
        assert_eq!(planted.len() as u64, cast.planted);
        let kinds: Vec<_> = planted.iter().filter_map(|&s| cast.kind(s)).collect();
        for k in PLANTED {
            assert!(kinds.iter().any(|x| x.0 == k), "{k:?}");
        }
        // Every farm is complete, 12–20 accounts in New York, working two weeks' days.
        let farms: Vec<u64> = kinds
            .iter()
            .filter(|k| k.0 == Kind::SharedIp)
            .map(|k| k.1)
            .collect();
        assert!(farms.len() > 5 * 12, "{}", farms.len());
        for (f, farm) in cast.farms.iter().enumerate() {
            let n = farms.iter().filter(|&&x| x == f as u64).count() as u64;
            assert!(n == farm.size || n == 0, "farm {f}: {n} of {}", farm.size);
            assert_eq!(n, cast.farm_size(f));
            assert!((12..=20).contains(&farm.size), "{}", farm.size);
            assert!((9..=10).contains(&farm.days), "{}", farm.days);
        }
        assert!(
            cast.farms.iter().any(|f| f.place == 0),
            "a farm in New York"
        );
        let sizes: std::collections::HashSet<u64> = cast.farms.iter().map(|f| f.size).collect();
        assert!(sizes.len() > 1, "farm sizes vary: {sizes:?}");
        let p = cast.param(1, cast.farms[0].first, Kind::SharedIp);
        assert_eq!(p, 20, "two sessions a working day");
    }

    #[test]
    fn small_streams_get_one_smaller_farm() {
        // 20 planted slots: 14 single kinds, then a farm of the 6 left.
        let cast = cast(1_000, 1);
        assert_eq!(cast.planted, 20);
        let kinds: Vec<_> = (0..20).filter_map(|s| cast.kind(s)).collect();
        let farm = kinds.iter().filter(|k| k.0 == Kind::SharedIp).count();
        assert_eq!((farm, cast.farm_size(0)), (6, 6));
        // 17: too few for a farm, all single kinds.
        let mut small = cast.clone();
        small.planted = 17;
        assert_eq!(small.farm_size(0), 0);
        assert!((0..17).all(|s| small.kind(s).is_some_and(|k| k.0 != Kind::SharedIp)));
    }

    #[test]
    fn fit_drops_planted_slots_over_the_cap() {
        let mut cast = cast(10_000, 1);
        let total = cast.fit(1_000, 1);
        assert!(
            total <= 1_000 && cast.planted < 200,
            "{total} {}",
            cast.planted
        );
    }
}
