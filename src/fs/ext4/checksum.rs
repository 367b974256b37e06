//! metadata_csum checksums: crc32c as ext4 uses it.
//!
//! Follows Documentation/filesystems/ext4/checksums.rst ("Checksums"):
//! checksums are crc32c (Castagnoli) without the final inversion, seeded
//! with crc32c(~0, s_uuid) or s_checksum_seed (metadata_csum_seed).
//! Verified: the superblock, group descriptors (crc16 with gdt_csum, the
//! low half of crc32c with metadata_csum), inodes, directory leaf blocks
//! (the 12-byte tail), htree root and node blocks (dx_tail), extent tree
//! blocks (the tail after eh_max entries) and external xattr blocks. A
//! mismatch is a sentence for the caller to report, never fatal: salvage
//! reads what it can and marks it.

use crate::bytes::{le16, le32};

/// crc32c update over `data`, with no pre- or post-inversion (the
/// kernel's `crc32c_le`, as ext4's `ext4_chksum` calls it).
pub(crate) fn crc32c_raw(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        // The index is the low byte, so it is always in the table.
        let i = usize::from(u8::try_from((crc ^ u32::from(b)) & 0xFF).unwrap_or(0));
        crc = (crc >> 8) ^ CRC32C_TABLE.get(i).copied().unwrap_or(0);
    }
    crc
}

/// crc32c (reflected polynomial 0x82F63B78) for each byte value.
const CRC32C_TABLE: [u32; 256] = crc32c_table();

// Compile-time loop counters below 256; `as usize` of a value < 256.
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::as_conversions)]
const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0u32;
    while n < 256 {
        let mut crc = n;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
            k += 1;
        }
        table[n as usize] = crc;
        n += 1;
    }
    table
}

/// CRC-16 (polynomial 0x8005, reflected, no inversions), as the kernel's
/// `crc16` that gdt_csum descriptors use.
pub(crate) fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            let mask = 0u16.wrapping_sub(crc & 1);
            crc = (crc >> 1) ^ (0xA001 & mask);
        }
    }
    crc
}

/// crc32c over `data` with the 4 bytes at `at` taken as zeros.
fn crc32c_skipping(seed: u32, data: &[u8], at: usize) -> u32 {
    let head = data.get(..at).unwrap_or(data);
    let tail = data.get(at.saturating_add(4)..).unwrap_or(&[]);
    let crc = crc32c_raw(seed, head);
    let crc = crc32c_raw(crc, &[0; 4]);
    crc32c_raw(crc, tail)
}

/// The per-inode seed: crc32c(fs seed, inode number, i_generation).
pub(crate) fn inode_seed(fs_seed: u32, ino: u64, generation: u32) -> Option<u32> {
    let ino32 = u32::try_from(ino).ok()?;
    Some(crc32c_raw(crc32c_raw(fs_seed, &ino32.to_le_bytes()), &generation.to_le_bytes()))
}

/// Offset of s_checksum in the superblock.
const SB_CHECKSUM_OFFSET: usize = 0x3FC;

/// A sentence when the superblock's s_checksum (crc32c(~0) of the bytes
/// before it) does not match. Only call with metadata_csum.
pub(crate) fn superblock_problem(sb: &[u8]) -> Option<String> {
    let stored = le32(sb, SB_CHECKSUM_OFFSET);
    let computed = crc32c_raw(!0, sb.get(..SB_CHECKSUM_OFFSET)?);
    (stored != computed).then(|| format!("superblock checksum is {stored:#x} but its bytes give {computed:#x}"))
}

/// How group descriptors are checksummed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GdtCsum {
    None,
    /// gdt_csum / uninit_bg: crc16 over the UUID, group number and descriptor.
    Crc16 { uuid: [u8; 16], is_64bit: bool },
    /// metadata_csum: low 16 bits of crc32c over group number and descriptor.
    Crc32c { seed: u32 },
}

/// Offset of bg_checksum in a group descriptor.
const BG_CHECKSUM_OFFSET: usize = 0x1E;

/// The checksum group `group`'s descriptor `desc` should hold (None when
/// descriptors have none).
pub(crate) fn group_desc_checksum(kind: GdtCsum, group: u32, desc: &[u8]) -> Option<u16> {
    let g = group.to_le_bytes();
    match kind {
        GdtCsum::None => None,
        GdtCsum::Crc32c { seed } => {
            let crc = crc32c_raw(seed, &g);
            // bg_checksum is 2 bytes: skip it by hand.
            let crc = crc32c_raw(crc, desc.get(..BG_CHECKSUM_OFFSET)?);
            let crc = crc32c_raw(crc, &[0, 0]);
            let crc = crc32c_raw(crc, desc.get(BG_CHECKSUM_OFFSET.saturating_add(2)..).unwrap_or(&[]));
            Some(u16::try_from(crc & 0xFFFF).unwrap_or(0))
        }
        GdtCsum::Crc16 { uuid, is_64bit } => {
            let crc = crc16(!0, &uuid);
            let crc = crc16(crc, &g);
            let crc = crc16(crc, desc.get(..BG_CHECKSUM_OFFSET)?);
            let rest = if is_64bit { desc.get(BG_CHECKSUM_OFFSET.saturating_add(2)..).unwrap_or(&[]) } else { &[] };
            Some(crc16(crc, rest))
        }
    }
}

