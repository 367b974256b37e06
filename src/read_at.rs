//! The one reading interface every layer sits on.
//!
//! [`ReadAt`] fills a whole buffer from an offset or fails with an I/O error
//! naming the offset and length; it never returns short. Everything above a
//! raw source (containers, partitions, filesystems) is a `ReadAt` over the
//! layer below, so a filesystem reads a partition the same way whether it
//! lives in a raw file, a qcow2 or a browser `Blob`.
//!
//! Raw sources (a native file, a browser `Blob`) are slow per call: about
//! 1 ms for every `FileReaderSync` read whatever its size. So each one sits
//! behind a [`ChunkCache`]: aligned chunks of at least 1 MiB, least recently
//! used eviction under a hard cap, and read-ahead that doubles while reads
//! stay sequential. Its [`IoStats`] count how many reads reached the source,
//! which tests and benchmarks assert on.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Error, Result};

/// Random-access reads of exactly the requested length.
pub trait ReadAt {
    /// Size in bytes; reads past it fail.
    fn size(&self) -> u64;
    /// Fills `buf` with the bytes at `offset`, or fails without a partial
    /// result being meaningful.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
}

/// Shared handle to any reader; cheap to clone.
pub type Reader = Rc<dyn ReadAt>;

impl<T: ReadAt + ?Sized> ReadAt for Rc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_exact_at(offset, buf)
    }
}

/// Checks that `[offset, offset + len)` lies inside `size`.
pub fn check_range(offset: u64, len: usize, size: u64) -> Result<()> {
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= size => Ok(()),
        _ => Err(Error::io(format!(
            "short read: {len} bytes wanted at byte {offset:#x}, but the data ends at byte {size:#x}"
        ))
        .at_offset(offset)),
    }
}

/// Reads `len` bytes at `offset` into a new vector (for small, bounded reads).
pub fn read_vec(r: &dyn ReadAt, offset: u64, len: usize) -> Result<Vec<u8>> {
    let mut v = vec![0; len];
    r.read_exact_at(offset, &mut v)?;
    Ok(v)
}

/// An image held in memory (tests, small fixtures).
pub struct MemReader {
    data: Vec<u8>,
}

impl MemReader {
    pub fn new(data: Vec<u8>) -> Self {
        Self { data }
    }
}

impl ReadAt for MemReader {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size())?;
        // In range by check_range, so the casts cannot truncate.
        let start = offset as usize;
        buf.copy_from_slice(&self.data[start..start + buf.len()]);
        Ok(())
    }
}

/// A window `[offset, offset + len)` of another reader: a partition.
pub struct Slice {
    inner: Reader,
    offset: u64,
    len: u64,
}

impl Slice {
    /// Clamps the window to the inner reader, so a partition table entry
    /// running past the end of the disk still gives a readable (shorter)
    /// window; callers report the truncation.
    pub fn new(inner: Reader, offset: u64, len: u64) -> Self {
        let available = inner.size().saturating_sub(offset);
        Self { inner, offset, len: len.min(available) }
    }
}

impl ReadAt for Slice {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.len)?;
        // offset + len <= self.len and self.offset + self.len <= inner size.
        self.inner.read_exact_at(self.offset + offset, buf)
    }
}

/// Counters shared by every cache of one opened image.
#[derive(Debug, Default)]
pub struct IoStats {
    /// Reads that reached a raw source (one `FileReaderSync` call each).
    pub source_reads: Cell<u64>,
    /// Bytes those reads returned.
    pub source_bytes: Cell<u64>,
    /// Requests served entirely from cached chunks.
    pub hits: Cell<u64>,
    /// Requests that needed at least one source read.
    pub misses: Cell<u64>,
}

/// A copy of [`IoStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IoSnapshot {
    pub source_reads: u64,
    pub source_bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

impl IoStats {
    pub fn snapshot(&self) -> IoSnapshot {
        IoSnapshot {
            source_reads: self.source_reads.get(),
            source_bytes: self.source_bytes.get(),
            hits: self.hits.get(),
            misses: self.misses.get(),
        }
    }
    fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get().saturating_add(n));
    }
}

/// Sizes of a [`ChunkCache`].
#[derive(Clone, Copy, Debug)]
pub struct CacheConfig {
    /// Chunk size; a power of two, at least 1 MiB for browser sources.
    pub chunk_bytes: u64,
    /// Hard cap on cached bytes.
    pub capacity_bytes: u64,
    /// Largest single read-ahead.
    pub max_readahead_bytes: u64,
    /// Reads at least this long skip the cache and go straight to the
    /// source, into the caller's buffer: no cache copy, no eviction.
    pub direct_min_bytes: u64,
}

