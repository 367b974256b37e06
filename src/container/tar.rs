//! tar archives: the disk image is one member, read in place.
//!
//! Follows POSIX.1-2001 `ustar`/`pax` (IEEE 1003.1, "pax Interchange
//! Format") and GNU tar's manual, appendix "Tar Internals" and "Sparse
//! Formats":
//! - 512-byte headers; sizes in octal, or GNU base-256 (first byte `0x80`,
//!   big-endian in the remaining 11 bytes) for members over 8 GiB;
//! - GNU long names (`L`) and long link names (`K`): the next member's name
//!   is the data of this one;
//! - PAX extended headers (`x`; `g` is read and ignored): `path` and `size`
//!   override the next header's fields, `GNU.sparse.*` describe sparse files;
//! - sparse members in every format GNU tar writes:
//!   - old GNU (`S`): four (offset, numbytes) pairs in the header, more in
//!     512-byte extension headers while `isextended` is set, the real size at
//!     offset 483;
//!   - PAX 0.0: repeated `GNU.sparse.offset`/`GNU.sparse.numbytes` records;
//!   - PAX 0.1: one `GNU.sparse.map` record `off,len,off,len…`;
//!   - PAX 1.0 (`GNU.sparse.major=1`, `minor=0`): the map is at the start of
//!     the member's data, decimal numbers one a line (count, then pairs),
//!     padded to 512 bytes; the stored segments follow.
//!
//! In all sparse formats the data area holds the map's segments back to
//! back and the holes read as zeros. PAX 0.0/0.1 members look like plain
//! files of the stored size: a reader ignoring the keys would run the
//! segments together, so these keys are always honoured.
//!
//! Everything read from the archive is bounded: [`MAX_MEMBERS`] headers,
//! [`MAX_SPARSE_ENTRIES`] map entries, [`MAX_META_BYTES`] of long name or
//! PAX records. Listing stops, with a note, at the first header that is not
//! one (a truncated archive still lists what came before).

use std::rc::Rc;

use super::{Disk, Source};
use crate::error::{alloc_bytes, Error, Result};
use crate::read_at::{check_range, read_vec, ReadAt, Reader};

const BLOCK: u64 = 512;
/// Most headers read while listing.
pub const MAX_MEMBERS: usize = 200_000;
/// Most (offset, length) pairs in one sparse map.
pub const MAX_SPARSE_ENTRIES: usize = 1 << 20;
/// Largest long name (`L`/`K`) or PAX header read.
pub const MAX_META_BYTES: u64 = 32 << 20;

/// One member as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarMember {
    pub name: String,
    /// The typeflag byte (`b'0'` regular, `b'5'` directory…).
    pub kind: u8,
    /// Size of the file itself (for sparse files, with its holes).
    pub size: u64,
    /// Where the stored bytes start in the archive.
    pub data_offset: u64,
    /// How many bytes are stored (the header's or PAX `size`).
    pub stored_bytes: u64,
    /// For sparse files: (offset, length) segments, in order; the stored
    /// bytes (after any 1.0 map) hold them back to back.
    pub sparse: Option<Vec<(u64, u64)>>,
}

impl TarMember {
    /// Regular files (including sparse and contiguous ones).
    pub fn is_file(&self) -> bool {
        matches!(self.kind, b'0' | 0 | b'7' | b'S')
    }
}

/// The listed archive.
pub struct TarListing {
    pub members: Vec<TarMember>,
    pub notes: Vec<String>,
}

fn cut(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// A numeric field: octal (spaces and NULs around it), or GNU base-256.
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Base-256: the first byte's low bits, then big-endian bytes. 0xff
        // marks a negative number, which no size or offset can be.
        if field[0] == 0xff {
            return None;
        }
        let mut v = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            if v >> 56 != 0 {
                return None;
            }
            v = (v << 8) | u64::from(b);
        }
        return Some(v);
    }
    let s = cut(field);
    let s = std::str::from_utf8(s).ok()?.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// Whether `h` is a tar header with a valid checksum (ustar or GNU magic,
