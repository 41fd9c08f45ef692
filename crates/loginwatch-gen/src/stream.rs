//! The generator loop: every account's next event in one binary heap, popped in time order,
//! written as it is made. State is O(accounts); nothing grows with the number of events.

use super::account::{Account, Ctx, Role, NO_LABEL};
use super::benign::{Crowds, Member};
use super::emit::{write_line, Keys};
use super::index::WorldIndex;
use super::kind::Kind;
use super::plan::{first_start, ordinary, weight, Cast, MAX_PLANTED_SHARE};
use super::planted::planted_account;
use super::pools::{Addr, Pools};
use super::profile::{zone, DAY_MS, MIN_MS};
use super::rng::{hash, Rng};
use super::script::{events_per_session, planted_budget};
use super::{GenConfig, Label, Labels};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write};

/// Share of ordinary accounts' events written late, and the most they are late by.
pub const LATE_SHARE: f64 = 0.001;
pub const MAX_LATE_MS: i64 = 2 * MIN_MS;

/// A generation run in progress.
pub struct Generator<'w> {
    pub(crate) ctx: Ctx<'w>,
    pub(crate) accounts: Vec<Account>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    /// Events held back to be written late: (release time, sequence, line), sorted.
    late: VecDeque<(i64, u64, Vec<u8>)>,
    rng: Rng,
    keys: Keys,
    /// Members per carrier and per venue, as cast.
    pub crowds: (Vec<u64>, Vec<u64>),
    seq: u64,
    buf: Vec<u8>,
    pub labels: Labels,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

impl<'w> Generator<'w> {
    /// Casts and schedules every account; fails on a configuration or world it cannot use.
    pub fn new(cfg: &GenConfig, places: &'w [super::Place]) -> io::Result<Self> {
        let problems = cfg.problems();
        if !problems.is_empty() {
            return Err(invalid(&problems.join("; ")));
        }
        let idx = WorldIndex::new(places)
            .ok_or_else(|| invalid("the world has no residential or mobile place"))?;
        let avg = cfg.events as f64 / cfg.accounts.max(1) as f64;
        let span = (avg / 7.0).ceil().clamp(2.0, 28.0) as i64 * DAY_MS;
        let offsets = places.iter().map(|p| zone(&p.country, p.lon).1).collect();
        let ctx = Ctx {
            idx,
            pools: Pools::new(places),
            offsets,
            start_ms: cfg.start_ms,
            span_end: cfg.start_ms + span,
            nat: Vec::new(),
        };
        let mut g = Generator {
            ctx,
            accounts: Vec::with_capacity(cfg.accounts as usize),
            heap: BinaryHeap::with_capacity(cfg.accounts as usize),
            late: VecDeque::new(),
            rng: Rng::new(hash(&[cfg.seed, 0x1A7E])),
            keys: Keys::new(cfg.seed),
            crowds: (Vec::new(), Vec::new()),
            seq: 0,
            buf: Vec::with_capacity(1024),
            labels: Labels::default(),
        };
        g.cast(cfg, span);
        Ok(g)
    }

    /// Builds every account in index order and puts its first event in the heap.
    fn cast(&mut self, cfg: &GenConfig, span: i64) {
        let ctx = &self.ctx;
        let mut cast = Cast::new(&ctx.idx, cfg, &ctx.offsets, ctx.span_end);
        let planted_events = cast.fit((cfg.events as f64 * MAX_PLANTED_SHARE) as u64, cfg.seed);
        let ordinary_events = u128::from(cfg.events - planted_events);
        let role = |i: u64| {
            cast.slot(i)
                .and_then(|s| cast.kind(s).map(|(k, f)| (s, k, f)))
        };
        let ordinary_count = (0..cfg.accounts).filter(|&i| role(i).is_none()).count();
        let crowds = Crowds::new(&mut self.ctx, cfg, ordinary_count as u64);
        self.crowds = crowds.sizes();
        // The weight of account `i`, the `j`-th ordinary one (venue members weigh more).
        let weigh = |j: u64, i: u64| crowds.weight(j, weight(cfg.seed, i));
        let total_weight: u64 = (0..cfg.accounts)
            .filter(|&i| role(i).is_none())
            .enumerate()
            .map(|(j, i)| weigh(j as u64, i))
            .sum();
        let (mut cum, mut given, mut j) = (0u64, 0u64, 0u64);
        let mut farms = Vec::new();
        for i in 0..cfg.accounts {
            let rng = Rng::new(hash(&[cfg.seed, i]));
            let (mut a, t0) = match role(i) {
                Some((slot, kind, farm)) => {
                    let p = cast.param(cfg.seed, slot, kind);
                    let farm = (kind == Kind::SharedIp).then(|| self.farm(&mut farms, &cast, farm));
                    self.plant(cfg, span, rng, (kind, p), farm, i as u32)
                }
                None => {
                    // Cumulative rounding: the budgets add up to exactly `ordinary_events`.
                    cum += weigh(j, i);
                    let upto = u128::from(cum) * ordinary_events / u128::from(total_weight);
                    let budget = (upto as u64 - given) as u32;
                    given = upto as u64;
                    let member = crowds.member(j).map(|m| (&crowds, m));
                    j += 1;
                    self.ordinary_at(cfg, span, rng, budget, member)
                }
            };
            if a.remaining > 0 {
                a.begin(&mut self.ctx, t0, None);
                self.heap.push(Reverse((a.next_ms, i as u32)));
            }
            self.accounts.push(a);
        }
    }