/// A sentence when group `group`'s descriptor checksum does not match.
pub(crate) fn group_desc_problem(kind: GdtCsum, group: u32, desc: &[u8]) -> Option<String> {
    let want = group_desc_checksum(kind, group, desc)?;
    let stored = le16(desc, BG_CHECKSUM_OFFSET);
    (want != stored).then(|| {
        format!("group {group}'s descriptor checksum is {stored:#06x} but its bytes give {want:#06x}; its inode table location may be wrong")
    })
}

/// Directory leaf tail: inode 0, rec_len 12, name_len 0, file_type 0xDE.
pub(crate) fn has_dirent_tail(block: &[u8]) -> bool {
    let t = block.len().saturating_sub(12);
    block.len() >= 12
        && le32(block, t) == 0
        && le16(block, t.saturating_add(4)) == 12
        && block.get(t.saturating_add(6)) == Some(&0)
        && block.get(t.saturating_add(7)) == Some(&0xDE)
}

/// A sentence when a directory leaf block's tail checksum is missing or
/// wrong; `seed` is the directory inode's seed.
pub(crate) fn dir_leaf_problem(block: &[u8], seed: u32) -> Option<String> {
    if !has_dirent_tail(block) {
        return Some("directory block has no checksum tail".to_string());
    }
    let t = block.len().saturating_sub(12);
    let stored = le32(block, t.saturating_add(8));
    let computed = crc32c_raw(seed, block.get(..t)?);
    (stored != computed).then(|| format!("directory block checksum is {stored:#x} but its bytes give {computed:#x}"))
}

/// A sentence when an htree root or node block's dx_tail checksum is wrong.
/// `count_offset` is where its count/limit pair sits.
pub(crate) fn dx_problem(block: &[u8], count_offset: usize, seed: u32) -> Option<String> {
    let limit = usize::from(le16(block, count_offset));
    let count = usize::from(le16(block, count_offset.saturating_add(2)));
    let tail = count_offset.saturating_add(limit.saturating_mul(8));
    if count > limit || tail.saturating_add(8) > block.len() {
        return Some(format!("htree block has no room for its checksum (count {count}, limit {limit})"));
    }
    let size = count_offset.saturating_add(count.saturating_mul(8));
    let crc = crc32c_raw(seed, block.get(..size)?);
    let crc = crc32c_raw(crc, block.get(tail..tail.saturating_add(4))?);
    let computed = crc32c_raw(crc, &[0; 4]);
    let stored = le32(block, tail.saturating_add(4));
    (stored != computed).then(|| format!("htree block checksum is {stored:#x} but its bytes give {computed:#x}"))
}

/// A sentence when an extent tree block's tail checksum is wrong; the tail
/// follows `eh_max` entries.
pub(crate) fn extent_block_problem(block: &[u8], eh_max: u16, seed: u32) -> Option<String> {
    let end = usize::from(eh_max).saturating_add(1).saturating_mul(12);
    let Some(covered) = block.get(..end) else {
        return Some("extent block has no room for its checksum".to_string());
    };
    if end.saturating_add(4) > block.len() {
        return Some("extent block has no room for its checksum".to_string());
    }
    let stored = le32(block, end);
    let computed = crc32c_raw(seed, covered);
    (stored != computed).then(|| format!("extent block checksum is {stored:#x} but its bytes give {computed:#x}"))
}

/// Offset of h_checksum in an xattr block header.
const XATTR_CHECKSUM_OFFSET: usize = 0x10;

/// A sentence when the external xattr block `block_nr`'s checksum is wrong
/// (crc32c over the block number and the block with h_checksum zeroed).
pub(crate) fn xattr_block_problem(block: &[u8], block_nr: u64, fs_seed: u32) -> Option<String> {
    let crc = crc32c_raw(fs_seed, &block_nr.to_le_bytes());
    let computed = crc32c_skipping(crc, block, XATTR_CHECKSUM_OFFSET);
    let stored = le32(block, XATTR_CHECKSUM_OFFSET);
    (stored != computed).then(|| format!("extended attribute block checksum is {stored:#x} but its bytes give {computed:#x}"))
}

