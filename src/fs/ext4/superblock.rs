//! The superblock: geometry and features of the filesystem.
//!
//! Follows Documentation/filesystems/ext4/super.rst ("Super Block"). The
//! superblock is the 1024 bytes at byte 1024 of the volume. Only the
//! fields the reader and `info()` need are kept; each is checked once here.
//! Backup copies sit at the start of groups 0, 1 and powers of 3, 5, 7
//! (sparse_super) or in s_backup_bgs (sparse_super2); [`backup_locations`]
//! lists where to look when the primary is unusable.

use crate::bytes::{array, le16, le32, le8, lo_hi};
use super::checksum::GdtCsum;
use crate::error::{Error, Result};

/// Byte offset of the primary superblock.
pub(crate) const SUPERBLOCK_OFFSET: u64 = 1024;
/// Size of the on-disk superblock.
pub(crate) const SUPERBLOCK_BYTES: usize = 1024;
const EXT4_SUPER_MAGIC: u16 = 0xEF53;

// s_feature_compat
pub(crate) const COMPAT_HAS_JOURNAL: u32 = 0x4;
pub(crate) const COMPAT_SPARSE_SUPER2: u32 = 0x200;
// s_feature_incompat
pub(crate) const INCOMPAT_FILETYPE: u32 = 0x2;
pub(crate) const INCOMPAT_META_BG: u32 = 0x10;
pub(crate) const INCOMPAT_EXTENTS: u32 = 0x40;
pub(crate) const INCOMPAT_64BIT: u32 = 0x80;
pub(crate) const INCOMPAT_FLEX_BG: u32 = 0x200;
pub(crate) const INCOMPAT_CSUM_SEED: u32 = 0x2000;
pub(crate) const INCOMPAT_INLINE_DATA: u32 = 0x8000;
// s_feature_ro_compat
pub(crate) const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
pub(crate) const RO_COMPAT_HUGE_FILE: u32 = 0x8;
pub(crate) const RO_COMPAT_GDT_CSUM: u32 = 0x10;
pub(crate) const RO_COMPAT_DIR_NLINK: u32 = 0x20;
pub(crate) const RO_COMPAT_EXTRA_ISIZE: u32 = 0x40;
pub(crate) const RO_COMPAT_BIGALLOC: u32 = 0x200;
pub(crate) const RO_COMPAT_METADATA_CSUM: u32 = 0x400;

const COMPAT_NAMES: &[(u32, &str)] = &[
    (0x1, "dir_prealloc"),
    (0x2, "imagic_inodes"),
    (0x4, "has_journal"),
    (0x8, "ext_attr"),
    (0x10, "resize_inode"),
    (0x20, "dir_index"),
    (0x40, "lazy_bg"),
    (0x80, "exclude_inode"),
    (0x100, "exclude_bitmap"),
    (0x200, "sparse_super2"),
    (0x400, "fast_commit"),
    (0x800, "stable_inodes"),
    (0x1000, "orphan_file"),
];
const INCOMPAT_NAMES: &[(u32, &str)] = &[
    (0x1, "compression"),
    (0x2, "filetype"),
    (0x4, "needs_recovery"),
    (0x8, "journal_dev"),
    (0x10, "meta_bg"),
    (0x40, "extent"),
    (0x80, "64bit"),
    (0x100, "mmp"),
    (0x200, "flex_bg"),
    (0x400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x2000, "metadata_csum_seed"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x10000, "encrypt"),
    (0x20000, "casefold"),
];
const RO_COMPAT_NAMES: &[(u32, &str)] = &[
    (0x1, "sparse_super"),
    (0x2, "large_file"),
    (0x4, "btree_dir"),
    (0x8, "huge_file"),
    (0x10, "uninit_bg"),
    (0x20, "dir_nlink"),
    (0x40, "extra_isize"),
    (0x80, "snapshot"),
    (0x100, "quota"),
    (0x200, "bigalloc"),
    (0x400, "metadata_csum"),
    (0x800, "replica"),
    (0x1000, "read-only"),
    (0x2000, "project"),
    (0x4000, "shared_blocks"),
    (0x8000, "verity"),
    (0x10000, "orphan_present"),
];
/// Incompat bits that change nothing about how we read: listed, not refused.
/// ea_inode (0x400): xattr values in other inodes are read through them.
const INCOMPAT_UNDERSTOOD: u32 = 0x2 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x2000 | 0x4000 | 0x8000;

