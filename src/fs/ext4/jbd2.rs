//! JBD2 on-disk structures: the journal superblock, block headers,
//! descriptor tags, revoke records and commit blocks, with their checksums.
//!
//! Follows Documentation/filesystems/ext4/journal.rst ("Journal (jbd2)").
//! Unlike the rest of ext4, every journal field is big-endian. Each
//! structure is parsed and checked once here; [`super::journal`] walks the
//! log with the results and never reads raw bytes itself.

use super::checksum::crc32c_raw;
use crate::error::{Error, Result};

/// `h_magic` of every journal metadata block.
pub(crate) const JBD2_MAGIC: u32 = 0xC03B_3998;
/// Size of the journal superblock that its checksum covers.
const JOURNAL_SB_BYTES: usize = 1024;

// h_blocktype
pub(crate) const DESCRIPTOR_BLOCK: u32 = 1;
pub(crate) const COMMIT_BLOCK: u32 = 2;
const SUPERBLOCK_V1: u32 = 3;
const SUPERBLOCK_V2: u32 = 4;
pub(crate) const REVOKE_BLOCK: u32 = 5;

// s_feature_compat
const COMPAT_CHECKSUM: u32 = 0x1;
// s_feature_incompat
#[cfg(test)]
const INCOMPAT_REVOKE: u32 = 0x1;
const INCOMPAT_64BIT: u32 = 0x2;
const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
const INCOMPAT_CSUM_V2: u32 = 0x8;
const INCOMPAT_CSUM_V3: u32 = 0x10;
const INCOMPAT_FAST_COMMIT: u32 = 0x20;
const INCOMPAT_KNOWN: u32 = 0x3F;
/// s_checksum_type: crc32c, the only one v2/v3 checksums use.
const JBD2_CRC32C_CHKSUM: u8 = 4;
/// h_chksum_type of a checksum v1 commit block: crc32 (big-endian form).
const JBD2_CRC32_CHKSUM: u8 = 1;
/// Fast-commit blocks when s_num_fc_blks is 0.
const DEFAULT_FAST_COMMIT_BLOCKS: u32 = 256;

// t_flags
pub(crate) const FLAG_ESCAPE: u32 = 0x1;
const FLAG_SAME_UUID: u32 = 0x2;
const FLAG_LAST_TAG: u32 = 0x8;

/// The big-endian `u32` at `off`, or 0 past the end.
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    let end = off.saturating_add(4);
    b.get(off..end).and_then(|s| <[u8; 4]>::try_from(s).ok()).map_or(0, u32::from_be_bytes)
}

fn be16(b: &[u8], off: usize) -> u16 {
    let end = off.saturating_add(2);
    b.get(off..end).and_then(|s| <[u8; 2]>::try_from(s).ok()).map_or(0, u16::from_be_bytes)
}

fn be64(b: &[u8], off: usize) -> u64 {
    (u64::from(be32(b, off)) << 32) | u64::from(be32(b, off.saturating_add(4)))
}

/// Which checksums the journal carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JournalCsum {
    None,
    /// compat CHECKSUM: one crc32 per transaction in the commit block.
    V1,
    /// crc32c, 16 bits per tag.
    V2,
    /// crc32c, 32 bits per tag.
    V3,
}

/// A checked journal superblock.
#[derive(Clone, Debug)]
pub(crate) struct JournalSuperblock {
    /// 1 or 2 (h_blocktype 3 or 4).
    pub version: u8,
    pub s_maxlen: u32,
    pub s_first: u32,
    pub s_sequence: u32,
    pub s_start: u32,
    pub s_feature_incompat: u32,
    pub csum: JournalCsum,
    /// crc32c(~0, s_uuid), the seed of v2/v3 checksums.
    pub csum_seed: u32,
    /// One past the last block of the circular log (fast-commit blocks
    /// follow it).
    pub log_end: u32,
}