/// A sentence when the inode record's stored checksum does not match.
/// `raw` is the whole on-disk record (inode size bytes).
pub(crate) fn inode_checksum_problem(raw: &[u8], ino: u64, fs_seed: u32) -> Option<String> {
    // Inode numbers are 32-bit on disk; a larger one can't be checked.
    let seed = inode_seed(fs_seed, ino, le32(raw, 0x64))?;
    let mut copy = raw.to_vec();
    let stored_lo = u32::from(crate::bytes::le16(raw, 0x7C));
    // l_i_checksum_lo at 0x7C.
    for b in copy.get_mut(0x7C..0x7E)? {
        *b = 0;
    }
    // i_checksum_hi at 0x82, when i_extra_isize covers it.
    let extra = usize::from(crate::bytes::le16(raw, 0x80));
    let has_hi = raw.len() > 128 && extra >= 4;
    let mut stored = stored_lo;
    if has_hi {
        stored |= u32::from(crate::bytes::le16(raw, 0x82)) << 16;
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
    fn crc16_matches_the_arc_check_value() {
        // CRC-16/ARC of "123456789" is 0xBB3D (init 0).
        assert_eq!(crc16(0, b"123456789"), 0xBB3D);
    }

    #[test]
    fn superblock_and_block_checksums_round_trip() {
        let mut sb = vec![7u8; 1024];
        assert!(superblock_problem(&sb).unwrap().contains("superblock checksum"));
        let c = crc32c_raw(!0, &sb[..0x3FC]);
        sb[0x3FC..].copy_from_slice(&c.to_le_bytes());
        assert_eq!(superblock_problem(&sb), None);

        let mut leaf = vec![0u8; 1024];
        assert_eq!(dir_leaf_problem(&leaf, 1).unwrap(), "directory block has no checksum tail");
        leaf[1012 + 4] = 12;
        leaf[1012 + 7] = 0xDE;
        let c = crc32c_raw(5, &leaf[..1012]);
        leaf[1020..].copy_from_slice(&c.to_le_bytes());
        assert_eq!(dir_leaf_problem(&leaf, 5), None);
        leaf[3] ^= 1;
        assert!(dir_leaf_problem(&leaf, 5).unwrap().starts_with("directory block checksum is"));

        let mut ext = vec![0u8; 1024];
        let c = crc32c_raw(9, &ext[..12 * 4]);
        ext[48..52].copy_from_slice(&c.to_le_bytes());
        assert_eq!(extent_block_problem(&ext, 3, 9), None);
        assert!(extent_block_problem(&ext, 3, 8).is_some());
        assert!(extent_block_problem(&ext, 200, 9).unwrap().contains("no room"));

        let mut dx = vec![0u8; 1024];
        dx[8..10].copy_from_slice(&126u16.to_le_bytes()); // limit
        dx[10..12].copy_from_slice(&1u16.to_le_bytes()); // count
        assert!(dx_problem(&dx, 8, 3).unwrap().contains("htree block checksum"));
        let t = 8 + 126 * 8;
        let c = crc32c_raw(crc32c_raw(crc32c_raw(3, &dx[..16]), &dx[t..t + 4]), &[0; 4]);
        dx[t + 4..t + 8].copy_from_slice(&c.to_le_bytes());
        assert_eq!(dx_problem(&dx, 8, 3), None);
        dx[8] = 200;
        assert!(dx_problem(&dx, 8, 3).unwrap().contains("no room"));

        let mut xb = vec![1u8; 1024];
        assert!(xattr_block_problem(&xb, 77, 4).is_some());
        xb[0x10..0x14].fill(0);
        let c = crc32c_raw(crc32c_raw(4, &77u64.to_le_bytes()), &xb);
        xb[0x10..0x14].copy_from_slice(&c.to_le_bytes());
        assert_eq!(xattr_block_problem(&xb, 77, 4), None);
    }

    #[test]
    fn group_descriptor_checksums() {
        let mut d = vec![3u8; 64];
        let kind = GdtCsum::Crc32c { seed: 11 };
        let want = group_desc_checksum(kind, 2, &d).unwrap();
        d[0x1E..0x20].copy_from_slice(&want.to_le_bytes());
        assert_eq!(group_desc_problem(kind, 2, &d), None);
        assert!(group_desc_problem(kind, 3, &d).unwrap().starts_with("group 3's descriptor checksum"));
        let kind = GdtCsum::Crc16 { uuid: [1; 16], is_64bit: false };
        let want = group_desc_checksum(kind, 0, &d[..32]).unwrap();
        d[0x1E..0x20].copy_from_slice(&want.to_le_bytes());
        assert_eq!(group_desc_problem(kind, 0, &d[..32]), None);
        assert_eq!(group_desc_problem(GdtCsum::None, 0, &d), None);
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
