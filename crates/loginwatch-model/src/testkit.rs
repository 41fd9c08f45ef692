//! Test support shared by the crate's tests.

use proptest::prelude::*;

/// Any JSON value: strings of any characters (controls, quotes, backslashes, non-ASCII),
/// any float (NaN and infinities are written as null), integers of either sign.
pub(crate) fn any_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let text = prop::collection::vec(
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec!['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'é', '/']),
        ],
        0..48,
    )
    .prop_map(String::from_iter);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-1e7..1e7f64).prop_map(|f| Value::from((f * 10.0).round() / 10.0)),
        text.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
