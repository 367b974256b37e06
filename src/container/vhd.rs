//! VHD: Virtual PC / Hyper-V virtual hard disks (Microsoft "Virtual Hard
//! Disk Image Format Specification" 1.0). All fields are big-endian.
//!
//! - fixed: the disk's bytes, then a 512-byte footer (`conectix`);
//! - dynamic: a footer copy at byte 0, a dynamic header (`cxsparse`), a
//!   block allocation table (BAT) of 32-bit sector numbers, and blocks,
//!   each a sector bitmap followed by the block's data. A BAT entry of
//!   `0xFFFFFFFF` is an unallocated block; a clear bitmap bit a sector not
//!   written: both read as zeros;
//! - differencing: a dynamic disk whose unallocated blocks and clear
//!   sectors read from its parent, named in the header (UTF-16 name and
//!   platform locators) and found among the selected files.
//!
//! Virtual size: the footer's current size, except for images whose
//! creator sizes disks by their CHS geometry (Virtual PC, old qemu), where
//! cylinders × heads × sectors per track × 512 is the size those tools
//! show; the maximum geometry (65535/16/255) means "larger than CHS can
//! say", and then the current size is used. This is the rule qemu follows,
//! and the one the sample images' expected sizes confirm.
//!
//! When the footer at the end is damaged, the copy at byte 0 is used (and
//! the other way round); checksum mismatches are reported, not fatal.

use std::rc::Rc;

use super::parents::{self, MAX_CHAIN_DEPTH};
use super::{human_size, Disk, Source};
use crate::error::{alloc_bytes, Error, Result};
use crate::read_at::{check_range, read_vec, ReadAt, Reader, Slice};

const SECTOR: u64 = 512;
const FOOTER_COOKIE: &[u8; 8] = b"conectix";
const HEADER_COOKIE: &[u8; 8] = b"cxsparse";
const NO_BLOCK: u32 = 0xffff_ffff;
/// Cylinders × heads × sectors of the largest CHS geometry.
const MAX_GEOMETRY_SECTORS: u64 = 65535 * 16 * 255;
/// Largest block accepted (the spec's default is 2 MiB).
const MAX_BLOCK_BYTES: u64 = 256 << 20;
/// Largest BAT held in memory: 16M blocks, 32 TiB with 2 MiB blocks.
const MAX_BAT_BYTES: u64 = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskType {
    Fixed,
    Dynamic,
    Differencing,
}

impl DiskType {
    fn name(self) -> &'static str {
        match self {
            DiskType::Fixed => "fixed",
            DiskType::Dynamic => "dynamic",
            DiskType::Differencing => "differencing",
        }
    }
}

#[allow(clippy::arithmetic_side_effects)] // offsets are constants inside a fixed-size structure
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
#[allow(clippy::arithmetic_side_effects)] // offsets are constants inside a fixed-size structure
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
#[allow(clippy::arithmetic_side_effects)] // offsets are constants inside a fixed-size structure
fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

/// Ones' complement of the byte sum, with the checksum field counted as zero.
fn checksum(b: &[u8], field: usize) -> u32 {
    let sum = b.iter().enumerate().filter(|(i, _)| !(field..field.saturating_add(4)).contains(i)).fold(0u32, |s, (_, v)| s.wrapping_add(u32::from(*v)));
    !sum
}

/// The hard disk footer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhdFooter {
    pub data_offset: u64,
    pub creator_app: [u8; 4],
    pub current_size: u64,
    pub cylinders: u16,
    pub heads: u8,
    pub sectors_per_track: u8,
    pub disk_type: DiskType,
    pub checksum_ok: bool,
    pub unique_id: [u8; 16],
}