/// A checked superblock.
#[derive(Clone, Debug)]
pub(crate) struct Superblock {
    pub s_inodes_count: u32,
    /// s_blocks_count_lo | s_blocks_count_hi (hi only with 64bit).
    pub blocks_count: u64,
    pub free_blocks_count: u64,
    pub s_first_data_block: u32,
    pub block_size: u32,
    /// Allocation cluster size (bigalloc), else the block size.
    pub cluster_size: u32,
    pub s_blocks_per_group: u32,
    pub s_inodes_per_group: u32,
    pub s_mtime: i64,
    /// Last write, last check and creation times (with their high bytes).
    pub s_wtime: i64,
    pub s_lastcheck: i64,
    pub s_mkfs_time: i64,
    pub s_free_inodes_count: u32,
    pub s_mnt_count: u16,
    /// Signed on disk: -1 means "no limit".
    pub s_max_mnt_count: i16,
    pub s_errors: u16,
    /// The group this copy of the superblock says it sits in.
    pub s_block_group_nr: u16,
    /// The mismatch sentence when metadata_csum is on and s_checksum is wrong.
    pub checksum_problem: Option<String>,
    /// The group whose superblock copy this is (0: the primary); set by
    /// the opener. Group descriptors are read from the same group.
    pub found_in_group: u64,
    pub s_state: u16,
    pub inode_size: u16,
    pub s_feature_compat: u32,
    pub s_feature_incompat: u32,
    pub s_feature_ro_compat: u32,
    pub s_uuid: [u8; 16],
    pub s_volume_name: [u8; 16],
    pub s_last_mounted: [u8; 64],
    /// Group descriptor size: s_desc_size with 64bit, else 32.
    pub desc_size: u32,
    pub s_first_meta_bg: u32,
    pub s_backup_bgs: [u32; 2],
    /// Number of block groups, from the block count.
    pub group_count: u32,
    /// The metadata_csum seed, when checksums are on.
    pub csum_seed: Option<u32>,
}

impl Superblock {
    /// Parses and checks the 1024 superblock bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Superblock> {
        if b.len() < SUPERBLOCK_BYTES {
            return Err(Error::corrupt(format!("superblock is {} bytes, expected {SUPERBLOCK_BYTES}", b.len())));
        }
        let s_magic = le16(b, 0x38);
        if s_magic != EXT4_SUPER_MAGIC {
            return Err(Error::corrupt(format!(
                "not an ext2/3/4 filesystem: superblock magic is {s_magic:#06x}, expected 0xef53"
            ))
            .at_offset(SUPERBLOCK_OFFSET + 0x38));
        }
        let s_inodes_count = le32(b, 0x0);
        let s_blocks_count_lo = le32(b, 0x4);
        let s_free_blocks_count_lo = le32(b, 0xC);
        let s_first_data_block = le32(b, 0x14);
        let s_log_block_size = le32(b, 0x18);
        let s_log_cluster_size = le32(b, 0x1C);
        let s_blocks_per_group = le32(b, 0x20);
        let s_inodes_per_group = le32(b, 0x28);
        let s_mtime = le32(b, 0x2C);
        let s_wtime = le32(b, 0x30);
        let s_mnt_count = le16(b, 0x34);
        let s_max_mnt_count = i16::from_le_bytes(le16(b, 0x36).to_le_bytes());
        let s_state = le16(b, 0x3A);
        let s_errors = le16(b, 0x3C);
        let s_lastcheck = le32(b, 0x40);
        let s_free_inodes_count = le32(b, 0x10);
        let s_block_group_nr = le16(b, 0x5A);
        let s_mkfs_time = le32(b, 0x108);
        let s_wtime_hi = le8(b, 0x274);
        let s_mkfs_time_hi = le8(b, 0x276);
        let s_lastcheck_hi = le8(b, 0x277);
        let s_rev_level = le32(b, 0x4C);
        let s_inode_size = le16(b, 0x58);
        let s_feature_compat = le32(b, 0x5C);
        let s_feature_incompat = le32(b, 0x60);
        let s_feature_ro_compat = le32(b, 0x64);
        let s_uuid = array::<16>(b, 0x68);
        let s_volume_name = array::<16>(b, 0x78);
        let s_last_mounted = array::<64>(b, 0x88);
        let s_desc_size = le16(b, 0xFE);
        let s_first_meta_bg = le32(b, 0x104);
        let s_blocks_count_hi = le32(b, 0x150);
        let s_free_blocks_count_hi = le32(b, 0x158);
        let s_backup_bgs = [le32(b, 0x24C), le32(b, 0x250)];
        let s_mtime_hi = le8(b, 0x275);
        let s_checksum_seed = le32(b, 0x270);

