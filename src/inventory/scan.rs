//! The two slow, steppable parts of the inventory: the file scan for
//! SQLite databases (by the 16-byte header "SQLite format 3\0" of the
//! SQLite file format §1.3, on files whose size is a multiple of 512 as
//! every database file's is) and compose files, and the recursive sizes of
//! the items found. Both are bounded by entry budgets and resume where the
//! last step stopped.

use std::collections::HashSet;

use super::files::{Ctx, NewItem};
use super::{Item, ItemKind, Size, SCAN_MAX_DEPTH, SCAN_MAX_ENTRIES, SCAN_MAX_MAGIC_READS, SIZE_MAX_ENTRIES, SIZE_MAX_ENTRIES_PER_ITEM, WALK_MAX_DIR_ENTRIES};
use crate::fs::FileKind;
use crate::path::{escape, join, unescape};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Where the scan looks (application data, not the system's own).
const SCAN_ROOTS: [&[u8]; 5] = [b"/var/www", b"/srv", b"/home", b"/opt", b"/root"];
/// Folders never entered: version control, package caches.
const SKIP_DIRS: [&[u8]; 5] = [b".git", b"node_modules", b".cache", b".npm", b"__pycache__"];
const COMPOSE_NAMES: [&[u8]; 4] = [b"docker-compose.yml", b"docker-compose.yaml", b"compose.yml", b"compose.yaml"];

/// The SQLite and compose file scan.
pub(crate) struct TreeScan {
    started: bool,
    stack: Vec<(Vec<u8>, u64, usize)>,
    visited: HashSet<u64>,
    entries: u64,
    magic_reads: u64,
    cut: bool,
}

impl TreeScan {
    pub fn new() -> TreeScan {
        TreeScan { started: false, stack: Vec::new(), visited: HashSet::new(), entries: 0, magic_reads: 0, cut: false }
    }

    /// Whether a budget stopped the scan before it saw everything.
    pub fn cut_short(&self) -> bool {
        self.cut
    }

    /// Scans folders until about `budget` work is spent; true when done.
    pub fn step(&mut self, cx: &mut Ctx, budget: u64) -> bool {
        if !self.started {
            self.started = true;
            for root in SCAN_ROOTS.iter().rev() {
                if let Some(f) = cx.find(root) {
                    // Walked from its real path, so what it finds needs no lookup again.
                    if f.meta.kind == FileKind::Dir && self.visited.insert(f.inode) {
                        self.stack.push((f.path, f.inode, 0));
                    }
                }
            }
        }
        while let Some((dir, inode, depth)) = self.stack.pop() {
            let listed = cx.list_capped(&dir, inode, WALK_MAX_DIR_ENTRIES);
            let mut subdirs = Vec::new();
            for (name, child, kind) in listed {
                self.entries = self.entries.saturating_add(1);
                if self.entries > SCAN_MAX_ENTRIES {
                    self.cut = true;
                    cx.note(format!("the SQLite and compose file scan stopped after {SCAN_MAX_ENTRIES} entries; more may exist (last folder: {})", escape(&dir)));
                    self.stack.clear();
                    return true;
                }
                let path = join(&dir, &name);
                let kind = match kind {
                    Some(k) => k,
                    None => match cx.stat(&path, child) {
                        Some(m) => m.kind,
                        None => continue,
                    },
                };
                match kind {
                    FileKind::Dir if depth < SCAN_MAX_DEPTH && !SKIP_DIRS.contains(&name.as_slice()) && self.visited.insert(child) => {
                        subdirs.push((path, child, depth.saturating_add(1)));
                    }
                    FileKind::File => self.file(cx, &path, &name, child),
                    _ => {}
                }
            }
            self.stack.extend(subdirs.into_iter().rev());
            if cx.work >= budget {
                return self.stack.is_empty();
            }
        }
        true
    }

    fn file(&mut self, cx: &mut Ctx, path: &[u8], name: &[u8], inode: u64) {
        let Some(m) = cx.stat(path, inode) else { return };
        if COMPOSE_NAMES.contains(&name) {
            cx.add_item(NewItem::file(ItemKind::DockerCompose, format!("compose file in {}", escape(parent(path))), path, &m).essential());
            return;
        }
        if m.size < 512 || m.size % 512 != 0 {
            return;
        }
        if self.magic_reads >= SCAN_MAX_MAGIC_READS {
            if !self.cut {
                cx.note(format!("the SQLite scan read the headers of {SCAN_MAX_MAGIC_READS} files and stopped; more databases may exist"));
            }
            self.cut = true;
            return;
        }
        self.magic_reads = self.magic_reads.saturating_add(1);
        cx.work = cx.work.saturating_add(1);
        let mut head = [0u8; 16];
        match cx.fs.read_at(inode, 0, &mut head) {
            Ok(16) if &head == SQLITE_MAGIC => {
                cx.add_item(NewItem::file(ItemKind::Sqlite, format!("SQLite database {}", escape(name)), path, &m).essential());
            }
            Ok(_) => {}
            Err(e) => cx.note(format!("{}: {}", escape(path), e.message())),
        }
    }
}

fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|c| *c == b'/') {
        Some(0) => b"/",
        Some(i) => path.get(..i).unwrap_or(path),
        None => path,
    }
}

