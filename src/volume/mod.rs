//! Partition tables → volumes.
//!
//! [`detect::read_table`] finds the table (GPT, MBR, or none: a bare
//! filesystem) and lists its partitions; the [`image`](crate::image) layer
//! then probes each partition for a filesystem. Damage in a table is never
//! fatal where something can still be read: a GPT falls back to its backup
//! header, an EBR chain stops at the first bad link, and the table's
//! `notes` say so in plain words.
//!
//! [`assemble`] then builds volumes out of volumes: md RAID arrays and
//! LVM2 logical volumes, possibly spanning several selected disks.

pub mod assemble;
pub mod detect;
pub mod gpt;
pub mod lvm;
pub mod mbr;
pub mod md;
pub mod types;

/// Which kind of table described the volumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    Gpt,
    Mbr,
    /// No partition table: the whole disk is one volume.
    None,
}

/// A partition (or the whole disk, for [`TableKind::None`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Byte offset on the disk.
    pub offset: u64,
    /// Length in bytes, as the table says (may run past the disk's end;
    /// `problems` then says so).
    pub length: u64,
    /// "0x83" for MBR, the type GUID in upper case for GPT.
    pub type_id: Option<String>,
    /// A human name for the type ("Linux filesystem").
    pub type_name: String,
    /// The GPT partition name, when set.
    pub name: Option<String>,
    pub problems: Vec<String>,
}

/// The partitions found on a disk, in table order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionTable {
    pub kind: TableKind,
    pub partitions: Vec<Partition>,
    /// Sentences about the table itself (backup header used, chain cut …).
    pub notes: Vec<String>,
}

/// Logical sector size assumed for LBA arithmetic unless a GPT says
/// otherwise (a 4 KiB-sector GPT is found at byte 4096).
pub const SECTOR_BYTES: u64 = 512;
