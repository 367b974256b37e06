//! The page's file manager: a folder listed in pages ([`DirListing`]), a
//! name search over a volume ([`SearchJob`]) and folder sizes
//! ([`SizeJob`]). Each is a job object the worker keeps and calls `step`
//! on, one bounded step per request, so other requests run in between and
//! the page can drop a job at any time (`free()`).
//!
//! Entries cross to JavaScript in columns — one string of names joined by
//! NUL (which no name can hold) and typed arrays for the numbers — rather
//! than one object per entry: 100,000 entries are then a few copies, not
//! a million property sets.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::fs::{FileKind, FileSystem};
use crate::image::browse::{DirPages, NamePattern, NameSearch, TreeSize};
use crate::export::owners::Owners;
use crate::image::Entry;
use crate::path::unescape;

use super::{js_err, to_js, Session};

/// The kind codes of the `kinds` column (the page's protocol.js mirrors them).
fn kind_code(k: FileKind) -> u8 {
    match k {
        FileKind::File => 0,
        FileKind::Dir => 1,
        FileKind::Symlink => 2,
        FileKind::CharDevice => 3,
        FileKind::BlockDevice => 4,
        FileKind::Fifo => 5,
        FileKind::Socket => 6,
        FileKind::Unknown => 7,
    }
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), JsError> {
    js_sys::Reflect::set(obj, &key.into(), value).map(|_| ()).map_err(|_| JsError::new("internal error passing entries to the page"))
}

/// Large integers as f64 (exact below 2^53, which sizes and times are).
#[allow(clippy::cast_precision_loss)]
fn f(n: u64) -> f64 {
    n as f64
}

/// Entries in columns; `with_paths` adds the `paths` column (search hits
/// live in many folders). Owner and group names of the ids present come
/// as `users` / `groups`: arrays of [id, name].
pub fn pack(entries: &[Entry], owners: &Owners, with_paths: bool) -> Result<js_sys::Object, JsError> {
    pack_entries(entries, &|id| owners.user(id).to_string(), &|id| owners.group(id).to_string(), with_paths)
}

/// [`pack`] with the names given by functions (empty: no name).
pub fn pack_entries(entries: &[Entry], user: &dyn Fn(u32) -> String, group: &dyn Fn(u32) -> String, with_paths: bool) -> Result<js_sys::Object, JsError> {
    let n = entries.len();
    let mut names = String::new();
    let mut paths = String::new();
    let (mut kinds, mut modes, mut uids, mut gids) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut sizes, mut mtimes, mut inodes) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let targets = js_sys::Array::new();
    let problems = js_sys::Array::new();
    let mut uid_seen = std::collections::BTreeSet::new();
    let mut gid_seen = std::collections::BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            names.push('\0');
            paths.push('\0');
        }
        names.push_str(&e.name);
        if with_paths {
            paths.push_str(&e.path);
        }
        kinds.push(kind_code(e.file_kind));
        modes.push(e.mode);
        uids.push(e.uid);
        gids.push(e.gid);
        sizes.push(f(e.size));
        #[allow(clippy::cast_precision_loss)]
        mtimes.push(e.mtime as f64 + f64::from(e.mtime_ns) / 1e9);
        inodes.push(f(e.inode));
        let index = JsValue::from(u32::try_from(i).unwrap_or(u32::MAX));
        if let Some(t) = &e.target {
            targets.push(&js_sys::Array::of2(&index, &t.into()));
        }
        if !e.problems.is_empty() {
            let list: js_sys::Array = e.problems.iter().map(|p| JsValue::from(p.as_str())).collect();
            problems.push(&js_sys::Array::of2(&index, &list));
        }
        uid_seen.insert(e.uid);
        gid_seen.insert(e.gid);
    }
    let named = |ids: &std::collections::BTreeSet<u32>, name: &dyn Fn(u32) -> String| -> js_sys::Array {
        ids.iter()
            .filter_map(|id| {
                let n = name(*id);
                (!n.is_empty()).then(|| JsValue::from(js_sys::Array::of2(&(*id).into(), &n.into())))
            })
            .collect()
    };
    let out = js_sys::Object::new();
    set(&out, "count", &u32::try_from(n).unwrap_or(u32::MAX).into())?;
    set(&out, "names", &names.into())?;
    if with_paths {
        set(&out, "paths", &paths.into())?;
    }
    set(&out, "kinds", &js_sys::Uint8Array::from(&kinds[..]))?;
    set(&out, "modes", &js_sys::Uint32Array::from(&modes[..]))?;
    set(&out, "uids", &js_sys::Uint32Array::from(&uids[..]))?;
    set(&out, "gids", &js_sys::Uint32Array::from(&gids[..]))?;
    set(&out, "sizes", &js_sys::Float64Array::from(&sizes[..]))?;
    set(&out, "mtimes", &js_sys::Float64Array::from(&mtimes[..]))?;
    set(&out, "inodes", &js_sys::Float64Array::from(&inodes[..]))?;
    set(&out, "targets", &targets)?;
    set(&out, "problems", &problems)?;
    set(&out, "users", &named(&uid_seen, user))?;
    set(&out, "groups", &named(&gid_seen, group))?;
    Ok(out)
}

