//! `salvage export` against images made by `mke2fs -d` from trees built
//! here, checked with the zip crate, Python's zipfile, `unzip -X` (as
//! root, so owners are restored) and `zipinfo`.
//!
//! Needs root (chown, mke2fs -d keeps owners), e2fsprogs, unzip and python3.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

mod common;
use common::pseudo_random;

const BIN: &str = env!("CARGO_BIN_EXE_salvage");
const TOOLS_PATH: &str = "/usr/sbin:/sbin:/usr/bin:/bin";
/// 1965-06-01T12:00:00Z and 2040-01-01T00:00:00Z.
const T1965: i64 = -144_676_800;
const T2040: i64 = 2_208_988_800;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("salvage-export-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sh(script: &str) -> String {
    let out = Command::new("bash")
        .arg("-ec")
        .arg(script)
        .env(
            "PATH",
            format!("{TOOLS_PATH}:{}", std::env::var("PATH").unwrap_or_default()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Runs the CLI; returns (exit code, stderr).
fn export(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).arg("export").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The tree: owners, special bits, old and future times, a symlink, an
/// empty folder, a hard link, a fifo, a name that is not UTF-8, a file of
/// several chunks and a compressible one.
fn make_tree(root: &Path) {
    let r = root.display();
    sh(&format!(
        r#"cd {r}
mkdir -p etc home/alice/empty srv/www data
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n' > etc/passwd
printf 'root:x:0:\nstaff:x:50:\n' > etc/group
echo hello > home/alice/hi.txt
touch -d @{T1965} home/alice/hi.txt
echo 'server {{ listen 80; }}' > srv/www/site.conf
chmod 0640 srv/www/site.conf
chown 33:33 srv/www/site.conf
ln -s ../home/alice/hi.txt data/link
ln -s "$(printf 'caf\xe9')" data/odd-link
echo linked > data/first
ln data/first data/second
mkfifo data/fifo
printf 'latin' > "$(printf 'data/caf\xe9.txt')"
mkdir "$(printf 'data/d\xe9')"
echo inside > "$(printf 'data/d\xe9/in')"
chown 1000:50 "$(printf 'data/d\xe9')"
chmod 0700 "$(printf 'data/d\xe9')"
seq 1 300000 > data/numbers.txt
chown -R 1000:50 home/alice
chmod 4750 home/alice/hi.txt
chmod 1777 data
"#
    ));
    std::fs::write(
        root.join("data/random.bin"),
        pseudo_random(3 << 20 | 12345, 7),
    )
    .unwrap();
}

/// Builds an ext4 image of `tree` and gives data/first a 2040 mtime
/// (mke2fs -d stores only 32-bit times; debugfs sets the epoch bits).
fn make_image(tree: &Path, img: &Path, size: &str, extra: &str) {
    sh(&format!(
        "mke2fs -q -F -t ext4 -b 4096 {extra} -d {} {} {size}",
        tree.display(),
        img.display()
    ));
    sh(&format!(
        "debugfs -w -R 'set_inode_field /data/first mtime 20400101000000' {} 2>/dev/null",
        img.display()
    ));
    sh(&format!("touch -d @{T2040} {}/data/first", tree.display()));
}

/// Source entries by relative path (raw bytes), from lstat.
fn source(root: &Path) -> BTreeMap<Vec<u8>, std::fs::Metadata> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.insert(
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec(),
                m,
            );
        }
    }
    out
}

fn python(script: &str, zip: &Path) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(zip)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Python's view of each entry: raw name, mode, size, sha256, and the
/// times and owner from the extra fields.
const PY_LIST: &str = r#"
import sys, zipfile, hashlib, struct
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
for i in z.infolist():
    raw = i.filename.encode('utf-8' if i.flag_bits & 0x800 else 'cp437')
    ut = ntfs = uid = gid = ''
    x = i.extra
    while len(x) >= 4:
        tag, n = struct.unpack('<HH', x[:4]); body = x[4:4+n]; x = x[4+n:]
        if tag == 0x5455: ut = struct.unpack('<I', body[1:5])[0]
        if tag == 0x7875: uid, gid = struct.unpack('<xxIxI', body)
        if tag == 0x000a: ntfs = struct.unpack('<Q', body[8:16])[0]
    data = b'' if i.is_dir() else z.read(i)
    print(raw.hex(), oct(i.external_attr >> 16), i.file_size, i.compress_type, hashlib.sha256(data).hexdigest(), ut, ntfs, uid, gid, '%04d-%02d-%02d' % i.date_time[:3])
"#;

struct PyEntry {
    mode: u32,
    size: u64,
    method: u32,
    sha: String,
    ut: Option<i64>,
    ntfs: Option<u64>,
    uid: u32,
    gid: u32,
    dos_date: String,
}

