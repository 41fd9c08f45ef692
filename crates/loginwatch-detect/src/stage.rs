//! The network stage: shared_ip's index as a stage of its own, for drivers whose accounts
//! are spread over several processes (the Kafka service's members), where no one index sees
//! every account.
//!
//! An engine built [`Engine::with_network_stage`](crate::Engine::with_network_stage) does
//! the account side of shared_ip (it counts the account's logins) and hands each login the
//! rule counts over as a [`NetworkVisit`] instead of recording it. The driver sends the visit
//! to the stage that owns its networks ([`NetworkVisit::partition`]: every network a login
//! counts on — the host and its IPv4 /24 or IPv6 /48 — lies in one such prefix, so one stage
//! sees all of it), which runs the same rule over its own [`SharedIndex`]
//! ([`NetworkStage::observe`]) and answers with [`Mail`] for the accounts' owners: a finding
//! (an alert to emit, through the owner's one emit path with the account's own state) or a
//! risk note (the account logged in again on a network it was alerted for, which counts
//! towards its risk score as the in-process index's does). The owner takes it with
//! [`Engine::receive`](crate::Engine::receive).
//!
//! Everything the rule needs travels in the visit (the account's own login count
//! included), so the stage decides without the account's state. Its networks and clocks
//! are a changelog like the engine's accounts (`snapshot/changes.rs`).
//!
//! Visits and mail cross process boundaries as [`StageMessage`]s: a version byte, then
//! postcard (a finding's evidence as JSON text, the bytes it has in an alert; read back
//! typed, see `loginwatch_model::alert::evidence`).

use crate::detector::Finding;
use crate::detectors::shared_ip::SharedIp;
use crate::engine::Watermark;
use crate::rules::Rules;
use crate::shared::{Delivery, NetKey, Owner, SharedIndex, SharedIndexStats, Visit};
use crate::suppress::Escalation;
use crate::{ConfigError, EngineConfig};
use loginwatch_model::{AlertKind, EventTime, Evidence, Severity};
use loginwatch_storage::InlineStr;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// One successful login as the network stage sees it (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkVisit {
    pub(crate) account: String,
    pub(crate) event_id: String,
    pub(crate) time: i64,
    pub(crate) ip: IpAddr,
    /// The engine owning the account: where its mail goes.
    pub(crate) owner: Owner,
    /// The account's own count of such logins, this one included.
    pub(crate) total: u32,
}

impl NetworkVisit {
    /// Which of `partitions` stages owns this login's networks: a stable hash of its IPv4 /24
    /// (IPv6 /48), the widest network the rule counts a login on.
    pub fn partition(&self, partitions: u32) -> u32 {
        let widest = NetKey::of(self.ip, 24, 48).fingerprint();
        // The hash's high bits pick the partition (multiply-shift: no modulo bias).
        ((u64::from(widest) * u64::from(partitions.max(1))) >> 32) as u32
    }

    /// The account whose login this is.
    pub fn account(&self) -> &str {
        &self.account
    }
}

/// What the stage answers the owner of an account (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Mail {
    pub(crate) owner: Owner,
    pub(crate) account: InlineStr,
    pub(crate) letter: Letter,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Letter {
    /// A shared_ip finding for the account.
    Finding(Finding),
    /// The account logged in at `time` on a network it was alerted for.
    Risk(i64),
}

impl Mail {
    /// The engine owning the account (the driver's partition of it).
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// The account it is for.
    pub fn account(&self) -> &str {
        self.account.as_str()
    }
}

/// A message between engines and network stages.
#[derive(Clone, Debug, PartialEq)]
pub enum StageMessage {
    Visit(NetworkVisit),
    Mail(Mail),
}

/// The wire format's version (the first byte of every message).
pub const WIRE_VERSION: u8 = 1;

/// A message that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("empty message")]
    Empty,
    #[error("message version {0}: this build reads version {WIRE_VERSION}")]
    Version(u8),
    #[error("message does not decode: {0}")]
    Decode(String),
}

