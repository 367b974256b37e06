//! Old-style (non-thin) LVM snapshots: the persistent exception store of
//! dm-snapshot (the kernel's `drivers/md/dm-snap-persistent.c`).
//!
//! The COW LV is cut in chunks of `chunk_size` sectors. Chunk 0 is the
//! header: magic `0x70416e53` ("SnAp"), `valid`, version 1, chunk size.
//! Then areas: a metadata chunk of `chunk_bytes / 16` exceptions
//! `{old_chunk, new_chunk}` (u64 LE), followed by that many data chunks.
//! The first exception whose `new_chunk` is 0 ends the list. A snapshot
//! reads a chunk from the COW LV when an exception names it, else from
//! the origin.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::read_at::{read_vec, ReadAt, Reader};
use crate::bytes::{le32, le64};

const MAGIC: u32 = 0x7041_6e53;
/// Exceptions kept at most (16 bytes each in the file; a map entry here).
const MAX_EXCEPTIONS: usize = 8 << 20;


fn err(what: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("snapshot exception store: {what}"))
}

/// Which origin chunks the snapshot keeps in its COW LV, and where.
#[derive(Debug)]
pub struct SnapshotMap {
    pub chunk_bytes: u64,
    pub exceptions: HashMap<u64, u64>,
}

impl SnapshotMap {
    pub fn load(cow: &dyn ReadAt, chunk_bytes: u64) -> Result<SnapshotMap> {
        if chunk_bytes < 512 || chunk_bytes > (1 << 20) || !chunk_bytes.is_power_of_two() {
            return Err(err(format!("chunk size {chunk_bytes} bytes is out of range")));
        }
        let h = read_vec(cow, 0, 16)?;
        if le32(&h, 0) != MAGIC {
            return Err(err("no SnAp header"));
        }
        if le32(&h, 4) == 0 {
            return Err(Error::corrupt("the snapshot was invalidated (it overflowed or failed); its contents are not reliable"));
        }
        let stored_chunk = u64::from(le32(&h, 12)) * 512;
        if stored_chunk != chunk_bytes {
            return Err(err(format!("chunk size {stored_chunk} bytes in the header, {chunk_bytes} in the metadata")));
        }
        let per_area = chunk_bytes / 16;
        let chunks = cow.size() / chunk_bytes;
        let mut exceptions = HashMap::new();
        let mut area = 0u64;
        'areas: loop {
            // Area i's metadata chunk: 1 + i * (per_area + 1).
            let Some(chunk) = area.checked_mul(per_area + 1).and_then(|c| c.checked_add(1)).filter(|c| *c < chunks) else { break };
            // chunk_bytes ≤ 1 MiB, checked above.
            let b = read_vec(cow, chunk * chunk_bytes, chunk_bytes as usize)?;
            for e in b.chunks_exact(16) {
                let (old_chunk, new_chunk) = (le64(e, 0), le64(e, 8));
                if new_chunk == 0 {
                    break 'areas;
                }
                if new_chunk >= chunks {
                    return Err(err(format!("exception for chunk {old_chunk} points at chunk {new_chunk}, past the COW LV")));
                }
                if exceptions.len() >= MAX_EXCEPTIONS {
                    return Err(err(format!("more than {MAX_EXCEPTIONS} exceptions")));
                }
                exceptions.insert(old_chunk, new_chunk);
            }
            area += 1;
        }
        Ok(SnapshotMap { chunk_bytes, exceptions })
    }

    /// Reads the snapshot's view at `at`.
    pub fn read(&self, origin: &Reader, cow: &Reader, at: u64, buf: &mut [u8]) -> Result<()> {
        let cb = self.chunk_bytes;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = at + done as u64;
            let chunk = pos / cb;
            let within = pos % cb;
            let take = ((cb - within).min((buf.len() - done) as u64)) as usize;
            let part = &mut buf[done..done + take];
            match self.exceptions.get(&chunk) {
                Some(new_chunk) => cow.read_exact_at(new_chunk * cb + within, part)?,
                None => origin.read_exact_at(pos, part)?,
            }
            done += take;
        }
        Ok(())
    }
}
