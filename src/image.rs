//! An opened image: container → partition table → volumes → filesystems.
//!
//! This is the one entry point the CLI and the browser worker share. It
//! owns the shared read statistics, opens each readable filesystem once on
//! first use, and turns inodes into [`Entry`] records (what `ls --json` and
//! the page show).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::container::{detect::open_disk_with, Disk, DiskOptions, Source};
use crate::error::{Error, Result};
use crate::fs::detect::{detect, Detected};
use crate::fs::ext4::{Ext4Fs, Ext4Options};
use crate::fs::{flag_names, FileKind, FileSystem, Metadata, Timestamp, LISTED_ANYWAY};
use crate::path::{escape, join};
use crate::read_at::{IoStats, Reader, Slice};
use crate::volume::assemble::{assemble, AssembledVolume, Candidate};
use crate::volume::detect::read_table;
use crate::volume::{Partition, PartitionTable, TableKind};

pub mod browse;


/// A volume as listed by `info` and the page.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VolumeInfo {
    /// 1-based, in table order.
    pub index: u32,
    pub offset: u64,
    pub length: u64,
    pub type_id: Option<String>,
    pub type_name: String,
    pub name: Option<String>,
    /// Short filesystem name ("ext4"), when recognised.
    pub fs: Option<&'static str>,
    pub label: Option<String>,
    pub uuid: Option<String>,
    /// Whether its files can be listed.
    pub supported: bool,
    /// One sentence: what this volume is and whether it can be read.
    pub status: String,
    pub problems: Vec<String>,
    /// Facts from the filesystem, once opened (block size, features …).
    pub details: Vec<(String, String)>,
    /// The selected file it is on, when not the main one.
    pub disk: Option<String>,
    /// Built from other volumes (an LVM2 LV, an md array): `offset` means nothing.
    pub assembled: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageSummary {
    pub format: String,
    pub size: u64,
    pub parts: Vec<String>,
    pub notes: Vec<String>,
    /// Container facts (subformat, virtual size, stored bytes); empty for raw.
    pub details: Vec<(String, String)>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TableSummary {
    pub kind: TableKind,
    pub notes: Vec<String>,
}

/// Everything `info` prints.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Info {
    pub version: &'static str,
    pub image: ImageSummary,
    pub table: TableSummary,
    pub volumes: Vec<VolumeInfo>,
    /// About volume groups and arrays: missing PVs, older metadata versions.
    pub volume_notes: Vec<String>,
}

/// One directory entry with its metadata, as listed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    /// Absolute inside the volume, escaped (see [`crate::path`]).
    pub path: String,
    /// The last component, escaped.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The exact kind (`chardevice`, `fifo` …), beyond `type`.
    pub file_kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_ns: u32,
    pub target: Option<String>,
    pub inode: u64,
    pub nlink: u32,
    pub problems: Vec<String>,
}

impl Entry {
    /// A placeholder for something that could not be read, carrying why.
    fn unreadable(path: String, name: String, inode: u64, problem: String) -> Entry {
        Entry {
            path,
            name,
            kind: "other",
            file_kind: FileKind::Unknown,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            mtime_ns: 0,
            target: None,
            inode,
            nlink: 0,
            problems: vec![problem],
        }
    }
}

/// Choices made when opening an image.
#[derive(Clone)]
pub struct OpenOptions {
    /// Replay filesystem journals in memory when they need recovery (the
    /// default); off shows the state before the crash.
    pub replay_journal: bool,
    /// Which archive member holds the disk, where gzip indexes are kept.
    pub disk: DiskOptions,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { replay_journal: true, disk: DiskOptions::default() }
    }
}

pub struct Image {
    options: OpenOptions,
    disk: Disk,
    table: PartitionTable,
    volumes: Vec<VolumeInfo>,
    /// Each volume's bytes (partitions of every selected disk, LVs, arrays).
    readers: HashMap<u32, Reader>,
    volume_notes: Vec<String>,
    stats: Rc<IoStats>,
    opened: RefCell<HashMap<u32, Rc<dyn FileSystem>>>,
}

