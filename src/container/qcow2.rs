//! qcow2 (QEMU copy-on-write v2 and v3), read through the active L1/L2
//! tables only, following qemu's `docs/interop/qcow2.txt`.
//!
//! - The header (big-endian) and its extensions are parsed once into
//!   [`Qcow2Header`]; unknown incompatible feature bits are refused by name.
//! - Guest offset → L1 entry → L2 table (one cluster, cached in a small
//!   LRU) → a [`Qcow2Extent`]: host data, zeros, compressed, or "not here"
//!   (read from the backing file, or zeros without one).
//! - Compressed clusters are raw deflate (qemu's layout: byte offset plus
//!   sector count in the L2 entry) or zstd (`compression_type` 1); one
//!   cluster is inflated at a time and a few are cached.
//! - Extended L2 entries (v3 `extended_l2`) split a cluster into 32
//!   subclusters with allocation and zero bitmaps.
//! - Refcounts are never read: they only matter for writing. Internal
//!   snapshots are ignored (the active L1 table is the current state).
//! - The external data file and backing file are looked up among the
//!   selected files by basename ([`super::chain`]); when missing, the disk
//!   still opens, reads that need them fail with a sentence naming the file,
//!   and a note says so.
//!
//! L1 and L2 tables are read through the chunk cache on demand, so memory
//! does not grow with the virtual size; every table offset is checked
//! against the file's real length when used.

// Offsets and lengths here come from disk, so every table offset is checked
// against the file's real length where it is used, sizes are capped
// (clusters <= 2 MiB, blocks <= 256 MiB, the log <= 64 MiB) before anything
// is allocated or cast to usize, and the remaining arithmetic works on
// values those checks bound; the fuzz targets run with overflow checks on.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::rc::Rc;

use super::chain::{basename, human_bytes, take_by_name};
use super::detect::open_layer;
use super::lru::Lru;
use super::{Disk, Source};
use crate::error::{Error, Result};
use crate::read_at::{check_range, read_vec, ReadAt, Reader};

const MAGIC: &[u8; 4] = b"QFI\xfb";
/// Bits 9–55 of L1 and standard L2 entries: a host offset.
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const COPIED: u64 = 1 << 63;
const COMPRESSED: u64 = 1 << 62;
const ZERO_FLAG: u64 = 1;

const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;
const INCOMPAT_KNOWN: u64 =
    INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
const AUTOCLEAR_DATA_FILE_RAW: u64 = 1 << 1;

const EXT_END: u32 = 0;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const EXT_FEATURE_NAMES: u32 = 0x6803_f857;
const EXT_ENCRYPTION: u32 = 0x0537_be77;
const EXT_DATA_FILE: u32 = 0x4441_5441;

/// Whether `r` starts with the qcow2 magic.
pub fn probe(r: &dyn ReadAt) -> bool {
    let mut m = [0u8; 4];
    r.size() >= 72 && r.read_exact_at(0, &mut m).is_ok() && &m == MAGIC
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_be_bytes(a)
    })
}

/// How compressed clusters are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qcow2Compression {
    Deflate,
    Zstd,
}

/// The checked header and the extensions Salvage uses.
#[derive(Clone, Debug)]
pub struct Qcow2Header {
    pub version: u32,
    pub cluster_bits: u32,
    pub size: u64,
    pub crypt_method: u32,
    pub l1_size: u32,
    pub l1_table_offset: u64,
    pub nb_snapshots: u32,
    pub incompatible_features: u64,
    pub autoclear_features: u64,
    pub compression: Qcow2Compression,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
    pub data_file: Option<String>,
    pub has_encryption_ext: bool,
}

