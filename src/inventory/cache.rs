//! A bounded memo of metadata and small directory listings over the
//! volume's [`FileSystem`], for the inventory only: it resolves hundreds of
//! paths that share their first components (`/etc/…`, `/var/lib/…`) and
//! walks folders that nest (`/var/www` and `/var/www/shop/public`), and
//! the ext4 reader keeps no data cache of its own. Listings longer than
//! [`MAX_DIR_ENTRIES`] or with damage are never kept; both memos are
//! emptied when full, so memory stays bounded.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::MAX_DIR_ENTRIES;
use crate::error::Result;
use crate::fs::{DirEntry, DirIter, FileSystem, FsInfo, Metadata, Xattr};

/// Metadata records kept.
const MAX_STATS: usize = 50_000;
/// Names kept over all listings.
const MAX_NAMES: usize = 100_000;

pub(crate) struct CachedFs {
    inner: Rc<dyn FileSystem>,
    stats: RefCell<HashMap<u64, Metadata>>,
    dirs: RefCell<HashMap<u64, Rc<[DirEntry]>>>,
    names: Cell<usize>,
}

impl CachedFs {
    pub fn new(inner: Rc<dyn FileSystem>) -> CachedFs {
        CachedFs { inner, stats: RefCell::new(HashMap::new()), dirs: RefCell::new(HashMap::new()), names: Cell::new(0) }
    }
}

impl FileSystem for CachedFs {
    fn info(&self) -> FsInfo {
        self.inner.info()
    }

    fn root(&self) -> u64 {
        self.inner.root()
    }

    fn stat(&self, inode: u64) -> Result<Metadata> {
        if let Some(m) = self.stats.borrow().get(&inode) {
            return Ok(m.clone());
        }
        let m = self.inner.stat(inode)?;
        let mut stats = self.stats.borrow_mut();
        if stats.len() >= MAX_STATS {
            stats.clear();
        }
        stats.insert(inode, m.clone());
        Ok(m)
    }

    fn read_dir(&self, inode: u64) -> Result<DirIter<'_>> {
        if let Some(list) = self.dirs.borrow().get(&inode).cloned() {
            let len = list.len();
            return Ok(Box::new((0..len).filter_map(move |i| list.get(i).cloned().map(Ok))));
        }
        let mut iter = self.inner.read_dir(inode)?;
        // Read up to one more than a listing we keep; the rest streams on.
        let mut head: Vec<Result<DirEntry>> = Vec::new();
        for item in iter.by_ref() {
            head.push(item);
            if head.len() > MAX_DIR_ENTRIES {
                break;
            }
        }
        if head.len() <= MAX_DIR_ENTRIES && head.iter().all(|e| e.is_ok()) {
            // Sorted by name, so lookups are a binary search.
            let mut sorted: Vec<DirEntry> = head.iter().filter_map(|e| e.as_ref().ok().cloned()).collect();
            sorted.sort_by(|a, b| a.name.cmp(&b.name));
            let list: Rc<[DirEntry]> = sorted.into();
            let mut dirs = self.dirs.borrow_mut();
            if self.names.get().saturating_add(list.len()) > MAX_NAMES {
                dirs.clear();
                self.names.set(0);
            }
            self.names.set(self.names.get().saturating_add(list.len()));
            dirs.insert(inode, list);
        }
        Ok(Box::new(head.into_iter().chain(iter)))
    }

    fn lookup(&self, dir: u64, name: &[u8]) -> Result<Option<u64>> {
        if !self.dirs.borrow().contains_key(&dir) {
            // Lists (and keeps, when small) the folder; the search below uses it.
            let mut found = None;
            for e in self.read_dir(dir)?.flatten() {
                if e.name == name {
                    found = Some(e.inode);
                    break;
                }
            }
            if !self.dirs.borrow().contains_key(&dir) {
                return Ok(found);
            }
        }
        let dirs = self.dirs.borrow();
        let Some(list) = dirs.get(&dir) else { return Ok(None) };
        Ok(list.binary_search_by(|e| e.name.as_slice().cmp(name)).ok().and_then(|i| list.get(i)).map(|e| e.inode))
    }

    fn read_at(&self, inode: u64, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.inner.read_at(inode, offset, buf)
    }

    fn read_link(&self, inode: u64) -> Result<Vec<u8>> {
        self.inner.read_link(inode)
    }

    fn xattrs(&self, inode: u64) -> Result<Vec<Xattr>> {
        self.inner.xattrs(inode)
    }
}
