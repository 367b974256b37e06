//! Linux md RAID arrays (the kernel's `include/uapi/linux/raid/md_p.h`,
//! mdadm's `super0.c` and `super1.c`).
//!
//! Superblocks:
//! - 0.90: 4 KiB at the last 64 KiB boundary of the device minus 64 KiB,
//!   32-bit words in host order (little-endian here), data from byte 0,
//!   `size` in KiB;
//! - 1.x: little-endian, at the end (1.0: `(size − 8 KiB) & ~4 KiB`), the
//!   start (1.1) or 4 KiB in (1.2); `data_offset` and `data_size` in
//!   sectors are read, never assumed; `dev_roles[dev_number]` is the
//!   member's slot.
//!
//! Both carry a 32-bit sum of their words, folded. Members are grouped by
//! array UUID; the highest event count wins and staler members are left
//! out with a note. Levels: linear, RAID0 (equal members), RAID1 (one
//! member is enough), RAID10 near layouts, RAID5 (any of the four
//! layouts; one missing member is rebuilt from parity, chunk by chunk).
//! Other levels and layouts get a sentence.

use std::rc::Rc;

use super::assemble::{AssembledVolume, Assembly, Candidate};
use crate::error::{Error, Result};
use crate::read_at::{check_range, read_vec, ReadAt, Reader, Slice};
use crate::bytes::{le32, le64};

const MAGIC: u32 = 0xa92b_4efc;
/// More members than any array mdadm makes (1.x allows 384 roles).
const MAX_DISKS: u32 = 384;


/// mdadm's checksum: the sum of the little-endian words (and a last
/// 16-bit half word), high half folded in; the checksum field counts as 0.
fn fold_sum(b: &[u8], skip: usize) -> u32 {
    let mut sum = 0u64;
    let words = b.chunks_exact(4);
    let rest = words.remainder();
    for (i, w) in words.enumerate() {
        if i * 4 != skip {
            sum = sum.wrapping_add(u64::from(le32(w, 0)));
        }
    }
    if rest.len() >= 2 {
        sum = sum.wrapping_add(u64::from(u16::from_le_bytes([rest[0], rest[1]])));
    }
    ((sum & 0xffff_ffff) + (sum >> 32)) as u32
}

/// One member's superblock, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdSuperblock {
    /// "0.90", "1.0", "1.1", "1.2".
    pub version: &'static str,
    pub array_uuid: [u8; 16],
    /// The array's name (1.x) or `md<minor>` (0.90).
    pub name: String,
    /// -1 linear, 0, 1, 4, 5, 6, 10.
    pub level: i32,
    pub layout: u32,
    pub chunk_bytes: u64,
    pub raid_disks: u32,
    /// This member's slot, None for a spare or a faulty member.
    pub role: Option<u32>,
    pub data_offset_bytes: u64,
    /// Bytes of this member the array uses.
    pub data_bytes: u64,
    pub events: u64,
    /// A reshape is in progress (1.x feature bit 4).
    pub reshaping: bool,
}

impl MdSuperblock {
    /// Finds a superblock: 1.2, 1.1, 1.0, then 0.90.
    pub fn find(dev: &dyn ReadAt) -> Option<Result<MdSuperblock>> {
        let size = dev.size();
        let mut spots = vec![(4096u64, "1.2"), (0, "1.1")];
        if size >= 8192 {
            spots.push(((size - 8192) & !4095, "1.0"));
        }
        for (at, version) in spots {
            let Ok(b) = read_vec(dev, at, 1024) else { continue };
            if le32(&b, 0) == MAGIC && le32(&b, 4) == 1 {
                return Some(Self::from_v1(&b, version, at, dev).map_err(|e| e.at_offset(at)));
            }
        }
        if size >= 65536 {
            let at = (size & !65535) - 65536;
            if let Ok(b) = read_vec(dev, at, 4096) {
                if le32(&b, 0) == MAGIC && le32(&b, 4) == 0 {
                    return Some(Self::from_v090(&b).map_err(|e| e.at_offset(at)));
                }
            }
        }
        None
    }

