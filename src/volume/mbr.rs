//! MBR partition tables with extended and logical partitions.
//!
//! Follows the classic PC layout: four 16-byte entries at byte 0x1BE of
//! sector 0, signature 0x55 0xAA at 0x1FE. An extended partition (type 0x05,
//! 0x0F or 0x85) holds a chain of EBRs: in each, entry 1 is a logical
//! partition relative to that EBR, entry 2 links to the next EBR relative to
//! the start of the extended partition. The chain is walked with a visited
//! set and a length limit, and stops at the first bad link, keeping what
//! came before.

use std::collections::HashSet;

use super::types::{mbr_is_extended, mbr_type_name};
use super::{Partition, PartitionTable, TableKind, SECTOR_BYTES};
use crate::error::Result;
use crate::read_at::ReadAt;

/// More logical partitions than any tool makes; guards against cycles the
/// visited set can't see (ever-new offsets).
const MAX_LOGICAL: usize = 256;

/// One 16-byte partition entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbrEntry {
    pub status: u8,
    pub type_id: u8,
    pub start_lba: u32,
    pub sectors: u32,
}

impl MbrEntry {
    fn from_bytes(b: &[u8; 16]) -> MbrEntry {
        MbrEntry {
            status: b[0x0],
            type_id: b[0x4],
            start_lba: u32::from_le_bytes([b[0x8], b[0x9], b[0xa], b[0xb]]),
            sectors: u32::from_le_bytes([b[0xc], b[0xd], b[0xe], b[0xf]]),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.type_id == 0 || self.sectors == 0
    }
}

/// Sector 0's four entries, if it carries the 0x55AA signature.
pub fn entries(sector: &[u8; 512]) -> Option<[MbrEntry; 4]> {
    if sector[0x1fe] != 0x55 || sector[0x1ff] != 0xaa {
        return None;
    }
    let mut out = [MbrEntry { status: 0, type_id: 0, start_lba: 0, sectors: 0 }; 4];
    for (i, e) in out.iter_mut().enumerate() {
        let start = 0x1be + i * 16;
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&sector[start..start + 16]);
        *e = MbrEntry::from_bytes(&raw);
    }
    Some(out)
}

/// Whether the entries look like a partition table rather than boot code
/// or a filesystem's boot sector: valid status bytes, at least one used
/// entry, every used entry starting after sector 0.
pub fn looks_valid(entries: &[MbrEntry; 4]) -> bool {
    let used: Vec<&MbrEntry> = entries.iter().filter(|e| !e.is_empty()).collect();
    !used.is_empty()
        && entries.iter().all(|e| e.status == 0 || e.status == 0x80)
        && used.iter().all(|e| e.start_lba > 0)
}

fn partition(offset_lba: u64, e: &MbrEntry, disk_bytes: u64) -> Partition {
    let offset = offset_lba.saturating_mul(SECTOR_BYTES);
    let length = u64::from(e.sectors) * SECTOR_BYTES;
    let mut problems = Vec::new();
    if offset.saturating_add(length) > disk_bytes {
        problems.push(format!(
            "the partition table says this partition ends at byte {}, past the end of the disk ({} bytes); the missing part reads as unavailable",
            offset.saturating_add(length),
            disk_bytes
        ));
    }
    Partition {
        offset,
        length,
        type_id: Some(format!("0x{:02x}", e.type_id)),
        type_name: mbr_type_name(e.type_id).to_string(),
        name: None,
        problems,
    }
}

/// Reads an MBR table whose sector 0 holds `primary`: primary partitions in
/// slot order, then the logical partitions of the (first) extended one.
pub fn read(disk: &dyn ReadAt, primary: &[MbrEntry; 4]) -> Result<PartitionTable> {
    let disk_bytes = disk.size();
    let mut table = PartitionTable { kind: TableKind::Mbr, partitions: Vec::new(), notes: Vec::new() };
    let mut extended: Option<&MbrEntry> = None;
    for e in primary.iter().filter(|e| !e.is_empty()) {
        if mbr_is_extended(e.type_id) {
            if extended.is_none() {
                extended = Some(e);
            } else {
                table.notes.push("a second extended partition was ignored".into());
            }
            continue;
        }
        table.partitions.push(partition(u64::from(e.start_lba), e, disk_bytes));
    }
    if let Some(ext) = extended {
        read_logical(disk, u64::from(ext.start_lba), &mut table);
    }
    Ok(table)
}