/// or old V7 when `v7` is set).
fn header_ok(h: &[u8; 512], v7: bool) -> bool {
    let magic = &h[257..263];
    if !v7 && magic != b"ustar\0" && magic != b"ustar " {
        return false;
    }
    let Some(stored) = number(&h[148..156]) else { return false };
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    // Some old tars summed signed chars.
    let signed: i64 =
        h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { i64::from(b as i8) }).sum();
    stored == sum || i64::try_from(stored).is_ok_and(|s| s == signed)
}

/// Whether the file starts with a ustar/GNU header with a valid checksum.
pub fn probe(r: &dyn ReadAt) -> bool {
    let mut h = [0u8; 512];
    r.size() >= BLOCK && r.read_exact_at(0, &mut h).is_ok() && header_ok(&h, false)
}

/// PAX records `"LEN key=value\n"`, in order (0.0 repeats keys).
fn pax_records(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() && rest[0] != 0 {
        let sp = rest.iter().position(|&c| c == b' ').ok_or_else(|| Error::corrupt("a PAX record has no length"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::corrupt("a PAX record's length is not a number"))?;
        if len <= sp.saturating_add(1) || len > rest.len() {
            return Err(Error::corrupt(format!("a PAX record claims {len} bytes, {} are left", rest.len())));
        }
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        let eq = rec.iter().position(|&c| c == b'=').ok_or_else(|| Error::corrupt("a PAX record has no '='"))?;
        out.push((String::from_utf8_lossy(&rec[..eq]).into_owned(), rec[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Ok(out)
}

fn dec(v: &[u8], what: &str) -> Result<u64> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| Error::corrupt(format!("PAX {what} is not a number")))
}

fn push_entry(map: &mut Vec<(u64, u64)>, off: u64, len: u64) -> Result<()> {
    if map.len() >= MAX_SPARSE_ENTRIES {
        return Err(Error::unsupported(format!("a sparse map has more than {MAX_SPARSE_ENTRIES} entries")));
    }
    map.push((off, len));
    Ok(())
}

/// Checks a sparse map against the real size and the stored bytes.
fn check_map(map: &[(u64, u64)], real: u64, stored: u64) -> Result<()> {
    let mut end = 0u64;
    let mut total = 0u64;
    for &(off, len) in map {
        let e = off.checked_add(len).filter(|&e| off >= end && e <= real);
        let Some(e) = e else {
            return Err(Error::corrupt(format!(
                "a sparse map entry ({off}, {len}) overlaps the previous one or runs past the file's size {real}"
            )));
        };
        end = e;
        total = total.saturating_add(len);
    }
    if total > stored {
        return Err(Error::corrupt(format!("a sparse map holds {total} bytes, only {stored} are stored")));
    }
    Ok(())
}

/// Reads the GNU 1.0 map at the start of a member's data; returns the map
/// and how many bytes (whole blocks) it took.
fn read_map_1_0(r: &dyn ReadAt, at: u64, stored: u64) -> Result<(Vec<(u64, u64)>, u64)> {
    let mut map = Vec::new();
    let mut pos = 0u64;
    let mut block: Vec<u8> = Vec::new();
    let mut line = Vec::new();
    let mut next = |pos: &mut u64, block: &mut Vec<u8>| -> Result<u64> {
        line.clear();
        loop {
            let within = usize::try_from(*pos % BLOCK).unwrap_or(0);
            if within == 0 {
                if pos.saturating_add(BLOCK) > stored {
                    return Err(Error::corrupt("the sparse map (GNU 1.0) runs past the member's data"));
                }
                *block = read_vec(r, at.saturating_add(*pos), 512)?;
            }
            let c = block[within];
            *pos = pos.saturating_add(1);
            if c == b'\n' {
                break;
            }
            if line.len() > 20 || !c.is_ascii_digit() {
                return Err(Error::corrupt("the sparse map (GNU 1.0) holds something other than decimal numbers"));
            }
            line.push(c);
        }
        std::str::from_utf8(&line).ok().and_then(|s| s.parse().ok()).ok_or_else(|| Error::corrupt("an empty number in the sparse map (GNU 1.0)"))
    };
    let count = next(&mut pos, &mut block)?;
    if count > MAX_SPARSE_ENTRIES as u64 {
        return Err(Error::unsupported(format!("a sparse map has {count} entries, more than {MAX_SPARSE_ENTRIES}")));
    }
    for _ in 0..count {
        let off = next(&mut pos, &mut block)?;
        let len = next(&mut pos, &mut block)?;
        push_entry(&mut map, off, len)?;
    }
    let used = pos.div_ceil(BLOCK).saturating_mul(BLOCK);
    Ok((map, used))
}

/// Reads `len` bytes of metadata (long name, PAX records) at `at`.
fn meta(r: &dyn ReadAt, at: u64, len: u64, what: &str) -> Result<Vec<u8>> {
    let mut v = alloc_bytes(len, MAX_META_BYTES, what)?;
    r.read_exact_at(at, &mut v)?;
    Ok(v)
}

/// Lists the members of the archive in `r`.
pub fn list(r: &dyn ReadAt) -> Result<TarListing> {
    let size = r.size();
    let mut members = Vec::new();
    let mut notes = Vec::new();
    let mut pos = 0u64;
    let mut long_name: Option<String> = None;
    let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
    let mut headers = 0usize;
    let mut h = [0u8; 512];
    loop {
        if pos.saturating_add(BLOCK) > size {
            if pos < size || members.is_empty() {
                notes.push(format!("the archive ends inside a header at byte {pos:#x}: it looks cut short"));
            }
            break;
        }
        headers = headers.saturating_add(1);
        if headers > MAX_MEMBERS {
            notes.push(format!("only the first {MAX_MEMBERS} headers were listed"));
            break;
        }
        r.read_exact_at(pos, &mut h)?;
        if h.iter().all(|&b| b == 0) {
            break; // end-of-archive blocks
        }
        if !header_ok(&h, true) {
            if members.is_empty() && pos == 0 {
                return Err(Error::corrupt("the first tar header's checksum does not match"));
            }
            notes.push(format!("the tar header at byte {pos:#x} is damaged (checksum); the members after it are not listed"));
            break;
        }
        let kind = h[156];
        let mut stored = number(&h[124..136]).ok_or_else(|| Error::corrupt("a tar header's size is not a number").at_offset(pos))?;
        let data = pos.saturating_add(BLOCK);
        // PAX records apply to the next file header, not to a long name.
        let meta_kind = matches!(kind, b'L' | b'K' | b'x' | b'g' | b'N');
        let overrides: Vec<(String, Vec<u8>)> = if meta_kind { Vec::new() } else { std::mem::take(&mut pax) };
        let get = |k: &str| overrides.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.as_slice());
        if matches!(kind, b'0' | 0 | b'7' | b'S' | b'1' | b'2' | b'3' | b'4' | b'5' | b'6') {
            if let Some(v) = get("size") {
                stored = dec(v, "size")?;
            }
        }
        let next = data
            .checked_add(stored.div_ceil(BLOCK).saturating_mul(BLOCK))
            .ok_or_else(|| Error::corrupt("a tar member's size overflows").at_offset(pos))?;
        match kind {
            b'L' | b'K' | b'x' | b'g' | b'N' => {
                let bytes = meta(r, data, stored, "a long name or PAX header").map_err(|e| e.at_offset(pos))?;
                match kind {
                    b'L' => long_name = Some(String::from_utf8_lossy(cut(&bytes)).into_owned()),
                    b'x' => pax = pax_records(&bytes).map_err(|e| e.at_offset(pos))?,
                    _ => {}
                }
                pos = next;
                continue;
            }
            _ => {}
        }
        // The name: PAX path, else GNU long name, else prefix/name.
        let mut name = if let Some(p) = get("GNU.sparse.name").or(get("path")) {
            String::from_utf8_lossy(p).into_owned()
        } else if let Some(n) = long_name.take() {
            n
        } else {
            let base = String::from_utf8_lossy(cut(&h[..100])).into_owned();
            let prefix = if &h[257..263] == b"ustar\0" { String::from_utf8_lossy(cut(&h[345..500])).into_owned() } else { String::new() };
            if prefix.is_empty() { base } else { format!("{prefix}/{base}") }
        };
        long_name = None;
        if name.len() > 4096 {
            name.truncate(name.char_indices().take_while(|(i, _)| *i < 4096).last().map_or(0, |(i, c)| i + c.len_utf8()));
        }
        let mut member = TarMember { name, kind, size: stored, data_offset: data, stored_bytes: stored, sparse: None };
        if kind == b'S' {
            // Old GNU sparse: 4 entries at 386, isextended at 482, realsize at 483.
            let mut map = Vec::new();
            let entries = |block: &[u8], count: usize, map: &mut Vec<(u64, u64)>| -> Result<()> {
                for i in 0..count {
                    let e = &block[i * 24..i * 24 + 24];
                    if e[0] == 0 {
                        break;
                    }
                    let off = number(&e[..12]).ok_or_else(|| Error::corrupt("an old GNU sparse offset is not a number"))?;
                    let len = number(&e[12..]).ok_or_else(|| Error::corrupt("an old GNU sparse length is not a number"))?;
                    push_entry(map, off, len)?;
                }
                Ok(())
            };
            entries(&h[386..482], 4, &mut map).map_err(|e| e.at_offset(pos))?;
            let real = number(&h[483..495]).ok_or_else(|| Error::corrupt("an old GNU sparse real size is not a number").at_offset(pos))?;
            let mut extended = h[482] != 0;
            let mut ext_pos = data;
            let mut eb = [0u8; 512];
            while extended {
                if ext_pos.saturating_add(BLOCK) > size {
                    return Err(Error::corrupt("an old GNU sparse extension header is past the end of the archive").at_offset(ext_pos));
                }
                r.read_exact_at(ext_pos, &mut eb)?;
                entries(&eb[..504], 21, &mut map).map_err(|e| e.at_offset(ext_pos))?;
                extended = eb[504] != 0;
                ext_pos = ext_pos.saturating_add(BLOCK);
            }
            let stored_after = stored; // the size field counts the data only
            member.data_offset = ext_pos;
            member.size = real;
            let next = ext_pos
                .checked_add(stored_after.div_ceil(BLOCK).saturating_mul(BLOCK))
                .ok_or_else(|| Error::corrupt("a tar member's size overflows").at_offset(pos))?;
            check_map(&map, real, stored).map_err(|e| e.at_offset(pos))?;
            member.sparse = Some(map);
            members.push(member);
            pos = next;
            continue;
        }
        let major = get("GNU.sparse.major").map(|v| dec(v, "GNU.sparse.major")).transpose()?;
        let minor = get("GNU.sparse.minor").map(|v| dec(v, "GNU.sparse.minor")).transpose()?;
        let realsize = get("GNU.sparse.realsize").or(get("GNU.sparse.size"));
        if major == Some(1) {
            if minor != Some(0) {
                return Err(Error::unsupported(format!("GNU sparse format 1.{} is not known", minor.unwrap_or(0))).at_offset(pos));
            }
            let real = dec(realsize.ok_or_else(|| Error::corrupt("a GNU 1.0 sparse member has no real size").at_offset(pos))?, "GNU.sparse.realsize")?;
            let (map, used) = read_map_1_0(r, data, stored).map_err(|e| e.at_offset(pos))?;
            check_map(&map, real, stored.saturating_sub(used)).map_err(|e| e.at_offset(pos))?;
            member.data_offset = data.saturating_add(used);
            member.stored_bytes = stored.saturating_sub(used);
            member.size = real;
            member.sparse = Some(map);
        } else if let Some(real) = realsize {
            let real = dec(real, "GNU.sparse.realsize")?;
            let mut map = Vec::new();
            if let Some(m) = get("GNU.sparse.map") {
                // 0.1: "off,len,off,len…"
                let s = std::str::from_utf8(m).map_err(|_| Error::corrupt("GNU.sparse.map is not text").at_offset(pos))?;
                let nums: Vec<&str> = if s.is_empty() { Vec::new() } else { s.split(',').collect() };
                if !nums.len().is_multiple_of(2) {
                    return Err(Error::corrupt("GNU.sparse.map has an odd count of numbers").at_offset(pos));
                }
                for p in nums.chunks(2) {
                    push_entry(&mut map, dec(p[0].as_bytes(), "sparse offset")?, dec(p[1].as_bytes(), "sparse length")?)?;
                }
            } else {
                // 0.0: offset/numbytes records in pairs, in order.
                let mut off: Option<u64> = None;
                for (k, v) in &overrides {
                    match k.as_str() {
                        "GNU.sparse.offset" => off = Some(dec(v, "GNU.sparse.offset")?),
                        "GNU.sparse.numbytes" => {
                            let o = off.take().ok_or_else(|| Error::corrupt("GNU.sparse.numbytes without an offset").at_offset(pos))?;
                            push_entry(&mut map, o, dec(v, "GNU.sparse.numbytes")?)?;
                        }
                        _ => {}
                    }
                }
            }
            check_map(&map, real, stored).map_err(|e| e.at_offset(pos))?;
            member.size = real;
            member.sparse = Some(map);
        }
        members.push(member);
        pos = next;
    }
    Ok(TarListing { members, notes })
}

/// A sparse member: stored segments with zeros between them.
pub struct SparseReader {
    inner: Reader,
    /// (file offset, length, offset of its bytes in `inner`).
    segments: Vec<(u64, u64, u64)>,
    size: u64,
}

impl SparseReader {
    pub fn new(inner: Reader, data_offset: u64, map: &[(u64, u64)], size: u64) -> Self {
        let mut at = data_offset;
        let segments = map
            .iter()
            .filter(|(_, len)| *len > 0)
            .map(|&(off, len)| {
                let s = (off, len, at);
                at = at.saturating_add(len);
                s
            })
            .collect();
        Self { inner, segments, size }
    }
}

impl ReadAt for SparseReader {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        buf.fill(0);
        let end = offset.saturating_add(buf.len() as u64);
        // First segment ending after `offset`.
        let first = self.segments.partition_point(|&(o, l, _)| o.saturating_add(l) <= offset);
        for &(o, l, at) in &self.segments[first..] {
            if o >= end {
                break;
            }
            let from = o.max(offset);
            let to = o.saturating_add(l).min(end);
            // from - offset and to - offset are within buf by the bounds above.
            let (b0, b1) = (usize::try_from(from - offset).unwrap_or(0), usize::try_from(to - offset).unwrap_or(0));
            self.inner.read_exact_at(at.saturating_add(from - o), &mut buf[b0..b1])?;
        }
        Ok(())
    }
}

/// The reader of one member's contents.
pub fn member_reader(archive: &Reader, m: &TarMember) -> Result<Reader> {
    let end = m.data_offset.saturating_add(m.stored_bytes);
    if end > archive.size() {
        return Err(Error::corrupt(format!(
            "tar member {} needs {} bytes, the archive ends {} bytes early: it is cut short",
            m.name,
            m.stored_bytes,
            end - archive.size()
        )));
    }
    Ok(match &m.sparse {
        Some(map) => Rc::new(SparseReader::new(archive.clone(), m.data_offset, map, m.size)),
        None => Rc::new(crate::read_at::Slice::new(archive.clone(), m.data_offset, m.stored_bytes)),
    })
}

/// Picks the member holding the disk: the one named `want` (full path or
/// last component), else the largest regular file.
pub fn choose<'a>(listing: &'a TarListing, want: Option<&str>) -> Result<&'a TarMember> {
    let files = || listing.members.iter().filter(|m| m.is_file());
    if let Some(w) = want {
        let base = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
        return files()
            .find(|m| m.name == w || m.name.trim_start_matches("./") == w)
            .or_else(|| files().find(|m| base(&m.name) == w))
            .ok_or_else(|| {
                let names: Vec<&str> = files().map(|m| m.name.as_str()).take(20).collect();
                Error::not_found(format!("the archive has no file {w:?}; its files: {}", names.join(", ")))
            });
    }
    files().max_by_key(|m| m.size).ok_or_else(|| Error::not_found("the tar archive holds no regular file"))
}

