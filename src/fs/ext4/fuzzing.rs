//! Entry points for the fuzz targets under `fuzz/` and their regression
//! test (`tests/fuzz_regressions.rs`). Not an on-disk structure: each
//! function feeds arbitrary bytes to the parsers the reader uses and
//! ignores the results; the only failures are panics, hangs and runaway
//! allocations. Hidden from the docs and not part of the API.
//!
//! Every walk is bounded (entries, directories, bytes read) so one input
//! stays fast however its sizes and counts are damaged.

use std::collections::HashSet;
use std::rc::Rc;

use super::{block_map, dir, extent, file_map, inline, Ext4Fs};
use crate::error::{Error, Result};
use crate::fs::{FileKind, FileSystem};
use crate::read_at::{MemReader, Reader};

/// Directory entries looked at in one walk.
const WALK_MAX_ENTRIES: usize = 4096;
/// Directories listed in one walk.
const WALK_MAX_DIRS: usize = 512;
/// File bytes read in one walk, over all files.
const WALK_MAX_READ_BYTES: u64 = 4 << 20;
/// Bytes read from one file.
const WALK_MAX_FILE_BYTES: u64 = 256 << 10;
/// One read call's buffer.
const WALK_BUF_BYTES: usize = 64 << 10;
/// Logical blocks asked of one fuzzed mapping.
const MAPPING_PROBES: u64 = 64;

/// What a bounded walk saw, for tests that want more than "no panic".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkCounts {
    /// Entries listed without error.
    pub entries: usize,
    /// Errors met: listing, stat, read or read_link.
    pub errors: usize,
    /// File bytes read.
    pub bytes: u64,
}

/// Opens `data` as an ext2/3/4 image and walks it within the bounds above:
/// read_dir, stat, read_at of every file, read_link of every symlink.
pub fn ext4_walk(data: &[u8]) -> Result<WalkCounts> {
    let reader: Reader = Rc::new(MemReader::new(data.to_vec()));
    let fs = Ext4Fs::open(reader)?;
    Ok(bounded_walk(&fs))
}

/// The walk behind [`ext4_walk`] over an opened filesystem.
pub fn bounded_walk(fs: &Ext4Fs) -> WalkCounts {
    let mut counts = WalkCounts::default();
    let _ = fs.info();
    let mut seen_dirs = HashSet::new();
    let mut stack = vec![fs.root()];
    let mut buf = vec![0u8; WALK_BUF_BYTES];
    let mut looked_at = 0usize;
    while let Some(dir) = stack.pop() {
        if !seen_dirs.insert(dir) || seen_dirs.len() > WALK_MAX_DIRS {
            continue;
        }
        let iter = match fs.read_dir(dir) {
            Ok(i) => i,
            Err(_) => {
                counts.errors = counts.errors.saturating_add(1);
                continue;
            }
        };
        for item in iter {
            looked_at = looked_at.saturating_add(1);
            if looked_at > WALK_MAX_ENTRIES {
                return counts;
            }
            let Ok(e) = item else {
                counts.errors = counts.errors.saturating_add(1);
                continue;
            };
            counts.entries = counts.entries.saturating_add(1);
            let Ok(m) = fs.stat(e.inode) else {
                counts.errors = counts.errors.saturating_add(1);
                continue;
            };
            match m.kind {
                FileKind::Dir => stack.push(e.inode),
                FileKind::Symlink => {
                    if fs.read_link(e.inode).is_err() {
                        counts.errors = counts.errors.saturating_add(1);
                    }
                }
                _ => {
                    let mut off = 0u64;
                    while off < WALK_MAX_FILE_BYTES && counts.bytes < WALK_MAX_READ_BYTES {
                        match fs.read_at(e.inode, off, &mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                let n = u64::try_from(n).unwrap_or(u64::MAX);
                                off = off.saturating_add(n);
                                counts.bytes = counts.bytes.saturating_add(n);
                            }
                            Err(_) => {
                                counts.errors = counts.errors.saturating_add(1);
                                break;
                            }
                        }
                    }
                    // A read far into the file takes another path through the mapping.
                    let _ = fs.read_at(e.inode, m.size.saturating_sub(1), &mut buf[..1]);
                }
            }
        }
    }
    counts
}

