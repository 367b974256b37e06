//! VHDX (Hyper-V virtual hard disk v2), following Microsoft's MS-VHDX.
//!
//! - File identifier `vhdxfile` at 0; two headers at 64 and 128 KiB: the
//!   one with a valid CRC-32C and the higher sequence number is current,
//!   the other is the fallback (2.2.2).
//! - A non-zero log GUID means the log must be replayed first
//!   ([`super::vhdx_log`]); everything after the headers is read through
//!   the replayed view.
//! - Two region tables at 192 and 256 KiB (CRC-checked, the first valid
//!   one is used) locate the BAT and the metadata region (2.2.3).
//! - Metadata (2.6): file parameters (block size, has parent), virtual disk
//!   size, logical and physical sector size, parent locator. Unknown items
//!   or regions marked required are refused by GUID.
//! - The BAT (2.5) interleaves a sector-bitmap entry after every
//!   `chunk_ratio` payload entries. Payload states: NOT_PRESENT reads from
//!   the parent (zeros without one); UNDEFINED, ZERO and UNMAPPED read as
//!   zeros; FULLY_PRESENT from the file; PARTIALLY_PRESENT (differencing
//!   only) per logical sector through the chunk's sector bitmap.
//! - A differencing disk's parent is found among the selected files by the
//!   basename of the locator's `relative_path`, then `absolute_win32_path`
//!   and `volume_path`.
//!
//! BAT entries and bitmap bytes are read through the chunk cache when
//! used, so nothing is allocated in proportion to the virtual size.

// Offsets and lengths here come from disk, so every table offset is checked
// against the file's real length where it is used, sizes are capped
// (clusters <= 2 MiB, blocks <= 256 MiB, the log <= 64 MiB) before anything
// is allocated or cast to usize, and the remaining arithmetic works on
// values those checks bound; the fuzz targets run with overflow checks on.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::rc::Rc;

use super::chain::{basename, human_bytes, take_by_name};
use super::detect::open_layer;
use super::vhdx_log::VhdxReplayed;
use super::{parents, Disk, Source};
use crate::error::{Error, Result};
use crate::read_at::{check_range, read_vec, ReadAt, Reader};
use crate::bytes::{le16, le32, le64};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// Whether `r` starts with the VHDX file identifier.
pub fn probe(r: &dyn ReadAt) -> bool {
    let mut m = [0u8; 8];
    r.size() >= 8 && r.read_exact_at(0, &mut m).is_ok() && &m == b"vhdxfile"
}

#[allow(clippy::cast_possible_truncation)]
const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32; // i < 256
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82f6_3b78 } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC-32C (Castagnoli) as VHDX uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for b in data {
        c = CRC32C[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}




/// A GUID in its on-disk form from its text form (first three fields LE).
const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]]
}

fn guid_string(g: &[u8]) -> String {
    if g.len() < 16 {
        return String::new();
    }
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        le32(g, 0),
        le16(g, 4),
        le16(g, 6),
        g[8],
        g[9],
        g[10..16].iter().map(|b| format!("{b:02X}")).collect::<String>()
    )
}

const REGION_BAT: [u8; 16] = guid(0x2DC2_7766, 0xF623, 0x4200, [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08]);
const REGION_METADATA: [u8; 16] = guid(0x8B7C_A206, 0x4790, 0x4B9A, [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E]);
const META_FILE_PARAMETERS: [u8; 16] = guid(0xCAA1_6737, 0xFA36, 0x4D43, [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B]);
const META_VIRTUAL_DISK_SIZE: [u8; 16] = guid(0x2FA5_4224, 0xCD1B, 0x4876, [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8]);
const META_VIRTUAL_DISK_ID: [u8; 16] = guid(0xBECA_12AB, 0xB2E6, 0x4523, [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46]);
const META_LOGICAL_SECTOR: [u8; 16] = guid(0x8141_BF1D, 0xA96F, 0x4709, [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F]);
const META_PHYSICAL_SECTOR: [u8; 16] = guid(0xCDA3_48C7, 0x445D, 0x4471, [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56]);
const META_PARENT_LOCATOR: [u8; 16] = guid(0xA8D3_5F2D, 0xB30B, 0x454D, [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C]);

