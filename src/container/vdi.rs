//! VDI (VirtualBox Disk Image), following VirtualBox's `VDICore.h` layout
//! as qemu's `block/vdi.c` reads it.
//!
//! A 64-byte text banner, the signature `0xbeda107f` at byte 0x40 and a
//! version: 1.1 (what VirtualBox and qemu write) has a header with the
//! block map and data offsets; the older 0.0 header has neither, so they
//! follow the header directly (VirtualBox's rule). All fields are
//! little-endian.
//!
//! The block map has one u32 per block: a block index into the data area,
//! `0xFFFFFFFF` (never written: zeros, or the parent's bytes in a
//! differencing image) or `0xFFFFFFFE` (discarded: zeros). Static images
//! have every block allocated in order. A differencing (snapshot) image
//! names its parent by UUID: its "link" UUID equals the parent's image
//! UUID, which is how the parent is found among the selected files.
//!
//! The block map is read through the chunk cache on demand; each entry is
//! checked against the file's real length when used.

// Offsets and lengths here come from disk, so every table offset is checked
// against the file's real length where it is used, sizes are capped
// (clusters <= 2 MiB, blocks <= 256 MiB, the log <= 64 MiB) before anything
// is allocated or cast to usize, and the remaining arithmetic works on
// values those checks bound; the fuzz targets run with overflow checks on.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::rc::Rc;

use super::chain::{human_bytes, take_where};
use super::detect::open_layer;
use super::{parents, Disk, Source};
use crate::error::{Error, Result};
use crate::read_at::{check_range, read_vec, ReadAt, Reader};
use crate::bytes::{le32, le64};

const SIGNATURE: u32 = 0xbeda_107f;
const BLOCK_FREE: u32 = 0xffff_ffff;
const BLOCK_ZERO: u32 = 0xffff_fffe;

const TYPE_NORMAL: u32 = 1;
const TYPE_FIXED: u32 = 2;
const TYPE_UNDO: u32 = 3;
const TYPE_DIFF: u32 = 4;

/// Whether `r` carries the VDI signature.
pub fn probe(r: &dyn ReadAt) -> bool {
    let mut b = [0u8; 4];
    r.size() >= 0x200 && r.read_exact_at(0x40, &mut b).is_ok() && u32::from_le_bytes(b) == SIGNATURE
}



fn uuid_at(b: &[u8], at: usize) -> [u8; 16] {
    let mut u = [0u8; 16];
    if let Some(s) = b.get(at..at + 16) {
        u.copy_from_slice(s);
    }
    u
}

