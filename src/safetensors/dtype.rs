//! safetensors dtypes: their sizes, and the four the model's tensors are
//! read from (`F16`, `BF16`, `F32`, `F64`) decoded exactly to `f64`.

use super::json::JsonStr;

/// The dtypes the model's tensors can be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dtype {
    F16,
    BF16,
    F32,
    F64,
}

impl Dtype {
    /// Decodes one little-endian value of this dtype (`bytes` has its size).
    pub(super) fn decode(self, bytes: &[u8]) -> f64 {
        let mut le = [0u8; 8];
        if let Some(slot) = le.get_mut(..bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        let bits = u64::from_le_bytes(le);
        match self {
            Dtype::F16 => f16_to_f64(bits as u16),
            Dtype::BF16 => f64::from(f32::from_bits((bits as u32) << 16)),
            Dtype::F32 => f64::from(f32::from_bits(bits as u32)),
            Dtype::F64 => f64::from_bits(bits),
        }
    }
}

/// IEEE 754 binary16 to `f64` (exact).
fn f16_to_f64(h: u16) -> f64 {
    let negative = h & 0x8000 != 0;
    let exponent = (h >> 10) & 0x1f;
    let fraction = u64::from(h & 0x3ff);
    let magnitude = match exponent {
        // Subnormal (and zero): fraction · 2⁻²⁴.
        0 => fraction as f64 / 16_777_216.0,
        0x1f if fraction == 0 => f64::INFINITY,
        0x1f => f64::NAN,
        // Normal: (1 + fraction / 2¹⁰) · 2^(exponent - 15), rebuilt as f64 bits.
        _ => f64::from_bits(((u64::from(exponent) + 1023 - 15) << 52) | (fraction << 42)),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The size in bytes of a safetensors dtype, and whether we read it.
pub(super) fn dtype_info(dtype: JsonStr<'_>) -> Option<(u64, Option<Dtype>)> {
    const DTYPES: [(&str, u64, Option<Dtype>); 16] = [
        ("F16", 2, Some(Dtype::F16)),
        ("BF16", 2, Some(Dtype::BF16)),
        ("F32", 4, Some(Dtype::F32)),
        ("F64", 8, Some(Dtype::F64)),
        ("BOOL", 1, None),
        ("U8", 1, None),
        ("I8", 1, None),
        ("F8_E5M2", 1, None),
        ("F8_E4M3", 1, None),
        ("I16", 2, None),
        ("U16", 2, None),
        ("I32", 4, None),
        ("U32", 4, None),
        ("I64", 8, None),
        ("U64", 8, None),
        ("C64", 8, None),
    ];
    DTYPES.iter().find(|(name, _, _)| dtype.eq_str(name)).map(|&(_, size, ours)| (size, ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_decodes_exactly() {
        assert_eq!(f16_to_f64(0x3C00), 1.0);
        assert_eq!(f16_to_f64(0xC000), -2.0);
        assert_eq!(f16_to_f64(0x7BFF), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x03FF), 1023.0 * 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x0400), 2f64.powi(-14));
        assert_eq!(f16_to_f64(0x3555), 0.333251953125);
        assert_eq!(f16_to_f64(0x7C00), f64::INFINITY);
        assert!(f16_to_f64(0x7E00).is_nan());
        assert!(f16_to_f64(0x8000).is_sign_negative() && f16_to_f64(0x8000) == 0.0);
    }
}
