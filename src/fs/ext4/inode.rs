//! Inodes: mode, owners, size, times, flags and the 60-byte `i_block`.
//!
//! Follows Documentation/filesystems/ext4/inodes.rst ("Index Nodes",
//! "Inode Timestamps"). Fields past byte 0x80 exist only when
//! `i_extra_isize` covers them; times then gain nanoseconds and two epoch
//! bits (seconds are signed 32-bit plus epoch << 32, as the kernel decodes
//! them, so both pre-1970 and post-2038 times are valid). Device inodes
//! keep their numbers in `i_block`: the old 8:8 encoding in the first word,
//! or 0 there and the new 12:20 one in the second (as the kernel's
//! `ext4_iget` reads them).

use crate::bytes::{array, le16, le32, lo_hi};
use crate::error::{Error, Result};
use crate::fs::{FileKind, Timestamp};

/// The size of the classic inode; `i_extra_isize` counts from here.
pub(crate) const GOOD_OLD_INODE_SIZE: usize = 128;

pub(crate) const EXT4_ENCRYPT_FL: u32 = 0x800;
/// The directory is hash-indexed (htree).
pub(crate) const EXT4_INDEX_FL: u32 = 0x1000;
pub(crate) const EXT4_EXTENTS_FL: u32 = 0x80000;
pub(crate) const EXT4_EA_INODE_FL: u32 = 0x200000;
pub(crate) const EXT4_INLINE_DATA_FL: u32 = 0x1000_0000;

/// A parsed inode.
#[derive(Clone, Debug)]
pub(crate) struct Inode {
    pub i_mode: u16,
    pub uid: u32,
    pub gid: u32,
    /// i_size_lo | i_size_high << 32.
    pub size: u64,
    pub atime: Timestamp,
    pub ctime: Timestamp,
    pub mtime: Timestamp,
    pub crtime: Option<Timestamp>,
    pub i_links_count: u16,
    /// i_blocks_lo | l_i_blocks_high << 32, in the units the flags say.
    pub blocks: u64,
    pub i_flags: u32,
    /// i_generation, part of the checksum seed of the inode's blocks.
    pub generation: u32,
    pub i_block: [u8; 60],
    /// i_file_acl_lo | l_i_file_acl_high << 32: the xattr block.
    pub file_acl: u64,
    /// The in-inode extended attribute area (after i_extra_isize), may be empty.
    pub xattr_area: Vec<u8>,
    /// Sentences about damage found while decoding.
    pub problems: Vec<String>,
}