impl JournalSuperblock {
    /// Parses and checks the first block of the journal.
    pub fn from_bytes(b: &[u8], fs_block_size: u32) -> Result<JournalSuperblock> {
        if b.len() < JOURNAL_SB_BYTES {
            return Err(Error::corrupt(format!("journal superblock is {} bytes, expected {JOURNAL_SB_BYTES}", b.len())));
        }
        let h_magic = be32(b, 0x0);
        if h_magic != JBD2_MAGIC {
            return Err(Error::corrupt(format!("journal superblock magic is {h_magic:#010x}, expected 0xc03b3998")));
        }
        let h_blocktype = be32(b, 0x4);
        let version = match h_blocktype {
            SUPERBLOCK_V1 => 1,
            SUPERBLOCK_V2 => 2,
            other => return Err(Error::corrupt(format!("journal superblock has block type {other}, expected 3 or 4"))),
        };
        let s_blocksize = be32(b, 0xC);
        let s_maxlen = be32(b, 0x10);
        let s_first = be32(b, 0x14);
        let s_sequence = be32(b, 0x18);
        let s_start = be32(b, 0x1C);
        // Version 1 has no feature words.
        let (s_feature_compat, s_feature_incompat) = if version == 2 { (be32(b, 0x24), be32(b, 0x28)) } else { (0, 0) };
        let s_uuid: [u8; 16] = b.get(0x30..0x40).and_then(|s| s.try_into().ok()).unwrap_or([0; 16]);
        let s_checksum_type = b.get(0x50).copied().unwrap_or(0);
        let s_num_fc_blks = be32(b, 0x54);
        let s_checksum = be32(b, 0xFC);

        if s_blocksize != fs_block_size {
            return Err(Error::corrupt(format!(
                "journal block size is {s_blocksize} but the filesystem's is {fs_block_size}"
            )));
        }
        let unknown = s_feature_incompat & !INCOMPAT_KNOWN;
        if unknown != 0 {
            return Err(Error::unsupported(format!("the journal uses unknown incompatible features {unknown:#x}")));
        }
        let csum = if s_feature_incompat & INCOMPAT_CSUM_V3 != 0 {
            JournalCsum::V3
        } else if s_feature_incompat & INCOMPAT_CSUM_V2 != 0 {
            JournalCsum::V2
        } else if s_feature_compat & COMPAT_CHECKSUM != 0 {
            JournalCsum::V1
        } else {
            JournalCsum::None
        };
        if matches!(csum, JournalCsum::V2 | JournalCsum::V3) {
            if s_checksum_type != JBD2_CRC32C_CHKSUM {
                return Err(Error::unsupported(format!("journal checksum type {s_checksum_type} is not crc32c (4)")));
            }
            let mut copy = b.get(..JOURNAL_SB_BYTES).unwrap_or(&[]).to_vec();
            if let Some(c) = copy.get_mut(0xFC..0x100) {
                c.fill(0);
            }
            // crc32c(~0, superblock) without a final inversion.
            let computed = crc32c_raw(!0, &copy);
            if computed != s_checksum {
                return Err(Error::corrupt(format!(
                    "journal superblock checksum is {s_checksum:#010x} but its bytes give {computed:#010x}"
                )));
            }
        }
        let num_fc = if s_feature_incompat & INCOMPAT_FAST_COMMIT != 0 {
            if s_num_fc_blks == 0 {
                DEFAULT_FAST_COMMIT_BLOCKS
            } else {
                s_num_fc_blks
            }
        } else {
            0
        };
        let log_end = s_maxlen.saturating_sub(num_fc);
        if s_first == 0 || s_first >= log_end {
            return Err(Error::corrupt(format!(
                "journal log area is blocks {s_first} to {log_end}: empty or starting at the superblock"
            )));
        }
        if s_start != 0 && (s_start < s_first || s_start >= log_end) {
            return Err(Error::corrupt(format!(
                "journal log starts at block {s_start}, outside its area ({s_first} to {log_end})"
            )));
        }
        Ok(JournalSuperblock {
            version,
            s_maxlen,
            s_first,
            s_sequence,
            s_start,
            s_feature_incompat,
            csum,
            csum_seed: crc32c_raw(!0, &s_uuid),
            log_end,
        })
    }

    pub fn is_64bit(&self) -> bool {
        self.s_feature_incompat & INCOMPAT_64BIT != 0
    }
    pub fn async_commit(&self) -> bool {
        self.s_feature_incompat & INCOMPAT_ASYNC_COMMIT != 0
    }
    pub fn fast_commit(&self) -> bool {
        self.s_feature_incompat & INCOMPAT_FAST_COMMIT != 0
    }
    /// Whether descriptor and revoke blocks end in a checksum tail.
    fn has_tail(&self) -> bool {
        matches!(self.csum, JournalCsum::V2 | JournalCsum::V3)
    }

