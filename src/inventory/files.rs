//! Tolerant, capped access to the volume's files for the inventory: every
//! helper turns "missing" into `None` and any other failure into a note,
//! and counts its work so the driver can bound a step.

use crate::error::ErrorKind;
use crate::fs::{resolve_following, FileKind, FileSystem, Metadata};
use crate::path::{escape, join};

use super::{ItemKind, Size, MAX_CONFIG_BYTES, MAX_DIR_ENTRIES};

/// An item as a stage finds it; the driver adds the section and names.
pub(crate) struct NewItem {
    pub kind: ItemKind,
    pub title: String,
    pub path: Vec<u8>,
    pub owner: Option<(u32, u32)>,
    pub size: Option<Size>,
    pub essential: bool,
    pub details: Vec<(String, String)>,
    /// `path` is already the real path and `owner` known (a walk found
    /// it): no lookup again, which in a folder of 100,000 names costs.
    known: bool,
}

impl NewItem {
    pub fn dir(kind: ItemKind, title: impl Into<String>, path: &[u8]) -> NewItem {
        NewItem { kind, title: title.into(), path: path.to_vec(), owner: None, size: None, essential: false, details: Vec::new(), known: false }
    }

    /// A regular file a walk reached at its real path: owner and size
    /// from the metadata in hand.
    pub fn file(kind: ItemKind, title: impl Into<String>, path: &[u8], meta: &Metadata) -> NewItem {
        let mut item = NewItem::dir(kind, title, path);
        item.owner = Some((meta.uid, meta.gid));
        item.size = Some(Size { bytes: meta.size, files: 1, dirs: 0, complete: true });
        item.known = true;
        item
    }

    pub fn essential(mut self) -> NewItem {
        self.essential = true;
        self
    }

    pub fn detail(mut self, name: &str, value: impl Into<String>) -> NewItem {
        self.details.push((name.to_string(), value.into()));
        self
    }
}

/// One stage's view of the volume.
pub(crate) struct Ctx<'a> {
    pub fs: &'a dyn FileSystem,
    /// Work units spent (stats, entries, reads).
    pub work: u64,
    /// Folders that could not be listed in full.
    pub damaged_listings: u64,
    /// Work after which this stage reads nothing more (a hostile image
    /// with thousands of huge config folders still ends).
    limit: u64,
    /// The limit was reached: what the stage found is incomplete.
    pub cut_short: bool,
    items: Vec<NewItem>,
    notes: Vec<String>,
}

/// A found path: inode, metadata and where it resolved to.
pub(crate) struct Found {
    pub inode: u64,
    pub meta: Metadata,
    /// The path with symlinks replaced by their targets.
    pub path: Vec<u8>,
}

impl<'a> Ctx<'a> {
    pub fn new(fs: &'a dyn FileSystem) -> Ctx<'a> {
        Ctx { fs, work: 0, damaged_listings: 0, limit: u64::MAX, cut_short: false, items: Vec::new(), notes: Vec::new() }
    }

    /// A stage that runs whole: stop reading past `limit` work units.
    pub fn limited(mut self, limit: u64) -> Ctx<'a> {
        self.limit = limit;
        self
    }

    /// Whether the stage's limit is spent (a note the first time).
    fn spent(&mut self) -> bool {
        if self.work <= self.limit {
            return false;
        }
        self.cut_short = true;
        self.note(format!("this part of the inventory stopped after {} steps of reading; it is incomplete", self.limit));
        true
    }

    pub fn into_parts(self) -> (Vec<NewItem>, Vec<String>) {
        (self.items, self.notes)
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        if !self.notes.contains(&text) && self.notes.len() < 200 {
            self.notes.push(text);
        }
    }

