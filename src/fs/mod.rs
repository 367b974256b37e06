//! Filesystems: the [`FileSystem`] trait every reader implements, and
//! signature detection for the ones we only recognise.
//!
//! A filesystem is addressed by inode number, as on disk: recovery needs
//! them (hard links, orphans, problems reported by inode), and it lets a
//! reader keep going when a path component is damaged. Path lookup is a
//! provided method on top.

pub mod detect;
pub mod ext4;

use crate::error::{Error, Result};

/// What an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Unknown,
}

impl FileKind {
    /// From the `S_IFMT` bits of a Unix mode.
    pub fn from_mode(mode: u32) -> FileKind {
        match mode & 0o170000 {
            0o100000 => FileKind::File,
            0o040000 => FileKind::Dir,
            0o120000 => FileKind::Symlink,
            0o020000 => FileKind::CharDevice,
            0o060000 => FileKind::BlockDevice,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            _ => FileKind::Unknown,
        }
    }

    /// The `ls -l` type letter.
    pub fn letter(self) -> char {
        match self {
            FileKind::File => '-',
            FileKind::Dir => 'd',
            FileKind::Symlink => 'l',
            FileKind::CharDevice => 'c',
            FileKind::BlockDevice => 'b',
            FileKind::Fifo => 'p',
            FileKind::Socket => 's',
            FileKind::Unknown => '?',
        }
    }

    /// The coarse type of the CLI's `--json` and the web listing.
    pub fn json_name(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
            FileKind::Symlink => "symlink",
            _ => "other",
        }
    }
}

/// A time as stored: seconds since the epoch (negative before 1970) and
/// nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

/// An inode's metadata.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Metadata {
    pub inode: u64,
    pub kind: FileKind,
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub nlink: u32,
    pub atime: Timestamp,
    pub mtime: Timestamp,
    pub ctime: Timestamp,
    pub crtime: Option<Timestamp>,
    /// Major and minor device numbers of a block or character device.
    pub rdev: Option<(u32, u32)>,
    /// Inode flags in Linux's `FS_*_FL` numbering (what `lsattr` shows,
    /// plus format bits such as extents); see [`flag_names`].
    pub flags: u32,
    /// Sentences describing damage found while reading this inode; the
    /// metadata is still the best the reader could do.
    pub problems: Vec<String>,
}

/// Names of the inode flags set in `flags` (Linux `FS_*_FL` bits, which
/// ext2/3/4 store as is); unnamed bits as hex.
pub fn flag_names(flags: u32) -> Vec<String> {
    const NAMES: &[(u32, &str)] = &[
        (0x1, "secrm"),
        (0x2, "unrm"),
        (0x4, "compr"),
        (0x8, "sync"),
        (0x10, "immutable"),
        (0x20, "append"),
        (0x40, "nodump"),
        (0x80, "noatime"),
        (0x800, "encrypt"),
        (0x1000, "index"),
        (0x2000, "imagic"),
        (0x4000, "journal_data"),
        (0x8000, "notail"),
        (0x10000, "dirsync"),
        (0x20000, "topdir"),
        (0x40000, "huge_file"),
        (0x80000, "extents"),
        (0x100000, "verity"),
        (0x200000, "ea_inode"),
        (0x800000, "nocow"),
        (0x2000000, "dax"),
        (0x10000000, "inline_data"),
        (0x20000000, "projinherit"),
        (0x40000000, "casefold"),
    ];
    let mut out = Vec::new();
    let mut known = 0u32;
    for (bit, name) in NAMES {
        known |= bit;
        if flags & bit != 0 {
            out.push((*name).to_string());
        }
    }
    if flags & !known != 0 {
        out.push(format!("{:#x}", flags & !known));
    }
    out
}

/// One extended attribute: the full name with its namespace prefix
/// (`user.comment`, `system.posix_acl_access`) and the raw value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Xattr {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// One name in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name's bytes as on disk (not necessarily UTF-8).
    pub name: Vec<u8>,
    pub inode: u64,
    /// The type recorded in the directory entry, when the format has one.
    pub kind: Option<FileKind>,
}