const PAYLOAD_NOT_PRESENT: u64 = 0;
const PAYLOAD_UNDEFINED: u64 = 1;
const PAYLOAD_ZERO: u64 = 2;
const PAYLOAD_UNMAPPED: u64 = 3;
const PAYLOAD_FULLY_PRESENT: u64 = 6;
const PAYLOAD_PARTIALLY_PRESENT: u64 = 7;
const SB_PRESENT: u64 = 6;

/// One of the two headers (2.2.2).
#[derive(Clone, Debug)]
pub struct VhdxHeader {
    pub sequence_number: u64,
    pub log_guid: [u8; 16],
    pub log_length: u32,
    pub log_offset: u64,
    pub version: u16,
}

impl VhdxHeader {
    /// Parses and CRC-checks the 4 KiB at 64 or 128 KiB.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() < 4096 || &b[0..4] != b"head" {
            return Err(Error::corrupt("the signature is not \"head\""));
        }
        let mut copy = b[..4096].to_vec();
        copy[4..8].fill(0);
        let (stored, actual) = (le32(b, 4), crc32c(&copy));
        if stored != actual {
            return Err(Error::corrupt(format!("CRC-32C is {actual:#010x}, the header says {stored:#010x}")));
        }
        let mut log_guid = [0u8; 16];
        log_guid.copy_from_slice(&b[48..64]);
        let h = VhdxHeader {
            sequence_number: le64(b, 8),
            log_guid,
            log_length: le32(b, 68),
            log_offset: le64(b, 72),
            version: le16(b, 66),
        };
        if h.version != 1 {
            return Err(Error::unsupported(format!("header version {} is not 1", h.version)));
        }
        Ok(h)
    }
}