impl Inode {
    /// Parses an inode record of the superblock's inode size.
    pub fn from_bytes(b: &[u8]) -> Result<Inode> {
        if b.len() < GOOD_OLD_INODE_SIZE {
            return Err(Error::corrupt(format!("inode record is {} bytes, expected at least 128", b.len())));
        }
        let mut problems = Vec::new();
        let i_mode = le16(b, 0x0);
        let i_uid = le16(b, 0x2);
        let i_size_lo = le32(b, 0x4);
        let i_atime = le32(b, 0x8);
        let i_ctime = le32(b, 0xC);
        let i_mtime = le32(b, 0x10);
        let i_gid = le16(b, 0x18);
        let i_links_count = le16(b, 0x1A);
        let i_blocks_lo = le32(b, 0x1C);
        let i_flags = le32(b, 0x20);
        let i_block = array::<60>(b, 0x28);
        let i_generation = le32(b, 0x64);
        let i_file_acl_lo = le32(b, 0x68);
        let i_size_high = le32(b, 0x6C);
        let l_i_blocks_high = le16(b, 0x74);
        let l_i_file_acl_high = le16(b, 0x76);
        let l_i_uid_high = le16(b, 0x78);
        let l_i_gid_high = le16(b, 0x7A);

        let mut extra_isize = 0usize;
        if b.len() > GOOD_OLD_INODE_SIZE {
            let i_extra_isize = usize::from(le16(b, 0x80));
            let room = b.len().saturating_sub(GOOD_OLD_INODE_SIZE);
            if i_extra_isize > room || i_extra_isize % 4 != 0 {
                problems.push(format!(
                    "extra inode size {i_extra_isize} does not fit the {room} bytes after the classic inode; extra fields ignored"
                ));
            } else {
                extra_isize = i_extra_isize;
            }
        }
        // A field at `off` of 4 bytes is present when 128 + extra covers it.
        let has = |off: usize| GOOD_OLD_INODE_SIZE.saturating_add(extra_isize) >= off.saturating_add(4);
        let extra = |off: usize| if has(off) { Some(le32(b, off)) } else { None };
        let mut time = |secs: u32, extra: Option<u32>, what: &str| {
            let t = decode_time(secs, extra);
            if t.nanos > 999_999_999 {
                problems.push(format!("{what} nanoseconds {} exceed one second; clamped", t.nanos));
                Timestamp { secs: t.secs, nanos: 999_999_999 }
            } else {
                t
            }
        };
        let ctime = time(i_ctime, extra(0x84), "ctime");
        let mtime = time(i_mtime, extra(0x88), "mtime");
        let atime = time(i_atime, extra(0x8C), "atime");
        let crtime = extra(0x90).map(|i_crtime| time(i_crtime, extra(0x94), "crtime"));
        let xattr_start = GOOD_OLD_INODE_SIZE.saturating_add(extra_isize);
        let xattr_area = if b.len() > GOOD_OLD_INODE_SIZE { b.get(xattr_start..).unwrap_or(&[]).to_vec() } else { Vec::new() };
        Ok(Inode {
            i_mode,
            uid: u32::from(i_uid) | (u32::from(l_i_uid_high) << 16),
            gid: u32::from(i_gid) | (u32::from(l_i_gid_high) << 16),
            size: lo_hi(i_size_lo, i_size_high),
            atime,
            ctime,
            mtime,
            crtime,
            i_links_count,
            blocks: u64::from(i_blocks_lo) | (u64::from(l_i_blocks_high) << 32),
            i_flags,
            generation: i_generation,
            i_block,
            file_acl: lo_hi(i_file_acl_lo, u32::from(l_i_file_acl_high)),
            xattr_area,
            problems,
        })
    }

    pub fn kind(&self) -> FileKind {
        FileKind::from_mode(u32::from(self.i_mode))
    }
    pub fn has_flag(&self, flag: u32) -> bool {
        self.i_flags & flag != 0
    }
    /// Major and minor numbers of a block or character device: the old
    /// 8:8 encoding in i_block[0], else the new 12:20 one in i_block[1].
    pub fn rdev(&self) -> Option<(u32, u32)> {
        if !matches!(self.kind(), FileKind::CharDevice | FileKind::BlockDevice) {
            return None;
        }
        let old = le32(&self.i_block, 0);
        if old != 0 {
            return Some(((old >> 8) & 0xFF, old & 0xFF));
        }
        let new = le32(&self.i_block, 4);
        Some(((new & 0xF_FF00) >> 8, (new & 0xFF) | ((new >> 12) & 0xF_FF00)))
    }

    /// Whether this inode was never used or was freed (all-zero mode).
    pub fn is_unused(&self) -> bool {
        self.i_mode == 0 && self.i_links_count == 0
    }
}

