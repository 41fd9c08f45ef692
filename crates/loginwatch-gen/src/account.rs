//! One account's state (about 64 bytes, so a million accounts fit in tens of megabytes) and the
//! events inside one session: which IP, which device, which event type, and the gap to the next.

use super::index::WorldIndex;
use super::kind::Kind;
use super::pools::{Addr, NatPool, Pools};
use super::profile::{DESKTOP, MIN_MS};
use super::rng::{hash, Rng};
use std::net::IpAddr;

/// Everything an account needs from the world while it runs.
pub struct Ctx<'w> {
    pub idx: WorldIndex<'w>,
    pub pools: Pools,
    /// Standard UTC offset (hours) of every place.
    pub offsets: Vec<f64>,
    /// Where the stream starts and is meant to end; ordinary accounts spread their sessions
    /// up to the end, laptop farms work every working day in between.
    pub start_ms: i64,
    pub span_end: i64,
    /// The carriers' NAT pools, indexed by a subscriber's `param`.
    pub nat: Vec<NatPool>,
}

/// How an account behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// One home IP.
    Home,
    /// A home IPv4 and an IPv6 /64 (privacy addresses change inside it).
    Dual,
    /// Sessions from home or from mobile networks within [`super::index::NEAR_MOBILE_KM`].
    Mobile,
    /// Flies to another city once at a plausible speed and comes back.
    Traveller,
    /// Behind a carrier's NAT (`param` names the pool): each session from an address of the
    /// pool picked anew, now and then (`share` % of sessions) from home.
    Subscriber,
    /// A member of a shared venue (`alt`): venue sessions in working hours, home sessions
    /// (`share` % of sessions) at any waking hour.
    Venue,
    /// Runs the script of a planted anomaly.
    Planted(Kind),
}

/// The shape of a session (see [`Account::what_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// [failed login], login, activities, [logout] from one IP.
    Plain,
    /// Home login and activity, then a login far away ([`Kind::ImpossibleTravel`]).
    Hop,
    /// Logins alternating between two countries minutes apart ([`Kind::ConcurrentIps`]).
    Burst,
    /// A home login whose session id is then used from abroad ([`Kind::SessionHijack`]).
    Hijack,
    /// One login and activity every 20–29 minutes for 28+ hours ([`Kind::LongSession`]).
    Long,
}

/// Session flags.
pub const AT_ALT: u8 = 1;
pub const V6: u8 = 2;
pub const FAIL_FIRST: u8 = 4;
pub const LOGOUT_LAST: u8 = 8;

/// No label: an ordinary account.
pub const NO_LABEL: u32 = u32::MAX;

/// The per-account state.
#[derive(Clone, Debug)]
pub struct Account {
    pub rng: Rng,
    /// Time of the next event.
    pub next_ms: i64,
    /// Events left to emit.
    pub remaining: u32,
    pub home: Addr,
    /// Travel destination, mobile network, foreign party or second hosting network.
    pub alt: Addr,
    /// Index of the account's label, or [`NO_LABEL`].
    pub label: u32,
    pub role: Role,
    /// Script parameter: sessions before the anomaly, the traveller's trip session, or the
    /// subscriber's carrier.
    pub param: u8,
    /// Subscribers and venue members: the percentage of sessions from home, and where in
    /// the cycle of home sessions the account starts (/256; see [`Account::home_turn`]).
    pub share: u8,
    pub phase: u8,
    pub shape: Shape,
    pub step: u16,
    pub pos: u8,
    pub len: u8,
    pub flags: u8,
    pub claim: [u8; 2],
    /// Prefers Korean whatever the claimed country says.
    pub lang_ko: bool,
    pub ua: u8,
}

/// What an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    Login,
    Failure,
    Activity,
    Logout,
}

/// One event, before it is written.
#[derive(Clone, Copy, Debug)]
pub struct Ev {
    pub ts: i64,
    pub ip: IpAddr,
    pub what: What,
    /// Session key (unique per account and session), `None` for failed logins.
    pub session: Option<u32>,
    /// 0: the account's own device; 1: someone else's.
    pub device: u8,
    pub ua: u8,
}

impl Account {
    /// The slot the current position's event comes from.
    pub fn addr_at(&self) -> Addr {
        let alt = match self.shape {
            Shape::Plain | Shape::Long => self.flags & AT_ALT != 0,
            Shape::Hop => self.pos >= 2,
            Shape::Burst => self.pos % 2 == 1,
            Shape::Hijack => self.pos >= 2,
        };
        if alt {
            self.alt
        } else {
            self.home
        }
    }

