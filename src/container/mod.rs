//! Containers: the picked image file(s) → one virtual disk.
//!
//! A [`Source`] is one picked file behind the shared chunk cache. Detection
//! (by magic, never by file name) lives in [`detect`]; each format is one
//! file implementing [`ReadAt`](crate::read_at::ReadAt) for its virtual disk,
//! reading its tables lazily through the sources' caches:
//! - [`raw`]: plain and split raw disks;
//! - [`vmdk`]: VMware sparse, stream-optimized, flat and split VMDKs;
//! - [`vhd`]: Virtual PC / Hyper-V fixed, dynamic and differencing VHDs;
//! - [`qcow2`]: QEMU qcow2 v2/v3 with compression, subclusters, backing files;
//! - [`vhdx`]: Hyper-V VHDX, its log replayed in memory ([`vhdx_log`]);
//! - [`vdi`]: VirtualBox static, dynamic and differencing VDIs;
//! - [`tar`]: the disk as one member of a tar archive (sparse members too);
//! - [`gzip`]: gzip files read in place through a one-pass index;
//! - [`xz`]: xz files read block by block through their own index;
//! - [`zstd`]: zstd files read frame by frame (seek table when present);
//! - [`wrappers`]: compressed files, archives and formats Salvage names
//!   but does not read.
//!
//! Disks made of several files (extents, parents, backing files) find them
//! among the selected files by the names or UUIDs they store ([`parents`]
//! for VMDK/VHD, [`chain`] for qcow2/VHDX/VDI); derived metadata (L2
//! tables, inflated clusters) sits in a small [`lru`].

pub mod chain;
pub mod detect;
pub mod gzip;
pub mod lru;
pub mod parents;
pub mod pieces;
pub mod qcow2;
pub mod raw;
pub mod tar;
pub mod vdi;
pub mod vhd;
pub mod vhdx;
pub mod vhdx_log;
pub mod vmdk;
pub mod wrappers;
pub mod xz;
pub mod zstd;

use std::rc::Rc;

use crate::read_at::Reader;

/// One file the user picked, already behind the chunk cache.
#[derive(Clone)]
pub struct Source {
    /// The file's name as the user sees it (no directory).
    pub name: String,
    pub reader: Reader,
}

/// Choices for opening a disk that sits inside an archive.
#[derive(Clone, Default)]
pub struct DiskOptions {
    /// The archive member holding the disk (full path or last component);
    /// `None` takes the largest file.
    pub member: Option<String>,
    /// Where gzip indexes are saved and looked for (the outermost file only).
    pub index_store: Option<Rc<dyn gzip::IndexStore>>,
}

/// The virtual disk a container yields.
pub struct Disk {
    /// Short format name: "raw", "split raw", "VMDK streamOptimized", "VHD dynamic".
    pub format: String,
    pub reader: Reader,
    /// Names of the files that make up the disk, in order.
    pub parts: Vec<String>,
    /// Sentences worth showing about the container (e.g. a missing part).
    pub notes: Vec<String>,
    /// Facts about the container, for `info`: subformat, virtual size,
    /// how much is stored ("stored", "allocated blocks").
    pub details: Vec<(String, String)>,
}

/// Most archives opened inside each other (`.tar.gz` is two).
pub const MAX_ARCHIVE_DEPTH: usize = 4;

/// Refuses an archive nested deeper than [`MAX_ARCHIVE_DEPTH`].
pub fn check_nesting(main: &Source, depth: usize) -> crate::Result<()> {
    if depth >= MAX_ARCHIVE_DEPTH {
        return Err(crate::Error::unsupported(format!(
            "{}: archives nested more than {MAX_ARCHIVE_DEPTH} deep; extract the outer ones first",
            main.name
        )));
    }
    Ok(())
}

/// The fuzz targets' body: when `probe` claims `data`, opens it alone from
/// memory and reads 4 KiB at the start, a third, the middle and the end.
#[doc(hidden)]
pub fn fuzz_open(name: &str, data: &[u8], probe: fn(&Source) -> bool, open: fn(Source, Vec<Source>) -> crate::Result<Disk>) {
    let src = Source { name: name.into(), reader: std::rc::Rc::new(crate::read_at::MemReader::new(data.to_vec())) };
    if !probe(&src) {
        return;
    }
    if let Ok(disk) = open(src, Vec::new()) {
        let size = disk.reader.size();
        fuzz_reads(&disk, 4096, &[0, size / 3, size / 2, size.saturating_sub(4096)]);
    }
}

/// The fuzz targets' reads: `len` bytes (fewer at the end) at each of `at`,
/// errors ignored: only panics, hangs and huge allocations count.
#[doc(hidden)]
pub fn fuzz_reads(disk: &Disk, len: usize, at: &[u64]) {
    let size = disk.reader.size();
    let mut buf = vec![0u8; len];
    for &pos in at {
        let n = usize::try_from(size.saturating_sub(pos)).unwrap_or(usize::MAX).min(len);
        let _ = disk.reader.read_exact_at(pos, buf.get_mut(..n).unwrap_or(&mut []));
    }
}

/// `1.5 GiB`, `512 B`: a size for people.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    #[allow(clippy::cast_precision_loss)] // one decimal shown
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len().saturating_sub(1) {
        v /= 1024.0;
        u = u.saturating_add(1);
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[u]) }
}
