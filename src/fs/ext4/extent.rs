//! Extent trees: how an EXTENTS-flagged inode maps file blocks to disk blocks.
//!
//! Follows Documentation/filesystems/ext4/ifork.rst ("Extent Tree"). The
//! root node is the inode's 60-byte `i_block`; interior nodes and leaves
//! are whole blocks. Every header is checked (eh_magic 0xF30A, entries ≤
//! max, max fits the node, depth ≤ 5 and one less than the parent's) and
//! every node block is visited at most once, so damaged trees end in an
//! error, not a loop. Extents with ee_len > 32768 are unwritten (read as
//! zeros), of length ee_len - 32768. With metadata_csum, each node block's
//! tail (after eh_max entries) is checked; a mismatch is a problem sentence
//! naming the block, and the extents are still used.

use std::collections::HashSet;

use crate::bytes::{le16, le32, lo_hi};
use crate::error::{Error, Result};

const EXT4_EXT_MAGIC: u16 = 0xF30A;
const MAX_DEPTH: u16 = 5;
const EXT_INIT_MAX_LEN: u16 = 32768;
/// More leaf extents than this in one file is refused rather than held in memory.
pub(crate) const MAX_EXTENTS: usize = 1 << 21;
/// Tree nodes read for one file; enough for MAX_EXTENTS in full 1 KiB leaves.
const MAX_NODES: usize = 1 << 16;

/// One leaf extent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    /// First file block (ee_block).
    pub logical: u64,
    /// Number of blocks.
    pub len: u64,
    /// First disk block (ee_start_hi << 32 | ee_start_lo).
    pub physical: u64,
    /// Allocated but not written: reads as zeros.
    pub unwritten: bool,
}

/// A checked node header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExtentHeader {
    pub eh_entries: u16,
    pub eh_max: u16,
    pub eh_depth: u16,
}

impl ExtentHeader {
    /// Parses the 12-byte header of a node of `node_bytes` bytes.
    pub fn from_bytes(b: &[u8]) -> Result<ExtentHeader> {
        let eh_magic = le16(b, 0x0);
        let eh_entries = le16(b, 0x2);
        let eh_max = le16(b, 0x4);
        let eh_depth = le16(b, 0x6);
        if eh_magic != EXT4_EXT_MAGIC {
            return Err(Error::corrupt(format!("extent header magic is {eh_magic:#06x}, expected 0xf30a")));
        }
        if eh_depth > MAX_DEPTH {
            return Err(Error::corrupt(format!("extent depth {eh_depth} exceeds {MAX_DEPTH}")));
        }
        if eh_entries > eh_max {
            return Err(Error::corrupt(format!("extent node has {eh_entries} entries but room for {eh_max}")));
        }
        let capacity = b.len().saturating_sub(12) / 12;
        if usize::from(eh_max) > capacity {
            return Err(Error::corrupt(format!("extent node claims room for {eh_max} entries, but only {capacity} fit")));
        }
        Ok(ExtentHeader { eh_entries, eh_max, eh_depth })
    }
}

/// The leaf extents of the tree rooted in `i_block`, sorted by file block.
/// `read_block` reads one filesystem block (checked against the block count).
// Unchecked variant, for callers without a checksum seed (fuzzing).
#[allow(dead_code)]
pub(crate) fn collect_extents(i_block: &[u8], read_block: &dyn Fn(u64) -> Result<Vec<u8>>) -> Result<Vec<Extent>> {
    collect_extents_checked(i_block, read_block, None, &mut Vec::new())
}

/// As [`collect_extents`], checking node blocks' checksums with the inode's
/// seed `csum_seed` (metadata_csum) and adding mismatches to `problems`.
pub(crate) fn collect_extents_checked(
    i_block: &[u8],
    read_block: &dyn Fn(u64) -> Result<Vec<u8>>,
    csum_seed: Option<u32>,
    problems: &mut Vec<String>,
) -> Result<Vec<Extent>> {
    let mut out = Vec::new();
    let mut visited = HashSet::new();
    let root = ExtentHeader::from_bytes(i_block)?;
    let mut walker = Walker { read_block, visited: &mut visited, out: &mut out, csum_seed, problems };
    walker.walk(i_block, root)?;
    out.sort_by_key(|e| e.logical);
    Ok(out)
}

/// State of one tree walk.
struct Walker<'a> {
    read_block: &'a dyn Fn(u64) -> Result<Vec<u8>>,
    visited: &'a mut HashSet<u64>,
    out: &'a mut Vec<Extent>,
    csum_seed: Option<u32>,
    problems: &'a mut Vec<String>,
}

