//! Casting: which accounts carry which planted anomaly, how many events each account emits
//! (exactly `events` in total), and where each account lives.

use super::account::{Account, Ctx, Role, Shape, NO_LABEL};
use super::index::WorldIndex;
use super::kind::{Kind, PLANTED};
use super::pools::Addr;
use super::profile::{DESKTOP, HOUR_MS, PHONE};
use super::rng::{hash, Rng};
use super::script::planted_budget;

/// Accounts per laptop farm: above the `shared_ip` default of 5 accounts.
pub const FARM_SIZE: u64 = 6;

/// How many times each single kind is dealt before a farm closes the cycle.
const SINGLE_ROUNDS: u64 = 2;

/// Planted events may take at most this share of the stream; further anomalies are dropped.
pub const MAX_PLANTED_SHARE: f64 = 0.5;

/// Who is planted: every planted slot's kind, dealt in a fixed cycle.
#[derive(Clone, Debug)]
pub struct Cast {
    /// Kinds with one account each, in dealing order.
    singles: Vec<Kind>,
    /// Whether laptop farms (FARM_SIZE accounts each) close every cycle.
    farms: bool,
    /// Number of planted slots.
    pub planted: u64,
    rate: f64,
    offset: f64,
}

impl Cast {
    /// Deals planted slots for `accounts` accounts at `rate`, with the kinds the world allows.
    pub fn new(idx: &WorldIndex, accounts: u64, rate: f64, seed: u64) -> Self {
        let singles = PLANTED
            .into_iter()
            .filter(|&k| k != Kind::SharedIp && available(idx, k))
            .collect();
        let offset = Rng::new(hash(&[seed, 0xCA57])).unit();
        let planted = ((accounts as f64 * rate + offset).floor() - offset.floor()) as u64;
        Cast {
            singles,
            farms: true,
            planted,
            rate,
            offset,
        }
    }

    /// Each single kind twice, then a farm: farms get 6 of every 20 planted accounts when
    /// all kinds are available.
    fn cycle(&self) -> u64 {
        SINGLE_ROUNDS * self.singles.len() as u64 + if self.farms { FARM_SIZE } else { 0 }
    }

    /// The planted slot number of account `i`, if it is planted (slots spread evenly).
    pub fn slot(&self, i: u64) -> Option<u64> {
        let f = |x: u64| (x as f64 * self.rate + self.offset).floor() as u64;
        let slot = f(i) - f(0);
        (f(i + 1) > f(i) && slot < self.planted).then_some(slot)
    }

    /// The kind of a planted slot, and its farm number for `shared_ip`. A farm that the last,
    /// incomplete cycle cannot fill is dealt as single kinds instead.
    pub fn kind(&self, slot: u64) -> Option<(Kind, u64)> {
        let (n, len) = (self.singles.len() as u64, self.cycle());
        if len == 0 {
            return None;
        }
        let p = slot % len;
        if p < SINGLE_ROUNDS * n {
            return Some((self.singles[(p % n) as usize], 0));
        }
        if slot - p + len <= self.planted {
            return Some((Kind::SharedIp, slot / len));
        }
        (n > 0).then(|| (self.singles[(p % n) as usize], 0))
    }

    /// Lowers the number of planted slots until their events fit in `cap`.
    pub fn fit(&mut self, cap: u64, seed: u64) -> u64 {
        loop {
            let total: u64 = (0..self.planted)
                .filter_map(|s| {
                    self.kind(s)
                        .map(|(k, _)| u64::from(planted_budget(k, param(seed, s, k))))
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

/// The script parameter of planted slot `slot` (sessions before or around the anomaly).
pub fn param(seed: u64, slot: u64, kind: Kind) -> u8 {
    let r = Rng::new(hash(&[seed, slot, 0x9A7A])).next_u64();
    match kind {
        Kind::ImpossibleTravel | Kind::ConcurrentIps | Kind::SessionHijack => 2 + (r % 3) as u8,
        Kind::AnonymizedIp | Kind::LocationMismatch => 4 + (r % 3) as u8,
        Kind::SanctionedRegion => 3 + (r % 3) as u8,
        Kind::SharedIp | Kind::LongSession | Kind::AccountRisk => 0,
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

/// First session start of an ordinary account: spread over the first of its gaps.
pub fn first_start(rng: &mut Rng, start: i64, span: i64, budget: u32) -> i64 {
    let sessions = (f64::from(budget) / 5.0).max(1.0);
    start + rng.range(0, (span as f64 / sessions) as i64)
}

/// The start of farm `farm`: somewhere in the first half of the span.
pub fn farm_start(seed: u64, farm: u64, start: i64, span: i64) -> i64 {
    let mut r = Rng::new(hash(&[seed, farm, 0xFA53]));
    start + r.range(0, (span / 2 - 4 * HOUR_MS).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::tests::toy_world;

    #[test]
    fn cast_spreads_kinds_and_fills_farms() {
        let w = toy_world();
        let idx = WorldIndex::new(&w.places).unwrap();
        let cast = Cast::new(&idx, 10_000, 0.02, 1);
        assert!((199..=201).contains(&cast.planted), "{}", cast.planted);
        let planted: Vec<u64> = (0..10_000).filter_map(|i| cast.slot(i)).collect();
        assert_eq!(planted.len() as u64, cast.planted);
        let kinds: Vec<_> = planted.iter().filter_map(|&s| cast.kind(s)).collect();
        let farm = |f| kinds.iter().filter(|k| **k == (Kind::SharedIp, f)).count();
        assert_eq!(farm(0), FARM_SIZE as usize);
        for k in PLANTED {
            assert!(kinds.iter().any(|x| x.0 == k), "{k:?}");
        }
        // Every farm is complete.
        let farms = kinds.iter().filter(|k| k.0 == Kind::SharedIp).count();
        assert_eq!(farms % FARM_SIZE as usize, 0);
    }

    #[test]
    fn fit_drops_planted_slots_over_the_cap() {
        let w = toy_world();
        let idx = WorldIndex::new(&w.places).unwrap();
        let mut cast = Cast::new(&idx, 10_000, 0.02, 1);
        let total = cast.fit(1_000, 1);
        assert!(
            total <= 1_000 && cast.planted < 200,
            "{total} {}",
            cast.planted
        );
    }
}
