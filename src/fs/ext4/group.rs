//! Block group descriptors: where each group's inode table lives.
//!
//! Follows Documentation/filesystems/ext4/group_descr.rst ("Block Group
//! Descriptors") and the meta_bg layout in blockgroup.rst ("Meta Block
//! Groups"). Without meta_bg the descriptor table follows the superblock;
//! with meta_bg, descriptor block `n` (from s_first_meta_bg on) sits in the
//! first group of meta group `n`, after that group's superblock backup if
//! it has one (as the kernel's `descriptor_loc`). When the superblock came
//! from a backup, the table (below s_first_meta_bg) is read from that
//! backup's group. Checksums (bg_checksum) are checked in `checksum.rs`.

use crate::bytes::{le32, lo_hi};
use super::superblock::{Superblock, INCOMPAT_META_BG};
use crate::error::{Error, Result};

/// The fields of one group descriptor that reading needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GroupDesc {
    /// bg_inode_table_lo | bg_inode_table_hi << 32 (hi only when desc_size ≥ 64).
    pub inode_table: u64,
}

impl GroupDesc {
    /// Parses one descriptor of `desc_size` bytes.
    pub fn from_bytes(b: &[u8], desc_size: u32) -> Result<GroupDesc> {
        let need = usize::try_from(desc_size).unwrap_or(usize::MAX);
        if b.len() < need || need < 32 {
            return Err(Error::corrupt(format!("group descriptor is {} bytes, expected {desc_size}", b.len())));
        }
        let bg_inode_table_lo = le32(b, 0x8);
        let bg_inode_table_hi = if desc_size >= 64 { le32(b, 0x28) } else { 0 };
        Ok(GroupDesc { inode_table: lo_hi(bg_inode_table_lo, bg_inode_table_hi) })
    }
}

/// The byte offset of group `g`'s descriptor.
// Divisions only: block size ≥ 1024 and desc_size ≥ 32 (checked by the superblock).
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn desc_offset(sb: &Superblock, g: u32) -> Result<u64> {
    let bs = u64::from(sb.block_size);
    let per_block = bs / u64::from(sb.desc_size);
    let g = u64::from(g);
    let desc_block_index = g / per_block;
    let within = (g % per_block) * u64::from(sb.desc_size);
    // The block holding the superblock: 1 with 1 KiB blocks, else 0.
    let overflow = || Error::corrupt(format!("group {g} descriptor location overflows"));
    let logical_sb_block = if sb.found_in_group == 0 {
        1024 / bs
    } else {
        sb.found_in_group
            .checked_mul(u64::from(sb.s_blocks_per_group))
            .and_then(|b| b.checked_add(u64::from(sb.s_first_data_block)))
            .ok_or_else(overflow)?
    };
    let block = if !sb.has_incompat(INCOMPAT_META_BG) || desc_block_index < u64::from(sb.s_first_meta_bg) {
        logical_sb_block.checked_add(1).and_then(|b| b.checked_add(desc_block_index)).ok_or_else(overflow)?
    } else {
        let first_group = desc_block_index.checked_mul(per_block).ok_or_else(overflow)?;
        let mut has_super = u64::from(sb.group_has_super(first_group));
        if bs == 1024 && desc_block_index == 0 && sb.s_first_data_block == 0 {
            has_super = has_super.saturating_add(1);
        }
        first_group
            .checked_mul(u64::from(sb.s_blocks_per_group))
            .and_then(|b| b.checked_add(u64::from(sb.s_first_data_block)))
            .and_then(|b| b.checked_add(has_super))
            .ok_or_else(overflow)?
    };
    if block >= sb.blocks_count {
        return Err(Error::corrupt(format!(
            "group {g} descriptor would be in block {block}, past the {} blocks of the filesystem",
            sb.blocks_count
        )));
    }
    block.checked_mul(bs).and_then(|o| o.checked_add(within)).ok_or_else(overflow)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn parses_32_and_64_bit_descriptors() {
        let mut b = vec![0u8; 64];
        b[0x8..0xC].copy_from_slice(&0x1234u32.to_le_bytes());
        b[0x28..0x2C].copy_from_slice(&0x5u32.to_le_bytes());
        assert_eq!(GroupDesc::from_bytes(&b, 32).unwrap().inode_table, 0x1234);
        assert_eq!(GroupDesc::from_bytes(&b, 64).unwrap().inode_table, 0x5_0000_1234);
        assert!(GroupDesc::from_bytes(&b[..20], 32).is_err());
    }

    #[test]
    fn descriptors_follow_the_superblock_copy_in_use() {
        let mut b = crate::fs::ext4::superblock::tests::minimal();
        b[0x4..0x8].copy_from_slice(&40_000u32.to_le_bytes());
        let mut sb = Superblock::from_bytes(&b).unwrap();
        // 1 KiB blocks: primary in block 1, table in block 2.
        assert_eq!(desc_offset(&sb, 0).unwrap(), 2 * 1024);
        assert_eq!(desc_offset(&sb, 1).unwrap(), 2 * 1024 + 32);
        // The backup in group 1 sits in block 8193; its table follows.
        sb.found_in_group = 1;
        assert_eq!(desc_offset(&sb, 0).unwrap(), 8194 * 1024);
        assert_eq!(desc_offset(&sb, 33).unwrap(), 8195 * 1024 + 32);
    }
}
