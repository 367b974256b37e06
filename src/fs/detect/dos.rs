//! The boot-sector family: FAT12/16/32, exFAT and NTFS, with their labels.
//!
//! All three keep the label where a mounted system shows it from, not in
//! the boot sector: FAT in a volume-label entry of the root directory
//! (Microsoft FAT specification, "Directory Structure"; the boot sector's
//! copy is often stale), exFAT in the root directory's volume label entry
//! (exFAT specification 7.3), NTFS in the `$VOLUME_NAME` attribute of MFT
//! record 3, `$Volume`. Each read is a few small blocks and any damage just
//! means "no label".

use super::{label, le16, le32, read, FsKind};
use crate::read_at::ReadAt;

/// The facts of a sane FAT BIOS parameter block.
pub struct FatBpb {
    pub kind: FsKind,
    bytes_per_sector: u64,
    sectors_per_cluster: u64,
    /// First sector of the root directory (FAT12/16) or of the data area.
    root_dir_sector: u64,
    root_dir_entries: u64,
    data_sector: u64,
    root_cluster: u64,
    boot_label: Option<String>,
}

/// Parses a FAT boot sector when its BPB is sane.
pub fn fat_bpb(b: &[u8]) -> Option<FatBpb> {
    if b.len() < 512 || b[510] != 0x55 || b[511] != 0xaa || !(b[0] == 0xeb || b[0] == 0xe9) {
        return None;
    }
    let bytes_per_sector = u32::from(le16(b, 0x0b));
    let sectors_per_cluster = u32::from(b[0x0d]);
    let reserved = u32::from(le16(b, 0x0e));
    let fats = u32::from(b[0x10]);
    let root_entries = u32::from(le16(b, 0x11));
    let total16 = u32::from(le16(b, 0x13));
    let fat_size16 = u32::from(le16(b, 0x16));
    let total32 = le32(b, 0x20);
    let fat_size32 = le32(b, 0x24);
    if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        || !sectors_per_cluster.is_power_of_two()
        || reserved == 0
        || fats == 0
        || fats > 4
    {
        return None;
    }
    let total = if total16 != 0 { total16 } else { total32 };
    let fat_size = if fat_size16 != 0 { fat_size16 } else { fat_size32 };
    if total == 0 || fat_size == 0 {
        return None;
    }
    let root_sectors = (root_entries * 32).div_ceil(bytes_per_sector);
    let fat_area = fats.checked_mul(fat_size)?;
    let root_dir_sector = reserved.checked_add(fat_area)?;
    let data_sector = root_dir_sector.checked_add(root_sectors)?;
    let clusters = total.checked_sub(data_sector)? / sectors_per_cluster;
    let (kind, label_at) = if fat_size16 == 0 {
        (FsKind::Fat32, 0x47)
    } else if clusters < 4085 {
        (FsKind::Fat12, 0x2b)
    } else {
        (FsKind::Fat16, 0x2b)
    };
    Some(FatBpb {
        kind,
        bytes_per_sector: u64::from(bytes_per_sector),
        sectors_per_cluster: u64::from(sectors_per_cluster),
        root_dir_sector: u64::from(root_dir_sector),
        root_dir_entries: u64::from(root_entries),
        data_sector: u64::from(data_sector),
        root_cluster: u64::from(le32(b, 0x2c)),
        boot_label: label(&b[label_at..label_at + 11]).filter(|l| l != "NO NAME"),
    })
}

/// The FAT volume label: the root directory's label entry, as Windows and
/// blkid show it; the boot sector's copy only when the root directory
/// can't be read (tools that relabel often leave that copy stale).
pub fn fat_label(r: &dyn ReadAt, _boot: &[u8], bpb: &FatBpb) -> Option<String> {
    let (offset, len) = if bpb.kind == FsKind::Fat32 {
        let cluster = bpb.root_cluster.checked_sub(2)?;
        let sector = bpb.data_sector.checked_add(cluster.checked_mul(bpb.sectors_per_cluster)?)?;
        (sector.checked_mul(bpb.bytes_per_sector)?, bpb.sectors_per_cluster * bpb.bytes_per_sector)
    } else {
        (bpb.root_dir_sector * bpb.bytes_per_sector, bpb.root_dir_entries * 32)
    };
    let Some(dir) = usize::try_from(len.min(64 * 1024)).ok().and_then(|len| read(r, offset, len)) else {
        return bpb.boot_label.clone();
    };
    for e in dir.chunks_exact(32) {
        match e[0] {
            0x00 => break,
            0xe5 => continue,
            _ => {}
        }
        let attr = e[11];
        if attr & 0x08 != 0 && attr & 0x0f != 0x0f && attr & 0x10 == 0 {
            return label(&e[0..11]);
        }
    }
    None
}

