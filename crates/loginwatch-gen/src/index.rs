//! Which places can play which part: homes, mobile networks near a home, far destinations,
//! hosting networks, and the countries some planted anomalies need (CN/RU, KP).

use super::rng::Rng;
use super::world::{place_km, NetClass, Place};

/// Mobile networks within this distance of a home are "nearby": two of them are then at most
/// 90 km apart, under the 100 km distance floor of CONTRACT §4.
pub const NEAR_MOBILE_KM: f64 = 45.0;

/// Place lists by role, built once per run; O(places) memory.
#[derive(Clone, Debug)]
pub struct WorldIndex<'w> {
    pub places: &'w [Place],
    /// Home candidates (residential, not KP) and the running sum of their network counts, so a
    /// city with more networks gets more accounts.
    homes: Vec<(u32, u64)>,
    home_ids: Vec<u32>,
    /// Non-hosting, non-KP places: where ordinary people and the planted accounts' victims are.
    pub usable: Vec<u32>,
    pub hosting: Vec<u32>,
    pub kp: Vec<u32>,
    pub cn_ru: Vec<u32>,
    /// For each place, the mobile places of its country within [`NEAR_MOBILE_KM`].
    near_mobile: Vec<Vec<u32>>,
}

fn is_kp(p: &Place) -> bool {
    p.country == "KP"
}

impl<'w> WorldIndex<'w> {
    /// Indexes a world; `None` when it has no place a normal account can live in.
    pub fn new(places: &'w [Place]) -> Option<Self> {
        let ids = |f: &dyn Fn(&Place) -> bool| -> Vec<u32> {
            (0..places.len() as u32)
                .filter(|&i| f(&places[i as usize]) && !places[i as usize].networks.is_empty())
                .collect()
        };
        let usable = ids(&|p| p.class != NetClass::Hosting && !is_kp(p));
        let mut home_ids = ids(&|p| p.class == NetClass::Residential && !is_kp(p));
        if home_ids.is_empty() {
            home_ids = usable.clone();
        }
        let mut sum = 0;
        let homes = home_ids
            .iter()
            .map(|&i| {
                sum += places[i as usize].networks.len() as u64;
                (i, sum)
            })
            .collect::<Vec<_>>();
        let near_mobile = near_mobile(places);
        let idx = WorldIndex {
            places,
            hosting: ids(&|p| p.class == NetClass::Hosting),
            kp: ids(&|p| is_kp(p) && p.class != NetClass::Hosting),
            cn_ru: ids(&|p| {
                matches!(p.country.as_str(), "CN" | "RU") && p.class == NetClass::Residential
            }),
            usable,
            homes,
            home_ids,
            near_mobile,
        };
        (!idx.homes.is_empty()).then_some(idx)
    }

    /// A home place, weighted by its number of networks.
    pub fn pick_home(&self, rng: &mut Rng) -> u32 {
        let total = self.homes.last().map_or(1, |h| h.1);
        let k = rng.below(total);
        self.homes[self.homes.partition_point(|h| h.1 <= k)].0
    }

    /// Every home candidate (residential, not KP).
    pub fn homes(&self) -> &[u32] {
        &self.home_ids
    }

    /// Nearby mobile places of `home` (possibly empty).
    pub fn near_mobile(&self, home: u32) -> &[u32] {
        &self.near_mobile[home as usize]
    }

    /// A place from `list` that satisfies `ok`: random tries first, then a scan from a random
    /// start, so the answer is found whenever one exists.
    pub fn pick(&self, rng: &mut Rng, list: &[u32], ok: impl Fn(&Place) -> bool) -> Option<u32> {
        if list.is_empty() {
            return None;
        }
        for _ in 0..32 {
            let i = list[rng.below(list.len() as u64) as usize];
            if ok(&self.places[i as usize]) {
                return Some(i);
            }
        }
        let start = rng.below(list.len() as u64) as usize;
        (0..list.len())
            .map(|k| list[(start + k) % list.len()])
            .find(|&i| ok(&self.places[i as usize]))
    }

