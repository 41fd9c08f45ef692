//! What the engine remembers about one account. Every field is paid once per tracked account:
//! its entry in the account table holds 24 bytes ([`AccountState`]); the window (first
//! record inline) is in one box, [`Memory`], with a pointer to the later detectors'
//! [`Extra`], each created at the first event that needs it. A quiet account (one login, no
//! claims or sessions) so costs the table entry plus 96 bytes. What few accounts need
//! (suppression entries, anonymizer memory, new-account mark) is boxed once more in [`Rare`],
//! the risk memory in its own box.

use crate::compact::Small;
use crate::detectors::anonymized::AnonMemory;
use crate::detectors::location::Profile;
use crate::detectors::long_session::ActivityRun;
use crate::detectors::session::SessionFp;
use crate::risk::RiskMemory;
use crate::suppress::Suppression;
use crate::window::Window;
use loginwatch_model::EventTime;
use std::mem::size_of;

/// Per-account state: 24 bytes inline in the table's slab (newest time, watch marks, one
/// pointer).
#[derive(Debug, Default)]
pub(crate) struct AccountState {
    /// The newest event time seen for the account (least-recently-seen eviction, lateness).
    pub newest: EventTime,
    /// Bit `i` set once the account had a login in `watch_countries[i]`.
    pub watch_seen: u32,
    /// The window and the detectors' memory, in one allocation; `None` for an account that
    /// never needed any (e.g. only failed logins).
    memory: Option<Box<Memory>>,
}

/// An account's window and the pointer to its detector memory: [`Memory::SIZE`] bytes (the
/// first window record inline).
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Successful, untrusted logins (see [`Window`] for its bounds).
    pub window: Window,
    /// The detectors' memory, once an event needed it.
    pub extra: Option<Box<Extra>>,
}

/// The later detectors' per-account memory: [`Extra::SIZE`] bytes (the first session inline).
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// Session fingerprints (session_hijack), the first one inline.
    pub sessions: Small<SessionFp>,
    /// Claims, observed countries, language and hours (location_mismatch).
    pub profile: Option<Profile>,
    /// The current run of activity (long_session).
    pub run: Option<ActivityRun>,
    /// Signals within the risk horizon, once the account raised one (80 bytes).
    pub risk: Option<Box<RiskMemory>>,
    /// Memory that few accounts need.
    pub rare: Option<Box<Rare>>,
}

/// Per-account memory most accounts never need, boxed apart.
#[derive(Debug, Default)]
pub(crate) struct Rare {
    /// Last alert per kind, for the cooldown (see [`crate::suppress`]).
    pub suppress: Vec<Suppression>,
    /// Anonymizer networks seen (anonymized_ip detector), once the account used one.
    pub anon: Option<AnonMemory>,
    /// Event time (ms) until which the account counts as new; 0 = not new or unknown.
    pub new_until: i64,
}

impl Memory {
    /// Bytes of the box itself.
    pub(crate) const SIZE: usize = size_of::<Memory>();

    fn heap_bytes(&self) -> usize {
        Self::SIZE + self.window.heap_bytes() + self.extra.as_ref().map_or(0, |x| x.heap_bytes())
    }
}

impl Extra {
    /// Bytes of the box itself.
    pub(crate) const SIZE: usize = size_of::<Extra>();

    fn heap_bytes(&self) -> usize {
        Self::SIZE
            + self.sessions.heap_bytes()
            + self.risk.as_ref().map_or(0, |_| size_of::<RiskMemory>())
            + self.rare.as_ref().map_or(0, |r| {
                size_of::<Rare>() + r.suppress.capacity() * size_of::<Suppression>()
            })
    }

    /// The rare memory, created when first needed.
    pub(crate) fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

impl AccountState {
    /// Heap bytes owned by this state (window, detector memory, suppression entries).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.memory.as_ref().map_or(0, |m| m.heap_bytes())
    }

    /// Starts loading the account's memory box (stage 0), then its window records and
    /// detector memory (stage 1).
    pub(crate) fn prefetch(&self, stage: usize) {
        use loginwatch_model::hint::prefetch_val;
        let Some(m) = self.memory.as_deref() else {
            return;
        };
        match stage {
            0 => prefetch_val(m),
            _ => {
                if let Some(x) = m.extra.as_deref() {
                    prefetch_val(x);
                }
                if let [first, .., last] = m.window.records() {
                    prefetch_val(first);
                    prefetch_val(last);
                }
            }
        }
    }

    fn memory(&mut self) -> &mut Memory {
        self.memory.get_or_insert_with(Box::default)
    }

    /// The detectors' memory, created when first needed.
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.memory().extra.get_or_insert_with(Box::default)
    }

    /// The detectors' memory, if any.
    pub(crate) fn extra_ref(&self) -> Option<&Extra> {
        self.memory.as_ref().and_then(|m| m.extra.as_deref())
    }

    /// The detectors' memory, if any, to update.
    pub(crate) fn extra_mut(&mut self) -> Option<&mut Extra> {
        self.memory.as_mut().and_then(|m| m.extra.as_deref_mut())
    }

    /// The window (empty when the account has no memory yet).
    pub(crate) fn window(&self) -> &Window {
        self.memory.as_ref().map_or(&Window::EMPTY, |m| &m.window)
    }

    /// The window, created when first needed.
    pub(crate) fn window_mut(&mut self) -> &mut Window {
        &mut self.memory().window
    }

    /// The window to trim, if the account has one.
    pub(crate) fn window_if_any(&mut self) -> Option<&mut Window> {
        self.memory.as_mut().map(|m| &mut m.window)
    }

    /// The rare memory, if the account has any.
    pub(crate) fn rare(&self) -> Option<&Rare> {
        self.extra_ref().and_then(|x| x.rare.as_deref())
    }

    /// True while the account counts as new at `time`.
    pub(crate) fn is_new(&self, time: i64) -> bool {
        self.rare().is_some_and(|r| time < r.new_until)
    }

    /// The risk score when last computed (0 when no signal).
    pub(crate) fn risk_score(&self) -> u8 {
        let risk = self.extra_ref().and_then(|x| x.risk.as_ref());
        risk.map_or(0, |r| r.score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size_of::<AccountState>(), 24);
        assert_eq!(Memory::SIZE, 96);
        const { assert!(Extra::SIZE <= 160) };
    }
}
