//! gzip files (`.img.gz`, `.tar.gz`) read in place through a one-pass
//! random-access index, in the style of zlib's `examples/zran.c`.
//!
//! Formats: RFC 1952 (gzip members: header with optional FEXTRA, FNAME,
//! FCOMMENT, FHCRC; CRC-32 and ISIZE trailer) around RFC 1951 (deflate).
//! Members follow each other (pigz `--independent`, bgzip, `cat a.gz b.gz`)
//! and their outputs are concatenated; zero padding after the last member
//! is ignored with a note.
//!
//! One pass ([`GzipIndexBuilder`], steppable with progress, or
//! [`GzipIndex::build`] in one go) inflates everything once, checks each
//! member's CRC-32 and size, and records access points: at a deflate block
//! boundary about every [`SPAN_OUT_BYTES`] of output, or every
//! [`SPAN_IN_BYTES`] of input while the index stays small, the input
//! position (byte and the 0–7 bits of the previous byte not yet used) and
//! the last 32 KiB of output (the window back-references may reach),
//! stored deflated; at a member start nothing but the position. A read
//! inflates the span from the point before it into an [`Lru`] of spans,
//! so sequential reads inflate each span once.
//!
//! Sizes: for 20 GB of output about 1,300–5,000 points; a window deflates
//! to well under 32 KiB except for incompressible data, and the input rule
//! is suspended when the index passes 1/400 of the output, so the index
//! stays near or under 50 MiB. A random read inflates at most one span
//! (16 MiB out, usually less than 4 MiB in).
//!
//! The inflater is `miniz_oxide` 0.9 with `block-boundary`: it stops
//! between blocks and hands out the bit state to resume there, through a
//! safe API (this crate forbids `unsafe`; `libz-rs-sys`'s `inflatePrime`
//! and `inflateSetDictionary` are C-ABI functions needing it), and it was
//! already a dependency (qcow2). `libz-rs-sys` is faster in wasm (~380 vs
//! ~240–290 MB/s): switching later touches only [`Stream::pump`].
//!
//! For the page: run [`GzipIndexBuilder::step`] between messages (it
//! reports input/output bytes for a rate and an ETA; dropping the builder
//! cancels), then open the image with
//! [`DiskOptions::index_store`](super::DiskOptions) returning
//! [`GzipIndex::to_bytes`] (and saving it to OPFS/IndexedDB keyed by name,
//! size and modification time): `open_disk` then uses that index instead of
//! making the pass again.
//!
//! Saved indexes ([`GzipIndex::to_bytes`]) are versioned and carry the
//! source size and CRC-32s of three samples of it, so a stale index is
//! refused ([`GzipIndex::from_bytes`]) and rebuilt.

use std::rc::Rc;

use miniz_oxide::inflate::core::{decompress, inflate_flags, BlockBoundaryState, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::lru::Lru;
use super::{Disk, Source};
use crate::error::{alloc_bytes, Error, Result};
use crate::read_at::{check_range, ReadAt, Reader};

/// Output between access points.
pub const SPAN_OUT_BYTES: u64 = 16 << 20;
/// Input between access points (while the index is under 1/400 of the output).
pub const SPAN_IN_BYTES: u64 = 4 << 20;
/// Largest span inflated for one read: a deflate block this long has no
/// boundary to stop at.
pub const MAX_SPAN_BYTES: u64 = 512 << 20;
/// Largest index kept (points and windows).
pub const MAX_INDEX_BYTES: u64 = 256 << 20;
const WINDOW: usize = 32 << 10;
/// The inflater's circular output buffer (a power of two above the window).
const OUT_BUF: usize = 1 << 20;
const IN_CHUNK: usize = 1 << 20;
/// Spans kept inflated.
const SPAN_CACHE: usize = 4;
/// Largest gzip header (FEXTRA + FNAME + FCOMMENT) read.
const MAX_HEADER: usize = 1 << 20;

/// Whether `r` starts with a gzip member header (deflate method).
pub fn probe(r: &dyn ReadAt) -> bool {
    let mut h = [0u8; 4];
    r.size() >= 18 && r.read_exact_at(0, &mut h).is_ok() && h[..3] == [0x1f, 0x8b, 8] && h[3] & 0xe0 == 0
}

/// Where a read can start inflating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GzipPoint {
    /// Output offset.
    pub out: u64,
    /// Input byte: a member header (`window` is `None`), or the byte after
    /// the last one partly used by the previous block.
    pub in_byte: u64,
    /// Unused bits of the byte before `in_byte` (0–7) and their value.
    pub bits: u8,
    pub bit_buf: u8,
    /// The 32 KiB before `out`, deflated; `None` at a member start.
    pub window: Option<Vec<u8>>,
}