/// Facts about an opened filesystem, for `info` and the page.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FsInfo {
    /// Short format name: "ext4", "ext3", "ext2".
    pub format: String,
    pub label: Option<String>,
    pub uuid: Option<String>,
    pub block_size: Option<u32>,
    /// Further facts as (name, value) lines, in display order.
    pub details: Vec<(String, String)>,
    /// Damage found while opening; the filesystem still opened.
    pub problems: Vec<String>,
}

/// Ends the message of a [`DirIter`] error item that only warns: the part
/// it names (a directory block with a bad checksum) is still listed, its
/// entries follow. Callers show such an item once, not as lost entries.
pub const LISTED_ANYWAY: &str = "its entries are listed anyway";

/// A directory listing that streams; an `Err` item reports a damaged part
/// of the directory, and iteration may go on past it.
pub type DirIter<'a> = Box<dyn Iterator<Item = Result<DirEntry>> + 'a>;

/// A readable filesystem, addressed by inode number.
pub trait FileSystem {
    fn info(&self) -> FsInfo;
    /// The root directory's inode.
    fn root(&self) -> u64;
    fn stat(&self, inode: u64) -> Result<Metadata>;
    /// Entries of a directory, without `.` and `..`.
    fn read_dir(&self, inode: u64) -> Result<DirIter<'_>>;
    /// Reads file bytes at `offset`; returns how many were read (0 at or
    /// past the end of the file). Holes read as zeros.
    fn read_at(&self, inode: u64, offset: u64, buf: &mut [u8]) -> Result<usize>;
    /// A symlink's target bytes.
    fn read_link(&self, inode: u64) -> Result<Vec<u8>>;
    /// Extended attributes, in on-disk order (in-inode ones first).
    fn xattrs(&self, _inode: u64) -> Result<Vec<Xattr>> {
        Ok(Vec::new())
    }

    /// Finds a name in a directory.
    fn lookup(&self, dir: u64, name: &[u8]) -> Result<Option<u64>> {
        for entry in self.read_dir(dir)? {
            match entry {
                Ok(e) if e.name == name => return Ok(Some(e.inode)),
                // A damaged block can't hide the name from later blocks.
                Ok(_) | Err(_) => {}
            }
        }
        Ok(None)
    }

    /// Resolves an absolute path (bytes, `/`-separated) without following
    /// a symlink in the last component. `.` and `..` are resolved by name
    /// when the format stores them; empty components are skipped.
    fn resolve(&self, path: &[u8]) -> Result<u64> {
        let mut inode = self.root();
        let mut stack: Vec<u64> = Vec::new();
        for part in path.split(|b| *b == b'/').filter(|p| !p.is_empty() && *p != b".") {
            if part == b".." {
                inode = stack.pop().unwrap_or(self.root());
                continue;
            }
            let meta = self.stat(inode)?;
            if meta.kind != FileKind::Dir {
                return Err(Error::not_found(format!(
                    "{} is not a directory",
                    crate::path::display_bytes(path)
                )));
            }
            match self.lookup(inode, part)? {
                Some(next) => {
                    stack.push(inode);
                    inode = next;
                }
                None => {
                    return Err(Error::not_found(format!(
                        "no such file or directory: {}",
                        crate::path::display_bytes(path)
                    )))
                }
            }
        }
        Ok(inode)
    }
}

/// Most symlinks [`resolve_following`] follows in one lookup (Linux's
/// `MAXSYMLINKS`); more is a loop.
pub const MAX_SYMLINKS: u32 = 40;
/// Longest symlink target read while resolving.
const MAX_TARGET_BYTES: u64 = 4096;