    /// Bytes of one block tag without its UUID (journal_tag_bytes).
    fn tag_bytes(&self) -> usize {
        match self.csum {
            // journal_block_tag3_t: blocknr, flags, blocknr_high, checksum.
            JournalCsum::V3 => 16,
            // journal_block_tag_t: blocknr, checksum (16), flags (16), then
            // blocknr_high with 64bit; csum v2 adds two bytes.
            _ => {
                let base = if self.is_64bit() { 12 } else { 8 };
                if self.csum == JournalCsum::V2 {
                    base | 2
                } else {
                    base
                }
            }
        }
    }

    /// The names of the journal's features, for `info`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("v{}", self.version)];
        if self.is_64bit() {
            parts.push("64-bit tags".into());
        }
        parts.push(
            match self.csum {
                JournalCsum::None => "no checksums",
                JournalCsum::V1 => "checksum v1",
                JournalCsum::V2 => "checksum v2",
                JournalCsum::V3 => "checksum v3",
            }
            .into(),
        );
        if self.async_commit() {
            parts.push("async commit".into());
        }
        if self.fast_commit() {
            parts.push("fast commit".into());
        }
        parts.join(", ")
    }
}

/// The common header of descriptor, commit and revoke blocks, when `b`
/// has the journal magic.
pub(crate) fn header(b: &[u8]) -> Option<(u32, u32)> {
    (be32(b, 0) == JBD2_MAGIC).then(|| (be32(b, 4), be32(b, 8)))
}

/// Whether the checksum tail of a descriptor or revoke block matches
/// (always true without v2/v3 checksums).
pub(crate) fn tail_ok(sb: &JournalSuperblock, b: &[u8]) -> bool {
    if !sb.has_tail() {
        return true;
    }
    let Some(at) = b.len().checked_sub(4) else { return false };
    let stored = be32(b, at);
    let mut copy = b.to_vec();
    if let Some(t) = copy.get_mut(at..) {
        t.fill(0);
    }
    crc32c_raw(sb.csum_seed, &copy) == stored
}

/// One block tag of a descriptor block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tag {
    /// The filesystem block the following journal block belongs at.
    pub fs_block: u64,
    pub flags: u32,
    /// 32 bits with v3, 16 with v2, unused otherwise.
    pub checksum: u32,
}

/// The tags of a descriptor block, in order: one per journal block that
/// follows it.
pub(crate) fn descriptor_tags(sb: &JournalSuperblock, b: &[u8]) -> Vec<Tag> {
    let tag_bytes = sb.tag_bytes();
    let end = if sb.has_tail() { b.len().saturating_sub(4) } else { b.len() };
    let mut tags = Vec::new();
    let mut at = 12usize;
    while at.saturating_add(tag_bytes) <= end {
        let field = |n: usize| at.saturating_add(n);
        let t_blocknr = be32(b, at);
        let (flags, high, checksum) = match sb.csum {
            JournalCsum::V3 => (be32(b, field(4)), be32(b, field(8)), be32(b, field(12))),
            _ => (u32::from(be16(b, field(6))), be32(b, field(8)), u32::from(be16(b, field(4)))),
        };
        let high = if sb.is_64bit() { high } else { 0 };
        tags.push(Tag { fs_block: (u64::from(high) << 32) | u64::from(t_blocknr), flags, checksum });
        at = at.saturating_add(tag_bytes);
        if flags & FLAG_SAME_UUID == 0 {
            at = at.saturating_add(16);
        }
        if flags & FLAG_LAST_TAG != 0 {
            break;
        }
    }
    tags
}

/// Whether a logged block's bytes (as stored in the journal) match its tag.
pub(crate) fn data_ok(sb: &JournalSuperblock, tag: &Tag, sequence: u32, data: &[u8]) -> bool {
    let csum = crc32c_raw(crc32c_raw(sb.csum_seed, &sequence.to_be_bytes()), data);
    match sb.csum {
        JournalCsum::V3 => csum == tag.checksum,
        JournalCsum::V2 => csum & 0xFFFF == tag.checksum,
        JournalCsum::None | JournalCsum::V1 => true,
    }
}

