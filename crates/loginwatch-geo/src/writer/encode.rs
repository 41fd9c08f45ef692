//! The MMDB data-section encoding (MaxMind DB spec v2.0, "Output Data Section"): one control
//! byte (type in the top 3 bits, size in the low 5), an extended-type byte for types above 7,
//! size extension bytes, then the payload.

use super::{Value, WriteError};

const TYPE_STRING: u8 = 2;
const TYPE_DOUBLE: u8 = 3;
const TYPE_UINT16: u8 = 5;
const TYPE_UINT32: u8 = 6;
const TYPE_MAP: u8 = 7;
const TYPE_UINT64: u8 = 9;
const TYPE_ARRAY: u8 = 11;
const TYPE_BOOL: u8 = 14;
const TYPE_FLOAT: u8 = 15;

/// The largest size the 5-bit size field and its three extension bytes can express.
const MAX_SIZE: usize = 65_821 + 0xFF_FFFF;

/// Appends the encoding of `value` to `out`.
pub(super) fn encode(value: &Value, out: &mut Vec<u8>) -> Result<(), WriteError> {
    match value {
        Value::String(s) => {
            control(out, TYPE_STRING, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::F64(f) => {
            control(out, TYPE_DOUBLE, 8)?;
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::F32(f) => {
            control(out, TYPE_FLOAT, 4)?;
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::U16(n) => uint(out, TYPE_UINT16, &n.to_be_bytes())?,
        Value::U32(n) => uint(out, TYPE_UINT32, &n.to_be_bytes())?,
        Value::U64(n) => uint(out, TYPE_UINT64, &n.to_be_bytes())?,
        Value::Bool(b) => control(out, TYPE_BOOL, usize::from(*b))?,
        Value::Map(map) => {
            control(out, TYPE_MAP, map.len())?;
            for (key, val) in map {
                control(out, TYPE_STRING, key.len())?;
                out.extend_from_slice(key.as_bytes());
                encode(val, out)?;
            }
        }
        Value::Array(items) => {
            control(out, TYPE_ARRAY, items.len())?;
            for item in items {
                encode(item, out)?;
            }
        }
    }
    Ok(())
}

/// Unsigned integers are stored big-endian without their leading zero bytes.
fn uint(out: &mut Vec<u8>, type_num: u8, be: &[u8]) -> Result<(), WriteError> {
    let first = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    control(out, type_num, be.len() - first)?;
    out.extend_from_slice(&be[first..]);
    Ok(())
}

/// Writes the control byte, the extended-type byte if any, and the size extension bytes.
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) -> Result<(), WriteError> {
    if size > MAX_SIZE {
        return Err(WriteError::ValueTooLarge(size));
    }
    let (type_bits, extended) = if type_num <= 7 {
        (type_num << 5, None)
    } else {
        (0, Some(type_num - 7))
    };
    // Each arm's subtraction is within range of its size extension, so the casts are exact.
    let (size_bits, extra): (u8, &[u8]) = match size {
        0..=28 => (size as u8, &[]),
        29..=284 => (29, &[(size - 29) as u8]),
        285..=65_820 => (30, &((size - 285) as u16).to_be_bytes()),
        _ => (31, &((size - 65_821) as u32).to_be_bytes()[1..]),
    };
    out.push(type_bits | size_bits);
    out.extend(extended);
    out.extend_from_slice(extra);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, &mut out).unwrap();
        out
    }

    #[test]
    fn spec_examples() {
        // Examples from the MaxMind DB format specification.
        assert_eq!(bytes(&Value::U16(0)), [0xa0]);
        assert_eq!(bytes(&Value::U16(500)), [0xa2, 0x01, 0xf4]);
        assert_eq!(bytes(&Value::U32(0)), [0xc0]);
        assert_eq!(bytes(&Value::Bool(true)), [0x01, 0x07]);
        assert_eq!(bytes(&Value::U64(1)), [0x01, 0x02, 0x01]);
        assert_eq!(bytes(&Value::from("")), [0x40]);
        let long = "x".repeat(300);
        assert_eq!(&bytes(&Value::from(long.as_str()))[..3], [0x5e, 0x00, 0x0f]);
        let mid = "x".repeat(29);
        assert_eq!(&bytes(&Value::from(mid.as_str()))[..2], [0x5d, 0x00]);
    }

    #[test]
    fn arrays_and_floats_use_extended_types() {
        assert_eq!(bytes(&Value::Array(vec![])), [0x00, 0x04]);
        assert_eq!(bytes(&Value::F32(1.0))[..2], [0x04, 0x08]);
        assert_eq!(bytes(&Value::F64(1.0))[0], 0x68);
    }
}
