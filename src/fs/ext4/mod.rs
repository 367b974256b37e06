//! ext2/ext3/ext4, our own reader.
//!
//! Follows the kernel's Documentation/filesystems/ext4/ (overview.rst and
//! the per-structure pages each file here cites). One file per on-disk
//! concept: [`superblock`], [`group`] (group descriptors), [`inode`],
//! [`extent`], [`block_map`], [`dir`], [`inline`], [`xattr`]; [`file_map`]
//! joins the two mapping kinds into runs.
//!
//! Deviations: the journal is not replayed (reported in `info()`); values
//! in ea_inodes and encrypted contents are not read; of the checksums only
//! inodes' are verified, and a mismatch is a problem, not an error. Everything read from disk is distrusted: block numbers are
//! checked against the block count, walks are bounded, and damage fails
//! only the inode or directory block it is in.

mod block_map;
mod bytes;
mod checksum;
mod dir;
mod extent;
mod file_map;
#[doc(hidden)] pub mod fuzzing;
mod group;
mod inline;
mod inode;
mod superblock;
mod xattr;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::error::{alloc_bytes, Error, Result};
use crate::fs::{DirEntry, DirIter, FileKind, FileSystem, FsInfo, Metadata};
use crate::read_at::{read_vec, Reader};

use extent::Extent;
use file_map::Run;
use group::GroupDesc;
use inode::Inode;
use superblock::Superblock;

/// The root directory's inode number.
const EXT4_ROOT_INO: u64 = 2;
/// Longest symlink target we read (PATH_MAX is 4096; leave room).
const MAX_SYMLINK_BYTES: u64 = 64 << 10;
/// Damaged blocks reported for one directory before giving up on the rest.
const MAX_DIR_ERRORS: u32 = 256;
/// Indirect blocks kept in memory before the cache is dropped.
const INDIRECT_CACHE_ENTRIES: usize = 256;

/// How one inode's bytes are found.
enum Mapping {
    Extents(Vec<Extent>),
    BlockMap([u32; 15]),
    /// Bytes held in the inode itself (inline data or a fast symlink).
    Inline(Vec<u8>),
}

/// An inode with its mapping, kept for the last inode read.
struct Loaded {
    inode: Inode,
    map: Mapping,
}

/// An opened ext2/3/4 filesystem.
pub struct Ext4Fs {
    reader: Reader,
    sb: Superblock,
    problems: Vec<String>,
    last: RefCell<Option<(u64, Rc<Loaded>)>>,
    indirect_cache: RefCell<HashMap<u64, Rc<Vec<u32>>>>,
}

impl Ext4Fs {
    /// Opens the filesystem that starts at byte 0 of `reader`.
    pub fn open(reader: Reader) -> Result<Ext4Fs> {
        let bytes = read_vec(&*reader, superblock::SUPERBLOCK_OFFSET, superblock::SUPERBLOCK_BYTES)
            .map_err(|e| e.context("reading the ext4 superblock"))?;
        let sb = Superblock::from_bytes(&bytes)?;
        let mut problems = sb.feature_problems();
        let fs_bytes = sb.blocks_count.saturating_mul(u64::from(sb.block_size));
        if reader.size() < fs_bytes {
            problems.push(format!(
                "the volume is {} bytes but the filesystem claims {fs_bytes}; files past the end will fail",
                reader.size()
            ));
        }
        let fs = Ext4Fs {
            reader,
            sb,
            problems,
            last: RefCell::new(None),
            indirect_cache: RefCell::new(HashMap::new()),
        };
        // A filesystem whose root can't be read is still worth opening:
        // other inodes may be fine. Say so, though.
        let mut fs = fs;
        if let Err(e) = fs.read_inode(EXT4_ROOT_INO) {
            fs.problems.push(format!("the root directory is unreadable: {e}"));
        }
        Ok(fs)
    }

    fn block_size(&self) -> u64 {
        u64::from(self.sb.block_size)
    }