/// Walks the EBR chain of the extended partition starting at `ext_lba`.
fn read_logical(disk: &dyn ReadAt, ext_lba: u64, table: &mut PartitionTable) {
    let disk_bytes = disk.size();
    let mut visited = HashSet::new();
    let mut ebr_lba = ext_lba;
    let mut count = 0usize;
    loop {
        if !visited.insert(ebr_lba) {
            table.notes.push(format!("the chain of logical partitions loops back to sector {ebr_lba}; stopped there"));
            return;
        }
        if count >= MAX_LOGICAL {
            table.notes.push(format!("more than {MAX_LOGICAL} logical partitions; stopped there"));
            return;
        }
        let mut sector = [0u8; 512];
        if let Err(e) = disk.read_exact_at(ebr_lba.saturating_mul(SECTOR_BYTES), &mut sector) {
            table.notes.push(format!("the logical partition record at sector {ebr_lba} can't be read ({e}); later logical partitions are missing"));
            return;
        }
        let Some(ebr) = entries(&sector) else {
            if count == 0 {
                table.notes.push("the extended partition holds no logical partitions".into());
            } else {
                table.notes.push(format!("the logical partition record at sector {ebr_lba} has no signature; later logical partitions are missing"));
            }
            return;
        };
        let logical = ebr[0];
        if !logical.is_empty() {
            table.partitions.push(partition(ebr_lba.saturating_add(u64::from(logical.start_lba)), &logical, disk_bytes));
        }
        count += 1;
        let next = ebr[1];
        if next.is_empty() || !mbr_is_extended(next.type_id) {
            return;
        }
        ebr_lba = ext_lba.saturating_add(u64::from(next.start_lba));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    fn put_entry(disk: &mut [u8], sector: usize, slot: usize, type_id: u8, start: u32, count: u32) {
        let base = sector * 512 + 0x1be + slot * 16;
        disk[base + 4] = type_id;
        disk[base + 8..base + 12].copy_from_slice(&start.to_le_bytes());
        disk[base + 12..base + 16].copy_from_slice(&count.to_le_bytes());
        disk[sector * 512 + 0x1fe] = 0x55;
        disk[sector * 512 + 0x1ff] = 0xaa;
    }

    fn first_sector(disk: &[u8]) -> [MbrEntry; 4] {
        let mut s = [0u8; 512];
        s.copy_from_slice(&disk[..512]);
        entries(&s).unwrap()
    }

    #[test]
    fn primary_then_logical() {
        let mut disk = vec![0u8; 200 * 512];
        put_entry(&mut disk, 0, 0, 0x83, 10, 20);
        put_entry(&mut disk, 0, 1, 0x05, 50, 100);
        put_entry(&mut disk, 50, 0, 0x83, 2, 10); // logical at 52
        put_entry(&mut disk, 50, 1, 0x05, 20, 30); // next EBR at 70
        put_entry(&mut disk, 70, 0, 0x82, 2, 5); // logical at 72
        let t = read(&MemReader::new(disk.clone()), &first_sector(&disk)).unwrap();
        let offsets: Vec<u64> = t.partitions.iter().map(|p| p.offset / 512).collect();
        assert_eq!(offsets, [10, 52, 72]);
        assert_eq!(t.partitions[2].type_id.as_deref(), Some("0x82"));
        assert!(t.notes.is_empty());
    }

    #[test]
    fn a_looping_chain_stops_with_a_note() {
        let mut disk = vec![0u8; 200 * 512];
        put_entry(&mut disk, 0, 0, 0x05, 50, 100);
        put_entry(&mut disk, 50, 0, 0x83, 2, 10);
        put_entry(&mut disk, 50, 1, 0x05, 0, 30); // points back to itself
        let t = read(&MemReader::new(disk.clone()), &first_sector(&disk)).unwrap();
        assert_eq!(t.partitions.len(), 1);
        assert_eq!(t.notes, ["the chain of logical partitions loops back to sector 50; stopped there"]);
    }

    #[test]
    fn a_partition_past_the_end_is_flagged() {
        let mut disk = vec![0u8; 20 * 512];
        put_entry(&mut disk, 0, 0, 0x83, 10, 1000);
        let t = read(&MemReader::new(disk.clone()), &first_sector(&disk)).unwrap();
        assert!(t.partitions[0].problems[0].contains("past the end of the disk"));
    }

    #[test]
    fn boot_code_is_not_a_table() {
        let mut s = [0u8; 512];
        s[0x1be..0x1fe].copy_from_slice(&[b'x'; 64]);
        s[0x1fe] = 0x55;
        s[0x1ff] = 0xaa;
        assert!(!looks_valid(&entries(&s).unwrap()));
    }
}
