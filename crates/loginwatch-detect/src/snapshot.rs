//! Saved state: the engine's accounts and the shared_ip index's networks as compact,
//! versioned binary records, written and read back one at a time (memory while saving or
//! restoring stays bounded by one record).
//!
//! # Records
//! Each record is one postcard-encoded `Body`: an engine's clocks, one account (every part
//! of its state by name, not by the in-memory layout), the index's clocks, one network, or
//! the end mark with the record count. `replay --state-out/--state-in` writes them to a file;
//! the service's state topic carries the same records one at a time, as a changelog
//! (`changes.rs`: changed accounts, tombstones, single records decoded).
//!
//! # File
//! `LWSTATE\0`, the format version (u16, little-endian), then records, each framed as its
//! length (u32 LE), an XXH3-based checksum of the bytes that follow (u32 LE), the record
//! version (one byte) and the body. The end record closes the file. A file that does not
//! start with the header, a format or record version this build does not read, a checksum
//! that does not match, a body that does not decode or holds impossible values, a missing end
//! record (a truncated file) or bytes after it are refused with a [`StateError`] naming the
//! record and its byte offset.
//!
//! Versions: [`FORMAT_VERSION`] and [`RECORD_VERSION`] change whenever a saved field changes
//! meaning or layout; a build reads only its own (state is rebuilt from events otherwise).

use crate::detectors::anonymized::AnonMemory;
use crate::detectors::location::Profile;
use crate::detectors::long_session::ActivityRun;
use crate::detectors::session::Sessions;
use crate::detectors::shared_ip::NetworkLogins;
use crate::engine::Watermark;
use crate::risk::RiskMemory;
use crate::shared::{Member, NetKey, Owner, SharedIndex};
use crate::state::{AccountState, NewAccount};
use crate::suppress::Cooldowns;
use crate::window::Window;
use crate::Engine;
use loginwatch_storage::{stable_hash32, Names};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::{self, Write};

/// The file format this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The record version this build writes and reads.
pub const RECORD_VERSION: u8 = 1;
const MAGIC: &[u8; 8] = b"LWSTATE\0";
/// No record is larger (an account holds at most a few KB).
const MAX_RECORD: u32 = 16 << 20;

/// Why saved state was refused.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file: {0}")]
    Io(#[from] io::Error),
    #[error("not a loginwatch state file (it does not start with the state header)")]
    NotState,
    #[error("state file format {found}: this build reads format {FORMAT_VERSION}")]
    Format { found: u16 },
    #[error("state record {record} (byte {offset}) has version {found}: this build reads version {RECORD_VERSION}")]
    RecordVersion { record: u64, offset: u64, found: u8 },
    #[error("state record {record} (byte {offset}) is damaged: {reason}")]
    Corrupt {
        record: u64,
        offset: u64,
        reason: String,
    },
    #[error("the state file ends after {records} records without its end record: it is truncated")]
    Truncated { records: u64 },
}

/// Event times as epoch milliseconds in saved records (the JSON form is RFC 3339).
pub(crate) mod millis {
    use loginwatch_model::EventTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &EventTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EventTime, D::Error> {
        i64::deserialize(d).map(EventTime)
    }
}

/// One saved record (encoded and decoded one at a time, so the large account variant costs
/// one stack slot, not memory per record).
#[derive(Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
enum Body<'a> {
    Engine(EngineClocks),
    #[serde(borrow)]
    Account(AccountRecord<'a>),
    Index {
        next_sweep: i64,
    },
    Network(NetworkRecord<'a>),
    End {
        records: u64,
    },
    /// A network stage's clocks (`stage.rs`).
    Stage {
        watermark: Watermark,
        next_sweep: i64,
    },
}

/// An engine's clocks: its watermark and when its next idle sweep runs.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct EngineClocks {
    watermark: Watermark,
    next_sweep: Option<i64>,
}

/// One account: every part of its state by name.
#[derive(Serialize, Deserialize)]
struct AccountRecord<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    newest: i64,
    watch_seen: u32,
    network_logins: NetworkLogins,
    window: Cow<'a, Window>,
    sessions: Cow<'a, Sessions>,
    profile: Option<Cow<'a, Profile>>,
    run: Option<Cow<'a, ActivityRun>>,
    risk: Option<Cow<'a, RiskMemory>>,
    cooldowns: Cow<'a, Cooldowns>,
    anon: Option<Cow<'a, AnonMemory>>,
    new_account: NewAccount,
}

/// One shared_ip network: its key, newest login and accounts.
#[derive(Serialize, Deserialize)]
struct NetworkRecord<'a> {
    key: NetKey,
    newest: i64,
    members: Cow<'a, [Member]>,
}

fn part<T: Clone + Default>(p: Option<&T>) -> Cow<'_, T> {
    p.map_or_else(|| Cow::Owned(T::default()), Cow::Borrowed)
}