impl VhdFooter {
    pub fn from_bytes(b: &[u8]) -> Result<VhdFooter> {
        if b.len() < 0x55 || &b[0..8] != FOOTER_COOKIE {
            return Err(Error::corrupt("no VHD footer (conectix) here"));
        }
        let disk_type = match be32(b, 0x3c) {
            2 => DiskType::Fixed,
            3 => DiskType::Dynamic,
            4 => DiskType::Differencing,
            t => return Err(Error::unsupported(format!("VHD disk type {t} is not one of fixed (2), dynamic (3), differencing (4)"))),
        };
        let mut creator_app = [0u8; 4];
        creator_app.copy_from_slice(&b[0x1c..0x20]);
        let mut unique_id = [0u8; 16];
        unique_id.copy_from_slice(&b[0x44..0x54]);
        Ok(VhdFooter {
            data_offset: be64(b, 0x10),
            creator_app,
            current_size: be64(b, 0x30),
            cylinders: be16(b, 0x38),
            heads: b[0x3a],
            sectors_per_track: b[0x3b],
            disk_type,
            checksum_ok: be32(b, 0x40) == checksum(&b[..b.len().min(512)], 0x40),
            unique_id,
        })
    }

    /// Whether this image's creator sizes disks by CHS geometry.
    fn sized_by_geometry(&self) -> bool {
        !matches!(&self.creator_app, b"win " | b"qem2" | b"d2v " | b"CTXS" | b"tap\0")
    }

    /// The virtual size, by the rule in the module doc.
    pub fn virtual_bytes(&self) -> u64 {
        // At most 65535 × 255 × 255 sectors: no overflow.
        let chs = u64::from(self.cylinders).saturating_mul(u64::from(self.heads)).saturating_mul(u64::from(self.sectors_per_track));
        if self.sized_by_geometry() && chs != MAX_GEOMETRY_SECTORS {
            chs.saturating_mul(SECTOR)
        } else {
            // Whole sectors, as every reader addresses the disk in sectors.
            self.current_size.saturating_sub(self.current_size.checked_rem(SECTOR).unwrap_or(0))
        }
    }
}

/// Finds a usable footer: at the end (512 bytes, or 511 for old writers),
/// else the copy at byte 0 (dynamic and differencing disks). Returns it
/// with the byte where it was found.
fn read_footer(file: &dyn ReadAt, notes: &mut Vec<String>) -> Result<(VhdFooter, u64)> {
    let size = file.size();
    for at in [size.checked_sub(512), size.checked_sub(511), Some(0)].into_iter().flatten() {
        let len = usize::try_from(size.saturating_sub(at).min(512)).unwrap_or(0);
        let Ok(b) = read_vec(file, at, len) else { continue };
        match VhdFooter::from_bytes(&b) {
            Ok(f) => {
                if !f.checksum_ok {
                    notes.push(format!("the VHD footer at byte {at} fails its checksum; its fields are used anyway"));
                }
                if at == 0 && size >= 512 {
                    notes.push("the VHD footer at the end of the file is damaged; the copy at the start is used".into());
                }
                return Ok((f, at));
            }
            Err(e) if e.kind() == crate::ErrorKind::Unsupported => return Err(e),
            Err(_) => {}
        }
    }
    Err(Error::corrupt("no VHD footer (conectix) at the end or the start of the file"))
}

pub fn probe(source: &Source) -> bool {
    let r = &*source.reader;
    let size = r.size();
    [size.checked_sub(512), size.checked_sub(511), Some(0)]
        .into_iter()
        .flatten()
        .any(|at| read_vec(r, at, 8).is_ok_and(|b| b == FOOTER_COOKIE))
}

/// The dynamic disk header fields Salvage uses.
struct DynamicHeader {
    table_offset: u64,
    max_table_entries: u32,
    block_bytes: u32,
    parent_unique_id: [u8; 16],
    /// Parent names, best first: the Unicode name, then each locator's.
    parent_names: Vec<String>,
}

fn utf16(bytes: &[u8], big_endian: bool) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| if big_endian { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) })
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

