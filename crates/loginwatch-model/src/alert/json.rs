//! The native alert JSON written straight into the output buffer ([`Json`]): each evidence
//! struct writes its keys as byte strings fixed at compile time and its values by type, with
//! no serializer in between. The bytes are those of `serde_json::to_writer` on the same value
//! (the evidence module's rules: fields in name order, absent values `null`, numbers keeping
//! their types); the evidence tests hold every kind, with and without the engine's raises, to
//! it, and whole alerts with any text and numbers in them.
//!
//! What this path does not write itself goes through [`write_json`] (sonic-rs, the
//! same bytes): strings with something to escape, non-finite or long floats, the enums named
//! by their serde attributes, and evidence read as plain JSON. The engine's raises are
//! written among an evidence struct's fields at their sorted place ([`Pending`]).
//! [`write_json`] is also how OCSF findings and evidence text are written; both routes
//! write the evidence's usual numbers by [`short_decimal`].

use super::evidence::kinds::SharedIp;
use super::evidence::Raises;
use super::{Alert, AlertKind, Severity};
use crate::country::CountryCode;
use crate::time::{EventTime, Rfc3339, PAIRS};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// A value written as native alert JSON (see the module docs).
pub(crate) trait Json {
    fn write(&self, out: &mut Vec<u8>);
}

/// Writes `,"name":value` (the key's bytes fixed at compile time).
macro_rules! entry {
    ($out:expr, $name:ident, $value:expr) => {
        $out.extend_from_slice(concat!(",\"", stringify!($name), "\":").as_bytes());
        $crate::alert::json::Json::write($value, $out);
    };
}
pub(crate) use entry;

/// Defines an evidence struct and its [`Json`] writer from one list of fields: each written
/// as `"name":value`, in the order listed (which must be byte order of the names, as the
/// evidence module requires; its tests check the bytes against serde's).
macro_rules! json_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name {
            /// Writes the object, calling `before` ahead of each key (with it) and of the
            /// closing brace (with `None`): entries it writes there (each led by a comma) are
            /// among the object's.
            pub(crate) fn write_with(
                &self,
                out: &mut Vec<u8>,
                mut before: impl FnMut(&mut Vec<u8>, Option<&str>),
            ) {
                // Every entry leads with a comma; the first one's becomes the brace.
                let start = out.len();
                $(
                    before(out, Some(stringify!($field)));
                    $crate::alert::json::entry!(out, $field, &self.$field);
                )*
                before(out, None);
                match out.get_mut(start) {
                    Some(first) => *first = b'{',
                    None => out.push(b'{'),
                }
                out.push(b'}');
            }
        }

        impl $crate::alert::json::Json for $name {
            fn write(&self, out: &mut Vec<u8>) {
                self.write_with(out, |_, _| {});
            }
        }
    };
}
pub(crate) use json_struct;

/// [`Json`] through serde (sonic-rs) for types whose text serde's attributes decide.
macro_rules! json_via_serde {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::alert::json::Json for $ty {
            fn write(&self, out: &mut Vec<u8>) {
                $crate::alert::json::via_serde(out, self);
            }
        }
    )*};
}
pub(crate) use json_via_serde;

/// An alert as its contract JSON (CONTRACT §2), keys in the order `Alert` declares them.
impl Json for Alert {
    fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        entry!(out, schema, &self.schema);
        entry!(out, alert_id, &self.alert_id);
        entry!(out, kind, &self.kind);
        entry!(out, severity, &self.severity);
        entry!(out, account_id, &self.account_id);
        entry!(out, event_time, &self.event_time);
        entry!(out, detected_at, &self.detected_at);
        entry!(out, summary, &self.summary);
        entry!(out, event_ids, &self.event_ids);
        entry!(out, evidence, &self.evidence);
        if let Some(score) = &self.risk_score {
            entry!(out, risk_score, score);
        }
        out[start] = b'{';
        out.push(b'}');
    }
}

/// The engine's raises not yet written into an evidence object, each written at its sorted
/// place: before the first key that sorts after it (`None`: the end).
pub(crate) struct Pending<'a> {
    new_account_until: Option<EventTime>,
    watch_countries: Option<&'a [CountryCode]>,
}

impl<'a> Pending<'a> {
    pub(crate) fn new(raises: &'a Raises) -> Self {
        Pending {
            new_account_until: raises.new_account_until,
            watch_countries: raises.watch_countries.as_deref(),
        }
    }

    /// Writes (each led by a comma) the raises that sort before `next`.
    pub(crate) fn before(&mut self, out: &mut Vec<u8>, next: Option<&str>) {
        let due = |key: &str| next.is_none_or(|n| key < n);
        if self.new_account_until.is_some() && due("new_account_until") {
            entry!(out, new_account_until, &self.new_account_until.take());
        }
        if self.watch_countries.is_some() && due("watch_countries") {
            entry!(out, watch_countries, &self.watch_countries.take());
        }
    }
}