        // Block sizes 1 KiB..64 KiB.
        if s_log_block_size > 6 {
            return Err(Error::corrupt(format!("block size 2^(10+{s_log_block_size}) is out of range (1 KiB to 64 KiB)"))
                .at_offset(SUPERBLOCK_OFFSET + 0x18));
        }
        let block_size = 1024u32 << s_log_block_size;
        let cluster_size = if s_feature_ro_compat & RO_COMPAT_BIGALLOC != 0 {
            if !(s_log_block_size..=30).contains(&s_log_cluster_size) {
                return Err(Error::corrupt(format!("cluster size 2^(10+{s_log_cluster_size}) is out of range"))
                    .at_offset(SUPERBLOCK_OFFSET + 0x1C));
            }
            1u32 << s_log_cluster_size.saturating_add(10).min(31)
        } else {
            block_size
        };
        let is_64bit = s_feature_incompat & INCOMPAT_64BIT != 0;
        let blocks_count = lo_hi(s_blocks_count_lo, if is_64bit { s_blocks_count_hi } else { 0 });
        let free_blocks_count = lo_hi(s_free_blocks_count_lo, if is_64bit { s_free_blocks_count_hi } else { 0 });
        let inode_size = if s_rev_level == 0 { 128 } else { s_inode_size };
        if inode_size < 128 || !inode_size.is_power_of_two() || u32::from(inode_size) > block_size {
            return Err(Error::corrupt(format!("inode size {inode_size} is not a power of two from 128 to the block size"))
                .at_offset(SUPERBLOCK_OFFSET + 0x58));
        }
        if s_inodes_per_group == 0 || s_blocks_per_group == 0 {
            return Err(Error::corrupt("superblock says a block group holds no inodes or no blocks")
                .at_offset(SUPERBLOCK_OFFSET + 0x20));
        }
        let desc_size = if is_64bit { u32::from(s_desc_size) } else { 32 };
        if desc_size < 32 || !desc_size.is_power_of_two() || desc_size > block_size || (is_64bit && desc_size < 64) {
            return Err(Error::corrupt(format!("group descriptor size {desc_size} is invalid")).at_offset(SUPERBLOCK_OFFSET + 0xFE));
        }
        if u64::from(s_first_data_block) >= blocks_count {
            return Err(Error::corrupt(format!(
                "first data block {s_first_data_block} is not below the block count {blocks_count}"
            ))
            .at_offset(SUPERBLOCK_OFFSET + 0x14));
        }
        let data_blocks = blocks_count.saturating_sub(u64::from(s_first_data_block));
        let group_count = data_blocks.div_ceil(u64::from(s_blocks_per_group));
        let group_count = u32::try_from(group_count)
            .map_err(|_| Error::corrupt(format!("{group_count} block groups is more than ext4 allows")))?;
        // s_mtime is unsigned 32-bit plus 8 high bits.
        let s_mtime = i64::from(s_mtime) | (i64::from(s_mtime_hi) << 32);
        let time = |lo: u32, hi: u8| i64::from(lo) | (i64::from(hi) << 32);
        let metadata_csum = s_feature_ro_compat & RO_COMPAT_METADATA_CSUM != 0;
        Ok(Superblock {
            s_inodes_count,
            blocks_count,
            free_blocks_count,
            s_first_data_block,
            block_size,
            cluster_size,
            s_blocks_per_group,
            s_inodes_per_group,
            s_mtime,
            s_wtime: time(s_wtime, s_wtime_hi),
            s_lastcheck: time(s_lastcheck, s_lastcheck_hi),
            s_mkfs_time: time(s_mkfs_time, s_mkfs_time_hi),
            s_free_inodes_count,
            s_mnt_count,
            s_max_mnt_count,
            s_errors,
            s_block_group_nr,
            checksum_problem: if metadata_csum { super::checksum::superblock_problem(b) } else { None },
            found_in_group: 0,
            s_state,
            inode_size,
            s_feature_compat,
            s_feature_incompat,
            s_feature_ro_compat,
            s_uuid,
            s_volume_name,
            s_last_mounted,
            desc_size,
            s_first_meta_bg,
            s_backup_bgs,
            group_count,
            csum_seed: if !metadata_csum {
                None
            } else if s_feature_incompat & INCOMPAT_CSUM_SEED != 0 {
                Some(s_checksum_seed)
            } else {
                Some(super::checksum::crc32c_raw(!0, &s_uuid))
            },
        })
    }

    pub fn has_incompat(&self, bit: u32) -> bool {
        self.s_feature_incompat & bit != 0
    }
    pub fn has_compat(&self, bit: u32) -> bool {
        self.s_feature_compat & bit != 0
    }
    pub fn has_ro_compat(&self, bit: u32) -> bool {
        self.s_feature_ro_compat & bit != 0
    }

    /// "ext4", "ext3" or "ext2", as `blkid` would say.
    pub fn format_name(&self) -> &'static str {
        let ext4_incompat = INCOMPAT_EXTENTS | INCOMPAT_FLEX_BG | INCOMPAT_64BIT | INCOMPAT_INLINE_DATA;
        let ext4_ro = RO_COMPAT_HUGE_FILE
            | RO_COMPAT_GDT_CSUM
            | RO_COMPAT_DIR_NLINK
            | RO_COMPAT_EXTRA_ISIZE
            | RO_COMPAT_METADATA_CSUM;
        if self.s_feature_incompat & ext4_incompat != 0 || self.s_feature_ro_compat & ext4_ro != 0 {
            "ext4"
        } else if self.has_compat(COMPAT_HAS_JOURNAL) {
            "ext3"
        } else {
            "ext2"
        }
    }

    /// Feature names in `dumpe2fs` spelling; unknown bits as hex.
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (word, names, kind) in [
            (self.s_feature_compat, COMPAT_NAMES, "compat"),
            (self.s_feature_incompat, INCOMPAT_NAMES, "incompat"),
            (self.s_feature_ro_compat, RO_COMPAT_NAMES, "ro_compat"),
        ] {
            let mut known = 0u32;
            for (bit, name) in names {
                known |= bit;
                if word & bit != 0 {
                    out.push((*name).to_string());
                }
            }
            if word & !known != 0 {
                out.push(format!("unknown {kind} {:#x}", word & !known));
            }
        }
        out
    }

    /// Sentences about incompat features that may make some files unreadable.
    pub fn feature_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let odd = self.s_feature_incompat & !INCOMPAT_UNDERSTOOD;
        for (bit, name) in INCOMPAT_NAMES {
            if odd & bit != 0 {
                out.push(format!("feature {name} is not supported; files that use it may read wrongly"));
            }
        }
        let known: u32 = INCOMPAT_NAMES.iter().map(|(b, _)| *b).fold(0, |a, b| a | b);
        if odd & !known != 0 {
            out.push(format!("unknown incompatible features {:#x}; some files may read wrongly", odd & !known));
        }
        out
    }

    /// Whether group `g` holds a superblock backup (ext4_bg_has_super).
    pub fn group_has_super(&self, g: u64) -> bool {
        if g == 0 {
            return true;
        }
        if self.has_compat(COMPAT_SPARSE_SUPER2) {
            return self.s_backup_bgs.iter().any(|b| u64::from(*b) == g);
        }
        if g <= 1 || !self.has_ro_compat(RO_COMPAT_SPARSE_SUPER) {
            return true;
        }
        if g % 2 == 0 {
            return false;
        }
        [3u64, 5, 7].iter().any(|base| is_power_of(g, *base))
    }

    /// How this filesystem's group descriptors are checksummed.
    pub fn gdt_csum(&self) -> GdtCsum {
        if let Some(seed) = self.csum_seed {
            GdtCsum::Crc32c { seed }
        } else if self.has_ro_compat(RO_COMPAT_GDT_CSUM) {
            GdtCsum::Crc16 { uuid: self.s_uuid, is_64bit: self.has_incompat(INCOMPAT_64BIT) }
        } else {
            GdtCsum::None
        }
    }

    /// s_state in words: clean, not clean, with errors.
    pub fn state_words(&self) -> String {
        let mut s = if self.s_state & 0x1 != 0 { "clean" } else { "not clean" }.to_string();
        if self.s_state & 0x2 != 0 {
            s.push_str(", with errors");
        }
        if self.s_state & 0x4 != 0 {
            s.push_str(", orphans being recovered");
        }
        s
    }

    /// s_errors in words: what the kernel does on an error.
    pub fn errors_words(&self) -> String {
        match self.s_errors {
            1 => "continue".to_string(),
            2 => "remount read-only".to_string(),
            3 => "panic".to_string(),
            n => format!("unknown ({n})"),
        }
    }

    /// The UUID in 8-4-4-4-12 lowercase form, or None when all zero.
    pub fn uuid_string(&self) -> Option<String> {
        if self.s_uuid.iter().all(|b| *b == 0) {
            return None;
        }
        let h: Vec<String> = self.s_uuid.iter().map(|b| format!("{b:02x}")).collect();
        Some(format!(
            "{}-{}-{}-{}-{}",
            h[0..4].concat(),
            h[4..6].concat(),
            h[6..8].concat(),
            h[8..10].concat(),
            h[10..16].concat()
        ))
    }
}

