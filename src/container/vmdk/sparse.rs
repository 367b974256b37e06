//! Hosted sparse extents (VMware Virtual Disk Format 1.1, "Hosted Sparse
//! Extents" and "Stream-Optimized Compressed Sparse Extents").
//!
//! A 512-byte little-endian header (`KDMV`), then a grain directory (GD)
//! of 32-bit sector numbers of grain tables (GT), each GT holding
//! `numGTEsPerGT` 32-bit sector numbers of grains. GT entry 0 is an
//! unallocated grain (zeros, or the parent's bytes), 1 a zero grain.
//! A redundant GD/GT copy (`rgdOffset`) backs up the primary: when an entry
//! of the primary is out of the file or unreadable, the copy's is used.
//!
//! streamOptimized extents compress each grain (zlib) behind a 12-byte
//! marker (sector number, compressed size), and usually write the GD at the
//! end: the header says `gdOffset = GD_AT_END` and the real header is the
//! footer, 1024 bytes before the end of the file.
//!
//! When a stream-optimized extent's footer or grain directory is lost (a
//! copy cut short), the grains are found by walking their markers instead
//! ([`super::stream_scan`]).
//!
//! Every table position and size is checked against the file's real length
//! before use; decompressed grains sit in a small LRU ([`GrainCache`]).

use std::cell::RefCell;

use crate::error::{alloc_bytes, Error, Result};
use crate::read_at::{read_vec, ReadAt, Reader};
use crate::bytes::{le32, le64};

pub const MAGIC: &[u8; 4] = b"KDMV";
const SECTOR: u64 = 512;
const GD_AT_END: u64 = u64::MAX;
const FLAG_REDUNDANT_GT: u32 = 1 << 1;
const FLAG_COMPRESSED: u32 = 1 << 16;
const FLAG_MARKERS: u32 = 1 << 17;
/// Largest grain accepted: real ones are 64 KiB; qemu allows up to 1 GiB,
/// but a decompressed grain must fit in memory, so stop at 16 MiB.
const MAX_GRAIN_BYTES: u64 = 16 << 20;
/// Largest grain directory held in memory (covers petabytes with 64 KiB grains).
const MAX_GD_BYTES: u64 = 64 << 20;
/// Memory for decompressed grains.
const GRAIN_CACHE_BYTES: u64 = 8 << 20;

/// The fields of `SparseExtentHeader` Salvage uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseHeader {
    pub version: u32,
    pub flags: u32,
    pub capacity_sectors: u64,
    pub grain_sectors: u64,
    pub descriptor_offset_sectors: u64,
    pub descriptor_size_sectors: u64,
    pub num_gtes_per_gt: u32,
    pub rgd_offset_sectors: u64,
    pub gd_offset_sectors: u64,
    pub overhead_sectors: u64,
    pub compress_algorithm: u16,
}

#[allow(clippy::arithmetic_side_effects)] // offsets are constants inside a fixed-size structure
#[allow(clippy::arithmetic_side_effects)] // offsets are constants inside a fixed-size structure

impl SparseHeader {
    /// Parses the header; checks only the magic (values are checked in [`SparseExtent::open`]).
    pub fn from_bytes(b: &[u8; 512]) -> Result<SparseHeader> {
        if &b[0..4] != MAGIC {
            return Err(Error::corrupt("not a VMDK sparse extent (no KDMV magic)"));
        }
        Ok(SparseHeader {
            version: le32(b, 0x04),
            flags: le32(b, 0x08),
            capacity_sectors: le64(b, 0x0c),
            grain_sectors: le64(b, 0x14),
            descriptor_offset_sectors: le64(b, 0x1c),
            descriptor_size_sectors: le64(b, 0x24),
            num_gtes_per_gt: le32(b, 0x2c),
            rgd_offset_sectors: le64(b, 0x30),
            gd_offset_sectors: le64(b, 0x38),
            overhead_sectors: le64(b, 0x40),
            compress_algorithm: u16::from_le_bytes([b[0x4d], b[0x4e]]),
        })
    }

    pub fn read(file: &dyn ReadAt, at: u64) -> Result<SparseHeader> {
        let mut b = [0u8; 512];
        file.read_exact_at(at, &mut b)?;
        SparseHeader::from_bytes(&b)
    }