/// Resolves an absolute path inside the volume, following symlinks in
/// every component as the server would have: an absolute target starts
/// again at the volume's root (never the machine running Salvage), `..`
/// stops at the root, and more than [`MAX_SYMLINKS`] links is an error
/// (a loop). Returns the inode and the path it was found at, with every
/// link replaced by its target.
pub fn resolve_following(fs: &dyn FileSystem, path: &[u8]) -> Result<(u64, Vec<u8>)> {
    let shown = || crate::path::display_bytes(path);
    let mut todo: std::collections::VecDeque<Vec<u8>> =
        path.split(|b| *b == b'/').filter(|p| !p.is_empty() && *p != b".").map(<[u8]>::to_vec).collect();
    // (name, inode) from the root down to the current directory.
    let mut at: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut links = 0u32;
    let mut inode = fs.root();
    while let Some(part) = todo.pop_front() {
        if part == b".." {
            at.pop();
            inode = at.last().map_or(fs.root(), |(_, i)| *i);
            continue;
        }
        if fs.stat(inode)?.kind != FileKind::Dir {
            return Err(Error::not_found(format!("{} is not a directory", shown())));
        }
        let next = fs
            .lookup(inode, &part)?
            .ok_or_else(|| Error::not_found(format!("no such file or directory: {}", shown())))?;
        let meta = fs.stat(next)?;
        if meta.kind != FileKind::Symlink {
            at.push((part, next));
            inode = next;
            continue;
        }
        links = links.saturating_add(1);
        if links > MAX_SYMLINKS {
            return Err(Error::corrupt(format!("{}: more than {MAX_SYMLINKS} symbolic links (a loop)", shown())));
        }
        if meta.size > MAX_TARGET_BYTES {
            return Err(Error::corrupt(format!("{}: a symbolic link target of {} bytes", shown(), meta.size)));
        }
        let target = fs.read_link(next)?;
        if target.is_empty() {
            return Err(Error::not_found(format!("{}: an empty symbolic link", shown())));
        }
        if target.starts_with(b"/") {
            at.clear();
            inode = fs.root();
        }
        for t in target.split(|b| *b == b'/').filter(|p| !p.is_empty() && *p != b".").rev() {
            todo.push_front(t.to_vec());
        }
    }
    let mut resolved = Vec::new();
    for (name, _) in &at {
        resolved.push(b'/');
        resolved.extend_from_slice(name);
    }
    if resolved.is_empty() {
        resolved.push(b'/');
    }
    Ok((inode, resolved))
}

