//! What the engine remembers about one account. Every field is paid once per tracked account,
//! so detector-specific state is an `Option<Box<..>>` (8 bytes until used) or a few bits.

use crate::detectors::anonymized::AnonMemory;
use crate::detectors::location::Profile;
use crate::detectors::long_session::ActivityRun;
use crate::detectors::session::SessionFp;
use crate::risk::RiskMemory;
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
    /// Memory of location_mismatch, session_hijack, long_session, new-account weight and
    /// risk, in one box (8 bytes for an account that never needed any: the per-account
    /// budget of a quiet account is 200 bytes). See [`Extra`].
    pub extra: Option<Box<Extra>>,
}

/// The later detectors' per-account memory, created at the first event that needs it.
/// 216 bytes plus 32 per remembered session (at most `session_hijack.max_sessions`) plus 80
/// once the account raised a signal.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// Claims, observed countries, language and hours (location_mismatch).
    pub profile: Option<Profile>,
    /// The current run of activity (long_session).
    pub run: Option<ActivityRun>,
    /// Session fingerprints, least recently seen first (session_hijack).
    pub sessions: Vec<SessionFp>,
    /// Signals within the risk horizon, once the account raised one.
    pub risk: Option<Box<RiskMemory>>,
    /// Event time (ms) until which the account counts as new; 0 = not new or unknown.
    pub new_until: i64,
}

impl Extra {
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Extra>()
            + self.sessions.capacity() * std::mem::size_of::<SessionFp>()
            + self.run.as_ref().map_or(0, ActivityRun::heap_bytes)
            + self
                .risk
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<RiskMemory>())
    }
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
            + self.extra.as_ref().map_or(0, |x| x.heap_bytes())
    }

    /// The extra memory, created when first needed.
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// True while the account counts as new at `time`.
    pub(crate) fn is_new(&self, time: i64) -> bool {
        self.extra.as_ref().is_some_and(|x| time < x.new_until)
    }

    /// The risk score when last computed (0 when no signal).
    pub(crate) fn risk_score(&self) -> u8 {
        let risk = self.extra.as_ref().and_then(|x| x.risk.as_ref());
        risk.map_or(0, |r| r.score)
    }
}
