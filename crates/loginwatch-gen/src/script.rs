//! Session planning: what each role's next session looks like, where it happens and when it
//! starts — in local waking hours, and never sooner than a plane could get there.

use super::account::{Account, Ctx, Role, Shape, AT_ALT, FAIL_FIRST, LOGOUT_LAST, V6};
use super::kind::Kind;
use super::profile::{awake, workday, working, HOUR_MS, MIN_MS};

/// A laptop farm's workers log in twice per working day, at 08:00–09:30 and 13:00–14:30 local
/// time, and are done by 16:00 (three events per session, minutes apart).
pub const FARM_SESSIONS_PER_DAY: u8 = 2;
pub const FARM_FROM_MS: i64 = 8 * HOUR_MS;
pub const FARM_UNTIL_MS: i64 = 16 * HOUR_MS;

/// Mean events per session of an ordinary role: phone sessions behind a carrier's NAT are
/// short (1–4 events), the others 1–9.
pub fn events_per_session(role: Role) -> f64 {
    if role == Role::Subscriber {
        2.5
    } else {
        5.0
    }
}

/// Door-to-door travel time between places `km` apart: 2 h of airports and roads plus the
/// flight at 600 km/h, so ordinary travel stays under 600 km/h however it is measured.
pub fn travel_ms(km: f64) -> i64 {
    if km < 100.0 {
        return 0;
    }
    2 * HOUR_MS + (km / 600.0 * HOUR_MS as f64) as i64
}

/// Events a planted account emits in total (its script's session lengths added up).
pub fn planted_budget(kind: Kind, param: u8) -> u32 {
    (0..)
        .map_while(|s| planted(kind, param, s))
        .map(|(_, len, _)| u32::from(len))
        .sum()
}

/// The planted script: session `step` of an account of `kind` → (shape, length, from alt).
/// `param` is the number of ordinary sessions before the anomaly (or the session count; a
/// farm worker's is [`FARM_SESSIONS_PER_DAY`] per working day).
pub fn planted(kind: Kind, param: u8, step: u16) -> Option<(Shape, u8, bool)> {
    let (p, s) = (u16::from(param), step);
    let plain = |alt| Some((Shape::Plain, 3, alt));
    match kind {
        Kind::ImpossibleTravel if s < p => plain(false),
        Kind::ImpossibleTravel if s == p => Some((Shape::Hop, 5, false)),
        Kind::ImpossibleTravel if s == p + 1 => plain(true),
        Kind::ConcurrentIps if s < p || s == p + 1 => plain(false),
        Kind::ConcurrentIps if s == p => Some((Shape::Burst, 4, false)),
        Kind::SessionHijack if s < p || s == p + 1 => plain(false),
        Kind::SessionHijack if s == p => Some((Shape::Hijack, 5, false)),
        Kind::AnonymizedIp if s < p => plain(s % 2 == 1),
        Kind::LocationMismatch | Kind::SanctionedRegion if s < p => plain(false),
        Kind::SharedIp if s < p => plain(false),
        Kind::LongSession if s == 0 => Some((Shape::Long, 84, false)),
        _ => None,
    }
}

impl Account {
    /// Sets up session `self.step`: shape, length, flags and start time, no earlier than
    /// `earliest` and, when it happens elsewhere than `last` (time, place), no earlier than
    /// travel allows.
    pub fn begin(&mut self, ctx: &mut Ctx, earliest: i64, last: Option<(i64, u32)>) {
        let (shape, len, flags) = self.spec(ctx);
        self.shape = shape;
        self.flags = flags;
        self.pos = 0;
        self.len = len.min(self.remaining.min(255) as u8).max(1);
        if self.len < len && shape != Shape::Plain {
            // A special session must be whole; a truncated one becomes plain.
            self.shape = Shape::Plain;
            self.flags &= AT_ALT;
        }
        let place = self.addr_at().place;
        let mut t = earliest;
        if let Some((ts, from)) = last {
            t = t.max(ts + travel_ms(ctx.idx.km(from, place)));
        }
        let off = ctx.offsets[place as usize];
        match self.role {
            Role::Planted(Kind::SharedIp) => t = t.max(self.farm_time(ctx, off)),
            Role::Venue if self.flags & AT_ALT != 0 => {
                let jitter = self.rng.range(0, 120 * MIN_MS);
                t = working(t, off, jitter);
            }
            _ => {
                let jitter = self.rng.range(0, 150 * MIN_MS);
                t = awake(t, off, jitter);
            }
        }
        self.next_ms = t;
    }

    /// A farm worker's session `step`: the morning or afternoon session of working day
    /// `step / 2` in the farm's zone (see [`FARM_FROM_MS`]).
    fn farm_time(&mut self, ctx: &Ctx, offset_h: f64) -> i64 {
        let per_day = u16::from(FARM_SESSIONS_PER_DAY);
        let day = workday(
            ctx.start_ms,
            offset_h,
            FARM_FROM_MS,
            u32::from(self.step / per_day),
        );
        let at = FARM_FROM_MS + i64::from(self.step % per_day) * 5 * HOUR_MS;
        day + at + self.rng.range(0, 90 * MIN_MS)
    }

