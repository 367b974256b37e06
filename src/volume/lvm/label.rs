//! LVM2 on-disk headers (lvm2 `lib/label/label.h`, `lib/format_text/layout.h`).
//!
//! - The label: one of the first four 512-byte sectors starts with
//!   `LABELONE`, its own sector number, a CRC of the rest of the sector,
//!   the offset of the PV header and the type `LVM2 001`.
//! - The PV header: the PV's UUID (32 characters), its size, then two
//!   lists of `{offset, size}` disk locations ended by a zero entry: data
//!   areas, then metadata areas.
//! - Each metadata area starts with a 512-byte header: CRC, the magic
//!   ` LVM2 x[5A%r0N*>`, version 1, the area's start and size, and raw
//!   locations `{offset, size, checksum, flags}`; the first names the
//!   committed metadata text, relative to the area. The area after the
//!   header is a ring buffer: a text running past its end continues right
//!   after the header. Older texts stay in the ring until overwritten.
//!
//! CRCs are lvm2's `calc_crc`: CRC-32 (reflected 0xEDB88320) seeded with
//! 0xf597a6cf, without the final inversion.

use crate::error::{alloc_bytes, Error, Result};
use crate::read_at::{read_vec, ReadAt};
use crate::bytes::{le32, le64};

const LABEL_ID: &[u8; 8] = b"LABELONE";
const LABEL_TYPE: &[u8; 8] = b"LVM2 001";
const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
const INITIAL_CRC: u32 = 0xf597_a6cf;
const MDA_HEADER_BYTES: u64 = 512;
/// Rings bigger than this are not read whole (old versions aren't listed).
pub const MAX_RING_BYTES: u64 = 64 << 20;
/// Disk location lists longer than this are damage.
const MAX_LOCATIONS: usize = 16;

/// lvm2's `calc_crc`.
pub fn calc_crc(initial: u32, buf: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(!initial);
    h.update(buf);
    !h.finalize()
}


/// One `{offset, size}` pair of the PV header, in bytes from the PV start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskLocn {
    pub offset: u64,
    pub size: u64,
}

/// A checked label and PV header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvLabel {
    /// Which of the first four sectors holds the label.
    pub sector: u64,
    /// The PV UUID as stored: 32 characters, no dashes.
    pub pv_uuid: String,
    pub device_size_bytes: u64,
    pub data_areas: Vec<DiskLocn>,
    pub metadata_areas: Vec<DiskLocn>,
}

/// Whether one of the first four sectors carries an LVM2 label.
pub fn has_label(dev: &dyn ReadAt) -> bool {
    (0..4u64).any(|s| {
        let mut b = [0u8; 32];
        dev.read_exact_at(s * 512, &mut b).is_ok() && &b[0..8] == LABEL_ID && &b[24..32] == LABEL_TYPE
    })
}

impl PvLabel {
    /// Finds and checks the label in the first four sectors.
    pub fn read(dev: &dyn ReadAt) -> Result<PvLabel> {
        for s in 0..4u64 {
            let Ok(sector) = read_vec(dev, s * 512, 512) else { continue };
            if &sector[0..8] == LABEL_ID && &sector[24..32] == LABEL_TYPE {
                return Self::from_sector(s, &sector).map_err(|e| e.at_offset(s * 512));
            }
        }
        Err(Error::not_found("no LVM2 label in the first four sectors"))
    }

    pub fn from_sector(s: u64, sector: &[u8]) -> Result<PvLabel> {
        let sector_xl = le64(sector, 0x08);
        let crc_xl = le32(sector, 0x10);
        let offset_xl = le32(sector, 0x14) as usize;
        let actual = calc_crc(INITIAL_CRC, &sector[0x14..512]);
        if actual != crc_xl {
            return Err(Error::corrupt(format!(
                "LVM2 label checksum mismatch (stored {crc_xl:#010x}, computed {actual:#010x})"
            )));
        }
        if sector_xl != s {
            return Err(Error::corrupt(format!("LVM2 label in sector {s} says it is in sector {sector_xl}")));
        }
        if !(32..=512 - 48).contains(&offset_xl) {
            return Err(Error::corrupt(format!("LVM2 PV header offset {offset_xl} is out of range")));
        }
        let pvh = &sector[offset_xl..];
        let uuid = &pvh[0..32];
        if !uuid.iter().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::corrupt("LVM2 PV UUID is not 32 letters and digits"));
        }
        let device_size_bytes = le64(pvh, 32);
        let mut lists = [Vec::new(), Vec::new()];
        let mut at = 40usize;
        for list in &mut lists {
            loop {
                if at + 16 > pvh.len() {
                    return Err(Error::corrupt("LVM2 PV header area lists run past the label sector"));
                }
                let l = DiskLocn { offset: le64(pvh, at), size: le64(pvh, at + 8) };
                at += 16;
                if l.offset == 0 {
                    break;
                }
                if list.len() >= MAX_LOCATIONS {
                    return Err(Error::corrupt("LVM2 PV header lists too many areas"));
                }
                list.push(l);
            }
        }
        let [data_areas, metadata_areas] = lists;
        Ok(PvLabel {
            sector: s,
            pv_uuid: String::from_utf8_lossy(uuid).into_owned(),
            device_size_bytes,
            data_areas,
            metadata_areas,
        })
    }
}