/// Seconds (signed 32-bit) plus the extra field: epoch bits 0..2, nanoseconds above.
pub(crate) fn decode_time(secs: u32, extra: Option<u32>) -> Timestamp {
    // Reinterpreting the stored bits as signed is the format's definition.
    let base = i64::from(i32::from_le_bytes(secs.to_le_bytes()));
    match extra {
        None => Timestamp { secs: base, nanos: 0 },
        Some(x) => {
            let epoch = i64::from(x & 0x3);
            Timestamp { secs: base.saturating_add(epoch << 32), nanos: x >> 2 }
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn record(size: usize, extra_isize: u16) -> Vec<u8> {
        let mut b = vec![0u8; size];
        b[0..2].copy_from_slice(&0o100644u16.to_le_bytes());
        if size > 128 {
            b[0x80..0x82].copy_from_slice(&extra_isize.to_le_bytes());
        }
        b
    }

    #[test]
    fn times_decode_epoch_bits_and_nanoseconds() {
        assert_eq!(decode_time(0xFFFF_FFFF, None), Timestamp { secs: -1, nanos: 0 });
        assert_eq!(decode_time(0x8000_0000, Some(1)), Timestamp { secs: (1i64 << 32) - (1 << 31), nanos: 0 });
        assert_eq!(decode_time(5, Some(7 << 2)), Timestamp { secs: 5, nanos: 7 });
        // 1960-01-01 stays negative with epoch 0.
        assert_eq!(decode_time((-315_619_200i32) as u32, Some(0)).secs, -315_619_200);
    }

    #[test]
    fn owners_and_size_combine_high_parts() {
        let mut b = record(256, 32);
        b[0x2..0x4].copy_from_slice(&0x86A0u16.to_le_bytes());
        b[0x78..0x7A].copy_from_slice(&1u16.to_le_bytes());
        b[0x4..0x8].copy_from_slice(&1u32.to_le_bytes());
        b[0x6C..0x70].copy_from_slice(&2u32.to_le_bytes());
        let i = Inode::from_bytes(&b).unwrap();
        assert_eq!(i.uid, 100_000);
        assert_eq!(i.size, 0x2_0000_0001);
        assert!(i.crtime.is_some());
        assert_eq!(i.xattr_area.len(), 256 - 160);
    }

    #[test]
    fn device_numbers_in_both_encodings() {
        let mut b = record(256, 32);
        b[0..2].copy_from_slice(&0o020644u16.to_le_bytes());
        b[0x28..0x2C].copy_from_slice(&0x0103u32.to_le_bytes());
        assert_eq!(Inode::from_bytes(&b).unwrap().rdev(), Some((1, 3)));
        b[0x28..0x2C].fill(0);
        // 259:300000 in the new encoding.
        let (major, minor) = (259u32, 300_000u32);
        let new = (minor & 0xFF) | (major << 8) | ((minor & !0xFF) << 12);
        b[0x2C..0x30].copy_from_slice(&new.to_le_bytes());
        assert_eq!(Inode::from_bytes(&b).unwrap().rdev(), Some((major, minor)));
        assert_eq!(Inode::from_bytes(&record(256, 32)).unwrap().rdev(), None);
    }

    #[test]
    fn extra_fields_need_extra_isize() {
        let mut b = record(256, 4);
        b[0x88..0x8C].copy_from_slice(&(5u32 << 2).to_le_bytes());
        let i = Inode::from_bytes(&b).unwrap();
        assert_eq!(i.mtime.nanos, 0);
        assert_eq!(i.crtime, None);
        let i = Inode::from_bytes(&record(128, 0)).unwrap();
        assert_eq!(i.crtime, None);
        assert!(i.xattr_area.is_empty());
    }

    #[test]
    fn bad_extra_isize_is_a_problem_not_an_error() {
        let i = Inode::from_bytes(&record(256, 200)).unwrap();
        assert_eq!(i.problems.len(), 1);
        assert_eq!(i.crtime, None);
        assert!(Inode::from_bytes(&[0u8; 100]).is_err());
    }

    #[test]
    fn oversized_nanoseconds_are_clamped() {
        let mut b = record(256, 32);
        b[0x88..0x8C].copy_from_slice(&u32::MAX.to_le_bytes());
        let i = Inode::from_bytes(&b).unwrap();
        assert_eq!(i.mtime.nanos, 999_999_999);
        assert!(i.problems[0].contains("mtime"));
    }
}
