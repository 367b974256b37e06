//! Salvage: get files out of disk images of dead servers.
//!
//! Layers, each seeing only the one below through a small trait:
//! - [`container`]: the image file(s) → one virtual disk ([`read_at::ReadAt`]);
//! - [`volume`]: partition tables → volumes (offset, length, type, label);
//! - [`fs`]: filesystems → directories, metadata and bytes by inode;
//! - [`export`]: zip, report and manifest;
//! - [`inventory`]: what a Linux root held ("this server at a glance");
//! - [`image`]: opens the whole stack for the CLI and the page;
//! - `web`: the wasm-bindgen API the browser worker calls.

mod bytes;
pub mod container;
pub mod error;
pub mod export;
pub mod fs;
pub mod image;
pub mod inventory;
pub mod path;
pub mod read_at;
pub mod volume;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, ErrorKind, Result};

/// The version shown by the CLI and the page.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
