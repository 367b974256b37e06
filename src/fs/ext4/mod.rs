//! ext2/ext3/ext4, our own reader.
//!
//! Follows the kernel's Documentation/filesystems/ext4/ (overview.rst and
//! the per-structure pages each file here cites). One file per on-disk
//! concept: [`superblock`], [`group`] (group descriptors), [`inode`],
//! [`extent`], [`block_map`], [`dir`], [`inline`], [`xattr`]; [`file_map`]
//! joins the two mapping kinds into runs.
//!
//! Deviations: the journal ([`jbd2`], [`journal`]) is replayed in memory
//! when the filesystem needs recovery, never written back: the filesystem
//! is reopened on an [`overlay`] that serves replayed blocks from the
//! journal, and a damaged journal ends the replay early or is skipped with
//! a problem, never making the filesystem unopenable (`info()` says what
//! happened; [`Ext4Options`] turns replay off). Fast-commit blocks and
//! external journal devices are not replayed. Encrypted contents are not
//! read. Every checksum metadata_csum (or
//! gdt_csum) defines for the structures read here is verified: superblock,
//! group descriptors (at open for the first 16384 groups, and each time an
//! inode's group is used), inodes, directory leaf blocks, htree root and
//! node blocks, extent tree blocks and the external xattr block. A mismatch
//! is a problem sentence (with inode and block), never an error: the data
//! is still returned. In a directory, a bad block checksum is one `Err`
//! item of `read_dir` ending in [`crate::fs::LISTED_ANYWAY`], followed by
//! the block's entries; a block that also fails to parse gets only its
//! parse error. Htree blocks are recognised and never read as leaves, but
//! names are still read linearly from the leaves (the hash index is not
//! used). When the primary superblock is unreadable or invalid, the first
//! valid backup is used (groups 1, 3, 5, 7, 9, 25 … and the last group,
//! assuming mke2fs's default blocks per group (8 × block size, at most
//! 65528), for 1, 2, 4 and 64 KiB
//! blocks, plus s_backup_bgs if the damaged primary still has them) with
//! the group descriptors of that group; a backup whose own checksum fails
//! is skipped, and so is one with another UUID when the primary still
//! parses. Not found: backups of filesystems made with a non-default
//! blocks-per-group (`mke2fs -g`, bigalloc); with meta_bg, descriptor
//! blocks past s_first_meta_bg are still read from their primary place.
//! Extended attribute values stored in an ea_inode are read through that
//! inode (which must carry EA_INODE_FL), up to 64 KiB (XATTR_SIZE_MAX);
//! POSIX ACLs are returned in ext4's on-disk encoding, not the `getfattr`
//! one.
//! Everything read from disk is distrusted: block numbers are checked
//! against the block count, walks are bounded, and damage fails only the
//! inode or directory block it is in.

mod block_map;
mod checksum;
mod dir;
mod extent;
mod file_map;
#[doc(hidden)] pub mod fuzzing;
mod group;
mod inline;
mod inode;
mod jbd2;
mod journal;
mod overlay;
mod superblock;
mod xattr;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::error::{alloc_bytes, Error, Result};
use crate::fs::{DirEntry, DirIter, FileKind, FileSystem, FsInfo, Metadata, Xattr, LISTED_ANYWAY};
use crate::read_at::{read_vec, Reader};

use extent::Extent;
use file_map::Run;
use group::GroupDesc;
use inode::Inode;
use superblock::{SbJournal, Superblock};

/// The root directory's inode number.
const EXT4_ROOT_INO: u64 = 2;
/// Longest symlink target we read (PATH_MAX is 4096; leave room).
const MAX_SYMLINK_BYTES: u64 = 64 << 10;
/// Damaged blocks reported for one directory before giving up on the rest.
const MAX_DIR_ERRORS: u32 = 256;
/// Checksum warnings reported one by one for a directory; further ones are
/// counted and summed up in one item at the end.
const MAX_DIR_WARNINGS: u32 = 64;
/// Indirect blocks kept in memory before the cache is dropped.
const INDIRECT_CACHE_ENTRIES: usize = 256;
/// Group descriptors checksummed when opening; later ones are checked
/// when an inode in their group is read.
const MAX_GROUPS_CHECKED_AT_OPEN: u32 = 16384;
/// Descriptor checksum mismatches listed one by one at open.
const MAX_GDT_PROBLEMS: usize = 16;

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
    /// Damage found in the mapping (extent block checksums) that did not stop reading.
    problems: Vec<String>,
}