/// Opens the disk inside the tar archive `main`.
pub fn open(main: Source, others: Vec<Source>, options: &super::DiskOptions, depth: usize) -> Result<Disk> {
    super::check_nesting(&main, depth)?;
    let listing = list(&*main.reader).map_err(|e| e.context(format!("{}: reading the tar archive", main.name)))?;
    let m = choose(&listing, options.member.as_deref()).map_err(|e| e.context(main.name.clone()))?;
    let reader = member_reader(&main.reader, m).map_err(|e| e.context(main.name.clone()))?;
    let files = listing.members.iter().filter(|x| x.is_file()).count();
    let inner = Source { name: m.name.rsplit('/').next().unwrap_or(&m.name).to_string(), reader };
    let mut disk = super::detect::open_layer_with(inner, others, options, depth.saturating_add(1))?;
    let sparse = match &m.sparse {
        Some(map) => format!(", sparse ({} segments)", map.len()),
        None => String::new(),
    };
    let mut notes = listing.notes.iter().map(|n| format!("{}: {n}", main.name)).collect::<Vec<_>>();
    if files > 1 && options.member.is_none() {
        notes.push(format!("{}: opened {}, the largest of its {files} files (choose another with --member)", main.name, m.name));
    }
    disk.notes.splice(0..0, notes);
    disk.details.insert(0, ("tar member".into(), format!("{} ({}{sparse})", m.name, super::human_size(m.size))));
    disk.format = format!("{} in tar", disk.format);
    disk.parts.insert(0, main.name);
    Ok(disk)
}

