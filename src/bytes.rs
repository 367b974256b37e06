//! Little-endian field readers for on-disk structures, shared by every
//! format that parses them (ext4, volume managers, containers).
//!
//! Every `from_bytes` checks its slice length once; these helpers then
//! read fields by offset and return 0 for bytes past the end instead of
//! panicking, so a length check that is wrong can't crash the reader.

/// The `u8` at `off`, or 0.
pub(crate) fn le8(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

/// The little-endian `u16` at `off`, or 0.
pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
    let end = off.saturating_add(2);
    b.get(off..end).and_then(|s| <[u8; 2]>::try_from(s).ok()).map_or(0, u16::from_le_bytes)
}

/// The little-endian `u32` at `off`, or 0.
pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    let end = off.saturating_add(4);
    b.get(off..end).and_then(|s| <[u8; 4]>::try_from(s).ok()).map_or(0, u32::from_le_bytes)
}

/// The little-endian `u64` at `off`, or 0.
pub(crate) fn le64(b: &[u8], off: usize) -> u64 {
    let end = off.saturating_add(8);
    b.get(off..end).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes)
}

/// `lo | hi << 32`.
pub(crate) fn lo_hi(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | (u64::from(hi) << 32)
}

/// A fixed-size byte array at `off`; zero-filled where out of range.
pub(crate) fn array<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = le8(b, off.saturating_add(i));
    }
    out
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_reads_are_zero() {
        let b = [1u8, 2, 3];
        assert_eq!(le16(&b, 0), 0x0201);
        assert_eq!(le16(&b, 2), 0);
        assert_eq!(le32(&b, 0), 0);
        assert_eq!(le32(&b, usize::MAX), 0);
        assert_eq!(array::<4>(&b, 1), [2, 3, 0, 0]);
    }
}