impl CacheConfig {
    /// Native files: the OS caches too (and does its own read-ahead), so
    /// stay modest, and let large reads (file data in an export) go
    /// straight to `pread`: copying them through the cache cost more than
    /// the read itself.
    pub const NATIVE: CacheConfig = CacheConfig {
        chunk_bytes: 1 << 20,
        capacity_bytes: 64 << 20,
        max_readahead_bytes: 8 << 20,
        direct_min_bytes: 256 << 10,
    };
    /// Browser `Blob`s: each read costs ~1 ms, so read big and keep more.
    /// The export reads file data in 16 MiB slices, cut where the file's
    /// extents end: pieces of 1 MiB and more go straight into its buffer,
    /// one `FileReaderSync` call each, rather than through the cache's
    /// copies; through the cache, its read-ahead would fetch up to 16 MiB
    /// past the piece, which the next direct read fetches again.
    pub const BROWSER: CacheConfig = CacheConfig {
        chunk_bytes: 1 << 20,
        capacity_bytes: 128 << 20,
        max_readahead_bytes: 16 << 20,
        direct_min_bytes: 1 << 20,
    };
}

struct Chunk {
    data: Vec<u8>,
    last_used: u64,
}

struct CacheState {
    chunks: HashMap<u64, Chunk>,
    tick: u64,
    /// Index one past the last chunk fetched by a miss, to spot sequential work.
    next_sequential: Option<u64>,
    /// Current read-ahead, in chunks.
    readahead_chunks: u64,
}

/// Aligned-chunk LRU cache with sequential read-ahead over a slow source.
pub struct ChunkCache<R: ReadAt> {
    inner: R,
    config: CacheConfig,
    stats: Rc<IoStats>,
    state: RefCell<CacheState>,
}

impl<R: ReadAt> ChunkCache<R> {
    pub fn new(inner: R, config: CacheConfig, stats: Rc<IoStats>) -> Self {
        assert!(config.chunk_bytes.is_power_of_two(), "chunk size must be a power of two");
        Self {
            inner,
            config,
            stats,
            state: RefCell::new(CacheState {
                chunks: HashMap::new(),
                tick: 0,
                next_sequential: None,
                readahead_chunks: 1,
            }),
        }
    }

    fn max_chunks(&self) -> u64 {
        (self.config.capacity_bytes / self.config.chunk_bytes).max(2)
    }

    /// Reads straight from the source, counting the call.
    fn source_read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        IoStats::add(&self.stats.source_reads, 1);
        IoStats::add(&self.stats.source_bytes, buf.len() as u64);
        self.inner.read_exact_at(offset, buf)
    }

    /// Fetches chunk `first` (missing) and, when reads are sequential, the
    /// following missing chunks, in one source read.
    fn fill(&self, state: &mut CacheState, first: u64) -> Result<()> {
        let chunk = self.config.chunk_bytes;
        let size = self.inner.size();
        let last_chunk = size.saturating_sub(1) / chunk;
        if state.next_sequential == Some(first) {
            let max = (self.config.max_readahead_bytes / chunk).max(1);
            state.readahead_chunks = (state.readahead_chunks.saturating_mul(2)).min(max);
        } else {
            state.readahead_chunks = 1;
        }
        let mut count = 1;
        while count < state.readahead_chunks {
            let idx = first + count;
            if idx > last_chunk || state.chunks.contains_key(&idx) {
                break;
            }
            count += 1;
        }
        let start = first * chunk;
        let end = ((first + count) * chunk).min(size);
        let len = usize::try_from(end - start).map_err(|_| Error::io("read-ahead too large"))?;
        let mut data = Vec::new();
        data.try_reserve_exact(len).map_err(|_| Error::io("out of memory filling the read cache"))?;
        data.resize(len, 0);
        self.source_read(start, &mut data)?;
        state.next_sequential = Some(first + count);
        self.make_room(state, count);
        for (i, piece) in data.chunks(chunk as usize).enumerate() {
            state.tick += 1;
            state.chunks.insert(first + i as u64, Chunk { data: piece.to_vec(), last_used: state.tick });
        }
        Ok(())
    }

    fn make_room(&self, state: &mut CacheState, incoming: u64) {
        let max = self.max_chunks();
        while state.chunks.len() as u64 + incoming > max && !state.chunks.is_empty() {
            let oldest = state.chunks.iter().min_by_key(|(_, c)| c.last_used).map(|(k, _)| *k);
            if let Some(k) = oldest {
                state.chunks.remove(&k);
            }
        }
    }
}