// ---- Journal fields (used by journal.rs) -------------------------------

// s_feature_incompat
pub(crate) const INCOMPAT_RECOVER: u32 = 0x4;
pub(crate) const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
/// s_jnl_backup_type: s_jnl_blocks holds a copy of the journal inode's i_block.
const EXT3_JNL_BACKUP_BLOCKS: u8 = 1;

/// Where the superblock says the journal is (super.rst, "s_journal_uuid"
/// to "s_jnl_blocks").
#[derive(Clone, Debug)]
pub(crate) struct SbJournal {
    pub s_journal_uuid: [u8; 16],
    pub s_journal_inum: u32,
    pub s_journal_dev: u32,
    /// The backup of the journal inode's i_block (60 bytes) and its size,
    /// when s_jnl_backup_type says it is there.
    pub backup: Option<([u8; 60], u64)>,
}

impl SbJournal {
    /// Reads the journal fields of the 1024 superblock bytes.
    pub fn from_bytes(b: &[u8]) -> SbJournal {
        let s_jnl_backup_type = le8(b, 0xFD);
        let s_jnl_blocks = array::<68>(b, 0x10C);
        let backup = (s_jnl_backup_type == EXT3_JNL_BACKUP_BLOCKS).then(|| {
            // s_jnl_blocks[15] is i_size_high, [16] is i_size.
            (array::<60>(&s_jnl_blocks, 0), lo_hi(le32(&s_jnl_blocks, 64), le32(&s_jnl_blocks, 60)))
        });
        SbJournal {
            s_journal_uuid: array::<16>(b, 0xD0),
            s_journal_inum: le32(b, 0xE0),
            s_journal_dev: le32(b, 0xE4),
            backup,
        }
    }
}

