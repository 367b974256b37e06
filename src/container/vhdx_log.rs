//! VHDX log replay, in memory (MS-VHDX 2.3 "Log").
//!
//! A VHDX whose header names a non-zero log GUID was not closed cleanly:
//! metadata updates (BAT pages, metadata items) may sit in the log and not
//! yet in their place. Salvage never writes to the image, so the active log
//! sequence is applied as an overlay ([`VhdxReplayed`]) that every later
//! read of the file goes through.
//!
//! The log region is read once (it is small: 1 MiB by default, capped at
//! [`MAX_LOG_BYTES`]). Every 4 KiB position is tried as an entry start; an
//! entry is valid when its signature, length, log GUID, descriptors (with
//! matching sequence numbers, and data sectors with theirs) and CRC-32C
//! hold. Consecutive valid entries with sequence numbers increasing by one
//! form a sequence; the sequence whose last entry has the highest number is
//! active, and it is replayed from the entry its head's `tail` field names.

// Offsets and lengths here come from disk, so every table offset is checked
// against the file's real length where it is used, sizes are capped
// (clusters <= 2 MiB, blocks <= 256 MiB, the log <= 64 MiB) before anything
// is allocated or cast to usize, and the remaining arithmetic works on
// values those checks bound; the fuzz targets run with overflow checks on.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;

use super::vhdx::crc32c;
use crate::error::{Error, Result};
use crate::read_at::{check_range, ReadAt, Reader};
use crate::bytes::{le32, le64};

const SECTOR: u64 = 4096;
/// Largest log region read into memory.
pub const MAX_LOG_BYTES: u64 = 64 << 20;
/// Most 4 KiB sectors the overlay may hold (zero descriptors count too).
const MAX_OVERLAY_SECTORS: u64 = 1 << 18;



/// One parsed, checked log entry.
struct LogEntry {
    /// Offset in the log region.
    start: u64,
    length: u64,
    tail: u64,
    sequence: u64,
    flushed_file_offset: u64,
    last_file_offset: u64,
    /// (file offset, Some(4 KiB of data) | None for zeros, sectors).
    writes: Vec<(u64, Option<Vec<u8>>, u64)>,
}

/// The log region, read once, addressed circularly.
struct LogRing<'a> {
    data: &'a [u8],
}

impl LogRing<'_> {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    /// `len` bytes from ring offset `at`, wrapping at the end.
    fn bytes(&self, at: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        let mut pos = at % self.len();
        while (out.len() as u64) < len {
            let n = (self.len() - pos).min(len - out.len() as u64);
            out.extend_from_slice(&self.data[pos as usize..(pos + n) as usize]);
            pos = (pos + n) % self.len();
        }
        out
    }

    /// The valid entry at `start`, if one is there.
    fn entry(&self, start: u64, log_guid: &[u8; 16]) -> Option<LogEntry> {
        let head = self.bytes(start, SECTOR);
        if &head[0..4] != b"loge" {
            return None;
        }
        let length = u64::from(le32(&head, 8));
        let tail = u64::from(le32(&head, 12));
        let sequence = le64(&head, 16);
        let count = u64::from(le32(&head, 24));
        if length == 0 || length % SECTOR != 0 || length > self.len() || sequence == 0 || &head[32..48] != log_guid {
            return None;
        }
        let desc_sectors = (count + 2).div_ceil(128);
        if desc_sectors * SECTOR > length {
            return None;
        }
        let mut whole = self.bytes(start, length);
        let stored = le32(&whole, 4);
        whole[4..8].fill(0);
        if crc32c(&whole) != stored {
            return None;
        }
        let mut writes = Vec::new();
        let mut data_sector = desc_sectors;
        for i in 0..count {
            let d = (64 + i * 32) as usize;
            let sig = &whole[d..d + 4];
            let file_offset = le64(&whole, d + 16);
            if le64(&whole, d + 24) != sequence || !file_offset.is_multiple_of(SECTOR) {
                return None;
            }
            if sig == b"zero" {
                let zero_length = le64(&whole, d + 8);
                if !zero_length.is_multiple_of(SECTOR) {
                    return None;
                }
                writes.push((file_offset, None, zero_length / SECTOR));
            } else if sig == b"desc" {
                let s = data_sector.checked_mul(SECTOR).filter(|s| s + SECTOR <= length)? as usize;
                let sector = &whole[s..s + SECTOR as usize];
                let seq = (u64::from(le32(sector, 4)) << 32) | u64::from(le32(sector, 4092));
                if &sector[0..4] != b"data" || seq != sequence {
                    return None;
                }
                let mut out = Vec::with_capacity(SECTOR as usize);
                out.extend_from_slice(&whole[d + 8..d + 16]); // leading bytes
                out.extend_from_slice(&sector[8..4092]);
                out.extend_from_slice(&whole[d + 4..d + 8]); // trailing bytes
                writes.push((file_offset, Some(out), 1));
                data_sector += 1;
            } else {
                return None;
            }
        }
        Some(LogEntry {
            start,
            length,
            tail,
            sequence,
            flushed_file_offset: le64(&head, 48),
            last_file_offset: le64(&head, 56),
            writes,
        })
    }
}

