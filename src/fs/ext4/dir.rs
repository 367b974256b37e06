//! Directory entries, read linearly block by block.
//!
//! Follows Documentation/filesystems/ext4/directory.rst ("Linear (Classic)
//! Directories", "Hash Tree Directories"). Entries: inode 0x0, rec_len 0x4,
//! name_len 0x6 (u8, then file_type 0x7 with the filetype feature; u16
//! without), name 0x8. Hash-tree interior blocks look like one unused entry
//! (inode 0) spanning the block, and the dx root hides inside `..`'s
//! rec_len, so a linear read of every block lists each name exactly once.
//! The checksum tail (inode 0, rec_len 12, file_type 0xDE) is skipped like
//! any unused entry. [`classify`] tells htree root and node blocks from
//! leaves, so their checksums (dx_tail) are checked the right way and their
//! index entries are never read as names.

use crate::bytes::{le16, le32, le8};
use crate::error::{Error, Result};
use crate::fs::{DirEntry, FileKind};

/// One entry as on disk, after checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawDirEntry {
    pub inode: u32,
    pub rec_len: usize,
    pub name: Vec<u8>,
    pub file_type: u8,
}

impl RawDirEntry {
    /// Parses the entry at the start of `b` (the rest of its block).
    pub fn from_bytes(b: &[u8], filetype: bool) -> Result<RawDirEntry> {
        if b.len() < 8 {
            return Err(Error::corrupt(format!("directory entry header needs 8 bytes, {} left in the block", b.len())));
        }
        let inode = le32(b, 0x0);
        let mut rec_len = usize::from(le16(b, 0x4));
        // 64 KiB blocks store a whole-block rec_len as 0 or 65535.
        if b.len() == 65536 && (rec_len == 0 || rec_len == 65535) {
            rec_len = 65536;
        }
        let (name_len, file_type) =
            if filetype { (usize::from(le8(b, 0x6)), le8(b, 0x7)) } else { (usize::from(le16(b, 0x6)), 0) };
        if rec_len < 8 || rec_len % 4 != 0 {
            return Err(Error::corrupt(format!("directory entry length {rec_len} is not a multiple of 4 of at least 8")));
        }
        if rec_len > b.len() {
            return Err(Error::corrupt(format!(
                "directory entry length {rec_len} runs past the block ({} bytes left)",
                b.len()
            )));
        }
        let name_end = name_len.saturating_add(8);
        if name_end > rec_len {
            return Err(Error::corrupt(format!("directory entry name of {name_len} bytes does not fit its length {rec_len}")));
        }
        let name = if inode == 0 { Vec::new() } else { b.get(8..name_end).unwrap_or(&[]).to_vec() };
        Ok(RawDirEntry { inode, rec_len, name, file_type })
    }
}

/// What a block of a directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirBlockKind {
    Leaf,
    /// An htree root or interior node; count/limit sit at `count_offset`.
    Dx { count_offset: usize },
}

/// Tells htree blocks from leaves. Block 0 of an indexed directory is the
/// root when `.` and `..` are followed by a dx_root_info of length 8;
/// another block is a node when it starts with one unused entry spanning
/// the whole block (a leaf with a checksum tail never does).
pub(crate) fn classify(block: &[u8], index_in_dir: u64, indexed: bool) -> DirBlockKind {
    if !indexed {
        return DirBlockKind::Leaf;
    }
    let whole = |rec_len: u16| usize::from(rec_len) == block.len() || (block.len() == 65536 && (rec_len == 0 || rec_len == 65535));
    if index_in_dir == 0 {
        // '.' (rec_len 12), '..' spanning the rest, then dx_root_info at 0x18.
        let dot = le16(block, 0x4) == 12 && le8(block, 0x6) == 1 && block.get(0x8) == Some(&b'.');
        let dotdot = le8(block, 0x12) == 2 && block.get(0x14..0x16) == Some(b"..");
        let info_length = le8(block, 0x1D);
        if dot && dotdot && le32(block, 0x18) == 0 && info_length == 8 {
            return DirBlockKind::Dx { count_offset: 0x18 + usize::from(info_length) };
        }
        return DirBlockKind::Leaf;
    }
    if le32(block, 0) == 0 && whole(le16(block, 0x4)) && le8(block, 0x6) == 0 {
        return DirBlockKind::Dx { count_offset: 8 };
    }
    DirBlockKind::Leaf
}

/// The kind a dirent's file_type byte records.
pub(crate) fn kind_from_file_type(t: u8) -> Option<FileKind> {
    Some(match t {
        0 => return None,
        1 => FileKind::File,
        2 => FileKind::Dir,
        3 => FileKind::CharDevice,
        4 => FileKind::BlockDevice,
        5 => FileKind::Fifo,
        6 => FileKind::Socket,
        7 => FileKind::Symlink,
        _ => FileKind::Unknown,
    })
}