impl Walker<'_> {
    fn walk(&mut self, node: &[u8], header: ExtentHeader) -> Result<()> {
        for i in 0..usize::from(header.eh_entries) {
            // 12-byte entries after the 12-byte header; in range by the header check.
            let off = i.saturating_add(1).saturating_mul(12);
            if header.eh_depth == 0 {
                let ee_block = le32(node, off);
                let ee_len = le16(node, off.saturating_add(0x4));
                let ee_start_hi = le16(node, off.saturating_add(0x6));
                let ee_start_lo = le32(node, off.saturating_add(0x8));
                let (len, unwritten) =
                    if ee_len > EXT_INIT_MAX_LEN { (ee_len.saturating_sub(EXT_INIT_MAX_LEN), true) } else { (ee_len, false) };
                if len == 0 {
                    continue;
                }
                if self.out.len() >= MAX_EXTENTS {
                    return Err(Error::unsupported(format!("file has more than {MAX_EXTENTS} extents")));
                }
                self.out.push(Extent {
                    logical: u64::from(ee_block),
                    len: u64::from(len),
                    physical: lo_hi(ee_start_lo, u32::from(ee_start_hi)),
                    unwritten,
                });
            } else {
                let ei_leaf_lo = le32(node, off.saturating_add(0x4));
                let ei_leaf_hi = le16(node, off.saturating_add(0x8));
                let child = lo_hi(ei_leaf_lo, u32::from(ei_leaf_hi));
                if !self.visited.insert(child) {
                    return Err(Error::corrupt(format!("extent tree visits block {child} twice")));
                }
                if self.visited.len() > MAX_NODES {
                    return Err(Error::unsupported(format!("extent tree has more than {MAX_NODES} nodes")));
                }
                let bytes = (self.read_block)(child)?;
                let child_header = ExtentHeader::from_bytes(&bytes).map_err(|e| e.context(format!("extent node in block {child}")))?;
                if let Some(seed) = self.csum_seed {
                    if let Some(p) = super::checksum::extent_block_problem(&bytes, child_header.eh_max, seed) {
                        self.problems.push(format!("extent tree block {child}: {p}; its extents are used anyway"));
                    }
                }
                if child_header.eh_depth.saturating_add(1) != header.eh_depth {
                    return Err(Error::corrupt(format!(
                        "extent node in block {child} has depth {}, expected {}",
                        child_header.eh_depth,
                        header.eh_depth.saturating_sub(1)
                    )));
                }
                self.walk(&bytes, child_header)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn header(entries: u16, max: u16, depth: u16) -> Vec<u8> {
        let mut b = vec![0u8; 12];
        b[0..2].copy_from_slice(&0xF30Au16.to_le_bytes());
        b[2..4].copy_from_slice(&entries.to_le_bytes());
        b[4..6].copy_from_slice(&max.to_le_bytes());
        b[6..8].copy_from_slice(&depth.to_le_bytes());
        b
    }
    fn leaf(b: &mut Vec<u8>, block: u32, len: u16, start: u64) {
        b.extend_from_slice(&block.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&u16::try_from(start >> 32).unwrap().to_le_bytes());
        b.extend_from_slice(&u32::try_from(start & 0xFFFF_FFFF).unwrap().to_le_bytes());
    }
    fn index(b: &mut Vec<u8>, block: u32, child: u32) {
        b.extend_from_slice(&block.to_le_bytes());
        b.extend_from_slice(&child.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
    }
    fn no_blocks(_: u64) -> Result<Vec<u8>> {
        Err(Error::io("no blocks here"))
    }

    #[test]
    fn reads_a_root_leaf_with_unwritten_extents() {
        let mut b = header(2, 4, 0);
        leaf(&mut b, 10, 32768 + 5, 0x1_0000_0002);
        leaf(&mut b, 0, 3, 100);
        b.resize(60, 0);
        let e = collect_extents(&b, &no_blocks).unwrap();
        assert_eq!(e[0], Extent { logical: 0, len: 3, physical: 100, unwritten: false });
        assert_eq!(e[1], Extent { logical: 10, len: 5, physical: 0x1_0000_0002, unwritten: true });
    }

    #[test]
    fn follows_index_nodes() {
        let mut root = header(1, 4, 1);
        index(&mut root, 0, 7);
        root.resize(60, 0);
        let read = |n: u64| {
            assert_eq!(n, 7);
            let mut b = header(1, 84, 0);
            leaf(&mut b, 0, 1, 50);
            b.resize(1024, 0);
            Ok(b)
        };
        assert_eq!(collect_extents(&root, &read).unwrap().len(), 1);
    }

    #[test]
    fn refuses_bad_headers() {
        let mut b = header(1, 4, 0);
        b[0] = 0;
        b.resize(60, 0);
        assert_eq!(collect_extents(&b, &no_blocks).unwrap_err().to_string(), "extent header magic is 0xf300, expected 0xf30a");
        let mut b = header(1, 4, 9);
        b.resize(60, 0);
        assert_eq!(collect_extents(&b, &no_blocks).unwrap_err().to_string(), "extent depth 9 exceeds 5");
        let mut b = header(5, 4, 0);
        b.resize(60, 0);
        assert!(collect_extents(&b, &no_blocks).unwrap_err().to_string().contains("5 entries but room for 4"));
        let mut b = header(1, 40, 0);
        b.resize(60, 0);
        assert!(collect_extents(&b, &no_blocks).unwrap_err().to_string().contains("only 4 fit"));
    }

    #[test]
    fn refuses_loops_and_wrong_depths() {
        let mut root = header(2, 4, 1);
        index(&mut root, 0, 7);
        index(&mut root, 5, 7);
        root.resize(60, 0);
        let read = |_: u64| {
            let mut b = header(0, 84, 0);
            b.resize(1024, 0);
            Ok(b)
        };
        assert!(collect_extents(&root, &read).unwrap_err().to_string().contains("twice"));
        let mut root = header(1, 4, 2);
        index(&mut root, 0, 7);
        root.resize(60, 0);
        assert!(collect_extents(&root, &read).unwrap_err().to_string().contains("depth 0, expected 1"));
    }
}