impl DynamicHeader {
    fn read(file: &dyn ReadAt, at: u64) -> Result<DynamicHeader> {
        let b = read_vec(file, at, 1024).map_err(|e| e.context("reading the VHD dynamic header"))?;
        if &b[0..8] != HEADER_COOKIE {
            return Err(Error::corrupt(format!("no VHD dynamic header (cxsparse) at byte {at:#x}")));
        }
        let mut parent_unique_id = [0u8; 16];
        parent_unique_id.copy_from_slice(&b[0x28..0x38]);
        let mut parent_names = vec![utf16(&b[0x40..0x240], true)];
        for e in b[0x240..0x300].chunks_exact(24) {
            let code = &e[0..4];
            let len = u64::from(be32(e, 8)).min(4096);
            let offset = be64(e, 16);
            if len == 0 || code == [0; 4] {
                continue;
            }
            let Ok(data) = read_vec(file, offset, usize::try_from(len).unwrap_or(0)) else { continue };
            let name = match code {
                b"W2ru" | b"W2ku" => utf16(&data, false),
                b"Wi2r" | b"Wi2k" | b"Mac " | b"MacX" => String::from_utf8_lossy(&data).trim_end_matches('\0').to_string(),
                _ => continue,
            };
            parent_names.push(name);
        }
        parent_names.retain(|n| !parents::base_name(n).is_empty());
        Ok(DynamicHeader {
            table_offset: be64(&b, 0x10),
            max_table_entries: be32(&b, 0x1c),
            block_bytes: be32(&b, 0x20),
            parent_unique_id,
            parent_names,
        })
    }
}