    /// The byte offset of block `n`, after checking it is in the filesystem.
    fn block_offset(&self, n: u64, count: u64) -> Result<u64> {
        let end = n.checked_add(count);
        if end.is_none_or(|e| e > self.sb.blocks_count) {
            return Err(Error::corrupt(format!(
                "block {n} (+{count}) is past the end of the filesystem ({} blocks)",
                self.sb.blocks_count
            )));
        }
        n.checked_mul(self.block_size()).ok_or_else(|| Error::corrupt(format!("block {n} offset overflows")))
    }

    /// Reads one whole block.
    fn read_block(&self, n: u64) -> Result<Vec<u8>> {
        let off = self.block_offset(n, 1)?;
        let len = usize::try_from(self.sb.block_size).map_err(|_| Error::unsupported("block size too large"))?;
        read_vec(&*self.reader, off, len)
    }

    /// Reads and parses inode `ino`.
    fn read_inode(&self, ino: u64) -> Result<Inode> {
        let go = || -> Result<Inode> {
            if ino == 0 || ino > u64::from(self.sb.s_inodes_count) {
                return Err(Error::not_found(format!(
                    "inode number is out of range (1 to {})",
                    self.sb.s_inodes_count
                )));
            }
            let index = ino.saturating_sub(1);
            let ipg = u64::from(self.sb.s_inodes_per_group);
            // s_inodes_per_group is nonzero (checked by the superblock).
            #[allow(clippy::arithmetic_side_effects)]
            let (group, in_group) = (index / ipg, index % ipg);
            let group = u32::try_from(group).map_err(|_| Error::corrupt("group number overflows"))?;
            let desc_at = group::desc_offset(&self.sb, group)?;
            let desc_len = usize::try_from(self.sb.desc_size).map_err(|_| Error::corrupt("descriptor size overflows"))?;
            let desc = GroupDesc::from_bytes(&read_vec(&*self.reader, desc_at, desc_len)?, self.sb.desc_size)
                .map_err(|e| e.at_offset(desc_at))?;
            let isize = u64::from(self.sb.inode_size);
            let table_bytes = ipg.saturating_mul(isize);
            let table_blocks = table_bytes.div_ceil(self.block_size());
            let table = self
                .block_offset(desc.inode_table, table_blocks)
                .map_err(|e| e.context(format!("group {group}'s inode table")))?;
            let at = in_group
                .checked_mul(isize)
                .and_then(|o| o.checked_add(table))
                .ok_or_else(|| Error::corrupt("inode offset overflows"))?;
            let bytes = read_vec(&*self.reader, at, usize::from(self.sb.inode_size))?;
            let mut inode = Inode::from_bytes(&bytes).map_err(|e| e.at_offset(at))?;
            if let Some(seed) = self.sb.csum_seed {
                // Never-used inodes are all zeros, checksum included.
                if !bytes.iter().all(|b| *b == 0) {
                    inode.problems.extend(checksum::inode_checksum_problem(&bytes, ino, seed));
                }
            }
            Ok(inode)
        };
        go().map_err(|e| e.at_inode(ino))
    }

    /// Whether a symlink's target lives in `i_block` (ext4_inode_is_fast_symlink).
    fn is_fast_symlink(&self, inode: &Inode) -> bool {
        if inode.has_flag(inode::EXT4_INLINE_DATA_FL) || inode.kind() != FileKind::Symlink {
            return false;
        }
        if inode.has_flag(inode::EXT4_EA_INODE_FL) {
            return inode.size > 0 && inode.size < 60;
        }
        let ea_sectors = if inode.file_acl != 0 { u64::from(self.sb.cluster_size / 512) } else { 0 };
        inode.size < 60 && inode.blocks.saturating_sub(ea_sectors) == 0
    }