/// Writes a farm's shared_ip evidence. Its members' alerts share it (one `Arc`, built once)
/// and are written one after another: while another alert still holds it, this thread keeps
/// its bytes and copies them for the next member instead of writing the members again (a
/// farm's evidence lists up to 64 accounts). One farm per thread is kept.
pub(crate) fn write_farm(out: &mut Vec<u8>, farm: &Arc<SharedIp>) {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<(Option<Arc<SharedIp>>, Vec<u8>)> = const { RefCell::new((None, Vec::new())) };
    }
    if Arc::strong_count(farm) == 1 {
        return farm.write(out);
    }
    LAST.with_borrow_mut(|(held, bytes)| {
        // `held` keeps the farm alive, so an equal pointer is this very farm.
        if !held.as_ref().is_some_and(|h| Arc::ptr_eq(h, farm)) {
            bytes.clear();
            farm.write(bytes);
            *held = Some(Arc::clone(farm));
        }
        out.extend_from_slice(bytes);
    });
}

/// Writes `value` through serde; a value that cannot be written (a map with non-string
/// keys, which alerts do not hold) writes `null`.
pub(crate) fn via_serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    if write_json(out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

/// True when JSON must escape some byte of `s` (a control character, `"` or `\\`). Checked
/// 16 bytes at a time without an early exit inside a block, so the compiler turns each block
/// into a few vector compares; a byte-by-byte `any` is not vectorized.
pub(crate) fn needs_escape(s: &[u8]) -> bool {
    let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let mut blocks = s.chunks_exact(16);
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | escaped(b)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| escaped(b))
}

/// A JSON string: copied between quotes when nothing in it needs escaping.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        via_serde(out, s);
    }
}

impl Json for str {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl Json for String {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl Json for Arc<str> {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl Json for Cow<'_, str> {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl Json for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

macro_rules! json_integer {
    ($($ty:ty),*) => {$(
        impl Json for $ty {
            fn write(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
            }
        }
    )*};
}
json_integer!(u8, u16, u32, u64, usize, i64);

impl Json for f64 {
    fn write(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; 24];
        match short_decimal(*self, &mut buf) {
            Some(text) => out.extend_from_slice(text),
            None => via_serde(out, self),
        }
    }
}

impl Json for EventTime {
    fn write(&self, out: &mut Vec<u8>) {
        match Rfc3339::of(*self) {
            Some(text) => {
                out.push(b'"');
                out.extend_from_slice(text.as_bytes());
                out.push(b'"');
            }
            None => via_serde(out, self),
        }
    }
}

impl Json for AlertKind {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self.as_str());
    }
}

impl Json for Severity {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self.as_str());
    }
}

impl Json for CountryCode {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self.as_str());
    }
}

impl Json for IpAddr {
    fn write(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        match self {
            // `a.b.c.d`, as `Display` writes it, without the formatting machinery.
            IpAddr::V4(a) => {
                out.push(b'"');
                for (i, octet) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    out.extend_from_slice(itoa::Buffer::new().format(octet).as_bytes());
                }
                out.push(b'"');
            }
            // An address's text has nothing to escape; writing to a `Vec` cannot fail.
            IpAddr::V6(a) => {
                let _ = write!(out, "\"{a}\"");
            }
        }
    }
}

impl<T: Json> Json for Option<T> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.write(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl<T: Json> Json for [T] {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            v.write(out);
        }
        out.push(b']');
    }
}

impl<T: Json + ?Sized> Json for &T {
    fn write(&self, out: &mut Vec<u8>) {
        (**self).write(out);
    }
}

impl<T: Json> Json for Vec<T> {
    fn write(&self, out: &mut Vec<u8>) {
        self.as_slice().write(out);
    }
}

impl<T: Json, const N: usize> Json for [T; N] {
    fn write(&self, out: &mut Vec<u8>) {
        self.as_slice().write(out);
    }
}

impl<T: Json + ?Sized> Json for Box<T> {
    fn write(&self, out: &mut Vec<u8>) {
        (**self).write(out);
    }
}

impl<T: Json> Json for Arc<T> {
    fn write(&self, out: &mut Vec<u8>) {
        (**self).write(out);
    }
}

/// Appends `value` to `out` as compact JSON: the bytes `serde_json::to_writer` writes (the same
/// escapes, and the same float formatter, `zmij`), written by `sonic-rs`, whose string escaping
/// scans 16 or 32 bytes at a time where serde_json looks at every byte of every key and value
/// (a quarter of an alert's writing time). `tests::written_as_serde_json_writes` holds the two
/// to the same bytes.
pub(crate) fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<()> {
    let mut s = sonic_rs::Serializer::with_formatter(out, Compact);
    value.serialize(&mut s).map_err(serde::ser::Error::custom)
}

