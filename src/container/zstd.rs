//! zstd files (`.img.zst`, `.tar.zst`) read in place, frame by frame.
//!
//! Follows RFC 8878 (Zstandard frames: §3.1.1 frame header, §3.1.1.2 block
//! headers, §3.1.2 skippable frames) and the zstd "Seekable Format"
//! (contrib/seekable_format: a skippable frame at the end whose 9-byte
//! footer ends in `0x8F92EAB1`, listing every frame's compressed and
//! decompressed size).
//!
//! Without a seek table the frames are mapped by walking their headers and
//! block headers (3 bytes per block of at most 128 KiB; nothing is
//! decompressed) and taking each frame's size from its Frame_Content_Size.
//! A read decodes the one frame that holds it (ruzstd, pure Rust) into an
//! LRU. The `zstd` tool writes one frame for the whole file: like a
//! single-block xz, that can only be read from its start, so one frame up
//! to [`MAX_FRAME_BYTES`] is decoded into memory and a bigger one is
//! refused with what to do (`zstd -d`, or `pzstd`/seekable compression).
//! Frames without a content size are decoded once while mapping.

use std::rc::Rc;

use super::pieces::{Piece, PieceReader};
use super::{Disk, Source};
use crate::error::{alloc_bytes, Error, Result};
use crate::read_at::{read_vec, ReadAt, Reader};

/// Largest frame decoded for a read.
pub const MAX_FRAME_BYTES: u64 = 256 << 20;
/// Most frames mapped.
pub const MAX_FRAMES: usize = 4 << 20;
const FRAME_CACHE: usize = 4;
const MAGIC: u32 = 0xFD2F_B528;
const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;

/// A zstd frame at the start, or a skippable frame (pzstd writes one
/// first) followed by one.
pub fn probe(r: &dyn ReadAt) -> bool {
    let Ok(m) = read_vec(r, 0, 8) else { return false };
    let magic = le32(&m);
    if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
        let next = 8u64.saturating_add(u64::from(le32(&m[4..])));
        return read_vec(r, next, 4).is_ok_and(|m| le32(&m) == MAGIC);
    }
    r.size() >= 9 && magic == MAGIC
}

/// One frame: where it is in the file and in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZstdFrame {
    pub offset: u64,
    pub bytes: u64,
    pub out: u64,
    pub out_bytes: u64,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Frames from a seek table at the end, when there is one.
fn seek_table(r: &dyn ReadAt) -> Result<Option<Vec<ZstdFrame>>> {
    let size = r.size();
    if size < 17 {
        return Ok(None);
    }
    let foot = read_vec(r, size - 9, 9)?;
    if le32(&foot[5..9]) != SEEKABLE_MAGIC {
        return Ok(None);
    }
    let count = u64::from(le32(&foot[..4]));
    let checksums = foot[4] & 0x80 != 0;
    let entry = if checksums { 12 } else { 8 };
    let table = count.saturating_mul(entry);
    let start = size
        .checked_sub(9)
        .and_then(|e| e.checked_sub(table))
        .and_then(|e| e.checked_sub(8))
        .ok_or_else(|| Error::corrupt("the zstd seek table is bigger than the file"))?;
    if count > MAX_FRAMES as u64 {
        return Err(Error::unsupported(format!("the zstd seek table lists more than {MAX_FRAMES} frames")));
    }
    let head = read_vec(r, start, 8)?;
    if le32(&head[..4]) != 0x184D_2A5E || u64::from(le32(&head[4..8])) != table.saturating_add(9) {
        return Err(Error::corrupt("the zstd seek table's skippable frame header does not match its footer").at_offset(start));
    }
    let mut data = alloc_bytes(table, 64 << 20, "the zstd seek table")?;
    r.read_exact_at(start + 8, &mut data)?;
    let mut frames = Vec::new();
    let (mut at, mut out) = (0u64, 0u64);
    for e in data.chunks(usize::try_from(entry).unwrap_or(8)) {
        let (c, d) = (u64::from(le32(&e[..4])), u64::from(le32(&e[4..8])));
        frames.push(ZstdFrame { offset: at, bytes: c, out, out_bytes: d });
        at = at.saturating_add(c);
        out = out.saturating_add(d);
    }
    if at != start {
        return Err(Error::corrupt(format!("the zstd seek table's frames end at byte {at}, the table starts at {start}")));
    }
    Ok(Some(frames))
}