/// A raw location: where a metadata text sits, relative to its area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawLocn {
    pub offset: u64,
    pub size: u64,
    pub checksum: u32,
    pub flags: u32,
}

/// A checked metadata area header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdaHeader {
    /// Where the area starts on the PV.
    pub start: u64,
    pub size: u64,
    pub raw_locns: Vec<RawLocn>,
}

impl MdaHeader {
    pub fn read(dev: &dyn ReadAt, area: DiskLocn) -> Result<MdaHeader> {
        let b = read_vec(dev, area.offset, MDA_HEADER_BYTES as usize)?;
        Self::from_bytes(&b).map_err(|e| e.at_offset(area.offset))
    }

    pub fn from_bytes(b: &[u8]) -> Result<MdaHeader> {
        if &b[4..20] != MDA_MAGIC {
            return Err(Error::corrupt("no LVM2 metadata area magic"));
        }
        let stored = le32(b, 0);
        let actual = calc_crc(INITIAL_CRC, &b[4..512]);
        if stored != actual {
            return Err(Error::corrupt(format!(
                "LVM2 metadata area header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
            )));
        }
        let version = le32(b, 20);
        if version != 1 {
            return Err(Error::unsupported(format!("LVM2 metadata area version {version}")));
        }
        let start = le64(b, 24);
        let size = le64(b, 32);
        if size <= MDA_HEADER_BYTES {
            return Err(Error::corrupt(format!("LVM2 metadata area of {size} bytes is too small")));
        }
        let mut raw_locns = Vec::new();
        let mut at = 40;
        while at + 24 <= 512 && raw_locns.len() < 4 {
            let r = RawLocn { offset: le64(b, at), size: le64(b, at + 8), checksum: le32(b, at + 16), flags: le32(b, at + 20) };
            if r.offset == 0 {
                break;
            }
            raw_locns.push(r);
            at += 24;
        }
        Ok(MdaHeader { start, size, raw_locns })
    }

    fn ring_bytes(&self) -> u64 {
        self.size - MDA_HEADER_BYTES
    }

    /// Reads the committed text named by the first raw location, checking
    /// its CRC.
    pub fn read_current(&self, dev: &dyn ReadAt) -> Result<Vec<u8>> {
        let r = self.raw_locns.first().ok_or_else(|| Error::not_found("the LVM2 metadata area holds no metadata"))?;
        if r.flags & 1 != 0 {
            return Err(Error::not_found("the LVM2 metadata area is marked ignored"));
        }
        if r.offset < MDA_HEADER_BYTES || r.offset >= self.size {
            return Err(Error::corrupt(format!("LVM2 metadata text offset {} lies outside its area", r.offset)));
        }
        if r.size > self.ring_bytes() {
            return Err(Error::corrupt(format!("LVM2 metadata text of {} bytes is larger than its area", r.size)));
        }
        let mut text = alloc_bytes(r.size, super::metadata::MAX_TEXT_BYTES as u64, "the LVM2 metadata text")?;
        // Up to the end of the area, then the rest from just after the header.
        let first = (self.size - r.offset).min(r.size);
        let start = self.start.checked_add(r.offset).ok_or_else(|| Error::corrupt("LVM2 metadata offset overflows"))?;
        let first_usize = first as usize;
        dev.read_exact_at(start, &mut text[..first_usize])?;
        if first < r.size {
            let ring_start = self.start.checked_add(MDA_HEADER_BYTES).ok_or_else(|| Error::corrupt("LVM2 metadata offset overflows"))?;
            dev.read_exact_at(ring_start, &mut text[first_usize..])?;
        }
        let actual = calc_crc(INITIAL_CRC, &text);
        if actual != r.checksum {
            return Err(Error::corrupt(format!(
                "LVM2 metadata text checksum mismatch (stored {:#010x}, computed {actual:#010x})",
                r.checksum
            ))
            .at_offset(start));
        }
        Ok(text)
    }

