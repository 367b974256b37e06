//! Journal replay against the real tools: dirty journals written with
//! debugfs's journal commands (jo/jw/jc), checked against e2fsck's on-disk
//! replay of a copy, against the image the journal's blocks came from, and
//! (replay off) against the image before the crash.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use salvage::fs::ext4::{Ext4Fs, Ext4Options};
use salvage::fs::FileSystem;
use salvage::read_at::{MemReader, Reader};

mod common;
use common::*;

const JBD2_MAGIC: [u8; 4] = [0xC0, 0x3B, 0x39, 0x98];

fn open_with(img: &Path, replay_journal: bool) -> Ext4Fs {
    let f = std::fs::File::open(img).unwrap();
    let len = f.metadata().unwrap().len();
    let reader: Reader = Rc::new(FileReader(f, len));
    Ext4Fs::open_with(reader, &Ext4Options { replay_journal }).unwrap()
}

/// The whole tree as comparable lines: path → kind, mode, owner, size,
/// mtime, sha256 or target.
fn tree(fs: &Ext4Fs) -> BTreeMap<Vec<u8>, String> {
    walk(fs)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(b"/lost+found"))
        .map(|(p, s)| (p, format!("{s:?}")))
        .collect()
}

fn journal_line(fs: &Ext4Fs) -> String {
    fs.info().details.into_iter().find(|(k, _)| k == "journal").map(|(_, v)| v).unwrap_or_default()
}

fn debugfs_script(img: &Path, script: &str) -> String {
    let (out, err) = debugfs_w(img, script);
    assert!(!err.contains("rror"), "debugfs: {err}");
    out
}

/// The first physical block of `path`'s data.
fn data_block(img: &Path, path: &str) -> u64 {
    debugfs(img, &format!("bmap {path} 0")).trim().parse().unwrap()
}

/// A small source tree: a few files and a directory of 40 names.
fn small_tree(root: &Path) {
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("one"), pseudo_random(5000, 1)).unwrap();
    std::fs::write(root.join("two"), pseudo_random(9000, 2)).unwrap();
    std::fs::write(root.join("three"), b"three\n").unwrap();
    std::fs::write(root.join("big"), pseudo_random(4 << 20, 3)).unwrap();
    for i in 0..40 {
        std::fs::write(root.join(format!("dir/name-{i:03}")), format!("{i}\n")).unwrap();
    }
}

struct Case {
    dir: PathBuf,
    block_size: usize,
    /// Before the crash.
    base: PathBuf,
    /// The state the journal's blocks come from.
    modified: PathBuf,
}

/// Builds `base` with mke2fs and `modified` from it: /one's first data
/// block rewritten (starting with the journal magic, so it must be
/// escaped), a new file written and /three removed (inode table,
/// directory, bitmaps, descriptors and superblock change).
fn case(name: &str, mkfs: &[&str], size: &str) -> Case {
    let dir = scratch(&format!("journal-{name}"));
    let src = dir.join("src");
    small_tree(&src);
    let base = dir.join("base.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-E", "root_owner=0:0"]).args(mkfs).arg("-d").arg(&src).arg(&base).arg(size);
    run(c, &[0]);
    let block_size = open_with(&base, false).info().block_size.unwrap() as usize;
    let modified = dir.join("modified.img");
    std::fs::copy(&base, &modified).unwrap();
    let new_file = dir.join("new-file");
    std::fs::write(&new_file, pseudo_random(3000, 9)).unwrap();
    debugfs_script(&modified, &format!("write {} /dir/added\nrm /three\n", new_file.display()));
    let block = data_block(&modified, "/one");
    let mut raw = std::fs::read(&modified).unwrap();
    let at = block as usize * block_size;
    let mut new = pseudo_random(block_size, 77);
    new[..4].copy_from_slice(&JBD2_MAGIC);
    raw[at..at + block_size].copy_from_slice(&new);
    std::fs::write(&modified, &raw).unwrap();
    Case { dir, block_size, base, modified }
}

impl Case {
    /// Blocks that differ between base and modified.
    fn changed_blocks(&self) -> Vec<u64> {
        let a = std::fs::read(&self.base).unwrap();
        let b = std::fs::read(&self.modified).unwrap();
        a.chunks(self.block_size)
            .zip(b.chunks(self.block_size))
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .map(|(i, _)| i as u64)
            .collect()
    }