/// The parsed metadata items Salvage uses.
#[derive(Clone, Debug)]
struct VhdxMeta {
    block_size: u32,
    leave_blocks_allocated: bool,
    has_parent: bool,
    virtual_disk_size: u64,
    logical_sector_size: u32,
    physical_sector_size: u32,
    /// Parent locator key → value.
    locator: Vec<(String, String)>,
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

fn parse_locator(b: &[u8]) -> Result<Vec<(String, String)>> {
    if b.len() < 20 {
        return Err(Error::corrupt("the parent locator is shorter than its header"));
    }
    let count = usize::from(le16(b, 18));
    let mut out = Vec::new();
    for i in 0..count {
        let e = 20 + i * 12;
        if e + 12 > b.len() {
            return Err(Error::corrupt(format!("parent locator entry {i} lies outside the locator")));
        }
        let (ko, vo) = (le32(b, e) as usize, le32(b, e + 4) as usize);
        let (kl, vl) = (usize::from(le16(b, e + 8)), usize::from(le16(b, e + 10)));
        let key = b.get(ko..ko.saturating_add(kl));
        let value = b.get(vo..vo.saturating_add(vl));
        match (key, value) {
            (Some(k), Some(v)) => out.push((utf16(k), utf16(v))),
            _ => return Err(Error::corrupt(format!("parent locator entry {i} points outside the locator"))),
        }
    }
    Ok(out)
}

/// Reads the metadata region at `[offset, offset + length)` of `file`.
fn read_metadata(file: &dyn ReadAt, offset: u64, length: u64) -> Result<VhdxMeta> {
    let table_len = length.min(64 * KIB);
    let table = read_vec(file, offset, table_len as usize)?;
    if table.len() < 32 || &table[0..8] != b"metadata" {
        return Err(Error::corrupt("the metadata table's signature is not \"metadata\""));
    }
    let count = usize::from(le16(&table, 10));
    if count > 2047 {
        return Err(Error::corrupt(format!("the metadata table has {count} entries; at most 2047 are allowed")));
    }
    let mut meta = VhdxMeta {
        block_size: 0,
        leave_blocks_allocated: false,
        has_parent: false,
        virtual_disk_size: 0,
        logical_sector_size: 0,
        physical_sector_size: 0,
        locator: Vec::new(),
    };
    let (mut seen_params, mut seen_size, mut seen_lss) = (false, false, false);
    for i in 0..count {
        let e = 32 + i * 32;
        let Some(entry) = table.get(e..e + 32) else {
            return Err(Error::corrupt(format!("metadata entry {i} lies outside the table")));
        };
        let item_offset = u64::from(le32(entry, 16));
        let item_length = u64::from(le32(entry, 20));
        let required = le32(entry, 24) & 4 != 0;
        let id = &entry[0..16];
        if item_length == 0 {
            continue;
        }
        if item_offset.saturating_add(item_length) > length || item_length > MIB {
            return Err(Error::corrupt(format!("metadata item {} lies outside the metadata region", guid_string(id))));
        }
        let item = read_vec(file, offset + item_offset, item_length as usize)?;
        match id {
            x if x == META_FILE_PARAMETERS => {
                meta.block_size = le32(&item, 0);
                let flags = le32(&item, 4);
                meta.leave_blocks_allocated = flags & 1 != 0;
                meta.has_parent = flags & 2 != 0;
                seen_params = true;
            }
            x if x == META_VIRTUAL_DISK_SIZE => {
                meta.virtual_disk_size = le64(&item, 0);
                seen_size = true;
            }
            x if x == META_LOGICAL_SECTOR => {
                meta.logical_sector_size = le32(&item, 0);
                seen_lss = true;
            }
            x if x == META_PHYSICAL_SECTOR => meta.physical_sector_size = le32(&item, 0),
            x if x == META_PARENT_LOCATOR => meta.locator = parse_locator(&item)?,
            x if x == META_VIRTUAL_DISK_ID => {}
            _ if required => {
                return Err(Error::unsupported(format!(
                    "the image requires metadata item {}, which Salvage doesn't know",
                    guid_string(id)
                )))
            }
            _ => {}
        }
    }
    if !(seen_params && seen_size && seen_lss) {
        return Err(Error::corrupt("the metadata lacks file parameters, virtual disk size or logical sector size"));
    }
    if !meta.block_size.is_power_of_two() || !(MIB..=256 * MIB).contains(&u64::from(meta.block_size)) {
        return Err(Error::corrupt(format!("block size {} is not a power of two from 1 MiB to 256 MiB", meta.block_size)));
    }
    if meta.logical_sector_size != 512 && meta.logical_sector_size != 4096 {
        return Err(Error::corrupt(format!("logical sector size {} is neither 512 nor 4096", meta.logical_sector_size)));
    }
    Ok(meta)
}

/// Finds the BAT and metadata regions in a valid region table.
fn read_regions(file: &dyn ReadAt) -> Result<((u64, u64), (u64, u64))> {
    let mut last_err = Error::corrupt("no region table");
    for at in [192 * KIB, 256 * KIB] {
        let r = (|| {
            let t = read_vec(file, at, (64 * KIB) as usize)?;
            if &t[0..4] != b"regi" {
                return Err(Error::corrupt("the signature is not \"regi\""));
            }
            let mut copy = t.clone();
            copy[4..8].fill(0);
            let (stored, actual) = (le32(&t, 4), crc32c(&copy));
            if stored != actual {
                return Err(Error::corrupt(format!("CRC-32C is {actual:#010x}, the table says {stored:#010x}")));
            }
            let count = le32(&t, 8) as usize;
            if count > 2047 {
                return Err(Error::corrupt(format!("{count} entries; at most 2047 are allowed")));
            }
            let (mut bat, mut meta) = (None, None);
            for i in 0..count {
                let e = &t[16 + i * 32..48 + i * 32];
                let (offset, length, required) = (le64(e, 16), u64::from(le32(e, 24)), le32(e, 28) & 1 != 0);
                if e[0..16] == REGION_BAT {
                    bat = Some((offset, length));
                } else if e[0..16] == REGION_METADATA {
                    meta = Some((offset, length));
                } else if required {
                    return Err(Error::unsupported(format!("the image requires region {}, which Salvage doesn't know", guid_string(&e[0..16]))));
                }
            }
            match (bat, meta) {
                (Some(b), Some(m)) => Ok((b, m)),
                _ => Err(Error::corrupt("the BAT or the metadata region is missing")),
            }
        })();
        match r {
            Ok(v) => return Ok(v),
            Err(e) if e.kind() == crate::error::ErrorKind::Unsupported => return Err(e),
            Err(e) => last_err = e.context(format!("region table at {} KiB", at / KIB)),
        }
    }
    Err(last_err)
}

/// A VHDX image's virtual disk.
pub struct VhdxDisk {
    name: String,
    /// The file, with its log replayed when it had one.
    file: Reader,
    meta: VhdxMeta,
    bat_offset: u64,
    /// BAT entries that lie inside the region and the file.
    bat_entries: u64,
    chunk_ratio: u64,
    parent: Option<Reader>,
    /// The parent's name when it was not selected.
    missing_parent: Option<String>,
}

/// Where a run of virtual bytes comes from.
enum VhdxRun {
    File(u64),
    Zero,
    Parent,
}

impl VhdxDisk {
    fn bat(&self, index: u64) -> Result<u64> {
        if index >= self.bat_entries {
            return Err(Error::corrupt(format!("BAT entry {index} lies past the end of the BAT or the file")));
        }
        let mut b = [0u8; 8];
        self.file.read_exact_at(self.bat_offset + index * 8, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// The source of the bytes at `pos` and how many bytes from `pos` share it.
    fn locate(&self, pos: u64) -> Result<(VhdxRun, u64)> {
        let bs = u64::from(self.meta.block_size);
        let block = pos / bs;
        let within = pos % bs;
        let to_block_end = bs - within;
        let entry = self.bat(block + block / self.chunk_ratio)?;
        let file_offset = entry & !0xf_ffff;
        let past_any_file = || Error::corrupt(format!("BAT entry of block {block} points past any file ({entry:#x})"));
        match entry & 7 {
            PAYLOAD_NOT_PRESENT => Ok((VhdxRun::Parent, to_block_end)),
            PAYLOAD_UNDEFINED | PAYLOAD_ZERO | PAYLOAD_UNMAPPED => Ok((VhdxRun::Zero, to_block_end)),
            PAYLOAD_FULLY_PRESENT => Ok((VhdxRun::File(file_offset.checked_add(within).ok_or_else(past_any_file)?), to_block_end)),
            PAYLOAD_PARTIALLY_PRESENT => {
                let chunk = block / self.chunk_ratio;
                let sb = self.bat(chunk * (self.chunk_ratio + 1) + self.chunk_ratio)?;
                if sb & 7 != SB_PRESENT {
                    return Err(Error::corrupt(format!(
                        "block {block} is partially present but its sector bitmap block is not (state {})",
                        sb & 7
                    )));
                }
                let bitmap = sb & !0xf_ffff;
                let lss = u64::from(self.meta.logical_sector_size);
                let sector_in_chunk = ((block % self.chunk_ratio) * bs + within) / lss;
                let last_in_block = ((block % self.chunk_ratio) * bs + bs) / lss;
                // Read the bitmap bytes up to the block end (at most 64 KiB) and find the run.
                let first_byte = sector_in_chunk / 8;
                let end_byte = last_in_block.div_ceil(8);
                let bytes = read_vec(&*self.file, bitmap.checked_add(first_byte).ok_or_else(past_any_file)?, (end_byte - first_byte).min(64 * KIB) as usize)?;
                let bit = |s: u64| -> Option<bool> {
                    let i = usize::try_from(s / 8 - first_byte).ok()?;
                    bytes.get(i).map(|b| b & (1 << (s % 8)) != 0)
                };
                let present = bit(sector_in_chunk).unwrap_or(false);
                let mut s = sector_in_chunk + 1;
                while s < last_in_block && bit(s) == Some(present) {
                    s += 1;
                }
                let run = (s * lss - ((block % self.chunk_ratio) * bs + within)).min(to_block_end);
                if present {
                    Ok((VhdxRun::File(file_offset.checked_add(within).ok_or_else(past_any_file)?), run))
                } else {
                    Ok((VhdxRun::Parent, run))
                }
            }
            state => Err(Error::corrupt(format!("block {block} has the reserved BAT state {state}"))),
        }
    }
}

impl ReadAt for VhdxDisk {
    fn size(&self) -> u64 {
        self.meta.virtual_disk_size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.meta.virtual_disk_size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let ctx = |e: Error| e.context(format!("VHDX {}, guest byte {pos:#x}", self.name));
            let (run, len) = self.locate(pos).map_err(ctx)?;
            let n = usize::try_from(len).unwrap_or(usize::MAX).min(buf.len() - done).max(1);
            let piece = &mut buf[done..done + n];
            match run {
                VhdxRun::Zero => piece.fill(0),
                VhdxRun::File(host) => self.file.read_exact_at(host, piece).map_err(ctx)?,
                VhdxRun::Parent => match (&self.parent, &self.missing_parent) {
                    (None, Some(name)) => {
                        return Err(ctx(Error::not_found(format!(
                            "this part of the disk is in the parent {name}, which was not selected: select it together with the image"
                        ))))
                    }
                    (parent, _) => parents::read_parent_or_zeros(parent.as_ref(), pos, piece).map_err(ctx)?,
                },
            }
            done += n;
        }
        Ok(())
    }
}

/// Opens `main` (a VHDX image), replaying its log and finding its parent in `others`.
pub fn open(main: Source, mut others: Vec<Source>, depth: usize) -> Result<Disk> {
    let name = main.name.clone();
    let in_ctx = |e: Error| e.context(format!("VHDX {name}"));
    let raw = main.reader.clone();
    if raw.size() < 320 * KIB {
        return Err(in_ctx(Error::corrupt(format!(
            "the file is {} bytes, too short for the headers and region tables (320 KiB)",
            raw.size()
        ))));
    }
    let mut notes = Vec::new();
    let mut headers = Vec::new();
    for (i, at) in [64 * KIB, 128 * KIB].into_iter().enumerate() {
        let parsed = read_vec(&*raw, at, 4096).and_then(|b| VhdxHeader::from_bytes(&b));
        match parsed {
            Ok(h) => headers.push(h),
            Err(e) => notes.push(format!("header {} (at {} KiB) is unusable: {}; the other one is used", i + 1, at / KIB, e.message())),
        }
    }
    let Some(header) = headers.iter().max_by_key(|h| h.sequence_number).cloned() else {
        return Err(in_ctx(Error::corrupt("neither header (at 64 and 128 KiB) is valid")));
    };
    let mut file: Reader = raw.clone();
    if header.log_guid != [0u8; 16] {
        match VhdxReplayed::replay(raw.clone(), header.log_offset, u64::from(header.log_length), &header.log_guid) {
            Ok(Some((replayed, summary))) => {
                notes.push(summary);
                file = Rc::new(replayed);
            }
            Ok(None) => notes.push("the header names a log, but it holds no valid entries: nothing to replay".into()),
            Err(e) => {
                return Err(in_ctx(e.context(
                    "the image was not closed cleanly and its log must be replayed before it can be read, but the log can't be used",
                )))
            }
        }
    }
    let ((bat_offset, bat_length), (meta_offset, meta_length)) = read_regions(&*file).map_err(in_ctx)?;
    let meta = read_metadata(&*file, meta_offset, meta_length).map_err(|e| in_ctx(e.context("metadata")))?;
    let bs = u64::from(meta.block_size);
    let chunk_ratio = (1u64 << 23) * u64::from(meta.logical_sector_size) / bs;
    let payload_blocks = meta.virtual_disk_size.div_ceil(bs);
    let needed = if meta.has_parent {
        payload_blocks.div_ceil(chunk_ratio) * (chunk_ratio + 1)
    } else {
        payload_blocks + payload_blocks.saturating_sub(1) / chunk_ratio
    };
    let in_file = raw.size().max(file.size()).saturating_sub(bat_offset) / 8;
    let bat_entries = (bat_length / 8).min(in_file);
    if bat_entries < needed {
        notes.push(format!(
            "the BAT has {bat_entries} usable entries but the disk needs {needed}: reads past what it covers fail"
        ));
    }
    let mut parts = vec![name.clone()];
    let mut details = Vec::new();
    let (mut parent, mut missing_parent, mut parent_detail) = (None, None, None);
    if meta.has_parent {
        let paths: Vec<String> = ["relative_path", "absolute_win32_path", "volume_path"]
            .iter()
            .filter_map(|k| meta.locator.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()))
            .collect();
        let found = paths.iter().find_map(|p| take_by_name(&mut others, p));
        match found {
            Some(s) => {
                let layer = open_layer(s, std::mem::take(&mut others), depth + 1)
                    .map_err(|e| e.context(format!("the parent of {name}")))?;
                parts.extend(layer.parts.iter().cloned());
                notes.extend(layer.notes.iter().map(|n| format!("parent {}: {n}", layer.parts[0])));
                parent_detail = Some(layer.parts[0].clone());
                details.extend(layer.details.iter().map(|(k, v)| (format!("parent {k}"), v.clone())));
                parent = Some(layer.reader);
            }
            None => {
                let want = paths.first().map(|p| basename(p).to_string()).unwrap_or_else(|| "(no name recorded)".into());
                notes.push(format!(
                    "{name} is a differencing disk whose parent {want} was not selected: blocks it didn't change can't be read until {want} is selected together with it"
                ));
                parent_detail = Some(format!("{want} (not selected)"));
                missing_parent = Some(want);
            }
        }
    }
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|s| s.name.as_str()).collect();
        notes.push(format!("ignored the other selected files ({}): the VHDX doesn't refer to them", names.join(", ")));
    }
    let subformat = if meta.has_parent {
        "differencing"
    } else if meta.leave_blocks_allocated {
        "fixed"
    } else {
        "dynamic"
    };
    let mut summary = vec![
        format!("VHDX {subformat}"),
        format!("{} blocks", human_bytes(bs)),
        format!("{} B logical / {} B physical sectors", meta.logical_sector_size, meta.physical_sector_size),
        format!("{} virtual", human_bytes(meta.virtual_disk_size)),
        format!("{} file", human_bytes(raw.size())),
    ];
    if let Some(p) = parent_detail {
        summary.push(format!("parent {p}"));
    }
    details.insert(0, ("container".to_string(), summary.join(", ")));
    let disk = VhdxDisk { name, file, meta, bat_offset, bat_entries, chunk_ratio, parent, missing_parent };
    Ok(Disk { format: "VHDX".into(), reader: Rc::new(disk), parts, notes, details })
}