impl<R: ReadAt> ReadAt for ChunkCache<R> {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size())?;
        if buf.is_empty() {
            return Ok(());
        }
        // A read as big as half the cache would only flush it: go direct;
        // so do large reads where the source is cheap per call.
        if buf.len() as u64 >= self.config.direct_min_bytes.min(self.config.capacity_bytes / 2) {
            IoStats::add(&self.stats.misses, 1);
            return self.source_read(offset, buf);
        }
        let chunk = self.config.chunk_bytes;
        let mut state = self.state.borrow_mut();
        let mut missed = false;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let idx = pos / chunk;
            if !state.chunks.contains_key(&idx) {
                missed = true;
                self.fill(&mut state, idx)?;
            }
            state.tick += 1;
            let tick = state.tick;
            let c = state.chunks.get_mut(&idx).ok_or_else(|| Error::io("read cache lost a chunk"))?;
            c.last_used = tick;
            let within = (pos - idx * chunk) as usize;
            let n = (c.data.len().saturating_sub(within)).min(buf.len() - done);
            if n == 0 {
                return Err(Error::io("read cache chunk shorter than expected").at_offset(pos));
            }
            buf[done..done + n].copy_from_slice(&c.data[within..within + n]);
            done += n;
        }
        IoStats::add(if missed { &self.stats.misses } else { &self.stats.hits }, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn cache(len: usize, config: CacheConfig) -> (ChunkCache<MemReader>, Rc<IoStats>, Vec<u8>) {
        let data = pattern(len);
        let stats = Rc::new(IoStats::default());
        (ChunkCache::new(MemReader::new(data.clone()), config, stats.clone()), stats, data)
    }

    const SMALL: CacheConfig =
        CacheConfig { chunk_bytes: 4096, capacity_bytes: 8 * 4096, max_readahead_bytes: 4 * 4096, direct_min_bytes: u64::MAX };

    #[test]
    fn large_reads_go_direct_and_equal_the_source() {
        let config = CacheConfig { direct_min_bytes: 3 * 4096, ..SMALL };
        let (c, stats, data) = cache(100_000, config);
        for (off, len) in [(0, 3 * 4096), (5000, 4 * 4096), (100_000 - 3 * 4096, 3 * 4096)] {
            let mut buf = vec![0; len];
            c.read_exact_at(off as u64, &mut buf).unwrap();
            assert_eq!(buf, data[off..off + len], "at {off}+{len}");
        }
        assert_eq!(stats.source_reads.get(), 3);
        assert!(c.state.borrow().chunks.is_empty());
        let mut small = vec![0; 100];
        c.read_exact_at(100, &mut small).unwrap();
        assert_eq!(small, data[100..200]);
        assert_eq!(c.state.borrow().chunks.len(), 1);
    }

    #[test]
    fn reads_equal_the_source_across_chunk_edges() {
        let (c, _, data) = cache(100_000, SMALL);
        for (off, len) in [(0, 10), (4090, 20), (8191, 4098), (99_990, 10), (0, 40_000), (12_345, 1)] {
            let mut buf = vec![0; len];
            c.read_exact_at(off as u64, &mut buf).unwrap();
            assert_eq!(buf, data[off..off + len], "at {off}+{len}");
        }
    }

    #[test]
    fn short_reads_fail_with_the_offset() {
        let (c, _, _) = cache(10_000, SMALL);
        let mut buf = [0; 16];
        let e = c.read_exact_at(9_990, &mut buf).unwrap_err();
        assert_eq!(e.to_string(), "byte 0x2706: short read: 16 bytes wanted at byte 0x2706, but the data ends at byte 0x2710");
    }

    #[test]
    fn repeated_reads_hit_the_cache() {
        let (c, stats, _) = cache(100_000, SMALL);
        let mut buf = [0; 512];
        for _ in 0..10 {
            c.read_exact_at(5000, &mut buf).unwrap();
        }
        assert_eq!(stats.source_reads.get(), 1);
        assert_eq!(stats.hits.get(), 9);
    }

    #[test]
    fn sequential_reads_grow_the_readahead() {
        let (c, stats, _) = cache(64 * 4096, SMALL);
        let mut buf = [0; 4096];
        for i in 0..16u64 {
            c.read_exact_at(i * 4096, &mut buf).unwrap();
        }
        // 1 + 2 + 4 + 4 + 4 + 1 chunks: 6 source reads for 16 chunks, not 16.
        assert_eq!(stats.source_reads.get(), 6);
    }

    #[test]
    fn memory_stays_under_the_cap() {
        let (c, _, _) = cache(1 << 20, SMALL);
        let mut buf = [0; 100];
        for i in 0..200u64 {
            c.read_exact_at((i * 7919 * 13) % ((1 << 20) - 100), &mut buf).unwrap();
        }
        let held: usize = c.state.borrow().chunks.values().map(|c| c.data.len()).sum();
        assert!(held as u64 <= SMALL.capacity_bytes, "{held}");
    }

    #[test]
    fn slices_clamp_and_check() {
        let data: Reader = Rc::new(MemReader::new(pattern(1000)));
        let s = Slice::new(data, 900, 500);
        assert_eq!(s.size(), 100);
        let mut b = [0; 10];
        s.read_exact_at(90, &mut b).unwrap();
        assert_eq!(b.to_vec(), pattern(1000)[990..1000]);
        assert!(s.read_exact_at(95, &mut b).is_err());
    }
}