fn python_entries(zip: &Path) -> BTreeMap<Vec<u8>, PyEntry> {
    let mut out = BTreeMap::new();
    for line in python(PY_LIST, zip).lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let name: Vec<u8> = (0..f[0].len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&f[0][i..i + 2], 16).unwrap())
            .collect();
        let name = name.strip_suffix(b"/").map(|n| n.to_vec()).unwrap_or(name);
        out.insert(
            name,
            PyEntry {
                mode: u32::from_str_radix(f[1].trim_start_matches("0o"), 8).unwrap(),
                size: f[2].parse().unwrap(),
                method: f[3].parse().unwrap(),
                sha: f[4].to_string(),
                ut: f[5].parse().ok(),
                ntfs: f[6].parse().ok(),
                uid: f[7].parse().unwrap_or(u32::MAX),
                gid: f[8].parse().unwrap_or(u32::MAX),
                dos_date: f[9].to_string(),
            },
        );
    }
    out
}

#[test]
fn tree_round_trips_through_zip_python_unzip_and_zipinfo() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = scratch("roundtrip");
    let tree = dir.join("tree");
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree);
    let img = dir.join("disk.img");
    make_image(&tree, &img, "64M", "");
    let zip_path = dir.join("out.zip");
    let (code, err) = export(&[img.to_str().unwrap(), "/", "-o", zip_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!dir.join("out.zip.part").exists());

    let src = source(&tree);
    let py = python_entries(&zip_path);

    // Every source entry but the fifo is in the zip with its bytes, mode, owner and time.
    for (name, m) in &src {
        if m.file_type().is_fifo() {
            assert!(!py.contains_key(name), "the fifo must not be stored");
            continue;
        }
        let e = py
            .get(name)
            .unwrap_or_else(|| panic!("{} missing from the zip", String::from_utf8_lossy(name)));
        assert_eq!(
            e.mode,
            m.mode() & 0o177777,
            "mode of {}",
            String::from_utf8_lossy(name)
        );
        assert_eq!(
            (e.uid, e.gid),
            (m.uid(), m.gid()),
            "owner of {}",
            String::from_utf8_lossy(name)
        );
        let expect = if m.is_symlink() {
            sha(
                std::fs::read_link(tree.join(std::ffi::OsStr::from_bytes(name)))
                    .unwrap()
                    .as_os_str()
                    .as_bytes(),
            )
        } else if m.is_file() {
            sha(&std::fs::read(tree.join(std::ffi::OsStr::from_bytes(name))).unwrap())
        } else {
            sha(b"")
        };
        assert_eq!(e.sha, expect, "bytes of {}", String::from_utf8_lossy(name));
        if m.is_file() {
            assert_eq!(e.size, m.size());
            assert_eq!(e.method, 0, "stored by default");
        }
        if m.is_dir() && std::str::from_utf8(name).is_err() {
            // Copied raw (see write_raw_named_dir): DOS time only.
            assert_eq!((e.ut, e.ntfs), (None, None));
            continue;
        }
        // NTFS times carry every time (mke2fs -d stores whole seconds); UT from 1970.
        let ticks = (m.mtime() + 11_644_473_600) as u64 * 10_000_000;
        assert_eq!(
            e.ntfs,
            Some(ticks),
            "NTFS time of {}",
            String::from_utf8_lossy(name)
        );
        if m.mtime() >= 0 {
            assert_eq!(
                e.ut,
                Some(m.mtime()),
                "UT time of {}",
                String::from_utf8_lossy(name)
            );
        } else {
            assert_eq!(e.ut, None);
            assert_eq!(e.dos_date, "1980-01-01", "DOS time is clamped");
        }
    }
    assert_eq!(py[b"data/first".as_slice()].dos_date, "2040-01-01");
    assert!(
        py.contains_key(b"manifest.csv".as_slice())
            && py.contains_key(b"SALVAGE-REPORT.txt".as_slice())
    );
    assert!(
        py.contains_key(b"home/alice/empty".as_slice()),
        "empty folders are kept"
    );

    // The zip crate reads the same archive.
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut names = 0;
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f
            .name_raw()
            .strip_suffix(b"/")
            .unwrap_or(f.name_raw())
            .to_vec();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if let Some(m) = src.get(&name) {
            // The zip crate's reader keeps the type and rwx bits only.
            assert_eq!(
                f.unix_mode().map(|u| u & 0o170777),
                Some(m.mode() & 0o170777)
            );
            if m.is_file() {
                assert_eq!(sha(&data), py[&name].sha);
            }
            names += 1;
        }
    }
    assert_eq!(names, src.len() - 1, "all but the fifo");

    // unzip -X -K as root restores bytes, modes (-K: setuid too), owners, times and links.
    let out = dir.join("unzipped");
    sh(&format!(
        "LANG=C unzip -X -K -q {} -d {}",
        zip_path.display(),
        out.display()
    ));
    let back = source(&out);
    for (name, m) in &src {
        if m.file_type().is_fifo() {
            continue;
        }
        let b = back
            .get(name)
            .unwrap_or_else(|| panic!("unzip lost {}", String::from_utf8_lossy(name)));
        let shown = String::from_utf8_lossy(name);
        // unzip 6.0 sets folders' rwx bits only (the sticky bit is in the zip: see zipinfo below).
        let mask = if m.is_dir() { 0o170777 } else { 0o177777 };
        assert_eq!(b.mode() & mask, m.mode() & mask, "unzip mode of {shown}");
        assert_eq!(
            (b.uid(), b.gid()),
            (m.uid(), m.gid()),
            "unzip owner of {shown}"
        );
        if m.is_symlink() {
            let p = |root: &Path| {
                std::fs::read_link(root.join(std::ffi::OsStr::from_bytes(name))).unwrap()
            };
            assert_eq!(p(&out), p(&tree), "link target of {shown}");
            continue;
        }
        if m.is_file() {
            let p =
                |root: &Path| std::fs::read(root.join(std::ffi::OsStr::from_bytes(name))).unwrap();
            assert!(p(&out) == p(&tree), "unzip bytes of {shown}");
            // unzip reads UT only (as unsigned): before 1970 it falls back to the clamped DOS time.
            let expected = if m.mtime() >= 0 {
                m.mtime()
            } else {
                315_532_800
            };
            assert_eq!(b.mtime(), expected, "unzip mtime of {shown}");
        }
    }

    // zipinfo shows the Unix modes, setuid and the link.
    let info = sh(&format!("zipinfo {}", zip_path.display()));
    assert!(
        info.lines()
            .any(|l| l.starts_with("-rwsr-x---") && l.ends_with("home/alice/hi.txt")),
        "{info}"
    );
    assert!(
        info.lines()
            .any(|l| l.starts_with("lrwxrwxrwx") && l.ends_with("data/link")),
        "{info}"
    );
    assert!(
        info.lines()
            .any(|l| l.starts_with("drwxrwxrwt") && l.ends_with("data/")),
        "{info}"
    );

    // Manifest and report.
    let manifest = String::from_utf8(
        z.by_name("manifest.csv")
            .map(|mut f| {
                let mut s = Vec::new();
                f.read_to_end(&mut s).unwrap();
                s
            })
            .unwrap(),
    )
    .unwrap();
    assert!(manifest.starts_with("path,type,size,mode,uid,gid,user,group,mtime,sha256,status\r\n"));
    let hi = sha(b"hello\n");
    assert!(manifest.contains(&format!("home/alice/hi.txt,file,6,4750,1000,50,alice,staff,1965-06-01T12:00:00.000000000Z,{hi},ok\r\n")), "{manifest}");
    assert!(manifest.contains("data/caf\\xe9.txt,file,5,"), "{manifest}");
    assert!(
        manifest.contains("data/fifo,fifo,0,0644,0,0,root,root,"),
        "{manifest}"
    );
    assert!(
        manifest.contains("2040-01-01T00:00:00.000000000Z"),
        "{manifest}"
    );
    let mut report = String::new();
    z.by_name("SALVAGE-REPORT.txt")
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    assert!(report.contains("data/fifo (fifo)"), "{report}");
    assert!(
        report.contains("data/second is the same file as data/first"),
        "{report}"
    );
    assert!(report.contains("data/caf\\xe9.txt"), "{report}");
    assert!(report.contains("Journal:"), "{report}");

    // --deflate compresses the text, not the random bytes, and the archive stays valid.
    let deflated = dir.join("deflated.zip");
    let (code, err) = export(&[
        img.to_str().unwrap(),
        "/data",
        "/etc",
        "-o",
        deflated.to_str().unwrap(),
        "--deflate",
    ]);
    assert_eq!(code, 0, "{err}");
    let py = python_entries(&deflated);
    assert_eq!(py[b"data/numbers.txt".as_slice()].method, 8);
    assert_eq!(py[b"data/random.bin".as_slice()].method, 0);
    assert_eq!(
        py[b"data/numbers.txt".as_slice()].sha,
        sha(&std::fs::read(tree.join("data/numbers.txt")).unwrap())
    );
    sh(&format!("unzip -tq {}", deflated.display()));

    // One selected folder exports relative to its parent.
    let one = dir.join("one.zip");
    let (code, err) = export(&[
        img.to_str().unwrap(),
        "/srv/www",
        "-o",
        one.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let py = python_entries(&one);
    assert!(
        py.contains_key(b"www/site.conf".as_slice()) && py.contains_key(b"www".as_slice()),
        "{:?}",
        py.keys().collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finds a file's inode number with debugfs.
fn inode_of(img: &Path, path: &str) -> u64 {
    let out = sh(&format!(
        "debugfs -R 'stat {path}' {} 2>/dev/null | head -1",
        img.display()
    ));
    out.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no inode in {out:?}"))
}

#[test]
fn a_corrupt_extent_is_reported_and_the_rest_exports() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = scratch("corrupt");
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("data")).unwrap();
    std::fs::write(tree.join("data/good.bin"), pseudo_random(200_000, 1)).unwrap();
    std::fs::write(tree.join("data/bad.bin"), pseudo_random(300_000, 2)).unwrap();
    std::fs::write(tree.join("data/zz-after.txt"), b"still here\n").unwrap();
    let img = dir.join("disk.img");
    sh(&format!(
        "mke2fs -q -F -t ext4 -b 4096 -d {} {} 32M",
        tree.display(),
        img.display()
    ));
    let _ = inode_of(&img, "/data/bad.bin");
    // The first extent's physical start (i_block[5], ee_start_lo) far past the end.
    sh(&format!(
        "debugfs -w -R 'set_inode_field /data/bad.bin block[5] 0x7fffff00' {} 2>/dev/null",
        img.display()
    ));

    let zip_path = dir.join("out.zip");
    let (code, err) = export(&[
        img.to_str().unwrap(),
        "/data",
        "-o",
        zip_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "incomplete exports exit 3: {err}");
    assert!(err.contains("SALVAGE-REPORT.txt"), "{err}");
    let py = python_entries(&zip_path);
    assert!(
        !py.contains_key(b"data/bad.bin".as_slice()),
        "left out without --partial"
    );
    assert_eq!(
        py[b"data/good.bin".as_slice()].sha,
        sha(&pseudo_random(200_000, 1))
    );
    assert_eq!(
        py[b"data/zz-after.txt".as_slice()].sha,
        sha(b"still here\n")
    );
    let report = python("import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).read('SALVAGE-REPORT.txt').decode())", &zip_path);
    assert!(report.contains("LEFT OUT BECAUSE OF DAMAGE"), "{report}");
    assert!(
        report.lines().any(|l| l
            .trim_start()
            .starts_with("data/bad.bin: unreadable from byte 0")),
        "{report}"
    );

    // --partial keeps it, zeros where unreadable, marked incomplete.
    let partial = dir.join("partial.zip");
    let (code, err) = export(&[
        img.to_str().unwrap(),
        "/data",
        "-o",
        partial.to_str().unwrap(),
        "--partial",
    ]);
    assert_eq!(code, 3, "{err}");
    let py = python_entries(&partial);
    let bad = &py[b"data/bad.bin".as_slice()];
    assert_eq!(bad.size, 300_000);
    assert_eq!(bad.sha, sha(&vec![0u8; 300_000]));
    let manifest = python(
        "import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).read('manifest.csv').decode())",
        &partial,
    );
    assert!(
        manifest
            .lines()
            .any(|l| l.starts_with("data/bad.bin,")
                && l.contains("incomplete: zeros at bytes 0–299999")),
        "{manifest}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zip64_for_a_file_over_4_gib_and_70000_entries() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = scratch("zip64");
    let tree = dir.join("tree");
    sh(&format!(
        "mkdir -p {t}/many && cd {t}/many && for d in $(seq -w 1 70); do mkdir d$d && (cd d$d && seq -f 'f%04g' 1 1000 | xargs touch); done && cd .. && echo tail > many/zz && truncate -s 4600M big.sparse && printf 'end' >> big.sparse",
        t = tree.display()
    ));
    let img = dir.join("disk.img");
    sh(&format!(
        "mke2fs -q -F -t ext4 -b 4096 -N 80000 -d {} {} 5G",
        tree.display(),
        img.display()
    ));
    let zip_path = dir.join("out.zip");
    let (code, err) = export(&[img.to_str().unwrap(), "/", "-o", zip_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::metadata(&zip_path).unwrap().len() > 4600 << 20);
    let listing = python(
        r#"
import sys, zipfile, zlib
z = zipfile.ZipFile(sys.argv[1])
i = z.getinfo('big.sparse')
crc = 0
with z.open(i) as f:
    while True:
        b = f.read(1 << 22)
        if not b: break
        crc = zlib.crc32(b, crc)
        last = b
print(len(z.infolist()), i.file_size, crc == i.CRC, last[-3:].decode(), z.read('many/zz').decode().strip())
"#,
        &zip_path,
    );
    // 70,000 files in 70 folders (mke2fs -d is quadratic in one folder's size)
    // + many/zz + many/ + lost+found/ + big.sparse + manifest + report.
    assert_eq!(
        listing.trim(),
        format!("70076 {} True end tail", (4600u64 << 20) + 3)
    );
    sh(&format!("unzip -tq {} >/dev/null", zip_path.display()));
    let _ = std::fs::remove_dir_all(&dir);
}
