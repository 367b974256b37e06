//! Block maps: how ext2/ext3 (non-extent) inodes map file blocks.
//!
//! Follows Documentation/filesystems/ext4/ifork.rst ("Direct/Indirect Block
//! Addressing"): `i_block` holds 12 direct block numbers, then one single,
//! one double and one triple indirect block. A block number 0 anywhere,
//! including an indirect block's own number, is a hole. A lookup returns
//! the run of physically contiguous blocks (or of holes) around the asked
//! block within one pointer array, so large reads need few disk reads.

use std::rc::Rc;

use crate::bytes::le32;
use super::file_map::Run;
use crate::error::Result;

const EXT4_NDIR_BLOCKS: u64 = 12;

/// The 15 `i_block` pointers.
pub(crate) fn root_pointers(i_block: &[u8]) -> [u32; 15] {
    let mut p = [0u32; 15];
    for (i, v) in p.iter_mut().enumerate() {
        *v = le32(i_block, i.saturating_mul(4));
    }
    p
}

/// Parses an indirect block into its pointers.
pub(crate) fn parse_indirect(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4).map(|c| le32(c, 0)).collect()
}

/// The run around file block `logical`. `per_block` is block size / 4;
/// `read_indirect` reads an indirect block's pointers.
pub(crate) fn lookup(
    ptrs: &[u32; 15],
    per_block: u64,
    logical: u64,
    read_indirect: &dyn Fn(u64) -> Result<Rc<Vec<u32>>>,
) -> Result<Run> {
    if logical < EXT4_NDIR_BLOCKS {
        return Ok(run_in(&ptrs[..12], logical, logical));
    }
    let mut rel = logical.saturating_sub(EXT4_NDIR_BLOCKS);
    let mut span = per_block;
    for (levels, root) in [(1u32, ptrs[12]), (2, ptrs[13]), (3, ptrs[14])] {
        if rel < span {
            return descend(u64::from(root), levels, span, rel, logical, per_block, read_indirect);
        }
        rel = rel.saturating_sub(span);
        span = span.saturating_mul(per_block);
    }
    // Past what a triple indirect block can address: nothing is stored there.
    Ok(Run { logical, len: u64::MAX.saturating_sub(logical), physical: None })
}

// Divisions only, by per_block ≥ 256 and child_span ≥ 1.
#[allow(clippy::arithmetic_side_effects)]
/// Walks `levels` indirect levels from `block`, which covers `span` blocks;
/// `rel` is the asked block's index inside that span.
fn descend(
    mut block: u64,
    levels: u32,
    mut span: u64,
    mut rel: u64,
    logical: u64,
    per_block: u64,
    read_indirect: &dyn Fn(u64) -> Result<Rc<Vec<u32>>>,
) -> Result<Run> {
    for _ in 0..levels {
        if block == 0 {
            return Ok(Run { logical, len: span.saturating_sub(rel).max(1), physical: None });
        }
        let ptrs = read_indirect(block)?;
        let child_span = (span / per_block).max(1);
        let idx = rel / child_span;
        rel %= child_span;
        span = child_span;
        if child_span == 1 {
            return Ok(run_in(&ptrs, idx, logical));
        }
        block = usize::try_from(idx).ok().and_then(|i| ptrs.get(i)).map_or(0, |p| u64::from(*p));
    }
    // Only reached with levels == 0, which callers never pass.
    Ok(Run { logical, len: 1, physical: None })
}

/// The run starting at `ptrs[idx]` (file block `logical`): consecutive
/// disk blocks, or consecutive zeros.
fn run_in(ptrs: &[u32], idx: u64, logical: u64) -> Run {
    let Ok(i) = usize::try_from(idx) else {
        return Run { logical, len: 1, physical: None };
    };
    let rest = ptrs.get(i..).unwrap_or(&[]);
    let Some(first) = rest.first().copied() else {
        return Run { logical, len: 1, physical: None };
    };
    if first == 0 {
        let n = rest.iter().take_while(|p| **p == 0).count();
        return Run { logical, len: u64::try_from(n).unwrap_or(1).max(1), physical: None };
    }
    let mut n = 1u64;
    for p in rest.iter().skip(1) {
        if u64::from(*p) != u64::from(first).saturating_add(n) {
            break;
        }
        n = n.saturating_add(1);
    }
    Run { logical, len: n, physical: Some(u64::from(first)) }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn never(_: u64) -> Result<Rc<Vec<u32>>> {
        Err(Error::io("unexpected read"))
    }

    #[test]
    fn direct_runs_merge_contiguous_blocks() {
        let mut p = [0u32; 15];
        p[0] = 100;
        p[1] = 101;
        p[2] = 200;
        let r = lookup(&p, 256, 0, &never).unwrap();
        assert_eq!(r, Run { logical: 0, len: 2, physical: Some(100) });
        let r = lookup(&p, 256, 3, &never).unwrap();
        assert_eq!(r, Run { logical: 3, len: 9, physical: None });
    }

    #[test]
    fn zero_indirect_pointers_are_holes() {
        let p = [0u32; 15];
        // Single indirect range: 256 blocks from 12.
        assert_eq!(lookup(&p, 256, 12, &never).unwrap(), Run { logical: 12, len: 256, physical: None });
        // Double indirect range starts at 12 + 256.
        assert_eq!(lookup(&p, 256, 268 + 5, &never).unwrap().len, 65536 - 5);
    }

    #[test]
    fn walks_double_indirect() {
        let mut p = [0u32; 15];
        p[13] = 9;
        let read = |b: u64| -> Result<Rc<Vec<u32>>> {
            let mut v = vec![0u32; 256];
            if b == 9 {
                v[1] = 10;
            } else if b == 10 {
                v[3] = 500;
                v[4] = 501;
            }
            Ok(Rc::new(v))
        };
        // Block 12 + 256 + 256*1 + 3.
        let r = lookup(&p, 256, 12 + 256 + 256 + 3, &read).unwrap();
        assert_eq!(r.physical, Some(500));
        assert_eq!(r.len, 2);
        let r = lookup(&p, 256, 12 + 256 + 2, &read).unwrap();
        assert_eq!(r.physical, None);
    }
}
