//! Picks the container format of the main file and opens the disk.
//!
//! Probes are checked in order by magic bytes, never by file name; a file
//! no probe claims is a raw disk. Formats with a parent or backing file
//! open it through [`open_layer`] with the files still unused.

use super::{qcow2, raw, vdi, vhdx, Disk, Source};
use crate::error::{Error, Result};

/// Opens the disk whose main file is `main`; `others` are further parts
/// the user selected with it (split pieces, later extents and backing files).
pub fn open_disk(main: Source, others: Vec<Source>) -> Result<Disk> {
    if let Some(top) = super::chain::open_top(&main, &others) {
        return Ok(top);
    }
    open_layer(main, others, 0)
}

/// Opens `main` as one layer of a chain `depth` layers below the top.
pub fn open_layer(main: Source, others: Vec<Source>, depth: usize) -> Result<Disk> {
    if depth > super::chain::MAX_CHAIN_DEPTH {
        return Err(Error::corrupt(format!(
            "{}: the chain of backing files is more than {} deep",
            main.name,
            super::chain::MAX_CHAIN_DEPTH
        )));
    }
    if qcow2::probe(&*main.reader) {
        return qcow2::open(main, others, depth);
    }
    if vhdx::probe(&*main.reader) {
        return vhdx::open(main, others, depth);
    }
    if vdi::probe(&*main.reader) {
        return vdi::open(main, others, depth);
    }
    raw::open(main, others)
}
