//! Benign crowds behind shared addresses, never labelled: subscribers of carriers'
//! carrier-grade NAT pools and members of shared venues (coworking spaces, internet cafés,
//! universities). Counting accounts per address flags them all; a farm detector must not.

use super::account::{Account, Ctx, Role};
use super::plan::blank;
use super::pools::{Addr, NatPool};
use super::profile::{DESKTOP, PHONE};
use super::rng::{hash, Rng};
use super::world::NetClass;
use super::GenConfig;
use std::collections::HashMap;

/// Subscribers per pool address at least, when the accounts allow: sessions pick an address of
/// the pool at random, so each address sees well over 10 subscribers a day.
pub const SUBSCRIBERS_PER_ADDRESS: u64 = 30;

/// Subscribers take at most this share of the ordinary accounts and venue members at most
/// that one: a small stream gets fewer, smaller crowds instead of no ordinary accounts.
pub const MAX_SUBSCRIBER_SHARE: f64 = 0.10;
pub const MAX_VENUE_SHARE: f64 = 0.05;

/// Share of subscribers with a home line near the carrier, and the percentage of their
/// sessions from it (drawn per account, spread evenly over its sessions).
pub const SUBSCRIBER_HOME: f64 = 0.3;
pub const SUBSCRIBER_HOME_PCT: (i64, i64) = (10, 30);

/// Percentage of a venue member's sessions from home (drawn per account, spread evenly over
/// its sessions: the first is at the venue, the second at home, and any four hold both).
pub const VENUE_HOME_PCT: (i64, i64) = (30, 60);

/// Venue members are regulars: their share of the events weighs at least this much (the
/// mean of the 100..2,000 weights of [`super::plan::weight`] is about 575).
pub const VENUE_MIN_WEIGHT: u64 = 600;

/// The crowd a benign account belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// Index into the carriers (and `Ctx::nat`).
    Subscriber(u8),
    /// Index into the venues.
    Venue(u16),
}

/// One carrier: its subscribers and the residential places near its mobile network.
#[derive(Clone, Debug)]
struct Carrier {
    members: u64,
    homes: Vec<u32>,
}

/// One venue: its public address and its number of members.
#[derive(Clone, Copy, Debug)]
struct Venue {
    addr: Addr,
    members: u64,
}

/// The crowds of one run and who belongs to which: O(crowd members) memory, during casting.
#[derive(Clone, Debug, Default)]
pub struct Crowds {
    carriers: Vec<Carrier>,
    venues: Vec<Venue>,
    /// The crowd of each member slot (carriers first, then venues), shuffled.
    order: Vec<u16>,
    ordinary: u64,
}

impl Crowds {
    /// Plans the crowds among `ordinary` ordinary accounts and allocates their shared
    /// addresses; the carriers' pools go to `ctx.nat`.
    pub fn new(ctx: &mut Ctx, cfg: &GenConfig, ordinary: u64) -> Self {
        let carriers = carriers(ctx, cfg, ordinary);
        let venues = venues(ctx, cfg, ordinary);
        let mut order: Vec<u16> = Vec::new();
        let sizes = carriers.iter().map(|c| c.members);
        for (k, n) in sizes.chain(venues.iter().map(|v| v.members)).enumerate() {
            order.extend(std::iter::repeat_n(k as u16, n as usize));
        }
        let mut rng = Rng::new(hash(&[cfg.seed, 0x0D3E]));
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        Crowds {
            carriers,
            venues,
            order,
            ordinary,
        }
    }

    /// The crowd of the `j`-th ordinary account, if any: members are spread evenly over the
    /// ordinary accounts.
    pub fn member(&self, j: u64) -> Option<Member> {
        let total = self.order.len() as u128;
        let f = |x: u64| (u128::from(x) * total / u128::from(self.ordinary.max(1))) as usize;
        if f(j + 1) <= f(j) {
            return None;
        }
        let k = *self.order.get(f(j))?;
        let c = self.carriers.len() as u16;
        Some(if k < c {
            Member::Subscriber(k as u8)
        } else {
            Member::Venue(k - c)
        })
    }

