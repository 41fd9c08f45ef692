//! The engine's state as a changelog (the service's state topic): the accounts changed since
//! the last call as framed records or tombstones, the clocks as one record, and single
//! records decoded one after another; a network stage's networks and clocks the same way.

use super::{
    frame, unframe, AccountRecord, Body, EngineClocks, NetworkRecord, Owned, Saved, StateError,
    Unframed,
};
use crate::shared::NetKey;
use crate::stage::{network_name, NetworkStage};
use crate::Engine;
use loginwatch_storage::{InlineStr, Names};
use std::borrow::Cow;

/// The changes of one round of a changelog (a flush): taken when the round begins, handed
/// out a chunk at a time ([`Engine::take_changes`]).
#[derive(Debug)]
pub(crate) struct Round<T>(Vec<T>);

impl<T> Default for Round<T> {
    fn default() -> Self {
        Round(Vec::new())
    }
}

impl<T> Round<T> {
    /// Up to `max` of the round's changes, beginning a round with `begin()` when the last
    /// one was handed out whole.
    fn next(&mut self, max: usize, begin: impl FnOnce() -> Vec<T>) -> (Vec<T>, Taken) {
        let began = self.0.is_empty();
        if began {
            self.0 = begin();
        }
        let chunk = self.0.split_off(self.0.len().saturating_sub(max));
        let taken = Taken {
            handed: chunk.len(),
            began,
            done: self.0.is_empty(),
        };
        (chunk, taken)
    }
}

/// What one call of [`Engine::take_changes`] (or [`NetworkStage::take_changes`]) handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// Records and tombstones handed out.
    pub handed: usize,
    /// This call began a round.
    pub began: bool,
    /// The round is handed out whole.
    pub done: bool,
}

/// One account's record as a changelog carries it: the account's state, framed, or `None`
/// once the account is gone (evicted or expired: a tombstone).
#[derive(Debug)]
pub struct AccountChange<'a> {
    pub account: &'a str,
    pub record: Option<&'a [u8]>,
}

impl Engine {
    /// Starts tracking which accounts change, for [`Engine::take_changes`] (a changelog).
    pub fn track_changes(&mut self) {
        self.accounts_mut().track_changes();
    }

    /// Hands `f` up to `max` of the accounts of this round (touched, evicted or expired
    /// before it began), each as a framed record of its state now or a tombstone, tombstones
    /// first. A round begins, with every account changed since the last one began, when the
    /// last one was handed out whole: a changelog can spread a flush over several calls,
    /// with other work between them. Memory: one record.
    ///
    /// Tombstones first: written in this order to one log (a caller spreading a round keeps
    /// every chunk's tombstones ahead of every chunk's records), any prefix of a flush that
    /// survives a crash holds the removal of every account that a later record's event
    /// evicted, so the restored table never holds more than the engine did.
    pub fn take_changes(
        &mut self,
        max: usize,
        mut f: impl FnMut(AccountChange<'_>),
    ) -> Result<Taken, StateError> {
        let mut round = std::mem::take(&mut self.changes);
        let (changed, taken) = round.next(max, || self.accounts_mut().take_changed());
        self.changes = round;
        let (live, gone): (Vec<&InlineStr>, Vec<&InlineStr>) = changed
            .iter()
            .partition(|id| self.accounts().get(id.as_str()).is_some());
        for id in gone {
            f(AccountChange {
                account: id.as_str(),
                record: None,
            });
        }
        let mut buf = Vec::new();
        for id in live {
            let account = id.as_str();
            if let Some((state, newest)) = self.accounts().get(account) {
                frame(
                    &Body::Account(AccountRecord::of(account, state, newest)),
                    &mut buf,
                )?;
                f(AccountChange {
                    account,
                    record: Some(&buf),
                });
            }
        }
        Ok(taken)
    }

    /// The engine's clocks as one framed record.
    pub fn clocks_record(&self) -> Result<Vec<u8>, StateError> {
        let (watermark, next_sweep) = self.clocks();
        let mut buf = Vec::new();
        frame(
            &Body::Engine(EngineClocks {
                watermark,
                next_sweep,
            }),
            &mut buf,
        )?;
        Ok(buf)
    }

    /// Ends a restore from a changelog: a table holding more accounts than `max_accounts`
    /// (records of accounts whose eviction the crash kept from the log) evicts the least
    /// recently seen, as the engine did before the crash.
    pub fn finish_restore(&mut self) {
        let max = self.config().engine.max_accounts;
        self.accounts_mut().set_max(max);
    }

    /// Forgets `account` (its tombstone was read back); whether it was tracked.
    pub fn forget_account(&mut self, account: &str) -> bool {
        self.accounts_mut().remove(account)
    }
}

/// One network's record as a network stage's changelog carries it (see [`AccountChange`]);
/// `network` names it as `203.0.113.0/24`.
#[derive(Debug)]
pub struct NetworkChange<'a> {
    pub network: &'a str,
    pub record: Option<&'a [u8]>,
}