impl Qcow2Header {
    /// Parses the first cluster (or as much of it as the file has);
    /// `file_size` bounds every offset.
    pub fn from_bytes(h: &[u8], file_size: u64) -> Result<Self> {
        if h.len() < 72 || &h[0..4] != MAGIC {
            return Err(Error::corrupt("not a qcow2 image: the header is too short or the magic is wrong"));
        }
        let version = be32(h, 0x04);
        if version != 2 && version != 3 {
            return Err(Error::unsupported(format!("qcow2 version {version} is not supported (only 2 and 3)")));
        }
        let backing_file_offset = be64(h, 0x08);
        let backing_file_size = be32(h, 0x10);
        let cluster_bits = be32(h, 0x14);
        if !(9..=21).contains(&cluster_bits) {
            return Err(Error::corrupt(format!("cluster_bits is {cluster_bits}; qcow2 clusters are 512 B to 2 MiB (9 to 21)")));
        }
        let cluster_size = 1u64 << cluster_bits;
        let size = be64(h, 0x18);
        let crypt_method = be32(h, 0x20);
        let l1_size = be32(h, 0x24);
        let l1_table_offset = be64(h, 0x28);
        let nb_snapshots = be32(h, 0x3c);
        let (incompatible_features, autoclear_features, header_length, compression_type) = if version >= 3 {
            if h.len() < 104 {
                return Err(Error::corrupt("the qcow2 v3 header is cut short"));
            }
            let header_length = be32(h, 0x64);
            if header_length < 104 || u64::from(header_length) > cluster_size.min(h.len() as u64) {
                return Err(Error::corrupt(format!("header_length {header_length} is outside 104..cluster size")));
            }
            let ct = if header_length > 104 { h[104] } else { 0 };
            (be64(h, 0x48), be64(h, 0x58), header_length as usize, ct)
        } else {
            (0, 0, 72, 0)
        };
        let compression = match compression_type {
            0 => Qcow2Compression::Deflate,
            1 => Qcow2Compression::Zstd,
            n => return Err(Error::unsupported(format!("compression type {n} is not supported (only zlib and zstd)"))),
        };
        if !l1_table_offset.is_multiple_of(cluster_size) && l1_size > 0 {
            return Err(Error::corrupt(format!("the L1 table offset {l1_table_offset:#x} is not cluster aligned")));
        }
        // Extensions run from the header end to the backing name or the cluster end.
        let mut end = h.len();
        if backing_file_offset > 0 {
            end = end.min(usize::try_from(backing_file_offset).unwrap_or(usize::MAX));
        }
        let mut header = Qcow2Header {
            version,
            cluster_bits,
            size,
            crypt_method,
            l1_size,
            l1_table_offset,
            nb_snapshots,
            incompatible_features,
            autoclear_features,
            compression,
            backing_file: None,
            backing_format: None,
            data_file: None,
            has_encryption_ext: false,
        };
        let mut feature_names: Vec<(u8, u8, String)> = Vec::new();
        let mut at = header_length;
        while at.checked_add(8).is_some_and(|e| e <= end) {
            let ext_type = be32(h, at);
            let len = be32(h, at + 4) as usize;
            let data_start = at + 8;
            let Some(data_end) = data_start.checked_add(len).filter(|e| *e <= end) else {
                return Err(Error::corrupt(format!("header extension {ext_type:#x} at byte {at:#x} runs past the header cluster")));
            };
            let data = &h[data_start..data_end];
            match ext_type {
                EXT_END => break,
                EXT_BACKING_FORMAT => header.backing_format = Some(String::from_utf8_lossy(data).into_owned()),
                EXT_DATA_FILE => header.data_file = Some(String::from_utf8_lossy(data).into_owned()),
                EXT_ENCRYPTION => header.has_encryption_ext = true,
                EXT_FEATURE_NAMES => {
                    for e in data.chunks_exact(48) {
                        let name = e[2..].split(|b| *b == 0).next().unwrap_or(&[]);
                        feature_names.push((e[0], e[1], String::from_utf8_lossy(name).into_owned()));
                    }
                }
                _ => {}
            }
            // Data is padded to 8 bytes.
            at = data_start.saturating_add(len.div_ceil(8).saturating_mul(8));
        }
        let unknown = incompatible_features & !INCOMPAT_KNOWN;
        if unknown != 0 {
            let names: Vec<String> = (0..64u8)
                .filter(|b| unknown & (1u64 << b) != 0)
                .map(|b| match feature_names.iter().find(|(t, bit, _)| *t == 0 && *bit == b) {
                    Some((_, _, n)) => format!("\"{n}\" (bit {b})"),
                    None => format!("bit {b}"),
                })
                .collect();
            return Err(Error::unsupported(format!(
                "this qcow2 image uses incompatible features Salvage doesn't know: {}",
                names.join(", ")
            )));
        }
        if backing_file_offset > 0 && backing_file_size > 0 {
            if backing_file_size > 1023 {
                return Err(Error::corrupt(format!("the backing file name is {backing_file_size} bytes; at most 1023 are allowed")));
            }
            let start = usize::try_from(backing_file_offset).ok().filter(|s| *s < h.len());
            let name = start.and_then(|s| h.get(s..s.saturating_add(backing_file_size as usize)));
            match name {
                Some(n) => header.backing_file = Some(String::from_utf8_lossy(n).into_owned()),
                None if backing_file_offset.saturating_add(u64::from(backing_file_size)) > file_size => {
                    return Err(Error::corrupt(format!("the backing file name at byte {backing_file_offset:#x} lies past the end of the file")))
                }
                None => {
                    return Err(Error::corrupt(format!("the backing file name at byte {backing_file_offset:#x} lies outside the header cluster")))
                }
            }
        }
        Ok(header)
    }