    /// The event weight of the `j`-th ordinary account, whose own weight is `w`.
    pub fn weight(&self, j: u64, w: u64) -> u64 {
        match self.member(j) {
            Some(Member::Venue(_)) => w.max(VENUE_MIN_WEIGHT),
            _ => w,
        }
    }

    /// A member of crowd `m` with `budget` events.
    pub fn account(&self, ctx: &mut Ctx, m: Member, mut rng: Rng, budget: u32) -> Account {
        match m {
            Member::Subscriber(c) => {
                let pool = ctx.nat[usize::from(c)];
                let homes = &self.carriers[usize::from(c)].homes;
                let own = (!homes.is_empty() && rng.chance(SUBSCRIBER_HOME))
                    .then(|| homes[rng.below(homes.len() as u64) as usize]);
                let country = ctx.idx.places[pool.place as usize].country.clone();
                let home = own.map_or(pool.addr(0), |p| ctx.pools.alloc(p));
                let mut a = blank(rng, budget, home, Role::Subscriber, &country);
                a.param = c;
                a.alt = pool.addr(0);
                if own.is_some() {
                    let (lo, hi) = SUBSCRIBER_HOME_PCT;
                    a.share = a.rng.range(lo, hi) as u8;
                    a.phase = a.rng.below(256) as u8;
                }
                a.ua = DESKTOP + a.rng.below(u64::from(PHONE)) as u8;
                a
            }
            Member::Venue(v) => {
                let venue = self.venues[usize::from(v)].addr;
                let country = ctx.idx.places[venue.place as usize].country.clone();
                let home = ctx.pools.alloc(venue.place);
                let mut a = blank(rng, budget, home, Role::Venue, &country);
                a.alt = venue;
                a.share = a.rng.range(VENUE_HOME_PCT.0, VENUE_HOME_PCT.1) as u8;
                a.phase = venue_phase(&mut a.rng, a.share);
                a.ua = if a.rng.chance(0.8) {
                    a.rng.below(u64::from(DESKTOP)) as u8
                } else {
                    DESKTOP + a.rng.below(u64::from(PHONE)) as u8
                };
                a
            }
        }
    }

    /// Number of carriers and venues, and their members.
    pub fn sizes(&self) -> (Vec<u64>, Vec<u64>) {
        (
            self.carriers.iter().map(|c| c.members).collect(),
            self.venues.iter().map(|v| v.members).collect(),
        )
    }
}

/// A venue member's phase (see [`Account::home_turn`]) for `share` % home sessions: the
/// first session at the venue, the second at home.
fn venue_phase(rng: &mut Rng, share: u8) -> u8 {
    let h = i64::from(share);
    let lo = (256 * (100 - 2 * h)).max(0) + 99;
    let hi = (256 * (100 - h) + 99) / 100 - 1;
    rng.range(lo / 100, hi).clamp(0, 255) as u8
}

/// A number drawn from `lo..=hi`.
fn draw(rng: &mut Rng, r: &std::ops::RangeInclusive<u32>) -> u64 {
    rng.range(i64::from(*r.start()), i64::from(*r.end())) as u64
}

