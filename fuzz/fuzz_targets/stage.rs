//! The network stage's wire format (the network topic's items, `loginwatch run`): any bytes
//! are refused with an error or taken — a visit by a network stage, mail by an engine — never
//! a panic; what decodes encodes back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loginwatch_detect::{Engine, EngineConfig, NetworkStage, StageMessage};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = StageMessage::decode(data) else {
        return;
    };
    let mut again = Vec::new();
    message.encode(&mut again);
    assert_eq!(StageMessage::decode(&again).ok().as_ref(), Some(&message));
    let config = Arc::new(EngineConfig::default());
    match message {
        StageMessage::Visit(v) => {
            let Ok(mut stage) = NetworkStage::new(config) else {
                return;
            };
            let mut mail = Vec::new();
            stage.observe(&v, None, &mut mail);
            stage.observe(&v, Some(&|_| false), &mut mail);
            let _ = stage.stats();
        }
        StageMessage::Mail(m) => {
            let Ok(mut engine) = Engine::with_network_stage(config) else {
                return;
            };
            let mut alerts = Vec::new();
            engine.receive(m, &mut alerts);
        }
    }
});