impl Image {
    /// Opens an image from its main file and companions. The sources
    /// should already sit behind chunk caches counting into `stats`.
    pub fn open(main: Source, others: Vec<Source>, stats: Rc<IoStats>) -> Result<Image> {
        Self::open_with(main, others, stats, OpenOptions::default())
    }

    /// [`Image::open`] with options.
    pub fn open_with(main: Source, others: Vec<Source>, stats: Rc<IoStats>, options: OpenOptions) -> Result<Image> {
        // A file that can't be read at all (no permission; a browser that
        // refuses a page opened from file:// to read picked files) fails
        // here in plain words, rather than looking like a disk without
        // partitions because every probe of it came back empty.
        let mut first = vec![0; usize::try_from(main.reader.size().min(4096)).unwrap_or(4096)];
        main.reader.read_exact_at(0, &mut first).map_err(|e| Error::io(format!("the image can't be read: {}", e.message())))?;
        let companions = others.clone();
        let mut disk = open_disk_with(main, others, &options.disk)?;
        if disk.reader.size() == 0 {
            return Err(Error::invalid("the file is empty"));
        }
        let table = read_table(&*disk.reader);
        let mut volumes = Vec::new();
        let mut readers = HashMap::new();
        let mut candidates = Vec::new();
        let mut add = |volumes: &mut Vec<VolumeInfo>, p: &Partition, reader: Reader, disk_name: Option<&str>| {
            let index = u32::try_from(volumes.len() + 1).unwrap_or(u32::MAX);
            let found = detect(&*reader).or_else(|| crate::fs::ext4::detect_from_backup(&reader));
            let mut v = describe(index, p, found);
            v.disk = disk_name.map(String::from);
            let name = match disk_name {
                Some(d) => format!("{d}, volume {index}"),
                None => format!("volume {index}"),
            };
            candidates.push(Candidate { name, reader: reader.clone() });
            readers.insert(index, reader);
            volumes.push(v);
        };
        for p in &table.partitions {
            add(&mut volumes, p, Rc::new(Slice::new(disk.reader.clone(), p.offset, p.length)), None);
        }
        // Selected files the container did not use are disks of their own
        // (the other PVs of a volume group, the other members of an array).
        let unused: Vec<Source> = companions.into_iter().filter(|s| !disk.parts.contains(&s.name)).collect();
        let mut opened_names = Vec::new();
        for s in unused {
            let name = s.name.clone();
            match open_disk_with(s, Vec::new(), &DiskOptions { member: None, index_store: options.disk.index_store.clone() }) {
                Ok(d) if d.reader.size() > 0 => {
                    opened_names.push(name.clone());
                    for p in &read_table(&*d.reader).partitions {
                        add(&mut volumes, p, Rc::new(Slice::new(d.reader.clone(), p.offset, p.length)), Some(&name));
                    }
                }
                Ok(_) => disk.notes.push(format!("{name} is empty")),
                Err(e) => disk.notes.push(format!("{name} can't be opened: {e}")),
            }
        }
        // The container's "ignored …" notes about them no longer hold.
        disk.notes.retain(|n| !(n.starts_with("ignored") && opened_names.iter().any(|o| n.contains(o.as_str()))));
        let first = u32::try_from(volumes.len() + 1).unwrap_or(u32::MAX);
        let assembly = assemble(&candidates, first);
        for (i, sentence) in assembly.members {
            if let Some(v) = volumes.get_mut(i) {
                v.status = sentence;
            }
        }
        for a in assembly.volumes {
            let index = u32::try_from(volumes.len() + 1).unwrap_or(u32::MAX);
            volumes.push(describe_assembled(index, &a));
            readers.insert(index, a.reader);
        }
        let volume_notes = assembly.notes;
        let image = Image { options, disk, table, volumes, readers, volume_notes, stats, opened: RefCell::new(HashMap::new()) };
        // Open readable filesystems now so `info` can show their facts and
        // problems; failures turn into the volume's status sentence.
        let mut volumes = image.volumes.clone();
        for v in volumes.iter_mut().filter(|v| v.supported) {
            match image.filesystem(v.index) {
                Ok(fs) => {
                    let fi = fs.info();
                    v.label = fi.label.or(v.label.take());
                    v.uuid = fi.uuid.or(v.uuid.take());
                    if let Some(bs) = fi.block_size {
                        v.details.push(("block size".into(), bs.to_string()));
                    }
                    v.details.extend(fi.details);
                    v.problems.extend(fi.problems);
                }
                Err(e) => {
                    v.supported = false;
                    v.status = format!("{} — can't be opened: {}", v.fs.unwrap_or("filesystem"), e.message());
                }
            }
        }
        Ok(Image { volumes, ..image })
    }

