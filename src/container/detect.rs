//! Picks the container format of the main file and opens the disk.
//!
//! Only raw disks exist so far; the virtual-disk formats (VMDK, qcow2, VHD,
//! VHDX, VDI) add their probes here, checked in order by magic bytes.

use super::{raw, Disk, Source};
use crate::error::Result;

/// Opens the disk whose main file is `main`; `others` are further parts
/// the user selected with it (split pieces, later extents and backing files).
pub fn open_disk(main: Source, others: Vec<Source>) -> Result<Disk> {
    raw::open(main, others)
}