/// Walks one frame's header and blocks at `at`: (length, content size if stored).
fn walk_frame(r: &dyn ReadAt, at: u64) -> Result<(u64, Option<u64>)> {
    let size = r.size();
    let avail = size.saturating_sub(at);
    let head = read_vec(r, at, usize::try_from(avail.min(18)).unwrap_or(0))?;
    if head.len() < 6 {
        return Err(Error::corrupt("the file ends inside a zstd frame header: it is cut short").at_offset(at));
    }
    let fhd = head[4];
    let single = fhd & 0x20 != 0;
    let checksum = fhd & 0x04 != 0;
    if fhd & 0x08 != 0 {
        return Err(Error::corrupt("a zstd frame header sets its reserved bit").at_offset(at));
    }
    let dict = [0usize, 1, 2, 4][usize::from(fhd & 3)];
    let fcs = match fhd >> 6 {
        0 => usize::from(single),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let mut pos = 5usize.saturating_add(usize::from(!single)).saturating_add(dict);
    let hdr_end = pos.saturating_add(fcs);
    if hdr_end > head.len() {
        return Err(Error::corrupt("the file ends inside a zstd frame header: it is cut short").at_offset(at));
    }
    let content = if fcs == 0 {
        None
    } else {
        let mut v = 0u64;
        for (i, &b) in head[pos..hdr_end].iter().enumerate() {
            v |= u64::from(b) << (8 * i);
        }
        Some(if fcs == 2 { v.saturating_add(256) } else { v })
    };
    pos = hdr_end;
    let mut p = at.saturating_add(pos as u64);
    loop {
        if p.saturating_add(3) > size {
            return Err(Error::corrupt("the file ends inside a zstd frame: it is cut short").at_offset(p));
        }
        let b = read_vec(r, p, 3)?;
        let h = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
        let (last, kind, len) = (h & 1 != 0, (h >> 1) & 3, u64::from(h >> 3));
        let stored = match kind {
            0 | 2 => len,
            1 => 1,
            _ => return Err(Error::corrupt("a zstd block has the reserved type").at_offset(p)),
        };
        p = p.saturating_add(3).saturating_add(stored);
        if last {
            break;
        }
    }
    if checksum {
        p = p.saturating_add(4);
    }
    if p > size {
        return Err(Error::corrupt("the file ends inside a zstd frame: it is cut short").at_offset(size));
    }
    Ok((p - at, content))
}

/// Decodes one frame (at most `limit` bytes out).
fn decode(r: &dyn ReadAt, offset: u64, bytes: u64, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut input = alloc_bytes(bytes, MAX_FRAME_BYTES.saturating_mul(2), "a zstd frame")?;
    r.read_exact_at(offset, &mut input)?;
    let mut src = input.as_slice();
    let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src)
        .map_err(|e| Error::corrupt(format!("a zstd frame header is damaged ({e})")).at_offset(offset))?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = dec.read(&mut chunk).map_err(|e| Error::corrupt(format!("a zstd frame is damaged ({e})")).at_offset(offset))?;
        if n == 0 {
            break;
        }
        if (out.len() as u64).saturating_add(n as u64) > limit {
            return Err(Error::corrupt("a zstd frame gives more data than its size says").at_offset(offset));
        }
        out.try_reserve(n).map_err(|_| Error::io("out of memory decoding a zstd frame"))?;
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(out)
}

/// Maps every frame of `r` (skippable frames skipped).
pub fn frames(r: &dyn ReadAt) -> Result<(Vec<ZstdFrame>, bool)> {
    if let Some(f) = seek_table(r)? {
        return Ok((f, true));
    }
    let size = r.size();
    let mut frames = Vec::new();
    let (mut at, mut out) = (0u64, 0u64);
    while at < size {
        if frames.len() >= MAX_FRAMES {
            return Err(Error::unsupported(format!("the zstd file has more than {MAX_FRAMES} frames")));
        }
        if at.saturating_add(8) > size {
            return Err(Error::corrupt("the file ends inside a zstd frame header: it is cut short").at_offset(at));
        }
        let m = read_vec(r, at, 8)?;
        let magic = le32(&m);
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            at = at.saturating_add(8).saturating_add(u64::from(le32(&m[4..])));
            continue;
        }
        if magic != MAGIC {
            return Err(Error::corrupt("expected a zstd frame here").at_offset(at));
        }
        let (bytes, content) = walk_frame(r, at)?;
        let out_bytes = match content {
            Some(n) => n,
            None => decode(r, at, bytes, MAX_FRAME_BYTES)?.len() as u64,
        };
        frames.push(ZstdFrame { offset: at, bytes, out, out_bytes });
        at = at.saturating_add(bytes);
        out = out.checked_add(out_bytes).ok_or_else(|| Error::corrupt("the zstd sizes overflow"))?;
    }
    Ok((frames, false))
}

