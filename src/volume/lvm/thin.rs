//! Thin volumes: dm-thin pool metadata (the kernel's
//! `drivers/md/dm-thin-metadata.c`, `persistent-data/dm-btree*.c`).
//!
//! The metadata device is made of 4 KiB blocks. Block 0 is the superblock
//! (magic 27022010 at byte 32, `data_mapping_root` at 320,
//! `data_block_size` in sectors at 336). The mapping is a two-level
//! btree: the top level maps a thin device id to the root of that
//! device's tree, which maps a virtual block to `data block << 24 | time`.
//! A btree node: checksum, flags (1 internal, 2 leaf), its own block
//! number, entry count, capacity and value size, then the keys (u64) and
//! the values. Superblock and nodes carry crc32c checksums xored with
//! 160774 and 121107.
//!
//! A device's tree is walked once into sorted runs (virtual block, data
//! block, length); unmapped blocks read as zeros. The walk refuses a
//! block seen twice, goes at most [`MAX_DEPTH`] deep and keeps at most
//! [`MAX_RUNS`] runs, so a damaged or looping tree gives a sentence.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::read_at::{read_vec, ReadAt, Reader};
use crate::bytes::{le32, le64};

const BLOCK: u64 = 4096;
const MAGIC: u64 = 27_022_010;
const SUPERBLOCK_CSUM_XOR: u32 = 160_774;
const BTREE_CSUM_XOR: u32 = 121_107;
const MAX_DEPTH: usize = 16;
const MAX_RUNS: usize = 4 << 20;
const MAX_NODES: usize = 1 << 20;


/// persistent-data's `dm_bm_checksum`: crc32c without the final inversion, xored.
fn checksum(block: &[u8], xor: u32) -> u32 {
    !crate::container::vhdx::crc32c(&block[4..]) ^ xor
}

fn err(what: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("thin pool metadata: {what}"))
}

/// One mapped run: `len` virtual blocks from `virt` live at data block `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub virt: u64,
    pub data: u64,
    pub len: u64,
}

/// A thin device's mapping, built once.
#[derive(Debug)]
pub struct ThinMap {
    pub block_bytes: u64,
    pub runs: Vec<Run>,
}

struct Walker<'a> {
    meta: &'a dyn ReadAt,
    seen: HashSet<u64>,
}

impl Walker<'_> {
    fn node(&mut self, block: u64) -> Result<Vec<u8>> {
        if !self.seen.insert(block) {
            return Err(err(format!("btree block {block} is reached twice (a loop)")));
        }
        if self.seen.len() > MAX_NODES {
            return Err(err(format!("more than {MAX_NODES} btree nodes")));
        }
        let at = block.checked_mul(BLOCK).ok_or_else(|| err("block number overflows"))?;
        let b = read_vec(self.meta, at, BLOCK as usize)?;
        let stored = le32(&b, 0);
        let actual = checksum(&b, BTREE_CSUM_XOR);
        if stored != actual {
            return Err(err(format!("btree node {block} checksum mismatch (stored {stored:#010x}, computed {actual:#010x})")));
        }
        if le64(&b, 8) != block {
            return Err(err(format!("btree node {block} says it is block {}", le64(&b, 8))));
        }
        let nr = le32(&b, 16) as usize;
        let max = le32(&b, 20) as usize;
        let value_size = le32(&b, 24) as usize;
        // 32-byte header, then max keys and max 8-byte values: at most 254 fit.
        if value_size != 8 || nr > max || max > 254 {
            return Err(err(format!("btree node {block} has {nr} of {max} entries of {value_size} bytes")));
        }
        Ok(b)
    }

    /// Calls `leaf(key, value)` for every entry under `root`, in key order.
    fn walk(&mut self, root: u64, depth: usize, leaf: &mut dyn FnMut(u64, u64) -> Result<()>) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(err(format!("btree deeper than {MAX_DEPTH}")));
        }
        let b = self.node(root)?;
        let flags = le32(&b, 4);
        let nr = le32(&b, 16) as usize;
        let max = le32(&b, 20) as usize;
        for i in 0..nr {
            let key = le64(&b, 32 + i * 8);
            let value = le64(&b, 32 + max * 8 + i * 8);
            if flags & 1 != 0 {
                self.walk(value, depth + 1, leaf)?;
            } else {
                leaf(key, value)?;
            }
        }
        Ok(())
    }
}