    /// A usable place at least `min_km` from `from`, in another country when `foreign`.
    pub fn pick_far(&self, rng: &mut Rng, from: u32, min_km: f64, foreign: bool) -> Option<u32> {
        self.pick_far_in(rng, &self.usable, from, min_km, foreign)
    }

    /// A home place (residential, precisely located) at least `min_km` from `from`, in another
    /// country when `foreign`: the far end of planted anomalies.
    pub fn pick_far_home(
        &self,
        rng: &mut Rng,
        from: u32,
        min_km: f64,
        foreign: bool,
    ) -> Option<u32> {
        self.pick_far_in(rng, &self.home_ids, from, min_km, foreign)
    }

    fn pick_far_in(
        &self,
        rng: &mut Rng,
        list: &[u32],
        from: u32,
        min_km: f64,
        foreign: bool,
    ) -> Option<u32> {
        let a = &self.places[from as usize];
        self.pick(rng, list, |b| {
            (!foreign || b.country != a.country) && place_km(a, b) >= min_km
        })
    }

    /// The distance between two places in km.
    pub fn km(&self, a: u32, b: u32) -> f64 {
        place_km(&self.places[a as usize], &self.places[b as usize])
    }
}

/// For each place, the mobile places of the same country within [`NEAR_MOBILE_KM`]; mobile
/// places are sorted by latitude per country so only a narrow band is compared.
fn near_mobile(places: &[Place]) -> Vec<Vec<u32>> {
    let mut mobiles: Vec<u32> = (0..places.len() as u32)
        .filter(|&i| {
            let p = &places[i as usize];
            p.class == NetClass::Mobile && !is_kp(p) && !p.networks.is_empty()
        })
        .collect();
    let key = |i: &u32| (places[*i as usize].country.clone(), places[*i as usize].lat);
    mobiles.sort_by(|a, b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let band = NEAR_MOBILE_KM / 111.0 + 0.01;
    places
        .iter()
        .map(|p| {
            let lo = mobiles.partition_point(|&m| key(&m) < (p.country.clone(), p.lat - band));
            mobiles[lo..]
                .iter()
                .copied()
                .take_while(|&m| key(&m) <= (p.country.clone(), p.lat + band))
                .filter(|&m| place_km(p, &places[m as usize]) <= NEAR_MOBILE_KM)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::world_from_networks;
    use NetClass::*;

    #[test]
    fn roles_and_neighbours() {
        let rows = [
            (
                "198.51.100.0/24",
                40.71,
                -74.0,
                "US",
                "New York",
                Residential,
            ),
            ("203.0.113.0/24", 40.75, -73.9, "US", "New York", Mobile),
            ("192.0.2.0/24", 42.36, -71.06, "US", "Boston", Mobile),
            ("100.64.0.0/24", 39.04, -77.49, "US", "Ashburn", Hosting),
            (
                "175.45.176.0/22",
                39.03,
                125.75,
                "KP",
                "Pyongyang",
                Residential,
            ),
            ("1.0.1.0/24", 41.8, 123.4, "CN", "Shenyang", Residential),
        ];
        let rows: Vec<_> = rows
            .iter()
            .map(|(n, a, b, c, d, e)| (n.parse().unwrap(), *a, *b, *c, *d, *e))
            .collect();
        let w = world_from_networks(&rows);
        let idx = WorldIndex::new(&w.places).unwrap();
        assert_eq!(idx.near_mobile(0), &[1]);
        assert_eq!(
            (idx.hosting.len(), idx.kp.len(), idx.cn_ru.len()),
            (1, 1, 1)
        );
        let mut rng = Rng::new(1);
        for _ in 0..50 {
            assert!(matches!(idx.pick_home(&mut rng), 0 | 5));
        }
        assert_eq!(idx.pick_far(&mut rng, 0, 5000.0, true), Some(5));
        assert_eq!(idx.pick_far(&mut rng, 0, 20_000.0, true), None);
    }
}