    /// Writes the content of `blocks` (from modified) to a file for jw.
    fn block_file(&self, blocks: &[u64], name: &str) -> PathBuf {
        let b = std::fs::read(&self.modified).unwrap();
        let mut out = Vec::new();
        for &n in blocks {
            out.extend_from_slice(&b[n as usize * self.block_size..(n as usize + 1) * self.block_size]);
        }
        let p = self.dir.join(name);
        std::fs::write(&p, out).unwrap();
        p
    }

    /// A copy of base with `script` run by debugfs -w (journal commands).
    fn dirty(&self, name: &str, script: &str) -> PathBuf {
        let img = self.dir.join(name);
        std::fs::copy(&self.base, &img).unwrap();
        debugfs_script(&img, script);
        img
    }

    /// e2fsck -fy on a copy of `img`: the on-disk replay.
    fn fsck_copy(&self, img: &Path) -> PathBuf {
        let out = img.with_extension("fsck.img");
        std::fs::copy(img, &out).unwrap();
        let mut c = tool("e2fsck");
        c.args(["-fy"]).arg(&out);
        run(c, &[0, 1]);
        out
    }
}

fn join(blocks: &[u64]) -> String {
    blocks.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

/// One transaction with every changed block: the in-memory replay equals
/// e2fsck's on-disk replay and the modified image; without replay it
/// equals the image before the crash.
fn replays_like_e2fsck(name: &str, mkfs: &[&str], size: &str, jo: &str, expect_journal: &str) {
    let c = case(name, mkfs, size);
    let blocks = c.changed_blocks();
    let data = c.block_file(&blocks, "blocks");
    let dirty = c.dirty("dirty.img", &format!("{jo}\njw -b {} {}\njc\n", join(&blocks), data.display()));
    // /one's new first block starts with the journal magic: logged escaped.
    let log = debugfs(&dirty, "logdump -a");
    let one = data_block(&c.modified, "/one");
    let flags = log
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("FS block {one} logged at journal block ")))
        .and_then(|r| r.split("(flags 0x").nth(1))
        .and_then(|f| u32::from_str_radix(f.trim_end_matches(')'), 16).ok())
        .unwrap_or_else(|| panic!("block {one} not in the log:\n{log}"));
    assert!(flags & 1 != 0, "block {one} is not escaped:\n{log}");

    let replayed = open_with(&dirty, true);
    let line = journal_line(&replayed);
    assert_eq!(line, format!("replayed 1 transaction (sequence 1), {} blocks changed (journal {expect_journal})", blocks.len()));
    assert!(replayed.info().problems.is_empty(), "{:?}", replayed.info().problems);
    let ours = tree(&replayed);
    assert!(ours.contains_key(&b"/dir/added"[..]) && !ours.contains_key(&b"/three"[..]), "{:?}", ours.keys());

    let fsck = c.fsck_copy(&dirty);
    assert_eq!(ours, tree(&open_with(&fsck, false)), "{name}: replay differs from e2fsck's");
    assert_eq!(ours, tree(&open_with(&fsck, true)));
    assert_eq!(ours, tree(&open_with(&c.modified, false)), "{name}: replay differs from the modified image");

    let before = open_with(&dirty, false);
    assert_eq!(journal_line(&before), "needs recovery, not replayed (--no-journal)");
    assert_eq!(tree(&before), tree(&open_with(&c.base, false)), "{name}: --no-journal differs from the image before");
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn ext3_1k_no_checksums_32bit_tags() {
    replays_like_e2fsck("ext3-1k", &["-t", "ext3", "-b", "1024"], "16M", "jo", "v2, no checksums");
}

#[test]
fn ext3_4k() {
    replays_like_e2fsck("ext3-4k", &["-t", "ext3", "-b", "4096"], "32M", "jo", "v2, no checksums");
}

#[test]
fn ext4_4k_metadata_csum_64bit() {
    replays_like_e2fsck(
        "ext4-4k",
        &["-t", "ext4", "-b", "4096", "-O", "metadata_csum,64bit"],
        "32M",
        "jo -c",
        "v2, 64-bit tags, checksum v3",
    );
}

#[test]
fn ext4_1k_metadata_csum_64bit() {
    replays_like_e2fsck(
        "ext4-1k",
        &["-t", "ext4", "-b", "1024", "-O", "metadata_csum,64bit"],
        "16M",
        "jo -c",
        "v2, 64-bit tags, checksum v3",
    );
}