impl NetworkStage {
    /// Starts tracking which networks change, for [`NetworkStage::take_changes`].
    pub fn track_changes(&mut self) {
        self.index.track_changes();
    }

    /// Hands `f` up to `max` of the networks of this round (visited, expired or evicted
    /// before it began), as framed records or tombstones, tombstones first (rounds as in
    /// [`Engine::take_changes`]).
    pub fn take_changes(
        &mut self,
        max: usize,
        mut f: impl FnMut(NetworkChange<'_>),
    ) -> Result<Taken, StateError> {
        let mut round = std::mem::take(&mut self.changes);
        let (changed, taken) = round.next(max, || self.index.take_changed());
        self.changes = round;
        let mut live = Vec::with_capacity(changed.len());
        for &key in &changed {
            if self.index.read_network(key, |n| n.is_some()) {
                live.push(key);
            } else {
                f(NetworkChange {
                    network: &network_name(key),
                    record: None,
                });
            }
        }
        let mut buf = Vec::new();
        for key in live {
            let framed = self.index.read_network(key, |n| {
                n.map(|(newest, members)| {
                    let members = Cow::Borrowed(members);
                    let body = Body::Network(NetworkRecord {
                        key,
                        newest,
                        members,
                    });
                    frame(&body, &mut buf)
                })
            });
            if let Some(done) = framed {
                done?;
                f(NetworkChange {
                    network: &network_name(key),
                    record: Some(&buf),
                });
            }
        }
        Ok(taken)
    }

    /// The stage's clocks as one framed record.
    pub fn clocks_record(&self) -> Result<Vec<u8>, StateError> {
        let mut buf = Vec::new();
        let body = Body::Stage {
            watermark: self.watermark,
            next_sweep: self.index.next_sweep(),
        };
        frame(&body, &mut buf)?;
        Ok(buf)
    }

    /// Takes one record read back from the stage's changelog: a network or the clocks
    /// (anything else is refused).
    pub fn restore(&mut self, saved: Saved) -> Result<(), String> {
        match saved.0 {
            Owned::Network {
                key,
                newest,
                members,
            } => self.index.restore_network(key, newest, members),
            Owned::Stage {
                watermark,
                next_sweep,
            } => {
                self.watermark = self.watermark.merged(watermark);
                self.index
                    .set_next_sweep(next_sweep.max(self.index.next_sweep()));
            }
            _ => return Err("not a network stage's record".into()),
        }
        Ok(())
    }

    /// Forgets the network named `network` (its tombstone was read back); whether the name
    /// is one.
    pub fn forget_network(&mut self, network: &str) -> bool {
        let Ok(net) = network.parse::<ipnet::IpNet>() else {
            return false;
        };
        let len = net.prefix_len();
        self.index.forget_network(NetKey::of(net.addr(), len, len));
        true
    }

    /// Ends a restore: an index holding more than its bounds (records of networks whose
    /// eviction a crash kept from the log) evicts the least recently used.
    pub fn finish_restore(&mut self) {
        self.index.enforce_limits();
    }
}

/// Decodes single framed records (as [`Engine::take_changes`] and [`Engine::clocks_record`]
/// make them) one after another, sharing city and organisation names between the accounts
/// it restores as the GeoIP lookups share them between live ones; drop it when the restore
/// is done.
#[derive(Default)]
pub struct RecordDecoder {
    cities: Names,
}

impl RecordDecoder {
    /// Decodes one framed record, refusing a damaged one.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Saved, StateError> {
        let corrupt = |reason: String| StateError::Corrupt {
            record: 1,
            offset: 0,
            reason,
        };
        let (len, sum) = match bytes {
            [a, b, c, d, e, f, g, h, ..] => (
                u32::from_le_bytes([*a, *b, *c, *d]),
                u32::from_le_bytes([*e, *f, *g, *h]),
            ),
            _ => return Err(corrupt("shorter than a record's frame".into())),
        };
        if len as usize != bytes.len() - 8 {
            return Err(corrupt(format!(
                "length {len} but {} bytes follow",
                bytes.len() - 8
            )));
        }
        let body = match unframe(sum, &bytes[8..]) {
            Unframed::Body(body) => body,
            Unframed::Version(found) => {
                return Err(StateError::RecordVersion {
                    record: 1,
                    offset: 0,
                    found,
                })
            }
            Unframed::Bad(reason) => return Err(corrupt(reason)),
        };
        Owned::of(body, &mut self.cities)
            .map(Saved)
            .map_err(corrupt)
    }
}

impl Saved {
    /// Decodes one framed record on its own (see [`RecordDecoder`]).
    pub fn decode(bytes: &[u8]) -> Result<Saved, StateError> {
        RecordDecoder::default().decode(bytes)
    }
}