/// Fuzzing entry point: open `data` as a VHDX image and read a few ranges.
///
/// The CRCs of the headers and region tables are fixed up first when the
/// first byte after the file identifier is even, so mutations reach the
/// metadata, BAT and log instead of stopping at a checksum; odd inputs keep
/// their checksums as they are.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    use crate::read_at::MemReader;
    let mut data = data.to_vec();
    if data.get(8).is_some_and(|b| b & 1 == 0) {
        for (at, len) in [(64 * KIB, 4 * KIB), (128 * KIB, 4 * KIB), (192 * KIB, 64 * KIB), (256 * KIB, 64 * KIB)] {
            let (at, len) = (at as usize, len as usize);
            if let Some(block) = data.get_mut(at..at + len) {
                block[4..8].fill(0);
                let crc = crc32c(block);
                block[4..8].copy_from_slice(&crc.to_le_bytes());
            }
        }
    }
    let src = Source { name: "fuzz.vhdx".into(), reader: Rc::new(MemReader::new(data)) };
    if let Ok(disk) = open(src, Vec::new(), 0) {
        let size = disk.reader.size();
        super::fuzz_reads(&disk, 70_000, &[0, 512, 1 << 20, size / 2, size.saturating_sub(70_000)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn guids_are_stored_mixed_endian() {
        assert_eq!(guid_string(&REGION_BAT), "2DC27766-F623-4200-9D64-115E9BFD4A08");
    }

    #[test]
    fn headers_check_their_crc() {
        let mut h = vec![0u8; 4096];
        h[0..4].copy_from_slice(b"head");
        h[66..68].copy_from_slice(&1u16.to_le_bytes());
        let crc = crc32c(&h);
        h[4..8].copy_from_slice(&crc.to_le_bytes());
        assert!(VhdxHeader::from_bytes(&h).is_ok());
        h[100] = 1;
        let e = VhdxHeader::from_bytes(&h).unwrap_err();
        assert!(e.to_string().starts_with("CRC-32C is "), "{e}");
    }

    #[test]
    fn short_files_are_refused_with_a_sentence() {
        let mut d = vec![0u8; 400 * 1024];
        d[0..8].copy_from_slice(b"vhdxfile");
        let e = open(Source { name: "x.vhdx".into(), reader: Rc::new(crate::read_at::MemReader::new(d)) }, vec![], 0)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "VHDX x.vhdx: neither header (at 64 and 128 KiB) is valid");
    }
}