impl<'a> AccountRecord<'a> {
    fn of(id: &'a str, s: &'a AccountState, newest: i64) -> Self {
        AccountRecord {
            id: Cow::Borrowed(id),
            newest,
            watch_seen: s.watch_seen,
            network_logins: s.get().copied().unwrap_or_default(),
            window: part(s.get()),
            sessions: part(s.get()),
            profile: s.get().map(Cow::Borrowed),
            run: s.get().map(Cow::Borrowed),
            risk: s.get().map(Cow::Borrowed),
            cooldowns: part(s.get()),
            anon: s.get().map(Cow::Borrowed),
            new_account: s.get().copied().unwrap_or_default(),
        }
    }

    /// The account's state; `cities` shares city names between records.
    fn into_state(self, cities: &mut Names) -> Result<AccountState, &'static str> {
        self.window.check()?;
        self.cooldowns.check()?;
        if let Some(a) = &self.anon {
            a.check()?;
        }
        let mut s = AccountState::default();
        s.watch_seen = self.watch_seen;
        s.set(self.network_logins);
        let mut window = self.window.into_owned();
        window.share_cities(|c| cities.share(c));
        s.set(window);
        s.set(self.sessions.into_owned());
        s.set(self.cooldowns.into_owned());
        s.set(self.new_account);
        if let Some(p) = self.profile {
            *s.get_or_default() = p.into_owned();
        }
        if let Some(r) = self.run {
            *s.get_or_default() = r.into_owned();
        }
        if let Some(r) = self.risk {
            *s.get_or_default() = r.into_owned();
        }
        if let Some(mut a) = self.anon.map(Cow::into_owned) {
            a.share_org(|o| cities.share(o));
            *s.get_or_default() = a;
        }
        Ok(s)
    }
}

/// Encodes one record into `buf` (cleared first) with its frame: length (u32 LE), checksum
/// (u32 LE) of what follows, record version, body. Files and the state topic use this frame.
fn frame(body: &Body<'_>, buf: &mut Vec<u8>) -> Result<(), StateError> {
    buf.clear();
    buf.extend_from_slice(&[0; 8]);
    buf.push(RECORD_VERSION);
    *buf = postcard::to_extend(body, std::mem::take(buf))
        .map_err(|e| io::Error::other(format!("encoding a state record: {e}")))?;
    let len = u32::try_from(buf.len() - 8)
        .ok()
        .filter(|l| *l <= MAX_RECORD)
        .ok_or_else(|| io::Error::other("a state record is too large"))?;
    let sum = stable_hash32(&buf[8..]);
    buf[..4].copy_from_slice(&len.to_le_bytes());
    buf[4..8].copy_from_slice(&sum.to_le_bytes());
    Ok(())
}

/// Why a framed record's bytes (after the length) were refused: its version, or a reason.
#[allow(clippy::large_enum_variant)] // one at a time, on the stack
enum Unframed<'a> {
    Body(Body<'a>),
    Version(u8),
    Bad(String),
}

/// Checks `sum` against `bytes` (version and body) and decodes the body.
fn unframe(sum: u32, bytes: &[u8]) -> Unframed<'_> {
    if stable_hash32(bytes) != sum {
        return Unframed::Bad("checksum mismatch (altered or damaged)".into());
    }
    match bytes.first() {
        Some(&RECORD_VERSION) => match postcard::from_bytes::<Body<'_>>(&bytes[1..]) {
            Ok(body) => Unframed::Body(body),
            Err(e) => Unframed::Bad(format!("does not decode: {e}")),
        },
        Some(&v) => Unframed::Version(v),
        None => Unframed::Bad("empty record".into()),
    }
}

/// What a save wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaveSummary {
    pub accounts: u64,
    pub networks: u64,
    /// Records, the end record included.
    pub records: u64,
    pub bytes: u64,
}

/// Writes saved state as a stream of records (see the module docs).
pub struct StateWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    summary: SaveSummary,
}

impl<W: Write> StateWriter<W> {
    /// Starts a state file on `out`.
    pub fn new(mut out: W) -> Result<Self, StateError> {
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        let summary = SaveSummary {
            bytes: (MAGIC.len() + 2) as u64,
            ..SaveSummary::default()
        };
        Ok(StateWriter {
            out,
            buf: Vec::new(),
            summary,
        })
    }

