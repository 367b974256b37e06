//! The walk: the user's selection → the list of entries to write, in
//! depth-first order with each directory before its contents and names
//! sorted. It runs a bounded number of entries per call so the browser
//! worker can show progress while it counts, and it holds one frame per
//! directory level plus the entry list itself.
//!
//! Entry names are relative to the selection's root: the deepest folder
//! holding every selected path. `/etc` and `/home/alice` export as
//! `etc/…` and `home/alice/…` (with a `home/` entry for the folder in
//! between); `/var/www` alone exports as `www/…`.

use std::collections::HashSet;

use super::entry::bad_component;
use crate::fs::{DirEntry, FileKind, FileSystem, Metadata, Timestamp};
use crate::path::escape;

/// Deepest directory nesting followed; deeper is surely a loop.
const MAX_DEPTH: usize = 256;

/// Problems about the walk itself kept in full; past this they're counted.
pub const MAX_PROBLEMS: usize = 10_000;

/// What happened to one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Ok,
    /// A folder whose name is not UTF-8: it has no entry of its own (the
    /// zip crate names folder entries with UTF-8 only), its files carry
    /// its exact name.
    Implied,
    /// Stored, but not every byte is the disk's: the reason.
    Incomplete(Box<str>),
    /// Not in the zip: the reason.
    Skipped(Box<str>),
}

/// One thing to export, with the metadata the zip and manifest need.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Relative, `/`-separated raw bytes, no trailing slash.
    pub name: Box<[u8]>,
    pub inode: u64,
    pub kind: FileKind,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Timestamp,
    /// Major and minor numbers of a device.
    pub rdev: Option<(u32, u32)>,
    /// Index of the first entry with the same inode (a hard link).
    pub same_as: Option<usize>,
    pub sha256: Option<[u8; 32]>,
    pub status: Status,
}

impl Planned {
    fn new(name: Vec<u8>, m: &Metadata) -> Planned {
        Planned {
            name: name.into_boxed_slice(),
            inode: m.inode,
            kind: m.kind,
            size: if matches!(m.kind, FileKind::File | FileKind::Symlink) { m.size } else { 0 },
            mode: m.mode & 0o7777,
            uid: m.uid,
            gid: m.gid,
            mtime: m.mtime,
            rdev: m.rdev,
            same_as: None,
            sha256: None,
            status: Status::Pending,
        }
    }

    fn unreadable(name: Vec<u8>, inode: u64, why: String) -> Planned {
        let mut p = Planned::new(name, &Metadata {
            inode,
            kind: FileKind::Unknown,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            nlink: 0,
            atime: Timestamp::default(),
            mtime: Timestamp::default(),
            ctime: Timestamp::default(),
            crtime: None,
            rdev: None,
            flags: 0,
            problems: Vec::new(),
        });
        p.status = Status::Skipped(why.into());
        p
    }
}

struct Frame {
    /// Zip name of this directory ("" for the root of the export).
    prefix: Vec<u8>,
    entries: std::vec::IntoIter<DirEntry>,
    depth: usize,
}

/// The walk's state between steps.
pub struct Walk {
    /// Selected paths still to start: (absolute path, zip name).
    pending: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    stack: Vec<Frame>,
    visited: HashSet<u64>,
    /// First entry index of inodes with several links.
    linked: std::collections::HashMap<u64, usize>,
    /// Top-level names, so the report and manifest avoid them.
    pub top_names: HashSet<Vec<u8>>,
    /// Sentences about what could not be walked (damaged directories).
    pub problems: Vec<String>,
    pub problems_dropped: usize,
    /// The root the names are relative to, escaped, for the report.
    pub root: String,
}

/// Cleans an absolute path: no empty, `.` or `..` components.
fn components(path: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for part in path.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            p => out.push(p.to_vec()),
        }
    }
    out
}

fn to_path(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut p = Vec::new();
    for c in parts {
        p.push(b'/');
        p.extend_from_slice(c);
    }
    if p.is_empty() {
        p.push(b'/');
    }
    p
}

