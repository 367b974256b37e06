//! Containers: the picked image file(s) → one virtual disk.
//!
//! A [`Source`] is one picked file behind the shared chunk cache. Detection
//! (by magic, never by file name) lives in [`detect`]; each format is one
//! file implementing [`ReadAt`](crate::read_at::ReadAt) for its virtual disk:
//! [`raw`], [`qcow2`], [`vhdx`] (log replay in [`vhdx_log`]), [`vdi`].
//! Formats with backing or parent files find them among the other selected
//! files with [`chain`] and open them as layers below; derived metadata
//! (L2 tables, inflated clusters) sits in a small [`lru`].

pub mod chain;
pub mod detect;
pub mod lru;
pub mod qcow2;
pub mod raw;
pub mod vdi;
pub mod vhdx;
pub mod vhdx_log;

use crate::read_at::Reader;

/// One file the user picked, already behind the chunk cache.
#[derive(Clone)]
pub struct Source {
    /// The file's name as the user sees it (no directory).
    pub name: String,
    pub reader: Reader,
}

/// The virtual disk a container yields.
pub struct Disk {
    /// Short format name: "raw", "split raw".
    pub format: String,
    pub reader: Reader,
    /// Names of the files that make up the disk, in order.
    pub parts: Vec<String>,
    /// Sentences worth showing about the container (e.g. a missing part).
    pub notes: Vec<String>,
    /// Facts about the container, in display order ("subformat", "dynamic").
    pub details: Vec<(String, String)>,
}