// base is 3, 5 or 7 and n > 1 inside the loop.
#[allow(clippy::arithmetic_side_effects)]
fn is_power_of(mut n: u64, base: u64) -> bool {
    while n > 1 && n % base == 0 {
        n /= base;
    }
    n == 1
}

/// Block sizes tried when looking for a backup superblock.
const BACKUP_BLOCK_SIZES: [u64; 4] = [1024, 2048, 4096, 65536];
/// The most blocks a group holds ((1 << 16) - 8); 64 KiB blocks get this.
const MAX_BLOCKS_PER_GROUP: u64 = 65528;
/// Backup groups tried per block size, at most.
const MAX_BACKUP_TRIES: usize = 64;

/// Where a backup superblock may sit: (block size, group, byte offset),
/// most likely first. Groups 1, 3, 5, 7, 9, 25, 27, 49 … (powers of 3, 5
/// and 7) with the default 8 × block size blocks per group (65528 for
/// 64 KiB blocks), plus the last
/// group (sparse_super2's default second backup) and the groups named by
/// `hint_backup_bgs` (s_backup_bgs read from a damaged primary).
pub(crate) fn backup_locations(volume_bytes: u64, hint_backup_bgs: [u32; 2]) -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    for bs in BACKUP_BLOCK_SIZES {
        // mke2fs's default, capped at 65528 (EXT2_MAX_BLOCKS_PER_GROUP) for 64 KiB.
        let blocks_per_group = bs.saturating_mul(8).min(MAX_BLOCKS_PER_GROUP);
        let first_data_block = u64::from(bs == 1024);
        let group_bytes = blocks_per_group.saturating_mul(bs);
        let groups = volume_bytes.saturating_sub(first_data_block.saturating_mul(bs)).div_ceil(group_bytes.max(1));
        let mut cands: Vec<u64> = (1..groups.min(1 << 20)).filter(|g| *g == 1 || [3u64, 5, 7].iter().any(|b| is_power_of(*g, *b))).collect();
        cands.truncate(MAX_BACKUP_TRIES);
        cands.extend(hint_backup_bgs.iter().map(|g| u64::from(*g)).filter(|g| *g > 0 && *g < groups));
        if groups > 1 {
            cands.push(groups.saturating_sub(1));
        }
        let mut seen = std::collections::HashSet::new();
        for g in cands {
            if !seen.insert(g) {
                continue;
            }
            let block = g.saturating_mul(blocks_per_group).saturating_add(first_data_block);
            let at = block.saturating_mul(bs);
            if at.saturating_add(1024) <= volume_bytes {
                out.push((u32::try_from(bs).unwrap_or(u32::MAX), g, at));
            }
        }
    }
    out.sort_by_key(|(_, g, at)| (*g != 1, *at));
    out
}

