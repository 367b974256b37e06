//! Recovering a stream-optimized extent whose grain directory is lost.
//!
//! A streamOptimized VMDK writes its grain tables, grain directory and
//! footer last (VMware Virtual Disk Format 1.1, "Stream-Optimized
//! Compressed Sparse Extents"), so a download or copy cut short loses them
//! while keeping every grain written before the cut. Each grain carries
//! its own marker (virtual sector, compressed size), and metadata is
//! framed by markers too (size 0, then a type: 0 end of stream, 1 grain
//! table, 2 grain directory, 3 footer, and the metadata's length in
//! sectors). Walking the markers from the first grain rebuilds the map.
//!
//! The walk reads the whole file once; it only runs when the directory
//! can't be found, and the caller says so.

use crate::read_at::{ReadAt, Reader};

const SECTOR: u64 = 512;
/// Most grains remembered (16 bytes each): 512 GiB of 64 KiB grains. Each
/// marker takes at least a sector, so without a cap a damaged file of tiny
/// grains would cost memory in proportion to its length.
const MAX_GRAINS: usize = 8 << 20;

/// Grains found by walking the markers: (grain index, byte of its marker),
/// sorted by grain index (a later copy of a grain wins), and a sentence
/// about where and why the walk stopped, if not at a clean end.
pub struct Scanned {
    pub grains: Vec<(u64, u64)>,
    pub stopped: Option<String>,
}

fn le32(b: &[u8; 16], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at.saturating_add(1)], b[at.saturating_add(2)], b[at.saturating_add(3)]])
}

/// Walks the markers from byte `start` of `file`.
pub fn scan(file: &Reader, start: u64, capacity_sectors: u64, grain_sectors: u64, max_compressed: u64) -> Scanned {
    let end = file.size();
    let mut grains = Vec::new();
    let mut pos = start;
    let stopped = loop {
        let mut m = [0u8; 16];
        if pos.saturating_add(16) > end {
            break (pos < end).then(|| format!("the stream ends inside a marker at byte {pos:#x}"));
        }
        if file.read_exact_at(pos, &mut m).is_err() {
            break Some(format!("the marker at byte {pos:#x} can't be read"));
        }
        let val = u64::from(le32(&m, 0)) | (u64::from(le32(&m, 4)) << 32);
        let size = u64::from(le32(&m, 8));
        let next = if size > 0 {
            let aligned = grain_sectors != 0 && val.checked_rem(grain_sectors) == Some(0);
            if !aligned || val >= capacity_sectors || size > max_compressed {
                break Some(format!("byte {pos:#x} holds no grain marker Salvage can follow (sector {val}, {size} bytes)"));
            }
            if grains.len() >= MAX_GRAINS {
                break Some(format!("more than {MAX_GRAINS} grain markers precede byte {pos:#x}"));
            }
            grains.push((val.checked_div(grain_sectors).unwrap_or(0), pos));
            size.saturating_add(12).div_ceil(SECTOR).saturating_mul(SECTOR)
        } else {
            match le32(&m, 12) {
                0 => break None,
                1..=3 => val.saturating_add(1).saturating_mul(SECTOR),
                other => break Some(format!("byte {pos:#x} holds a marker of unknown type {other}")),
            }
        };
        pos = match pos.checked_add(next) {
            Some(p) => p,
            None => break Some(format!("the marker at byte {pos:#x} points past 2^64 bytes")),
        };
        if pos >= end {
            break Some(format!("the stream is cut short at byte {end:#x}, without its end-of-stream marker"));
        }
    };
    // Keep the last copy of each grain: a stable sort keeps file order among equals.
    grains.sort_by_key(|g| g.0);
    let mut kept: Vec<(u64, u64)> = Vec::with_capacity(grains.len());
    for g in grains {
        match kept.last_mut() {
            Some(last) if last.0 == g.0 => *last = g,
            _ => kept.push(g),
        }
    }
    Scanned { grains: kept, stopped }
}