#[test]
fn ext4_1k_checksum_v2_32bit() {
    replays_like_e2fsck(
        "ext4-csum2",
        &["-t", "ext4", "-b", "1024", "-O", "metadata_csum,^64bit"],
        "16M",
        "jo -c -v 2",
        "v2, checksum v2",
    );
}

#[test]
fn ext4_4k_checksum_v1() {
    replays_like_e2fsck("ext4-csum1", &["-t", "ext4", "-b", "4096", "-O", "^metadata_csum"], "32M", "jo -c -v 1", "v2, 64-bit tags, checksum v1");
}

#[test]
fn ext4_4k_no_csum_32bit() {
    replays_like_e2fsck("ext4-nocsum", &["-t", "ext4", "-b", "4096", "-O", "^metadata_csum,^64bit"], "32M", "jo", "v2, no checksums");
}

/// Two transactions, the second revoking one block of the first: that
/// block keeps its old contents, like e2fsck does it.
fn revoke(name: &str, mkfs: &[&str], size: &str, jo: &str) {
    let c = case(name, mkfs, size);
    let blocks = c.changed_blocks();
    let data = c.block_file(&blocks, "blocks");
    let one = data_block(&c.modified, "/one");
    assert!(blocks.contains(&one));
    let dirty = c.dirty(
        "dirty.img",
        &format!("{jo}\njw -b {} {}\njc\njo\njw -r {one} /dev/null\njc\n", join(&blocks), data.display()),
    );
    let replayed = open_with(&dirty, true);
    let line = journal_line(&replayed);
    assert!(
        line.starts_with(&format!("replayed 2 transactions (sequence 1–2), {} blocks changed, 1 revoked", blocks.len() - 1)),
        "{line}"
    );
    let ours = tree(&replayed);
    let fsck = c.fsck_copy(&dirty);
    assert_eq!(ours, tree(&open_with(&fsck, false)), "{name}: replay differs from e2fsck's");
    // /one is as before the crash; the rest as after.
    let base = tree(&open_with(&c.base, false));
    assert_eq!(ours.get(&b"/one"[..]), base.get(&b"/one"[..]));
    assert!(ours.contains_key(&b"/dir/added"[..]));
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn revoke_ext3_1k() {
    revoke("revoke-ext3", &["-t", "ext3", "-b", "1024"], "16M", "jo");
}

#[test]
fn revoke_ext4_4k_csum_64bit() {
    revoke("revoke-ext4", &["-t", "ext4", "-b", "4096", "-O", "metadata_csum,64bit"], "32M", "jo -c");
}

/// The journal block holding transaction `seq`'s commit block, from logdump.
fn commit_block(img: &Path, seq: u32) -> u64 {
    let log = debugfs(img, "logdump");
    let want = format!("Found expected sequence {seq}, type 2 (commit block) at block ");
    log.lines().find_map(|l| l.strip_prefix(&want)).unwrap_or_else(|| panic!("{log}")).trim().parse().unwrap()
}

#[test]
fn bad_commit_checksum_stops_the_replay() {
    let c = case("badcommit", &["-t", "ext4", "-b", "4096", "-O", "metadata_csum,64bit"], "32M");
    let blocks = c.changed_blocks();
    let one = data_block(&c.modified, "/one");
    let rest: Vec<u64> = blocks.iter().copied().filter(|b| *b != one).collect();
    let first = c.block_file(&[one], "first");
    let second = c.block_file(&rest, "second");
    let dirty = c.dirty(
        "dirty.img",
        &format!("jo -c\njw -b {one} {}\njc\njo\njw -b {} {}\njc\n", first.display(), join(&rest), second.display()),
    );
    let commit = commit_block(&dirty, 2);
    let physical: u64 = debugfs(&dirty, &format!("bmap <8> {commit}")).trim().parse().unwrap();
    let mut raw = std::fs::read(&dirty).unwrap();
    raw[physical as usize * c.block_size + 0x100] ^= 0xFF;
    std::fs::write(&dirty, &raw).unwrap();

    let replayed = open_with(&dirty, true);
    assert_eq!(
        journal_line(&replayed),
        "replayed 1 transaction (sequence 1), 1 block changed (journal v2, 64-bit tags, checksum v3)"
    );
    assert_eq!(
        replayed.info().problems,
        vec![format!("transaction 2: commit block checksum mismatch at journal block {commit}; replay stops before it")]
    );
    let ours = tree(&replayed);
    // /one is new, the rest as before the crash.
    let base = tree(&open_with(&c.base, false));
    let modified = tree(&open_with(&c.modified, false));
    assert_eq!(ours.get(&b"/one"[..]), modified.get(&b"/one"[..]));
    assert_ne!(ours.get(&b"/one"[..]), base.get(&b"/one"[..]));
    assert!(ours.contains_key(&b"/three"[..]) && !ours.contains_key(&b"/dir/added"[..]));
    let fsck = c.fsck_copy(&dirty);
    assert_eq!(ours, tree(&open_with(&fsck, false)), "replay differs from e2fsck's");
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn unreadable_journal_leaves_the_filesystem_readable() {
    let c = case("badsb", &["-t", "ext4", "-b", "1024", "-O", "metadata_csum,64bit"], "16M");
    let blocks = c.changed_blocks();
    let data = c.block_file(&blocks, "blocks");
    let dirty = c.dirty("dirty.img", &format!("jo -c\njw -b {} {}\njc\n", join(&blocks), data.display()));
    // Wreck the journal superblock's magic.
    let physical: u64 = debugfs(&dirty, "bmap <8> 0").trim().parse().unwrap();
    let mut raw = std::fs::read(&dirty).unwrap();
    raw[physical as usize * c.block_size] ^= 0xFF;
    std::fs::write(&dirty, &raw).unwrap();
    let fs = open_with(&dirty, true);
    assert_eq!(journal_line(&fs), "needs recovery, unreadable, not replayed");
    assert_eq!(
        fs.info().problems,
        vec!["journal unreadable: journal superblock magic is 0x3f3b3998, expected 0xc03b3998; showing the filesystem without replay"]
    );
    assert_eq!(tree(&fs), tree(&open_with(&c.base, false)));
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn clean_and_journal_less_filesystems_say_so() {
    let c = case("clean", &["-t", "ext3", "-b", "1024"], "16M");
    assert_eq!(journal_line(&open_with(&c.base, true)), "clean");
    let dir = c.dir.clone();
    let img = dir.join("ext2.img");
    let mut m = tool("mke2fs");
    m.args(["-q", "-F", "-t", "ext2"]).arg(&img).arg("4M");
    run(m, &[0]);
    assert!(open_with(&img, true).info().details.iter().all(|(k, _)| k != "journal"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_no_journal_shows_the_state_before_the_crash() {
    let c = case("cli", &["-t", "ext4", "-b", "4096"], "32M");
    let blocks = c.changed_blocks();
    let data = c.block_file(&blocks, "blocks");
    let dirty = c.dirty("dirty.img", &format!("jo\njw -b {} {}\njc\n", join(&blocks), data.display()));
    let bin = env!("CARGO_BIN_EXE_salvage");
    let salvage = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let img = dirty.to_str().unwrap();
    let help = salvage(&["--help"]);
    assert!(help.contains("--no-journal"), "{help}");
    let info = salvage(&["info", img]);
    assert!(info.contains("journal: replayed 1 transaction (sequence 1)"), "{info}");
    let info = salvage(&["info", "--no-journal", img]);
    assert!(info.contains("journal: needs recovery, not replayed (--no-journal)"), "{info}");
    let after = salvage(&["ls", img, "/", "-R"]);
    let before = salvage(&["ls", "--no-journal", img, "/", "-R"]);
    assert!(after.contains("/dir/added") && !after.contains("/three"), "{after}");
    assert!(!before.contains("/dir/added") && before.contains("/three"), "{before}");
    let one_after = Command::new(bin).args(["cat", img, "/one"]).output().unwrap().stdout;
    let one_before = Command::new(bin).args(["cat", img, "/one", "--no-journal"]).output().unwrap().stdout;
    assert_eq!(one_before, pseudo_random(5000, 1));
    assert_eq!(&one_after[..4], &JBD2_MAGIC, "the escaped block's magic is restored");
    assert_eq!(&one_after[..c.block_size], &{
        let mut b = pseudo_random(c.block_size, 77);
        b[..4].copy_from_slice(&JBD2_MAGIC);
        b
    }[..]);
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn fuzz_entry_point_survives_garbage() {
    let _ = salvage::fs::ext4::fuzzing::ext4_journal(&[]);
    let _ = salvage::fs::ext4::fuzzing::ext4_journal(&[0u8; 4096]);
    let c = case("fuzz", &["-t", "ext4", "-b", "1024", "-O", "metadata_csum,64bit"], "16M");
    let blocks = c.changed_blocks();
    let data = c.block_file(&blocks, "blocks");
    let dirty = c.dirty("dirty.img", &format!("jo -c\njw -b {} {}\njc\n", join(&blocks), data.display()));
    let clean = std::fs::read(&dirty).unwrap();
    let journal: u64 = debugfs(&dirty, "bmap <8> 0").trim().parse().unwrap();
    // Flip bytes in the first journal blocks (superblock, descriptor, data, commit).
    let start = journal as usize * 1024;
    let mut seed = 0x1234_5678_u64;
    let t = Instant::now();
    let rounds: u64 = std::env::var("SALVAGE_FUZZ_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(200);
    for round in 0..rounds {
        let mut img = clean.clone();
        for _ in 0..1 + round % 8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = start + (seed % (8 * 1024)) as usize;
            img[at] ^= (seed >> 32) as u8 | 1;
        }
        let _ = salvage::fs::ext4::fuzzing::ext4_journal(&img);
    }
    assert!(t.elapsed() < Duration::from_secs(60 * rounds.div_ceil(200)));
    std::fs::remove_dir_all(&c.dir).unwrap();
}

/// The e2fsprogs j_* images: every one opens without panic; where e2fsck
/// replays without complaint, our replay matches its result.
#[test]
fn e2fsprogs_journal_corpus() {
    let Some(corpus) = std::env::var_os("SALVAGE_CORPUS") else {
        eprintln!("SALVAGE_CORPUS not set; skipping");
        return;
    };
    let root = Path::new(&corpus).join("e2fsprogs");
    let tmp = scratch("journal-corpus");
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("j_"))
        .collect();
    names.sort();
    let (mut opened, mut same, mut differ) = (0, 0, Vec::new());
    for name in &names {
        let dir = root.join(name);
        let img = tmp.join("image");
        let ok = if dir.join("image.gz").exists() {
            let out = Command::new("gzip").arg("-dc").arg(dir.join("image.gz")).output().unwrap();
            std::fs::write(&img, out.stdout).is_ok() && out.status.success()
        } else if dir.join("image.bz2").exists() {
            let out = Command::new("bzip2").arg("-dc").arg(dir.join("image.bz2")).output().unwrap();
            std::fs::write(&img, out.stdout).is_ok() && out.status.success()
        } else {
            false
        };
        if !ok {
            continue;
        }
        let t = Instant::now();
        let bytes = std::fs::read(&img).unwrap();
        let _ = salvage::fs::ext4::fuzzing::ext4_journal(&bytes);
        let Ok(fs) = Ext4Fs::open(Rc::new(MemReader::new(bytes)) as Reader) else {
            eprintln!("{name}: refused");
            continue;
        };
        opened += 1;
        let info = fs.info();
        eprintln!("{name}: journal: {}; problems: {:?}", journal_line(&fs), info.problems);
        assert!(t.elapsed() < Duration::from_secs(30), "{name} took {:?}", t.elapsed());
        // Compare with e2fsck's replay where it replays cleanly.
        let fsck = tmp.join("fsck");
        std::fs::copy(&img, &fsck).unwrap();
        let out = tool("e2fsck").args(["-fy"]).arg(&fsck).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if !text.contains("recovering journal") || text.contains("corrupt") || text.contains("error") {
            continue;
        }
        let Ok(after) = Ext4Fs::open_with(Rc::new(MemReader::new(std::fs::read(&fsck).unwrap())) as Reader, &Ext4Options { replay_journal: false }) else {
            continue;
        };
        if lenient_tree(&fs) == lenient_tree(&after) {
            eprintln!("{name}: same as e2fsck's replay");
            same += 1;
        } else {
            differ.push(name.clone());
        }
    }
    eprintln!("journal corpus: {} images, {opened} opened, {same} equal to e2fsck's replay, differ: {differ:?}", names.len());
    // Fast commits are not replayed (reported as a problem); e2fsck does.
    assert_eq!(differ, vec!["j_recover_fast_commit".to_string()]);
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Paths and file hashes, tolerating damage (corpus images are damaged).
fn lenient_tree(fs: &Ext4Fs) -> BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)> {
    use sha2::{Digest, Sha256};
    let mut out = BTreeMap::new();
    let mut stack = vec![(Vec::new(), fs.root(), 0)];
    while let Some((path, dir, depth)) = stack.pop() {
        let Ok(it) = fs.read_dir(dir) else { continue };
        for e in it.flatten().take(10_000) {
            let mut p = path.clone();
            p.push(b'/');
            p.extend_from_slice(&e.name);
            let Ok(m) = fs.stat(e.inode) else { continue };
            let mut hash = None;
            if m.kind == salvage::fs::FileKind::File && m.size < (1 << 24) {
                let mut buf = vec![0u8; m.size as usize];
                if fs.read_at(e.inode, 0, &mut buf).is_ok() {
                    hash = Some(Sha256::digest(&buf).to_vec());
                }
            }
            if m.kind == salvage::fs::FileKind::Dir && depth < 16 && p != b"/lost+found" {
                stack.push((p.clone(), e.inode, depth + 1));
            }
            out.insert(p, (m.size, hash));
        }
    }
    out
}

#[test]
fn damaged_journal_inode_falls_back_to_the_superblock_backup() {
    for (name, mkfs, jo) in [
        ("backup-ext3", &["-t", "ext3", "-b", "1024"][..], "jo"),
        ("backup-ext4", &["-t", "ext4", "-b", "4096", "-O", "metadata_csum,64bit"][..], "jo -c"),
    ] {
        let c = case(name, mkfs, if name == "backup-ext3" { "16M" } else { "32M" });
        let blocks = c.changed_blocks();
        let data = c.block_file(&blocks, "blocks");
        let dirty = c.dirty("dirty.img", &format!("{jo}\njw -b {} {}\njc\n", join(&blocks), data.display()));
        let good = tree(&open_with(&dirty, true));
        // Wreck the journal inode's mapping (extent magic or first block pointer).
        debugfs_script(&dirty, "sif <8> block[0] 0x12345678\n");
        let fs = open_with(&dirty, true);
        assert!(journal_line(&fs).starts_with("replayed 1 transaction"), "{name}: {}", journal_line(&fs));
        let problems = fs.info().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("the journal inode 8 is unreadable ("), "{problems:?}");
        assert!(problems[0].ends_with("); used the superblock's backup of its block map"), "{problems:?}");
        assert_eq!(tree(&fs), good);
        std::fs::remove_dir_all(&c.dir).unwrap();
    }
}

#[test]
fn external_journal_is_reported_not_fatal() {
    let c = case("external", &["-t", "ext4", "-b", "4096"], "32M");
    let img = c.dir.join("ext.img");
    std::fs::copy(&c.base, &img).unwrap();
    debugfs_script(
        &img,
        "ssv journal_inum 0\nssv journal_dev 0x801\nssv journal_uuid 0123abcd-4567-89ab-cdef-0123456789ab\nfeature needs_recovery\n",
    );
    let fs = open_with(&img, true);
    assert_eq!(
        journal_line(&fs),
        "external journal device 0123abcd-4567-89ab-cdef-0123456789ab (device number 0x801): not available, not replayed"
    );
    assert_eq!(
        fs.info().problems,
        vec!["the journal is on another device, which is not available; recent changes in it were not replayed"]
    );
    assert_eq!(tree(&fs), tree(&open_with(&c.base, false)));
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn untouched_ranges_read_straight_through() {
    let c = case("reads", &["-t", "ext4", "-b", "4096", "-O", "metadata_csum,64bit"], "32M");
    let blocks = c.changed_blocks();
    let data = c.block_file(&blocks, "blocks");
    let dirty = c.dirty("dirty.img", &format!("jo -c\njw -b {} {}\njc\n", join(&blocks), data.display()));
    let mut counts = Vec::new();
    for replay_journal in [false, true] {
        let f = std::fs::File::open(&dirty).unwrap();
        let len = f.metadata().unwrap().len();
        let counting = Rc::new(Counting(Rc::new(FileReader(f, len)), std::cell::Cell::new(0)));
        let fs = Ext4Fs::open_with(counting.clone(), &Ext4Options { replay_journal }).unwrap();
        let ino = fs.resolve(b"/big").unwrap();
        let before = counting.1.get();
        let mut buf = vec![0u8; 1 << 20];
        for i in 0..4u64 {
            assert_eq!(fs.read_at(ino, i << 20, &mut buf).unwrap(), 1 << 20);
            assert_eq!(buf[..], pseudo_random(4 << 20, 3)[(i << 20) as usize..((i + 1) << 20) as usize]);
        }
        counts.push(counting.1.get() - before);
    }
    assert_eq!(counts[0], counts[1], "reads of an untouched file without and with replay");
    assert!(counts[1] <= 8, "{counts:?}");
    std::fs::remove_dir_all(&c.dir).unwrap();
}

/// The log wraps around the end of the journal: the same transactions
/// moved so they start two blocks before the end replay the same.
#[test]
fn log_wrapping_around_the_journal_end() {
    // Extents, so `blocks <8>` lists only the journal's own blocks; no
    // journal checksums, so its superblock can be edited.
    let c = case("wrap", &["-t", "ext4", "-b", "1024", "-O", "^metadata_csum"], "16M");
    let blocks = c.changed_blocks();
    let data = c.block_file(&blocks, "blocks");
    let one = data_block(&c.modified, "/one");
    let dirty = c.dirty(
        "dirty.img",
        &format!("jo\njw -b {} {}\njc\njo\njw -r {one} /dev/null\njc\n", join(&blocks), data.display()),
    );
    let straight = open_with(&dirty, true);
    let want = tree(&straight);
    let want_line = journal_line(&straight);
    drop(straight);
    let physical: Vec<usize> =
        debugfs(&dirty, "blocks <8>").split_whitespace().map(|b| b.parse().unwrap()).collect();
    let bs = c.block_size;
    let mut raw = std::fs::read(&dirty).unwrap();
    let sb_at = physical[0] * bs;
    let be32 = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let (maxlen, first, start) = (be32(&raw, sb_at + 0x10), be32(&raw, sb_at + 0x14), be32(&raw, sb_at + 0x1C));
    assert_eq!((first, start), (1, 1));
    let span = maxlen - first;
    let shift = span - 2;
    let old: Vec<Vec<u8>> = (0..maxlen).map(|j| raw[physical[j] * bs..(physical[j] + 1) * bs].to_vec()).collect();
    for (j, block) in old.iter().enumerate().skip(first) {
        let to = first + (j - first + shift) % span;
        raw[physical[to] * bs..(physical[to] + 1) * bs].copy_from_slice(block);
    }
    raw[sb_at + 0x1C..sb_at + 0x20].copy_from_slice(&((first + shift) as u32).to_be_bytes());
    std::fs::write(&dirty, &raw).unwrap();
    let wrapped = open_with(&dirty, true);
    assert_eq!(journal_line(&wrapped), want_line);
    assert!(wrapped.info().problems.is_empty(), "{:?}", wrapped.info().problems);
    assert_eq!(tree(&wrapped), want);
    let fsck = c.fsck_copy(&dirty);
    assert_eq!(tree(&open_with(&fsck, false)), want, "e2fsck's replay of the wrapped log");
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn logged_block_past_the_end_is_skipped() {
    let dir = scratch("journal-outside");
    let img = dir.join("fs.img");
    let mut m = tool("mke2fs");
    m.args(["-q", "-F", "-t", "ext3", "-b", "1024"]).arg(&img).arg("16M");
    run(m, &[0]);
    let data = dir.join("data");
    std::fs::write(&data, pseudo_random(2048, 5)).unwrap();
    // Two free blocks near the end of the first group.
    debugfs_script(&img, &format!("jo\njw -b 8000,8001 {}\njc\n", data.display()));
    // The second tag (after the first tag's 8 bytes and its 16-byte UUID).
    let descriptor: usize = debugfs(&img, "bmap <8> 1").trim().parse().unwrap();
    let mut raw = std::fs::read(&img).unwrap();
    let at = descriptor * 1024 + 36;
    assert_eq!(raw[at..at + 4], 8001u32.to_be_bytes());
    raw[at..at + 4].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
    std::fs::write(&img, &raw).unwrap();
    let fs = open_with(&img, true);
    assert_eq!(journal_line(&fs), "replayed 1 transaction (sequence 1), 1 block changed (journal v2, no checksums)");
    assert_eq!(
        fs.info().problems,
        vec!["transaction 1: logged block 2147483647 is past the end of the filesystem (16384 blocks); skipped"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