    /// The embedded descriptor's text, when the header points at one.
    pub fn descriptor(&self, file: &dyn ReadAt) -> Result<Option<Vec<u8>>> {
        if self.descriptor_offset_sectors == 0 || self.descriptor_size_sectors == 0 {
            return Ok(None);
        }
        let start = self.descriptor_offset_sectors.checked_mul(SECTOR);
        let len = self.descriptor_size_sectors.checked_mul(SECTOR).map(|l| l.min(super::descriptor::MAX_DESCRIPTOR_BYTES));
        let (Some(start), Some(len)) = (start, len) else {
            return Err(Error::corrupt("the embedded descriptor's position overflows"));
        };
        let len = len.min(file.size().saturating_sub(start));
        if len == 0 {
            return Err(Error::corrupt(format!("the embedded descriptor at byte {start:#x} lies past the end of the file")));
        }
        let bytes = alloc_bytes(len, super::descriptor::MAX_DESCRIPTOR_BYTES, "the embedded descriptor")?;
        let mut bytes = bytes;
        file.read_exact_at(start, &mut bytes)?;
        Ok(Some(bytes))
    }
}

/// Where one grain's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    /// Not written in this extent: zeros, or the parent's bytes.
    Unallocated,
    /// Explicitly zero (GT entry 1).
    Zero,
    /// Stored as is at this byte of the file.
    Data(u64),
    /// Compressed, starting (with its marker, if any) at this byte.
    Compressed(u64),
}

/// One sparse extent file, opened.
pub struct SparseExtent {
    file: Reader,
    pub header: SparseHeader,
    pub grain_bytes: u64,
    gtes_per_gt: u64,
    /// Primary and redundant grain directories (GT sector numbers).
    gd: Vec<u32>,
    rgd: Vec<u32>,
    /// When the directory was lost: grains found by walking the markers.
    scanned: Option<ScannedMap>,
    compressed: bool,
    markers: bool,
    /// Sentences about damage found while opening.
    pub notes: Vec<String>,
    cache: RefCell<GrainCache>,
}