/// The carriers: mobile places with IPv4 (those with homes nearby first), a pool of
/// `carrier_pool` addresses each, and `subscriber_share` of the ordinary accounts but at least
/// [`SUBSCRIBERS_PER_ADDRESS`] per address, all within [`MAX_SUBSCRIBER_SHARE`].
fn carriers(ctx: &mut Ctx, cfg: &GenConfig, ordinary: u64) -> Vec<Carrier> {
    let idx = &ctx.idx;
    let mut near: HashMap<u32, Vec<u32>> = HashMap::new();
    for &h in idx.homes() {
        for &m in idx.near_mobile(h) {
            near.entry(m).or_default().push(h);
        }
    }
    let mut mobiles: Vec<u32> = (0..idx.places.len() as u32)
        .filter(|&p| {
            let place = &idx.places[p as usize];
            place.class == NetClass::Mobile && place.country != "KP" && ctx.pools.has(p).0
        })
        .collect();
    let n = u64::from(cfg.carriers);
    if mobiles.is_empty() || n == 0 {
        return Vec::new();
    }
    let mut rng = Rng::new(hash(&[cfg.seed, 0xCA22]));
    for i in (1..mobiles.len()).rev() {
        mobiles.swap(i, rng.below(i as u64 + 1) as usize);
    }
    mobiles.sort_by_key(|m| !near.contains_key(m));
    let mut sizes: Vec<u64> = (0..n).map(|_| draw(&mut rng, &cfg.carrier_pool)).collect();
    let share = (cfg.subscriber_share * ordinary as f64 / n as f64).ceil() as u64;
    let mut members: Vec<u64> = sizes
        .iter()
        .map(|s| share.max(SUBSCRIBERS_PER_ADDRESS * s))
        .collect();
    let cap = (MAX_SUBSCRIBER_SHARE * ordinary as f64) as u64;
    if members.iter().sum::<u64>() > cap {
        // Fewer subscribers per carrier, and pools small enough to stay busy.
        for (m, s) in members.iter_mut().zip(&mut sizes) {
            *m = cap / n;
            *s = (*s).min(m.div_ceil(SUBSCRIBERS_PER_ADDRESS).max(1));
        }
    }
    let mut out = Vec::new();
    for c in 0..n as usize {
        if members[c] == 0 {
            continue;
        }
        let place = mobiles[c % mobiles.len()];
        let first = ctx.pools.alloc_run(place, sizes[c] as u32).slot;
        ctx.nat.push(NatPool {
            place,
            first,
            size: sizes[c] as u32,
        });
        out.push(Carrier {
            members: members[c],
            homes: near.get(&place).cloned().unwrap_or_default(),
        });
    }
    out
}

/// The venues: `venues` residential places (with IPv4 when eight tries find one), one address
/// each, `venue_accounts` members each; venues that do not fit in [`MAX_VENUE_SHARE`] of the
/// ordinary accounts are left out (the first one shrinks to fit).
fn venues(ctx: &mut Ctx, cfg: &GenConfig, ordinary: u64) -> Vec<Venue> {
    let mut rng = Rng::new(hash(&[cfg.seed, 0x7E2E]));
    let cap = (MAX_VENUE_SHARE * ordinary as f64) as u64;
    let mut out: Vec<Venue> = Vec::new();
    let mut total = 0;
    for v in 0..cfg.venues {
        let mut members = draw(&mut rng, &cfg.venue_accounts);
        if total + members > cap {
            if v > 0 || cap < 2 {
                break;
            }
            members = cap;
        }
        let mut place = ctx.idx.pick_home(&mut rng);
        for _ in 0..8 {
            if ctx.pools.has(place).0 {
                break;
            }
            place = ctx.idx.pick_home(&mut rng);
        }
        total += members;
        out.push(Venue {
            addr: ctx.pools.alloc(place),
            members,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::pools::Addr;

    #[test]
    fn venue_members_start_at_the_venue_then_go_home_and_keep_their_share() {
        let mut rng = Rng::new(5);
        for share in 30..=60u8 {
            for _ in 0..20 {
                let mut a: Account = blank(rng, 100, Addr::default(), Role::Venue, "US");
                a.share = share;
                a.phase = venue_phase(&mut rng, share);
                let home: Vec<bool> = (0..40)
                    .map(|s| {
                        a.step = s;
                        a.home_turn()
                    })
                    .collect();
                assert!(!home[0] && home[1], "share {share}, phase {}", a.phase);
                for w in home.windows(4) {
                    assert!(w.iter().any(|&h| h) && !w.iter().all(|&h| h), "{w:?}");
                }
                let n = home.iter().filter(|&&h| h).count() as u32;
                assert!(
                    n * 100 / 40 + 3 >= u32::from(share),
                    "{n} of 40 at {share} %"
                );
                assert!(
                    n * 100 / 40 <= u32::from(share) + 3,
                    "{n} of 40 at {share} %"
                );
            }
        }
    }
}