/// Names of the parent `source` needs (for choosing the top file).
pub fn referenced_names(source: &Source) -> Vec<String> {
    if !probe(source) {
        return Vec::new();
    }
    let mut notes = Vec::new();
    match read_footer(&*source.reader, &mut notes) {
        Ok((f, _)) if f.disk_type == DiskType::Differencing => {
            DynamicHeader::read(&*source.reader, f.data_offset).map(|h| h.parent_names).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Opens the VHD `main`; a differencing disk's parents come from `others`.
pub fn open(main: Source, others: Vec<Source>) -> Result<Disk> {
    let mut used = vec![main.name.clone()];
    let mut notes = Vec::new();
    let disk = open_one(&main, &others, 0, &mut used, &mut notes)?;
    let ignored: Vec<&str> = others.iter().map(|s| s.name.as_str()).filter(|n| !used.iter().any(|u| u == n)).collect();
    if !ignored.is_empty() {
        notes.push(format!("ignored the other selected files ({}): this VHD does not refer to them", ignored.join(", ")));
    }
    let mut details = vec![("subformat".to_string(), disk.kind.name().to_string())];
    if disk.kind != DiskType::Fixed {
        let allocated = disk.bat.iter().filter(|e| **e != NO_BLOCK).count();
        details.push((
            "allocated".to_string(),
            format!("{allocated} of {} blocks of {}", disk.bat.len(), human_size(u64::from(disk.block_bytes))),
        ));
    }
    let format = format!("VHD {}", disk.kind.name());
    Ok(Disk { format, reader: Rc::new(disk), parts: used, notes, details })
}

fn open_one(main: &Source, others: &[Source], depth: usize, used: &mut Vec<String>, notes: &mut Vec<String>) -> Result<VhdDisk> {
    let file = &main.reader;
    let at = |n: String| format!("{}: {n}", main.name);
    let mut own_notes = Vec::new();
    let (footer, footer_at) = read_footer(&**file, &mut own_notes)?;
    notes.extend(own_notes.into_iter().map(at));
    let size = footer.virtual_bytes();
    if footer.disk_type == DiskType::Fixed {
        // The data ends where the footer starts (a footer found at byte 0 of a fixed disk leaves no data).
        let data_bytes = footer_at;
        if data_bytes < size {
            notes.push(format!("{}: the fixed VHD holds {data_bytes} bytes of data but its size says {size}; the rest can't be read", main.name));
        }
        return Ok(VhdDisk { file: Rc::new(Slice::new(file.clone(), 0, data_bytes)), kind: DiskType::Fixed, size, bat: Vec::new(), block_bytes: 0, bitmap_bytes: 0, parent: None });
    }
    let h = DynamicHeader::read(&**file, footer.data_offset).map_err(|e| e.context(main.name.clone()))?;
    let block_bytes = u64::from(h.block_bytes);
    if !block_bytes.is_power_of_two() || !(SECTOR..=MAX_BLOCK_BYTES).contains(&block_bytes) {
        return Err(Error::corrupt(format!("{}: VHD block size {block_bytes} is not a power of two between 512 bytes and 256 MiB", main.name)));
    }
    let bat_bytes = u64::from(h.max_table_entries) * 4;
    if h.table_offset.checked_add(bat_bytes).is_none_or(|end| end > file.size()) {
        return Err(Error::corrupt(format!(
            "{}: the VHD block table ({} entries at byte {:#x}) does not fit in the {}-byte file",
            main.name,
            h.max_table_entries,
            h.table_offset,
            file.size()
        )));
    }
    let mut raw = alloc_bytes(bat_bytes, MAX_BAT_BYTES, &format!("{}: the VHD block table", main.name))?;
    file.read_exact_at(h.table_offset, &mut raw)?;
    let bat: Vec<u32> = raw.chunks_exact(4).map(|c| be32(c, 0)).collect();
    let covered = u64::from(h.max_table_entries).saturating_mul(block_bytes);
    if covered < size {
        notes.push(format!(
            "{}: the block table covers {covered} bytes of the {size}-byte disk; the rest reads as zeros",
            main.name
        ));
    }
    let bitmap_bytes = (block_bytes / SECTOR).div_ceil(8).next_multiple_of(SECTOR);
    let parent = if footer.disk_type == DiskType::Differencing {
        Some(open_parent(main, &h, others, depth, used, notes)?)
    } else {
        None
    };
    Ok(VhdDisk { file: file.clone(), kind: footer.disk_type, size, bat, block_bytes: h.block_bytes, bitmap_bytes, parent })
}

fn open_parent(main: &Source, h: &DynamicHeader, others: &[Source], depth: usize, used: &mut Vec<String>, notes: &mut Vec<String>) -> Result<Reader> {
    if depth >= MAX_CHAIN_DEPTH {
        return Err(Error::corrupt(format!("the chain of VHD parents is more than {MAX_CHAIN_DEPTH} deep (a loop?)")));
    }
    let found = h.parent_names.iter().find_map(|n| parents::find(n, others).filter(|p| !used.contains(&p.name)));
    let Some(parent) = found else {
        let name = h.parent_names.first().map(|n| parents::base_name(n).to_string()).unwrap_or_else(|| "(no name stored)".into());
        return Err(Error::not_found(format!(
            "{} is a differencing VHD: what it did not change comes from its parent {name}, which was not selected; select it together with {}",
            main.name, main.name
        )));
    };
    used.push(parent.name.clone());
    let mut parent_notes = Vec::new();
    if let Ok((f, _)) = read_footer(&*parent.reader, &mut parent_notes) {
        if f.unique_id != h.parent_unique_id {
            notes.push(format!(
                "{}: the parent {} is not the disk it was made from (its unique id differs): it may have changed since, and bytes read from it may be wrong",
                main.name, parent.name
            ));
        }
    }
    let disk = open_one(parent, others, depth.saturating_add(1), used, notes).map_err(|e| e.context(format!("opening the parent {}", parent.name)))?;
    Ok(Rc::new(disk))
}

/// An opened VHD's virtual disk.
pub struct VhdDisk {
    file: Reader,
    kind: DiskType,
    size: u64,
    bat: Vec<u32>,
    block_bytes: u32,
    bitmap_bytes: u64,
    parent: Option<Reader>,
}

impl VhdDisk {
    /// Reads `buf` from block `index` at `within`, sector by sector runs of the bitmap.
    // No overflow: a block starts below 2^41 (32-bit sector number), its bitmap
    // is at most 64 KiB, and `within + buf.len()` stays inside the block (≤ 256 MiB).
    #[allow(clippy::arithmetic_side_effects)]
    fn read_block(&self, index: usize, within: u64, pos: u64, buf: &mut [u8]) -> Result<()> {
        let entry = self.bat.get(index).copied().unwrap_or(NO_BLOCK);
        if entry == NO_BLOCK {
            return parents::read_parent_or_zeros(self.parent.as_ref(), pos, buf);
        }
        let block_at = u64::from(entry) * SECTOR;
        let data_at = block_at + self.bitmap_bytes;
        let first_sector = within / SECTOR;
        let last_sector = (within + buf.len() as u64 - 1) / SECTOR;
        let bits_from = first_sector / 8;
        let bits = read_vec(&*self.file, block_at + bits_from, usize::try_from(last_sector / 8 - bits_from + 1).unwrap_or(0))
            .map_err(|e| e.context(format!("reading the sector bitmap of block {index}")))?;
        let present = |sector: u64| {
            let i = usize::try_from(sector / 8 - bits_from).unwrap_or(0);
            bits.get(i).is_some_and(|b| b & (0x80 >> (sector % 8)) != 0)
        };
        let mut done = 0usize;
        while done < buf.len() {
            let at = within + done as u64;
            let sector = at / SECTOR;
            let here = present(sector);
            // Extend the run while the bitmap agrees.
            let mut end_sector = sector + 1;
            while end_sector <= last_sector && present(end_sector) == here {
                end_sector += 1;
            }
            let n = usize::try_from((end_sector * SECTOR - at).min((buf.len() - done) as u64)).unwrap_or(0);
            let piece = &mut buf[done..done + n];
            if here {
                self.file.read_exact_at(data_at + at, piece)?;
            } else {
                parents::read_parent_or_zeros(self.parent.as_ref(), pos + done as u64, piece)?;
            }
            done += n;
        }
        Ok(())
    }
}

impl ReadAt for VhdDisk {
    fn size(&self) -> u64 {
        self.size
    }

    // No overflow: check_range bounds `offset + buf.len()` by the size.
    #[allow(clippy::arithmetic_side_effects)]
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        if self.kind == DiskType::Fixed {
            return self.file.read_exact_at(offset, buf);
        }
        let block = u64::from(self.block_bytes);
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let within = pos % block;
            let n = usize::try_from((block - within).min((buf.len() - done) as u64)).unwrap_or(0);
            let index = usize::try_from(pos / block).unwrap_or(usize::MAX);
            self.read_block(index, within, pos, &mut buf[done..done + n]).map_err(|e| e.at_offset(pos))?;
            done += n;
        }
        Ok(())
    }
}

/// Opens `data` as a VHD and reads a few ranges: for `cargo fuzz`.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    super::fuzz_open("fuzz.vhd", data, probe, open);
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    /// A footer with the given creator, size, geometry and type, checksummed.
    fn footer(creator: &[u8; 4], current_size: u64, chs: (u16, u8, u8), disk_type: u32, data_offset: u64) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[0..8].copy_from_slice(FOOTER_COOKIE);
        b[0x10..0x18].copy_from_slice(&data_offset.to_be_bytes());
        b[0x1c..0x20].copy_from_slice(creator);
        b[0x30..0x38].copy_from_slice(&current_size.to_be_bytes());
        b[0x38..0x3a].copy_from_slice(&chs.0.to_be_bytes());
        b[0x3a] = chs.1;
        b[0x3b] = chs.2;
        b[0x3c..0x40].copy_from_slice(&disk_type.to_be_bytes());
        let sum = checksum(&b, 0x40);
        b[0x40..0x44].copy_from_slice(&sum.to_be_bytes());
        b
    }

    fn src(data: Vec<u8>) -> Source {
        Source { name: "t.vhd".into(), reader: Rc::new(MemReader::new(data)) }
    }

    #[test]
    fn size_follows_the_creator() {
        let f = VhdFooter::from_bytes(&footer(b"vpc ", 10 << 20, (20, 16, 63), 2, u64::MAX)).unwrap();
        assert!(f.checksum_ok);
        assert_eq!(f.virtual_bytes(), 20 * 16 * 63 * 512);
        let f = VhdFooter::from_bytes(&footer(b"win ", 10 << 20, (20, 16, 63), 2, u64::MAX)).unwrap();
        assert_eq!(f.virtual_bytes(), 10 << 20);
        // The largest geometry means "bigger than CHS can say".
        let f = VhdFooter::from_bytes(&footer(b"vpc ", 200 << 30, (65535, 16, 255), 2, u64::MAX)).unwrap();
        assert_eq!(f.virtual_bytes(), 200 << 30);
    }

    #[test]
    fn a_fixed_disk_is_its_data() {
        let mut data: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
        data.extend(footer(b"qem2", 4096, (1, 1, 1), 2, u64::MAX));
        let disk = open(src(data.clone()), Vec::new()).unwrap();
        assert_eq!(disk.format, "VHD fixed");
        let mut b = vec![0u8; 4096];
        disk.reader.read_exact_at(0, &mut b).unwrap();
        assert_eq!(b, data[..4096]);
        assert!(disk.reader.read_exact_at(4000, &mut [0u8; 200]).is_err());
    }

    #[test]
    fn refuses_a_block_table_larger_than_the_file() {
        let mut data = footer(b"qem2", 1 << 30, (1, 1, 1), 3, 512);
        let mut h = vec![0u8; 1024];
        h[0..8].copy_from_slice(HEADER_COOKIE);
        h[0x10..0x18].copy_from_slice(&1536u64.to_be_bytes());
        h[0x1c..0x20].copy_from_slice(&0x4000_0000u32.to_be_bytes());
        h[0x20..0x24].copy_from_slice(&(2u32 << 20).to_be_bytes());
        data.extend(h);
        data.extend(footer(b"qem2", 1 << 30, (1, 1, 1), 3, 512));
        let e = open(src(data), Vec::new()).err().unwrap();
        assert_eq!(e.to_string(), "t.vhd: the VHD block table (1073741824 entries at byte 0x600) does not fit in the 2048-byte file");
    }

    #[test]
    fn a_damaged_end_footer_falls_back_to_the_copy_at_the_start() {
        let mut data = footer(b"qem2", 2 << 20, (1, 1, 1), 3, 512);
        let mut h = vec![0u8; 1024];
        h[0..8].copy_from_slice(HEADER_COOKIE);
        h[0x10..0x18].copy_from_slice(&1536u64.to_be_bytes());
        h[0x1c..0x20].copy_from_slice(&1u32.to_be_bytes());
        h[0x20..0x24].copy_from_slice(&(2u32 << 20).to_be_bytes());
        data.extend(h);
        data.extend([0xff; 512]); // BAT: one unallocated block, padded
        data.extend([0u8; 512]); // the end footer, wiped
        let disk = open(src(data), Vec::new()).unwrap();
        assert_eq!((disk.format.as_str(), disk.reader.size()), ("VHD dynamic", 2 << 20));
        assert!(disk.notes.iter().any(|n| n.contains("the copy at the start is used")), "{:?}", disk.notes);
        let mut b = vec![1u8; 4096];
        disk.reader.read_exact_at(1 << 20, &mut b).unwrap();
        assert!(b.iter().all(|x| *x == 0));
    }
}