    pub fn cluster_size(&self) -> u64 {
        1u64 << self.cluster_bits
    }

    pub fn extended_l2(&self) -> bool {
        self.incompatible_features & INCOMPAT_EXTL2 != 0
    }
}

/// Where the bytes of one guest range come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Qcow2Extent {
    Data { host: u64 },
    Zero,
    /// Not allocated here: the backing file, or zeros.
    Unallocated,
    Compressed { host: u64, len: u64 },
}

/// A layer below this one (backing or data file) that may be missing.
enum Companion {
    None,
    Present(Reader),
    Missing(String),
}

/// A qcow2 image's virtual disk.
pub struct Qcow2Disk {
    name: String,
    file: Reader,
    header: Qcow2Header,
    /// Host data clusters live here: the image itself or its external data file.
    data: Companion,
    backing: Companion,
    /// L1 entries that lie inside the file (the rest read as unallocated).
    l1_entries: u64,
    /// log2 of L2 entries per table.
    l2_bits: u32,
    l2_cache: Lru<Vec<u8>>,
    cluster_cache: Lru<Vec<u8>>,
}

/// Most bytes of L2 tables kept parsed; the chunk cache keeps the raw ones too.
const L2_CACHE_BYTES: u64 = 16 << 20;
/// Most bytes of inflated clusters kept.
const CLUSTER_CACHE_BYTES: u64 = 8 << 20;

impl Qcow2Disk {
    pub fn header(&self) -> &Qcow2Header {
        &self.header
    }

    fn l2_entry_bytes(&self) -> u64 {
        if self.header.extended_l2() {
            16
        } else {
            8
        }
    }