    /// Reads the whole ring (for older texts); None when it is too big.
    pub fn read_ring(&self, dev: &dyn ReadAt) -> Option<Vec<u8>> {
        if self.ring_bytes() > MAX_RING_BYTES {
            return None;
        }
        let mut ring = alloc_bytes(self.ring_bytes(), MAX_RING_BYTES, "the LVM2 metadata ring").ok()?;
        dev.read_exact_at(self.start.checked_add(MDA_HEADER_BYTES)?, &mut ring).ok()?;
        Some(ring)
    }
}

/// Older texts looked at in one ring, at most.
const MAX_RING_TEXTS: usize = 128;
/// An older text longer than this is not read.
const MAX_RING_TEXT_BYTES: usize = 4 << 20;

/// Where texts in a ring start that look like the start of a VG's
/// metadata (`name {\nid = "…"\nseqno = `).
pub fn texts_in_ring(ring: &[u8]) -> Vec<usize> {
    const MARK: &[u8] = b" {\nid = \"";
    let mut out = Vec::new();
    let n = ring.len();
    if n < MARK.len() {
        return out;
    }
    let at = |i: usize| ring[i % n];
    let mut i = 0;
    while i < n {
        if (0..MARK.len()).all(|k| at(i + k) == MARK[k]) {
            // The id line, then `seqno = ` must follow for a VG (not a PV/LV section).
            let mut j = i + MARK.len();
            let mut ok = false;
            for _ in 0..80 {
                if at(j) == b'\n' {
                    ok = (0..8).all(|k| at(j + 1 + k) == b"seqno = "[k]);
                    break;
                }
                j += 1;
            }
            // Back up over the VG name.
            let mut s = i;
            let mut len = 0;
            while len < 128 && s > 0 && is_name_byte(ring[s - 1]) {
                s -= 1;
                len += 1;
            }
            if ok && len > 0 {
                out.push(s);
                if out.len() >= MAX_RING_TEXTS {
                    break;
                }
            }
        }
        i += 1;
    }
    out
}

/// The text starting at `start` in a ring, up to its NUL, wrapping once.
pub fn ring_text(ring: &[u8], start: usize) -> Vec<u8> {
    let n = ring.len();
    let limit = n.min(MAX_RING_TEXT_BYTES);
    let mut text = Vec::new();
    let mut k = start;
    while text.len() < limit && ring[k % n] != 0 {
        text.push(ring[k % n]);
        k += 1;
    }
    text
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+_.-".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_lvm2() {
        // lvm2 calc_crc over nothing returns the seed.
        assert_eq!(calc_crc(INITIAL_CRC, b""), INITIAL_CRC);
        let mut c = INITIAL_CRC;
        for &b in b"LVM2" {
            // The table-free form of lvm2's byte loop.
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 };
            }
        }
        assert_eq!(calc_crc(INITIAL_CRC, b"LVM2"), c);
    }

    #[test]
    fn label_damage_is_named() {
        let mut s = vec![0u8; 512];
        s[0..8].copy_from_slice(LABEL_ID);
        s[24..32].copy_from_slice(LABEL_TYPE);
        s[0x14] = 32;
        let e = PvLabel::from_sector(1, &s).unwrap_err();
        assert!(e.message().starts_with("LVM2 label checksum mismatch"), "{e}");
        let crc = calc_crc(INITIAL_CRC, &s[0x14..512]);
        s[0x10..0x14].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(PvLabel::from_sector(1, &s).unwrap_err().message(), "LVM2 label in sector 1 says it is in sector 0");
        assert_eq!(PvLabel::from_sector(0, &s).unwrap_err().message(), "LVM2 PV UUID is not 32 letters and digits");
    }

    #[test]
    fn ring_texts_wrap() {
        let mut ring = vec![0u8; 64];
        let t = b"vg {\nid = \"x\"\nseqno = 2\n}\n";
        // Starts 10 bytes before the end, wraps to the start.
        for (k, b) in t.iter().enumerate() {
            ring[(54 + k) % 64] = *b;
        }
        let found = texts_in_ring(&ring);
        assert_eq!(found, vec![54]);
        assert_eq!(ring_text(&ring, 54), t.to_vec());
    }
}
