//! [`Pipeline`]: bytes → [`decode`] (with a size limit; a vendor's records through
//! [`decode_as`]) → [`Locate`] → [`Engine`], a [`Group`] of lines at a time; the one path both
//! drivers (`replay` and the Kafka service) use, so they produce the same alerts. Its
//! [`Decoder`] stage can run on a thread of its own ([`Pipeline::observe_group`]).

use crate::Engine;
use loginwatch_geo::Login;
use loginwatch_model::{decode, decode_as, decode_into, Alert, Decoded, Format, LoginEvent};
use loginwatch_model::{EventTime, Reject, Skip};
use loginwatch_storage::hint::STAGES;
use std::net::IpAddr;

/// Turns an event into a located [`Login`]. The binary implements it over the GeoIP locator;
/// any `Fn(LoginEvent) -> Login` closure is one too.
pub trait Locate {
    /// Locates one event (never fails: an unknown place is `location: None`).
    fn locate(&self, event: LoginEvent) -> Login;

    /// Locates `login.event` in place (its `location` and `net` are overwritten), with access
    /// to this locator's own state (e.g. a per-worker cache); must answer as
    /// [`Locate::locate`] does. The pipeline calls this one: its events stay where they were
    /// decoded.
    fn locate_in(&mut self, login: &mut Login) {
        let unset = LoginEvent::login("", IpAddr::from([0, 0, 0, 0]), EventTime(0), "");
        let event = std::mem::replace(&mut login.event, unset);
        *login = self.locate(event);
    }

    /// Starts loading the memory that locating `event` will read, one level per `stage` (see
    /// [`loginwatch_storage::hint`]); a hint, none by default.
    fn prefetch(&self, _event: &LoginEvent, _stage: usize) {}

    /// Starts loading, for a whole group at once, what locating its events will read that
    /// lies too many loads deep for the stages (database tree walks), so the group's misses
    /// overlap; called after the [`Locate::prefetch`] stages. A hint, none by default.
    fn prefetch_group(&mut self, _logins: &[Login]) {}
}

/// What a driver does around each event of a group ([`Pipeline::process_group_with`]);
/// `()` does nothing.
pub trait GroupHooks {
    /// Whether the restored state of `account` already holds line `line`'s event (a driver
    /// restoring from a changelog re-reads events some accounts' records were written
    /// after): then the event only moves the engine's clocks ([`Engine::observe_applied`]).
    fn applied(&mut self, _line: usize, _account: &str) -> bool {
        false
    }

    /// Called once line `line`'s event went through `engine`, before the next one does (e.g.
    /// to take the network-stage visits it made, numbered by the line's message).
    fn after(&mut self, _line: usize, _engine: &mut Engine) {}
}

impl GroupHooks for () {}

impl<F: Fn(LoginEvent) -> Login> Locate for F {
    fn locate(&self, event: LoginEvent) -> Login {
        self(event)
    }
}

/// The decoding stage of a [`Pipeline`]: records of one [`Format`] into events. A driver
/// can run it on a thread of its own and hand the [`Group`]s it fills to the pipeline.
#[derive(Debug, Clone)]
pub struct Decoder {
    format: Format,
    max_event_bytes: usize,
    /// Records skipped (not login events), by [`Skip::CODES`].
    skipped: [u64; Skip::CODES.len()],
}

impl Decoder {
    /// A decoder of `format` records, rejecting those over `max_event_bytes`.
    pub fn new(format: Format, max_event_bytes: usize) -> Decoder {
        Decoder {
            format,
            max_event_bytes,
            skipped: [0; Skip::CODES.len()],
        }
    }

    /// Decodes `lines` into `group` (whatever it held is forgotten; the buffers of the events
    /// it held are reused): its events in line order, and each line's result, `Ok(0)` until
    /// [`Pipeline::observe_group`] counts its alerts, or its [`Reject`].
    pub fn decode(&mut self, lines: &[&[u8]], group: &mut Group) {
        group.lines_of.clear();
        group.results.clear();
        for (i, bytes) in lines.iter().enumerate() {
            let result = self.decode_one(i, bytes, group);
            group.results.push(result.map(|_| 0));
        }
    }

