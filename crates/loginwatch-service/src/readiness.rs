//! Named readiness checks behind `/readyz`: ready when every registered check is ready.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Check set by the service: the consumer joined the group and got an assignment (possibly
/// empty, when the group has more members than partitions).
pub const CHECK_ASSIGNMENT: &str = "kafka_assignment";
/// Check set by the service: the consumer sees at least one broker up.
pub const CHECK_BROKER: &str = "kafka_broker";
/// Check set by the service: no partition is restoring its state from the state topic.
pub const CHECK_STATE: &str = "state_restored";
/// Check for the binary to set: the GeoIP databases are loaded.
pub const CHECK_GEOIP: &str = "geoip";

/// A shared set of named readiness checks; cheap to clone.
///
/// Register a check as not ready before starting ([`Readiness::set`] with `false`), then flip it
/// when its resource is loaded: the binary registers `"geoip"`, [`crate::run`] registers
/// [`CHECK_ASSIGNMENT`] and [`CHECK_BROKER`].
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    checks: Arc<Mutex<BTreeMap<&'static str, bool>>>,
}

impl Readiness {
    /// An empty set (ready, since nothing is pending).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers or updates one check.
    pub fn set(&self, check: &'static str, ready: bool) {
        self.lock().insert(check, ready);
    }

    /// True when every registered check is ready.
    pub fn is_ready(&self) -> bool {
        self.lock().values().all(|ok| *ok)
    }

    /// One line per check, `ok NAME` or `waiting NAME`, for the `/readyz` body.
    pub fn report(&self) -> String {
        self.lock()
            .iter()
            .map(|(name, ok)| format!("{} {name}\n", if *ok { "ok" } else { "waiting" }))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, bool>> {
        // The map stays consistent even if a holder panicked: take it back.
        self.checks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_is() {
        let r = Readiness::new();
        assert!(r.is_ready());
        r.set("geoip", false);
        r.set(CHECK_BROKER, true);
        assert!(!r.is_ready());
        assert_eq!(r.report(), "waiting geoip\nok kafka_broker\n");
        r.clone().set("geoip", true);
        assert!(r.is_ready());
    }
}