/// How to open an ext2/3/4 filesystem.
#[derive(Clone, Debug)]
pub struct Ext4Options {
    /// Replay the journal in memory when the filesystem needs recovery
    /// (the default). Off shows the state before the crash.
    pub replay_journal: bool,
}

impl Default for Ext4Options {
    fn default() -> Self {
        Ext4Options { replay_journal: true }
    }
}

/// An opened ext2/3/4 filesystem.
pub struct Ext4Fs {
    reader: Reader,
    sb: Superblock,
    sb_journal: SbJournal,
    /// What happened to the journal, for `info()`.
    journal_line: Option<String>,
    /// Where the superblock in use was read, for `info()`.
    sb_source: String,
    problems: Vec<String>,
    last: RefCell<Option<(u64, Rc<Loaded>)>>,
    indirect_cache: RefCell<HashMap<u64, Rc<Vec<u32>>>>,
}

impl Ext4Fs {
    /// Opens the filesystem that starts at byte 0 of `reader`, replaying
    /// its journal in memory if it needs recovery.
    pub fn open(reader: Reader) -> Result<Ext4Fs> {
        Self::open_with(reader, &Ext4Options::default())
    }

    /// Opens the filesystem that starts at byte 0 of `reader`.
    pub fn open_with(reader: Reader, options: &Ext4Options) -> Result<Ext4Fs> {
        let plain = Self::open_unreplayed(reader.clone())?;
        let outcome = journal::recover(&plain, &plain.sb_journal, options.replay_journal);
        let mut fs = match outcome.replay {
            Some(blocks) => {
                let overlay: Reader = Rc::new(overlay::JournalOverlay::new(reader, plain.block_size(), blocks));
                match Self::open_unreplayed(overlay) {
                    Ok(mut replayed) => {
                        replayed.journal_line = outcome.line;
                        replayed
                    }
                    Err(e) => {
                        let mut plain = plain;
                        plain.journal_line = Some("needs recovery, not replayed (the replayed superblock is unreadable)".into());
                        plain.problems.push(format!(
                            "after journal replay the superblock is unreadable ({e}); showing the filesystem without replay"
                        ));
                        plain
                    }
                }
            }
            None => {
                let mut plain = plain;
                plain.journal_line = outcome.line;
                plain
            }
        };
        fs.problems.extend(outcome.problems);
        // A filesystem whose root can't be read is still worth opening:
        // other inodes may be fine. Say so, though.
        if let Err(e) = fs.read_inode(EXT4_ROOT_INO) {
            fs.problems.push(format!("the root directory is unreadable: {e}"));
        }
        Ok(fs)
    }