impl Timestamp {
    /// ISO 8601 in UTC, e.g. `1999-12-31T23:59:59Z`; works for any year,
    /// before 1970 too (proleptic Gregorian calendar).
    pub fn iso8601(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        // Civil-from-days (Howard Hinnant's algorithm), on i64 throughout.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    }

    /// ISO 8601 with nine digits of nanoseconds, e.g. `2024-05-01T10:00:00.000000001Z`.
    pub fn iso8601_nanos(&self) -> String {
        let s = self.iso8601();
        format!("{}.{:09}Z", s.trim_end_matches('Z'), self.nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_handles_any_era() {
        let t = |secs| Timestamp { secs, nanos: 0 }.iso8601();
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
        assert_eq!(t(946_684_799), "1999-12-31T23:59:59Z");
        assert_eq!(t(-1), "1969-12-31T23:59:59Z");
        assert_eq!(t(-315_619_200), "1960-01-01T00:00:00Z");
        assert_eq!(t(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(t(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp { secs: 1, nanos: 5 }.iso8601_nanos(), "1970-01-01T00:00:01.000000005Z");
    }

    #[test]
    fn names_flags() {
        assert_eq!(flag_names(0x10 | 0x80000), vec!["immutable", "extents"]);
        assert_eq!(flag_names(0x20 | 0x1000_0000 | 0x400), vec!["append", "inline_data", "0x400"]);
    }

    /// One inode of [`MemFs`]: kind, entries, link target.
    type MemNode = (FileKind, Vec<(&'static [u8], u64)>, &'static [u8]);

    /// A tiny tree by inode.
    struct MemFs(Vec<MemNode>);

    impl FileSystem for MemFs {
        fn info(&self) -> FsInfo {
            FsInfo::default()
        }
        fn root(&self) -> u64 {
            0
        }
        fn stat(&self, inode: u64) -> Result<Metadata> {
            let (kind, _, target) = self.0.get(usize::try_from(inode).unwrap()).ok_or_else(|| Error::corrupt("no such inode"))?;
            let t = Timestamp::default();
            Ok(Metadata { inode, kind: *kind, mode: 0o777, uid: 0, gid: 0, size: target.len() as u64, nlink: 1, atime: t, mtime: t, ctime: t, crtime: None, rdev: None, flags: 0, problems: Vec::new() })
        }
        fn read_dir(&self, inode: u64) -> Result<DirIter<'_>> {
            let entries = &self.0[usize::try_from(inode).unwrap()].1;
            Ok(Box::new(entries.iter().map(|(n, i)| Ok(DirEntry { name: n.to_vec(), inode: *i, kind: None }))))
        }
        fn read_at(&self, _: u64, _: u64, _: &mut [u8]) -> Result<usize> {
            Ok(0)
        }
        fn read_link(&self, inode: u64) -> Result<Vec<u8>> {
            Ok(self.0[usize::try_from(inode).unwrap()].2.to_vec())
        }
    }

    #[test]
    fn resolves_links_inside_the_volume() {
        use FileKind::{Dir, File, Symlink};
        let fs = MemFs(vec![
            /* 0 / */ (Dir, vec![(b"etc", 1), (b"usr", 2), (b"loop", 7), (b"up", 8)], b""),
            /* 1 /etc */ (Dir, vec![(b"os-release", 3), (b"abs", 5), (b"file-as-dir", 9)], b""),
            /* 2 /usr */ (Dir, vec![(b"lib", 4)], b""),
            /* 3 /etc/os-release */ (Symlink, vec![], b"../usr/lib/os-release"),
            /* 4 /usr/lib */ (Dir, vec![(b"os-release", 6)], b""),
            /* 5 /etc/abs */ (Symlink, vec![], b"/usr/lib"),
            /* 6 /usr/lib/os-release */ (File, vec![], b""),
            /* 7 /loop */ (Symlink, vec![], b"/loop/x"),
            /* 8 /up */ (Symlink, vec![], b"../../../../usr/./lib//"),
            /* 9 /etc/file-as-dir */ (Symlink, vec![], b"os-release"),
        ]);
        let r = |p: &[u8]| resolve_following(&fs, p).map(|(i, path)| (i, String::from_utf8(path).unwrap()));
        assert_eq!(r(b"/etc/os-release").unwrap(), (6, "/usr/lib/os-release".into()));
        assert_eq!(r(b"/etc/abs/os-release").unwrap(), (6, "/usr/lib/os-release".into()));
        assert_eq!(r(b"/up").unwrap(), (4, "/usr/lib".into()));
        assert_eq!(r(b"/").unwrap(), (0, "/".into()));
        assert_eq!(r(b"/etc/..").unwrap(), (0, "/".into()));
        let e = r(b"/loop").unwrap_err();
        assert_eq!((e.kind(), e.to_string()), (crate::ErrorKind::Corrupt, "/loop: more than 40 symbolic links (a loop)".into()));
        assert_eq!(r(b"/etc/file-as-dir/x").unwrap_err().kind(), crate::ErrorKind::NotFound);
        assert_eq!(r(b"/etc/missing").unwrap_err().kind(), crate::ErrorKind::NotFound);
    }

    #[test]
    fn kinds_from_modes() {
        assert_eq!(FileKind::from_mode(0o100644), FileKind::File);
        assert_eq!(FileKind::from_mode(0o040755), FileKind::Dir);
        assert_eq!(FileKind::from_mode(0o120777), FileKind::Symlink);
        assert_eq!(FileKind::from_mode(0o000000), FileKind::Unknown);
    }
}
