//! metadata_csum checksums: crc32c as ext4 uses it.
//!
//! Follows Documentation/filesystems/ext4/checksums.rst ("Checksums"):
//! checksums are crc32c (Castagnoli) without the final inversion, seeded
//! with crc32c(~0, s_uuid) or s_checksum_seed (metadata_csum_seed). Only
//! inode checksums are verified here, and a mismatch is reported, never
//! fatal: salvage reads what it can.

use super::bytes::le32;

/// crc32c update over `data`, with no pre- or post-inversion (the
/// kernel's `crc32c_le`, as ext4's `ext4_chksum` calls it).
pub(crate) fn crc32c_raw(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = 0u32.wrapping_sub(crc & 1);
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    crc
}

/// A sentence when the inode record's stored checksum does not match.
/// `raw` is the whole on-disk record (inode size bytes).
pub(crate) fn inode_checksum_problem(raw: &[u8], ino: u64, fs_seed: u32) -> Option<String> {
    // Inode numbers are 32-bit on disk; a larger one can't be checked.
    let ino32 = u32::try_from(ino).ok()?;
    let i_generation = le32(raw, 0x64);
    let mut seed = crc32c_raw(fs_seed, &ino32.to_le_bytes());
    seed = crc32c_raw(seed, &i_generation.to_le_bytes());
    let mut copy = raw.to_vec();
    let stored_lo = u32::from(super::bytes::le16(raw, 0x7C));
    // l_i_checksum_lo at 0x7C.
    for b in copy.get_mut(0x7C..0x7E)? {
        *b = 0;
    }
    // i_checksum_hi at 0x82, when i_extra_isize covers it.
    let extra = usize::from(super::bytes::le16(raw, 0x80));
    let has_hi = raw.len() > 128 && extra >= 4;
    let mut stored = stored_lo;
    if has_hi {
        stored |= u32::from(super::bytes::le16(raw, 0x82)) << 16;
        for b in copy.get_mut(0x82..0x84)? {
            *b = 0;
        }
    }
    let mut computed = crc32c_raw(seed, &copy);
    if !has_hi {
        computed &= 0xFFFF;
    }
    if computed == stored {
        None
    } else {
        Some(format!(
            "inode checksum is {stored:#x} but the inode's bytes give {computed:#x}; it may be damaged"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The standard crc32c of "123456789" is 0xE3069283 (with inversions).
        assert_eq!(!crc32c_raw(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn reports_mismatches_only() {
        let mut raw = vec![0u8; 256];
        raw[0x80] = 32;
        let seed = 0x1234_5678;
        let Some(msg) = inode_checksum_problem(&raw, 12, seed) else { panic!("zero checksum matched") };
        assert!(msg.contains("inode checksum is 0x0"));
        // Store the right value and the problem goes away.
        let mut s = crc32c_raw(seed, &12u32.to_le_bytes());
        s = crc32c_raw(s, &0u32.to_le_bytes());
        let c = crc32c_raw(s, &raw);
        raw[0x7C..0x7E].copy_from_slice(&c.to_le_bytes()[..2]);
        raw[0x82..0x84].copy_from_slice(&c.to_le_bytes()[2..]);
        assert_eq!(inode_checksum_problem(&raw, 12, seed), None);
    }
}
