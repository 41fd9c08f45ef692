//! A partition's state as the state topic's records (`detect::snapshot`): the engine's
//! accounts and clocks, and with a network stage its networks and clocks.

use super::PartitionProcessor;
use loginwatch_detect::snapshot::{RecordDecoder, Restore, Saved, Target};
use loginwatch_service::PartitionState;

/// The engine's accounts and clocks as the state topic's records (`detect::snapshot`).
impl PartitionState for PartitionProcessor {
    fn restore(&mut self, account: &str, record: Option<&[u8]>) -> Result<(), String> {
        let Some(bytes) = record else {
            self.pipeline.engine_mut().forget_account(account);
            return Ok(());
        };
        let saved = self.decode(bytes)?;
        let engine = self.pipeline.engine_mut();
        if saved.account() != Some(account) {
            return Err(format!(
                "the record under key {account:?} holds another account"
            ));
        }
        // Only account records pass the check above: no network, so no member owner to name.
        engine.restore(saved, &|_| 0);
        Ok(())
    }

    fn restore_clocks(&mut self, record: &[u8]) -> Result<(), String> {
        let saved = Saved::decode(record).map_err(|e| e.to_string())?;
        if saved.target() != Target::EveryEngine {
            return Err("the flush record does not hold an engine's clocks".into());
        }
        self.pipeline.engine_mut().restore(saved, &|_| 0);
        Ok(())
    }

    fn finish_restore(&mut self) {
        self.decoder = None;
        self.pipeline.engine_mut().finish_restore();
        if let Some(n) = &mut self.network {
            n.stage.finish_restore();
        }
        self.export();
    }

    fn take_changes(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&str, Option<&[u8]>),
    ) -> Result<bool, String> {
        self.pipeline
            .engine_mut()
            .take_changes(max, |c| f(c.account, c.record))
            .map(|taken| taken.done)
            .map_err(|e| e.to_string())
    }

    fn clocks(&self) -> Result<Vec<u8>, String> {
        self.pipeline
            .engine()
            .clocks_record()
            .map_err(|e| e.to_string())
    }

    fn restore_network(&mut self, network: &str, record: Option<&[u8]>) -> Result<(), String> {
        // Written while the network stage was on: the process's own index rebuilds from
        // the logins it reads.
        if self.network.is_none() {
            return Ok(());
        }
        let Some(bytes) = record else {
            if let Some(n) = &mut self.network {
                n.stage.forget_network(network);
            }
            return Ok(());
        };
        let saved = self.decode(bytes)?;
        let n = self.network.as_mut().ok_or("no network stage")?;
        let want = if network.is_empty() {
            Target::NetworkStage
        } else {
            Target::SharedIndex
        };
        if saved.target() != want {
            return Err(format!("the record under network {network:?} is not one"));
        }
        n.stage.restore(saved)
    }

    fn take_network_changes(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&str, Option<&[u8]>),
    ) -> Result<bool, String> {
        let Some(n) = &mut self.network else {
            return Ok(true);
        };
        let taken = n
            .stage
            .take_changes(max, |c| f(c.network, c.record))
            .map_err(|e| e.to_string())?;
        if taken.began {
            // Nothing moved the stage's clocks since the round began.
            let clocks = n.stage.clocks_record().map_err(|e| e.to_string())?;
            f("", Some(&clocks));
        }
        Ok(taken.done)
    }
}

impl PartitionProcessor {
    /// Decodes one record read back from the state topic (names shared while restoring).
    fn decode(&mut self, bytes: &[u8]) -> Result<Saved, String> {
        self.decoder
            .get_or_insert_with(RecordDecoder::default)
            .decode(bytes)
            .map_err(|e| e.to_string())
    }
}