    /// Adds an item, owned by its path's owner. Data found through a
    /// symbolic link (`/var/lib/mysql → /data/mysql`) is listed at its real
    /// path, so selecting it exports the files, not the link; the name it
    /// was found by stays as a detail. Enabled units stay the links they are.
    pub fn add_item(&mut self, mut item: NewItem) {
        if item.known {
            self.items.push(item);
            return;
        }
        let keep_link = matches!(item.kind, ItemKind::SystemdUnit | ItemKind::SystemdTimer);
        if let Some(f) = self.find(&item.path) {
            if !keep_link && f.path != item.path {
                item.details.push(("found at".to_string(), escape(&item.path)));
                item.path = f.path;
            }
            if item.owner.is_none() {
                item.owner = Some((f.meta.uid, f.meta.gid));
            }
        } else if item.owner.is_none() {
            if let Ok(m) = self.fs.resolve(&item.path).and_then(|i| self.fs.stat(i)) {
                // A link whose target is elsewhere (an enabled unit of a
                // package on another volume): the link's own owner.
                item.owner = Some((m.uid, m.gid));
            }
        }
        self.items.push(item);
    }

    /// Resolves a path (symlinks followed inside the volume) and stats it.
    /// Missing → `None` silently; damage → `None` and a note.
    pub fn find(&mut self, path: &[u8]) -> Option<Found> {
        if self.spent() {
            return None;
        }
        self.work = self.work.saturating_add(1);
        let found = resolve_following(self.fs, path).and_then(|(inode, p)| Ok((inode, self.fs.stat(inode)?, p)));
        match found {
            Ok((inode, meta, path)) => Some(Found { inode, meta, path }),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                let shown = escape(path);
                if e.message().starts_with(&shown) {
                    self.note(e.message().to_string());
                } else {
                    self.note(format!("{shown}: {}", e.message()));
                }
                None
            }
        }
    }

    pub fn is_dir(&mut self, path: &[u8]) -> bool {
        self.find(path).is_some_and(|f| f.meta.kind == FileKind::Dir)
    }

    pub fn is_file(&mut self, path: &[u8]) -> bool {
        self.find(path).is_some_and(|f| f.meta.kind == FileKind::File)
    }

    /// A regular file's first [`MAX_CONFIG_BYTES`] (a note says when there
    /// was more, or when it is not a file).
    pub fn read_text(&mut self, path: &[u8]) -> Option<Vec<u8>> {
        let f = self.find(path)?;
        self.read_found(path, &f, MAX_CONFIG_BYTES)
    }

    /// Up to `cap` bytes of a found regular file.
    pub fn read_found(&mut self, path: &[u8], f: &Found, cap: u64) -> Option<Vec<u8>> {
        if f.meta.kind != FileKind::File {
            if f.meta.kind != FileKind::Dir {
                self.note(format!("{}: not a regular file", escape(path)));
            }
            return None;
        }
        if f.meta.size > cap {
            self.note(format!("{}: {} bytes; only the first {cap} were read", escape(path), f.meta.size));
        }
        let len = usize::try_from(f.meta.size.min(cap)).ok()?;
        let mut buf = Vec::new();
        if buf.try_reserve_exact(len).is_err() {
            self.note(format!("{}: no memory for {len} bytes", escape(path)));
            return None;
        }
        buf.resize(len, 0);
        let mut done = 0usize;
        while done < len {
            self.work = self.work.saturating_add(1);
            let Some(rest) = buf.get_mut(done..) else { break };
            match self.fs.read_at(f.inode, u64::try_from(done).unwrap_or(u64::MAX), rest) {
                Ok(0) => break,
                Ok(n) => done = done.saturating_add(n),
                Err(e) => {
                    self.note(format!("{}: only {done} bytes could be read: {}", escape(path), e.message()));
                    break;
                }
            }
        }
        buf.truncate(done);
        Some(buf)
    }

    /// The entries of a folder (symlinks followed to reach it), sorted by
    /// name, at most [`MAX_DIR_ENTRIES`]; missing → empty.
    pub fn list(&mut self, path: &[u8]) -> Vec<(Vec<u8>, u64, Option<FileKind>)> {
        let Some(f) = self.find(path) else { return Vec::new() };
        if f.meta.kind != FileKind::Dir {
            return Vec::new();
        }
        self.list_inode(path, f.inode)
    }

    pub fn list_inode(&mut self, path: &[u8], inode: u64) -> Vec<(Vec<u8>, u64, Option<FileKind>)> {
        self.list_capped(path, inode, MAX_DIR_ENTRIES)
    }

    /// [`Ctx::list_inode`] with another cap (the walks take big folders,
    /// a Maildir's `cur` say, whole).
    pub fn list_capped(&mut self, path: &[u8], inode: u64, cap: usize) -> Vec<(Vec<u8>, u64, Option<FileKind>)> {
        let mut out = Vec::new();
        if self.spent() {
            return out;
        }
        let iter = match self.fs.read_dir(inode) {
            Ok(i) => i,
            Err(e) => {
                self.damaged_listings = self.damaged_listings.saturating_add(1);
                self.note(format!("{}: can't list: {}", escape(path), e.message()));
                return out;
            }
        };
        let mut errors = 0u32;
        for entry in iter {
            self.work = self.work.saturating_add(1);
            match entry {
                Ok(e) => {
                    if out.len() >= cap {
                        self.damaged_listings = self.damaged_listings.saturating_add(1);
                        self.note(format!("{}: more than {cap} entries; the rest were not looked at", escape(path)));
                        break;
                    }
                    out.push((e.name, e.inode, e.kind));
                }
                Err(e) => {
                    errors = errors.saturating_add(1);
                    if errors == 1 && !e.message().ends_with(crate::fs::LISTED_ANYWAY) {
                        self.damaged_listings = self.damaged_listings.saturating_add(1);
                    }
                    if errors == 1 {
                        self.note(format!("{}: part of the folder can't be read: {}", escape(path), e.message()));
                    }
                    if errors > 64 {
                        break;
                    }
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Metadata of an inode; damage → a note.
    pub fn stat(&mut self, path: &[u8], inode: u64) -> Option<Metadata> {
        self.work = self.work.saturating_add(1);
        match self.fs.stat(inode) {
            Ok(m) => Some(m),
            Err(e) => {
                self.note(format!("{}: {}", escape(path), e.message()));
                None
            }
        }
    }

    /// Names of the entries of `dir` (sorted), with their full paths.
    pub fn children(&mut self, dir: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.list(dir).into_iter().map(|(name, _, _)| (join(dir, &name), name)).collect()
    }
}

/// Text of a config file: lossy UTF-8, for parsers that only look for
/// ASCII keys (garbage lines simply match nothing).
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether bytes look binary (a NUL in the first KiB), for a note.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(1024).any(|b| *b == 0)
}

/// Matches one path component against a glob with `*` and `?`.
pub(crate) fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative with one backtrack point: linear in practice, no recursion.
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p = p.saturating_add(1);
            }
            Some(c) if *c == b'?' || Some(c) == name.get(n) => {
                p = p.saturating_add(1);
                n = n.saturating_add(1);
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp.saturating_add(1);
                    n = sn.saturating_add(1);
                    star = Some((sp, n));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}

/// Expands an include pattern whose wildcards are in the last component
/// (`/etc/nginx/sites-enabled/*`, `conf.d/*.conf`): the matching regular
/// files, sorted; a plain path is itself. Hidden files are skipped by `*`.
pub(crate) fn expand_glob(cx: &mut Ctx, pattern: &[u8]) -> Vec<Vec<u8>> {
    if !pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
        return vec![pattern.to_vec()];
    }
    let cut = pattern.iter().rposition(|c| *c == b'/').unwrap_or(0);
    let (dir, last) = (pattern.get(..cut).unwrap_or(b""), pattern.get(cut.saturating_add(1)..).unwrap_or(b""));
    if dir.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
        cx.note(format!("{}: wildcards in folder names are not followed", escape(pattern)));
        return Vec::new();
    }
    let dir = if dir.is_empty() { b"/".as_slice() } else { dir };
    cx.list(dir)
        .into_iter()
        .filter(|(name, _, _)| !name.starts_with(b".") && glob_match(last, name))
        .map(|(name, _, _)| join(dir, &name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"default"));
        assert!(glob_match(b"*.conf", b"a.conf"));
        assert!(!glob_match(b"*.conf", b"a.conf.bak"));
        assert!(glob_match(b"a?c*", b"abcdef"));
        assert!(!glob_match(b"", b"x"));
        assert!(glob_match(b"*a*a*a*", b"aaaa"));
    }
}