/// A UUID as VirtualBox shows it (first three fields little-endian).
pub fn uuid_string(u: &[u8; 16]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{}",
        u32::from_le_bytes([u[0], u[1], u[2], u[3]]),
        u16::from_le_bytes([u[4], u[5]]),
        u16::from_le_bytes([u[6], u[7]]),
        u[8],
        u[9],
        u[10..].iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The checked header.
#[derive(Clone, Debug)]
pub struct VdiHeader {
    pub version_major: u16,
    pub version_minor: u16,
    pub image_type: u32,
    pub offset_bmap: u64,
    pub offset_data: u64,
    pub disk_size: u64,
    pub block_size: u32,
    pub block_extra: u32,
    pub blocks_in_image: u32,
    pub blocks_allocated: u32,
    pub uuid_image: [u8; 16],
    pub uuid_link: [u8; 16],
}

impl VdiHeader {
    /// Parses the first 512 bytes; `file_size` bounds the block map.
    pub fn from_bytes(h: &[u8], file_size: u64) -> Result<Self> {
        if h.len() < 0x200 || le32(h, 0x40) != SIGNATURE {
            return Err(Error::corrupt("not a VDI image: the signature at byte 0x40 is wrong"));
        }
        let version = le32(h, 0x44);
        let (version_major, version_minor) = ((version >> 16) as u16, (version & 0xffff) as u16);
        let mut hd = match version_major {
            1 => VdiHeader {
                version_major,
                version_minor,
                image_type: le32(h, 0x4c),
                offset_bmap: u64::from(le32(h, 0x154)),
                offset_data: u64::from(le32(h, 0x158)),
                disk_size: le64(h, 0x170),
                block_size: le32(h, 0x178),
                block_extra: le32(h, 0x17c),
                blocks_in_image: le32(h, 0x180),
                blocks_allocated: le32(h, 0x184),
                uuid_image: uuid_at(h, 0x188),
                uuid_link: uuid_at(h, 0x1a8),
            },
            0 => {
                // VDIPREHEADER (0x48) + VDIHEADER0 (0x15c); map then data follow.
                let blocks_in_image = le32(h, 0x16c);
                VdiHeader {
                    version_major,
                    version_minor,
                    image_type: le32(h, 0x48),
                    offset_bmap: 0x1a4,
                    offset_data: 0x1a4 + u64::from(blocks_in_image) * 4,
                    disk_size: le64(h, 0x160),
                    block_size: le32(h, 0x168),
                    block_extra: 0,
                    blocks_in_image,
                    blocks_allocated: le32(h, 0x170),
                    uuid_image: uuid_at(h, 0x174),
                    uuid_link: uuid_at(h, 0x194),
                }
            }
            _ => return Err(Error::unsupported(format!("VDI version {version_major}.{version_minor} is not supported (only 0.0 and 1.1)"))),
        };
        if !matches!(hd.image_type, TYPE_NORMAL | TYPE_FIXED | TYPE_UNDO | TYPE_DIFF) {
            return Err(Error::corrupt(format!("unknown VDI image type {}", hd.image_type)));
        }
        if hd.block_size == 0 || !hd.block_size.is_power_of_two() || hd.block_size < 512 || hd.block_size > (256 << 20) {
            return Err(Error::corrupt(format!("block size {} is not a power of two from 512 B to 256 MiB", hd.block_size)));
        }
        if hd.block_extra > (1 << 20) {
            return Err(Error::corrupt(format!("{} extra bytes per block are more than 1 MiB", hd.block_extra)));
        }
        let map_end = hd.offset_bmap.saturating_add(u64::from(hd.blocks_in_image) * 4);
        if map_end > file_size {
            return Err(Error::corrupt(format!(
                "the block map ({} entries at byte {:#x}) runs past the end of the file ({} bytes)",
                hd.blocks_in_image, hd.offset_bmap, file_size
            )));
        }
        let covered = u64::from(hd.blocks_in_image) * u64::from(hd.block_size);
        if covered < hd.disk_size {
            // Bytes past the map can't come from anywhere: show only what is mapped.
            hd.disk_size = covered;
        }
        Ok(hd)
    }
}

/// A VDI image's virtual disk.
pub struct VdiDisk {
    name: String,
    file: Reader,
    header: VdiHeader,
    /// The parent of a differencing image, when selected.
    parent: Option<Reader>,
    /// The parent's UUID when it was not selected.
    missing_parent: Option<String>,
}

impl VdiDisk {
    fn block_entry(&self, block: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.file.read_exact_at(self.header.offset_bmap + block * 4, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

impl ReadAt for VdiDisk {
    fn size(&self) -> u64 {
        self.header.disk_size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.header.disk_size)?;
        let bs = u64::from(self.header.block_size);
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos / bs;
            let within = pos % bs;
            let n = usize::try_from(bs - within).unwrap_or(usize::MAX).min(buf.len() - done);
            let piece = &mut buf[done..done + n];
            let ctx = |e: Error| e.context(format!("VDI {}, guest byte {pos:#x}", self.name));
            let entry = self.block_entry(block).map_err(ctx)?;
            match entry {
                BLOCK_ZERO => piece.fill(0),
                BLOCK_FREE => match (&self.parent, &self.missing_parent) {
                    (None, Some(uuid)) => {
                        return Err(ctx(Error::not_found(format!(
                            "this block is in the parent image {uuid}, which was not selected: select it together with this VDI"
                        ))))
                    }
                    (parent, _) => parents::read_parent_or_zeros(parent.as_ref(), pos, piece).map_err(ctx)?,
                },
                index => {
                    let host = u64::from(index)
                        .checked_mul(bs + u64::from(self.header.block_extra))
                        .and_then(|o| o.checked_add(self.header.offset_data + u64::from(self.header.block_extra) + within))
                        .ok_or_else(|| ctx(Error::corrupt(format!("block map entry {block} ({index}) points past any file"))))?;
                    self.file.read_exact_at(host, piece).map_err(|e| {
                        ctx(e.context(format!("block {block} is stored as block {index} at byte {host:#x}")))
                    })?;
                }
            }
            done += n;
        }
        Ok(())
    }
}

/// Opens `main` (a VDI image), with its parent chain from `others`.
pub fn open(main: Source, mut others: Vec<Source>, depth: usize) -> Result<Disk> {
    let name = main.name.clone();
    let in_ctx = |e: Error| e.context(format!("VDI {name}"));
    let file = main.reader.clone();
    let h = read_vec(&*file, 0, 0x200).map_err(in_ctx)?;
    let header = VdiHeader::from_bytes(&h, file.size()).map_err(in_ctx)?;
    let mut notes = Vec::new();
    let claimed = le64(&h, if header.version_major == 1 { 0x170 } else { 0x160 });
    if claimed > header.disk_size {
        notes.push(format!(
            "the header says the disk is {claimed} bytes but its block map covers only {}: the rest is not shown",
            header.disk_size
        ));
    }
    let mut parts = vec![name.clone()];
    let mut details = Vec::new();
    let subformat = match header.image_type {
        TYPE_FIXED => "static",
        TYPE_NORMAL => "dynamic",
        TYPE_UNDO => "undo",
        _ => "differencing",
    };
    let mut parent = None;
    let mut missing_parent = None;
    let mut parent_detail = None;
    let has_parent = header.uuid_link != [0u8; 16] && matches!(header.image_type, TYPE_DIFF | TYPE_UNDO);
    if has_parent {
        let link = header.uuid_link;
        let found = take_where(&mut others, |s| {
            let mut b = vec![0u8; 0x200];
            probe(&*s.reader)
                && s.reader.read_exact_at(0, &mut b).is_ok()
                && VdiHeader::from_bytes(&b, s.reader.size()).is_ok_and(|p| p.uuid_image == link)
        });
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
                let uuid = uuid_string(&link);
                notes.push(format!(
                    "{name} is a differencing image whose parent (UUID {uuid}) was not selected: blocks it didn't change can't be read until the parent VDI is selected together with it"
                ));
                parent_detail = Some(format!("UUID {uuid} (not selected)"));
                missing_parent = Some(format!("with UUID {uuid}"));
            }
        }
    }
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|s| s.name.as_str()).collect();
        notes.push(format!("ignored the other selected files ({}): the VDI doesn't refer to them", names.join(", ")));
    }
    let mut summary = vec![
        format!("VDI {}.{}", header.version_major, header.version_minor),
        subformat.to_string(),
        format!("{} blocks", human_bytes(u64::from(header.block_size))),
        format!("{} virtual", human_bytes(header.disk_size)),
        format!("{} of {} blocks allocated", header.blocks_allocated, header.blocks_in_image),
    ];
    if let Some(p) = parent_detail {
        summary.push(format!("parent {p}"));
    }
    details.insert(0, ("container".to_string(), summary.join(", ")));
    details.insert(1, ("uuid".to_string(), uuid_string(&header.uuid_image)));
    let disk = VdiDisk { name, file, header, parent, missing_parent };
    Ok(Disk { format: "VDI".into(), reader: Rc::new(disk), parts, notes, details })
}

