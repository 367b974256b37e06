//! Finds a disk's partition table: GPT, then MBR, else none.
//!
//! Order matters. A GPT disk also has a (protective) MBR, so GPT is probed
//! first, at 512- and 4096-byte sectors, from either header. A filesystem
//! boot sector (FAT, NTFS, exFAT) also ends in 0x55AA, so sector 0 counts
//! as an MBR only when it is not such a boot sector and its entries look
//! like partitions. Anything else is one volume spanning the whole disk.

use super::{gpt, mbr, Partition, PartitionTable, TableKind};
use crate::fs::detect::is_boot_sector_fs;
use crate::read_at::ReadAt;

/// Reads the partition table; never fails: the worst case is a single
/// whole-disk volume with notes saying what went wrong.
pub fn read_table(disk: &dyn ReadAt) -> PartitionTable {
    let mut notes = Vec::new();
    let mut sector0 = [0u8; 512];
    let have_sector0 = disk.read_exact_at(0, &mut sector0).is_ok();
    let mbr_entries = if have_sector0 { mbr::entries(&sector0) } else { None };
    let protective = mbr_entries.is_some_and(|e| e.iter().any(|p| p.type_id == 0xee));

    for sector_bytes in [512u64, 4096] {
        if gpt::has_signature(disk, sector_bytes) || (protective && sector_bytes == 512) {
            match gpt::read(disk, sector_bytes) {
                Ok(mut t) => {
                    if sector_bytes != 512 {
                        t.notes.insert(0, format!("the GPT uses {sector_bytes}-byte sectors"));
                    }
                    return t;
                }
                Err(e) => notes.push(format!("{e}; looking for other partition tables")),
            }
        }
    }

    if let Some(entries) = mbr_entries {
        if !protective && !is_boot_sector_fs(&sector0) && mbr::looks_valid(&entries) {
            match mbr::read(disk, &entries) {
                Ok(mut t) => {
                    notes.append(&mut t.notes);
                    t.notes = notes;
                    return t;
                }
                Err(e) => notes.push(format!("the MBR partition table can't be read: {e}")),
            }
        }
    }

    PartitionTable {
        kind: TableKind::None,
        partitions: vec![Partition {
            offset: 0,
            length: disk.size(),
            type_id: None,
            type_name: "Whole disk".into(),
            name: None,
            problems: Vec::new(),
        }],
        notes,
    }
}
