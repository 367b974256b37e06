//! xz files (`.raw.xz`, `.img.xz`, `.tar.xz`) read in place, block by block.
//!
//! Follows "The .xz File Format" 1.1.0 (tukaani.org): streams of a 12-byte
//! header, blocks, an index and a 12-byte footer, possibly several streams
//! with zero padding between them. The index at the end of each stream lists
//! every block's unpadded size (header + compressed data + check) and
//! uncompressed size, so the whole file is mapped without decompressing:
//! from the last footer backwards (§2.1.2 Backward Size), stream by stream.
//!
//! A read decodes the one block that holds it (raw LZMA2 through `lzma-rs`,
//! pure Rust) into a small LRU. `xz -T0` (and `--block-size`) writes many
//! blocks, so reads are random access. A plain `xz` writes one block for the
//! whole file: that is only readable from its start, so one block up to
//! [`MAX_BLOCK_BYTES`] is decoded into memory, and a bigger one is refused
//! with what to do. Only the LZMA2 filter alone is read (what `xz` writes
//! by default); BCJ/delta filter chains are named and refused. The block's
//! check (CRC-32, CRC-64 or SHA-256) is verified on every decode: LZMA2
//! alone often decodes damaged data into garbage without noticing.

use std::rc::Rc;

use super::pieces::{Piece, PieceReader};
use super::{Disk, Source};
use crate::error::{alloc_bytes, Error, Result};
use crate::read_at::{read_vec, ReadAt, Reader};

/// Largest block decoded (for a single-block file, the whole file).
pub const MAX_BLOCK_BYTES: u64 = 256 << 20;
/// Most blocks in one file's indexes.
pub const MAX_BLOCKS: u64 = 4 << 20;
/// Most concatenated streams.
const MAX_STREAMS: usize = 4096;
const BLOCK_CACHE: usize = 4;
const MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

pub fn probe(r: &dyn ReadAt) -> bool {
    r.size() >= 32 && read_vec(r, 0, 6).is_ok_and(|m| m == MAGIC)
}

/// One block: where it is in the file and in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XzBlock {
    /// File offset of the block header.
    pub offset: u64,
    pub unpadded_bytes: u64,
    pub out: u64,
    pub out_bytes: u64,
    /// Size of the check after the data and its type (stream flags).
    pub check_bytes: u64,
    pub check_type: u8,
}

/// Reads a multibyte integer (§1.2) from `b` at `*pos`.
fn varint(b: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(*pos).ok_or_else(|| Error::corrupt("an xz number runs past its field"))?;
        *pos = pos.saturating_add(1);
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(Error::corrupt("an xz number is not in its shortest form"));
            }
            return Ok(v);
        }
    }
    Err(Error::corrupt("an xz number is longer than 9 bytes"))
}

fn check_bytes(flags: u8) -> u64 {
    match flags & 0x0f {
        0 => 0,
        1..=3 => 4,
        4..=6 => 8,
        7..=9 => 16,
        10..=12 => 32,
        _ => 64,
    }
}