impl ThinMap {
    /// Reads device `device_id`'s mapping from the pool's metadata.
    pub fn load(meta: &dyn ReadAt, device_id: u64) -> Result<ThinMap> {
        let sb = read_vec(meta, 0, BLOCK as usize)?;
        if le64(&sb, 32) != MAGIC {
            return Err(err("no thin superblock magic"));
        }
        let stored = le32(&sb, 0);
        let actual = checksum(&sb, SUPERBLOCK_CSUM_XOR);
        if stored != actual {
            return Err(err(format!("superblock checksum mismatch (stored {stored:#010x}, computed {actual:#010x})")));
        }
        let data_mapping_root = le64(&sb, 320);
        let data_block_sectors = le32(&sb, 336);
        if data_block_sectors == 0 || data_block_sectors > (1 << 21) {
            return Err(err(format!("data block size {data_block_sectors} sectors is out of range")));
        }
        let mut w = Walker { meta, seen: HashSet::new() };
        let mut device_root = None;
        w.walk(data_mapping_root, 0, &mut |key, value| {
            if key == device_id {
                device_root = Some(value);
            }
            Ok(())
        })?;
        let root = device_root.ok_or_else(|| Error::not_found(format!("thin device {device_id} is not in the pool's metadata")))?;
        let mut runs: Vec<Run> = Vec::new();
        let mut last_key = None;
        w.walk(root, 0, &mut |virt, value| {
            if last_key.is_some_and(|k| virt <= k) {
                return Err(err(format!("mapping keys out of order at virtual block {virt}")));
            }
            last_key = Some(virt);
            let data = value >> 24;
            match runs.last_mut() {
                Some(r) if r.virt.checked_add(r.len) == Some(virt) && r.data.checked_add(r.len) == Some(data) => r.len += 1,
                _ => {
                    if runs.len() >= MAX_RUNS {
                        return Err(err(format!("more than {MAX_RUNS} mapped runs")));
                    }
                    runs.push(Run { virt, data, len: 1 });
                }
            }
            Ok(())
        })?;
        Ok(ThinMap { block_bytes: u64::from(data_block_sectors) * 512, runs })
    }

    /// Reads `buf` at `at` of the thin device from the pool's data.
    pub fn read(&self, data: &Reader, at: u64, buf: &mut [u8]) -> Result<()> {
        let bb = self.block_bytes;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = at + done as u64;
            let vblock = pos / bb;
            let within = pos % bb;
            let take = ((bb - within).min((buf.len() - done) as u64)) as usize;
            let i = self.runs.partition_point(|r| r.virt.saturating_add(r.len) <= vblock);
            match self.runs.get(i).filter(|r| r.virt <= vblock) {
                Some(r) => {
                    let dblock = r.data.saturating_add(vblock - r.virt);
                    let off = dblock.checked_mul(bb).and_then(|o| o.checked_add(within)).ok_or_else(|| err("data offset overflows"))?;
                    data.read_exact_at(off, &mut buf[done..done + take])?;
                }
                None => buf[done..done + take].fill(0),
            }
            done += take;
        }
        Ok(())
    }
}

/// The fuzz target's body: `data` as a pool's metadata device; the
/// mappings of devices 0–3 loaded and read at a few places over zero data.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let meta = crate::read_at::MemReader::new(data.to_vec());
    let pool: Reader = std::rc::Rc::new(crate::read_at::MemReader::new(vec![0; 1 << 16]));
    for dev in 0..4 {
        if let Ok(m) = ThinMap::load(&meta, dev) {
            let mut buf = [0u8; 512];
            for at in [0u64, 1 << 20, 1 << 30] {
                let _ = m.read(&pool, at, &mut buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    fn node(block: u64, leaf: bool, entries: &[(u64, u64)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let max = 252usize;
        b[4..8].copy_from_slice(&(if leaf { 2u32 } else { 1 }).to_le_bytes());
        b[8..16].copy_from_slice(&block.to_le_bytes());
        b[16..20].copy_from_slice(&(entries.len() as u32).to_le_bytes());
        b[20..24].copy_from_slice(&(max as u32).to_le_bytes());
        b[24..28].copy_from_slice(&8u32.to_le_bytes());
        for (i, (k, v)) in entries.iter().enumerate() {
            b[32 + i * 8..40 + i * 8].copy_from_slice(&k.to_le_bytes());
            b[32 + max * 8 + i * 8..40 + max * 8 + i * 8].copy_from_slice(&v.to_le_bytes());
        }
        let c = checksum(&b, BTREE_CSUM_XOR);
        b[0..4].copy_from_slice(&c.to_le_bytes());
        b
    }

    fn meta(nodes: Vec<Vec<u8>>) -> MemReader {
        let mut sb = vec![0u8; 4096];
        sb[32..40].copy_from_slice(&MAGIC.to_le_bytes());
        sb[320..328].copy_from_slice(&1u64.to_le_bytes());
        sb[336..340].copy_from_slice(&8u32.to_le_bytes());
        let c = checksum(&sb, SUPERBLOCK_CSUM_XOR);
        sb[0..4].copy_from_slice(&c.to_le_bytes());
        let mut all = sb;
        for n in nodes {
            all.extend(n);
        }
        MemReader::new(all)
    }

    #[test]
    fn maps_runs_and_refuses_loops() {
        // Block 1: top level {dev 7 → 2}; block 2: internal → 3; block 3: leaf.
        let m = meta(vec![node(1, true, &[(7, 2)]), node(2, false, &[(0, 3)]), node(3, true, &[(0, 5 << 24), (1, 6 << 24), (4, 1 << 24)])]);
        let t = ThinMap::load(&m, 7).unwrap();
        assert_eq!(t.runs, [Run { virt: 0, data: 5, len: 2 }, Run { virt: 4, data: 1, len: 1 }]);
        assert_eq!(ThinMap::load(&m, 8).unwrap_err().message(), "thin device 8 is not in the pool's metadata");
        // An internal node pointing at itself.
        let m = meta(vec![node(1, true, &[(7, 2)]), node(2, false, &[(0, 2)])]);
        assert_eq!(ThinMap::load(&m, 7).unwrap_err().message(), "thin pool metadata: btree block 2 is reached twice (a loop)");
    }
}
