//! GUID Partition Table (UEFI specification 2.10, section 5.3).
//!
//! The primary header sits at LBA 1 and the backup at the disk's last LBA;
//! both carry a CRC32 of themselves and of the partition entry array. A
//! header is used only when its own CRC matches. When the primary is
//! damaged the backup is used and the table's notes say so; when a
//! header's entry array fails its CRC, the other header's array is tried
//! before the entries are used anyway, flagged.

use super::types::gpt_type_name;
use super::{Partition, PartitionTable, TableKind};
use crate::error::{Error, Result};
use crate::read_at::{read_vec, ReadAt};

const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Entry arrays larger than this are not from any real tool.
const MAX_ARRAY_BYTES: u64 = 1 << 20;

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Formats a GPT GUID (mixed-endian on disk) in the usual upper-case form.
pub fn guid_string(b: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        le_u32(b, 0),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// A CRC-checked GPT header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GptHeader {
    pub my_lba: u64,
    pub alternate_lba: u64,
    pub first_usable_lba: u64,
    pub last_usable_lba: u64,
    pub disk_guid: String,
    pub partition_entry_lba: u64,
    pub num_partition_entries: u32,
    pub size_of_partition_entry: u32,
    pub partition_entry_array_crc32: u32,
}

impl GptHeader {
    /// Parses and checks one header sector.
    pub fn from_bytes(sector: &[u8]) -> Result<GptHeader> {
        if sector.len() < 92 || &sector[0..8] != SIGNATURE {
            return Err(Error::corrupt("no GPT signature"));
        }
        let header_size = le_u32(sector, 0x0c);
        if header_size < 92 || header_size as usize > sector.len() {
            return Err(Error::corrupt(format!("GPT header size {header_size} is out of range")));
        }
        let stored_crc = le_u32(sector, 0x10);
        let mut copy = sector[..header_size as usize].to_vec();
        copy[0x10..0x14].fill(0);
        let actual_crc = crc32fast::hash(&copy);
        if stored_crc != actual_crc {
            return Err(Error::corrupt(format!(
                "GPT header checksum mismatch (stored {stored_crc:#010x}, computed {actual_crc:#010x})"
            )));
        }
        let h = GptHeader {
            my_lba: le_u64(sector, 0x18),
            alternate_lba: le_u64(sector, 0x20),
            first_usable_lba: le_u64(sector, 0x28),
            last_usable_lba: le_u64(sector, 0x30),
            disk_guid: guid_string(&sector[0x38..0x48]),
            partition_entry_lba: le_u64(sector, 0x48),
            num_partition_entries: le_u32(sector, 0x50),
            size_of_partition_entry: le_u32(sector, 0x54),
            partition_entry_array_crc32: le_u32(sector, 0x58),
        };
        let esz = h.size_of_partition_entry;
        if esz < 128 || esz > 4096 || esz % 8 != 0 {
            return Err(Error::corrupt(format!("GPT partition entry size {esz} is invalid")));
        }
        if u64::from(h.num_partition_entries) * u64::from(esz) > MAX_ARRAY_BYTES {
            return Err(Error::corrupt(format!("GPT claims {} partition entries, too many", h.num_partition_entries)));
        }
        Ok(h)
    }

    fn array_bytes(&self) -> usize {
        // Bounded by MAX_ARRAY_BYTES in from_bytes.
        self.num_partition_entries as usize * self.size_of_partition_entry as usize
    }
}

/// Reads a header at `lba`, naming which copy it is in errors.
fn read_header(disk: &dyn ReadAt, lba: u64, sector_bytes: u64) -> Result<GptHeader> {
    let offset = lba.checked_mul(sector_bytes).ok_or_else(|| Error::corrupt("GPT header offset overflows"))?;
    let sector = read_vec(disk, offset, sector_bytes as usize)?;
    GptHeader::from_bytes(&sector).map_err(|e| e.at_offset(offset))
}

/// Reads a header's entry array; `Ok(false)` with the bytes when the array's
/// CRC does not match.
fn read_array(disk: &dyn ReadAt, h: &GptHeader, sector_bytes: u64) -> Result<(Vec<u8>, bool)> {
    let offset = h
        .partition_entry_lba
        .checked_mul(sector_bytes)
        .ok_or_else(|| Error::corrupt("GPT entry array offset overflows"))?;
    let bytes = read_vec(disk, offset, h.array_bytes())?;
    let ok = crc32fast::hash(&bytes) == h.partition_entry_array_crc32;
    Ok((bytes, ok))
}