/// The exFAT volume label entry (type 0x83) in the first cluster of the
/// root directory.
pub fn exfat_label(r: &dyn ReadAt, boot: &[u8]) -> Option<String> {
    let sector_shift = u32::from(boot[0x6c]);
    let cluster_shift = u32::from(boot[0x6d]);
    if !(9..=12).contains(&sector_shift) || cluster_shift > 25 - sector_shift {
        return None;
    }
    let sector = 1u64 << sector_shift;
    let cluster = sector << cluster_shift;
    let heap = u64::from(le32(boot, 0x58)).checked_mul(sector)?;
    let root = u64::from(le32(boot, 0x60)).checked_sub(2)?;
    let offset = heap.checked_add(root.checked_mul(cluster)?)?;
    let dir = read(r, offset, usize::try_from(cluster.min(64 * 1024)).ok()?)?;
    for e in dir.chunks_exact(32) {
        match e[0] {
            0x00 => break,
            0x83 => {
                let chars = usize::from(e[1]).min(11);
                let units: Vec<u16> = e[2..2 + chars * 2].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                let s = String::from_utf16_lossy(&units);
                return if s.is_empty() { None } else { Some(s) };
            }
            _ => {}
        }
    }
    None
}

/// The `$VOLUME_NAME` of MFT record 3.
pub fn ntfs_label(r: &dyn ReadAt, boot: &[u8]) -> Option<String> {
    let bytes_per_sector = u64::from(le16(boot, 0x0b));
    let spc_raw = boot[0x0d];
    let sectors_per_cluster = if spc_raw > 0x80 { 1u64 << (256 - u32::from(spc_raw)).min(31) } else { u64::from(spc_raw) };
    let cluster = bytes_per_sector.checked_mul(sectors_per_cluster)?;
    let mut lcn = [0u8; 8];
    lcn.copy_from_slice(&boot[0x30..0x38]);
    let mft = u64::from_le_bytes(lcn).checked_mul(cluster)?;
    let per_record = boot[0x40] as i8;
    let record_size = if per_record < 0 { 1u64 << u32::from(per_record.unsigned_abs()).min(20) } else { u64::from(per_record as u8).checked_mul(cluster)? };
    if !(512..=65536).contains(&record_size) || bytes_per_sector < 256 {
        return None;
    }
    let mut rec = read(r, mft.checked_add(3 * record_size)?, usize::try_from(record_size).ok()?)?;
    if &rec[0..4] != b"FILE" {
        return None;
    }
    // Update sequence: the last two bytes of each sector were swapped out.
    let usa = usize::from(le16(&rec, 4));
    let usa_count = usize::from(le16(&rec, 6));
    let stride = usize::try_from(bytes_per_sector).ok()?;
    for i in 1..usa_count {
        let end = i.checked_mul(stride)?;
        let src = usa.checked_add(i * 2)?;
        if end > rec.len() || src + 2 > rec.len() {
            return None;
        }
        let fix = [rec[src], rec[src + 1]];
        rec[end - 2..end].copy_from_slice(&fix);
    }
    let mut at = usize::from(le16(&rec, 0x14));
    while at + 24 <= rec.len() {
        let kind = le32(&rec, at);
        let len = usize::try_from(le32(&rec, at + 4)).ok()?;
        if kind == 0xffff_ffff || len < 24 {
            break;
        }
        if kind == 0x60 && rec[at + 8] == 0 {
            let value_len = usize::try_from(le32(&rec, at + 0x10)).ok()?;
            let value_at = at + usize::from(le16(&rec, at + 0x14));
            let value = rec.get(value_at..value_at.checked_add(value_len)?)?;
            let units: Vec<u16> = value.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            let s = String::from_utf16_lossy(&units);
            return if s.is_empty() { None } else { Some(s) };
        }
        at = at.checked_add(len)?;
    }
    None
}