/// The random-access index of one gzip file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GzipIndex {
    pub source_size: u64,
    /// CRC-32s of the source's samples (see [`samples`]).
    pub source_check: [u32; 3],
    pub out_size: u64,
    pub members: u64,
    pub points: Vec<GzipPoint>,
    /// Sentences about the file (trailing garbage).
    pub notes: Vec<String>,
}

/// Progress of an index pass, for a rate and an ETA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GzipProgress {
    pub in_bytes: u64,
    pub in_total: u64,
    pub out_bytes: u64,
    pub points: u64,
    pub done: bool,
}

/// CRC-32 of the first, middle and last 64 KiB (or less) of `r`.
fn samples(r: &dyn ReadAt) -> Result<[u32; 3]> {
    let size = r.size();
    let len = size.min(64 << 10);
    let mut out = [0u32; 3];
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    for (i, at) in [0, (size - len) / 2, size - len].into_iter().enumerate() {
        r.read_exact_at(at, &mut buf)?;
        out[i] = crc32fast::hash(&buf);
    }
    Ok(out)
}

/// Parses the member header at `at`; returns where the deflate data starts.
fn member_header(r: &dyn ReadAt, at: u64) -> Result<u64> {
    let size = r.size();
    let avail = usize::try_from(size.saturating_sub(at)).unwrap_or(usize::MAX).min(MAX_HEADER);
    let mut fixed = [0u8; 10];
    if avail < 10 {
        return Err(Error::corrupt("the file ends inside a gzip header: it is cut short").at_offset(at));
    }
    r.read_exact_at(at, &mut fixed)?;
    if fixed[..2] != [0x1f, 0x8b] {
        return Err(Error::corrupt("expected a gzip member here").at_offset(at));
    }
    if fixed[2] != 8 {
        return Err(Error::unsupported(format!("gzip compression method {} (only deflate, 8, exists)", fixed[2])).at_offset(at));
    }
    let flg = fixed[3];
    if flg & 0xe0 != 0 {
        return Err(Error::corrupt(format!("gzip header flags {flg:#x} set reserved bits")).at_offset(at));
    }
    // Read what the optional fields can take, at most MAX_HEADER.
    let mut h = vec![0u8; avail.min(64 << 10)];
    r.read_exact_at(at, &mut h)?;
    let mut pos = 10usize;
    let short = || Error::corrupt("the gzip header is longer than the file or than 1 MiB").at_offset(at);
    let need = |pos: usize, h: &mut Vec<u8>| -> Result<()> {
        while pos >= h.len() {
            if h.len() >= avail {
                return Err(short());
            }
            let n = (h.len().saturating_mul(4)).min(avail);
            *h = vec![0u8; n];
            r.read_exact_at(at, h)?;
        }
        Ok(())
    };
    if flg & 4 != 0 {
        need(pos.saturating_add(1), &mut h)?;
        let xlen = usize::from(u16::from_le_bytes([h[pos], h[pos + 1]]));
        pos = pos.saturating_add(2).saturating_add(xlen);
    }
    for flag in [8u8, 16] {
        if flg & flag != 0 {
            loop {
                need(pos, &mut h)?;
                pos = pos.saturating_add(1);
                if h[pos - 1] == 0 {
                    break;
                }
            }
        }
    }
    if flg & 2 != 0 {
        pos = pos.saturating_add(2);
    }
    if pos > avail {
        return Err(short());
    }
    Ok(at.saturating_add(pos as u64))
}