#[derive(Serialize, Deserialize)]
enum Wire<'a> {
    Visit {
        #[serde(borrow)]
        account: Cow<'a, str>,
        #[serde(borrow)]
        event_id: Cow<'a, str>,
        time: i64,
        ip: IpAddr,
        owner: Owner,
        total: u32,
    },
    Finding {
        owner: Owner,
        #[serde(borrow)]
        account: Cow<'a, str>,
        kind: AlertKind,
        severity: Severity,
        time: i64,
        #[serde(borrow)]
        summary: Cow<'a, str>,
        event_ids: Vec<Cow<'a, str>>,
        /// The evidence object as JSON text.
        #[serde(borrow)]
        evidence: Cow<'a, str>,
        magnitude: f32,
        ratio: f32,
        keys: Vec<u32>,
    },
    Risk {
        owner: Owner,
        #[serde(borrow)]
        account: Cow<'a, str>,
        time: i64,
    },
}

impl StageMessage {
    /// Appends the message's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let wire = match self {
            StageMessage::Visit(v) => Wire::Visit {
                account: Cow::Borrowed(&v.account),
                event_id: Cow::Borrowed(&v.event_id),
                time: v.time,
                ip: v.ip,
                owner: v.owner,
                total: v.total,
            },
            StageMessage::Mail(m) => match &m.letter {
                Letter::Finding(f) => Wire::Finding {
                    owner: m.owner,
                    account: Cow::Borrowed(m.account.as_str()),
                    kind: f.kind,
                    severity: f.severity,
                    time: f.time.0,
                    summary: Cow::Borrowed(&f.summary),
                    event_ids: f
                        .event_ids
                        .iter()
                        .map(|e| Cow::Borrowed(e.as_str()))
                        .collect(),
                    evidence: Cow::Owned(f.evidence.to_json()),
                    magnitude: f.escalation.magnitude,
                    ratio: f.escalation.ratio,
                    keys: f.escalation.keys.clone(),
                },
                Letter::Risk(time) => Wire::Risk {
                    owner: m.owner,
                    account: Cow::Borrowed(m.account.as_str()),
                    time: *time,
                },
            },
        };
        out.push(WIRE_VERSION);
        // Writing to a Vec only fails on a serializer bug.
        let _ = postcard::to_io(&wire, &mut *out);
    }

    /// Reads a message written by [`StageMessage::encode`].
    pub fn decode(bytes: &[u8]) -> Result<StageMessage, WireError> {
        let (&version, body) = bytes.split_first().ok_or(WireError::Empty)?;
        if version != WIRE_VERSION {
            return Err(WireError::Version(version));
        }
        let wire: Wire<'_> =
            postcard::from_bytes(body).map_err(|e| WireError::Decode(e.to_string()))?;
        let account = |a: Cow<'_, str>| -> Result<String, WireError> {
            match a.is_empty() {
                true => Err(WireError::Decode("an empty account id".into())),
                false => Ok(a.into_owned()),
            }
        };
        Ok(match wire {
            Wire::Visit {
                account: a,
                event_id,
                time,
                ip,
                owner,
                total,
            } => StageMessage::Visit(NetworkVisit {
                account: account(a)?,
                event_id: event_id.into_owned(),
                time,
                ip,
                owner,
                total,
            }),
            Wire::Finding {
                owner,
                account: a,
                kind,
                severity,
                time,
                summary,
                event_ids,
                evidence,
                magnitude,
                ratio,
                keys,
            } => {
                let evidence = Evidence::from_json(kind, &evidence)
                    .map_err(|e| WireError::Decode(format!("evidence: {e}")))?;
                if !(magnitude.is_finite() && ratio.is_finite()) {
                    return Err(WireError::Decode(
                        "a finding's escalation is not finite".into(),
                    ));
                }
                StageMessage::Mail(Mail {
                    owner,
                    account: InlineStr::new(&account(a)?),
                    letter: Letter::Finding(Finding {
                        kind,
                        severity,
                        time: EventTime(time),
                        summary: summary.into_owned(),
                        event_ids: event_ids.into_iter().map(Cow::into_owned).collect(),
                        evidence,
                        escalation: Escalation {
                            magnitude,
                            ratio,
                            keys,
                        },
                    }),
                })
            }
            Wire::Risk {
                owner,
                account: a,
                time,
            } => StageMessage::Mail(Mail {
                owner,
                account: InlineStr::new(&account(a)?),
                letter: Letter::Risk(time),
            }),
        })
    }
}

