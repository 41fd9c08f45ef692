//! The data loginwatch speaks: login events in, alerts out.
//!
//! - [`event`]: [`LoginEvent`] and [`decode`], which turns one JSON message into an event or a
//!   precise [`Reject`] reason.
//! - [`alert`]: [`Alert`], its kinds and severities, and the deterministic ids.
//! - [`time`]: RFC 3339 / epoch-millisecond timestamps without a date-time dependency.
//! - [`country`]: ISO 3166-1 alpha-2 codes in two bytes.

pub mod alert;
pub mod country;
pub mod event;
pub mod time;

pub use alert::{Alert, AlertKind, Severity, ALERT_SCHEMA};
pub use country::CountryCode;
pub use event::{
    decode, decode_into, EventType, GeoHint, LoginEvent, Outcome, Reject, RejectReason,
};
pub use time::EventTime;
