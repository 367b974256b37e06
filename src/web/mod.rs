//! The wasm-bindgen API the browser worker calls.
//!
//! Only this module and `bin/` know where bytes come from. Here they come
//! from the picked `File`s, read with `Blob.slice` + `FileReaderSync`
//! ([`BlobSource`]) behind the shared chunk cache. The boundary is narrow:
//! numbers, strings, `Uint8Array` and plain records made by
//! serde-wasm-bindgen. Errors reach JavaScript as `Error`s whose message
//! is one sentence for the user.

mod blob;
mod browse;
mod export;
mod inventory;

pub use blob::BlobSource;
pub use browse::{pack_entries, DirListing, SearchJob, SizeJob};
pub use export::{ExportJob, FileJob};
pub use inventory::InventoryJob;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::container::Source;
use crate::error::Error;
use crate::fs::FileKind;
use crate::image::{Image, OpenOptions};
use crate::path::{escape, unescape};
use crate::read_at::{CacheConfig, ChunkCache, IoStats};

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true))
        .map_err(|e| JsError::new(&format!("internal error passing a result to the page: {e}")))
}

/// The Salvage version, shown by the page.
#[wasm_bindgen]
pub fn version() -> String {
    crate::VERSION.to_string()
}

/// One opened image; the worker keeps it for the page's requests.
#[wasm_bindgen]
pub struct Session {
    image: Image,
    /// Owner names per volume, read on first listing.
    owners: RefCell<HashMap<u32, Rc<crate::export::owners::Owners>>>,
}

#[wasm_bindgen]
impl Session {
    /// Opens the image made of `files` (an array of `File`s: the image,
    /// plus split pieces selected with it). Must run in a worker.
    pub fn open(files: js_sys::Array) -> Result<Session, JsError> {
        Self::open_with(files, true)
    }

    /// [`Session::open`], choosing whether ext3/ext4 journals that need
    /// recovery are replayed in memory (`false` shows the pre-crash state).
    pub fn open_with(files: js_sys::Array, replay_journal: bool) -> Result<Session, JsError> {
        let stats = Rc::new(IoStats::default());
        let mut sources = Vec::new();
        for f in files.iter() {
            let file: web_sys::File = f.dyn_into().map_err(|_| JsError::new("open() takes File objects"))?;
            let name = file.name();
            let blob = BlobSource::new(file.into()).map_err(js_err)?;
            let cached = ChunkCache::new(blob, CacheConfig::BROWSER, stats.clone());
            sources.push(Source { name, reader: Rc::new(cached) });
        }
        if sources.is_empty() {
            return Err(JsError::new("no file was given"));
        }
        let main = sources.remove(0);
        let image = Image::open_with(main, sources, stats, OpenOptions { replay_journal, ..OpenOptions::default() }).map_err(js_err)?;
        Ok(Session { image, owners: RefCell::new(HashMap::new()) })
    }

    /// Container, partition table and volumes (see `salvage info --json`).
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.image.info())
    }

    /// One entry's record.
    pub fn stat(&self, volume: u32, path: &str) -> Result<JsValue, JsError> {
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        let raw = unescape(path);
        let inode = fs.resolve(&raw).map_err(js_err)?;
        to_js(&self.image.entry(&*fs, &raw, inode))
    }

    /// Up to `len` bytes (at most 64 MiB) of a regular file from `offset`;
    /// shorter at the end of the file, empty past it.
    pub fn read(&self, volume: u32, path: &str, offset: f64, len: u32) -> Result<js_sys::Uint8Array, JsError> {
        const MAX_READ: u32 = 64 << 20;
        if !((0.0..=9_007_199_254_740_991.0).contains(&offset) && offset.fract() == 0.0) {
            return Err(JsError::new("read offset must be a whole number of bytes"));
        }
        // Checked above: a non-negative integer within 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let offset = offset as u64;
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        let raw = unescape(path);
        let inode = fs.resolve(&raw).map_err(js_err)?;
        let meta = fs.stat(inode).map_err(js_err)?;
        if meta.kind != FileKind::File {
            return Err(JsError::new(&format!("{} is not a regular file", escape(&raw))));
        }
        let want = u64::from(len.min(MAX_READ)).min(meta.size.saturating_sub(offset));
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(0)];
        let mut done = 0usize;
        while done < buf.len() {
            let n = fs
                .read_at(inode, offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX)), &mut buf[done..])
                .map_err(|e| js_err(e.context(format!("reading {}", escape(&raw)))))?;
            if n == 0 {
                break;
            }
            done = done.saturating_add(n);
        }
        buf.truncate(done);
        Ok(js_sys::Uint8Array::from(&buf[..]))
    }

    /// Read counters: how many `FileReaderSync` calls and bytes so far.
    pub fn io_stats(&self) -> Result<JsValue, JsError> {
        to_js(&self.image.stats().snapshot())
    }
}