/// What one call of [`Stream::pump`] did after emitting output.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    /// More to come.
    More,
    /// At a block boundary (only when asked for).
    Boundary,
    /// A member ended; its trailer is read.
    MemberEnd { crc: u32, isize: u32 },
    /// At a new member's header, before parsing it.
    MemberStart,
    /// No more members.
    End,
}

/// The inflater walking the file, from the start or from a point.
struct Stream {
    src: Reader,
    input: Vec<u8>,
    /// File offset of `input[0]`.
    in_at: u64,
    in_pos: usize,
    dec: Box<DecompressorOxide>,
    buf: Vec<u8>,
    buf_pos: usize,
    out: u64,
    in_member: bool,
    /// Where the current member's header began.
    pub notes: Vec<String>,
}

impl Stream {
    fn at_point(src: Reader, p: &GzipPoint) -> Result<Self> {
        let mut buf = vec![0u8; OUT_BUF];
        let mut dec = Box::<DecompressorOxide>::default();
        let in_member = if let Some(w) = &p.window {
            let window = miniz_oxide::inflate::decompress_to_vec_with_limit(w, WINDOW)
                .map_err(|_| Error::corrupt("a saved gzip window does not inflate"))?;
            if window.len() != WINDOW {
                return Err(Error::corrupt("a saved gzip window has the wrong size"));
            }
            buf[OUT_BUF - WINDOW..].copy_from_slice(&window);
            *dec = DecompressorOxide::from_block_boundary_state(&BlockBoundaryState {
                num_bits: p.bits.min(7),
                bit_buf: p.bit_buf,
                ..BlockBoundaryState::default()
            });
            true
        } else {
            false
        };
        Ok(Self { src, input: Vec::new(), in_at: p.in_byte, in_pos: 0, dec, buf, buf_pos: 0, out: p.out, in_member, notes: Vec::new() })
    }

    /// The file offset of the next unread input byte.
    fn cur(&self) -> u64 {
        self.in_at.saturating_add(self.in_pos as u64)
    }

    fn refill(&mut self) -> Result<()> {
        let cur = self.cur();
        let n = usize::try_from(self.src.size().saturating_sub(cur)).unwrap_or(usize::MAX).min(IN_CHUNK);
        self.input.resize(n, 0);
        self.src.read_exact_at(cur, &mut self.input)?;
        self.in_at = cur;
        self.in_pos = 0;
        Ok(())
    }

    /// The last 32 KiB of output (zeros or older data before the first 32 KiB).
    fn window(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(WINDOW);
        let start = self.buf_pos.wrapping_sub(WINDOW) & (OUT_BUF - 1);
        if start < self.buf_pos {
            w.extend_from_slice(&self.buf[start..self.buf_pos]);
        } else {
            w.extend_from_slice(&self.buf[start..]);
            w.extend_from_slice(&self.buf[..self.buf_pos]);
        }
        w
    }