    /// The extent at guest offset `pos` and how many bytes from `pos` it covers.
    fn lookup(&self, pos: u64) -> Result<(Qcow2Extent, u64)> {
        let cb = self.header.cluster_bits;
        let cluster_size = self.header.cluster_size();
        let in_cluster = pos & (cluster_size - 1);
        let to_cluster_end = cluster_size - in_cluster;
        let cluster_index = pos >> cb;
        let l1_index = cluster_index >> self.l2_bits;
        let l2_index = cluster_index & ((1u64 << self.l2_bits) - 1);
        if l1_index >= u64::from(self.header.l1_size) {
            return Ok((Qcow2Extent::Unallocated, to_cluster_end));
        }
        if l1_index >= self.l1_entries {
            return Err(Error::io(format!(
                "L1 entry {l1_index} lies past the end of the file (truncated image?): this part of the disk is lost"
            )));
        }
        let l1_pos = self.header.l1_table_offset + l1_index * 8;
        let l1_entry = u64::from_be_bytes(read_array(&*self.file, l1_pos)?);
        let l2_offset = l1_entry & OFFSET_MASK;
        if l2_offset == 0 {
            return Ok((Qcow2Extent::Unallocated, to_cluster_end));
        }
        if l2_offset & (cluster_size - 1) != 0 {
            return Err(Error::corrupt(format!("L1 entry {l1_index} points to an L2 table at {l2_offset:#x}, which is not cluster aligned")));
        }
        let file = &self.file;
        let table = self.l2_cache.get_or_load(l2_offset, || {
            check_range(l2_offset, cluster_size as usize, file.size()).map_err(|_| {
                Error::corrupt(format!("L1 entry {l1_index} points to an L2 table at {l2_offset:#x}, past the end of the file"))
            })?;
            read_vec(&**file, l2_offset, cluster_size as usize)
        })?;
        // In bounds: l2_index < entries per table and the table is one cluster.
        let at = (l2_index * self.l2_entry_bytes()) as usize;
        let entry = be64(&table, at);
        if entry & COMPRESSED != 0 {
            let csize_shift = 62 - (cb - 8);
            let host = entry & ((1u64 << csize_shift) - 1);
            let sectors = ((entry >> csize_shift) & ((1u64 << (cb - 8)) - 1)) + 1;
            let len = (sectors * 512).saturating_sub(host & 511);
            return Ok((Qcow2Extent::Compressed { host, len }, to_cluster_end));
        }
        let host = entry & OFFSET_MASK;
        let external = matches!(self.data, Companion::Present(_) | Companion::Missing(_));
        let allocated = host != 0 || (external && entry & COPIED != 0);
        if host & (cluster_size - 1) != 0 {
            return Err(Error::corrupt(format!("L2 entry for guest byte {pos:#x} points to {host:#x}, which is not cluster aligned")));
        }
        if !self.header.extended_l2() {
            let extent = if entry & ZERO_FLAG != 0 {
                Qcow2Extent::Zero
            } else if allocated {
                Qcow2Extent::Data { host: host + in_cluster }
            } else {
                Qcow2Extent::Unallocated
            };
            return Ok((extent, to_cluster_end));
        }
        let bitmap = be64(&table, at + 8);
        let sub_size = cluster_size / 32;
        let sub = in_cluster / sub_size;
        let to_sub_end = sub_size - (in_cluster % sub_size);
        let alloc_bit = bitmap & (1u64 << sub) != 0;
        let zero_bit = bitmap & (1u64 << (sub + 32)) != 0;
        let extent = match (alloc_bit, zero_bit) {
            (true, true) => {
                return Err(Error::corrupt(format!("subcluster {sub} at guest byte {pos:#x} is marked both allocated and zero")))
            }
            (false, true) => Qcow2Extent::Zero,
            (true, false) if allocated => Qcow2Extent::Data { host: host + in_cluster },
            (true, false) => {
                return Err(Error::corrupt(format!("subcluster {sub} at guest byte {pos:#x} is allocated in a cluster with no host offset")))
            }
            (false, false) => Qcow2Extent::Unallocated,
        };
        Ok((extent, to_sub_end))
    }

    /// Inflates the compressed cluster at `host`.
    fn compressed_cluster(&self, host: u64, len: u64) -> Result<Rc<Vec<u8>>> {
        self.cluster_cache.get_or_load(host, || {
            let file_size = self.file.size();
            if host >= file_size {
                return Err(Error::corrupt(format!("a compressed cluster at {host:#x} lies past the end of the file")));
            }
            // The sector count may run past the end of the file for the last cluster.
            let len = len.min(file_size - host);
            let input = read_vec(&*self.file, host, len as usize)?;
            let mut out = vec![0u8; self.header.cluster_size() as usize];
            let ok = match self.header.compression {
                Qcow2Compression::Deflate => inflate_raw(&input, &mut out),
                Qcow2Compression::Zstd => unzstd(&input, &mut out),
            };
            if !ok {
                return Err(Error::corrupt(format!(
                    "the compressed cluster at {host:#x} ({len} bytes, {}) does not inflate to a full cluster",
                    match self.header.compression {
                        Qcow2Compression::Deflate => "deflate",
                        Qcow2Compression::Zstd => "zstd",
                    }
                )));
            }
            Ok(out)
        })
    }

    fn read_companion(c: &Companion, what: &str, offset: u64, buf: &mut [u8], beyond_is_zero: bool) -> Result<()> {
        match c {
            Companion::None => {
                buf.fill(0);
                Ok(())
            }
            Companion::Present(r) if beyond_is_zero => super::parents::read_parent_or_zeros(Some(r), offset, buf),
            Companion::Present(r) => r.read_exact_at(offset, buf),
            Companion::Missing(name) => Err(Error::not_found(format!(
                "this part of the disk is in the {what} {name}, which was not selected: select it together with the image"
            ))
            .at_offset(offset)),
        }
    }
}

fn read_array(r: &dyn ReadAt, offset: u64) -> Result<[u8; 8]> {
    let mut a = [0u8; 8];
    r.read_exact_at(offset, &mut a)?;
    Ok(a)
}