/// A whole, positive step budget from JavaScript.
fn budget(n: u32) -> u64 {
    u64::from(n.max(1))
}

#[wasm_bindgen]
impl Session {
    /// Reads the names of folder `path` (escaped) on volume `volume`;
    /// `step(count)` then gives their records, `count` at a time.
    pub fn list_open(&self, volume: u32, path: &str) -> Result<DirListing, JsError> {
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        let pages = DirPages::read(&*fs, &unescape(path)).map_err(js_err)?;
        Ok(DirListing { owners: self.owners(volume, &*fs), fs, pages, next: 0 })
    }

    /// Starts a name search under folder `path`: a substring, or a glob
    /// (`*`, `?`, `[…]`) matched against whole names; ASCII case ignored.
    /// At most `max_hits` results.
    pub fn search(&self, volume: u32, path: &str, pattern: &str, max_hits: u32) -> Result<SearchJob, JsError> {
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        let search = NameSearch::new(&*fs, &unescape(path), NamePattern::new(&unescape(pattern)), u64::from(max_hits)).map_err(js_err)?;
        Ok(SearchJob { owners: self.owners(volume, &*fs), fs, search })
    }

    /// Starts counting the files and bytes under `paths` (escaped).
    pub fn sizes(&self, volume: u32, paths: Vec<String>) -> Result<SizeJob, JsError> {
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        let roots: Vec<Vec<u8>> = paths.iter().map(|p| unescape(p)).collect();
        let size = TreeSize::new(&*fs, &roots);
        Ok(SizeJob { fs, size })
    }

    /// The volume's owner names, read once.
    fn owners(&self, volume: u32, fs: &dyn FileSystem) -> Rc<Owners> {
        self.owners.borrow_mut().entry(volume).or_insert_with(|| Rc::new(Owners::load(fs))).clone()
    }
}

/// One folder's entries, in pages.
#[wasm_bindgen]
pub struct DirListing {
    fs: Rc<dyn FileSystem>,
    pages: DirPages,
    owners: Rc<Owners>,
    next: usize,
}

#[wasm_bindgen]
impl DirListing {
    /// How many entries the folder has.
    pub fn total(&self) -> u32 {
        u32::try_from(self.pages.len()).unwrap_or(u32::MAX)
    }

    /// The next `count` entries in columns (see [`pack`]), with `start`
    /// (index of the first) and `done`.
    pub fn step(&mut self, count: u32) -> Result<JsValue, JsError> {
        let want = usize::try_from(budget(count)).unwrap_or(usize::MAX);
        let entries = self.pages.entries(&*self.fs, self.next, want);
        let out = pack(&entries, &self.owners, false)?;
        set(&out, "start", &u32::try_from(self.next).unwrap_or(u32::MAX).into())?;
        self.next = self.next.saturating_add(entries.len());
        set(&out, "done", &(self.next >= self.pages.len()).into())?;
        Ok(out.into())
    }
}

/// A name search in progress.
#[wasm_bindgen]
pub struct SearchJob {
    fs: Rc<dyn FileSystem>,
    search: NameSearch,
    owners: Rc<Owners>,
}

#[wasm_bindgen]
impl SearchJob {
    /// Reads about `budget` directory entries: the walk's progress
    /// (`done`, `dirs_read`, `entries_seen`, `dirs_queued`, `problems` …)
    /// with `hits` (new matches, in columns with `paths`), `hits_total`
    /// and `truncated`.
    pub fn step(&mut self, budget_entries: u32) -> Result<JsValue, JsError> {
        let mut hits = Vec::new();
        let progress = self.search.step(&*self.fs, budget(budget_entries), &mut hits);
        let out: js_sys::Object = to_js(&progress)?.into();
        set(&out, "hits", &pack(&hits, &self.owners, true)?.into())?;
        #[allow(clippy::cast_precision_loss)]
        set(&out, "hits_total", &(self.search.hits() as f64).into())?;
        set(&out, "truncated", &self.search.truncated().into())?;
        Ok(out.into())
    }
}

/// Folder sizes being counted.
#[wasm_bindgen]
pub struct SizeJob {
    fs: Rc<dyn FileSystem>,
    size: TreeSize,
}

#[wasm_bindgen]
impl SizeJob {
    /// Reads about `budget` entries: `{files, dirs, others, bytes}` so far
    /// and the walk's progress (`done` …).
    pub fn step(&mut self, budget_entries: u32) -> Result<JsValue, JsError> {
        let (totals, progress) = self.size.step(&*self.fs, budget(budget_entries));
        let out: js_sys::Object = to_js(&progress)?.into();
        let t: js_sys::Object = to_js(&totals)?.into();
        js_sys::Object::assign(&out, &t);
        Ok(out.into())
    }
}