    /// Inode `ino` with its mapping, from the one-entry cache when possible.
    fn loaded(&self, ino: u64) -> Result<Rc<Loaded>> {
        if let Some((n, l)) = self.last.borrow().as_ref() {
            if *n == ino {
                return Ok(l.clone());
            }
        }
        let inode = self.read_inode(ino)?;
        let map = if inode.has_flag(inode::EXT4_INLINE_DATA_FL) {
            Mapping::Inline(inline::file_bytes(&inode).map_err(|e| e.at_inode(ino))?)
        } else if self.is_fast_symlink(&inode) {
            let len = usize::try_from(inode.size).unwrap_or(0);
            Mapping::Inline(inode.i_block.get(..len).unwrap_or(&[]).to_vec())
        } else if inode.has_flag(inode::EXT4_EXTENTS_FL) {
            let read = |n: u64| self.read_block(n);
            Mapping::Extents(
                extent::collect_extents(&inode.i_block, &read).map_err(|e| e.at_inode(ino).context("reading the extent tree"))?,
            )
        } else {
            Mapping::BlockMap(block_map::root_pointers(&inode.i_block))
        };
        let l = Rc::new(Loaded { inode, map });
        *self.last.borrow_mut() = Some((ino, l.clone()));
        Ok(l)
    }

    /// The pointers of indirect block `n`, cached.
    fn indirect(&self, n: u64) -> Result<Rc<Vec<u32>>> {
        if let Some(v) = self.indirect_cache.borrow().get(&n) {
            return Ok(v.clone());
        }
        let v = Rc::new(block_map::parse_indirect(&self.read_block(n).map_err(|e| e.context("reading an indirect block"))?));
        let mut cache = self.indirect_cache.borrow_mut();
        if cache.len() >= INDIRECT_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(n, v.clone());
        Ok(v)
    }

    /// The run around file block `logical` of a block-mapped or extent file.
    fn run_at(&self, l: &Loaded, logical: u64) -> Result<Run> {
        match &l.map {
            Mapping::Extents(ex) => Ok(file_map::extent_run(ex, logical)),
            Mapping::BlockMap(ptrs) => {
                let read = |n: u64| self.indirect(n);
                block_map::lookup(ptrs, self.block_size() / 4, logical, &read)
            }
            // Inline data is read directly, never through runs.
            Mapping::Inline(_) => Ok(Run { logical, len: u64::MAX.saturating_sub(logical), physical: None }),
        }
    }

    fn read_loaded(&self, l: &Loaded, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let size = l.inode.size;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(size.saturating_sub(offset)).unwrap_or(usize::MAX).min(buf.len());
        let buf = buf.get_mut(..want).unwrap_or(&mut []);
        if let Mapping::Inline(bytes) = &l.map {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let src = bytes.get(start..).unwrap_or(&[]);
            if src.len() < want {
                return Err(Error::corrupt(format!(
                    "inline data holds {} bytes but the file size is {size}",
                    bytes.len()
                ))
                .at_offset(offset));
            }
            buf.copy_from_slice(src.get(..want).unwrap_or(&[]));
            return Ok(want);
        }
        let bs = self.block_size();
        let mut done = 0usize;
        while done < want {
            let pos = offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX));
            // The block size is at least 1024.
            #[allow(clippy::arithmetic_side_effects)]
            let (logical, within) = (pos / bs, pos % bs);
            let run = self.run_at(l, logical).map_err(|e| e.at_offset(pos))?;
            let avail = run.len.saturating_mul(bs).saturating_sub(within).max(1);
            let n = usize::try_from(avail).unwrap_or(usize::MAX).min(want.saturating_sub(done));
            let end = done.saturating_add(n);
            let piece = buf.get_mut(done..end).unwrap_or(&mut []);
            match run.physical {
                None => piece.fill(0),
                Some(p) => {
                    let blocks = within.saturating_add(u64::try_from(n).unwrap_or(u64::MAX)).div_ceil(bs);
                    let at = self
                        .block_offset(p, blocks)
                        .and_then(|b| b.checked_add(within).ok_or_else(|| Error::corrupt("offset overflows")))
                        .map_err(|e| e.context(format!("file byte {pos:#x}")))?;
                    self.reader.read_exact_at(at, piece)?;
                }
            }
            done = end;
        }
        Ok(want)
    }
}

