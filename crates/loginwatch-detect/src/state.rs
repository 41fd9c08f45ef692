//! What the engine remembers about one account. Every field is paid once per tracked account,
//! so detector-specific state is an `Option<Box<..>>` (8 bytes until used) or a few bits.

use crate::detectors::anonymized::AnonMemory;
use crate::suppress::Suppression;
use crate::window::Window;
use loginwatch_model::EventTime;

/// Per-account state: 56 bytes inline plus the window's records on the heap.
#[derive(Debug, Default)]
pub(crate) struct AccountState {
    /// The newest event time seen for the account (least-recently-seen eviction, lateness).
    pub newest: EventTime,
    /// Successful, untrusted logins (see [`Window`] for its bounds).
    pub window: Window,
    /// Last alert per kind, for the cooldown (see [`crate::suppress`]); boxed because most
    /// accounts never alert.
    #[allow(clippy::box_collection)] // 8 bytes instead of 24 in every account
    pub suppress: Option<Box<Vec<Suppression>>>,
    /// Anonymizer networks seen (anonymized_ip detector), once the account used one.
    pub anon: Option<Box<AnonMemory>>,
    /// Bit `i` set once the account had a login in `watch_countries[i]`.
    pub watch_seen: u32,
}

impl AccountState {
    /// Heap bytes owned by this state (window, suppression entries, detector memory).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.window.heap_bytes()
            + self.suppress.as_ref().map_or(0, |v| {
                std::mem::size_of::<Vec<Suppression>>()
                    + v.capacity() * std::mem::size_of::<Suppression>()
            })
            + self
                .anon
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<AnonMemory>())
    }
}