/// What a commit block says.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Commit {
    /// Seconds of the commit, to tell stale blocks from damage.
    pub commit_sec: u64,
    /// For checksum v1: the crc32 of the transaction's blocks, if recorded.
    pub crc32: Option<u32>,
    /// For v2/v3: whether the block's own checksum matches.
    pub csum_ok: bool,
}

pub(crate) fn commit(sb: &JournalSuperblock, b: &[u8]) -> Commit {
    let h_chksum_type = b.get(0xC).copied().unwrap_or(0);
    let h_chksum_size = b.get(0xD).copied().unwrap_or(0);
    let h_chksum0 = be32(b, 0x10);
    let crc32 = (sb.csum == JournalCsum::V1 && h_chksum_type == JBD2_CRC32_CHKSUM && h_chksum_size == 4).then_some(h_chksum0);
    let csum_ok = !sb.has_tail() || {
        let mut copy = b.to_vec();
        if let Some(c) = copy.get_mut(0x10..0x14) {
            c.fill(0);
        }
        crc32c_raw(sb.csum_seed, &copy) == h_chksum0
    };
    Commit { commit_sec: be64(b, 0x30), crc32, csum_ok }
}

/// The filesystem blocks a revoke block revokes.
pub(crate) fn revoke_records(sb: &JournalSuperblock, b: &[u8]) -> Result<Vec<u64>> {
    let r_count = usize::try_from(be32(b, 0xC)).unwrap_or(usize::MAX);
    let limit = if sb.has_tail() { b.len().saturating_sub(4) } else { b.len() };
    if !(16..=limit).contains(&r_count) {
        return Err(Error::corrupt(format!("revoke block says it uses {r_count} bytes, outside 16 to {limit}")));
    }
    let size = if sb.is_64bit() { 8 } else { 4 };
    let mut out = Vec::new();
    let mut at = 16usize;
    while at.saturating_add(size) <= r_count {
        out.push(if size == 8 { be64(b, at) } else { u64::from(be32(b, at)) });
        at = at.saturating_add(size);
    }
    Ok(out)
}