    /// An ordinary account with `budget` events (a crowd member when `crowd` says so) and its
    /// first session time.
    fn ordinary_at(
        &mut self,
        cfg: &GenConfig,
        span: i64,
        mut rng: Rng,
        budget: u32,
        crowd: Option<(&Crowds, Member)>,
    ) -> (Account, i64) {
        let role = match crowd {
            Some((_, Member::Subscriber(_))) => Role::Subscriber,
            _ => Role::Home,
        };
        let per_session = events_per_session(role);
        let t0 = first_start(&mut rng, cfg.start_ms, span, budget, per_session);
        let a = match crowd {
            Some((c, m)) => c.account(&mut self.ctx, m, rng, budget),
            None => ordinary(&mut self.ctx, rng, budget),
        };
        (a, t0)
    }

    /// A planted account (labelled) of `kind` with script parameter `p`, or an ordinary one
    /// with the same budget when the world lacks its places. A farm worker starts with the
    /// stream and works on the farm's working days.
    fn plant(
        &mut self,
        cfg: &GenConfig,
        span: i64,
        rng: Rng,
        (kind, p): (Kind, u8),
        farm: Option<Addr>,
        id: u32,
    ) -> (Account, i64) {
        let budget = planted_budget(kind, p);
        let Some(mut a) = planted_account(&mut self.ctx, rng, kind, p, farm) else {
            return self.ordinary_at(cfg, span, rng, budget, None);
        };
        a.remaining = budget;
        a.label = self.labels.accounts.len() as u32;
        self.labels.accounts.push(Label::new(id, kind));
        let t0 = match farm {
            Some(_) => cfg.start_ms,
            None => cfg.start_ms + a.rng.range(0, span / 2),
        };
        (a, t0)
    }

    /// The shared address of farm `n`, allocated on first use.
    fn farm(&mut self, farms: &mut Vec<Addr>, cast: &Cast, n: u64) -> Addr {
        while farms.len() as u64 <= n {
            let place = cast.farms[farms.len()].place;
            farms.push(self.ctx.pools.alloc(place));
        }
        farms[n as usize]
    }
}

impl Generator<'_> {
    /// Writes the next event (or holds it back to write it late); false when all are written.
    pub fn step(&mut self, out: &mut dyn Write) -> io::Result<bool> {
        let Some(Reverse((ts, id))) = self.heap.pop() else {
            return Ok(false);
        };
        self.release_late(Some(ts), out)?;
        let a = &mut self.accounts[id as usize];
        let ev = a.event(id, &self.ctx.pools);
        let lon = self.ctx.idx.places[a.home.place as usize].lon;
        self.buf.clear();
        write_line(&mut self.buf, self.keys, self.seq, id, a, &ev, lon);
        self.seq += 1;
        if a.label != NO_LABEL {
            self.labels.accounts[a.label as usize].saw(ts);
        }
        // Only ordinary accounts' events are late, so planted anomalies stay unambiguous.
        if a.label == NO_LABEL && self.rng.chance(LATE_SHARE) {
            let release = ts + self.rng.range(5_000, MAX_LATE_MS);
            let at = self
                .late
                .partition_point(|l| (l.0, l.1) <= (release, self.seq));
            self.late.insert(at, (release, self.seq, self.buf.clone()));
        } else {
            out.write_all(&self.buf)?;
        }
        if a.advance(&mut self.ctx) {
            self.heap.push(Reverse((a.next_ms, id)));
        }
        Ok(true)
    }

    /// Writes held-back events released by time `now` (all of them when `None`).
    pub fn release_late(&mut self, now: Option<i64>, out: &mut dyn Write) -> io::Result<()> {
        while let Some(front) = self.late.front() {
            if now.is_some_and(|t| front.0 > t) {
                break;
            }
            if let Some((_, _, line)) = self.late.pop_front() {
                out.write_all(&line)?;
            }
        }
        Ok(())
    }

    /// Bytes of generator state: accounts, heap, held-back events and labels. It depends on
    /// the number of accounts and planted anomalies, never on the number of events (the
    /// memory test's measure).
    #[cfg(test)]
    pub fn state_bytes(&self) -> usize {
        self.accounts.capacity() * std::mem::size_of::<Account>()
            + self.heap.capacity() * std::mem::size_of::<Reverse<(i64, u32)>>()
            + self.late.iter().map(|l| l.2.capacity() + 32).sum::<usize>()
            + self.labels.accounts.capacity() * std::mem::size_of::<Label>()
            + self.ctx.offsets.capacity() * 8
            + self.ctx.nat.capacity() * std::mem::size_of::<super::pools::NatPool>()
    }

    /// Events written or held so far.
    #[cfg(test)]
    pub fn written(&self) -> u64 {
        self.seq
    }
}
