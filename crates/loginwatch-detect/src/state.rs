//! What the engine remembers about one account, and where each part of it lives.
//!
//! Detectors declare their per-account state as plain types ([`Part`]s: the window, session
//! fingerprints, the location profile, the activity run, risk memory, cooldowns, anonymizer
//! memory, the new-account mark) and reach them only through [`AccountState::get`],
//! [`AccountState::get_mut`] and [`AccountState::get_or_default`]. Which allocation a part
//! lives in is decided here alone, by how many accounts need it, since every byte is paid
//! per tracked account:
//!
//! - inline in the account table's slab entry (with the id and, in the slab's own time
//!   array, the newest event time): the watch-country marks, the count of logins shared_ip
//!   recorded, and one pointer, 16 bytes;
//! - [`WindowBox`], created at the first event that needs any memory: the window (its first
//!   record inline) and a pointer to the detectors' box, [`size_of::<WindowBox>()`] bytes;
//! - [`DetectorBox`], created when a detector first needs memory: sessions (the first
//!   inline), profile, activity run, a pointer to the risk memory and one to the seldom box;
//! - [`SeldomBox`]: what few accounts need (cooldown entries, anonymizer memory, the
//!   new-account mark).
//!
//! Saved state does not follow this layout: [`crate::snapshot`] writes every part by name.

use crate::detectors::anonymized::AnonMemory;
use crate::detectors::location::Profile;
use crate::detectors::long_session::ActivityRun;
use crate::detectors::session::Sessions;
use crate::detectors::shared_ip::NetworkLogins;
use crate::risk::RiskMemory;
use crate::suppress::Cooldowns;
use crate::window::Window;
use loginwatch_storage::HeapSize;
use serde::{Deserialize, Serialize};

/// Per-account state: 16 bytes inline in the table's slab.
#[derive(Debug, Default)]
pub(crate) struct AccountState {
    /// Bit `i` set once the account had a login in `watch_countries[i]`.
    pub watch_seen: u32,
    /// The account's logins that the shared_ip index recorded (in the slab's padding).
    network_logins: NetworkLogins,
    /// The window and the detectors' memory; `None` for an account that never needed any
    /// (e.g. only failed logins).
    boxed: Option<Box<WindowBox>>,
}

/// An account's window and the pointer to its detectors' memory.
#[derive(Debug, Default)]
pub(crate) struct WindowBox {
    window: Window,
    detectors: Option<Box<DetectorBox>>,
}

/// The detectors' per-account memory, created when a detector first needs it.
#[derive(Debug, Default)]
pub(crate) struct DetectorBox {
    sessions: Sessions,
    profile: Option<Profile>,
    run: Option<ActivityRun>,
    risk: Option<Box<RiskMemory>>,
    seldom: Option<Box<SeldomBox>>,
}

/// Per-account memory most accounts never need, boxed apart.
#[derive(Debug, Default)]
pub(crate) struct SeldomBox {
    cooldowns: Cooldowns,
    anon: Option<AnonMemory>,
    new_account: NewAccount,
}

/// Until when the account counts as new (`[detect.new_account]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NewAccount {
    /// Event time (ms) until which the account counts as new; 0 = not new or unknown.
    pub until: i64,
}

/// A piece of per-account state with a place in the layout (see the module docs).
pub(crate) trait Part: Default {
    /// The part, if the account has it.
    fn find(s: &AccountState) -> Option<&Self>;
    /// The part to update, if the account has it.
    fn find_mut(s: &mut AccountState) -> Option<&mut Self>;
    /// The part, created (with the boxes it lives in) when missing.
    fn make(s: &mut AccountState) -> &mut Self;
}

impl AccountState {
    /// Part `P`, if the account has it.
    pub(crate) fn get<P: Part>(&self) -> Option<&P> {
        P::find(self)
    }

    /// Part `P` to update, if the account has it.
    pub(crate) fn get_mut<P: Part>(&mut self) -> Option<&mut P> {
        P::find_mut(self)
    }

    /// Part `P`, created when missing.
    pub(crate) fn get_or_default<P: Part>(&mut self) -> &mut P {
        P::make(self)
    }

    /// Sets part `P` (restoring saved state); a default value creates no memory.
    pub(crate) fn set<P: Part + PartialEq>(&mut self, value: P) {
        if value != P::default() || P::find(self).is_some() {
            *P::make(self) = value;
        }
    }

    fn window_box(&self) -> Option<&WindowBox> {
        self.boxed.as_deref()
    }

    fn window_box_mut(&mut self) -> Option<&mut WindowBox> {
        self.boxed.as_deref_mut()
    }

    fn boxed(&mut self) -> &mut WindowBox {
        self.boxed.get_or_insert_with(Box::default)
    }

    fn detectors(&self) -> Option<&DetectorBox> {
        self.boxed.as_ref()?.detectors.as_deref()
    }

    fn detectors_mut(&mut self) -> Option<&mut DetectorBox> {
        self.boxed.as_mut()?.detectors.as_deref_mut()
    }

    fn make_detectors(&mut self) -> &mut DetectorBox {
        self.boxed().detectors.get_or_insert_with(Box::default)
    }

    fn seldom(&self) -> Option<&SeldomBox> {
        self.detectors()?.seldom.as_deref()
    }

    fn seldom_mut(&mut self) -> Option<&mut SeldomBox> {
        self.detectors_mut()?.seldom.as_deref_mut()
    }