/// crc32 in its big-endian (MSB-first) form, without inversions: what
/// checksum v1 sums a transaction's blocks with (the kernel's crc32_be).
pub(crate) fn crc32_be(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            let mask = 0u32.wrapping_sub(crc >> 31);
            crc = (crc << 1) ^ (0x04C1_1DB7 & mask);
        }
    }
    crc
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    pub(crate) fn superblock(incompat: u32) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        b[0..4].copy_from_slice(&JBD2_MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&SUPERBLOCK_V2.to_be_bytes());
        b[0xC..0x10].copy_from_slice(&1024u32.to_be_bytes());
        b[0x10..0x14].copy_from_slice(&1024u32.to_be_bytes());
        b[0x14..0x18].copy_from_slice(&1u32.to_be_bytes());
        b[0x18..0x1C].copy_from_slice(&7u32.to_be_bytes());
        b[0x1C..0x20].copy_from_slice(&1u32.to_be_bytes());
        b[0x28..0x2C].copy_from_slice(&incompat.to_be_bytes());
        b[0x30..0x40].copy_from_slice(&[9; 16]);
        if incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) != 0 {
            b[0x50] = JBD2_CRC32C_CHKSUM;
            let c = crc32c_raw(!0, &b);
            b[0xFC..0x100].copy_from_slice(&c.to_be_bytes());
        }
        b
    }

    #[test]
    fn parses_and_checks_the_superblock() {
        let sb = JournalSuperblock::from_bytes(&superblock(INCOMPAT_REVOKE | INCOMPAT_64BIT), 1024).unwrap();
        assert_eq!((sb.s_first, sb.s_start, sb.s_sequence, sb.log_end), (1, 1, 7, 1024));
        assert_eq!(sb.tag_bytes(), 12);
        assert_eq!(sb.describe(), "v2, 64-bit tags, no checksums");
        let sb = JournalSuperblock::from_bytes(&superblock(INCOMPAT_CSUM_V3), 1024).unwrap();
        assert_eq!(sb.tag_bytes(), 16);
        let mut bad = superblock(INCOMPAT_CSUM_V3);
        bad[0x18] ^= 1;
        let e = JournalSuperblock::from_bytes(&bad, 1024).unwrap_err();
        assert!(e.to_string().starts_with("journal superblock checksum is 0x"), "{e}");
        let e = JournalSuperblock::from_bytes(&superblock(0x1000), 1024).unwrap_err();
        assert_eq!(e.to_string(), "the journal uses unknown incompatible features 0x1000");
        let e = JournalSuperblock::from_bytes(&superblock(0), 4096).unwrap_err();
        assert_eq!(e.to_string(), "journal block size is 1024 but the filesystem's is 4096");
        let mut b = superblock(0);
        b[0x1C..0x20].copy_from_slice(&5000u32.to_be_bytes());
        assert!(JournalSuperblock::from_bytes(&b, 1024).unwrap_err().to_string().contains("outside its area"));
        assert!(JournalSuperblock::from_bytes(&b[..100], 1024).is_err());
    }

    #[test]
    fn reads_tags_of_each_layout() {
        // 32-bit, no checksums: blocknr, checksum16, flags16.
        let sb = JournalSuperblock::from_bytes(&superblock(0), 1024).unwrap();
        let mut d = vec![0u8; 1024];
        d[12..16].copy_from_slice(&300u32.to_be_bytes());
        d[18..20].copy_from_slice(&(FLAG_ESCAPE as u16).to_be_bytes());
        // Next tag after 16 bytes of UUID.
        d[36..40].copy_from_slice(&301u32.to_be_bytes());
        d[42..44].copy_from_slice(&((FLAG_SAME_UUID | FLAG_LAST_TAG) as u16).to_be_bytes());
        let tags = descriptor_tags(&sb, &d);
        assert_eq!(tags.len(), 2);
        assert_eq!((tags[0].fs_block, tags[0].flags), (300, FLAG_ESCAPE));
        assert_eq!(tags[1].fs_block, 301);
        // v3, 64-bit: blocknr, flags, high, checksum.
        let sb = JournalSuperblock::from_bytes(&superblock(INCOMPAT_CSUM_V3 | INCOMPAT_64BIT), 1024).unwrap();
        let mut d = vec![0u8; 1024];
        d[12..16].copy_from_slice(&5u32.to_be_bytes());
        d[16..20].copy_from_slice(&(FLAG_SAME_UUID | FLAG_LAST_TAG).to_be_bytes());
        d[20..24].copy_from_slice(&1u32.to_be_bytes());
        d[24..28].copy_from_slice(&0xABCDu32.to_be_bytes());
        let tags = descriptor_tags(&sb, &d);
        assert_eq!(tags, vec![Tag { fs_block: (1 << 32) | 5, flags: FLAG_SAME_UUID | FLAG_LAST_TAG, checksum: 0xABCD }]);
        // A descriptor full of zeros (no LAST_TAG) stops at the tail.
        // (Each tag is 16 bytes plus a 16-byte UUID; the last may end at the tail.)
        assert_eq!(descriptor_tags(&sb, &vec![0u8; 1024]).len(), 32);
    }

    #[test]
    fn revoke_counts_are_checked() {
        let sb = JournalSuperblock::from_bytes(&superblock(INCOMPAT_64BIT), 1024).unwrap();
        let mut r = vec![0u8; 1024];
        r[0xC..0x10].copy_from_slice(&32u32.to_be_bytes());
        r[16..24].copy_from_slice(&77u64.to_be_bytes());
        r[24..32].copy_from_slice(&(1u64 << 33).to_be_bytes());
        assert_eq!(revoke_records(&sb, &r).unwrap(), vec![77, 1 << 33]);
        r[0xC..0x10].copy_from_slice(&5000u32.to_be_bytes());
        assert_eq!(
            revoke_records(&sb, &r).unwrap_err().to_string(),
            "revoke block says it uses 5000 bytes, outside 16 to 1024"
        );
    }

    #[test]
    fn crc32_be_matches_the_standard_check_value() {
        // CRC-32/BZIP2 of "123456789" is 0xFC891918 (init ~0, final inversion).
        assert_eq!(!crc32_be(!0, b"123456789"), 0xFC89_1918);
    }
}
