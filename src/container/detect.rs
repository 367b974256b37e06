//! Picks the container format of the main file and opens the disk.
//!
//! Probes run in order, by magic bytes (never by file name): VMDK (sparse
//! `KDMV` header or text descriptor), VHD (`conectix` footer), then the
//! formats Salvage only names ([`wrappers`]: compressed files, archives,
//! unsupported disk formats), and raw last. When several files are
//! selected, the one no other file refers to is opened first
//! ([`parents::choose_top`]), whatever order they were picked in.

use super::{parents, raw, vhd, vmdk, wrappers, Disk, Source};
use crate::error::{Error, Result};

/// Opens the disk whose main file is `main`; `others` are further parts
/// the user selected with it (split pieces, extents, parent disks).
pub fn open_disk(main: Source, others: Vec<Source>) -> Result<Disk> {
    let (main, others) = parents::choose_top(main, others);
    if vmdk::probe(&main).is_some() {
        return vmdk::open(main, others);
    }
    if vhd::probe(&main) {
        return vhd::open(main, others);
    }
    if let Some(w) = wrappers::identify(&main) {
        return Err(Error::unsupported(format!("{}: {}", main.name, w.sentence())));
    }
    raw::open(main, others)
}