/// One network stage: shared_ip's rule over its own index (see the module docs).
#[derive(Debug)]
pub struct NetworkStage {
    rule: Option<SharedIp>,
    pub(crate) index: SharedIndex,
    /// The visits' watermark, which expiry follows (as an engine's does).
    pub(crate) watermark: Watermark,
    keep_ms: Option<i64>,
    scratch: Vec<Delivery>,
    /// The changelog round being handed out ([`NetworkStage::take_changes`]).
    pub(crate) changes: crate::snapshot::Round<NetKey>,
}

impl NetworkStage {
    /// A stage for `config` (shared_ip's `[detect.shared_ip]` settings and bounds). Fails with
    /// every configuration problem at once.
    pub fn new(config: Arc<EngineConfig>) -> Result<NetworkStage, ConfigError> {
        let rules = Rules::compile(config)?;
        let c = &rules.cfg.detect.shared_ip;
        Ok(NetworkStage {
            rule: c.enabled.then(|| SharedIp::new(c)),
            index: SharedIndex::for_config(&rules.cfg),
            watermark: Watermark::default(),
            keep_ms: rules.shared_keep_ms,
            scratch: Vec::new(),
            changes: Default::default(),
        })
    }

    /// Sets the bounds of this stage's index (e.g. the configured ones divided among the
    /// stages, so the stages of a deployment hold what one index would).
    pub fn set_limits(&self, max_networks: usize, max_members: usize) {
        self.index.set_limits(max_networks, max_members);
    }

    /// Records `v` and pushes onto `out` the mail it causes. `ahead(network)` says whether a
    /// network's restored state already holds the visit (its changelog record was written
    /// after it; the network named as `203.0.113.0/24`): then only the clocks move.
    pub fn observe(
        &mut self,
        v: &NetworkVisit,
        ahead: Option<&dyn Fn(&str) -> bool>,
        out: &mut Vec<Mail>,
    ) {
        self.watermark.observe(v.time, &v.account);
        if let (Some(wm), Some(keep)) = (self.watermark.confirmed(), self.keep_ms) {
            self.index.maintain(wm, keep);
        }
        let Some(rule) = &self.rule else { return };
        if let Some(ahead) = ahead {
            let (host, prefix) = rule.networks(v.ip);
            let held = |k: NetKey| ahead(&network_name(k));
            if held(host) || prefix.is_some_and(held) {
                return;
            }
        }
        let visit = Visit {
            account: &v.account,
            event_id: &v.event_id,
            time: v.time,
            host: NetKey::of(v.ip, 32, 64).fingerprint(),
            owner: v.owner,
            total: v.total,
        };
        let own = rule.judge(&self.index, v.ip, &visit, &mut self.scratch);
        let mut noted = false;
        for d in self.scratch.drain(..) {
            noted |= d.account.is(&v.account);
            out.push(Mail {
                owner: d.owner,
                account: d.account,
                letter: Letter::Finding(d.finding),
            });
        }
        // The account's own finding counts towards its risk when emitted.
        if own && !noted {
            out.push(Mail {
                owner: v.owner,
                account: InlineStr::new(&v.account),
                letter: Letter::Risk(v.time),
            });
        }
    }

    /// Sizes and counters of the stage's index.
    pub fn stats(&self) -> SharedIndexStats {
        self.index.stats()
    }
}

/// A network's name in a changelog key: `203.0.113.7/32`, `2001:db8::/48`.
pub(crate) fn network_name(key: NetKey) -> String {
    key.net().to_string()
}

#[cfg(test)]
mod tests;