/// Raw deflate into exactly `out.len()` bytes, as qemu requires.
fn inflate_raw(input: &[u8], out: &mut [u8]) -> bool {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    let mut state = Box::<DecompressorOxide>::default();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (_, _, written) = decompress(&mut state, input, out, 0, flags);
    written == out.len()
}

/// One zstd frame into exactly `out.len()` bytes.
fn unzstd(input: &[u8], out: &mut [u8]) -> bool {
    use std::io::Read;
    let mut src = input;
    let Ok(mut dec) = ruzstd::decoding::StreamingDecoder::new(&mut src) else {
        return false;
    };
    let mut done = 0;
    while done < out.len() {
        match dec.read(&mut out[done..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => done += n,
        }
    }
    true
}

impl ReadAt for Qcow2Disk {
    fn size(&self) -> u64 {
        self.header.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.header.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (extent, run) = self.lookup(pos).map_err(|e| e.context(format!("qcow2 {}", self.name)))?;
            let n = usize::try_from(run).unwrap_or(usize::MAX).min(buf.len() - done);
            let piece = &mut buf[done..done + n];
            match extent {
                Qcow2Extent::Zero => piece.fill(0),
                Qcow2Extent::Unallocated => Self::read_companion(&self.backing, "backing file", pos, piece, true)
                    .map_err(|e| e.context(format!("qcow2 {}, guest byte {pos:#x}", self.name)))?,
                Qcow2Extent::Data { host } => {
                    let r = match &self.data {
                        Companion::None => self.file.read_exact_at(host, piece),
                        other => Self::read_companion(other, "external data file", host, piece, false),
                    };
                    r.map_err(|e| e.context(format!("qcow2 {}, guest byte {pos:#x} (data at host byte {host:#x})", self.name)))?;
                }
                Qcow2Extent::Compressed { host, len } => {
                    let cluster = self.compressed_cluster(host, len).map_err(|e| e.context(format!("qcow2 {}", self.name)))?;
                    let within = (pos & (self.header.cluster_size() - 1)) as usize;
                    piece.copy_from_slice(&cluster[within..within + n]);
                }
            }
            done += n;
        }
        Ok(())
    }
}