/// The file as it is after replaying its log.
pub struct VhdxReplayed {
    inner: Reader,
    size: u64,
    /// 4 KiB-aligned file offset → its replayed content (None: zeros).
    sectors: BTreeMap<u64, Option<Vec<u8>>>,
}

impl VhdxReplayed {
    /// Replays the active sequence of the log at `[log_offset, +log_length)`
    /// of `file`; `Ok(None)` when the log holds no valid sequence.
    pub fn replay(file: Reader, log_offset: u64, log_length: u64, log_guid: &[u8; 16]) -> Result<Option<(Self, String)>> {
        if log_length == 0 || !log_length.is_multiple_of(SECTOR) || log_length > MAX_LOG_BYTES {
            return Err(Error::unsupported(format!(
                "the log must be replayed but its length ({log_length} bytes) is not a multiple of 4 KiB up to {MAX_LOG_BYTES}"
            )));
        }
        check_range(log_offset, log_length as usize, file.size())
            .map_err(|_| Error::corrupt("the log must be replayed but it lies past the end of the file"))?;
        let mut data = vec![0u8; log_length as usize];
        file.read_exact_at(log_offset, &mut data)?;
        let ring = LogRing { data: &data };
        let mut best: Option<Vec<LogEntry>> = None;
        let mut pos = 0u64;
        while pos < log_length {
            let Some(first) = ring.entry(pos, log_guid) else {
                pos += SECTOR;
                continue;
            };
            let mut chain = vec![first];
            let mut walked = chain[0].length;
            while walked < log_length {
                let last = &chain[chain.len() - 1];
                let next_at = (last.start + last.length) % log_length;
                match ring.entry(next_at, log_guid) {
                    Some(e) if e.sequence == last.sequence.wrapping_add(1) => {
                        walked += e.length;
                        chain.push(e);
                    }
                    _ => break,
                }
            }
            let head_seq = chain[chain.len() - 1].sequence;
            if best.as_ref().is_none_or(|b| b[b.len() - 1].sequence < head_seq) {
                best = Some(chain);
            }
            // Continue after this sequence (it cannot hold the start of a longer one).
            pos += walked.max(SECTOR);
        }
        let Some(chain) = best else {
            return Ok(None);
        };
        let head = &chain[chain.len() - 1];
        let Some(first) = chain.iter().position(|e| e.start == head.tail) else {
            return Err(Error::corrupt(format!(
                "the log's newest sequence (entry {}) starts at log offset {:#x}, which holds no entry of it: the log can't be replayed",
                head.sequence, head.tail
            )));
        };
        if head.flushed_file_offset > file.size() {
            return Err(Error::corrupt(format!(
                "the log says the file was at least {} bytes when last flushed, but it is {} bytes: the file was truncated and the log can't be replayed",
                head.flushed_file_offset,
                file.size()
            )));
        }
        let mut sectors = BTreeMap::new();
        let mut total = 0u64;
        let mut data_bytes = 0u64;
        for e in &chain[first..] {
            for (offset, content, count) in &e.writes {
                if count.checked_mul(SECTOR).and_then(|n| offset.checked_add(n)).is_none() {
                    return Err(Error::corrupt(format!(
                        "log entry {} writes {count} sectors at {offset:#x}, past any file: the log can't be replayed",
                        e.sequence
                    )));
                }
                total = total.saturating_add(*count);
                if total > MAX_OVERLAY_SECTORS {
                    return Err(Error::unsupported(format!(
                        "the log writes more than {} MiB, too much to replay in memory",
                        (MAX_OVERLAY_SECTORS * SECTOR) >> 20
                    )));
                }
                for i in 0..*count {
                    sectors.insert(offset + i * SECTOR, content.clone());
                }
                if content.is_some() {
                    data_bytes += SECTOR;
                }
            }
        }
        let size = file.size().max(head.last_file_offset.div_ceil(1 << 20).saturating_mul(1 << 20));
        let replayed = chain.len() - first;
        let summary = format!(
            "the log held {replayed} unapplied entr{} (sequence {}–{}, {} KiB of metadata); it was replayed in memory, the file is unchanged",
            if replayed == 1 { "y" } else { "ies" },
            chain[first].sequence,
            head.sequence,
            data_bytes / 1024
        );
        Ok(Some((VhdxReplayed { inner: file, size, sectors }, summary)))
    }
}

impl ReadAt for VhdxReplayed {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let end = offset + buf.len() as u64;
        let inner_size = self.inner.size();
        // The file's own bytes first, zeros past its end.
        let avail = usize::try_from(inner_size.saturating_sub(offset)).unwrap_or(usize::MAX).min(buf.len());
        if avail > 0 {
            self.inner.read_exact_at(offset, &mut buf[..avail])?;
        }
        buf[avail..].fill(0);
        let first = offset / SECTOR * SECTOR;
        for (&at, content) in self.sectors.range(first..end) {
            let from = at.max(offset);
            let to = (at + SECTOR).min(end);
            let dst = &mut buf[(from - offset) as usize..(to - offset) as usize];
            match content {
                Some(d) => dst.copy_from_slice(&d[(from - at) as usize..(to - at) as usize]),
                None => dst.fill(0),
            }
        }
        Ok(())
    }
}