impl SparseExtent {
    /// Opens the sparse extent in `file` (named `name` in messages).
    pub fn open(file: Reader, name: &str) -> Result<SparseExtent> {
        let file_bytes = file.size();
        let mut header = SparseHeader::read(&*file, 0)?;
        let mut notes = Vec::new();
        // Why the grain directory can't be used, when the stream's markers may replace it.
        let mut lost_gd = None;
        if header.gd_offset_sectors == GD_AT_END {
            // streamOptimized: the footer (a second header) sits before the end-of-stream marker.
            let footer = match file_bytes.checked_sub(1024) {
                None => Err(Error::corrupt("the file is too short for a footer")),
                Some(at) => SparseHeader::read(&*file, at).and_then(|f| {
                    if f.gd_offset_sectors == GD_AT_END {
                        Err(Error::corrupt("the footer does not say where the grain directory is"))
                    } else {
                        Ok(f)
                    }
                }),
            };
            match footer {
                Ok(f) => header = f,
                Err(e) if header.flags & FLAG_MARKERS != 0 => lost_gd = Some(format!("no footer at the end ({})", e.message())),
                Err(e) => return Err(e.context(format!("{name}: reading the footer (the header says the grain directory is at the end)"))),
            }
        }
        let h = &header;
        if !matches!(h.version, 1..=3) {
            return Err(Error::unsupported(format!("{name}: VMDK sparse extent version {} is not supported (1 to 3 are)", h.version)));
        }
        let grain_bytes = h.grain_sectors.checked_mul(SECTOR).filter(|g| (SECTOR..=MAX_GRAIN_BYTES).contains(g)).ok_or_else(|| {
            Error::corrupt(format!("{name}: grain size of {} sectors is not between 1 sector and {} MiB", h.grain_sectors, MAX_GRAIN_BYTES >> 20))
        })?;
        let gtes_per_gt = u64::from(h.num_gtes_per_gt);
        if !(1..=(1 << 16)).contains(&gtes_per_gt) {
            return Err(Error::corrupt(format!("{name}: {gtes_per_gt} entries per grain table is absurd (512 is usual)")));
        }
        let compressed = h.flags & FLAG_COMPRESSED != 0;
        if compressed && h.compress_algorithm != 1 {
            return Err(Error::unsupported(format!("{name}: grain compression algorithm {} is not supported (only deflate is)", h.compress_algorithm)));
        }
        let markers = h.flags & FLAG_MARKERS != 0;
        // One GD entry per grain table's span of the capacity.
        let span = grain_bytes.saturating_mul(gtes_per_gt);
        let capacity_bytes = h.capacity_sectors.checked_mul(SECTOR).ok_or_else(|| Error::corrupt(format!("{name}: a capacity of {} sectors is more than 2^64 bytes", h.capacity_sectors)))?;
        let num_gdes = capacity_bytes.div_ceil(span);
        let gd_bytes = num_gdes.saturating_mul(4);
        let load_gd = |offset_sectors: u64, which: &str| -> Result<Vec<u32>> {
            let start = offset_sectors.checked_mul(SECTOR).filter(|s| *s >= SECTOR);
            let fits = start.and_then(|s| s.checked_add(gd_bytes)).is_some_and(|end| end <= file_bytes);
            let (Some(start), true) = (start, fits) else {
                return Err(Error::corrupt(format!(
                    "{name}: the {which} grain directory ({num_gdes} entries at sector {offset_sectors}) does not fit in the {file_bytes}-byte file"
                )));
            };
            let raw = alloc_bytes(gd_bytes, MAX_GD_BYTES, &format!("{name}: the {which} grain directory"))?;
            let mut raw = raw;
            file.read_exact_at(start, &mut raw)?;
            Ok(raw.chunks_exact(4).map(|c| le32(c, 0)).collect())
        };
        if let Some(why) = lost_gd {
            return Ok(Self::from_markers(file, header, grain_bytes, gtes_per_gt, name, &why, notes));
        }
        let gd_result = load_gd(h.gd_offset_sectors, "primary");
        let rgd = if h.flags & FLAG_REDUNDANT_GT != 0 && h.rgd_offset_sectors != 0 {
            match load_gd(h.rgd_offset_sectors, "redundant") {
                Ok(r) => r,
                Err(e) => {
                    notes.push(format!("the redundant grain directory can't be used: {}", e.message()));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let gd = match gd_result {
            Ok(gd) => gd,
            Err(e) if !rgd.is_empty() => {
                notes.push(format!("{}; using the redundant copy", e.message()));
                Vec::new()
            }
            Err(e) if compressed && markers => {
                let why = e.message().trim_start_matches(&format!("{name}: ")).to_string();
                return Ok(Self::from_markers(file, header, grain_bytes, gtes_per_gt, name, &why, notes));
            }
            Err(e) => return Err(e),
        };
        let gt_bytes = gtes_per_gt * 4;
        let bad = |v: &u32| *v != 0 && u64::from(*v).saturating_mul(SECTOR).saturating_add(gt_bytes) > file_bytes;
        let bad_primary = gd.iter().filter(|v| bad(v)).count();
        if bad_primary > 0 {
            notes.push(format!(
                "{name}: {bad_primary} grain table(s) of the primary grain directory point past the end of the file{}",
                if rgd.is_empty() { "; their grains can't be read" } else { "; the redundant copies are used" }
            ));
        }
        if !gd.is_empty() && !rgd.is_empty() && gd.iter().zip(&rgd).any(|(a, b)| (*a == 0) != (*b == 0)) {
            notes.push(format!("{name}: the primary and redundant grain directories disagree; the primary is used where it is readable"));
        }
        let slots = usize::try_from(GRAIN_CACHE_BYTES.checked_div(grain_bytes).unwrap_or(0).max(2)).unwrap_or(2);
        Ok(SparseExtent {
            file,
            grain_bytes,
            gtes_per_gt,
            gd,
            rgd,
            scanned: None,
            compressed,
            markers,
            notes,
            cache: RefCell::new(GrainCache::new(slots)),
            header,
        })
    }

    /// Opens a stream-optimized extent by walking its grain markers, when
    /// its grain directory is lost for the reason `why`.
    fn from_markers(file: Reader, header: SparseHeader, grain_bytes: u64, gtes_per_gt: u64, name: &str, why: &str, mut notes: Vec<String>) -> SparseExtent {
        let after_descriptor = header.descriptor_offset_sectors.saturating_add(header.descriptor_size_sectors).saturating_mul(SECTOR);
        let start = [header.overhead_sectors.saturating_mul(SECTOR), after_descriptor, SECTOR]
            .into_iter()
            .find(|s| *s >= SECTOR && *s < file.size())
            .unwrap_or(SECTOR);
        let max_compressed = grain_bytes.saturating_mul(2).saturating_add(1024);
        let found = super::stream_scan::scan(&file, start, header.capacity_sectors, header.grain_sectors, max_compressed);
        // Writers stream grains in disk order, so after a cut only grains past the
        // last one found are unknown; if the order is not monotonic, all absent ones are.
        let in_order = found.grains.windows(2).all(|w| w[0].1 < w[1].1);
        let lost_from = match (&found.stopped, in_order) {
            (None, _) => None,
            (Some(_), true) => Some(found.grains.last().map_or(0, |g| g.0.saturating_add(1))),
            (Some(_), false) => Some(0),
        };
        notes.push(format!(
            "{name}: the grain directory is lost ({why}); {} grains were found by walking the stream from byte {start:#x}{}",
            found.grains.len(),
            match &found.stopped {
                None => ", up to its end-of-stream marker".to_string(),
                Some(s) => format!("; {s}, so grains past that point can't be read"),
            }
        ));
        let slots = usize::try_from(GRAIN_CACHE_BYTES.checked_div(grain_bytes).unwrap_or(0).max(2)).unwrap_or(2);
        SparseExtent {
            file,
            grain_bytes,
            gtes_per_gt,
            gd: Vec::new(),
            rgd: Vec::new(),
            scanned: Some(ScannedMap { grains: found.grains, lost_from }),
            compressed: true,
            markers: true,
            notes,
            cache: RefCell::new(GrainCache::new(slots)),
            header,
        }
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.header.capacity_sectors.saturating_mul(SECTOR)
    }

    pub fn subformat_hint(&self) -> &'static str {
        if self.compressed { "streamOptimized" } else { "monolithicSparse" }
    }

    /// Looks grain `index` up in one directory; `None` when that directory
    /// can't answer (missing, out of range, damaged).
    fn lookup_in(&self, gd: &[u32], index: u64) -> Option<Result<Grain>> {
        let gd_index = usize::try_from(index.checked_div(self.gtes_per_gt)?).ok()?;
        let gt_sector = u64::from(*gd.get(gd_index)?);
        if gt_sector == 0 {
            return Some(Ok(Grain::Unallocated));
        }
        let gte_at = gt_sector.checked_mul(SECTOR)?.checked_add(index.checked_rem(self.gtes_per_gt)?.checked_mul(4)?)?;
        let mut b = [0u8; 4];
        if let Err(e) = self.file.read_exact_at(gte_at, &mut b) {
            return Some(Err(e));
        }
        let gte = u64::from(u32::from_le_bytes(b));
        let grain = match gte {
            0 => Grain::Unallocated,
            1 => Grain::Zero,
            sector => {
                let at = sector.checked_mul(SECTOR)?;
                let least = if self.compressed { 13 } else { self.grain_bytes };
                if at.checked_add(least)? > self.file.size() {
                    return None;
                }
                if self.compressed { Grain::Compressed(at) } else { Grain::Data(at) }
            }
        };
        Some(Ok(grain))
    }

    /// Where grain `index` is: the primary directory's answer, else the
    /// redundant one's (also when the primary says unallocated but the copy
    /// has the grain: a zeroed primary table is a kind of damage).
    pub fn lookup(&self, index: u64) -> Result<Grain> {
        if let Some(map) = &self.scanned {
            return map.lookup(index);
        }
        let primary = self.lookup_in(&self.gd, index);
        match primary {
            Some(Ok(g)) if g != Grain::Unallocated || self.rgd.is_empty() => return Ok(g),
            _ => {}
        }
        match (primary, self.lookup_in(&self.rgd, index)) {
            // The primary failed or said unallocated: the copy's answer stands.
            (_, Some(Ok(g))) => Ok(g),
            (Some(p), _) => p,
            (None, Some(r)) => r,
            (None, None) => Err(Error::corrupt(format!(
                "the grain table entry for grain {index} points past the end of the file, and there is no usable redundant copy"
            ))),
        }
    }

    /// Reads `buf.len()` bytes at `within` of the data of the grain stored at `at`.
    pub fn read_grain(&self, index: u64, grain: Grain, within: u64, buf: &mut [u8]) -> Result<()> {
        match grain {
            Grain::Unallocated | Grain::Zero => {
                buf.fill(0);
                Ok(())
            }
            Grain::Data(at) => self.file.read_exact_at(at.checked_add(within).ok_or_else(|| Error::corrupt("grain offset overflows"))?, buf),
            Grain::Compressed(at) => {
                let mut cache = self.cache.borrow_mut();
                let data = cache.get_or_load(at, || self.inflate(index, at))?;
                let start = usize::try_from(within).map_err(|_| Error::io("grain offset too large"))?;
                let piece = data.get(start..start.saturating_add(buf.len())).ok_or_else(|| {
                    Error::corrupt(format!("compressed grain {index} holds only {} bytes", data.len())).at_offset(at)
                })?;
                buf.copy_from_slice(piece);
                Ok(())
            }
        }
    }

    /// Decompresses the grain whose marker (or data) starts at `at`.
    fn inflate(&self, index: u64, at: u64) -> Result<Vec<u8>> {
        let file_bytes = self.file.size();
        let (data_at, data_len) = if self.markers {
            let m = read_vec(&*self.file, at, 12)?;
            let lba = le64(&m, 0);
            let size = u64::from(le32(&m, 8));
            let expected = index.saturating_mul(self.header.grain_sectors);
            if lba != expected {
                return Err(Error::corrupt(format!("the marker of grain {index} says sector {lba}, not {expected}")).at_offset(at));
            }
            (at.saturating_add(12), size)
        } else {
            // No marker: the stream ends by itself; it can't be much larger than the grain.
            (at, self.grain_bytes.saturating_mul(2).saturating_add(1024))
        };
        let data_len = data_len.min(file_bytes.saturating_sub(data_at));
        if data_len == 0 || data_len > self.grain_bytes.saturating_mul(2).saturating_add(1024) {
            return Err(Error::corrupt(format!("compressed grain {index} claims {data_len} bytes")).at_offset(at));
        }
        let compressed = read_vec(&*self.file, data_at, usize::try_from(data_len).unwrap_or(0))?;
        let mut out = alloc_bytes(self.grain_bytes, MAX_GRAIN_BYTES, "a decompressed grain")?;
        let mut z = flate2::Decompress::new(true);
        let status = z.decompress(&compressed, &mut out, flate2::FlushDecompress::Finish);
        let produced = usize::try_from(z.total_out()).unwrap_or(0);
        match status {
            Ok(flate2::Status::StreamEnd) => {}
            Ok(_) if produced == out.len() => {}
            Ok(_) => return Err(Error::corrupt(format!("compressed grain {index} is cut short")).at_offset(at)),
            Err(e) => return Err(Error::corrupt(format!("compressed grain {index} can't be decompressed: {e}")).at_offset(at)),
        }
        // A short last grain is padded by the disk's end; a short inner one is damage.
        let needed = self.capacity_bytes().saturating_sub(index.saturating_mul(self.grain_bytes)).min(self.grain_bytes);
        if (produced as u64) < needed {
            return Err(Error::corrupt(format!("compressed grain {index} holds {produced} bytes, not {needed}")).at_offset(at));
        }
        Ok(out)
    }
}

/// Grains found by walking a stream's markers.
struct ScannedMap {
    /// (grain index, byte of its marker), sorted by grain index.
    grains: Vec<(u64, u64)>,
    /// First grain index whose absence means "lost", not "never written".
    lost_from: Option<u64>,
}

impl ScannedMap {
    fn lookup(&self, index: u64) -> Result<Grain> {
        match self.grains.binary_search_by_key(&index, |g| g.0) {
            Ok(i) => Ok(Grain::Compressed(self.grains[i].1)),
            Err(_) if self.lost_from.is_some_and(|from| index >= from) => Err(Error::corrupt(format!(
                "grain {index} is not in the part of the stream that survived (the grain directory is lost)"
            ))),
            Err(_) => Ok(Grain::Unallocated),
        }
    }
}

/// A few decompressed grains, least recently used evicted first.
struct GrainCache {
    slots: usize,
    tick: u64,
    entries: Vec<(u64, u64, Vec<u8>)>,
}

impl GrainCache {
    fn new(slots: usize) -> GrainCache {
        GrainCache { slots, tick: 0, entries: Vec::new() }
    }

    fn get_or_load(&mut self, key: u64, load: impl FnOnce() -> Result<Vec<u8>>) -> Result<&[u8]> {
        self.tick = self.tick.wrapping_add(1);
        let i = match self.entries.iter().position(|e| e.0 == key) {
            Some(i) => i,
            None => {
                let data = load()?;
                if self.entries.len() >= self.slots {
                    if let Some(old) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.1).map(|(i, _)| i) {
                        self.entries.swap_remove(old);
                    }
                }
                self.entries.push((key, 0, data));
                self.entries.len().saturating_sub(1)
            }
        };
        self.entries[i].1 = self.tick;
        Ok(&self.entries[i].2)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;
    use std::rc::Rc;

    /// A header: capacity and grain in sectors, GD at sector 1, GT at sector 2.
    fn image(capacity: u64, grain: u64, gtes: u32, gd: u64, flags: u32) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[0..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[0x0c..0x14].copy_from_slice(&capacity.to_le_bytes());
        b[0x14..0x1c].copy_from_slice(&grain.to_le_bytes());
        b[0x2c..0x30].copy_from_slice(&gtes.to_le_bytes());
        b[0x38..0x40].copy_from_slice(&gd.to_le_bytes());
        b
    }

    fn open_bytes(b: Vec<u8>) -> Result<SparseExtent> {
        SparseExtent::open(Rc::new(MemReader::new(b)), "t.vmdk")
    }

    #[test]
    fn refuses_absurd_geometry() {
        let e = open_bytes(image(1 << 20, 0, 512, 1, 0)).err().unwrap();
        assert_eq!(e.to_string(), "t.vmdk: grain size of 0 sectors is not between 1 sector and 16 MiB");
        let e = open_bytes(image(1 << 20, 128, 0, 1, 0)).err().unwrap();
        assert_eq!(e.to_string(), "t.vmdk: 0 entries per grain table is absurd (512 is usual)");
        // 2^40 sectors in 64 KiB grains: a 64 MiB grain directory in a 4 KiB file.
        let e = open_bytes(image(1 << 40, 128, 512, 1, 0)).err().unwrap();
        assert_eq!(e.to_string(), "t.vmdk: the primary grain directory (16777216 entries at sector 1) does not fit in the 4096-byte file");
    }

    #[test]
    fn reads_data_zero_and_unallocated_grains() {
        // 4 grains of 1 sector; GD at sector 1 → GT at sector 2: [3, 1, 0, 5].
        let mut b = image(4, 1, 4, 1, 0);
        b[512..516].copy_from_slice(&2u32.to_le_bytes());
        for (i, v) in [3u32, 1, 0, 5].iter().enumerate() {
            b[1024 + i * 4..1024 + i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[1536..2048].fill(0xaa);
        b[2560..3072].fill(0xbb);
        let e = open_bytes(b).unwrap();
        assert_eq!([e.lookup(0).unwrap(), e.lookup(1).unwrap(), e.lookup(2).unwrap()], [Grain::Data(1536), Grain::Zero, Grain::Unallocated]);
        let mut buf = [0u8; 16];
        e.read_grain(3, e.lookup(3).unwrap(), 100, &mut buf).unwrap();
        assert_eq!(buf, [0xbb; 16]);
    }

    #[test]
    fn a_grain_past_the_end_is_an_error_not_zeros() {
        let mut b = image(4, 1, 4, 1, 0);
        b[512..516].copy_from_slice(&2u32.to_le_bytes());
        b[1024..1028].copy_from_slice(&1000u32.to_le_bytes());
        let e = open_bytes(b).unwrap();
        assert!(e.lookup(0).is_err());
    }
}