    /// Inflates some more; the new output is `buf[start..start + len]`.
    fn pump(&mut self, boundary: bool) -> Result<(usize, usize, Ev)> {
        if !self.in_member {
            let cur = self.cur();
            let size = self.src.size();
            if cur >= size {
                return Ok((0, 0, Ev::End));
            }
            let mut magic = [0u8; 2];
            let n = usize::try_from(size - cur).unwrap_or(2).min(2);
            self.src.read_exact_at(cur, &mut magic[..n])?;
            if magic != [0x1f, 0x8b] {
                // Padding (tape blocks, dd) after the last member.
                let mut rest = vec![0u8; usize::try_from((size - cur).min(1 << 20)).unwrap_or(0)];
                self.src.read_exact_at(cur, &mut rest)?;
                if rest.iter().all(|&b| b == 0) {
                    self.notes.push(format!("{} bytes of zeros after the last gzip member were ignored", size - cur));
                    self.in_at = size;
                    self.in_pos = 0;
                    return Ok((0, 0, Ev::End));
                }
                return Err(Error::corrupt("after a gzip member comes something that is neither a member nor padding").at_offset(cur));
            }
            let data = member_header(&*self.src, cur)?;
            self.in_at = data;
            self.in_pos = 0;
            self.input.clear();
            *self.dec = DecompressorOxide::default();
            self.in_member = true;
            return Ok((0, 0, Ev::MemberStart));
        }
        if self.in_pos >= self.input.len() {
            self.refill()?;
        }
        let more = self.cur().saturating_add((self.input.len() - self.in_pos) as u64) < self.src.size();
        let mut flags = 0;
        if more {
            flags |= inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
        }
        if boundary {
            flags |= inflate_flags::TINFL_FLAG_STOP_ON_BLOCK_BOUNDARY;
        }
        let start = self.buf_pos;
        let (status, used, written) = decompress(&mut self.dec, &self.input[self.in_pos..], &mut self.buf, start, flags);
        self.in_pos = self.in_pos.saturating_add(used).min(self.input.len());
        self.buf_pos = (start + written) & (OUT_BUF - 1);
        self.out = self.out.saturating_add(written as u64);
        let ev = match status {
            TINFLStatus::Done => {
                let at = self.cur();
                let mut t = [0u8; 8];
                if at.saturating_add(8) > self.src.size() {
                    return Err(Error::corrupt("the file ends inside a gzip trailer: it is cut short").at_offset(at));
                }
                self.src.read_exact_at(at, &mut t)?;
                self.in_at = at.saturating_add(8);
                self.in_pos = 0;
                self.input.clear();
                self.in_member = false;
                Ev::MemberEnd {
                    crc: u32::from_le_bytes([t[0], t[1], t[2], t[3]]),
                    isize: u32::from_le_bytes([t[4], t[5], t[6], t[7]]),
                }
            }
            TINFLStatus::BlockBoundary => Ev::Boundary,
            TINFLStatus::HasMoreOutput => Ev::More,
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                if !more {
                    return Err(Error::corrupt("the file ends inside compressed data: it is cut short").at_offset(self.cur()));
                }
                // Unused input is read again with what follows.
                self.refill()?;
                Ev::More
            }
            _ => return Err(Error::corrupt(format!("the deflate data is damaged ({status:?})")).at_offset(self.cur())),
        };
        Ok((start, written, ev))
    }
}

/// One index pass over a gzip file, in steps.
pub struct GzipIndexBuilder {
    stream: Stream,
    points: Vec<GzipPoint>,
    index_bytes: u64,
    crc: crc32fast::Hasher,
    member_out: u64,
    members: u64,
    done: bool,
}

impl GzipIndexBuilder {
    pub fn new(src: Reader) -> Result<Self> {
        if !probe(&*src) {
            return Err(Error::invalid("this is not a gzip file"));
        }
        let first = GzipPoint { out: 0, in_byte: 0, bits: 0, bit_buf: 0, window: None };
        let stream = Stream::at_point(src, &first)?;
        Ok(Self { stream, points: vec![first], index_bytes: 32, crc: crc32fast::Hasher::new(), member_out: 0, members: 0, done: false })
    }

    fn due(&self) -> bool {
        let last = self.points.last().map_or((0, 0), |p| (p.out, p.in_byte));
        let out = self.stream.out.saturating_sub(last.0);
        let inp = self.stream.cur().saturating_sub(last.1);
        out >= SPAN_OUT_BYTES || (inp >= SPAN_IN_BYTES && self.index_bytes.saturating_mul(400) < self.stream.out)
    }

    fn push(&mut self, p: GzipPoint) -> Result<()> {
        self.index_bytes = self.index_bytes.saturating_add(32).saturating_add(p.window.as_ref().map_or(0, |w| w.len() as u64));
        if self.index_bytes > MAX_INDEX_BYTES {
            return Err(Error::unsupported(format!("the gzip index would pass {} MiB", MAX_INDEX_BYTES >> 20)));
        }
        self.points.push(p);
        Ok(())
    }