/// One item's walk in progress.
struct Walk {
    item: usize,
    stack: Vec<(Vec<u8>, u64)>,
    size: Size,
    entries: u64,
    visited: HashSet<u64>,
    /// Files with more than one link, counted once.
    linked: HashSet<u64>,
    /// Damage or a budget left something uncounted.
    short: bool,
}

/// Recursive sizes of the items, one item after another.
#[derive(Default)]
pub(crate) struct Sizes {
    queue: Vec<usize>,
    current: Option<Walk>,
    total: u64,
}

impl Sizes {
    /// Queues the items that need a size, in item order.
    pub fn plan(&mut self, items: &[Item]) {
        self.queue = items.iter().enumerate().filter(|(_, i)| i.kind.sized() && i.size.is_none()).map(|(n, _)| n).rev().collect();
    }

    pub fn step(&mut self, cx: &mut Ctx, items: &mut [Item], budget: u64) -> bool {
        loop {
            if self.current.is_none() {
                let Some(next) = self.queue.pop() else { return true };
                let Some(item) = items.get(next) else { continue };
                let path = unescape(&item.path);
                let Some(found) = cx.find(&path) else { continue };
                match found.meta.kind {
                    FileKind::File => {
                        if let Some(i) = items.get_mut(next) {
                            i.size = Some(Size { bytes: found.meta.size, files: 1, dirs: 0, complete: true });
                        }
                        continue;
                    }
                    FileKind::Dir => {
                        let mut visited = HashSet::new();
                        visited.insert(found.inode);
                        self.current = Some(Walk {
                            item: next,
                            stack: vec![(path, found.inode)],
                            size: Size { dirs: 1, ..Size::default() },
                            entries: 0,
                            visited,
                            linked: HashSet::new(),
                            short: false,
                        });
                    }
                    _ => continue,
                }
            }
            let Some(walk) = self.current.as_mut() else { continue };
            while let Some((dir, inode)) = walk.stack.pop() {
                let damaged = cx.damaged_listings;
                let listed = cx.list_capped(&dir, inode, WALK_MAX_DIR_ENTRIES);
                if cx.damaged_listings != damaged {
                    walk.short = true;
                }
                for (name, child, kind) in listed {
                    walk.entries = walk.entries.saturating_add(1);
                    self.total = self.total.saturating_add(1);
                    let path = join(&dir, &name);
                    if kind == Some(FileKind::Dir) {
                        if walk.visited.insert(child) {
                            walk.size.dirs = walk.size.dirs.saturating_add(1);
                            walk.stack.push((path, child));
                        }
                        continue;
                    }
                    if kind.is_some() && kind != Some(FileKind::File) {
                        continue;
                    }
                    let Some(m) = cx.stat(&path, child) else {
                        walk.short = true;
                        continue;
                    };
                    match m.kind {
                        FileKind::File => {
                            if m.nlink > 1 && !walk.linked.insert(child) {
                                continue;
                            }
                            walk.size.bytes = walk.size.bytes.saturating_add(m.size);
                            walk.size.files = walk.size.files.saturating_add(1);
                        }
                        FileKind::Dir if walk.visited.insert(child) => {
                            walk.size.dirs = walk.size.dirs.saturating_add(1);
                            walk.stack.push((path, child));
                        }
                        _ => {}
                    }
                }
                if walk.entries > SIZE_MAX_ENTRIES_PER_ITEM || self.total > SIZE_MAX_ENTRIES {
                    walk.short = true;
                    walk.stack.clear();
                    if let Some(i) = items.get(walk.item) {
                        cx.note(format!("{}: size counted over the first {} entries only (an estimate, at least this much)", i.path, walk.entries));
                    }
                    break;
                }
                if cx.work >= budget {
                    break;
                }
            }
            let done = walk.stack.is_empty();
            if let Some(i) = items.get_mut(walk.item) {
                i.size = Some(Size { complete: done && !walk.short, ..walk.size });
            }
            if done {
                self.current = None;
            }
            if cx.work >= budget {
                return self.queue.is_empty() && self.current.is_none();
            }
        }
    }
}
