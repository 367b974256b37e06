//! Helpers shared by the test files: running e2fsprogs, building images
//! from a known source tree, walking them and comparing; opening image
//! files as the CLI does and hashing what a reader holds.

#![allow(dead_code, clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use salvage::fs::ext4::Ext4Fs;
use salvage::fs::{FileKind, FileSystem};
use salvage::container::Source;
use salvage::read_at::{CacheConfig, ChunkCache, IoStats, ReadAt, Reader};
use sha2::{Digest, Sha256};

pub const TOOLS_PATH: &str = "/usr/sbin:/sbin:/usr/bin:/bin";

pub fn tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.env("PATH", TOOLS_PATH);
    c
}

pub fn run(mut c: Command, ok_codes: &[i32]) -> String {
    let out = c.output().expect("running an e2fsprogs tool");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        ok_codes.contains(&code),
        "{c:?} exited {code}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("salvage-ext4-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The source tree every image is built from.
pub fn make_tree(root: &Path, big: bool, sparse: bool) {
    use std::os::unix::fs::symlink;
    let w = |p: &str, data: &[u8]| std::fs::write(root.join(p), data).unwrap();
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    w("zero", b"");
    w("hundred", &pseudo_random(100, 7));
    // Enough names to spill an inline directory into its system.data xattr.
    std::fs::create_dir_all(root.join("mid")).unwrap();
    for i in 0..6 {
        w(&format!("mid/name-{i:03}"), b"m");
    }
    w("one", b"x");
    w("a/f4095", &pseudo_random(4095, 1));
    w("a/b/f4096", &pseudo_random(4096, 2));
    w("a/b/c/f4097", &pseudo_random(4097, 3));
    if big {
        w("big", &pseudo_random(3 * 1024 * 1024 + 123, 4));
    }
    std::fs::write(root.join(std::ffi::OsStr::from_bytes(b"caf\xe9")), b"non-utf8 name").unwrap();
    symlink("a/b/f4096", root.join("fast")).unwrap();
    let long_target = format!("{}/target", "long-directory-name".repeat(5));
    symlink(&long_target, root.join("slow")).unwrap();
    std::fs::create_dir_all(root.join("many")).unwrap();
    for i in 0..2000 {
        std::fs::write(root.join(format!("many/file-with-a-longish-name-{i:05}")), format!("{i}")).unwrap();
    }
    w("setuid", b"#!/bin/sh\n");
    std::fs::set_permissions(root.join("setuid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::create_dir_all(root.join("sticky")).unwrap();
    std::fs::set_permissions(root.join("sticky"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    w("private", b"secret");
    std::fs::set_permissions(root.join("private"), std::fs::Permissions::from_mode(0o600)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(root.join("private"), Some(1001), Some(1002)).unwrap();
        std::os::unix::fs::lchown(root.join("fast"), Some(1001), Some(1002)).unwrap();
        std::os::unix::fs::chown(root.join("a/b"), Some(100_000), Some(100_000)).unwrap();
    }
    if sparse {
        // 4 KiB at 0 and at 70 MiB: past the double-indirect range of 1 KiB blocks.
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(root.join("sparse")).unwrap();
        f.write_all(&pseudo_random(4096, 5)).unwrap();
        f.seek(SeekFrom::Start(70 << 20)).unwrap();
        f.write_all(&pseudo_random(4096, 6)).unwrap();
    }
}

/// An image file read in place (large sparse images don't fit in memory).
pub struct FileReader(pub std::fs::File, pub u64);

impl ReadAt for FileReader {
    fn size(&self) -> u64 {
        self.1
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> salvage::Result<()> {
        use std::os::unix::fs::FileExt;
        self.0.read_exact_at(buf, offset).map_err(|e| salvage::Error::io(e.to_string()).at_offset(offset))
    }
}

/// `path` as a [`Source`] named by its file name, behind the native chunk
/// cache counting into `stats`: how the CLI opens files.
pub fn source(path: &Path, stats: &Rc<IoStats>) -> Source {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let len = f.metadata().unwrap().len();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    Source { name, reader: Rc::new(ChunkCache::new(FileReader(f, len), CacheConfig::NATIVE, stats.clone())) }
}

/// The SHA-256 (hex) of everything `r` holds, read in 1 MiB pieces.
pub fn sha256_reader(r: &dyn ReadAt) -> String {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    while pos < r.size() {
        let n = usize::try_from((r.size() - pos).min(1 << 20)).unwrap();
        r.read_exact_at(pos, &mut buf[..n]).unwrap_or_else(|e| panic!("reading at {pos:#x}: {e}"));
        h.update(&buf[..n]);
        pos += n as u64;
    }
    format!("{:x}", h.finalize())
}

pub fn open_image(img: &Path) -> Ext4Fs {
    let f = std::fs::File::open(img).unwrap();
    let len = f.metadata().unwrap().len();
    let reader: Reader = Rc::new(FileReader(f, len));
    Ext4Fs::open(reader).unwrap()
}

/// What we read for one path.
#[derive(Debug)]
pub struct Seen {
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nanos: u32,
    pub sha: Option<[u8; 32]>,
    pub link: Option<Vec<u8>>,
}

pub fn sha_of_file(fs: &dyn FileSystem, ino: u64, size: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    loop {
        let n = fs.read_at(ino, off, &mut buf).unwrap_or_else(|e| panic!("reading inode {ino}: {e}"));
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        off += n as u64;
    }
    assert_eq!(off, size, "inode {ino} read length");
    h.finalize().into()
}

/// Walks the whole tree; every error is a test failure.
pub fn walk(fs: &Ext4Fs) -> BTreeMap<Vec<u8>, Seen> {
    walk_checked(fs, true)
}

/// [`walk`] for images we damaged: listing errors are skipped and
/// problems allowed (reads must still succeed).
pub fn walk_ignoring(fs: &Ext4Fs) -> BTreeMap<Vec<u8>, Seen> {
    walk_checked(fs, false)
}

fn walk_checked(fs: &Ext4Fs, strict: bool) -> BTreeMap<Vec<u8>, Seen> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(Vec::new(), fs.root())];
    while let Some((path, dir)) = stack.pop() {
        for e in fs.read_dir(dir).unwrap() {
            let e = match e {
                Ok(e) => e,
                Err(_) if !strict => continue,
                Err(e) => panic!("listing {}: {e}", String::from_utf8_lossy(&path)),
            };
            let mut p = path.clone();
            p.push(b'/');
            p.extend_from_slice(&e.name);
            let m = fs.stat(e.inode).unwrap();
            if strict {
                assert!(m.problems.is_empty(), "{:?}", m.problems);
                if let Some(k) = e.kind {
                    assert_eq!(k, m.kind, "dirent type of {}", String::from_utf8_lossy(&p));
                }
            }
            let (sha, link) = match m.kind {
                FileKind::File => (Some(sha_of_file(fs, e.inode, m.size)), None),
                FileKind::Symlink => (None, Some(fs.read_link(e.inode).unwrap())),
                FileKind::Dir => {
                    stack.push((p.clone(), e.inode));
                    (None, None)
                }
                _ => (None, None),
            };
            let seen = Seen {
                kind: m.kind,
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
                size: m.size,
                mtime: m.mtime.secs,
                mtime_nanos: m.mtime.nanos,
                sha,
                link,
            };
            let fresh = out.insert(p, seen).is_none();
            assert!(fresh || !strict, "duplicate name");
        }
    }
    out
}

/// Compares the walk with the source tree.
pub fn compare_with_source(src: &Path, seen: &BTreeMap<Vec<u8>, Seen>) {
    let mut expected = 0usize;
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(src).unwrap();
            let mut key = b"/".to_vec();
            key.extend_from_slice(rel.as_os_str().as_bytes());
            let got = seen.get(&key).unwrap_or_else(|| panic!("{} missing from the image", rel.display()));
            expected += 1;
            let m = std::fs::symlink_metadata(&path).unwrap();
            let what = rel.display();
            assert_eq!(got.mode, m.mode() & 0o7777, "mode of {what}");
            assert_eq!(got.uid, m.uid(), "uid of {what}");
            assert_eq!(got.gid, m.gid(), "gid of {what}");
            assert_eq!(got.mtime, m.mtime(), "mtime of {what}");
            // mke2fs -d stores whole seconds only (nanoseconds: see the times test).
            assert_eq!(got.mtime_nanos, 0, "mtime nanoseconds of {what}");
            let ft = m.file_type();
            if ft.is_dir() {
                assert_eq!(got.kind, FileKind::Dir, "{what}");
                stack.push(path);
            } else if ft.is_symlink() {
                assert_eq!(got.kind, FileKind::Symlink, "{what}");
                let target = std::fs::read_link(&path).unwrap();
                assert_eq!(got.link.as_deref(), Some(target.as_os_str().as_bytes()), "target of {what}");
                assert_eq!(got.size, m.len(), "size of {what}");
            } else {
                assert_eq!(got.kind, FileKind::File, "{what}");
                assert_eq!(got.size, m.len(), "size of {what}");
                let want: [u8; 32] = Sha256::digest(std::fs::read(&path).unwrap()).into();
                assert_eq!(got.sha, Some(want), "bytes of {what}");
            }
        }
    }
    // lost+found is the only extra.
    assert_eq!(seen.keys().filter(|k| !k.starts_with(b"/lost+found")).count(), expected);
}

/// Builds an image with `mke2fs args -d src` and forces htree directories.
pub fn build(name: &str, args: &[&str], size: &str, big: bool, sparse: bool) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_tree(&src, big, sparse);
    let img = dir.join("fs.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-E", "root_owner=0:0"]).args(args).arg("-d").arg(&src).arg(&img).arg(size);
    run(c, &[0]);
    let mut c = tool("e2fsck");
    c.args(["-fyD"]).arg(&img);
    run(c, &[0, 1]);
    (src, img)
}