    fn write(&mut self, body: &Body<'_>) -> Result<(), StateError> {
        frame(body, &mut self.buf)?;
        self.out.write_all(&self.buf)?;
        self.summary.records += 1;
        self.summary.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Writes `engine`'s clocks and every account it tracks.
    pub fn engine(&mut self, engine: &Engine) -> Result<(), StateError> {
        let (watermark, next_sweep) = engine.clocks();
        self.write(&Body::Engine(EngineClocks {
            watermark,
            next_sweep,
        }))?;
        for (id, state, newest) in engine.accounts().iter() {
            self.write(&Body::Account(AccountRecord::of(
                id.as_str(),
                state,
                newest,
            )))?;
            self.summary.accounts += 1;
        }
        Ok(())
    }

    /// Writes the index's clocks and every network it holds.
    pub fn shared_index(&mut self, index: &SharedIndex) -> Result<(), StateError> {
        self.write(&Body::Index {
            next_sweep: index.next_sweep(),
        })?;
        let mut result = Ok(());
        index.for_each_network(|key, newest, members| {
            if result.is_ok() {
                let members = Cow::Borrowed(members);
                result = self.write(&Body::Network(NetworkRecord {
                    key,
                    newest,
                    members,
                }));
                self.summary.networks += 1;
            }
        });
        result
    }

    /// Writes the end record and flushes; returns what was written.
    pub fn finish(mut self) -> Result<SaveSummary, StateError> {
        let records = self.summary.records;
        self.write(&Body::End { records })?;
        self.out.flush()?;
        Ok(self.summary)
    }
}

/// One record read back, to hand to [`Restore`].
pub struct Saved(Owned);

enum Owned {
    Engine(EngineClocks),
    Account {
        id: String,
        state: AccountState,
        newest: i64,
    },
    Index {
        next_sweep: i64,
    },
    Network {
        key: NetKey,
        newest: i64,
        members: Vec<Member>,
    },
    Stage {
        watermark: Watermark,
        next_sweep: i64,
    },
}

impl Owned {
    /// The owned form of a decoded body (not the end record); an impossible value is refused.
    fn of(body: Body<'_>, cities: &mut Names) -> Result<Owned, String> {
        match body {
            Body::Engine(clocks) => Ok(Owned::Engine(clocks)),
            Body::Index { next_sweep } => Ok(Owned::Index { next_sweep }),
            Body::Network(n) => Ok(Owned::Network {
                key: n.key,
                newest: n.newest,
                members: n.members.into_owned(),
            }),
            Body::Account(a) => {
                let (id, newest) = (a.id.to_string(), a.newest);
                a.into_state(cities)
                    .map(|state| Owned::Account { id, state, newest })
                    .map_err(str::to_owned)
            }
            Body::Stage {
                watermark,
                next_sweep,
            } => Ok(Owned::Stage {
                watermark,
                next_sweep,
            }),
            Body::End { .. } => Err("an end record where a state record belongs".into()),
        }
    }
}

/// Which engine a saved record is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// The engine that owns this account (drivers that shard accounts route it by the id).
    Account(&'a str),
    /// Every engine: clocks (several engines' clocks restored into one keep the later).
    EveryEngine,
    /// Any one engine of those sharing the index: the index is restored once.
    SharedIndex,
    /// A network stage (`stage.rs`): its clocks.
    NetworkStage,
}

impl Saved {
    /// The account a record holds (`None` for other records).
    pub fn account(&self) -> Option<&str> {
        match &self.0 {
            Owned::Account { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Which engine the record is for.
    pub fn target(&self) -> Target<'_> {
        match &self.0 {
            Owned::Account { id, .. } => Target::Account(id),
            Owned::Engine(_) => Target::EveryEngine,
            Owned::Index { .. } | Owned::Network { .. } => Target::SharedIndex,
            Owned::Stage { .. } => Target::NetworkStage,
        }
    }

    /// A copy of an [`Target::EveryEngine`] record, for the next engine.
    pub fn copy_for_another_engine(&self) -> Option<Saved> {
        match &self.0 {
            Owned::Engine(c) => Some(Saved(Owned::Engine(*c))),
            _ => None,
        }
    }
}

/// Where restored records go: engines take their clocks and accounts, the index its clocks
/// and networks.
pub trait Restore {
    /// Restores `saved` into `engine` (an account or engine clocks) or into `engine`'s
    /// shared index (its clocks, a network; `owner_of` names the engine owning a member
    /// account, as the driver shards them).
    fn restore(&mut self, saved: Saved, owner_of: &dyn Fn(&str) -> Owner);
}

impl Restore for Engine {
    fn restore(&mut self, saved: Saved, owner_of: &dyn Fn(&str) -> Owner) {
        match saved.0 {
            Owned::Engine(c) => self.restore_clocks(c.watermark, c.next_sweep),
            Owned::Account { id, state, newest } => self.restore_account(&id, state, newest),
            Owned::Index { next_sweep } => self.shared_index().set_next_sweep(next_sweep),
            Owned::Network {
                key,
                newest,
                mut members,
            } => {
                for m in &mut members {
                    m.owner = owner_of(m.account.as_str());
                }
                self.shared_index().restore_network(key, newest, members);
            }
            // A stage's clocks are not an engine's (refused before they get here).
            Owned::Stage { .. } => {}
        }
    }
}

mod changes;
mod read;
pub(crate) use changes::Round;
pub use changes::{AccountChange, NetworkChange, RecordDecoder, Taken};
pub use read::StateReader;

#[cfg(test)]
mod tests;
