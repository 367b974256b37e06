//! Picks the container format of the main file and opens the disk.
//!
//! Probes run in order, by magic bytes (never by file name): VMDK (sparse
//! `KDMV` header or text descriptor), VHD (`conectix` footer), qcow2, VHDX,
//! VDI, gzip, xz, zstd, tar (ustar/GNU magic and a valid header checksum), then the
//! formats Salvage only names ([`wrappers`]: compressed
//! files, archives, unsupported disk formats), and raw last. When several
//! files are selected, the top of the chain is found whatever order they
//! were picked in: for qcow2/VHDX/VDI by trying each as the top
//! ([`chain::open_top`]), otherwise the file no other file refers to
//! ([`parents::choose_top`]). Layers below open through [`open_layer`].
//!
//! Archives nest: a gzip file or a tar member is itself probed from the
//! top, so `.tar.gz` → gzip → tar → member → disk (raw or any container)
//! → partitions. Each archive layer adds one to the depth.

use super::{chain, gzip, parents, qcow2, raw, tar, vdi, vhd, vhdx, vmdk, wrappers, xz, zstd, Disk, DiskOptions, Source};
use crate::error::{Error, Result};

/// Opens the disk whose main file is `main`; `others` are further parts
/// the user selected with it (split pieces, extents, parent disks).
/// Archives open with the default choices (the largest member, no saved
/// index); [`open_disk_with`] takes others.
pub fn open_disk(main: Source, others: Vec<Source>) -> Result<Disk> {
    open_disk_with(main, others, &DiskOptions::default())
}

/// [`open_disk`] with archive choices.
pub fn open_disk_with(main: Source, others: Vec<Source>, options: &DiskOptions) -> Result<Disk> {
    if let Some(top) = chain::open_top(&main, &others) {
        return Ok(top);
    }
    let (main, others) = parents::choose_top(main, others);
    open_layer_with(main, others, options, 0)
}

/// Opens `main` as one layer of a chain `depth` layers below the top.
pub fn open_layer(main: Source, others: Vec<Source>, depth: usize) -> Result<Disk> {
    open_layer_with(main, others, &DiskOptions::default(), depth)
}

/// [`open_layer`] with archive choices.
pub fn open_layer_with(main: Source, others: Vec<Source>, options: &DiskOptions, depth: usize) -> Result<Disk> {
    if depth > chain::MAX_CHAIN_DEPTH {
        return Err(Error::corrupt(format!(
            "{}: the chain of backing files is more than {} deep",
            main.name,
            chain::MAX_CHAIN_DEPTH
        )));
    }
    if vmdk::probe(&main).is_some() {
        return vmdk::open(main, others);
    }
    if vhd::probe(&main) {
        return vhd::open(main, others);
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
    if gzip::probe(&*main.reader) {
        return gzip::open(main, others, options, depth);
    }
    if xz::probe(&*main.reader) {
        return xz::open(main, others, options, depth);
    }
    if zstd::probe(&*main.reader) {
        return zstd::open(main, others, options, depth);
    }
    if tar::probe(&*main.reader) {
        return tar::open(main, others, options, depth);
    }
    if let Some(w) = wrappers::identify(&main) {
        return Err(Error::unsupported(format!("{}: {}", main.name, w.sentence())));
    }
    raw::open(main, others)
}