    pub fn info(&self) -> Info {
        Info {
            version: crate::VERSION,
            image: ImageSummary {
                format: self.disk.format.clone(),
                size: self.disk.reader.size(),
                parts: self.disk.parts.clone(),
                notes: self.disk.notes.clone(),
                details: self.disk.details.clone(),
            },
            table: TableSummary { kind: self.table.kind, notes: self.table.notes.clone() },
            volumes: self.volumes.clone(),
            volume_notes: self.volume_notes.clone(),
        }
    }

    pub fn volumes(&self) -> &[VolumeInfo] {
        &self.volumes
    }

    pub fn stats(&self) -> &IoStats {
        &self.stats
    }

    /// The volume to use when the user named none: the only readable one.
    pub fn default_volume(&self) -> Result<u32> {
        let readable: Vec<&VolumeInfo> = self.volumes.iter().filter(|v| v.supported).collect();
        match readable.as_slice() {
            [one] => Ok(one.index),
            [] => Err(Error::not_found("no volume on this image has files Salvage can read")),
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|v| format!("{} ({}{})", v.index, v.fs.unwrap_or("?"), v.label.as_deref().map(|l| format!(" \"{l}\"")).unwrap_or_default()))
                    .collect();
                Err(Error::invalid(format!("this image has several readable volumes; choose one with --volume: {}", names.join(", "))))
            }
        }
    }

    /// The filesystem of volume `index` (1-based), opened once.
    pub fn filesystem(&self, index: u32) -> Result<Rc<dyn FileSystem>> {
        if let Some(fs) = self.opened.borrow().get(&index) {
            return Ok(fs.clone());
        }
        let v = self
            .volumes
            .iter()
            .find(|v| v.index == index)
            .ok_or_else(|| Error::not_found(format!("there is no volume {index}; this image has {}", self.volumes.len())))?;
        if !v.supported {
            return Err(Error::unsupported(format!("volume {index}: {}", v.status)));
        }
        let reader: Reader = match self.readers.get(&index) {
            Some(r) => r.clone(),
            None => Rc::new(Slice::new(self.disk.reader.clone(), v.offset, v.length)),
        };
        let fs: Rc<dyn FileSystem> = match v.fs {
            Some("ext2" | "ext3" | "ext4") => {
                let options = Ext4Options { replay_journal: self.options.replay_journal };
                Rc::new(Ext4Fs::open_with(reader, &options).map_err(|e| e.at_volume(index))?)
            },
            _ => return Err(Error::unsupported(format!("volume {index}: {}", v.status))),
        };
        self.opened.borrow_mut().insert(index, fs.clone());
        Ok(fs)
    }

    /// Builds the listed record of `inode` at `path` (raw bytes).
    pub fn entry(&self, fs: &dyn FileSystem, path: &[u8], inode: u64) -> Entry {
        entry_at(fs, path, path.rsplit(|b| *b == b'/').next().unwrap_or(b""), inode)
    }

    /// Lists directory `path` (raw bytes) of a filesystem, sorted by name.
    /// Damaged parts of the directory become entries' problems or a
    /// placeholder entry, never a failure of the whole listing.
    pub fn list(&self, fs: &dyn FileSystem, path: &[u8]) -> Result<Vec<Entry>> {
        let dir = fs.resolve(path)?;
        let meta = fs.stat(dir)?;
        if meta.kind != FileKind::Dir {
            return Ok(vec![entry_from(fs, path, path.rsplit(|b| *b == b'/').next().unwrap_or(b""), &meta)]);
        }
        let mut out = Vec::new();
        for item in fs.read_dir(dir)? {
            match item {
                Ok(d) => out.push(self.entry(fs, &join(path, &d.name), d.inode)),
                Err(e) => out.push(Entry::unreadable(escape(path), String::new(), 0, dir_problem(&e))),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// Everything about one inode, for `salvage stat`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StatRecord {
    /// Escaped, as given.
    pub path: String,
    pub inode: u64,
    #[serde(rename = "type")]
    pub file_kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub nlink: u32,
    /// ISO 8601 with nanoseconds, UTC.
    pub atime: String,
    pub mtime: String,
    pub ctime: String,
    pub crtime: Option<String>,
    /// Major and minor, for block and character devices.
    pub rdev: Option<(u32, u32)>,
    pub flags: u32,
    pub flag_names: Vec<String>,
    pub target: Option<String>,
    pub xattrs: Vec<XattrRecord>,
    pub problems: Vec<String>,
}

/// One extended attribute, printable.
#[derive(Clone, Debug, serde::Serialize)]
pub struct XattrRecord {
    /// Escaped name (`user.comment`).
    pub name: String,
    /// The value as text when it is printable UTF-8 (one trailing NUL dropped).
    pub text: Option<String>,
    /// The value in lowercase hex, always.
    pub hex: String,
}

impl XattrRecord {
    pub fn new(name: &[u8], value: &[u8]) -> XattrRecord {
        let trimmed = value.strip_suffix(b"\0").unwrap_or(value);
        let text = std::str::from_utf8(trimmed)
            .ok()
            .filter(|t| t.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'))
            .map(String::from);
        let hex = value.iter().map(|b| format!("{b:02x}")).collect();
        XattrRecord { name: escape(name), text, hex }
    }
}

impl Image {
    /// Everything about the inode at `path` (raw bytes): metadata, flags,
    /// device numbers, extended attributes and problems.
    pub fn stat(&self, fs: &dyn FileSystem, path: &[u8]) -> Result<StatRecord> {
        let inode = fs.resolve(path)?;
        let m = fs.stat(inode)?;
        let mut problems = m.problems.clone();
        let target = if m.kind == FileKind::Symlink {
            match fs.read_link(inode) {
                Ok(t) => Some(escape(&t)),
                Err(e) => {
                    problems.push(format!("can't read the link target: {e}"));
                    None
                }
            }
        } else {
            None
        };
        let xattrs = match fs.xattrs(inode) {
            Ok(list) => list.iter().map(|x| XattrRecord::new(&x.name, &x.value)).collect(),
            Err(e) => {
                problems.push(format!("can't read the extended attributes: {e}"));
                Vec::new()
            }
        };
        let iso = |t: Timestamp| t.iso8601_nanos();
        Ok(StatRecord {
            path: escape(if path.is_empty() { b"/" } else { path }),
            inode,
            file_kind: m.kind,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            size: m.size,
            nlink: m.nlink,
            atime: iso(m.atime),
            mtime: iso(m.mtime),
            ctime: iso(m.ctime),
            crtime: m.crtime.map(iso),
            rdev: m.rdev,
            flags: m.flags,
            flag_names: flag_names(m.flags),
            target,
            xattrs,
            problems,
        })
    }
}

/// The record of `inode`, found in a folder as `name` at `path`; an
/// unreadable inode gives a placeholder saying so.
fn entry_at(fs: &dyn FileSystem, path: &[u8], name: &[u8], inode: u64) -> Entry {
    match fs.stat(inode) {
        Ok(m) => entry_from(fs, path, name, &m),
        Err(e) => Entry::unreadable(escape(path), escape(name), inode, format!("can't read this entry's inode: {e}")),
    }
}

/// The sentence for a part of a directory that could not be listed.
fn dir_problem(e: &Error) -> String {
    // A checksum mismatch whose entries are listed anyway: one note for the block.
    if e.message().ends_with(LISTED_ANYWAY) {
        format!("in this directory: {e}")
    } else {
        format!("part of this directory can't be read: {e}")
    }
}

fn entry_from(fs: &dyn FileSystem, path: &[u8], name: &[u8], m: &Metadata) -> Entry {
    let mut problems = m.problems.clone();
    let target = if m.kind == FileKind::Symlink {
        match fs.read_link(m.inode) {
            Ok(t) => Some(escape(&t)),
            Err(e) => {
                problems.push(format!("can't read the link target: {e}"));
                None
            }
        }
    } else {
        None
    };
    Entry {
        path: escape(if path.is_empty() { b"/" } else { path }),
        name: escape(name),
        kind: m.kind.json_name(),
        file_kind: m.kind,
        mode: m.mode & 0o7777,
        uid: m.uid,
        gid: m.gid,
        size: m.size,
        mtime: m.mtime.secs,
        mtime_ns: m.mtime.nanos,
        target,
        inode: m.inode,
        nlink: m.nlink,
        problems,
    }
}

fn describe(index: u32, p: &Partition, found: Option<Detected>) -> VolumeInfo {
    let mut v = VolumeInfo {
        index,
        offset: p.offset,
        length: p.length,
        type_id: p.type_id.clone(),
        type_name: p.type_name.clone(),
        name: p.name.clone(),
        fs: None,
        label: None,
        uuid: None,
        supported: false,
        status: String::new(),
        problems: p.problems.clone(),
        details: Vec::new(),
        disk: None,
        assembled: false,
    };
    match found {
        Some(d) => {
            v.fs = Some(d.kind.name());
            v.label = d.label;
            v.uuid = d.uuid;
            v.supported = d.kind.is_readable();
            v.status = if v.supported { format!("{} — readable", d.kind.display_name()) } else { d.kind.unsupported_sentence() };
            if let (crate::fs::detect::FsKind::Luks, Some(detail)) = (d.kind, &d.detail) {
                v.status = format!("LUKS encrypted volume ({detail}) — encrypted, not supported yet");
            }
            if let Some(detail) = d.detail {
                v.details.push(("format".into(), detail));
            }
        }
        None => {
            v.status = "no filesystem Salvage recognises — it may be empty, encrypted, or a format not supported yet".into();
        }
    }
    v
}

/// A logical volume or an array, described like a partition.
fn describe_assembled(index: u32, a: &AssembledVolume) -> VolumeInfo {
    let p = Partition {
        offset: 0,
        length: a.reader.size(),
        type_id: None,
        type_name: a.type_name.clone(),
        name: Some(a.name.clone()),
        problems: a.problems.clone(),
    };
    let found = if a.unreadable.is_some() { None } else { detect(&*a.reader).or_else(|| crate::fs::ext4::detect_from_backup(&a.reader)) };
    let mut v = describe(index, &p, found);
    v.assembled = true;
    v.details.extend(a.details.iter().cloned());
    if let Some(why) = a.unreadable.as_ref().or(a.member_of.as_ref()) {
        v.status = why.clone();
    }
    v
}

impl Image {
    /// The index of the volume `spec` names: its number, or its name
    /// (`centos/root`, `centos/root@7` for an older version).
    pub fn volume_index(&self, spec: &str) -> Result<u32> {
        if let Ok(n) = spec.parse::<u32>() {
            return Ok(n);
        }
        if let Some(v) = self.volumes.iter().find(|v| v.name.as_deref() == Some(spec)) {
            return Ok(v.index);
        }
        let named: Vec<&str> = self.volumes.iter().filter(|v| v.assembled).filter_map(|v| v.name.as_deref()).collect();
        Err(Error::not_found(if named.is_empty() {
            format!("there is no volume named {spec:?}; --volume takes a number from `salvage info`")
        } else {
            format!("there is no volume named {spec:?}; named volumes: {}", named.join(", "))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::ReadAt;

    /// A file whose every read fails, as a browser refusing to read it does.
    struct Refused;

    impl ReadAt for Refused {
        fn size(&self) -> u64 {
            1 << 20
        }
        fn read_exact_at(&self, _offset: u64, _buf: &mut [u8]) -> Result<()> {
            Err(Error::io("The I/O read operation failed."))
        }
    }

    #[test]
    fn an_unreadable_file_says_so_rather_than_showing_no_partitions() {
        let main = Source { name: "disk.img".into(), reader: Rc::new(Refused) };
        let e = Image::open(main, Vec::new(), Rc::new(IoStats::default())).err().expect("an unreadable file must not open");
        assert_eq!(e.message(), "the image can't be read: The I/O read operation failed.");
    }
}