/// Fuzzing entry point: open `data` as a VDI image and read a few ranges.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    use crate::read_at::MemReader;
    let src = Source { name: "fuzz.vdi".into(), reader: Rc::new(MemReader::new(data.to_vec())) };
    if let Ok(disk) = open(src, Vec::new(), 0) {
        let size = disk.reader.size();
        super::fuzz_reads(&disk, 70_000, &[0, 512, 1 << 20, size / 2, size.saturating_sub(70_000)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    /// v1.1, dynamic, 4 blocks of 1 KiB: block 0 → data block 1, block 1
    /// free, block 2 zero, block 3 → data block 0.
    fn image(image_type: u32) -> Vec<u8> {
        let mut h = vec![0u8; 0x400 + 2 * 1024];
        h[..0x28].copy_from_slice(b"<<< Oracle VM VirtualBox Disk Image >>>\n");
        h[0x40..0x44].copy_from_slice(&SIGNATURE.to_le_bytes());
        h[0x44..0x48].copy_from_slice(&0x0001_0001u32.to_le_bytes());
        h[0x48..0x4c].copy_from_slice(&0x190u32.to_le_bytes());
        h[0x4c..0x50].copy_from_slice(&image_type.to_le_bytes());
        h[0x154..0x158].copy_from_slice(&0x200u32.to_le_bytes());
        h[0x158..0x15c].copy_from_slice(&0x400u32.to_le_bytes());
        h[0x170..0x178].copy_from_slice(&4096u64.to_le_bytes());
        h[0x178..0x17c].copy_from_slice(&1024u32.to_le_bytes());
        h[0x180..0x184].copy_from_slice(&4u32.to_le_bytes());
        h[0x184..0x188].copy_from_slice(&2u32.to_le_bytes());
        h[0x188] = 0x11;
        for (i, e) in [1u32, BLOCK_FREE, BLOCK_ZERO, 0].iter().enumerate() {
            h[0x200 + i * 4..0x204 + i * 4].copy_from_slice(&e.to_le_bytes());
        }
        h[0x400..0x800].fill(0xaa);
        h[0x800..0xc00].fill(0xbb);
        h
    }

    fn src(name: &str, data: Vec<u8>) -> Source {
        Source { name: name.into(), reader: Rc::new(MemReader::new(data)) }
    }

    #[test]
    fn reads_blocks_through_the_map() {
        let disk = open(src("a.vdi", image(TYPE_NORMAL)), vec![], 0).unwrap();
        let mut buf = vec![0u8; 4096];
        disk.reader.read_exact_at(0, &mut buf).unwrap();
        assert!(buf[..1024].iter().all(|b| *b == 0xbb));
        assert!(buf[1024..3072].iter().all(|b| *b == 0));
        assert!(buf[3072..].iter().all(|b| *b == 0xaa));
        assert_eq!(disk.details[0].1, "VDI 1.1, dynamic, 1 KiB blocks, 4 KiB virtual, 2 of 4 blocks allocated");
    }

    #[test]
    fn a_child_reads_free_blocks_from_its_parent_found_by_uuid() {
        let parent = image(TYPE_NORMAL);
        let mut child = image(TYPE_DIFF);
        child[0x188] = 0x22;
        child[0x1a8] = 0x11; // link → parent's image UUID
        child[0x200..0x204].copy_from_slice(&BLOCK_FREE.to_le_bytes());
        let mut other = image(TYPE_FIXED);
        other[0x188] = 0x33;
        let disk = open(src("child.vdi", child.clone()), vec![src("other.vdi", other), src("parent.vdi", parent)], 0).unwrap();
        assert_eq!(disk.parts, ["child.vdi", "parent.vdi"]);
        assert!(disk.notes.iter().any(|n| n.contains("ignored the other selected files (other.vdi)")), "{:?}", disk.notes);
        let mut buf = vec![0u8; 1024];
        disk.reader.read_exact_at(1024, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 0), "block 1 is free in both");
        let alone = open(src("child.vdi", child), vec![], 0).unwrap();
        assert!(alone.notes[0].contains("parent (UUID 00000011-"), "{:?}", alone.notes);
        let e = alone.reader.read_exact_at(0, &mut buf).unwrap_err();
        assert!(e.to_string().contains("was not selected"), "{e}");
    }

    #[test]
    fn a_map_past_the_end_is_refused() {
        let mut h = image(TYPE_NORMAL);
        h[0x180..0x184].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        let e = open(src("a.vdi", h), vec![], 0).err().unwrap();
        assert!(e.to_string().contains("runs past the end of the file"), "{e}");
    }

    #[test]
    fn version_0_headers_put_the_map_after_the_header() {
        let mut h = vec![0u8; 0x1a4 + 8 + 2048];
        h[0x40..0x44].copy_from_slice(&SIGNATURE.to_le_bytes());
        h[0x48..0x4c].copy_from_slice(&TYPE_NORMAL.to_le_bytes());
        h[0x160..0x168].copy_from_slice(&2048u64.to_le_bytes());
        h[0x168..0x16c].copy_from_slice(&1024u32.to_le_bytes());
        h[0x16c..0x170].copy_from_slice(&2u32.to_le_bytes());
        h[0x1a4..0x1a8].copy_from_slice(&1u32.to_le_bytes());
        h[0x1a8..0x1ac].copy_from_slice(&BLOCK_FREE.to_le_bytes());
        h[0x1ac + 1024..].fill(0x77);
        let disk = open(src("old.vdi", h), vec![], 0).unwrap();
        let mut buf = vec![0u8; 2048];
        disk.reader.read_exact_at(0, &mut buf).unwrap();
        assert!(buf[..1024].iter().all(|b| *b == 0x77));
        assert!(buf[1024..].iter().all(|b| *b == 0));
    }

    #[test]
    fn fuzz_survives_garbage() {
        let h = image(TYPE_NORMAL);
        for i in 0..0x210 {
            let mut g = h.clone();
            g[i] ^= 0xff;
            fuzz(&g);
        }
    }
}