/// The decompressed zstd file, frame by frame.
pub type ZstdReader = PieceReader<ZstdFrame>;

impl Piece for ZstdFrame {
    fn out(&self) -> u64 {
        self.out
    }
    fn out_bytes(&self) -> u64 {
        self.out_bytes
    }
}

fn decode_frame(r: &dyn ReadAt, f: &ZstdFrame) -> Result<Vec<u8>> {
    decode(r, f.offset, f.bytes, f.out_bytes)
}

/// Maps `src`, and whether it is in the seekable format; refuses frames
/// too large to decode for one read.
pub fn reader(src: Reader) -> Result<(ZstdReader, bool)> {
    let (frames, seekable) = frames(&*src)?;
    let size = frames.last().map_or(0, |f| f.out.saturating_add(f.out_bytes));
    if let Some(big) = frames.iter().find(|f| f.out_bytes > MAX_FRAME_BYTES) {
        let what = if frames.len() == 1 { "is one zstd frame".to_string() } else { format!("has a zstd frame of {}", super::human_size(big.out_bytes)) };
        return Err(Error::unsupported(format!(
            "this file {what} of {} in all: a zstd frame can only be read from its start, so it can't be opened in place — extract it first (`zstd -d`), or compress in frames (`pzstd`, or the seekable format) for random access",
            super::human_size(size)
        )));
    }
    Ok((PieceReader::new(src, frames, decode_frame, "a zstd frame", FRAME_CACHE), seekable))
}

pub fn open(main: Source, others: Vec<Source>, options: &super::DiskOptions, depth: usize) -> Result<Disk> {
    super::check_nesting(&main, depth)?;
    let (z, seekable) = reader(main.reader.clone()).map_err(|e| e.context(main.name.clone()))?;
    let detail = format!(
        "{} frames{}, {} compressed, {} decompressed",
        z.pieces().len(),
        if seekable { " (seekable format)" } else { "" },
        super::human_size(main.reader.size()),
        super::human_size(z.size())
    );
    let name = main.name.strip_suffix(".zst").or(main.name.strip_suffix(".tzst")).unwrap_or(&main.name).to_string();
    let inner = Source { name, reader: Rc::new(z) };
    let mut disk = super::detect::open_layer_with(inner, others, options, depth.saturating_add(1))?;
    disk.details.insert(0, ("zstd".into(), detail));
    disk.format = format!("{} in zstd", disk.format);
    disk.parts.insert(0, main.name);
    Ok(disk)
}

#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let src: Reader = Rc::new(crate::read_at::MemReader::new(data.to_vec()));
    if let Ok((z, _)) = reader(src) {
        let disk = Disk { format: "fuzz".into(), reader: Rc::new(z), parts: Vec::new(), notes: Vec::new(), details: Vec::new() };
        let size = disk.reader.size();
        super::fuzz_reads(&disk, 4096, &[0, size / 2, size.saturating_sub(4096)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    #[test]
    fn a_raw_block_frame_and_a_seek_table() {
        // One frame: single segment, FCS 1 byte = 5, one raw last block "hello".
        let mut f = MAGIC.to_le_bytes().to_vec();
        f.extend_from_slice(&[0x20, 5]);
        let h: u32 = 1 | (5 << 3);
        f.extend_from_slice(&h.to_le_bytes()[..3]);
        f.extend_from_slice(b"hello");
        let mut two = f.clone();
        two.extend_from_slice(&f);
        let (z, seekable) = reader(Rc::new(MemReader::new(two.clone()))).unwrap();
        assert!(!seekable);
        let mut b = [0u8; 10];
        z.read_exact_at(0, &mut b).unwrap();
        assert_eq!(&b, b"hellohello");
        // The same with a seek table.
        let n = f.len() as u32;
        two.extend_from_slice(&0x184D_2A5Eu32.to_le_bytes());
        two.extend_from_slice(&(16u32 + 9).to_le_bytes());
        for _ in 0..2 {
            two.extend_from_slice(&n.to_le_bytes());
            two.extend_from_slice(&5u32.to_le_bytes());
        }
        two.extend_from_slice(&2u32.to_le_bytes());
        two.push(0);
        two.extend_from_slice(&SEEKABLE_MAGIC.to_le_bytes());
        let (z, seekable) = reader(Rc::new(MemReader::new(two))).unwrap();
        assert!(seekable);
        z.read_exact_at(0, &mut b).unwrap();
        assert_eq!(&b, b"hellohello");
    }
}
