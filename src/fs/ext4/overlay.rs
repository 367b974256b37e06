//! The volume as it is after journal replay, without writing it.
//!
//! Not an on-disk structure: a [`ReadAt`] over the volume that serves the
//! blocks [`super::journal`] replays from their newest copies in the
//! journal, restoring the magic of escaped copies, and passes every other
//! byte range straight through in one read. The filesystem is then opened
//! again on top, so superblock, group descriptors, inodes, directories and
//! file data all see the replayed state.

use std::collections::BTreeMap;

use super::jbd2::JBD2_MAGIC;
use super::journal::JournalCopy;
use crate::error::{Error, Result};
use crate::read_at::{check_range, ReadAt, Reader};

/// The volume with replayed blocks taken from the journal.
pub(crate) struct JournalOverlay {
    inner: Reader,
    block_size: u64,
    blocks: BTreeMap<u64, JournalCopy>,
}

impl JournalOverlay {
    /// `blocks` maps filesystem blocks to their copies; `block_size` is
    /// the filesystem's (at least 1024).
    pub fn new(inner: Reader, block_size: u64, blocks: BTreeMap<u64, JournalCopy>) -> JournalOverlay {
        JournalOverlay { inner, block_size: block_size.max(1), blocks }
    }

    /// Reads `buf.len()` bytes of the replayed copy of a block, from byte
    /// `within` of it.
    fn read_copy(&self, copy: JournalCopy, within: u64, buf: &mut [u8]) -> Result<()> {
        let at = copy
            .at_block
            .checked_mul(self.block_size)
            .and_then(|o| o.checked_add(within))
            .ok_or_else(|| Error::corrupt("journal copy offset overflows"))?;
        self.inner.read_exact_at(at, buf).map_err(|e| e.context("reading a block's copy in the journal"))?;
        if copy.escaped && within < 4 {
            let magic = JBD2_MAGIC.to_be_bytes();
            // within < 4, so the casts and indexes stay tiny.
            let start = usize::try_from(within).unwrap_or(4);
            for (dst, src) in buf.iter_mut().zip(magic.get(start..).unwrap_or(&[])) {
                *dst = *src;
            }
        }
        Ok(())
    }
}

impl ReadAt for JournalOverlay {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size())?;
        if buf.is_empty() {
            return Ok(());
        }
        let bs = self.block_size;
        // In range by check_range; bs >= 1.
        #[allow(clippy::arithmetic_side_effects)]
        let (end, first, last) = {
            let end = offset + buf.len() as u64;
            (end, offset / bs, (end - 1) / bs)
        };
        let slice = |buf: &mut [u8], from: u64, to: u64| -> std::ops::Range<usize> {
            let a = usize::try_from(from.saturating_sub(offset)).unwrap_or(usize::MAX);
            let b = usize::try_from(to.saturating_sub(offset)).unwrap_or(usize::MAX);
            a.min(buf.len())..b.min(buf.len())
        };
        let mut pos = offset;
        for (&block, &copy) in self.blocks.range(first..=last) {
            // block <= last, so block * bs < end: no overflow.
            let block_start = block.saturating_mul(bs);
            if block_start > pos {
                let r = slice(buf, pos, block_start);
                self.inner.read_exact_at(pos, buf.get_mut(r).unwrap_or(&mut []))?;
                pos = block_start;
            }
            let piece_end = block_start.saturating_add(bs).min(end);
            let r = slice(buf, pos, piece_end);
            self.read_copy(copy, pos.saturating_sub(block_start), buf.get_mut(r).unwrap_or(&mut []))?;
            pos = piece_end;
        }
        if pos < end {
            let r = slice(buf, pos, end);
            self.inner.read_exact_at(pos, buf.get_mut(r).unwrap_or(&mut []))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;
    use std::rc::Rc;

    #[test]
    fn serves_replayed_blocks_at_any_alignment() {
        // 8 blocks of 1024: block i is filled with i; blocks 6 and 7 are the journal.
        let mut data = Vec::new();
        for i in 0..8u8 {
            data.extend(std::iter::repeat_n(i, 1024));
        }
        let mut base = data.clone();
        base[7 * 1024..7 * 1024 + 4].fill(0);
        let inner: Reader = Rc::new(MemReader::new(base.clone()));
        let mut blocks = BTreeMap::new();
        blocks.insert(2, JournalCopy { at_block: 6, escaped: false });
        blocks.insert(3, JournalCopy { at_block: 7, escaped: true });
        let o = JournalOverlay::new(inner, 1024, blocks);
        let mut want = base.clone();
        want[2048..3072].fill(6);
        want[3072..4096].copy_from_slice(&base[7168..8192]);
        want[3072..3076].copy_from_slice(&JBD2_MAGIC.to_be_bytes());
        for (off, len) in [(0, 8192), (2047, 2), (3073, 5), (3000, 3000), (3074, 1), (5000, 100), (0, 0)] {
            let mut buf = vec![0xEE; len];
            o.read_exact_at(off as u64, &mut buf).unwrap();
            assert_eq!(buf[..], want[off..off + len], "read of {len} at {off}");
        }
        assert!(o.read_exact_at(8190, &mut [0u8; 4]).is_err());
    }
}
