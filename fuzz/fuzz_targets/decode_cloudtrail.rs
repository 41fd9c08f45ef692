//! The cloudtrail decoder (`--format cloudtrail`): checked as common/vendor.rs says.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/vendor.rs"]
mod vendor;

fuzz_target!(|data: &[u8]| vendor::check(loginwatch_model::Format::Cloudtrail, data));