/// Does this disk carry a GPT header (primary or backup) for this sector size?
pub fn has_signature(disk: &dyn ReadAt, sector_bytes: u64) -> bool {
    let mut sig = [0u8; 8];
    let primary = disk.read_exact_at(sector_bytes, &mut sig).is_ok() && &sig == SIGNATURE;
    let last = disk.size() / sector_bytes;
    let backup = last > 1 && disk.read_exact_at((last - 1) * sector_bytes, &mut sig).is_ok() && &sig == SIGNATURE;
    primary || backup
}

/// Reads the GPT of a disk with `sector_bytes`-byte sectors.
pub fn read(disk: &dyn ReadAt, sector_bytes: u64) -> Result<PartitionTable> {
    let mut notes = Vec::new();
    let last_lba = (disk.size() / sector_bytes).saturating_sub(1);
    let primary = read_header(disk, 1, sector_bytes);
    let backup = || read_header(disk, last_lba, sector_bytes);
    let header = match primary {
        Ok(h) => h,
        Err(primary_err) => match backup() {
            Ok(b) => {
                notes.push(format!(
                    "the primary GPT header is damaged ({}); the backup header at the end of the disk was used",
                    primary_err.message()
                ));
                b
            }
            Err(backup_err) => {
                return Err(Error::corrupt(format!(
                    "both GPT headers are damaged: primary: {}; backup: {}",
                    primary_err.message(),
                    backup_err.message()
                )))
            }
        },
    };
    let (mut array, mut ok) = read_array(disk, &header, sector_bytes)?;
    if !ok {
        // Try the other copy's array before using a damaged one.
        let alt = if header.my_lba == 1 { backup().ok() } else { read_header(disk, 1, sector_bytes).ok() };
        if let Some(alt) = alt {
            if let Ok((a, true)) = read_array(disk, &alt, sector_bytes) {
                notes.push("the GPT partition entries failed their checksum; the backup copy was used".into());
                array = a;
                ok = true;
            }
        }
        if !ok {
            notes.push("the GPT partition entries failed their checksum; they are shown anyway and may be wrong".into());
        }
    }
    let mut partitions = Vec::new();
    for (i, entry) in array.chunks_exact(header.size_of_partition_entry as usize).enumerate() {
        if entry[0..16].iter().all(|b| *b == 0) {
            continue;
        }
        let type_guid = guid_string(&entry[0..16]);
        let first_lba = le_u64(entry, 0x20);
        let last = le_u64(entry, 0x28);
        let name_units: Vec<u16> = entry[0x38..0x80]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|u| *u != 0)
            .collect();
        let name = String::from_utf16_lossy(&name_units);
        let mut problems = Vec::new();
        if last < first_lba {
            notes.push(format!("GPT entry {} ends before it starts; skipped", i + 1));
            continue;
        }
        let offset = first_lba.saturating_mul(sector_bytes);
        let length = (last - first_lba).saturating_add(1).saturating_mul(sector_bytes);
        if offset.saturating_add(length) > disk.size() {
            problems.push(format!(
                "the partition table says this partition ends at byte {}, past the end of the disk ({} bytes); the missing part reads as unavailable",
                offset.saturating_add(length),
                disk.size()
            ));
        }
        partitions.push(Partition {
            offset,
            length,
            type_name: gpt_type_name(&type_guid).to_string(),
            type_id: Some(type_guid),
            name: if name.is_empty() { None } else { Some(name) },
            problems,
        });
    }
    Ok(PartitionTable { kind: TableKind::Gpt, partitions, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_is_mixed_endian() {
        let linux = [0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4];
        assert_eq!(guid_string(&linux), "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    }

    #[test]
    fn rejects_bad_crc_and_sizes() {
        let mut s = vec![0u8; 512];
        s[..8].copy_from_slice(SIGNATURE);
        s[0x0c..0x10].copy_from_slice(&92u32.to_le_bytes());
        let e = GptHeader::from_bytes(&s).unwrap_err();
        assert!(e.message().starts_with("GPT header checksum mismatch"), "{e}");
        s[0x54..0x58].copy_from_slice(&100u32.to_le_bytes());
        let crc = crc32fast::hash(&s[..92]);
        s[0x10..0x14].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(GptHeader::from_bytes(&s).unwrap_err().message(), "GPT partition entry size 100 is invalid");
    }
}