/// The fuzz target's body: list, open the largest member as raw, read.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let src = Source { name: "fuzz.tar".into(), reader: Rc::new(crate::read_at::MemReader::new(data.to_vec())) };
    if let Ok(listing) = list(&*src.reader) {
        for m in listing.members.iter().take(8) {
            if let Ok(r) = member_reader(&src.reader, m) {
                let disk = Disk { format: "fuzz".into(), reader: r, parts: Vec::new(), notes: Vec::new(), details: Vec::new() };
                let size = disk.reader.size();
                super::fuzz_reads(&disk, 4096, &[0, size / 2, size.saturating_sub(4096)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    fn header(name: &str, size: u64, kind: u8, gnu: bool) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        if gnu {
            h[257..265].copy_from_slice(b"ustar  \0");
        } else {
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
        }
        seal(&mut h);
        h
    }

    fn seal(h: &mut [u8; 512]) {
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    }

    fn pad(v: &mut Vec<u8>) {
        v.resize(v.len().div_ceil(512) * 512, 0);
    }

    #[test]
    fn numbers_octal_and_base256() {
        assert_eq!(number(b"00000001750\0"), Some(1000));
        assert_eq!(number(b"     17 \0"), Some(15));
        let mut b = [0u8; 12];
        b[0] = 0x80;
        b[7] = 0x02; // 2 << 32
        assert_eq!(number(&b), Some(2 << 32));
        assert_eq!(number(&[0xff; 12]), None);
        assert_eq!(number(b"12x"), None);
    }

    #[test]
    fn lists_long_names_and_pax_paths() {
        let mut a = Vec::new();
        let long = "d/".repeat(80) + "disk.img";
        a.extend_from_slice(&header("././@LongLink", long.len() as u64 + 1, b'L', true));
        a.extend_from_slice(long.as_bytes());
        a.push(0);
        pad(&mut a);
        a.extend_from_slice(&header("short", 3, b'0', true));
        a.extend_from_slice(b"abc");
        pad(&mut a);
        let rec = "path=pax/name.raw\n";
        let rec = format!("{} {rec}", rec.len() + 3);
        a.extend_from_slice(&header("PaxHeaders/x", rec.len() as u64, b'x', false));
        a.extend_from_slice(rec.as_bytes());
        pad(&mut a);
        a.extend_from_slice(&header("x", 5, b'0', false));
        a.extend_from_slice(b"hello");
        pad(&mut a);
        a.extend_from_slice(&[0; 1024]);
        let r = MemReader::new(a);
        assert!(probe(&r));
        let l = list(&r).unwrap();
        assert_eq!(l.members.len(), 2);
        assert_eq!(l.members[0].name, long);
        assert_eq!(l.members[1].name, "pax/name.raw");
        assert!(l.notes.is_empty());
        assert_eq!(choose(&l, None).unwrap().name, "pax/name.raw");
        assert_eq!(choose(&l, Some("disk.img")).unwrap().size, 3);
        assert_eq!(choose(&l, Some("nope")).unwrap_err().to_string(), format!("the archive has no file \"nope\"; its files: {long}, pax/name.raw"));
    }

    #[test]
    fn old_gnu_sparse_with_an_extension_header() {
        // Six 1-byte segments at 0, 10, …, 50 of a 100-byte file: four in
        // the header, two in one extension header.
        let mut h = header("sp", 6, b'S', true);
        let mut ext = [0u8; 512];
        for i in 0..6u64 {
            let e = format!("{:011o}\0{:011o}\0", i * 10, 1);
            if i < 4 {
                h[386 + i as usize * 24..410 + i as usize * 24].copy_from_slice(e.as_bytes());
            } else {
                let j = (i - 4) as usize;
                ext[j * 24..j * 24 + 24].copy_from_slice(e.as_bytes());
            }
        }
        h[482] = 1;
        h[483..495].copy_from_slice(format!("{:011o}\0", 100).as_bytes());
        seal(&mut h);
        let mut a = h.to_vec();
        a.extend_from_slice(&ext);
        a.extend_from_slice(b"ABCDEF");
        pad(&mut a);
        a.extend_from_slice(&[0; 1024]);
        let archive: Reader = Rc::new(MemReader::new(a));
        let l = list(&*archive).unwrap();
        let m = &l.members[0];
        assert_eq!((m.size, m.sparse.as_ref().unwrap().len()), (100, 6));
        let r = member_reader(&archive, m).unwrap();
        let mut all = vec![0xee; 100];
        r.read_exact_at(0, &mut all).unwrap();
        let mut want = vec![0u8; 100];
        for (i, c) in b"ABCDEF".iter().enumerate() {
            want[i * 10] = *c;
        }
        assert_eq!(all, want);
    }

    #[test]
    fn damage_is_a_sentence() {
        let mut h = header("a", 5, b'0', false);
        h[0] ^= 1;
        assert_eq!(list(&MemReader::new(h.to_vec())).err().unwrap().to_string(), "the first tar header's checksum does not match");
        let mut a = header("a", 5000, b'0', false).to_vec();
        a.extend_from_slice(&[1; 600]);
        let archive: Reader = Rc::new(MemReader::new(a));
        let l = list(&*archive).unwrap();
        assert!(member_reader(&archive, &l.members[0]).err().unwrap().to_string().contains("cut short"), "{:?}", l.notes);
    }

    #[test]
    fn pax_records_parse_and_refuse_garbage() {
        let r = pax_records(b"18 path=a/b/c.raw\n11 size=42\n").unwrap();
        assert_eq!(r[1], ("size".into(), b"42".to_vec()));
        assert!(pax_records(b"99 path=x\n").is_err());
        assert!(pax_records(b"x path\n").is_err());
    }
}
