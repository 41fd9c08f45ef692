//! The data loginwatch speaks: login events in, alerts out.
//!
//! - [`event`]: [`LoginEvent`] and [`decode`], which turns one JSON message into an event or a
//!   precise [`Reject`] reason; [`decode_as`] does the same for a vendor's login record
//!   ([`Format`]: Okta, Entra ID, Auth0, CloudTrail, Google Workspace, Keycloak), or says why
//!   it was [`Skip`]ped.
//! - [`alert`]: [`Alert`], its kinds and severities, the deterministic ids, its typed
//!   [`Evidence`] (one struct per kind, written straight to the output), and the formats
//!   alerts are written in ([`AlertFormat`]: native JSON or an OCSF Detection Finding).
//! - [`time`]: RFC 3339 / epoch-millisecond timestamps without a date-time dependency.
//! - [`country`]: ISO 3166-1 alpha-2 codes in two bytes.

pub mod alert;
pub mod country;
pub mod event;
pub mod time;

#[cfg(test)]
mod testkit;

pub use alert::{
    Alert, AlertFormat, AlertKind, Evidence, Severity, UnknownAlertFormat, ALERT_SCHEMA,
};
pub use country::CountryCode;
pub use event::vendor::{decode_as, Decoded, Format, Skip};
pub use event::{
    decode, decode_into, EventType, GeoHint, LoginEvent, Outcome, Reject, RejectReason,
};
pub use time::EventTime;
