//! The event decoder: any bytes become an event or a `Reject`, never a panic; an accepted
//! event satisfies the contract's invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match loginwatch_model::decode(data, 64 * 1024) {
        Ok(event) => {
            assert!(!event.account_id.is_empty() && event.account_id.len() <= 256);
            assert!(!event.event_id.is_empty());
        }
        Err(reject) => assert!(!reject.reason.code().is_empty()),
    }
});