    /// Moves past the event just emitted; false when the account has nothing left to emit.
    pub fn advance(&mut self, ctx: &mut Ctx) -> bool {
        self.remaining = self.remaining.saturating_sub(1);
        if self.remaining == 0 {
            return false;
        }
        let ts = self.next_ms;
        if self.pos + 1 < self.len {
            let km = match self.shape {
                Shape::Hop => ctx.idx.km(self.home.place, self.alt.place),
                _ => 0.0,
            };
            self.next_ms = ts + self.gap_ms(km);
            self.pos += 1;
            return true;
        }
        let from = self.addr_at().place;
        let gap = match self.role {
            // The farm's working days set the time (see `begin`).
            Role::Planted(Kind::SharedIp) => 0,
            Role::Planted(_) => self.rng.range(6 * HOUR_MS, 20 * HOUR_MS),
            _ => self.ordinary_gap(ctx, ts),
        };
        self.step = self.step.saturating_add(1);
        self.begin(ctx, ts + gap, Some((ts, from)));
        true
    }

    /// The gap before an ordinary account's next session: its remaining sessions spread over
    /// what is left of the stream's span ([`events_per_session`]).
    fn ordinary_gap(&mut self, ctx: &Ctx, now: i64) -> i64 {
        let per = events_per_session(self.role);
        let sessions = (f64::from(self.remaining) / per).max(1.0);
        let mean = if now < ctx.span_end {
            (((ctx.span_end - now) as f64 / sessions) as i64).max(30 * MIN_MS)
        } else {
            6 * HOUR_MS
        };
        let g = (mean as f64 * (0.2 + 1.6 * self.rng.unit())) as i64;
        g.max(20 * MIN_MS)
    }

    /// Shape, length and flags of the next session; may move the account to a new network.
    fn spec(&mut self, ctx: &mut Ctx) -> (Shape, u8, u8) {
        if let Role::Planted(kind) = self.role {
            let (shape, len, alt) =
                planted(kind, self.param, self.step).unwrap_or((Shape::Plain, 3, false));
            if kind == Kind::AnonymizedIp {
                // VPN hopping: every session from a fresh address of a hosting network.
                let target = if alt { &mut self.alt } else { &mut self.home };
                *target = ctx.pools.alloc(target.place);
            }
            return (shape, len, if alt { AT_ALT } else { 0 });
        }
        let home = self.home_turn();
        let r = &mut self.rng;
        let longest = if self.role == Role::Subscriber { 4 } else { 9 };
        let len = 1 + r.below(longest) as u8;
        let mut flags = 0;
        if len >= 2 && r.chance(0.06) {
            flags |= FAIL_FIRST;
        }
        if len >= 3 && r.chance(0.3) {
            flags |= LOGOUT_LAST;
        }
        match self.role {
            Role::Dual if r.chance(0.5) => flags |= V6,
            Role::Mobile if r.chance(0.55) => {
                flags |= AT_ALT;
                let near = ctx.idx.near_mobile(self.home.place);
                if !near.is_empty() && r.chance(0.5) {
                    let place = near[r.below(near.len() as u64) as usize];
                    self.alt = ctx.pools.alloc(place);
                }
            }
            Role::Subscriber if !home => {
                // Carrier-grade NAT: an address of the pool, handed out anew each session.
                flags |= AT_ALT;
                if let Some(p) = ctx.nat.get(usize::from(self.param)) {
                    self.alt = p.addr(r.below(u64::from(p.size)) as u32);
                }
            }
            Role::Venue if !home => flags |= AT_ALT,
            Role::Traveller if self.step == u16::from(self.param) => {
                return (Shape::Plain, len.min(3), flags | AT_ALT);
            }
            _ => {}
        }
        (Shape::Plain, len, flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_follow_the_scripts() {
        assert_eq!(planted_budget(Kind::ImpossibleTravel, 2), 6 + 5 + 3);
        assert_eq!(planted_budget(Kind::ConcurrentIps, 3), 9 + 4 + 3);
        assert_eq!(planted_budget(Kind::SessionHijack, 2), 6 + 5 + 3);
        assert_eq!(planted_budget(Kind::AnonymizedIp, 4), 12);
        assert_eq!(planted_budget(Kind::SharedIp, 10), 30);
        assert_eq!(planted_budget(Kind::LongSession, 0), 84);
        assert_eq!(planted_budget(Kind::SanctionedRegion, 3), 9);
    }

    #[test]
    fn travel_is_plausible() {
        assert_eq!(travel_ms(50.0), 0);
        for km in [100.0, 800.0, 5_000.0, 19_000.0] {
            let speed = km / (travel_ms(km) as f64 / HOUR_MS as f64);
            assert!(speed < 600.0, "{km} km at {speed} km/h");
        }
    }
}
