//! What every vendor decoder's fuzz target checks: any bytes become an event, a skip or a
//! `Reject`, never a panic; an event satisfies the contract's invariants and its contract
//! line (what `normalize` writes and the pipeline reads) decodes back to it.

use loginwatch_model::{decode, decode_as, Decoded, Format, LoginEvent};

const LIMIT: usize = 64 * 1024;

pub fn check(format: Format, data: &[u8]) {
    match decode_as(format, data, LIMIT) {
        Ok(Decoded::Event(event)) => {
            assert!(!event.account_id.is_empty() && event.account_id.len() <= 256);
            assert!(!event.event_id.is_empty());
            let line = serde_json::to_vec(&event).expect("an event serializes");
            // The contract line may be longer than the record (a derived id): no size limit.
            let back = decode(&line, usize::MAX).expect("a contract line decodes");
            assert_same(&event, back);
        }
        Ok(Decoded::Skipped(skip)) => assert!(!skip.code().is_empty()),
        Err(reject) => {
            assert!(!reject.reason.code().is_empty());
            assert_eq!(reject.bytes, data);
        }
    }
}

/// Equal, except that coordinates may come back one ULP off (serde_json's default parse).
fn assert_same(event: &LoginEvent, mut back: LoginEvent) {
    if let (Some(a), Some(b)) = (&event.geo, &mut back.geo) {
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(1.0);
        assert!(close(a.lat, b.lat) && close(a.lon, b.lon), "{a:?} {b:?}");
        (b.lat, b.lon) = (a.lat, a.lon);
    }
    assert_eq!(event, &back);
}
