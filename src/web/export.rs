//! Exports for the browser worker: a zip of a selection ([`ExportJob`]) or
//! one file's raw bytes ([`FileJob`]), both cut into steps.
//!
//! Neither job holds its output. Each step's bytes go into a small buffer
//! that the step hands to JavaScript as a `Uint8Array` and empties, so the
//! worker writes them to its sink (an OPFS file or a file the user picked)
//! and memory stays at one step's output. Both jobs answer `step` with the
//! same record — phase, files and bytes done and total, current path,
//! `done`, `chunk` — and `finish` with a summary and the last `chunk`, so
//! the worker drives them with one loop.
//!
//! SHA-256 in wasm runs at about 330 MB/s, slower than the browser reads,
//! so a zip export can leave it to another worker ([`ExportJob::hash_outside`]):
//! each step's record then also has `spans`, where the chunk holds stored
//! file bytes, and `waiting`, true when the manifest (written last) needs
//! digests that have not come back yet. That worker hashes with
//! [`Sha256Stream`], from this same module.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::export::{About, Export, ExportOptions, Phase, Progress, Summary};
use crate::fs::{FileKind, FileSystem, Timestamp};
use crate::path::{escape, unescape};

use super::{js_err, to_js, Session};

/// The output of one step, shared between the job's writer and the job.
#[derive(Clone, Default)]
struct Drain(Rc<RefCell<Vec<u8>>>);

impl Drain {
    /// The bytes written since the last call, as a JS copy; the buffer is
    /// emptied (its capacity is kept for the next step).
    fn take(&self) -> js_sys::Uint8Array {
        self.take_into(None)
    }

    /// Like [`Drain::take`], but into the start of `reuse` when the bytes
    /// fit there: the result is then a view of `reuse`'s first bytes. A
    /// fresh 16 MiB `ArrayBuffer` per step cost more than the copy itself
    /// (its pages are touched for the first time).
    fn take_into(&self, reuse: Option<js_sys::Uint8Array>) -> js_sys::Uint8Array {
        let mut buf = self.0.borrow_mut();
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let chunk = match reuse {
            Some(r) if usize::try_from(r.length()).unwrap_or(0) >= buf.len() => {
                let view = r.subarray(0, len);
                view.copy_from(&buf[..]);
                view
            }
            _ => js_sys::Uint8Array::from(&buf[..]),
        };
        buf.clear();
        chunk
    }
}

impl Write for Drain {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.0.borrow_mut();
        buf.try_reserve(data.len()).map_err(|_| std::io::Error::new(std::io::ErrorKind::OutOfMemory, "out of memory for the export's output"))?;
        buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes the export reads and writes at a time in the browser: each
/// `FileReaderSync` call costs about 1 ms whatever its size, so file data
/// is read in 16 MiB slices, straight into the export's buffer (see
/// `CacheConfig::BROWSER`).
const BROWSER_CHUNK_BYTES: usize = 16 << 20;

/// A budget from JavaScript: a whole, positive number of bytes.
fn budget(budget_bytes: f64) -> Result<u64, JsError> {
    if !((1.0..=9_007_199_254_740_991.0).contains(&budget_bytes) && budget_bytes.fract() == 0.0) {
        return Err(JsError::new("the step budget must be a whole number of bytes"));
    }
    // Checked above: a positive integer within 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(budget_bytes as u64)
}

/// `record` (a serializable struct) as a JS object with `chunk` added.
fn with_chunk<T: serde::Serialize>(record: &T, chunk: js_sys::Uint8Array) -> Result<JsValue, JsError> {
    let value = to_js(record)?;
    js_sys::Reflect::set(&value, &"chunk".into(), &chunk).map_err(|_| JsError::new("internal error passing a chunk to the page"))?;
    Ok(value)
}

/// The time now, from the browser's clock.
fn now() -> Timestamp {
    let ms = js_sys::Date::now();
    let secs = (ms / 1000.0).floor();
    // A clock reading: finite and far inside i64; the remainder is < 1000 ms.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Timestamp { secs: secs as i64, nanos: ((ms - secs * 1000.0) * 1e6) as u32 }
}

/// Options the page may give `Session.export`.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct PageOptions {
    deflate: bool,
    keep_partial: bool,
}