    /// Opens the filesystem as the bytes of `reader` are, journal aside.
    fn open_unreplayed(reader: Reader) -> Result<Ext4Fs> {
        let (sb, sb_journal, sb_source, mut problems) = find_superblock(&reader)?;
        problems.extend(sb.feature_problems());
        let fs_bytes = sb.blocks_count.saturating_mul(u64::from(sb.block_size));
        if reader.size() < fs_bytes {
            problems.push(format!(
                "the volume is {} bytes but the filesystem claims {fs_bytes}; files past the end will fail",
                reader.size()
            ));
        }
        let mut fs = Ext4Fs {
            reader,
            sb,
            sb_journal,
            journal_line: None,
            sb_source,
            problems,
            last: RefCell::new(None),
            indirect_cache: RefCell::new(HashMap::new()),
        };
        let gdt_problems = fs.check_group_descriptors();
        fs.problems.extend(gdt_problems);
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
            let desc_bytes = read_vec(&*self.reader, desc_at, desc_len)?;
            let desc = GroupDesc::from_bytes(&desc_bytes, self.sb.desc_size).map_err(|e| e.at_offset(desc_at))?;
            let desc_problem = checksum::group_desc_problem(self.sb.gdt_csum(), group, &desc_bytes);
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
            inode.problems.extend(desc_problem);
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
        let mut problems = Vec::new();
        let map = if inode.has_flag(inode::EXT4_INLINE_DATA_FL) {
            Mapping::Inline(inline::file_bytes(&inode).map_err(|e| e.at_inode(ino))?)
        } else if self.is_fast_symlink(&inode) {
            let len = usize::try_from(inode.size).unwrap_or(0);
            Mapping::Inline(inode.i_block.get(..len).unwrap_or(&[]).to_vec())
        } else if inode.has_flag(inode::EXT4_EXTENTS_FL) {
            let read = |n: u64| self.read_block(n);
            let seed = self.sb.csum_seed.and_then(|s| checksum::inode_seed(s, ino, inode.generation));
            Mapping::Extents(
                extent::collect_extents_checked(&inode.i_block, &read, seed, &mut problems)
                    .map_err(|e| e.at_inode(ino).context("reading the extent tree"))?,
            )
        } else {
            Mapping::BlockMap(block_map::root_pointers(&inode.i_block))
        };
        let l = Rc::new(Loaded { inode, map, problems });
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
    fn run_at(&self, map: &Mapping, logical: u64) -> Result<Run> {
        match map {
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
            let run = self.run_at(&l.map, logical).map_err(|e| e.at_offset(pos))?;
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

impl Ext4Fs {
    /// Checksums of the group descriptors (the first
    /// MAX_GROUPS_CHECKED_AT_OPEN groups), as problem sentences.
    fn check_group_descriptors(&self) -> Vec<String> {
        let kind = self.sb.gdt_csum();
        if kind == checksum::GdtCsum::None {
            return Vec::new();
        }
        let desc_len = usize::try_from(self.sb.desc_size).unwrap_or(usize::MAX);
        let per_block = u32::try_from(self.block_size().checked_div(u64::from(self.sb.desc_size)).unwrap_or(1)).unwrap_or(1).max(1);
        let last = self.sb.group_count.min(MAX_GROUPS_CHECKED_AT_OPEN);
        let mut bad = Vec::new();
        let mut g = 0u32;
        while g < last {
            let n = per_block.min(last.saturating_sub(g));
            let read = group::desc_offset(&self.sb, g).and_then(|at| {
                let len = usize::try_from(n).unwrap_or(0).saturating_mul(desc_len);
                read_vec(&*self.reader, at, len).map(|b| (at, b))
            });
            match read {
                Err(e) => bad.push(format!("can't read the group descriptors from group {g}: {e}")),
                Ok((at, bytes)) => {
                    for (i, d) in bytes.chunks(desc_len.max(1)).enumerate() {
                        let group = g.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
                        if let Some(p) = checksum::group_desc_problem(kind, group, d) {
                            let byte = at.saturating_add(u64::try_from(i.saturating_mul(desc_len)).unwrap_or(u64::MAX));
                            bad.push(format!("byte {byte:#x}: {p}"));
                        }
                    }
                }
            }
            g = g.saturating_add(n);
        }
        if bad.len() > MAX_GDT_PROBLEMS {
            let more = bad.len().saturating_sub(MAX_GDT_PROBLEMS);
            bad.truncate(MAX_GDT_PROBLEMS);
            bad.push(format!("{more} more problems with group descriptors"));
        }
        bad
    }

    /// The external xattr block's checksum problem, if any (metadata_csum).
    fn xattr_block_problem(&self, inode: &Inode) -> Option<String> {
        let seed = self.sb.csum_seed?;
        if inode.file_acl == 0 {
            return None;
        }
        match self.read_block(inode.file_acl) {
            Err(e) => Some(format!("can't read the extended attribute block {}: {e}", inode.file_acl)),
            Ok(b) => checksum::xattr_block_problem(&b, inode.file_acl, seed)
                .map(|p| format!("block {}: {p}; its attributes are read anyway", inode.file_acl)),
        }
    }

    /// A value kept in ea_inode `n`, up to xattr::MAX_VALUE_BYTES.
    fn ea_inode_value(&self, n: u32, size: u32) -> Result<Vec<u8>> {
        let l = self.loaded(u64::from(n))?;
        if !l.inode.has_flag(inode::EXT4_EA_INODE_FL) {
            return Err(Error::corrupt(format!("inode {n} is not marked as holding an attribute value (ea_inode)")));
        }
        let mut buf = alloc_bytes(u64::from(size), xattr::MAX_VALUE_BYTES, "extended attribute value")?;
        let got = self.read_loaded(&l, 0, &mut buf)?;
        if got < buf.len() {
            return Err(Error::corrupt(format!("the value holds {got} of {size} bytes")));
        }
        Ok(buf)
    }
}

/// Recognises an ext2/3/4 volume whose primary superblock is gone, by a
/// valid backup; for volumes signature detection found nothing on.
pub fn detect_from_backup(reader: &Reader) -> Option<crate::fs::detect::Detected> {
    use crate::fs::detect::{Detected, FsKind};
    let (sb, _, source, _) = find_superblock(reader).ok()?;
    if sb.found_in_group == 0 {
        return None;
    }
    let kind = match sb.format_name() {
        "ext4" => FsKind::Ext4,
        "ext3" => FsKind::Ext3,
        _ => FsKind::Ext2,
    };
    Some(Detected {
        kind,
        label: superblock::c_string(&sb.s_volume_name),
        uuid: sb.uuid_string(),
        detail: Some(format!("primary superblock unusable; {source}")),
    })
}

/// The primary superblock, or when it is unreadable or invalid the first
/// valid backup: (superblock, where it was found, problems).
fn find_superblock(reader: &Reader) -> Result<(Superblock, SbJournal, String, Vec<String>)> {
    let primary = read_vec(&**reader, superblock::SUPERBLOCK_OFFSET, superblock::SUPERBLOCK_BYTES)
        .map_err(|e| e.context("reading the ext4 superblock"));
    let hint = match &primary {
        Ok(b) => [crate::bytes::le32(b, 0x24C), crate::bytes::le32(b, 0x250)],
        Err(_) => [0, 0],
    };
    let primary_at = format!("primary at byte {}", superblock::SUPERBLOCK_OFFSET);
    // A primary whose checksum fails is kept only when no backup is valid
    // (as e2fsck does); a backup must then carry the same UUID.
    let (primary_error, damaged_primary) = match primary.and_then(|b| Ok((Superblock::from_bytes(&b)?, SbJournal::from_bytes(&b)))) {
        Ok((sb, sbj)) => match sb.checksum_problem.clone() {
            None => return Ok((sb, sbj, primary_at, Vec::new())),
            Some(p) => (Error::corrupt(p).at_offset(superblock::SUPERBLOCK_OFFSET), Some((sb, sbj))),
        },
        Err(e) => (e, None),
    };
    for (bs, g, at) in superblock::backup_locations(reader.size(), hint) {
        let Ok(bytes) = read_vec(&**reader, at, superblock::SUPERBLOCK_BYTES) else { continue };
        let Ok(mut sb) = Superblock::from_bytes(&bytes) else { continue };
        // The copy must say it is this group's, with the geometry we assumed.
        let group_start = g
            .checked_mul(u64::from(sb.s_blocks_per_group))
            .and_then(|b| b.checked_add(u64::from(sb.s_first_data_block)))
            .and_then(|b| b.checked_mul(u64::from(bs)));
        let nr_ok = u64::from(sb.s_block_group_nr) == g & 0xFFFF || sb.s_block_group_nr == 0;
        if sb.block_size != bs || group_start != Some(at) || !nr_ok || sb.checksum_problem.is_some() || g >= u64::from(sb.group_count) {
            continue;
        }
        if damaged_primary.as_ref().is_some_and(|(p, _)| p.s_uuid != sb.s_uuid) {
            continue;
        }
        sb.found_in_group = g;
        let problem = format!(
            "the primary superblock is unusable ({primary_error}); using the backup in group {g} at byte {at}, whose counts and times may be out of date"
        );
        return Ok((sb, SbJournal::from_bytes(&bytes), format!("backup in group {g} at byte {at}"), vec![problem]));
    }
    if let Some((sb, sbj)) = damaged_primary {
        let problem = format!("the primary superblock is damaged ({primary_error}) and no valid backup was found; it is used anyway");
        return Ok((sb, sbj, primary_at, vec![problem]));
    }
    Err(primary_error.context("no valid backup superblock was found either"))
}

/// Streams a directory's entries block by block.
struct DirBlocks<'a> {
    fs: &'a Ext4Fs,
    ino: u64,
    loaded: Rc<Loaded>,
    filetype: bool,
    next_block: u64,
    block_count: u64,
    /// Items to yield; `true` marks a warning (a checksum mismatch whose
    /// entries follow), which does not count toward MAX_DIR_ERRORS.
    pending: VecDeque<(Result<DirEntry>, bool)>,
    errors: u32,
    warnings: u32,
    /// Warnings past MAX_DIR_WARNINGS, not yielded one by one.
    hidden_warnings: u64,
    /// The directory inode's checksum seed (metadata_csum).
    csum_seed: Option<u32>,
    indexed: bool,
    /// Blocks read so far: more than the image holds means blocks mapped twice.
    blocks_read: u64,
}

impl DirBlocks<'_> {
    /// Queues the entries of the next block (or one error for it).
    fn fill(&mut self) {
        let bs = self.fs.block_size();
        let block = self.next_block;
        let run = match self.fs.run_at(&self.loaded.map, block) {
            Ok(r) => r,
            Err(e) => {
                self.next_block = self.next_block.saturating_add(1);
                self.pending.push_back(err(e.at_inode(self.ino).at_offset(block.saturating_mul(bs))));
                return;
            }
        };
        if run.physical.is_none() {
            let end = run.logical.saturating_add(run.len).min(self.block_count);
            self.pending.push_back(err(Error::corrupt(format!(
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
            self.pending.push_back(err(Error::corrupt(format!(
                "directory maps more blocks than the image holds; stopped at block {block}"
            ))
            .at_inode(self.ino)));
            return;
        }
        let base = block.saturating_mul(bs);
        let mut buf = match alloc_bytes(bs, 1 << 16, "directory block") {
            Ok(b) => b,
            Err(e) => {
                self.pending.push_back(err(e.at_inode(self.ino)));
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
            Err(e) => self.pending.push_back(err(e.at_inode(self.ino).at_offset(base))),
            Ok(()) => {
                let physical = run.physical.unwrap_or(0);
                let kind = dir::classify(&buf, block, self.indexed);
                let problem = match (kind, self.csum_seed) {
                    (_, None) => None,
                    (dir::DirBlockKind::Leaf, Some(seed)) => checksum::dir_leaf_problem(&buf, seed),
                    (dir::DirBlockKind::Dx { count_offset }, Some(seed)) => checksum::dx_problem(&buf, count_offset, seed),
                };
                if let dir::DirBlockKind::Dx { .. } = kind {
                    // Index blocks hold no names; their problem only says the index is damaged.
                    if let Some(p) = problem {
                        let e = Error::corrupt(format!("directory block {block} (disk block {physical}) is an htree index (names come from leaf blocks): {p}; {LISTED_ANYWAY}"));
                        self.pending.push_back((Err(e.at_inode(self.ino).at_offset(base)), true));
                    }
                    return;
                }
                let items = dir::parse_block(&buf, self.filetype, base);
                // A block that is also structurally broken gets that one error
                // (one problem per block); the checksum adds nothing to it.
                if let Some(p) = problem.filter(|_| items.iter().all(|i| i.is_ok())) {
                    let e = Error::corrupt(format!("directory block {block} (disk block {physical}): {p}; {LISTED_ANYWAY}"));
                    self.pending.push_back((Err(e.at_inode(self.ino).at_offset(base)), true));
                }
                for item in items {
                    self.pending.push_back((item.map_err(|e| e.at_inode(self.ino)), false));
                }
            }
        }
    }
}

/// A damage item for `DirBlocks::pending`.
fn err(e: Error) -> (Result<DirEntry>, bool) {
    (Err(e), false)
}

impl Iterator for DirBlocks<'_> {
    type Item = Result<DirEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((item, warning)) = self.pending.pop_front() {
                if warning {
                    self.warnings = self.warnings.saturating_add(1);
                    if self.warnings > MAX_DIR_WARNINGS {
                        self.hidden_warnings = self.hidden_warnings.saturating_add(1);
                        continue;
                    }
                }
                if item.is_err() && !warning {
                    self.errors = self.errors.saturating_add(1);
                    if self.errors == MAX_DIR_ERRORS && self.next_block < self.block_count {
                        // A directory this damaged is mostly garbage: stop reading it.
                        let skipped = self.block_count.saturating_sub(self.next_block);
                        self.next_block = self.block_count;
                        self.pending.push_back(err(Error::corrupt(format!(
                            "gave up on the directory after {MAX_DIR_ERRORS} damaged blocks; {skipped} blocks not read"
                        ))
                        .at_inode(self.ino)));
                    }
                }
                return Some(item);
            }
            if self.next_block >= self.block_count {
                if self.hidden_warnings == 0 {
                    return None;
                }
                let n = std::mem::take(&mut self.hidden_warnings);
                return Some(Err(Error::corrupt(format!(
                    "{n} more directory blocks have bad checksums; {LISTED_ANYWAY}"
                ))
                .at_inode(self.ino)));
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
            ("free inodes".to_string(), sb.s_free_inodes_count.to_string()),
            ("blocks".to_string(), sb.blocks_count.to_string()),
            ("free blocks".to_string(), sb.free_blocks_count.to_string()),
            ("block groups".to_string(), sb.group_count.to_string()),
            ("features".to_string(), sb.feature_names().join(" ")),
            ("state".to_string(), sb.state_words()),
            ("errors behaviour".to_string(), sb.errors_words()),
            ("superblock".to_string(), self.sb_source.clone()),
        ];
        if sb.cluster_size != sb.block_size {
            details.push(("cluster size".to_string(), sb.cluster_size.to_string()));
        }
        let when = |secs: i64| crate::fs::Timestamp { secs, nanos: 0 }.iso8601();
        for (name, secs) in
            [("created", sb.s_mkfs_time), ("last mount time", sb.s_mtime), ("last write time", sb.s_wtime), ("last check time", sb.s_lastcheck)]
        {
            if secs != 0 {
                details.push((name.to_string(), when(secs)));
            }
        }
        if let Some(p) = superblock::c_string(&sb.s_last_mounted) {
            details.push(("last mounted on".to_string(), p));
        }
        let max = if sb.s_max_mnt_count <= 0 {
            "no forced check".to_string()
        } else {
            format!("forced check after {}", sb.s_max_mnt_count)
        };
        details.push(("mount count".to_string(), format!("{} ({max})", sb.s_mnt_count)));
        if let Some(line) = &self.journal_line {
            details.push(("journal".to_string(), line.clone()));
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
        // Extent tree blocks beyond the inode: walk them for their checksums.
        let depth = crate::bytes::le16(&inode.i_block, 0x6);
        if inode.has_flag(inode::EXT4_EXTENTS_FL) && !inode.has_flag(inode::EXT4_INLINE_DATA_FL) && depth > 0 && !inode.is_unused() {
            match self.loaded(ino) {
                Ok(l) => problems.extend(l.problems.iter().cloned()),
                Err(e) => problems.push(format!("the file's block map can't be read: {e}")),
            }
        }
        problems.extend(self.xattr_block_problem(&inode));
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
            rdev: inode.rdev(),
            flags: inode.i_flags,
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
        let csum_seed = self.sb.csum_seed.and_then(|s| checksum::inode_seed(s, ino, loaded.inode.generation));
        let indexed = loaded.inode.has_flag(inode::EXT4_INDEX_FL);
        Ok(Box::new(DirBlocks {
            fs: self,
            ino,
            loaded,
            filetype,
            next_block: 0,
            block_count,
            pending: VecDeque::new(),
            errors: 0,
            warnings: 0,
            hidden_warnings: 0,
            csum_seed,
            indexed,
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

    fn xattrs(&self, ino: u64) -> Result<Vec<Xattr>> {
        let inode = self.read_inode(ino)?;
        let mut raw = xattr::in_inode(&inode.xattr_area).map_err(|e| e.at_inode(ino))?;
        if inode.file_acl != 0 {
            let acl = inode.file_acl;
            let b = self.read_block(acl).map_err(|e| e.at_inode(ino).context("reading the extended attribute block"))?;
            raw.extend(xattr::in_block(&b, acl).map_err(|e| e.at_inode(ino))?);
        }
        let mut out = Vec::with_capacity(raw.len());
        for x in raw {
            let name = x.full_name();
            let value = match x.value {
                xattr::RawValue::Bytes(v) => v,
                xattr::RawValue::InInode { inode: n, size } => self.ea_inode_value(n, size).map_err(|e| {
                    e.context(format!(
                        "inode {ino}: the value of {} is stored in inode {n}",
                        crate::path::display_bytes(&name)
                    ))
                })?,
            };
            out.push(Xattr { name, value });
        }
        Ok(out)
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