/// Maps every block of every stream, from the end of the file.
pub fn blocks(r: &dyn ReadAt) -> Result<Vec<XzBlock>> {
    let mut end = r.size();
    let mut streams: Vec<Vec<(u64, u64, u64, u8)>> = Vec::new(); // (offset, unpadded, out_bytes, stream flags) per stream
    let mut total: u64 = 0;
    while end > 0 {
        if streams.len() >= MAX_STREAMS {
            return Err(Error::unsupported(format!("more than {MAX_STREAMS} xz streams")));
        }
        // Stream padding: zeros in multiples of four.
        if end >= 4 && read_vec(r, end - 4, 4)? == [0; 4] {
            end -= 4;
            continue;
        }
        if end < 24 {
            return Err(Error::corrupt("the xz file is cut short (no room for a stream header and footer)").at_offset(end));
        }
        let footer = read_vec(r, end - 12, 12)?;
        if footer[10..12] != *b"YZ" {
            return Err(Error::corrupt("the xz stream footer is missing: the file is cut short or damaged").at_offset(end - 12));
        }
        if crc32fast::hash(&footer[4..10]) != u32::from_le_bytes([footer[0], footer[1], footer[2], footer[3]]) {
            return Err(Error::corrupt("the xz stream footer fails its CRC-32").at_offset(end - 12));
        }
        let flags = footer[9];
        let index_bytes = (u64::from(u32::from_le_bytes([footer[4], footer[5], footer[6], footer[7]])) + 1) * 4;
        let index_at = end
            .checked_sub(12)
            .and_then(|e| e.checked_sub(index_bytes))
            .ok_or_else(|| Error::corrupt("the xz index is bigger than the file").at_offset(end - 12))?;
        let index = {
            let mut v = alloc_bytes(index_bytes, MAX_BLOCKS.saturating_mul(20), "the xz index")?;
            r.read_exact_at(index_at, &mut v)?;
            v
        };
        let n = index.len();
        if index[0] != 0 || crc32fast::hash(&index[..n - 4]) != u32::from_le_bytes([index[n - 4], index[n - 3], index[n - 2], index[n - 1]]) {
            return Err(Error::corrupt("the xz index is damaged (indicator or CRC-32)").at_offset(index_at));
        }
        let mut pos = 1usize;
        let count = varint(&index, &mut pos).map_err(|e| e.at_offset(index_at))?;
        if count > MAX_BLOCKS || total.saturating_add(count) > MAX_BLOCKS {
            return Err(Error::unsupported(format!("the xz file has more than {MAX_BLOCKS} blocks")));
        }
        total = total.saturating_add(count);
        let mut recs = Vec::new();
        let mut blocks_bytes = 0u64;
        for _ in 0..count {
            let unpadded = varint(&index, &mut pos).map_err(|e| e.at_offset(index_at))?;
            let out = varint(&index, &mut pos).map_err(|e| e.at_offset(index_at))?;
            if unpadded < 5 {
                return Err(Error::corrupt("an xz index record is too small").at_offset(index_at));
            }
            recs.push((blocks_bytes, unpadded, out, flags));
            blocks_bytes = blocks_bytes.saturating_add(unpadded.div_ceil(4).saturating_mul(4));
        }
        let start = index_at
            .checked_sub(blocks_bytes)
            .and_then(|s| s.checked_sub(12))
            .ok_or_else(|| Error::corrupt("the xz index lists more data than the file holds").at_offset(index_at))?;
        let header = read_vec(r, start, 12)?;
        if header[..6] != MAGIC || header[7] != flags {
            return Err(Error::corrupt("the xz stream header does not match its footer").at_offset(start));
        }
        for rec in &mut recs {
            rec.0 = rec.0.saturating_add(start + 12);
        }
        streams.push(recs);
        end = start;
    }
    if streams.is_empty() {
        return Err(Error::corrupt("the xz file holds no stream"));
    }
    let mut out = Vec::new();
    let mut at = 0u64;
    for recs in streams.into_iter().rev() {
        for (offset, unpadded, n, flags) in recs {
            let (check_bytes, check_type) = (check_bytes(flags), flags & 0x0f);
            out.push(XzBlock { offset, unpadded_bytes: unpadded, out: at, out_bytes: n, check_bytes, check_type });
            at = at.checked_add(n).ok_or_else(|| Error::corrupt("the xz sizes overflow"))?;
        }
    }
    Ok(out)
}

/// Decodes one block into exactly `out_bytes`.
fn decode_block(r: &dyn ReadAt, b: &XzBlock) -> Result<Vec<u8>> {
    let check = b.check_bytes;
    let raw = {
        // The check follows the block padding: read the padded block.
        let mut v = alloc_bytes(b.unpadded_bytes.div_ceil(4).saturating_mul(4), MAX_BLOCK_BYTES.saturating_mul(2), "an xz block")?;
        r.read_exact_at(b.offset, &mut v)?;
        v
    };
    let hsize = (usize::from(raw[0]) + 1) * 4;
    if raw[0] == 0 || hsize > raw.len() {
        return Err(Error::corrupt("an xz block header has an impossible size").at_offset(b.offset));
    }
    let h = &raw[..hsize];
    if crc32fast::hash(&h[..hsize - 4]) != u32::from_le_bytes([h[hsize - 4], h[hsize - 3], h[hsize - 2], h[hsize - 1]]) {
        return Err(Error::corrupt("an xz block header fails its CRC-32").at_offset(b.offset));
    }
    let flags = h[1];
    let mut pos = 2usize;
    if flags & 0x40 != 0 {
        varint(h, &mut pos)?;
    }
    if flags & 0x80 != 0 {
        varint(h, &mut pos)?;
    }
    let filters = usize::from(flags & 3) + 1;
    let id = varint(h, &mut pos)?;
    if filters != 1 || id != 0x21 {
        return Err(Error::unsupported(format!(
            "this xz file uses a filter chain ({filters} filters, first {id:#x}) Salvage does not read; only plain LZMA2 (what `xz` writes by default)"
        )));
    }
    let comp_end = usize::try_from(b.unpadded_bytes.saturating_sub(check)).unwrap_or(0);
    if comp_end <= hsize {
        return Err(Error::corrupt("an xz block has no room for its data").at_offset(b.offset));
    }
    let mut input = &raw[hsize..comp_end];
    let mut out = Limited { v: Vec::new(), limit: b.out_bytes };
    out.v.try_reserve_exact(usize::try_from(b.out_bytes).unwrap_or(usize::MAX)).map_err(|_| Error::io("out of memory for an xz block"))?;
    lzma_rs::lzma2_decompress(&mut input, &mut out).map_err(|e| Error::corrupt(format!("the xz block's LZMA2 data is damaged ({e})")).at_offset(b.offset))?;
    if out.v.len() as u64 != b.out_bytes {
        return Err(Error::corrupt(format!("an xz block gives {} bytes, its index says {}", out.v.len(), b.out_bytes)).at_offset(b.offset));
    }
    let stored = &raw[raw.len().saturating_sub(usize::try_from(check).unwrap_or(0))..];
    let ok = match b.check_bytes {
        4 if b.check_type == 1 => stored == crc32fast::hash(&out.v).to_le_bytes(),
        8 if b.check_type == 4 => stored == crc::Crc::<u64>::new(&crc::CRC_64_XZ).checksum(&out.v).to_le_bytes(),
        32 if b.check_type == 10 => {
            use sha2::Digest;
            stored == sha2::Sha256::digest(&out.v).as_slice()
        }
        _ => true, // none, or a reserved check type: nothing to compare
    };
    if !ok {
        return Err(Error::corrupt("an xz block fails its check: the data is damaged").at_offset(b.offset));
    }
    Ok(out.v)
}

