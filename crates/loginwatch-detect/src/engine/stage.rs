//! The engine's side of a network stage (`crate::stage`): an engine built with one hands its
//! shared_ip visits out and takes the mail stages send back for its accounts.

use super::emit::note_risk;
use super::Engine;
use crate::shared::{Delivery, SharedIndex};
use crate::stage::{Letter, Mail, NetworkVisit};
use crate::{ConfigError, EngineConfig};
use loginwatch_model::{Alert, AlertKind, Severity};
use loginwatch_storage::HeapSize;
use std::sync::Arc;

impl Engine {
    /// An engine for `config` whose shared_ip records logins in a network stage elsewhere
    /// (see `stage.rs`): the driver takes the visits with [`Engine::take_visits`] after each
    /// event, sends each to its stage, and hands the mail stages send back to the account's
    /// engine with [`Engine::receive`].
    pub fn with_network_stage(config: Arc<EngineConfig>) -> Result<Engine, ConfigError> {
        let index = Arc::new(SharedIndex::new(1));
        let mut engine = Engine::with_shared_index(config, index)?;
        engine.stage = Some(Vec::new());
        Ok(engine)
    }

    /// Moves the visits for the network stage made since the last call to `out` (none
    /// without a network stage).
    pub fn take_visits(&mut self, out: &mut Vec<NetworkVisit>) {
        if let Some(visits) = &mut self.stage {
            out.append(visits);
        }
    }

    /// Takes mail a network stage sent for one of this engine's accounts: a finding becomes
    /// an alert through the one emit path (appended to `out`), a risk note counts towards
    /// the account's risk score.
    pub fn receive(&mut self, mail: Mail, out: &mut Vec<Alert>) {
        match mail.letter {
            Letter::Finding(finding) => self.deliver(
                Delivery {
                    owner: mail.owner,
                    account: mail.account,
                    finding,
                },
                out,
            ),
            // An account gone since (evicted, expired) has no risk memory to add to.
            Letter::Risk(_) if self.accounts.get(mail.account.as_str()).is_none() => {}
            Letter::Risk(time) => {
                let Engine {
                    rules, accounts, ..
                } = self;
                let state = accounts.get_or_insert(mail.account.as_str()).state;
                let before = state.heap_bytes();
                note_risk(rules, state, AlertKind::SharedIp, Severity::Medium, time);
                let after = state.heap_bytes();
                accounts.bytes = (accounts.bytes + after).saturating_sub(before);
            }
        }
    }
}