    fn from_v1(b: &[u8], version: &'static str, at: u64, dev: &dyn ReadAt) -> Result<MdSuperblock> {
        let max_dev = le32(b, 220);
        if max_dev > MAX_DISKS {
            return Err(Error::corrupt(format!("md superblock lists {max_dev} member slots, more than {MAX_DISKS}")));
        }
        // max_dev ≤ 384: the roles fit in 256 + 768 bytes; read more when the first KiB is short.
        let len = 256 + max_dev as usize * 2;
        let full = if len > b.len() { read_vec(dev, at, len)? } else { b[..len].to_vec() };
        let stored = le32(&full, 216);
        let actual = fold_sum(&full, 216);
        if stored != actual {
            return Err(Error::corrupt(format!("md superblock checksum mismatch (stored {stored:#010x}, computed {actual:#010x})")));
        }
        let super_offset = le64(&full, 144);
        if super_offset.checked_mul(512) != Some(at) {
            return Err(Error::corrupt(format!("md superblock at byte {at} says it is at sector {super_offset}")));
        }
        let mut array_uuid = [0u8; 16];
        array_uuid.copy_from_slice(&full[16..32]);
        let name = crate::fs::detect::label(&full[32..64]).unwrap_or_else(|| "md".into());
        let level = le32(&full, 72) as i32;
        let size = le64(&full, 80);
        let data_offset = le64(&full, 128);
        let data_size = le64(&full, 136);
        let dev_number = le32(&full, 160);
        let role = (dev_number < max_dev)
            .then(|| u32::from(u16::from_le_bytes([full[256 + dev_number as usize * 2], full[257 + dev_number as usize * 2]])))
            .filter(|r| *r < 0xff00);
        let used = if size > 0 && level != 0 { size } else { data_size };
        let data_offset_bytes = data_offset.saturating_mul(512);
        let data_bytes = used.saturating_mul(512);
        Ok(MdSuperblock {
            version,
            array_uuid,
            name,
            level,
            layout: le32(&full, 76),
            chunk_bytes: u64::from(le32(&full, 88)) * 512,
            raid_disks: le32(&full, 92).min(MAX_DISKS),
            role,
            data_offset_bytes,
            data_bytes,
            events: le64(&full, 200),
            reshaping: le32(&full, 8) & 4 != 0,
        })
    }

    fn from_v090(b: &[u8]) -> Result<MdSuperblock> {
        let w = |i: usize| le32(b, i * 4);
        let stored = w(38);
        let actual = fold_sum(b, 38 * 4);
        if stored != actual {
            return Err(Error::corrupt(format!("md 0.90 superblock checksum mismatch (stored {stored:#010x}, computed {actual:#010x})")));
        }
        let mut array_uuid = [0u8; 16];
        for (k, word) in [5, 13, 14, 15].into_iter().enumerate() {
            array_uuid[k * 4..k * 4 + 4].copy_from_slice(&w(word).to_be_bytes());
        }
        // this_disk: word 992 + {number, major, minor, raid_disk, state}; state bit 0 = faulty.
        let state = w(996);
        let role = (state & 1 == 0).then(|| w(995)).filter(|r| *r < MAX_DISKS);
        Ok(MdSuperblock {
            version: "0.90",
            array_uuid,
            name: format!("md{}", w(11)),
            level: w(7) as i32,
            layout: w(64),
            chunk_bytes: u64::from(w(65)),
            raid_disks: w(10).min(MAX_DISKS),
            role,
            data_offset_bytes: 0,
            data_bytes: u64::from(w(8)) * 1024,
            events: u64::from(w(39)) | (u64::from(w(40)) << 32),
            reshaping: false,
        })
    }

    pub fn uuid_string(&self) -> String {
        let h: Vec<String> = self.array_uuid.iter().map(|c| format!("{c:02x}")).collect();
        format!("{}-{}-{}-{}-{}", h[0..4].concat(), h[4..6].concat(), h[6..8].concat(), h[8..10].concat(), h[10..16].concat())
    }

    pub fn level_name(&self) -> String {
        match self.level {
            -1 => "linear".into(),
            l => format!("RAID{l}"),
        }
    }
}

/// How array bytes map onto member bytes.
enum Layout {
    Linear,
    Raid0,
    Mirror,
    /// RAID10 with `copies` near copies.
    Near { copies: u64 },
    /// RAID5: `left` parity rotation, `symmetric` data placement.
    Raid5 { left: bool, symmetric: bool },
}