    /// Inflates about `budget_in_bytes` more input (at least one step).
    pub fn step(&mut self, budget_in_bytes: u64) -> Result<GzipProgress> {
        let stop = self.stream.cur().saturating_add(budget_in_bytes);
        while !self.done {
            let due = self.due();
            let at_header = self.stream.cur();
            let (start, len, ev) = self.stream.pump(due)?;
            let data = &self.stream.buf[start..start + len];
            self.crc.update(data);
            self.member_out = self.member_out.saturating_add(len as u64);
            match ev {
                Ev::Boundary => {
                    let st = self.stream.dec.block_boundary_state().ok_or_else(|| Error::corrupt("the inflater lost its place"))?;
                    let window = miniz_oxide::deflate::compress_to_vec(&self.stream.window(), 1);
                    let p = GzipPoint { out: self.stream.out, in_byte: self.stream.cur(), bits: st.num_bits, bit_buf: st.bit_buf, window: Some(window) };
                    self.push(p)?;
                }
                Ev::MemberEnd { crc, isize } => {
                    let ours = std::mem::take(&mut self.crc).finalize();
                    #[allow(clippy::cast_possible_truncation)] // ISIZE is the size modulo 2^32
                    let size32 = self.member_out as u32;
                    if ours != crc || size32 != isize {
                        return Err(Error::corrupt(format!(
                            "gzip member {} fails its check (CRC-32 {ours:08x}, stored {crc:08x}; size mod 2^32 {size32}, stored {isize})",
                            self.members.saturating_add(1)
                        ))
                        .at_offset(self.stream.cur()));
                    }
                    self.members = self.members.saturating_add(1);
                    self.member_out = 0;
                }
                Ev::MemberStart => {
                    if due && self.members > 0 {
                        self.push(GzipPoint { out: self.stream.out, in_byte: at_header, bits: 0, bit_buf: 0, window: None })?;
                    }
                }
                Ev::End => self.done = true,
                Ev::More => {}
            }
            if self.stream.cur() >= stop {
                break;
            }
        }
        Ok(self.progress())
    }

    pub fn progress(&self) -> GzipProgress {
        GzipProgress {
            in_bytes: self.stream.cur(),
            in_total: self.stream.src.size(),
            out_bytes: self.stream.out,
            points: self.points.len() as u64,
            done: self.done,
        }
    }

    /// The index, once [`step`](Self::step) reported `done`.
    pub fn finish(self) -> Result<GzipIndex> {
        if !self.done {
            return Err(Error::invalid("the gzip index pass is not finished"));
        }
        let source_check = samples(&*self.stream.src)?;
        Ok(GzipIndex {
            source_size: self.stream.src.size(),
            source_check,
            out_size: self.stream.out,
            members: self.members,
            points: self.points,
            notes: self.stream.notes,
        })
    }
}

const MAGIC: &[u8; 8] = b"SLVGZIX\0";
const VERSION: u32 = 1;

impl GzipIndex {
    /// One pass over `src`, in one go.
    pub fn build(src: Reader) -> Result<GzipIndex> {
        let mut b = GzipIndexBuilder::new(src)?;
        while !b.step(64 << 20)?.done {}
        b.finish()
    }

    /// Bytes the index takes (as saved).
    pub fn size_bytes(&self) -> u64 {
        self.points.iter().map(|p| 22u64.saturating_add(p.window.as_ref().map_or(0, |w| w.len() as u64))).sum::<u64>().saturating_add(64)
    }