pub fn check_config(name: &str, args: &[&str], size: &str, format: &str, block_size: u32) {
    let sparse = name == "ext2-1k";
    let (src, img) = build(name, args, size, true, sparse);
    let fs = open_image(&img);
    let info = fs.info();
    assert_eq!(info.format, format, "{info:?}");
    assert_eq!(info.block_size, Some(block_size));
    assert!(info.problems.is_empty(), "{:?}", info.problems);
    let seen = walk(&fs);
    compare_with_source(&src, &seen);
    // The big directory is indexed when the filesystem has dir_index.
    let mut c = tool("debugfs");
    c.args(["-R", "stat /many"]).arg(&img);
    let stat = run(c, &[0]);
    if info.details.iter().any(|(k, v)| k == "features" && v.contains("dir_index")) {
        let flags = stat.split("Flags: 0x").nth(1).and_then(|s| s.split_whitespace().next()).unwrap();
        let flags = u32::from_str_radix(flags, 16).unwrap();
        let inline = info.details.iter().any(|(k, v)| k == "features" && v.contains("inline_data"));
        assert!(flags & 0x1000 != 0 || inline, "/many is not hash-indexed: {stat}");
    }
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}


/// What `debugfs -R "rdump / OUT"` wrote for one path.
#[derive(Debug)]
pub struct Dumped {
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub size: u64,
    /// File bytes.
    pub data: Option<Vec<u8>>,
    pub link: Option<Vec<u8>>,
}