/// Opens `main` (a qcow2 image) as a disk, with its backing chain from `others`.
pub fn open(main: Source, mut others: Vec<Source>, depth: usize) -> Result<Disk> {
    let name = main.name.clone();
    let in_ctx = |e: Error| e.context(format!("qcow2 {name}"));
    let file = main.reader.clone();
    let file_size = file.size();
    // The header, its extensions and the backing name all lie in the first cluster.
    let first = read_vec(&*file, 0, file_size.min(104) as usize).map_err(in_ctx)?;
    let cluster_bits = be32(&first, 0x14).clamp(9, 21);
    let header_bytes = read_vec(&*file, 0, file_size.min(1u64 << cluster_bits) as usize).map_err(in_ctx)?;
    let header = Qcow2Header::from_bytes(&header_bytes, file_size).map_err(in_ctx)?;
    if header.crypt_method != 0 || header.has_encryption_ext {
        let how = match header.crypt_method {
            1 => "AES (qcow2's own encryption)",
            2 => "LUKS",
            _ => "an unknown method",
        };
        return Err(in_ctx(Error::unsupported(format!(
            "this image is encrypted with {how}; Salvage can't decrypt qcow2 images yet (qemu-img convert with the key can)"
        ))));
    }
    let cluster_size = header.cluster_size();
    let l2_bits = header.cluster_bits - if header.extended_l2() { 4 } else { 3 };
    let mut notes = Vec::new();
    // L1 entries inside the file; the rest read as unallocated, with a note.
    let l1_in_file = file_size.saturating_sub(header.l1_table_offset) / 8;
    let l1_entries = u64::from(header.l1_size).min(l1_in_file);
    if l1_entries < u64::from(header.l1_size) {
        notes.push(format!(
            "the L1 table runs past the end of the file (truncated image?): only {l1_entries} of {} entries are there; reads of the rest of the disk fail",
            header.l1_size
        ));
    }
    let covered = 1u64.checked_shl(l2_bits + header.cluster_bits).map_or(u64::MAX, |per_l1| l1_entries.saturating_mul(per_l1));
    if l1_entries == u64::from(header.l1_size) && header.l1_size > 0 && covered < header.size {
        notes.push(format!("the L1 table covers only {} of the {} virtual disk; the rest reads as unallocated", human_bytes(covered), human_bytes(header.size)));
    }
    if header.incompatible_features & INCOMPAT_DIRTY != 0 {
        notes.push("the image was not closed cleanly (dirty bit): its refcounts may be stale, which doesn't affect reading".into());
    }
    if header.incompatible_features & INCOMPAT_CORRUPT != 0 {
        notes.push("qemu marked this image corrupt: it is read anyway, but some clusters may be wrong or unreadable".into());
    }
    if header.nb_snapshots > 0 {
        notes.push(format!(
            "the image has {} internal snapshot(s); only the current state is read",
            header.nb_snapshots
        ));
    }
    let mut parts = vec![name.clone()];
    let data = if header.incompatible_features & INCOMPAT_DATA_FILE != 0 {
        let data_name = header.data_file.clone().unwrap_or_default();
        match take_by_name(&mut others, &data_name) {
            Some(s) => {
                parts.push(s.name.clone());
                Companion::Present(s.reader)
            }
            None => {
                let shown = if data_name.is_empty() { "(its name is not recorded)".to_string() } else { basename(&data_name).to_string() };
                notes.push(format!(
                    "the disk's data is in the external data file {shown}, which was not selected: select it together with {name} to read the disk"
                ));
                Companion::Missing(shown)
            }
        }
    } else {
        Companion::None
    };
    let mut details = Vec::new();
    let mut backing_detail = None;
    let backing = match &header.backing_file {
        None => Companion::None,
        Some(path) => match take_by_name(&mut others, path) {
            Some(s) => {
                let layer = open_layer(s, std::mem::take(&mut others), depth + 1)
                    .map_err(|e| e.context(format!("the backing file of {name}")))?;
                parts.extend(layer.parts.iter().cloned());
                notes.extend(layer.notes.iter().map(|n| format!("backing file {}: {n}", layer.parts[0])));
                backing_detail = Some(format!("{} ({})", layer.parts[0], layer.format));
                details.extend(layer.details.iter().map(|(k, v)| (format!("backing {k}"), v.clone())));
                Companion::Present(layer.reader)
            }
            None => {
                let b = basename(path).to_string();
                notes.push(format!(
                    "{name} is an overlay on the backing file {b} ({path}), which was not selected: parts of the disk not written in the overlay can't be read until {b} is selected together with it (CLI: --with {b})"
                ));
                backing_detail = Some(format!("{b} (not selected)"));
                Companion::Missing(b)
            }
        },
    };
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|s| s.name.as_str()).collect();
        notes.push(format!("ignored the other selected files ({}): the qcow2 image doesn't refer to them", names.join(", ")));
    }
    let mut summary = vec![
        format!("qcow2 v{}", header.version),
        format!("{} clusters", human_bytes(cluster_size)),
    ];
    if header.extended_l2() {
        summary.push("extended L2 (subclusters)".into());
    }
    summary.push(match header.compression {
        Qcow2Compression::Deflate => "zlib".into(),
        Qcow2Compression::Zstd => "zstd".into(),
    });
    summary.push(format!("{} virtual", human_bytes(header.size)));
    summary.push(format!("{} file", human_bytes(file_size)));
    if let Some(b) = &backing_detail {
        summary.push(format!("backing {b}"));
    }
    if let Some(d) = &header.data_file {
        let raw = if header.autoclear_features & AUTOCLEAR_DATA_FILE_RAW != 0 { " (raw)" } else { "" };
        summary.push(format!("data file {}{raw}", basename(d)));
    }
    details.insert(0, ("container".to_string(), summary.join(", ")));
    let l2_cap = (L2_CACHE_BYTES / cluster_size).clamp(4, 64) as usize;
    let cluster_cap = (CLUSTER_CACHE_BYTES / cluster_size).clamp(2, 32) as usize;
    let disk = Qcow2Disk {
        name: name.clone(),
        file,
        header,
        data,
        backing,
        l1_entries,
        l2_bits,
        l2_cache: Lru::new(l2_cap),
        cluster_cache: Lru::new(cluster_cap),
    };
    Ok(Disk { format: "qcow2".into(), reader: Rc::new(disk), parts, notes, details })
}

