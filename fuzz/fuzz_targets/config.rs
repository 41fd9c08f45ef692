//! The configuration parser: any text yields a configuration and a list of problems, never
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = loginwatch::config::Config::check_toml(text);
    }
});