/// Streams a directory's entries block by block.
struct DirBlocks<'a> {
    fs: &'a Ext4Fs,
    ino: u64,
    loaded: Rc<Loaded>,
    filetype: bool,
    next_block: u64,
    block_count: u64,
    pending: VecDeque<Result<DirEntry>>,
    errors: u32,
    /// Blocks read so far: more than the image holds means blocks mapped twice.
    blocks_read: u64,
}

impl DirBlocks<'_> {
    /// Queues the entries of the next block (or one error for it).
    fn fill(&mut self) {
        let bs = self.fs.block_size();
        let block = self.next_block;
        let run = match self.fs.run_at(&self.loaded, block) {
            Ok(r) => r,
            Err(e) => {
                self.next_block = self.next_block.saturating_add(1);
                self.pending.push_back(Err(e.at_inode(self.ino).at_offset(block.saturating_mul(bs))));
                return;
            }
        };
        if run.physical.is_none() {
            let end = run.logical.saturating_add(run.len).min(self.block_count);
            self.pending.push_back(Err(Error::corrupt(format!(
                "directory blocks {block} to {} are a hole",
                end.saturating_sub(1)
            ))
            .at_inode(self.ino)
            .at_offset(block.saturating_mul(bs))));
            self.next_block = end.max(block.saturating_add(1));
            return;
        }
        self.next_block = block.saturating_add(1);
        self.blocks_read = self.blocks_read.saturating_add(1);
        if self.blocks_read > self.fs.reader.size().checked_div(bs).unwrap_or(u64::MAX) {
            self.next_block = self.block_count;
            self.pending.push_back(Err(Error::corrupt(format!(
                "directory maps more blocks than the image holds; stopped at block {block}"
            ))
            .at_inode(self.ino)));
            return;
        }
        let base = block.saturating_mul(bs);
        let mut buf = match alloc_bytes(bs, 1 << 16, "directory block") {
            Ok(b) => b,
            Err(e) => {
                self.pending.push_back(Err(e.at_inode(self.ino)));
                return;
            }
        };
        // A block past the directory's size is read whole anyway: sizes are in blocks.
        let size_end = self.loaded.inode.size;
        let read = if base.saturating_add(bs) > size_end {
            self.fs.read_block(run.physical.unwrap_or(0)).map(|b| {
                buf = b;
            })
        } else {
            self.fs.read_loaded(&self.loaded, base, &mut buf).map(|_| ())
        };
        match read {
            Err(e) => self.pending.push_back(Err(e.at_inode(self.ino).at_offset(base))),
            Ok(()) => {
                for item in dir::parse_block(&buf, self.filetype, base) {
                    self.pending.push_back(item.map_err(|e| e.at_inode(self.ino)));
                }
            }
        }
    }
}

impl Iterator for DirBlocks<'_> {
    type Item = Result<DirEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.is_err() {
                    self.errors = self.errors.saturating_add(1);
                    if self.errors == MAX_DIR_ERRORS && self.next_block < self.block_count {
                        // A directory this damaged is mostly garbage: stop reading it.
                        let skipped = self.block_count.saturating_sub(self.next_block);
                        self.next_block = self.block_count;
                        self.pending.push_back(Err(Error::corrupt(format!(
                            "gave up on the directory after {MAX_DIR_ERRORS} damaged blocks; {skipped} blocks not read"
                        ))
                        .at_inode(self.ino)));
                    }
                }
                return Some(item);
            }
            if self.next_block >= self.block_count {
                return None;
            }
            self.fill();
        }
    }
}