/// An image with a dirty journal: opened (which replays the journal in
/// memory, after reading the filesystem without it) and walked.
pub fn ext4_journal(data: &[u8]) -> Result<WalkCounts> {
    ext4_walk(data)
}

/// Splits fuzz input into a 60-byte `i_block`, a block size (1, 2 or
/// 4 KiB, from the next byte) and the blocks that follow; node block `n`
/// is the `n`-th of those, and any other number fails like a block past
/// the end of the filesystem.
struct MappingInput<'a> {
    i_block: [u8; 60],
    block_bytes: usize,
    blocks: &'a [u8],
}

impl<'a> MappingInput<'a> {
    fn new(data: &'a [u8]) -> MappingInput<'a> {
        let mut i_block = [0u8; 60];
        let head = data.get(..60).unwrap_or(data);
        i_block.get_mut(..head.len()).unwrap_or(&mut []).copy_from_slice(head);
        let shift = data.get(60).map_or(0, |b| b % 3);
        MappingInput { i_block, block_bytes: 1024usize << shift, blocks: data.get(61..).unwrap_or(&[]) }
    }

    fn block(&self, n: u64) -> Result<&'a [u8]> {
        let start = usize::try_from(n).ok().and_then(|n| n.checked_mul(self.block_bytes));
        let end = start.and_then(|s| s.checked_add(self.block_bytes));
        match (start, end) {
            (Some(s), Some(e)) if e <= self.blocks.len() => Ok(self.blocks.get(s..e).unwrap_or(&[])),
            _ => Err(Error::corrupt(format!("block {n} is past the end of the fuzz input"))),
        }
    }
}

/// Maps the fuzzed `i_block` as an extent tree (nodes from the following
/// blocks), then probes the run lookup at logical blocks spread over the
/// whole range; also maps it as an ext2 block map.
pub fn ext4_extent(data: &[u8]) {
    let input = MappingInput::new(data);
    let read = |n: u64| input.block(n).map(<[u8]>::to_vec);
    if let Ok(extents) = extent::collect_extents(&input.i_block, &read) {
        for probe in probes(&extents) {
            let run = file_map::extent_run(&extents, probe);
            assert!(run.len >= 1 && run.logical == probe, "extent run {run:?} for block {probe}");
        }
    }
    let ptrs = block_map::root_pointers(&input.i_block);
    let per_block = u64::try_from(input.block_bytes / 4).unwrap_or(256);
    let read_indirect = |n: u64| input.block(n).map(|b| Rc::new(block_map::parse_indirect(b)));
    for i in 0..MAPPING_PROBES {
        // Spread over direct, single, double and triple indirect ranges.
        let logical = i.saturating_mul(i).saturating_mul(i).saturating_mul(per_block);
        if let Ok(run) = block_map::lookup(&ptrs, per_block, logical, &read_indirect) {
            assert!(run.len >= 1 && run.logical == logical, "block map run {run:?} for block {logical}");
        }
    }
}

/// Logical blocks to look up: each extent's edges and the gaps beside them.
fn probes(extents: &[extent::Extent]) -> Vec<u64> {
    let mut out = vec![0, u64::MAX];
    for e in extents.iter().take(usize::try_from(MAPPING_PROBES).unwrap_or(64)) {
        let end = e.logical.saturating_add(e.len);
        out.extend([e.logical.saturating_sub(1), e.logical, end.saturating_sub(1), end]);
    }
    out
}

/// Parses `data` as one directory block with and without the filetype
/// feature, and as an inode (padded to 256 bytes) holding an inline
/// directory and an inline file.
pub fn ext4_dir_block(data: &[u8]) {
    for filetype in [true, false] {
        let _ = dir::parse_block(data, filetype, 0);
    }
    let mut raw = data.to_vec();
    if raw.len() < 256 {
        raw.resize(256, 0);
    }
    // Inode sizes are at most a block; keep records in the usual range.
    raw.truncate(1024);
    if let Ok(inode) = super::inode::Inode::from_bytes(&raw) {
        for filetype in [true, false] {
            let _ = inline::dir_entries(&inode, filetype);
        }
        let _ = inline::file_bytes(&inode);
    }
}