    /// The saved form: magic, version, source size and samples, output size,
    /// members, points (out, in, bits, bit_buf, window length, window), CRC-32.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.size_bytes()).unwrap_or(0));
        v.extend_from_slice(MAGIC);
        v.extend_from_slice(&VERSION.to_le_bytes());
        v.extend_from_slice(&self.source_size.to_le_bytes());
        for c in self.source_check {
            v.extend_from_slice(&c.to_le_bytes());
        }
        v.extend_from_slice(&self.out_size.to_le_bytes());
        v.extend_from_slice(&self.members.to_le_bytes());
        v.extend_from_slice(&(self.points.len() as u64).to_le_bytes());
        for p in &self.points {
            v.extend_from_slice(&p.out.to_le_bytes());
            v.extend_from_slice(&p.in_byte.to_le_bytes());
            v.push(p.bits);
            v.push(p.bit_buf);
            let w = p.window.as_deref();
            #[allow(clippy::cast_possible_truncation)] // a deflated 32 KiB window is far under 4 GiB
            v.extend_from_slice(&w.map_or(u32::MAX, |w| w.len() as u32).to_le_bytes());
            v.extend_from_slice(w.unwrap_or(&[]));
        }
        let crc = crc32fast::hash(&v);
        v.extend_from_slice(&crc.to_le_bytes());
        v
    }

    /// Reads a saved index and checks it belongs to `src` (size and samples).
    pub fn from_bytes(bytes: &[u8], src: &dyn ReadAt) -> Result<GzipIndex> {
        let bad = |what: &str| Error::corrupt(format!("the saved gzip index {what}"));
        if bytes.len() < 64 || &bytes[..8] != MAGIC {
            return Err(bad("is not one"));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) {
            return Err(bad("is damaged (CRC-32)"));
        }
        let mut at = 8usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = body.get(at..at.saturating_add(n)).ok_or_else(|| bad("is cut short"))?;
            at = at.saturating_add(n);
            Ok(s)
        };
        let u32_ = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let u64_ = |s: &[u8]| u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
        let version = u32_(take(4)?);
        if version != VERSION {
            return Err(bad(&format!("has version {version}, this build reads {VERSION}")));
        }
        let source_size = u64_(take(8)?);
        let source_check = [u32_(take(4)?), u32_(take(4)?), u32_(take(4)?)];
        if source_size != src.size() || source_check != samples(src)? {
            return Err(bad("belongs to another version of the file (size or content changed)"));
        }
        let out_size = u64_(take(8)?);
        let members = u64_(take(8)?);
        let count = u64_(take(8)?);
        if count == 0 || count > (body.len() / 22) as u64 {
            return Err(bad("has an impossible count of points"));
        }
        let mut points = Vec::new();
        let mut prev_out = 0;
        for i in 0..count {
            let out = u64_(take(8)?);
            let in_byte = u64_(take(8)?);
            let b = take(2)?;
            let (bits, bit_buf) = (b[0], b[1]);
            let wl = u32_(take(4)?);
            let window = if wl == u32::MAX { None } else { Some(take(usize::try_from(wl).unwrap_or(usize::MAX))?.to_vec()) };
            if (i == 0 && out != 0) || out < prev_out || out > out_size || in_byte > source_size || bits > 7 {
                return Err(bad("has a point out of order"));
            }
            prev_out = out;
            points.push(GzipPoint { out, in_byte, bits, bit_buf, window });
        }
        Ok(GzipIndex { source_size, source_check, out_size, members, points, notes: Vec::new() })
    }
}

/// The decompressed contents, read through an index.
pub struct GzipReader {
    src: Reader,
    index: Rc<GzipIndex>,
    spans: Lru<Vec<u8>>,
}

impl GzipReader {
    pub fn new(src: Reader, index: Rc<GzipIndex>) -> Self {
        Self { src, index, spans: Lru::new(SPAN_CACHE) }
    }

    fn span(&self, i: usize) -> Result<Rc<Vec<u8>>> {
        self.spans.get_or_load(i as u64, || {
            let p = &self.index.points[i];
            let end = self.index.points.get(i.saturating_add(1)).map_or(self.index.out_size, |n| n.out);
            let mut out = alloc_bytes(end.saturating_sub(p.out), MAX_SPAN_BYTES, "a gzip span")?;
            let mut s = Stream::at_point(self.src.clone(), p)?;
            let mut done = 0usize;
            while done < out.len() {
                let (start, len, ev) = s.pump(false)?;
                let n = len.min(out.len() - done);
                out[done..done + n].copy_from_slice(&s.buf[start..start + n]);
                done += n;
                if ev == Ev::End {
                    return Err(Error::corrupt("the gzip data ends before its index says").at_offset(s.cur()));
                }
            }
            Ok(out)
        })
    }
}

impl ReadAt for GzipReader {
    fn size(&self) -> u64 {
        self.index.out_size
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.index.out_size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset.saturating_add(done as u64);
            let i = self.index.points.partition_point(|p| p.out <= pos).saturating_sub(1);
            let span = self.span(i)?;
            let within = usize::try_from(pos - self.index.points[i].out).unwrap_or(usize::MAX);
            let n = span.len().saturating_sub(within).min(buf.len() - done);
            if n == 0 {
                return Err(Error::corrupt("a gzip span is shorter than its index says").at_offset(pos));
            }
            buf[done..done + n].copy_from_slice(&span[within..within + n]);
            done += n;
        }
        Ok(())
    }
}