/// The entries of one directory block (or inline region) in order; at
/// damage, the entries before it and then one error. `base` is the block's
/// offset in the directory, for error messages.
pub(crate) fn parse_block(block: &[u8], filetype: bool, base: u64) -> Vec<Result<DirEntry>> {
    let mut out = Vec::new();
    let mut off = 0usize;
    // Each step advances by rec_len ≥ 8, so this ends.
    while off < block.len() {
        let rest = block.get(off..).unwrap_or(&[]);
        let at = base.saturating_add(u64::try_from(off).unwrap_or(u64::MAX));
        match RawDirEntry::from_bytes(rest, filetype) {
            Err(e) => {
                out.push(Err(e.at_offset(at).context("reading a directory")));
                break;
            }
            Ok(raw) => {
                off = off.saturating_add(raw.rec_len);
                if raw.inode == 0 || raw.name.is_empty() || raw.name == b"." || raw.name == b".." {
                    continue;
                }
                let kind = if filetype { kind_from_file_type(raw.file_type) } else { None };
                out.push(Ok(DirEntry { name: raw.name, inode: u64::from(raw.inode), kind }));
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn entry(b: &mut Vec<u8>, inode: u32, rec_len: u16, name: &[u8], ft: u8) {
        let start = b.len();
        b.extend_from_slice(&inode.to_le_bytes());
        b.extend_from_slice(&rec_len.to_le_bytes());
        b.push(u8::try_from(name.len()).unwrap());
        b.push(ft);
        b.extend_from_slice(name);
        b.resize(start + usize::from(rec_len), 0);
    }

    #[test]
    fn lists_names_skipping_dots_unused_and_the_tail() {
        let mut b = Vec::new();
        entry(&mut b, 2, 12, b".", 2);
        entry(&mut b, 2, 12, b"..", 2);
        entry(&mut b, 0, 12, b"", 0);
        entry(&mut b, 12, 16, b"caf\xe9", 1);
        entry(&mut b, 13, 1024 - 52 - 12, b"sub", 2);
        entry(&mut b, 0, 12, b"", 0xDE);
        let got = parse_block(&b, true, 0);
        let names: Vec<_> = got.iter().map(|e| e.as_ref().unwrap().name.clone()).collect();
        assert_eq!(names, vec![b"caf\xe9".to_vec(), b"sub".to_vec()]);
        assert_eq!(got[1].as_ref().unwrap().kind, Some(FileKind::Dir));
        let no_ft = parse_block(&b, false, 0);
        // Without filetype, name_len is 16-bit: file_type bytes join it.
        assert!(no_ft.iter().any(|e| e.is_err()));
    }

    #[test]
    fn tells_htree_blocks_from_leaves() {
        let mut root = Vec::new();
        entry(&mut root, 2, 12, b".", 2);
        entry(&mut root, 2, 1012, b"..", 2);
        root[0x1D] = 8;
        assert_eq!(classify(&root, 0, true), DirBlockKind::Dx { count_offset: 0x20 });
        assert_eq!(classify(&root, 0, false), DirBlockKind::Leaf);
        assert_eq!(classify(&root, 1, true), DirBlockKind::Leaf);
        let mut node = Vec::new();
        entry(&mut node, 0, 1024, b"", 0);
        assert_eq!(classify(&node, 3, true), DirBlockKind::Dx { count_offset: 8 });
        let mut leaf = Vec::new();
        entry(&mut leaf, 0, 1012, b"", 0);
        entry(&mut leaf, 0, 12, b"", 0xDE);
        assert_eq!(classify(&leaf, 3, true), DirBlockKind::Leaf);
    }

    #[test]
    fn damage_ends_the_block_with_an_error() {
        let mut b = Vec::new();
        entry(&mut b, 11, 12, b"a", 1);
        entry(&mut b, 12, 12, b"b", 1);
        b[12 + 4] = 6; // rec_len 6
        let got = parse_block(&b, true, 0x400);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "reading a directory, byte 0x40c: directory entry length 6 is not a multiple of 4 of at least 8"
        );
        let mut b = Vec::new();
        entry(&mut b, 11, 12, b"a", 1);
        b[4] = 40;
        assert!(parse_block(&b, true, 0)[0].as_ref().unwrap_err().to_string().contains("runs past the block"));
        let mut b = Vec::new();
        entry(&mut b, 11, 12, b"a", 1);
        b[6] = 9;
        assert!(parse_block(&b, true, 0)[0].as_ref().unwrap_err().to_string().contains("does not fit"));
        assert!(parse_block(&[1, 2, 3], true, 0)[0].is_err());
    }
}