impl FileSystem for Ext4Fs {
    fn info(&self) -> FsInfo {
        let sb = &self.sb;
        let mut details = vec![
            ("inodes".to_string(), sb.s_inodes_count.to_string()),
            ("blocks".to_string(), sb.blocks_count.to_string()),
            ("free blocks".to_string(), sb.free_blocks_count.to_string()),
            ("block groups".to_string(), sb.group_count.to_string()),
            ("features".to_string(), sb.feature_names().join(" ")),
            ("state".to_string(), if sb.s_state & 0x1 != 0 { "clean" } else { "not clean" }.to_string()),
        ];
        if sb.cluster_size != sb.block_size {
            details.push(("cluster size".to_string(), sb.cluster_size.to_string()));
        }
        if sb.s_mtime != 0 {
            details.push(("last mount time".to_string(), format!("{} (seconds since 1970)", sb.s_mtime)));
        }
        if let Some(p) = superblock::c_string(&sb.s_last_mounted) {
            details.push(("last mounted on".to_string(), p));
        }
        if sb.has_compat(superblock::COMPAT_HAS_JOURNAL) {
            details.push(("journal".to_string(), "present (not replayed)".to_string()));
        }
        FsInfo {
            format: sb.format_name().to_string(),
            label: superblock::c_string(&sb.s_volume_name),
            uuid: sb.uuid_string(),
            block_size: Some(sb.block_size),
            details,
            problems: self.problems.clone(),
        }
    }

    fn root(&self) -> u64 {
        EXT4_ROOT_INO
    }

    fn stat(&self, ino: u64) -> Result<Metadata> {
        let inode = self.read_inode(ino)?;
        let mut problems = inode.problems.clone();
        if inode.is_unused() {
            problems.push(format!("inode {ino} is not in use (deleted or never allocated)"));
        }
        if inode.has_flag(inode::EXT4_ENCRYPT_FL) {
            problems.push("contents are encrypted (ext4 encryption) and cannot be read".to_string());
        }
        Ok(Metadata {
            inode: ino,
            kind: inode.kind(),
            mode: u32::from(inode.i_mode) & 0o7777,
            uid: inode.uid,
            gid: inode.gid,
            size: inode.size,
            nlink: u32::from(inode.i_links_count),
            atime: inode.atime,
            mtime: inode.mtime,
            ctime: inode.ctime,
            crtime: inode.crtime,
            problems,
        })
    }

    fn read_dir(&self, ino: u64) -> Result<DirIter<'_>> {
        let loaded = self.loaded(ino)?;
        if loaded.inode.kind() != FileKind::Dir {
            return Err(Error::invalid("not a directory").at_inode(ino));
        }
        let filetype = self.sb.has_incompat(superblock::INCOMPAT_FILETYPE);
        if loaded.inode.has_flag(inode::EXT4_INLINE_DATA_FL) {
            let items = inline::dir_entries(&loaded.inode, filetype).map_err(|e| e.at_inode(ino))?;
            let items: Vec<_> = items.into_iter().map(|r| r.map_err(|e| e.at_inode(ino))).collect();
            return Ok(Box::new(items.into_iter()));
        }
        let bs = self.block_size();
        let block_count = loaded.inode.size.div_ceil(bs).min(self.sb.blocks_count);
        Ok(Box::new(DirBlocks {
            fs: self,
            ino,
            loaded,
            filetype,
            next_block: 0,
            block_count,
            pending: VecDeque::new(),
            errors: 0,
            blocks_read: 0,
        }))
    }

    fn read_at(&self, ino: u64, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let l = self.loaded(ino)?;
        if l.inode.has_flag(inode::EXT4_ENCRYPT_FL) && l.inode.kind() == FileKind::File {
            return Err(Error::unsupported("contents are encrypted (ext4 encryption) and cannot be read").at_inode(ino));
        }
        self.read_loaded(&l, offset, buf).map_err(|e| e.at_inode(ino))
    }

    fn read_link(&self, ino: u64) -> Result<Vec<u8>> {
        let l = self.loaded(ino)?;
        if l.inode.kind() != FileKind::Symlink {
            return Err(Error::invalid("not a symbolic link").at_inode(ino));
        }
        let mut buf = alloc_bytes(l.inode.size, MAX_SYMLINK_BYTES, "symlink target").map_err(|e| e.at_inode(ino))?;
        let n = self.read_loaded(&l, 0, &mut buf).map_err(|e| e.at_inode(ino))?;
        buf.truncate(n);
        Ok(buf)
    }
}
