//! A decompressed stream made of pieces that decode on their own — xz
//! blocks, zstd frames — read at random: a read finds the piece holding
//! each byte, decodes it whole (checking it yields the size its index
//! says) and keeps the last few decoded pieces for sequential work.

use super::lru::Lru;
use crate::error::{Error, Result};
use crate::read_at::{check_range, ReadAt, Reader};

/// Where a piece's bytes go in the decompressed stream.
pub trait Piece: Copy {
    /// Offset of its first byte in the decompressed stream.
    fn out(&self) -> u64;
    /// How many bytes it decompresses to.
    fn out_bytes(&self) -> u64;
}

/// Decoded pieces kept: about this many bytes, at least one piece.
const CACHE_BYTES: u64 = 128 << 20;

pub struct PieceReader<P: Piece> {
    src: Reader,
    pieces: Vec<P>,
    size: u64,
    cache: Lru<Vec<u8>>,
    decode: fn(&dyn ReadAt, &P) -> Result<Vec<u8>>,
    /// What a piece is called in sentences: "an xz block", "a zstd frame".
    what: &'static str,
}

impl<P: Piece> PieceReader<P> {
    /// `pieces` in stream order, each starting where the one before ends
    /// (empty ones allowed); at most `max_cached` decoded pieces are kept.
    pub fn new(src: Reader, pieces: Vec<P>, decode: fn(&dyn ReadAt, &P) -> Result<Vec<u8>>, what: &'static str, max_cached: usize) -> Self {
        let size = pieces.last().map_or(0, |p| p.out().saturating_add(p.out_bytes()));
        let largest = pieces.iter().map(Piece::out_bytes).max().unwrap_or(1).max(1);
        let keep = usize::try_from(CACHE_BYTES.checked_div(largest).unwrap_or(1)).unwrap_or(max_cached).clamp(1, max_cached.max(1));
        PieceReader { src, pieces, size, cache: Lru::new(keep), decode, what }
    }

    pub fn pieces(&self) -> &[P] {
        &self.pieces
    }
}

impl<P: Piece> ReadAt for PieceReader<P> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset.saturating_add(done as u64);
            // The first piece ending after pos (empty pieces end at their start).
            let i = self.pieces.partition_point(|p| p.out().saturating_add(p.out_bytes()) <= pos);
            let piece = *self.pieces.get(i).ok_or_else(|| Error::corrupt("nothing in the index holds this byte").at_offset(pos))?;
            let data = self.cache.get_or_load(i as u64, || {
                let d = (self.decode)(&*self.src, &piece)?;
                if d.len() as u64 != piece.out_bytes() {
                    return Err(Error::corrupt(format!("{} gives {} bytes, {} expected", self.what, d.len(), piece.out_bytes())).at_offset(pos));
                }
                Ok(d)
            })?;
            // pos lies in this piece: out <= pos < out + out_bytes = data.len() past out.
            let within = usize::try_from(pos.saturating_sub(piece.out())).unwrap_or(usize::MAX);
            let n = data.len().saturating_sub(within).min(buf.len().saturating_sub(done));
            if n == 0 {
                return Err(Error::corrupt(format!("{} is shorter than its index says", self.what)).at_offset(pos));
            }
            buf[done..][..n].copy_from_slice(&data[within..][..n]);
            done = done.saturating_add(n);
        }
        Ok(())
    }
}