    fn make_seldom(&mut self) -> &mut SeldomBox {
        self.make_detectors()
            .seldom
            .get_or_insert_with(Box::default)
    }

    /// The window (empty when the account has no memory yet).
    pub(crate) fn window(&self) -> &Window {
        self.get::<Window>().unwrap_or(&Window::EMPTY)
    }

    /// True while the account counts as new at `time`.
    pub(crate) fn is_new(&self, time: i64) -> bool {
        self.get::<NewAccount>().is_some_and(|n| time < n.until)
    }

    /// Starts loading the account's window box (stage 0), then its window records and
    /// detector memory (stage 1).
    pub(crate) fn prefetch(&self, stage: usize) {
        use loginwatch_storage::hint::prefetch_val;
        let Some(b) = self.boxed.as_deref() else {
            return;
        };
        match stage {
            0 => prefetch_val(b),
            _ => {
                if let Some(d) = b.detectors.as_deref() {
                    prefetch_val(d);
                }
                if let [first, .., last] = b.window.records() {
                    prefetch_val(first);
                    prefetch_val(last);
                }
            }
        }
    }
}

/// Implements [`Part`] for a type kept in one field of one box: `inline` fields exist
/// whenever their box does, `optional` ones are `Option`s of their own (`boxed` ones an
/// `Option<Box<_>>`).
macro_rules! part {
    ($t:ty, inline $field:ident in $get:ident, $get_mut:ident, $make:ident) => {
        impl Part for $t {
            fn find(s: &AccountState) -> Option<&Self> {
                s.$get().map(|b| &b.$field)
            }
            fn find_mut(s: &mut AccountState) -> Option<&mut Self> {
                s.$get_mut().map(|b| &mut b.$field)
            }
            fn make(s: &mut AccountState) -> &mut Self {
                &mut s.$make().$field
            }
        }
    };
    ($t:ty, optional $field:ident in $get:ident, $get_mut:ident, $make:ident) => {
        impl Part for $t {
            fn find(s: &AccountState) -> Option<&Self> {
                s.$get()?.$field.as_ref()
            }
            fn find_mut(s: &mut AccountState) -> Option<&mut Self> {
                s.$get_mut()?.$field.as_mut()
            }
            fn make(s: &mut AccountState) -> &mut Self {
                s.$make().$field.get_or_insert_with(Default::default)
            }
        }
    };
    ($t:ty, boxed $field:ident in $get:ident, $get_mut:ident, $make:ident) => {
        impl Part for $t {
            fn find(s: &AccountState) -> Option<&Self> {
                s.$get()?.$field.as_deref()
            }
            fn find_mut(s: &mut AccountState) -> Option<&mut Self> {
                s.$get_mut()?.$field.as_deref_mut()
            }
            fn make(s: &mut AccountState) -> &mut Self {
                s.$make().$field.get_or_insert_with(Default::default)
            }
        }
    };
}

impl Part for NetworkLogins {
    fn find(s: &AccountState) -> Option<&Self> {
        Some(&s.network_logins)
    }
    fn find_mut(s: &mut AccountState) -> Option<&mut Self> {
        Some(&mut s.network_logins)
    }
    fn make(s: &mut AccountState) -> &mut Self {
        &mut s.network_logins
    }
}

part!(Window, inline window in window_box, window_box_mut, boxed);
part!(Sessions, inline sessions in detectors, detectors_mut, make_detectors);
part!(Profile, optional profile in detectors, detectors_mut, make_detectors);
part!(ActivityRun, optional run in detectors, detectors_mut, make_detectors);
part!(RiskMemory, boxed risk in detectors, detectors_mut, make_detectors);
part!(Cooldowns, inline cooldowns in seldom, seldom_mut, make_seldom);
part!(AnonMemory, optional anon in seldom, seldom_mut, make_seldom);
part!(NewAccount, inline new_account in seldom, seldom_mut, make_seldom);

impl HeapSize for WindowBox {
    fn heap_bytes(&self) -> usize {
        self.window.heap_bytes() + self.detectors.heap_bytes()
    }
}

impl HeapSize for DetectorBox {
    fn heap_bytes(&self) -> usize {
        self.sessions.heap_bytes() + self.risk.heap_bytes() + self.seldom.heap_bytes()
    }
}

impl HeapSize for SeldomBox {
    fn heap_bytes(&self) -> usize {
        self.cooldowns.heap_bytes()
    }
}

impl HeapSize for AccountState {
    /// Heap bytes owned by this state (window, detector memory, cooldown entries).
    fn heap_bytes(&self) -> usize {
        self.boxed.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn sizes() {
        assert_eq!(size_of::<AccountState>(), 16);
        assert_eq!(size_of::<WindowBox>(), 96);
        const { assert!(size_of::<DetectorBox>() <= 160) };
    }

    #[test]
    fn parts_create_their_boxes_only_when_asked() {
        let mut s = AccountState::default();
        assert!(s.get::<Profile>().is_none() && s.heap_bytes() == 0);
        s.set(NewAccount::default());
        assert_eq!(s.heap_bytes(), 0, "a default value creates no memory");
        s.get_or_default::<NewAccount>().until = 5;
        assert!(s.is_new(4) && !s.is_new(5));
        assert!(s.get::<Profile>().is_none(), "a sibling part stays absent");
        let boxes = size_of::<WindowBox>() + size_of::<DetectorBox>() + size_of::<SeldomBox>();
        assert_eq!(s.heap_bytes(), boxes);
    }
}