/// Where saved indexes live (the CLI: a file beside the image; the page:
/// browser storage). Keyed by the file's name; [`GzipIndex::from_bytes`]
/// checks the content.
pub trait IndexStore {
    fn load(&self, name: &str) -> Option<Vec<u8>>;
    /// Best effort: a store that cannot write says nothing.
    fn save(&self, name: &str, bytes: &[u8]);
}

/// The index for `main`: loaded from the store when it is current, else
/// built (and saved).
pub fn index_for(main: &Source, store: Option<&dyn IndexStore>) -> Result<(GzipIndex, bool)> {
    if let Some(s) = store {
        if let Some(bytes) = s.load(&main.name) {
            if let Ok(ix) = GzipIndex::from_bytes(&bytes, &*main.reader) {
                return Ok((ix, true));
            }
        }
    }
    let ix = GzipIndex::build(main.reader.clone())?;
    if let Some(s) = store {
        s.save(&main.name, &ix.to_bytes());
    }
    Ok((ix, false))
}

/// Opens the disk inside the gzip file `main` (whatever it holds: raw,
/// tar, another container).
pub fn open(main: Source, others: Vec<Source>, options: &super::DiskOptions, depth: usize) -> Result<Disk> {
    super::check_nesting(&main, depth)?;
    let store = if depth == 0 { options.index_store.as_deref() } else { None };
    let (index, loaded) = index_for(&main, store).map_err(|e| e.context(format!("{}: reading the gzip data", main.name)))?;
    let index = Rc::new(index);
    let reader: Reader = Rc::new(GzipReader::new(main.reader.clone(), index.clone()));
    let inner_name = main.name.strip_suffix(".gz").or(main.name.strip_suffix(".tgz")).unwrap_or(&main.name).to_string();
    let inner = Source { name: inner_name, reader };
    let mut disk = super::detect::open_layer_with(inner, others, options, depth.saturating_add(1))?;
    let mut notes: Vec<String> = index.notes.iter().map(|n| format!("{}: {n}", main.name)).collect();
    if loaded {
        notes.push(format!("{}: used the saved gzip index", main.name));
    }
    disk.notes.splice(0..0, notes);
    disk.details.insert(
        0,
        (
            "gzip".into(),
            format!(
                "{} members, {} compressed, {} inflated, index {} points ({})",
                index.members,
                super::human_size(index.source_size),
                super::human_size(index.out_size),
                index.points.len(),
                super::human_size(index.size_bytes())
            ),
        ),
    );
    disk.format = format!("{} in gzip", disk.format);
    disk.parts.insert(0, main.name);
    Ok(disk)
}