/// An assembled array as a [`ReadAt`]. Member `i` is the data region of
/// the member in slot `i`, or None when missing.
pub struct MdReader {
    layout: Layout,
    members: Vec<Option<Reader>>,
    member_bytes: u64,
    chunk: u64,
    size: u64,
}

impl MdReader {
    fn member(&self, i: usize) -> Result<&Reader> {
        self.members
            .get(i)
            .and_then(|m| m.as_ref())
            .ok_or_else(|| Error::not_found(format!("member {i} of the array is missing")))
    }

    /// Reads within one chunk (or one linear member).
    fn read_chunk(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let n = self.members.len() as u64;
        let (c, within) = (pos / self.chunk, pos % self.chunk);
        match self.layout {
            Layout::Linear => {
                let i = (pos / self.member_bytes) as usize;
                self.member(i)?.read_exact_at(pos % self.member_bytes, buf)
            }
            Layout::Mirror => {
                let mut last = Error::not_found("no member of the mirror is present");
                for m in self.members.iter().flatten() {
                    match m.read_exact_at(pos, buf) {
                        Ok(()) => return Ok(()),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Layout::Raid0 => self.member((c % n) as usize)?.read_exact_at((c / n) * self.chunk + within, buf),
            Layout::Near { copies } => {
                let mut last = Error::not_found("no copy of this chunk is present");
                for j in 0..copies {
                    let idx = c * copies + j;
                    if let Ok(m) = self.member((idx % n) as usize) {
                        match m.read_exact_at((idx / n) * self.chunk + within, buf) {
                            Ok(()) => return Ok(()),
                            Err(e) => last = e,
                        }
                    }
                }
                Err(last)
            }
            Layout::Raid5 { left, symmetric } => {
                let data_disks = n - 1;
                let row = c / data_disks;
                let i = c % data_disks;
                let parity = if left { data_disks - row % n } else { row % n };
                let disk = if symmetric { (parity + 1 + i) % n } else if i < parity { i } else { i + 1 };
                let at = row * self.chunk + within;
                match self.member(disk as usize) {
                    Ok(m) => m.read_exact_at(at, buf),
                    Err(_) => {
                        // Rebuild: the XOR of every other member's chunk in this row.
                        buf.fill(0);
                        let mut tmp = vec![0u8; buf.len()];
                        for d in (0..n).filter(|d| *d != disk) {
                            self.member(d as usize)
                                .map_err(|_| Error::not_found("two members of the RAID5 array are missing; it can't be rebuilt"))?
                                .read_exact_at(at, &mut tmp)?;
                            buf.iter_mut().zip(&tmp).for_each(|(b, t)| *b ^= t);
                        }
                        Ok(())
                    }
                }
            }
        }
    }
}

impl ReadAt for MdReader {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let span = match self.layout {
                Layout::Linear => self.member_bytes - pos % self.member_bytes,
                Layout::Mirror => u64::MAX,
                _ => self.chunk - pos % self.chunk,
            };
            let take = span.min((buf.len() - done) as u64) as usize;
            self.read_chunk(pos, &mut buf[done..done + take]).map_err(|e| e.at_offset(pos))?;
            done += take;
        }
        Ok(())
    }
}

impl MdReader {
    /// An array of `level` with md's `layout` over `members` (slot order,
    /// None when missing), each using `member_bytes`; for LVM raid segments.
    pub fn for_level(level: i32, layout: u32, members: Vec<Option<Reader>>, member_bytes: u64, chunk: u64) -> Result<MdReader> {
        let n = members.len() as u64;
        let missing = members.iter().filter(|m| m.is_none()).count();
        let rows = if chunk > 0 { member_bytes / chunk } else { 0 };
        let (layout, size, tolerated) = match level {
            0 if n > 0 => (Layout::Raid0, rows.saturating_mul(n).saturating_mul(chunk), 0),
            10 if n >= 2 => (Layout::Near { copies: 2 }, (rows.saturating_mul(n) / 2).saturating_mul(chunk), 1),
            5 if n >= 2 && layout <= 3 => {
                (Layout::Raid5 { left: layout == 0 || layout == 2, symmetric: layout >= 2 }, rows.saturating_mul(n - 1).saturating_mul(chunk), 1)
            }
            _ => return Err(Error::unsupported(format!("RAID{level} layout {layout} is not supported yet"))),
        };
        if missing > tolerated {
            return Err(Error::not_found(format!("{missing} of its {n} images are missing")));
        }
        Ok(MdReader { layout, members, member_bytes, chunk: chunk.max(1), size })
    }
}

struct Member {
    candidate: usize,
    sb: MdSuperblock,
}

/// Groups the candidates' md members by array and assembles each array.
pub fn assemble(candidates: &[Candidate]) -> Assembly {
    let mut out = Assembly::default();
    let mut members: Vec<Member> = Vec::new();
    for (ci, c) in candidates.iter().enumerate() {
        match MdSuperblock::find(&*c.reader) {
            None => {}
            Some(Ok(sb)) => members.push(Member { candidate: ci, sb }),
            Some(Err(e)) => out.members.push((ci, format!("Linux software RAID member — its superblock is damaged: {e}"))),
        }
    }
    // Arrays in the order their first member was found.
    let mut uuids: Vec<[u8; 16]> = Vec::new();
    for m in &members {
        if !uuids.contains(&m.sb.array_uuid) {
            uuids.push(m.sb.array_uuid);
        }
    }
    for uuid in uuids {
        let group: Vec<&Member> = members.iter().filter(|m| m.sb.array_uuid == uuid).collect();
        let newest = group.iter().map(|m| m.sb.events).max().unwrap_or(0);
        // The newest superblock describes the array.
        let Some(lead) = group.iter().find(|m| m.sb.events == newest) else { continue };
        let sb = &lead.sb;
        let n = sb.raid_disks as usize;
        let mut slots: Vec<Option<Reader>> = vec![None; n];
        let mut notes = Vec::new();
        for m in &group {
            let c = &candidates[m.candidate];
            if m.sb.events < newest {
                notes.push(format!("{} is a stale member (events {} < {newest}) and is left out", c.name, m.sb.events));
                out.members.push((m.candidate, format!("Linux software RAID member of {}, stale: left out", sb.name)));
                continue;
            }
            match m.sb.role.map(|r| r as usize).filter(|r| *r < n) {
                Some(r) if slots[r].is_none() => {
                    slots[r] = Some(Rc::new(Slice::new(c.reader.clone(), m.sb.data_offset_bytes, m.sb.data_bytes)));
                    out.members.push((m.candidate, format!("Linux software RAID member {r} of {} ({}, metadata {})", sb.name, sb.level_name(), sb.version)));
                }
                _ => out.members.push((m.candidate, format!("Linux software RAID spare of {}", sb.name))),
            }
        }
        let missing: Vec<String> = (0..n).filter(|i| slots[*i].is_none()).map(|i| i.to_string()).collect();
        let present = n - missing.len();
        let member_bytes = group.iter().filter(|m| m.sb.events == newest).map(|m| m.sb.data_bytes).min().unwrap_or(0);
        let chunk = sb.chunk_bytes;
        let nn = n as u64;
        let striped_bytes = |per: u64| if chunk > 0 { per / chunk * chunk } else { 0 };
        let (layout, size, unreadable): (Option<Layout>, u64, Option<String>) = match sb.level {
            _ if sb.reshaping => (None, 0, Some("a reshape was in progress; reading it is not supported yet".into())),
            _ if n == 0 => (None, 0, Some("the superblock lists no members".into())),
            1 => (Some(Layout::Mirror), member_bytes, (present == 0).then(|| "no member is present".into())),
            -1 => (Some(Layout::Linear), member_bytes.saturating_mul(nn), None),
            0 if chunk > 0 => (Some(Layout::Raid0), striped_bytes(member_bytes).saturating_mul(nn), None),
            10 if chunk > 0 => {
                let near = u64::from(sb.layout & 0xff);
                let far = (sb.layout >> 8) & 0xff;
                if far == 1 && sb.layout & 0x10000 == 0 && near >= 1 && near <= nn {
                    let rows = striped_bytes(member_bytes) / chunk;
                    (Some(Layout::Near { copies: near }), (rows.saturating_mul(nn) / near).saturating_mul(chunk), None)
                } else {
                    (None, 0, Some(format!("RAID10 layout {:#x} (far or offset copies) is not supported yet", sb.layout)))
                }
            }
            5 if chunk > 0 && n >= 2 && sb.layout <= 3 => {
                let (left, symmetric) = (sb.layout == 0 || sb.layout == 2, sb.layout >= 2);
                (Some(Layout::Raid5 { left, symmetric }), striped_bytes(member_bytes).saturating_mul(nn - 1), None)
            }
            5 => (None, 0, Some(format!("RAID5 layout {} is not supported yet", sb.layout))),
            l => (None, 0, Some(format!("RAID{l} is not supported yet"))),
        };
        let unreadable = unreadable.or_else(|| {
            let tolerated = match sb.level {
                1 => n.saturating_sub(1),
                5 => 1,
                10 => 1,
                _ => 0,
            };
            (missing.len() > tolerated).then(|| {
                format!("member {} of {n} missing: select the other disks of the array too", missing.join(", "))
            })
        });
        let reader: Reader = match layout {
            Some(layout) if unreadable.is_none() => Rc::new(MdReader { layout, members: slots, member_bytes, chunk: chunk.max(1), size }),
            _ => Rc::new(crate::read_at::MemReader::new(Vec::new())),
        };
        let mut details = vec![
            ("array".to_string(), format!("{}, metadata {}, uuid {}", sb.level_name(), sb.version, sb.uuid_string())),
            ("members".to_string(), format!("{present} of {n} present{}", if missing.is_empty() { String::new() } else { format!(" (missing: {})", missing.join(", ")) })),
        ];
        if chunk > 0 && sb.level != 1 {
            details.push(("chunk".into(), format!("{} KiB", chunk / 1024)));
        }
        let mut problems = notes;
        if !missing.is_empty() && unreadable.is_none() {
            problems.push(match sb.level {
                5 => format!("degraded: member {} is missing and is rebuilt from parity", missing.join(", ")),
                _ => format!("degraded: member {} of {n} is missing", missing.join(", ")),
            });
        }
        out.volumes.push(AssembledVolume {
            name: sb.name.clone(),
            type_name: format!("Linux md {} array", sb.level_name()),
            reader,
            details,
            problems,
            unreadable: unreadable.map(|u| format!("Linux md {} array — {u}", sb.level_name())),
            member_of: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    #[test]
    fn checksums_fold() {
        let mut b = vec![0u8; 16];
        b[0..4].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
        b[4..8].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(fold_sum(&b, 8), 2);
    }

    #[test]
    fn damaged_superblock_is_named() {
        let mut d = vec![0u8; 1 << 20];
        d[4096..4100].copy_from_slice(&MAGIC.to_le_bytes());
        d[4100] = 1;
        let e = MdSuperblock::find(&MemReader::new(d)).unwrap().unwrap_err();
        assert!(e.to_string().starts_with("byte 0x1000: md superblock checksum mismatch"), "{e}");
    }

    #[test]
    fn raid5_left_symmetric_places_and_rebuilds() {
        // Three members, 4-byte chunks; array chunk k holds byte k.
        let n = 3usize;
        let chunk = 4usize;
        let rows = 4usize;
        let mut disks = vec![vec![0u8; rows * chunk]; n];
        for row in 0..rows {
            let parity = (n - 1) - row % n;
            for i in 0..n - 1 {
                let disk = (parity + 1 + i) % n;
                let k = row * (n - 1) + i;
                disks[disk][row * chunk..(row + 1) * chunk].fill(k as u8 + 1);
            }
            let p: u8 = (0..n - 1).map(|i| (row * (n - 1) + i) as u8 + 1).fold(0, |a, b| a ^ b);
            disks[parity][row * chunk..(row + 1) * chunk].fill(p);
        }
        let want: Vec<u8> = (0..rows * (n - 1)).flat_map(|k| vec![k as u8 + 1; chunk]).collect();
        for missing in [None, Some(0), Some(1), Some(2)] {
            let members = (0..n)
                .map(|i| (Some(i) != missing).then(|| Rc::new(MemReader::new(disks[i].clone())) as Reader))
                .collect();
            let r = MdReader { layout: Layout::Raid5 { left: true, symmetric: true }, members, member_bytes: (rows * chunk) as u64, chunk: chunk as u64, size: want.len() as u64 };
            let mut got = vec![0u8; want.len()];
            r.read_exact_at(0, &mut got).unwrap();
            assert_eq!(got, want, "missing {missing:?}");
        }
    }
}