#[wasm_bindgen]
impl Session {
    /// Starts a zip export of `paths` (escaped absolute paths) on volume
    /// `volume`. `options` is `{deflate, keep_partial}` (both optional,
    /// off by default) or `undefined`. Nothing is read until `step`.
    pub fn export(&self, volume: u32, paths: Vec<String>, options: JsValue) -> Result<ExportJob, JsError> {
        if paths.is_empty() {
            return Err(JsError::new("nothing is selected"));
        }
        let page: PageOptions = if options.is_undefined() || options.is_null() {
            PageOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("export options: {e}")))?
        };
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        let about = About { image: self.image.info().image.parts.join(", "), volume: volume_words(self, volume) };
        let selection: Vec<Vec<u8>> = paths.iter().map(|p| unescape(p)).collect();
        let options = ExportOptions { deflate: page.deflate, keep_partial: page.keep_partial, now: Some(now()) };
        let out = Drain::default();
        let mut export = Export::new(fs, about, &selection, options, out.clone());
        export.set_chunk_bytes(BROWSER_CHUNK_BYTES).map_err(js_err)?;
        Ok(ExportJob { export: Some(export), out })
    }

    /// Starts copying the regular file at `path` (escaped) on volume
    /// `volume`, byte for byte, in steps like [`Session::export`].
    pub fn export_file(&self, volume: u32, path: &str) -> Result<FileJob, JsError> {
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        let raw = unescape(path);
        let inode = fs.resolve(&raw).map_err(js_err)?;
        let meta = fs.stat(inode).map_err(js_err)?;
        if meta.kind != FileKind::File {
            return Err(JsError::new(&format!("{} is not a regular file", escape(&raw))));
        }
        Ok(FileJob { fs, inode, path: escape(&raw), size: meta.size, offset: 0, buf: Vec::new() })
    }
}

/// E.g. `2 (ext4 "root")`, as the CLI writes it in the report.
fn volume_words(session: &Session, index: u32) -> String {
    match session.image.volumes().iter().find(|v| v.index == index) {
        Some(v) => format!("{index} ({}{})", v.fs.unwrap_or("?"), v.label.as_deref().map(|l| format!(" \"{l}\"")).unwrap_or_default()),
        None => index.to_string(),
    }
}

/// A zip export in progress. `free()` it (or let it be collected) to cancel.
#[wasm_bindgen]
pub struct ExportJob {
    export: Option<Export<Drain>>,
    out: Drain,
}

#[wasm_bindgen]
impl ExportJob {
    /// Works through about `budget_bytes` of file data and returns the
    /// progress record with `chunk`: the zip bytes made by this step. With
    /// `reuse` (a `Uint8Array` the caller is done with), `chunk` is a view
    /// of its first bytes when they fit.
    pub fn step(&mut self, budget_bytes: f64, reuse: Option<js_sys::Uint8Array>) -> Result<JsValue, JsError> {
        let budget = budget(budget_bytes)?;
        let export = self.export.as_mut().ok_or_else(|| JsError::new("this export has already finished"))?;
        let progress = export.step(budget).map_err(js_err)?;
        let t = super::blob::now_ms();
        let chunk = self.out.take_into(reuse);
        let take_ms = super::blob::now_ms() - t;
        let value = with_chunk(&progress, chunk)?;
        let mut flat: Vec<u32> = Vec::new();
        for s in export.take_spans() {
            let n = |v: u64| u32::try_from(v).map_err(|_| JsError::new("internal error: a span beyond 4 GiB"));
            let size = u32::try_from(s.file_bytes).unwrap_or(u32::MAX);
            flat.extend([n(s.index as u64)?, n(s.start)?, n(s.end)?, u32::from(s.last), size]);
        }
        let set = |k: &str, v: &JsValue| {
            js_sys::Reflect::set(&value, &k.into(), v).map_err(|_| JsError::new("internal error passing spans to the page"))
        };
        set("spans", &js_sys::Uint32Array::from(&flat[..]).into())?;
        set("waiting", &export.waiting_for_digests().into())?;
        let (read_ms, copy_ms) = super::blob::read_ms();
        set("read_ms", &read_ms.into())?;
        set("copy_ms", &copy_ms.into())?;
        set("take_ms", &take_ms.into())?;
        let (reads, read_bytes) = super::blob::reads();
        set("reads", &reads.into())?;
        set("read_bytes", &read_bytes.into())?;
        Ok(value)
    }

    /// Leaves SHA-256 of stored file bytes to the caller, before the first
    /// step: each step's `spans` is a flat `Uint32Array` of
    /// `[entry, start, end, last, size]` records, entry `entry`'s bytes at
    /// `chunk[start..end]` (`last` = 1 when its bytes end there; `size` is
    /// the file's size, 2^32 − 1 for any size from there up); give each
    /// file's digest back with `set_sha256` once its last span is hashed.
    /// While `waiting` is true the export needs those digests to go on.
    pub fn hash_outside(&mut self) -> Result<(), JsError> {
        let export = self.export.as_mut().ok_or_else(|| JsError::new("this export has already finished"))?;
        export.hash_outside().map_err(js_err)
    }