/// The fuzz target's body: index, read around, round-trip the index.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let src: Reader = Rc::new(crate::read_at::MemReader::new(data.to_vec()));
    let Ok(mut b) = GzipIndexBuilder::new(src.clone()) else { return };
    // Bounded: at most 64 MiB of output per input.
    loop {
        match b.step(1 << 16) {
            Ok(p) if p.done => break,
            Ok(p) if p.out_bytes > 64 << 20 => return,
            Ok(_) => {}
            Err(_) => return,
        }
    }
    let Ok(ix) = b.finish() else { return };
    let _ = GzipIndex::from_bytes(&ix.to_bytes(), &*src);
    let _ = GzipIndex::from_bytes(data, &*src);
    let disk = Disk { format: "fuzz".into(), reader: Rc::new(GzipReader::new(src, Rc::new(ix))), parts: Vec::new(), notes: Vec::new(), details: Vec::new() };
    let size = disk.reader.size();
    super::fuzz_reads(&disk, 4096, &[0, size / 3, size / 2, size.saturating_sub(4096)]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut v = vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3];
        v.extend_from_slice(b"x.img\0");
        v.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
        v.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        #[allow(clippy::cast_possible_truncation)]
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v
    }

    fn data(len: usize) -> Vec<u8> {
        let mut x = 0x1234_5678_u64;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Compressible: mostly text-like with some noise.
                if i % 7 == 0 { (x >> 24) as u8 } else { b"salvage "[i % 8] }
            })
            .collect()
    }

    #[test]
    fn multi_member_reads_equal_and_index_round_trips() {
        let a = data(3 << 20);
        let b = data(5 << 20);
        let mut file = gz(&a);
        file.extend_from_slice(&gz(&b));
        file.extend_from_slice(&[0; 100]);
        let src: Reader = Rc::new(MemReader::new(file));
        let ix = GzipIndex::build(src.clone()).unwrap();
        assert_eq!((ix.members, ix.out_size), (2, (8 << 20) as u64));
        assert!(ix.notes[0].contains("100 bytes of zeros"));
        let back = GzipIndex::from_bytes(&ix.to_bytes(), &*src).unwrap();
        assert_eq!(back.points, ix.points);
        let r = GzipReader::new(src, Rc::new(back));
        let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        for (off, len) in [(0usize, 100usize), ((3 << 20) - 50, 100), (7 << 20, 1 << 20), (12345, 4 << 20)] {
            let mut buf = vec![0; len];
            r.read_exact_at(off as u64, &mut buf).unwrap();
            assert!(buf == whole[off..off + len], "at {off}");
        }
    }

    #[test]
    fn points_inside_a_member_resume_byte_exact() {
        let a = data(40 << 20);
        let src: Reader = Rc::new(MemReader::new(gz(&a)));
        let ix = GzipIndex::build(src.clone()).unwrap();
        assert!(ix.points.len() >= 3, "{}", ix.points.len());
        assert!(ix.points[1].window.is_some());
        let r = GzipReader::new(src, Rc::new(ix.clone()));
        for p in &ix.points {
            let off = p.out.saturating_sub(10) as usize;
            let mut buf = vec![0; 100];
            r.read_exact_at(off as u64, &mut buf).unwrap();
            assert!(buf == a[off..off + 100], "at {off}");
        }
    }

    #[test]
    fn headers_with_extra_name_comment_and_crc() {
        let body = data(70_000);
        let plain = gz(&body);
        // FEXTRA (bgzip's BC field) + FNAME + FCOMMENT + FHCRC.
        let mut h = vec![0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3, 6, 0, b'B', b'C', 2, 0, 0, 0];
        h.extend_from_slice(b"disk.img\0a comment\0");
        h.extend_from_slice(&[0xaa, 0xbb]);
        let at = h.len();
        h.extend_from_slice(&plain[16..]); // the deflate data and trailer of `gz`
        let src: Reader = Rc::new(MemReader::new(h.clone()));
        assert_eq!(member_header(&*src, 0).unwrap(), at as u64);
        let ix = GzipIndex::build(src.clone()).unwrap();
        let mut out = vec![0; body.len()];
        GzipReader::new(src, Rc::new(ix)).read_exact_at(0, &mut out).unwrap();
        assert!(out == body);
        h[3] = 0xe0;
        assert!(member_header(&MemReader::new(h), 0).unwrap_err().to_string().contains("reserved bits"));
    }

    #[test]
    fn damage_is_a_sentence() {
        let a = data(1 << 20);
        let f = gz(&a);
        let cut: Reader = Rc::new(MemReader::new(f[..f.len() / 2].to_vec()));
        let e = GzipIndex::build(cut).unwrap_err().to_string();
        assert!(e.contains("ends inside compressed data: it is cut short"), "{e}");
        let mut bad = f.clone();
        let n = bad.len();
        bad[n - 6] ^= 1; // CRC
        let e = GzipIndex::build(Rc::new(MemReader::new(bad))).unwrap_err().to_string();
        assert!(e.contains("gzip member 1 fails its check"), "{e}");
        let src: Reader = Rc::new(MemReader::new(f.clone()));
        let ix = GzipIndex::build(src).unwrap();
        let other = MemReader::new(gz(&data(1000)));
        assert!(GzipIndex::from_bytes(&ix.to_bytes(), &other).unwrap_err().to_string().contains("another version"));
    }
}