    /// Decodes `bytes`, line `line`, as the group's next event, into the buffers of the event
    /// that slot held last (contract events) or as a new one; nothing for a vendor's record
    /// that is not a login event (counted).
    fn decode_one(&mut self, line: usize, bytes: &[u8], group: &mut Group) -> Result<(), Reject> {
        let slot = group.logins.get_mut(group.lines_of.len());
        if self.format != Format::Loginwatch {
            let event = match decode_as(self.format, bytes, self.max_event_bytes)? {
                Decoded::Event(event) => event,
                Decoded::Skipped(skip) => {
                    let code = Skip::CODES.iter().position(|c| *c == skip.code());
                    self.skipped[code.unwrap_or(0)] += 1;
                    return Ok(());
                }
            };
            match slot {
                Some(login) => login.event = event,
                None => group.logins.push(unlocated(event)),
            }
        } else {
            match slot {
                Some(login) => decode_into(bytes, self.max_event_bytes, &mut login.event)?,
                None => group
                    .logins
                    .push(unlocated(decode(bytes, self.max_event_bytes)?)),
            }
        }
        group.lines_of.push(line);
        Ok(())
    }

    /// The records skipped so far because they are not login events, by [`Skip::code`] (in
    /// [`Skip::CODES`] order).
    pub fn skipped(&self) -> [(&'static str, u64); Skip::CODES.len()] {
        std::array::from_fn(|i| (Skip::CODES[i], self.skipped[i]))
    }
}

/// A group of records a [`Decoder`] decoded, then observed by [`Pipeline::observe_group`];
/// reused from group to group (it keeps its events' buffers).
#[derive(Debug, Default)]
pub struct Group {
    /// The group's events, located in place when observed; the first `lines_of.len()` are
    /// this group's (not yet observed), the others' buffers wait for the next decode.
    logins: Vec<Login>,
    /// The line index of each of the group's events (none once observed).
    lines_of: Vec<usize>,
    results: Vec<Result<usize, Reject>>,
}

/// A decoded event, not yet located.
fn unlocated(event: LoginEvent) -> Login {
    Login {
        event,
        location: None,
        net: Default::default(),
    }
}

impl Group {
    /// Each line's outcome once the group was observed, in order: the alerts it caused,
    /// taken in turn from `alerts` (what the observation appended, oldest first), or its
    /// reject.
    pub fn outcomes<'a>(
        &'a self,
        mut alerts: &'a [Alert],
    ) -> impl Iterator<Item = Result<&'a [Alert], &'a Reject>> {
        self.results.iter().map(move |result| match result {
            Ok(n) => {
                let (now, rest) = alerts.split_at(*n);
                alerts = rest;
                Ok(now)
            }
            Err(reject) => Err(reject),
        })
    }
}

/// Decoding, locating and detection for one shard of the stream.
#[derive(Debug)]
pub struct Pipeline<L: Locate> {
    locator: L,
    engine: Engine,
    decoder: Decoder,
    /// The group in flight ([`Pipeline::process_group`]).
    group: Group,
}

impl<L: Locate> Pipeline<L> {
    /// A pipeline rejecting messages over `max_event_bytes`.
    pub fn new(locator: L, engine: Engine, max_event_bytes: usize) -> Self {
        Pipeline {
            locator,
            engine,
            decoder: Decoder::new(Format::Loginwatch, max_event_bytes),
            group: Group::default(),
        }
    }

    /// Reads records of `format` from now on (contract events by default): a vendor's
    /// records are decoded straight into events ([`decode_as`]), not translated into contract
    /// lines first, and those that are not login events are counted ([`Pipeline::skipped`]).
    pub fn set_format(&mut self, format: Format) {
        self.decoder.format = format;
    }

    /// Processes one message; alerts are appended to `out`, oldest first. A bad message is
    /// returned as a [`Reject`] (reason plus original bytes) for the dead-letter output; a
    /// vendor's record that is not a login event is counted and is `Ok`, without alerts.
    pub fn process(&mut self, bytes: &[u8], out: &mut Vec<Alert>) -> Result<(), Reject> {
        match self.own_group(&[bytes], &mut (), out).results.pop() {
            Some(Err(reject)) => Err(reject),
            _ => Ok(()),
        }
    }