/// Fuzzing entry point: open `data` as a qcow2 image and read a few ranges.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    use crate::read_at::MemReader;
    let src = Source { name: "fuzz.qcow2".into(), reader: Rc::new(MemReader::new(data.to_vec())) };
    if let Ok(disk) = open(src, Vec::new(), 0) {
        let size = disk.reader.size();
        super::fuzz_reads(&disk, 70_000, &[0, 512, 65_536, size / 2, size.saturating_sub(70_000)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    /// A v3 header, 512-byte clusters, 32 KiB virtual, L1 at cluster 1.
    fn image() -> Vec<u8> {
        let mut h = vec![0u8; 4 * 512];
        h[0..4].copy_from_slice(MAGIC);
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        h[0x14..0x18].copy_from_slice(&9u32.to_be_bytes());
        h[0x18..0x20].copy_from_slice(&(32u64 << 10).to_be_bytes());
        h[0x24..0x28].copy_from_slice(&1u32.to_be_bytes());
        h[0x28..0x30].copy_from_slice(&512u64.to_be_bytes());
        h[0x64..0x68].copy_from_slice(&104u32.to_be_bytes());
        // L1[0] → L2 at 1024; L2[0] → data at 1536, L2[1] zero flag.
        h[512..520].copy_from_slice(&(1024u64 | COPIED).to_be_bytes());
        h[1024..1032].copy_from_slice(&(1536u64 | COPIED).to_be_bytes());
        h[1032..1040].copy_from_slice(&1u64.to_be_bytes());
        h[1536..2048].fill(0x5a);
        h
    }

    fn open_mem(data: Vec<u8>) -> Result<Disk> {
        open(Source { name: "t.qcow2".into(), reader: Rc::new(MemReader::new(data)) }, vec![], 0)
    }

    #[test]
    fn reads_data_zero_and_unallocated_clusters() {
        let disk = open_mem(image()).unwrap();
        let mut buf = vec![1u8; 2048];
        disk.reader.read_exact_at(0, &mut buf).unwrap();
        assert!(buf[..512].iter().all(|b| *b == 0x5a));
        assert!(buf[512..].iter().all(|b| *b == 0));
        assert_eq!(disk.details[0].1, "qcow2 v3, 512 B clusters, zlib, 32 KiB virtual, 2 KiB file");
    }

    #[test]
    fn refuses_unknown_incompatible_features() {
        let mut h = image();
        h[0x48..0x50].copy_from_slice(&(1u64 << 9).to_be_bytes());
        let e = open_mem(h).err().unwrap();
        assert_eq!(e.to_string(), "qcow2 t.qcow2: this qcow2 image uses incompatible features Salvage doesn't know: bit 9");
    }

    #[test]
    fn refuses_encryption() {
        let mut h = image();
        h[0x20..0x24].copy_from_slice(&2u32.to_be_bytes());
        let e = open_mem(h).err().unwrap();
        assert!(e.to_string().contains("encrypted with LUKS"), "{e}");
    }

    #[test]
    fn an_l2_table_past_the_end_is_an_error_not_a_panic() {
        let mut h = image();
        h[512..520].copy_from_slice(&(1u64 << 40).to_be_bytes());
        let disk = open_mem(h).unwrap();
        let mut buf = [0u8; 16];
        let e = disk.reader.read_exact_at(0, &mut buf).unwrap_err();
        assert!(e.to_string().contains("past the end of the file"), "{e}");
    }

    #[test]
    fn a_missing_backing_file_is_named() {
        let mut h = image();
        h[0x08..0x10].copy_from_slice(&200u64.to_be_bytes());
        h[0x10..0x14].copy_from_slice(&14u32.to_be_bytes());
        h[200..214].copy_from_slice(b"dir/base.qcow2");
        // Guest cluster 2 is unallocated → backing.
        let disk = open_mem(h).unwrap();
        assert!(disk.notes[0].contains("backing file base.qcow2"), "{:?}", disk.notes);
        let mut buf = [0u8; 16];
        let e = disk.reader.read_exact_at(1024, &mut buf).unwrap_err();
        assert!(e.to_string().contains("base.qcow2, which was not selected"), "{e}");
    }

    #[test]
    fn fuzz_survives_garbage() {
        let mut h = image();
        for i in 0..h.len() {
            let mut g = h.clone();
            g[i] ^= 0xff;
            fuzz(&g);
        }
        h.truncate(100);
        fuzz(&h);
    }
}