impl Walk {
    /// Plans the selection: its root, the folders between the root and
    /// each selected path, and the selected paths themselves (a path
    /// inside another selected one is covered by it).
    pub fn new(selection: &[Vec<u8>]) -> Walk {
        let mut items: Vec<Vec<Vec<u8>>> = selection.iter().map(|p| components(p)).collect();
        items.sort();
        items.dedup();
        let mut kept: Vec<Vec<Vec<u8>>> = Vec::new();
        for it in items {
            if !kept.iter().any(|k| it.starts_with(k)) {
                kept.push(it);
            }
        }
        // The root: the longest common prefix of the items' parents.
        let mut root: Vec<Vec<u8>> = kept.first().map(|k| k[..k.len().saturating_sub(1)].to_vec()).unwrap_or_default();
        for k in &kept {
            let parent = &k[..k.len().saturating_sub(1)];
            let common = root.iter().zip(parent).take_while(|(a, b)| a == b).count();
            root.truncate(common);
        }
        let mut pending = Vec::new();
        let mut between = HashSet::new();
        for k in &kept {
            let rel = &k[root.len()..];
            // Folders between the root and the item, once each.
            for depth in 1..rel.len() {
                let dir = rel[..depth].to_vec();
                if between.insert(dir.clone()) {
                    pending.push((to_path(&k[..root.len().saturating_add(depth)]), dir.join(&b'/')));
                }
            }
            pending.push((to_path(k), rel.join(&b'/')));
        }
        Walk {
            pending: pending.into_iter(),
            stack: Vec::new(),
            visited: HashSet::new(),
            linked: std::collections::HashMap::new(),
            top_names: HashSet::new(),
            problems: Vec::new(),
            problems_dropped: 0,
            root: escape(&to_path(&root)),
        }
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(text);
        } else {
            self.problems_dropped = self.problems_dropped.saturating_add(1);
        }
    }

    /// Walks up to `max_entries` entries into `out`; returns true when the
    /// whole selection has been walked.
    pub fn step(&mut self, fs: &dyn FileSystem, out: &mut Vec<Planned>, max_entries: usize) -> bool {
        let mut budget = max_entries;
        while budget > 0 {
            budget = budget.saturating_sub(1);
            if let Some(frame) = self.stack.last_mut() {
                let Some(d) = frame.entries.next() else {
                    self.stack.pop();
                    continue;
                };
                let (prefix, depth) = (frame.prefix.clone(), frame.depth);
                let mut name = prefix;
                if !name.is_empty() {
                    name.push(b'/');
                }
                if let Some(why) = bad_component(&d.name) {
                    name.extend_from_slice(&escape(&d.name).into_bytes());
                    out.push(Planned::unreadable(name, d.inode, format!("damaged directory entry: {why}")));
                    continue;
                }
                name.extend_from_slice(&d.name);
                self.visit(fs, out, name, d.inode, depth);
                continue;
            }
            let Some((path, name)) = self.pending.next() else {
                return true;
            };
            match fs.resolve(&path) {
                Ok(inode) if name.is_empty() => {
                    // The selection is the whole volume: its root folder is the zip's root.
                    self.enter(fs, Vec::new(), inode, 0);
                }
                Ok(inode) => self.visit(fs, out, name, inode, 0),
                Err(e) => self.problem(format!("the selected path {} can't be exported: {e}", escape(&path))),
            }
        }
        false
    }

    /// Stats one inode, plans it, and enters it when it is a directory.
    fn visit(&mut self, fs: &dyn FileSystem, out: &mut Vec<Planned>, name: Vec<u8>, inode: u64, depth: usize) {
        if !name.contains(&b'/') {
            self.top_names.insert(name.clone());
        }
        let meta = match fs.stat(inode) {
            Ok(m) => m,
            Err(e) => {
                out.push(Planned::unreadable(name, inode, format!("its inode can't be read: {e}")));
                return;
            }
        };
        let mut p = Planned::new(name.clone(), &meta);
        if meta.kind == FileKind::File && meta.nlink > 1 {
            match self.linked.get(&inode) {
                Some(first) => p.same_as = Some(*first),
                None => {
                    self.linked.insert(inode, out.len());
                }
            }
        }
        out.push(p);
        if meta.kind == FileKind::Dir {
            let depth = depth.saturating_add(1);
            if depth > MAX_DEPTH {
                self.problem(format!("{}: nested deeper than {MAX_DEPTH} folders; its contents were not exported", escape(&name)));
            } else {
                self.enter(fs, name, inode, depth);
            }
        }
    }

    /// Reads a directory whole (sorted by name) and pushes it.
    fn enter(&mut self, fs: &dyn FileSystem, prefix: Vec<u8>, inode: u64, depth: usize) {
        let shown = if prefix.is_empty() { "the root folder".to_string() } else { escape(&prefix) };
        if !self.visited.insert(inode) {
            self.problem(format!("{shown}: this folder appears twice in the tree (a damaged directory); its contents were exported once"));
            return;
        }
        let listing = match fs.read_dir(inode) {
            Ok(it) => it,
            Err(e) => {
                self.problem(format!("{shown}: the folder's contents can't be read: {e}"));
                return;
            }
        };
        let mut entries = Vec::new();
        let mut broken = Vec::new();
        for item in listing {
            match item {
                Ok(d) => entries.push(d),
                Err(e) => broken.push(format!("{shown}: part of the folder can't be read, names in it are missing: {e}")),
            }
        }
        for b in broken {
            self.problem(b);
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        self.stack.push(Frame { prefix, entries: entries.into_iter(), depth });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(w: Walk) -> Vec<(String, String)> {
        w.pending.map(|(p, n)| (escape(&p), escape(&n))).collect()
    }

    #[test]
    fn root_is_the_common_parent() {
        let w = Walk::new(&[b"/etc".to_vec(), b"/home/alice/".to_vec(), b"/etc/passwd".to_vec()]);
        assert_eq!(w.root, "/");
        assert_eq!(names(w), [("/etc", "etc"), ("/home", "home"), ("/home/alice", "home/alice")].map(|(a, b)| (a.to_string(), b.to_string())));
        let w = Walk::new(&[b"/var/www".to_vec()]);
        assert_eq!(w.root, "/var");
        assert_eq!(names(w), [("/var/www".to_string(), "www".to_string())]);
        let w = Walk::new(&[b"/".to_vec()]);
        assert_eq!(names(w), [("/".to_string(), String::new())]);
    }
}
