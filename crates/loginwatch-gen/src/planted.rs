//! Building a planted account: the places its script needs, what it claims, in which language.

use super::account::{Account, Ctx, Role};
use super::index::WorldIndex;
use super::kind::Kind;
use super::plan::blank;
use super::pools::Addr;
use super::profile::DESKTOP;
use super::rng::Rng;

/// Far-away destinations of `impossible_travel` are at least this far (the brief: > 2,000 km,
/// with a margin for GeoIP accuracy radii).
pub const FAR_KM: f64 = 2200.0;

/// A planted account of `kind`, or `None` when the world lacks the places it needs (the
/// account is then an ordinary one). `farm` is the shared address of a `shared_ip` farm.
pub fn planted_account(
    ctx: &mut Ctx,
    mut rng: Rng,
    kind: Kind,
    param: u8,
    farm: Option<Addr>,
) -> Option<Account> {
    let (home_place, alt_place, claim, lang_ko) = places(ctx, &mut rng, kind, farm)?;
    let home = match farm {
        Some(a) => a,
        None => ctx.pools.alloc(home_place),
    };
    let mut a = blank(rng, 0, home, Role::Planted(kind), &claim);
    if let Some(p) = alt_place {
        a.alt = ctx.pools.alloc(p);
    }
    a.param = param;
    a.lang_ko = lang_ko;
    a.ua = a.rng.below(u64::from(DESKTOP)) as u8;
    Some(a)
}

/// (home place, other place, claimed country, prefers Korean) for a kind.
fn places(
    ctx: &Ctx,
    rng: &mut Rng,
    kind: Kind,
    farm: Option<Addr>,
) -> Option<(u32, Option<u32>, String, bool)> {
    let idx = &ctx.idx;
    let country = |p: u32| idx.places[p as usize].country.clone();
    let from = |rng: &mut Rng, list: &[u32]| -> Option<u32> {
        (!list.is_empty()).then(|| list[rng.below(list.len() as u64) as usize])
    };
    match kind {
        Kind::ImpossibleTravel | Kind::ConcurrentIps | Kind::SessionHijack => {
            let min_km = if kind == Kind::ImpossibleTravel {
                FAR_KM
            } else {
                0.0
            };
            (0..8).find_map(|_| {
                let home = idx.pick_home(rng);
                let far = idx.pick_far_home(rng, home, min_km, true)?;
                Some((home, Some(far), country(home), false))
            })
        }
        Kind::AnonymizedIp => {
            let h1 = from(rng, &idx.hosting)?;
            let c = country(h1);
            let h2 = idx
                .pick(rng, &idx.hosting, |p| {
                    p.country == c && p.city != idx.places[h1 as usize].city
                })
                .unwrap_or(h1);
            Some((h1, Some(h2), c, false))
        }
        Kind::LocationMismatch => {
            let home = from(rng, &idx.cn_ru).unwrap_or_else(|| idx.pick_home(rng));
            let here = country(home);
            // Claims Korea, Japan, or the US with a Korean browser; never where it really is.
            let options = [("KR", false), ("JP", false), ("US", true)];
            let start = rng.below(3) as usize;
            let (claim, ko) = (0..3)
                .map(|k| options[(start + k) % 3])
                .find(|o| o.0 != here)?;
            Some((home, None, claim.to_string(), ko))
        }
        Kind::SanctionedRegion => {
            let home = from(rng, &idx.kp)?;
            Some((home, None, "KP".to_string(), false))
        }
        Kind::SharedIp => {
            let place = farm?.place;
            Some((place, None, country(place), false))
        }
        Kind::LongSession => {
            let home = idx.pick_home(rng);
            Some((home, None, country(home), false))
        }
        // Never planted (not in `PLANTED`): it summarises the other kinds.
        Kind::AccountRisk => None,
    }
}

/// A farm's place: a residential place in the US when the world has one (eight tries).
pub fn farm_place(idx: &WorldIndex, rng: &mut Rng) -> u32 {
    let us: Vec<u32> = (0..8)
        .map(|_| idx.pick_home(rng))
        .filter(|&p| idx.places[p as usize].country == "US")
        .collect();
    us.first().copied().unwrap_or_else(|| idx.pick_home(rng))
}