/// Dumps the whole image with debugfs's rdump and reads the result back:
/// path ("/a/b", as `walk` keys it) → what debugfs wrote.
pub fn rdump(img: &Path, out: &Path) -> BTreeMap<Vec<u8>, Dumped> {
    std::fs::create_dir_all(out).unwrap();
    let mut c = tool("debugfs");
    c.arg("-R").arg(format!("rdump / {}", out.display())).arg(img);
    run(c, &[0]);
    let mut seen = BTreeMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let mut key = b"/".to_vec();
            key.extend_from_slice(path.strip_prefix(out).unwrap().as_os_str().as_bytes());
            let m = std::fs::symlink_metadata(&path).unwrap();
            let ft = m.file_type();
            let (kind, data, link) = if ft.is_dir() {
                stack.push(path.clone());
                (FileKind::Dir, None, None)
            } else if ft.is_symlink() {
                (FileKind::Symlink, None, Some(std::fs::read_link(&path).unwrap().as_os_str().as_bytes().to_vec()))
            } else if ft.is_file() {
                (FileKind::File, Some(std::fs::read(&path).unwrap()), None)
            } else {
                (FileKind::Unknown, None, None)
            };
            let d = Dumped { kind, mode: m.mode() & 0o7777, uid: m.uid(), gid: m.gid(), mtime: m.mtime(), size: m.len(), data, link };
            seen.insert(key, d);
        }
    }
    seen
}

