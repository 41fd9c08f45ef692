//! The keycloak decoder (`--format keycloak`): checked as common/vendor.rs says.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/vendor.rs"]
mod vendor;

fuzz_target!(|data: &[u8]| vendor::check(loginwatch_model::Format::Keycloak, data));