    /// Whether session `step` of a subscriber or venue member is a home session: `share` %
    /// of the sessions, spread evenly from the account's phase, so any `n` consecutive
    /// sessions hold `n × share / 100` home sessions, rounded down or up.
    pub fn home_turn(&self) -> bool {
        let (h, p) = (u64::from(self.share), u64::from(self.phase));
        let at = |s: u64| (s * h * 256 + p * 100) / 25_600;
        let s = u64::from(self.step);
        at(s + 1) > at(s)
    }

    /// Whether the current session uses a shared address (a farm's, a carrier pool's or a
    /// venue's), which is always IPv4 when the place has IPv4.
    pub fn shared_at(&self) -> bool {
        match self.role {
            Role::Planted(Kind::SharedIp) => true,
            Role::Subscriber | Role::Venue => self.flags & AT_ALT != 0,
            _ => false,
        }
    }

    /// The event type, session sub-key and device at the current position.
    fn what_at(&self) -> (What, u8, u8) {
        let (pos, last) = (self.pos, self.len.saturating_sub(1));
        match self.shape {
            Shape::Plain if pos == 0 && self.flags & FAIL_FIRST != 0 => (What::Failure, 0, 0),
            Shape::Plain => {
                let login_pos = u8::from(self.flags & FAIL_FIRST != 0);
                if pos == login_pos {
                    (What::Login, 0, 0)
                } else if pos == last && self.flags & LOGOUT_LAST != 0 {
                    (What::Logout, 0, 0)
                } else {
                    (What::Activity, 0, 0)
                }
            }
            Shape::Hop => match pos {
                0 => (What::Login, 0, 0),
                1 => (What::Activity, 0, 0),
                2 => (What::Login, 1, 0),
                _ => (What::Activity, 1, 0),
            },
            Shape::Burst => (What::Login, pos, pos % 2),
            Shape::Hijack => match pos {
                0 => (What::Login, 0, 0),
                1 => (What::Activity, 0, 0),
                _ => (What::Activity, 0, 1),
            },
            Shape::Long if pos == 0 => (What::Login, 0, 0),
            Shape::Long => (What::Activity, 0, 0),
        }
    }

    /// The event at the current position (does not advance).
    pub fn event(&self, id: u32, pools: &Pools) -> Ev {
        let (what, sub, device) = self.what_at();
        let a = self.addr_at();
        let iid = hash(&[u64::from(id), u64::from(self.step)]);
        let ip = if self.shared_at() {
            pools.any(a, iid)
        } else {
            pools.ip(a, iid, self.flags & V6 != 0 && a == self.home)
        };
        let session = (what != What::Failure).then_some(u32::from(self.step) << 8 | u32::from(sub));
        let ua = if device == 1 {
            (self.ua + 3) % DESKTOP
        } else {
            self.ua
        };
        Ev {
            ts: self.next_ms,
            ip,
            what,
            session,
            device,
            ua,
        }
    }

    /// The gap (ms) from the current position to the next one in the same session; `km` is the
    /// distance between home and alt (used by [`Shape::Hop`]).
    pub fn gap_ms(&mut self, km: f64) -> i64 {
        let r = &mut self.rng;
        let mins = |r: &mut Rng, lo: i64, hi: i64| r.range(lo * MIN_MS, hi * MIN_MS);
        match (self.shape, self.pos) {
            (Shape::Plain, 0) if self.flags & FAIL_FIRST != 0 => r.range(5_000, 60_000),
            (Shape::Plain, p) if p + 2 == self.len && self.flags & LOGOUT_LAST != 0 => {
                mins(r, 1, 10)
            }
            (Shape::Plain, _) => mins(r, 1, 25),
            (Shape::Hop, 0) => mins(r, 2, 5),
            // Home login → far login: 40 min .. min(3 h, distance / 2,500 km/h) − the 5 min
            // already spent, so the speed is at least 2,500 km/h and no 30-minute window holds
            // both countries.
            (Shape::Hop, 1) => {
                let max = ((km / 2500.0 * 60.0) as i64 - 5).min(175);
                mins(r, 40, max.max(40))
            }
            (Shape::Hop, _) => mins(r, 3, 15),
            (Shape::Burst, _) => mins(r, 1, 3),
            (Shape::Hijack, 0) => mins(r, 2, 6),
            (Shape::Hijack, 1) => mins(r, 20, 40),
            (Shape::Hijack, _) => mins(r, 5, 15),
            (Shape::Long, _) => mins(r, 20, 29),
        }
    }
}