/// Compares our full walk with debugfs's rdump of the same image: the same
/// names, and for each the kind, permission bits, owner, mtime, bytes
/// (sha256) and symlink target. rdump sets the mode before the owner, and
/// chown clears setuid/setgid, so only the low nine bits are compared
/// (compare_with_source checks the special bits); it leaves symlinks owned
/// by whoever ran it, with the time of the dump. debugfs 1.47 also pads
/// inline-data files to i_block's 60 bytes with zeros.
pub fn compare_with_rdump(ours: &BTreeMap<Vec<u8>, Seen>, theirs: &BTreeMap<Vec<u8>, Dumped>) {
    let names = |m: Vec<&Vec<u8>>| m.into_iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>();
    assert_eq!(names(ours.keys().collect()), names(theirs.keys().collect()), "names differ from debugfs rdump");
    for (path, d) in theirs {
        let s = &ours[path];
        let what = String::from_utf8_lossy(path);
        assert_eq!(s.kind, d.kind, "kind of {what}");
        assert_eq!(s.mode & 0o777, d.mode & 0o777, "mode of {what}");
        if s.kind == FileKind::Symlink {
            assert_eq!(s.link, d.link, "target of {what}");
            continue;
        }
        if is_root() {
            assert_eq!((s.uid, s.gid), (d.uid, d.gid), "owner of {what}");
        }
        assert_eq!(s.mtime, d.mtime, "mtime of {what}");
        if let Some(data) = &d.data {
            let mut data = &data[..];
            if data.len() == 60 && s.size < 60 && data[s.size as usize..].iter().all(|b| *b == 0) {
                data = &data[..s.size as usize];
            }
            assert_eq!(s.size, data.len() as u64, "size of {what}");
            let want: [u8; 32] = Sha256::digest(data).into();
            assert_eq!(s.sha, Some(want), "bytes of {what}");
        }
    }
}

/// Runs a debugfs script with -w (one command per line) on `img`, which
/// must succeed; returns (stdout, stderr).
pub fn debugfs_w(img: &Path, script: &str) -> (String, String) {
    use std::io::Write;
    let mut c = tool("debugfs");
    c.args(["-w", "-f", "-"]).arg(img).stdin(std::process::Stdio::piped());
    let mut child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// One read-only debugfs request (`-R`), which must succeed; its stdout.
pub fn debugfs(img: &Path, request: &str) -> String {
    let mut c = tool("debugfs");
    c.args(["-R", request]).arg(img);
    run(c, &[0])
}

/// Counts reads reaching the image.
pub struct Counting(pub Reader, pub std::cell::Cell<u64>);

impl ReadAt for Counting {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> salvage::Result<()> {
        self.1.set(self.1.get() + 1);
        self.0.read_exact_at(offset, buf)
    }
}