    /// Processes `lines` in order with the same results as [`Pipeline::process`] on each:
    /// alerts are appended to `out`, and `results[i]` is how many of them line `i` caused (0 for
    /// a vendor's record that is not a login event, counted in [`Pipeline::skipped`]), or its
    /// [`Reject`]. Decodes every line first, then starts loading the memory each event
    /// will touch, so the cache misses of the group overlap; groups of 8 to 64 lines suit.
    pub fn process_group(
        &mut self,
        lines: &[&[u8]],
        results: &mut Vec<Result<usize, Reject>>,
        out: &mut Vec<Alert>,
    ) {
        self.process_group_with(lines, &mut (), results, out);
    }

    /// [`Pipeline::process_group`], with `hooks` consulted before and called after each
    /// line's event (see [`GroupHooks`]): the Kafka service's partition workers.
    pub fn process_group_with(
        &mut self,
        lines: &[&[u8]],
        hooks: &mut impl GroupHooks,
        results: &mut Vec<Result<usize, Reject>>,
        out: &mut Vec<Alert>,
    ) {
        let group = self.own_group(lines, hooks, out);
        std::mem::swap(results, &mut group.results);
    }

    /// [`Pipeline::process_group`], leaving the results in this pipeline's own group (its
    /// events' buffers stay with this pipeline, warm in this thread's cache): see
    /// [`Group::outcomes`].
    pub fn process_in_place(&mut self, lines: &[&[u8]], out: &mut Vec<Alert>) -> &Group {
        self.own_group(lines, &mut (), out)
    }

    /// Decodes `lines` into this pipeline's own group and observes it there.
    fn own_group(
        &mut self,
        lines: &[&[u8]],
        hooks: &mut impl GroupHooks,
        out: &mut Vec<Alert>,
    ) -> &mut Group {
        let mut group = std::mem::take(&mut self.group);
        self.decoder.decode(lines, &mut group);
        self.observe_group(&mut group, hooks, out);
        self.group = group;
        &mut self.group
    }

    /// The second half of [`Pipeline::process_group_with`], for a group a [`Decoder`] of the
    /// same format filled (e.g. on another thread): locates and observes its events in place,
    /// appending their alerts to `out` and counting them in [`Group::outcomes`].
    pub fn observe_group(
        &mut self,
        group: &mut Group,
        hooks: &mut impl GroupHooks,
        out: &mut Vec<Alert>,
    ) {
        let logins = &mut group.logins[..group.lines_of.len()];
        for stage in 0..STAGES {
            for login in logins.iter() {
                self.locator.prefetch(&login.event, stage);
                self.engine.prefetch(&login.event, stage);
            }
        }
        self.locator.prefetch_group(logins);
        for (login, &i) in logins.iter_mut().zip(&group.lines_of) {
            if hooks.applied(i, login.event.account_id.as_str()) {
                self.engine.observe_applied(&login.event);
            } else {
                let before = out.len();
                self.locator.locate_in(login);
                self.engine.observe(login, out);
                group.results[i] = Ok(out.len() - before);
            }
            hooks.after(i, &mut self.engine);
        }
        group.lines_of.clear();
    }

    /// The records skipped so far because they are not login events ([`Decoder::skipped`]).
    pub fn skipped(&self) -> [(&'static str, u64); Skip::CODES.len()] {
        self.decoder.skipped()
    }

    /// The engine (for its stats).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, mutably (e.g. to observe already-decoded logins).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The locator.
    pub fn locator(&self) -> &L {
        &self.locator
    }

    /// The locator, mutably (e.g. to swap in reloaded databases between groups).
    pub fn locator_mut(&mut self) -> &mut L {
        &mut self.locator
    }

    /// Takes the pipeline apart (e.g. to hand a shard's engine over).
    pub fn into_parts(self) -> (L, Engine) {
        (self.locator, self.engine)
    }
}

#[cfg(test)]
mod tests;
