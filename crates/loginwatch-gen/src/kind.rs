//! The planted anomaly kinds: alert kinds of CONTRACT §2, so a label names the alert `kind` a
//! detector should report.

pub use loginwatch_model::AlertKind as Kind;

/// Every kind the generator plants, in the order anomalies are dealt out (`account_risk` is a
/// summary of the others and is never planted).
pub const PLANTED: [Kind; 8] = [
    Kind::ImpossibleTravel,
    Kind::ConcurrentIps,
    Kind::AnonymizedIp,
    Kind::LocationMismatch,
    Kind::SessionHijack,
    Kind::LongSession,
    Kind::SanctionedRegion,
    Kind::SharedIp,
];