/// sonic-rs's compact formatter, with a short path for the evidence's usual numbers.
#[derive(Clone, Copy)]
struct Compact;

impl sonic_rs::format::Formatter for Compact {
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, x: f64) -> std::io::Result<()> {
        let mut buf = [0u8; 24];
        match short_decimal(x, &mut buf) {
            Some(text) => w.write_all(text),
            None => sonic_rs::format::CompactFormatter.write_f64(w, x),
        }
    }
}

/// The shortest text of `x` when it is a decimal with at most 4 places (coordinates, km,
/// seconds and shares are rounded so), written without the general float formatter:
/// `37.5665`, `20.0`. `None` for anything else (and 0, whose sign needs care).
///
/// Why it is the text `zmij` writes: `x` is the double nearest to the decimal `d = k/10⁴`.
/// Any other decimal of at most as many digits and up to 4 places lies at least 10⁻⁴ away
/// from `d`, far more than half the spacing of doubles below 10⁹, so it reads back as
/// another double: `d` with its trailing zeros trimmed is the shortest text that reads back
/// as `x`, and in this range that text is written without an exponent.
/// `tests::short_decimals_are_the_formatted_ones` holds the two together.
fn short_decimal(x: f64, buf: &mut [u8; 24]) -> Option<&[u8]> {
    let a = x.abs();
    if !(1e-4..1e9).contains(&a) {
        return None;
    }
    // Rounded by truncation (`round` is a library call without SSE4.1); any `k` that
    // does not give `a` back is refused below, so rounding errors cannot reach the text.
    let k = (a * 1e4 + 0.5) as u64;
    if k as f64 / 1e4 != a {
        return None;
    }
    let (whole, frac) = (k / 10_000, (k % 10_000) as usize);
    let mut at = usize::from(x < 0.0);
    buf[0] = b'-';
    let mut whole_text = itoa::Buffer::new();
    let whole = whole_text.format(whole).as_bytes();
    buf[at..at + whole.len()].copy_from_slice(whole);
    at += whole.len();
    buf[at] = b'.';
    at += 1;
    // The four places from two two-digit pairs, trailing zeros trimmed (one place at least).
    let (hi, lo) = (frac / 100, frac % 100);
    buf[at..at + 2].copy_from_slice(&PAIRS[2 * hi..2 * hi + 2]);
    buf[at + 2..at + 4].copy_from_slice(&PAIRS[2 * lo..2 * lo + 2]);
    let places = match frac {
        f if f % 1000 == 0 => 1,
        f if f % 100 == 0 => 2,
        f if f % 10 == 0 => 3,
        _ => 4,
    };
    Some(&buf[..at + places])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn written_as_serde_json_writes(v in crate::testkit::any_json()) {
            let mut out = b"before ".to_vec();
            write_json(&mut out, &v).unwrap();
            let mut want = b"before ".to_vec();
            serde_json::to_writer(&mut want, &v).unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&want));
        }
    }

    proptest! {
        #[test]
        fn short_decimals_are_the_formatted_ones(
            k in -10_000_000_000_000i64..10_000_000_000_000,
            scale in 0u32..5,
            x in proptest::num::f64::ANY,
        ) {
            let d = k as f64 / 10f64.powi(scale as i32);
            for x in [d, x, d.next_up(), d.next_down()] {
                let mut buf = [0u8; 24];
                if let Some(text) = short_decimal(x, &mut buf) {
                    prop_assert_eq!(std::str::from_utf8(text).unwrap(), serde_json::to_string(&x).unwrap());
                }
                let mut out = Vec::new();
                write_json(&mut out, &x).unwrap();
                prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&x).unwrap());
            }
        }
    }

    proptest! {
        #[test]
        fn escapes_found_in_blocks_as_byte_by_byte(
            text in proptest::collection::vec(any::<u8>(), 0..80),
            bad in proptest::sample::select(vec![0u8, 0x1f, b'"', b'\\']),
            at in any::<proptest::sample::Index>(),
        ) {
            let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_escape(&text), naive(&text));
            let mut one = vec![b'a'; text.len() + 1];
            let i = at.index(one.len());
            one[i] = bad;
            prop_assert!(needs_escape(&one));
        }
    }

    #[test]
    fn short_decimals_cover_the_usual_numbers() {
        let mut buf = [0u8; 24];
        for (x, text) in [
            (37.5665, "37.5665"),
            (20.0, "20.0"),
            (-0.5, "-0.5"),
            (540.0, "540.0"),
        ] {
            assert_eq!(short_decimal(x, &mut buf), Some(text.as_bytes()));
        }
        for x in [0.0, -0.0, 1e-5, 0.33333, 1e9, f64::NAN, f64::INFINITY] {
            assert_eq!(short_decimal(x, &mut buf), None, "{x}");
        }
    }
}