/// A Vec writer refusing to grow past the block's indexed size.
struct Limited {
    v: Vec<u8>,
    limit: u64,
}

impl std::io::Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if (self.v.len() as u64).saturating_add(buf.len() as u64) > self.limit {
            return Err(std::io::Error::other("more data than the index says"));
        }
        self.v.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The decompressed xz file, block by block.
pub type XzReader = PieceReader<XzBlock>;

impl Piece for XzBlock {
    fn out(&self) -> u64 {
        self.out
    }
    fn out_bytes(&self) -> u64 {
        self.out_bytes
    }
}

/// Maps `src`; refuses blocks too large to decode for one read.
pub fn reader(src: Reader) -> Result<XzReader> {
    let blocks = blocks(&*src)?;
    let size = blocks.last().map_or(0, |b| b.out.saturating_add(b.out_bytes));
    if let Some(big) = blocks.iter().find(|b| b.out_bytes > MAX_BLOCK_BYTES) {
        let what = if blocks.len() == 1 { "is one xz block".to_string() } else { format!("has an xz block of {}", super::human_size(big.out_bytes)) };
        return Err(Error::unsupported(format!(
            "this file {what} of {} in all: xz can only read a block from its start, so it can't be opened in place — extract it first (`xz -dk`), or recompress with `xz -T0 --block-size=16MiB` for random access",
            super::human_size(size)
        )));
    }
    Ok(PieceReader::new(src, blocks, decode_block, "an xz block", BLOCK_CACHE))
}

pub fn open(main: Source, others: Vec<Source>, options: &super::DiskOptions, depth: usize) -> Result<Disk> {
    super::check_nesting(&main, depth)?;
    let x = reader(main.reader.clone()).map_err(|e| e.context(main.name.clone()))?;
    let detail = format!("{} blocks, {} compressed, {} decompressed", x.pieces().len(), super::human_size(main.reader.size()), super::human_size(x.size()));
    let name = main.name.strip_suffix(".xz").or(main.name.strip_suffix(".txz")).unwrap_or(&main.name).to_string();
    let inner = Source { name, reader: Rc::new(x) };
    let mut disk = super::detect::open_layer_with(inner, others, options, depth.saturating_add(1))?;
    disk.details.insert(0, ("xz".into(), detail));
    disk.format = format!("{} in xz", disk.format);
    disk.parts.insert(0, main.name);
    Ok(disk)
}

#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let src: Reader = Rc::new(crate::read_at::MemReader::new(data.to_vec()));
    if let Ok(x) = reader(src) {
        let disk = Disk { format: "fuzz".into(), reader: Rc::new(x), parts: Vec::new(), notes: Vec::new(), details: Vec::new() };
        let size = disk.reader.size();
        super::fuzz_reads(&disk, 4096, &[0, size / 2, size.saturating_sub(4096)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_checked() {
        let mut p = 0;
        assert_eq!(varint(&[0x80, 0x01], &mut p).unwrap(), 128);
        let mut p = 0;
        assert!(varint(&[0x80, 0x00], &mut p).is_err());
        let mut p = 0;
        assert!(varint(&[0x80], &mut p).is_err());
    }

    #[test]
    fn a_bad_footer_is_a_sentence() {
        let mut d = MAGIC.to_vec();
        d.resize(64, 0xff);
        let e = blocks(&crate::read_at::MemReader::new(d)).unwrap_err().to_string();
        assert!(e.contains("the xz stream footer is missing"), "{e}");
    }
}