/// A NUL-padded on-disk string, or None when empty.
pub(crate) fn c_string(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    let s = b.get(..end)?;
    if s.is_empty() {
        None
    } else {
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn minimal() -> Vec<u8> {
        let mut b = vec![0u8; SUPERBLOCK_BYTES];
        b[0x0..0x4].copy_from_slice(&64u32.to_le_bytes());
        b[0x4..0x8].copy_from_slice(&1024u32.to_le_bytes());
        b[0x14..0x18].copy_from_slice(&1u32.to_le_bytes());
        b[0x20..0x24].copy_from_slice(&8192u32.to_le_bytes());
        b[0x28..0x2C].copy_from_slice(&64u32.to_le_bytes());
        b[0x38..0x3A].copy_from_slice(&0xEF53u16.to_le_bytes());
        b[0x4C..0x50].copy_from_slice(&1u32.to_le_bytes());
        b[0x58..0x5A].copy_from_slice(&256u16.to_le_bytes());
        b
    }

    #[test]
    fn parses_a_minimal_superblock() {
        let sb = Superblock::from_bytes(&minimal()).unwrap();
        assert_eq!(sb.block_size, 1024);
        assert_eq!(sb.group_count, 1);
        assert_eq!(sb.format_name(), "ext2");
        assert_eq!(sb.uuid_string(), None);
    }

    #[test]
    fn refuses_bad_magic() {
        let mut b = minimal();
        b[0x38] = 0;
        let e = Superblock::from_bytes(&b).unwrap_err();
        assert_eq!(e.to_string(), "byte 0x438: not an ext2/3/4 filesystem: superblock magic is 0xef00, expected 0xef53");
    }

    #[test]
    fn refuses_bad_geometry() {
        let mut b = minimal();
        b[0x18] = 30;
        assert!(Superblock::from_bytes(&b).unwrap_err().to_string().contains("block size"));
        let mut b = minimal();
        b[0x58..0x5A].copy_from_slice(&100u16.to_le_bytes());
        assert!(Superblock::from_bytes(&b).unwrap_err().to_string().contains("inode size 100"));
        let mut b = minimal();
        b[0x28..0x2C].copy_from_slice(&0u32.to_le_bytes());
        assert!(Superblock::from_bytes(&b).is_err());
        let mut b = minimal();
        b[0x60] = 0x80; // 64bit with desc_size 0
        assert!(Superblock::from_bytes(&b).unwrap_err().to_string().contains("descriptor size"));
        assert!(Superblock::from_bytes(&b[..100]).is_err());
    }

    #[test]
    fn backups_follow_sparse_super() {
        let mut b = minimal();
        b[0x64] = 0x1;
        let sb = Superblock::from_bytes(&b).unwrap();
        let with: Vec<u64> = (0..30).filter(|g| sb.group_has_super(*g)).collect();
        assert_eq!(with, vec![0, 1, 3, 5, 7, 9, 25, 27]);
    }

    #[test]
    fn backup_candidates_put_group_1_first() {
        // 600 MiB: groups of 8 MiB (1 KiB), 32 MiB (2 KiB), 128 MiB (4 KiB).
        let got = backup_locations(600 << 20, [0, 0]);
        assert_eq!(got[0], (1024, 1, 8193 * 1024));
        assert_eq!(got[1], (2048, 1, 16384 * 2048));
        assert_eq!(got[2], (4096, 1, 32768 * 4096));
        let four_k: Vec<u64> = got.iter().filter(|c| c.0 == 4096).map(|c| c.1).collect();
        // Groups 1, 3 and the last (4): sparse_super2's default second backup.
        assert_eq!(four_k, vec![1, 3, 4]);
        let one_k: Vec<u64> = got.iter().filter(|c| c.0 == 1024).map(|c| c.1).collect();
        assert_eq!(&one_k[..8], &[1, 3, 5, 7, 9, 25, 27, 49]);
        // s_backup_bgs from a damaged primary are tried too.
        assert!(backup_locations(600 << 20, [2, 0]).contains(&(4096, 2, 2 * 32768 * 4096)));
        // Nothing past the end, nothing for tiny volumes.
        assert!(got.iter().all(|c| c.2 + 1024 <= 600 << 20));
        assert!(backup_locations(4096, [0, 0]).is_empty());
        // 64 KiB blocks: 65528 blocks per group.
        let big = backup_locations(40 << 30, [0, 0]);
        assert!(big.contains(&(65536, 1, 65528 * 65536)), "{big:?}");
    }

    #[test]
    fn names_features_and_uuid() {
        let mut b = minimal();
        b[0x60] = 0x42;
        b[0x68..0x78].copy_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let sb = Superblock::from_bytes(&b).unwrap();
        assert_eq!(sb.format_name(), "ext4");
        assert_eq!(sb.feature_names(), vec!["filetype", "extent"]);
        assert_eq!(sb.uuid_string().unwrap(), "12345678-9abc-def0-0102-030405060708");
        assert!(sb.feature_problems().is_empty());
    }
}
