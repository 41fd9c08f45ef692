//! The planted anomaly kinds, named as the alert kinds of CONTRACT §2.

use serde::Serialize;

/// One planted anomaly kind; its wire name equals the alert `kind` a detector should report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ImpossibleTravel,
    ConcurrentIps,
    SharedIp,
    AnonymizedIp,
    LocationMismatch,
    SessionHijack,
    LongSession,
    SanctionedRegion,
}

impl Kind {
    /// Every kind, in the order anomalies are dealt out.
    pub const ALL: [Kind; 8] = [
        Kind::ImpossibleTravel,
        Kind::ConcurrentIps,
        Kind::AnonymizedIp,
        Kind::LocationMismatch,
        Kind::SessionHijack,
        Kind::LongSession,
        Kind::SanctionedRegion,
        Kind::SharedIp,
    ];

    /// The wire name, e.g. `"impossible_travel"`.
    pub fn wire(self) -> &'static str {
        match self {
            Kind::ImpossibleTravel => "impossible_travel",
            Kind::ConcurrentIps => "concurrent_ips",
            Kind::SharedIp => "shared_ip",
            Kind::AnonymizedIp => "anonymized_ip",
            Kind::LocationMismatch => "location_mismatch",
            Kind::SessionHijack => "session_hijack",
            Kind::LongSession => "long_session",
            Kind::SanctionedRegion => "sanctioned_region",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_is_the_wire_name() {
        for k in Kind::ALL {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.wire())
            );
        }
    }
}