    /// The SHA-256 (32 bytes) of entry `index`'s stored bytes.
    pub fn set_sha256(&mut self, index: u32, digest: &[u8]) -> Result<(), JsError> {
        let export = self.export.as_mut().ok_or_else(|| JsError::new("this export has already finished"))?;
        let digest: [u8; 32] = digest.try_into().map_err(|_| JsError::new("a SHA-256 digest has 32 bytes"))?;
        export.set_sha256(index as usize, digest);
        Ok(())
    }

    /// The progress record, without doing any work.
    pub fn progress(&self) -> Result<JsValue, JsError> {
        let export = self.export.as_ref().ok_or_else(|| JsError::new("this export has already finished"))?;
        to_js(&export.progress())
    }

    /// Ends the zip once a step said `done`: the summary record, with
    /// `chunk` holding the zip's last bytes (its central directory).
    pub fn finish(&mut self) -> Result<JsValue, JsError> {
        let export = self.export.take().ok_or_else(|| JsError::new("this export has already finished"))?;
        let (_, summary) = export.finish().map_err(js_err)?;
        with_chunk(&summary, self.out.take())
    }
}

/// One regular file's bytes, in steps; the output is the file itself.
#[wasm_bindgen]
pub struct FileJob {
    fs: Rc<dyn FileSystem>,
    inode: u64,
    path: String,
    size: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl FileJob {
    fn record(&self) -> Progress {
        let done = self.offset >= self.size;
        Progress {
            phase: if done { Phase::Done } else { Phase::Writing },
            files_done: u64::from(done),
            files_total: 1,
            bytes_done: self.offset,
            bytes_total: self.size,
            current_path: self.path.clone(),
            done,
        }
    }
}

#[wasm_bindgen]
impl FileJob {
    /// Reads up to `budget_bytes` more of the file: the progress record
    /// with `chunk`. A read error ends the job with a sentence saying at
    /// which byte; nothing is made up.
    pub fn step(&mut self, budget_bytes: f64) -> Result<JsValue, JsError> {
        let budget = budget(budget_bytes)?;
        let want = budget.min(self.size.saturating_sub(self.offset));
        let want = usize::try_from(want).map_err(|_| JsError::new("the step budget is too big for this browser"))?;
        self.buf.clear();
        self.buf.try_reserve_exact(want).map_err(|_| JsError::new("out of memory for the download's next piece"))?;
        self.buf.resize(want, 0);
        let mut done = 0usize;
        while done < want {
            let at = self.offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX));
            let n = self
                .fs
                .read_at(self.inode, at, &mut self.buf[done..])
                .map_err(|e| js_err(e.context(format!("reading {} at byte {at}", self.path))))?;
            if n == 0 {
                return Err(JsError::new(&format!(
                    "{} ended at byte {at}, before its recorded size of {} bytes",
                    self.path, self.size
                )));
            }
            done = done.saturating_add(n);
        }
        self.offset = self.offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX));
        let chunk = js_sys::Uint8Array::from(&self.buf[..]);
        self.buf.clear();
        with_chunk(&self.record(), chunk)
    }

    /// The progress record, without reading.
    pub fn progress(&self) -> Result<JsValue, JsError> {
        to_js(&self.record())
    }

    /// After the last step: a summary record shaped like the zip
    /// export's, with an empty `chunk`.
    pub fn finish(&mut self) -> Result<JsValue, JsError> {
        if self.offset < self.size {
            return Err(JsError::new("the download is not finished; call step until it reports done"));
        }
        let summary = Summary { files_ok: 1, bytes_ok: self.size, entries_written: 1, archive_bytes: self.size, ..Summary::default() };
        with_chunk(&summary, js_sys::Uint8Array::new_with_length(0))
    }
}

/// SHA-256 fed piece by piece: the hashing worker's side of
/// [`ExportJob::hash_outside`].
#[wasm_bindgen]
pub struct Sha256Stream {
    inner: sha2::Sha256,
}

#[wasm_bindgen]
impl Sha256Stream {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Sha256Stream {
        Sha256Stream { inner: <sha2::Sha256 as sha2::Digest>::new() }
    }

    pub fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.inner, data);
    }

    /// The digest (32 bytes); the object is used up.
    pub fn finish(self) -> Vec<u8> {
        sha2::Digest::finalize(self.inner).to_vec()
    }
}

impl Default for Sha256Stream {
    fn default() -> Self {
        Sha256Stream::new()
    }
}
