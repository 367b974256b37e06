//! ext2/3/4 damage and metadata: checksum mismatches made by flipping bytes
//! at places debugfs names, backup superblocks after zeroing the primary,
//! extended attributes and device numbers compared with what e2fsprogs
//! reports. Every image is built by mke2fs from a source tree made here.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use salvage::fs::{flag_names, FileKind, FileSystem, LISTED_ANYWAY};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_salvage");

/// Runs a debugfs script with -w (each line one command).
fn debugfs_write(img: &Path, script: &str) -> String {
    let (out, err) = debugfs_w(img, script);
    let text = out + &err;
    assert!(!text.contains("Insufficient space"), "debugfs: {text}");
    text
}

/// The number after `key` in debugfs output ("File ACL: 1234", "(1):567").
fn number_after(text: &str, key: &str) -> u64 {
    let rest = text.split(key).nth(1).unwrap_or_else(|| panic!("{key:?} not in {text}"));
    rest.trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// Flips the bits of one byte of the image file.
fn flip(img: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().read(true).write(true).open(img).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0xFF;
    f.write_all_at(&b, at).unwrap();
}

/// Runs the CLI; returns (status, stdout, stderr).
fn salvage(args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = salvage_raw(args);
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

fn salvage_raw(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn has_tool(name: &str) -> bool {
    tool(name).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// A metadata_csum ext4 with 1 KiB blocks: an htree directory, a file
/// with an extent tree of depth 1 (many separate runs), a file with an
/// external xattr block, plus small files.
fn csum_image(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("many")).unwrap();
    for i in 0..400 {
        std::fs::write(src.join(format!("many/entry-with-a-longish-name-{i:04}")), format!("{i}")).unwrap();
    }
    std::fs::write(src.join("plain"), pseudo_random(5000, 11)).unwrap();
    // Twelve data runs separated by holes: more extents than the inode holds.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(src.join("frag")).unwrap();
        for i in 0..12u64 {
            f.seek(SeekFrom::Start(i * 64 * 1024)).unwrap();
            f.write_all(&pseudo_random(2048, 100 + i)).unwrap();
        }
    }
    std::fs::write(src.join("tagged"), b"has attributes").unwrap();
    let img = dir.join("fs.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-t", "ext4", "-b", "1024", "-O", "metadata_csum,64bit", "-E", "root_owner=0:0", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("16M");
    run(c, &[0]);
    let mut c = tool("e2fsck");
    c.args(["-fyD"]).arg(&img);
    run(c, &[0, 1]);
    // 700 bytes do not fit the inode: they land in an external block.
    std::fs::write(dir.join("v700"), "v".repeat(700)).unwrap();
    debugfs_write(&img, &format!("ea_set -f {} /tagged user.big\nea_set /tagged user.small hi\n", dir.join("v700").display()));
    (src, img)
}

fn sha_file(p: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(p).unwrap()).into()
}

#[test]
fn healthy_checksummed_image_has_no_problems() {
    let (src, img) = csum_image("healthy");
    let fs = open_image(&img);
    assert!(fs.info().problems.is_empty(), "{:?}", fs.info().problems);
    let frag = fs.resolve(b"/frag").unwrap();
    assert!(debugfs(&img, "stat /frag").contains("(ETB0)"), "frag should have an extent block");
    assert!(fs.stat(frag).unwrap().problems.is_empty());
    let tagged = fs.resolve(b"/tagged").unwrap();
    assert!(fs.stat(tagged).unwrap().problems.is_empty());
    let many = fs.resolve(b"/many").unwrap();
    assert!(fs.read_dir(many).unwrap().all(|e| e.is_ok()));
    compare_with_source(&src, &walk(&fs));
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

#[test]
fn bad_directory_leaf_block_is_listed_with_one_problem() {
    let (src, img) = csum_image("dirleaf");
    let stat = debugfs(&img, "stat /many");
    assert!(stat.contains("Flags: 0x81000") || stat.contains("Flags: 0x1000"), "/many is not indexed: {stat}");
    let block1 = number_after(&stat, "(1):");
    // The last byte of the block is the tail's stored checksum: names stay intact.
    flip(&img, block1 * 1024 + 1023);
    let fs = open_image(&img);
    let many = fs.resolve(b"/many").unwrap();
    let items: Vec<_> = fs.read_dir(many).unwrap().collect();
    let names: Vec<Vec<u8>> = items.iter().filter_map(|i| i.as_ref().ok().map(|e| e.name.clone())).collect();
    assert_eq!(names.len(), 400);
    let errors: Vec<String> = items.iter().filter_map(|i| i.as_ref().err().map(|e| e.to_string())).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert!(e.starts_with(&format!("inode {many}, byte 0x400: directory block 1 (disk block {block1}): directory block checksum is ")), "{e}");
    assert!(e.ends_with(LISTED_ANYWAY), "{e}");

    // The CLI lists every name and shows the problem once, with the path.
    let (code, out, err) = salvage(&["ls", "--json", img.to_str().unwrap(), "/many"]);
    assert_eq!(code, 0, "{err}");
    let list = json(&out);
    let list = list.as_array().unwrap();
    assert_eq!(list.iter().filter(|e| e["type"] == "file").count(), 400);
    let with_problems: Vec<_> = list.iter().filter(|e| !e["problems"].as_array().unwrap().is_empty()).collect();
    assert_eq!(with_problems.len(), 1);
    assert_eq!(with_problems[0]["path"], "/many");
    assert_eq!(with_problems[0]["problems"][0], format!("in this directory: {e}"));
    assert_eq!(err.matches("warning: /many: in this directory: ").count(), 1, "{err}");
    // And the files in that block still read right.
    let seen = walk_tolerant(&fs);
    for (path, sha) in seen {
        let p = src.join(std::str::from_utf8(&path[1..]).unwrap());
        assert_eq!(sha, sha_file(&p), "{}", p.display());
    }
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

/// Files under /many with their sha256, ignoring the directory's problems.
fn walk_tolerant(fs: &dyn FileSystem) -> Vec<(Vec<u8>, [u8; 32])> {
    let many = fs.resolve(b"/many").unwrap();
    let mut out = Vec::new();
    for e in fs.read_dir(many).unwrap().flatten() {
        let m = fs.stat(e.inode).unwrap();
        let mut p = b"/many/".to_vec();
        p.extend_from_slice(&e.name);
        out.push((p, sha_of_file(fs, e.inode, m.size)));
    }
    out
}

#[test]
fn bad_htree_root_is_one_problem_and_leaves_still_list() {
    let (src, img) = csum_image("dxroot");
    let stat = debugfs(&img, "stat /many");
    let block0 = number_after(&stat, "(0):");
    // dx_tail sits at the end of the root block (limit fills it); flip its checksum.
    flip(&img, block0 * 1024 + 1023);
    let fs = open_image(&img);
    let many = fs.resolve(b"/many").unwrap();
    let items: Vec<_> = fs.read_dir(many).unwrap().collect();
    assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 400);
    let errors: Vec<String> = items.iter().filter_map(|i| i.as_ref().err().map(|e| e.to_string())).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("inode {many}, byte 0x0: directory block 0 (disk block {block0}) is an htree index")),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("htree block checksum is"), "{}", errors[0]);
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

#[test]
fn bad_extent_block_is_a_problem_for_that_file_only() {
    let (src, img) = csum_image("extent");
    let stat = debugfs(&img, "stat /frag");
    let etb = number_after(&stat, "(ETB0):");
    // The tail checksum follows eh_max entries; for 1 KiB that is byte 12 + 84 * 12.
    flip(&img, etb * 1024 + 12 + 84 * 12);
    let fs = open_image(&img);
    assert!(fs.info().problems.is_empty(), "{:?}", fs.info().problems);
    let frag = fs.resolve(b"/frag").unwrap();
    let m = fs.stat(frag).unwrap();
    assert_eq!(m.problems.len(), 1, "{:?}", m.problems);
    assert!(
        m.problems[0].starts_with(&format!("extent tree block {etb}: extent block checksum is ")),
        "{}",
        m.problems[0]
    );
    // The data is still returned, and right.
    assert_eq!(sha_of_file(&fs, frag, m.size), sha_file(&src.join("frag")));
    // Its neighbours have no problems.
    for p in [&b"/plain"[..], b"/tagged", b"/many"] {
        let ino = fs.resolve(p).unwrap();
        assert!(fs.stat(ino).unwrap().problems.is_empty());
    }
    // The CLI shows it as a warning on that path, and in --json.
    let (code, out, err) = salvage(&["ls", "--json", img.to_str().unwrap(), "/"]);
    assert_eq!(code, 0);
    let list = json(&out);
    let flagged: Vec<_> =
        list.as_array().unwrap().iter().filter(|e| !e["problems"].as_array().unwrap().is_empty()).map(|e| e["path"].clone()).collect();
    assert_eq!(flagged, vec![serde_json::json!("/frag")]);
    assert!(err.contains(&format!("warning: /frag: extent tree block {etb}: ")), "{err}");
    let (_, out, _) = salvage(&["stat", "--json", img.to_str().unwrap(), "/frag"]);
    assert_eq!(json(&out)["problems"][0], m.problems[0].as_str());
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

#[test]
fn bad_superblock_checksum_gives_way_to_the_backup() {
    let (src, img) = csum_image("sbcsum");
    flip(&img, 1024 + 0x3FC); // s_checksum
    let fs = open_image(&img);
    let info = fs.info();
    assert_eq!(info.problems.len(), 1, "{:?}", info.problems);
    // As e2fsck: a primary with a bad checksum gives way to a valid backup.
    assert!(
        info.problems[0].starts_with("the primary superblock is unusable (byte 0x400: superblock checksum is "),
        "{}",
        info.problems[0]
    );
    assert!(info.problems[0].contains("using the backup in group 1 at byte 8389632"), "{}", info.problems[0]);
    compare_with_source(&src, &walk(&fs));
    let (_, out, _) = salvage(&["info", img.to_str().unwrap()]);
    assert!(out.contains("  superblock: backup in group 1 at byte 8389632\n"), "{out}");
    // With the backup gone too, the damaged primary is used, and said so.
    flip(&img, 8389632 + 0x3FC);
    let fs = open_image(&img);
    let info = fs.info();
    assert_eq!(info.problems.len(), 1, "{:?}", info.problems);
    assert!(info.problems[0].starts_with("the primary superblock is damaged (byte 0x400: superblock checksum is "));
    assert!(info.problems[0].ends_with("and no valid backup was found; it is used anyway"), "{}", info.problems[0]);
    compare_with_source(&src, &walk(&fs));
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

#[test]
fn bad_xattr_block_and_group_descriptor_are_reported() {
    let (src, img) = csum_image("meta");
    let acl = number_after(&debugfs(&img, "stat /tagged"), "File ACL:");
    assert!(acl > 0);
    flip(&img, acl * 1024 + 0x10); // h_checksum
    // Group 1's descriptor (64 bytes each, table in block 2): its bg_checksum.
    flip(&img, 2 * 1024 + 64 + 0x1E);
    let fs = open_image(&img);
    let info = fs.info();
    assert_eq!(info.problems.len(), 1, "{:?}", info.problems);
    assert!(
        info.problems[0].starts_with("byte 0x840: group 1's descriptor checksum is "),
        "{}",
        info.problems[0]
    );
    let tagged = fs.resolve(b"/tagged").unwrap();
    let m = fs.stat(tagged).unwrap();
    assert_eq!(m.problems.len(), 1, "{:?}", m.problems);
    assert!(m.problems[0].starts_with(&format!("block {acl}: extended attribute block checksum is ")), "{}", m.problems[0]);
    // The attributes are read anyway.
    let x = fs.xattrs(tagged).unwrap();
    assert!(x.iter().any(|a| a.name == b"user.big" && a.value == "v".repeat(700).as_bytes()));
    compare_with_source(&src, &walk_ignoring(&fs));
    let (_, out, _) = salvage(&["info", img.to_str().unwrap()]);
    assert!(out.contains("  problem: byte 0x840: group 1's descriptor checksum is "), "{out}");
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

/// Zeroes `zero_bytes` from byte 1024 (the primary superblock, and the
/// group descriptor table after it); the walk must still equal the source.
fn check_backup(name: &str, args: &[&str], size: &str, zero_bytes: usize, expect: &str) {
    let (src, img) = build(name, args, size, true, false);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
        f.write_all_at(&vec![0u8; zero_bytes], 1024).unwrap();
    }
    let fs = open_image(&img);
    let info = fs.info();
    assert!(info.details.iter().any(|(k, v)| k == "superblock" && v == expect), "{:?}", info.details);
    assert_eq!(info.problems.len(), 1, "{:?}", info.problems);
    assert!(info.problems[0].starts_with("the primary superblock is unusable (byte 0x438: not an ext2/3/4 filesystem"));
    assert!(info.problems[0].contains(&format!("using the {expect}")), "{}", info.problems[0]);
    compare_with_source(&src, &walk(&fs));
    // The CLI finds the volume through the backup too.
    let (code, out, err) = salvage(&["info", img.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("  superblock: {expect}")), "{out}");
    let (code, out, _) = salvage_raw(&["cat", img.to_str().unwrap(), "/a/b/f4096"]);
    assert_eq!(code, 0);
    assert_eq!(out, pseudo_random(4096, 2));
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

#[test]
fn zeroed_primary_superblock_uses_the_backup_1k() {
    // Group 1 starts at block 8193 with 1 KiB blocks. Only the superblock goes.
    check_backup("backup-1k", &["-t", "ext4", "-b", "1024"], "24M", 1024, "backup in group 1 at byte 8389632");
}

#[test]
fn zeroed_primary_superblock_uses_the_backup_4k() {
    // 32768 blocks per group of 4 KiB: group 1 at 128 MiB. The superblock
    // and the descriptor table in block 1 go: the backup's table is used.
    check_backup(
        "backup-4k",
        &["-t", "ext4", "-b", "4096", "-O", "metadata_csum"],
        "200M",
        2 * 4096 - 1024,
        "backup in group 1 at byte 134217728",
    );
}

#[test]
fn zeroed_superblock_and_descriptors_use_the_backup_ext2_1k() {
    // Block 1 (superblock) and block 2 (descriptors) of a 1 KiB ext2.
    check_backup("backup-ext2", &["-t", "ext2", "-b", "1024"], "24M", 2048, "backup in group 1 at byte 8389632");
}

#[test]
fn zeroed_primary_uses_sparse_super2_last_group_when_group_1_is_gone_too() {
    let (src, img) = build("backup-ss2", &["-t", "ext4", "-b", "4096", "-O", "sparse_super2"], "600M", false, false);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
        f.write_all_at(&[0u8; 1024], 1024).unwrap();
        f.write_all_at(&[0u8; 1024], 32768 * 4096).unwrap();
    }
    let fs = open_image(&img);
    let info = fs.info();
    // 600 MiB of 4 KiB blocks: groups 0..4, the second backup in the last.
    assert!(
        info.details.iter().any(|(k, v)| k == "superblock" && v == "backup in group 4 at byte 536870912"),
        "{:?}",
        info.details
    );
    compare_with_source(&src, &walk(&fs));
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

/// debugfs's `ea_list`: (name, length, value when shown) per attribute.
fn debugfs_ea_list(img: &Path, path: &str) -> Vec<(String, usize, Option<Vec<u8>>)> {
    let text = debugfs(img, &format!("ea_list {path}"));
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("  ")) {
        let line = line.trim_start();
        let (name, rest) = line.split_once(" (").unwrap();
        let (len, rest) = rest.split_once(')').unwrap();
        let len: usize = len.parse().unwrap();
        let value = rest.strip_prefix(" = ").map(|v| {
            if let Some(q) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                q.as_bytes().to_vec()
            } else {
                v.split_whitespace().map(|h| u8::from_str_radix(h, 16).unwrap()).collect()
            }
        });
        out.push((name.to_string(), len, value));
    }
    out
}

#[test]
fn xattrs_devices_and_flags_match_e2fsprogs() {
    let dir = scratch("xattr");
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("f"), b"hello").unwrap();
    std::fs::write(src.join("plain"), b"no attributes").unwrap();
    // Device numbers past 255 need the new encoding; debugfs's mknod takes
    // only 8-bit ones, so the big one is made in the source tree (as root).
    let big_dev = is_root();
    if big_dev {
        let mut c = tool("mknod");
        c.arg(src.join("bdev")).args(["b", "259", "300000"]);
        run(c, &[0]);
    }
    let real_tools = has_tool("setfattr") && has_tool("setfacl");
    if real_tools {
        let set = |args: &[&str]| {
            let mut c = tool(args[0]);
            c.args(&args[1..]);
            run(c, &[0]);
        };
        let f = src.join("f");
        let f = f.to_str().unwrap();
        set(&["setfattr", "-n", "user.comment", "-v", "hello world", f]);
        set(&["setfattr", "-n", "trusted.bin", "-v", "0x00ff10", f]);
        set(&["setfattr", "-n", "security.label", "-v", "s0", f]);
        set(&["setfattr", "-n", "user.big", "-v", &"v".repeat(700), f]);
        set(&["setfacl", "-m", "u:1234:rw", f]);
        set(&["setfacl", "-d", "-m", "u:55:rx", src.join("sub").to_str().unwrap()]);
    } else {
        eprintln!("setfattr/setfacl missing (packages attr, acl): attributes are set with debugfs instead");
    }
    let img = dir.join("fs.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-t", "ext4", "-b", "1024", "-I", "256", "-O", "metadata_csum", "-E", "root_owner=0:0", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("8M");
    run(c, &[0]);
    std::fs::write(dir.join("v700"), "v".repeat(700)).unwrap();
    let mut script = String::from("cd /\nmknod cdev c 4 65\nmknod pipe p\nsif /plain flags 0x80030\n");
    if !big_dev {
        script.push_str("mknod bdev b 8 1\n");
    }
    if !real_tools {
        script.push_str("ea_set /f user.comment \"hello world\"\nea_set /f security.label s0\n");
        script.push_str(&format!("ea_set -f {} /f user.big\n", dir.join("v700").display()));
    }
    debugfs_write(&img, &script);

    let fs = open_image(&img);
    assert!(fs.info().problems.is_empty(), "{:?}", fs.info().problems);
    let f = fs.resolve(b"/f").unwrap();
    let got = fs.xattrs(f).unwrap();
    let want = debugfs_ea_list(&img, "/f");
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, (name, len, value)) in got.iter().zip(&want) {
        assert_eq!(String::from_utf8_lossy(&g.name), *name);
        assert_eq!(g.value.len(), *len, "{name}");
        if let Some(v) = value {
            assert_eq!(&g.value, v, "{name}");
        }
    }
    let names: Vec<String> = got.iter().map(|x| String::from_utf8_lossy(&x.name).into_owned()).collect();
    assert!(names.contains(&"user.comment".to_string()));
    assert!(names.contains(&"user.big".to_string()));
    assert_eq!(got.iter().find(|x| x.name == b"user.big").unwrap().value, "v".repeat(700).as_bytes());
    // 700 bytes can't fit in the inode: there is an external block.
    assert!(number_after(&debugfs(&img, "stat /f"), "File ACL:") > 0);
    if real_tools {
        assert!(names.contains(&"system.posix_acl_access".to_string()), "{names:?}");
        assert!(names.contains(&"trusted.bin".to_string()));
        let sub = fs.resolve(b"/sub").unwrap();
        let sub_x = fs.xattrs(sub).unwrap();
        assert_eq!(sub_x.len(), 1);
        assert_eq!(sub_x[0].name, b"system.posix_acl_default");
        assert_eq!(debugfs_ea_list(&img, "/sub")[0].2.as_deref(), Some(&sub_x[0].value[..]));
    }
    assert!(fs.xattrs(fs.resolve(b"/plain").unwrap()).unwrap().is_empty());

    // Devices, both encodings.
    let cdev = fs.stat(fs.resolve(b"/cdev").unwrap()).unwrap();
    assert_eq!((cdev.kind, cdev.rdev), (FileKind::CharDevice, Some((4, 65))));
    let bdev = fs.stat(fs.resolve(b"/bdev").unwrap()).unwrap();
    let bdev_numbers = if big_dev { (259, 300_000) } else { (8, 1) };
    assert_eq!((bdev.kind, bdev.rdev), (FileKind::BlockDevice, Some(bdev_numbers)));
    // debugfs agrees.
    let dstat = debugfs(&img, "stat /bdev");
    assert!(dstat.contains(&format!("Device major/minor number: {:02}:{:02}", bdev_numbers.0, bdev_numbers.1)), "{dstat}");
    let pipe = fs.stat(fs.resolve(b"/pipe").unwrap()).unwrap();
    assert_eq!((pipe.kind, pipe.rdev), (FileKind::Fifo, None));
    // Flags set by debugfs: immutable, append, extents.
    let plain = fs.stat(fs.resolve(b"/plain").unwrap()).unwrap();
    assert_eq!(plain.flags, 0x80030);
    assert_eq!(flag_names(plain.flags), vec!["immutable", "append", "extents"]);

    // The CLI's stat, text and JSON.
    let path = img.to_str().unwrap();
    let (code, out, err) = salvage(&["stat", path, "/f"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("inode: {f}\n")), "{out}");
    assert!(out.contains("xattr: user.comment = \"hello world\"\n"), "{out}");
    if real_tools {
        assert!(out.contains("xattr: trusted.bin = 0x00ff10\n"), "{out}");
    }
    assert!(out.contains("mtime: ") && out.contains(".000000000Z\n"), "{out}");
    let (_, out, _) = salvage(&["stat", path, "/bdev"]);
    assert!(out.contains("type: blockdevice\n"), "{out}");
    assert!(out.contains(&format!("device: {}, {}\n", bdev_numbers.0, bdev_numbers.1)), "{out}");
    let (_, out, _) = salvage(&["stat", path, "/plain"]);
    assert!(out.contains("flags: 0x80030 (immutable append extents)\n"), "{out}");
    let (_, out, _) = salvage(&["stat", "--json", path, "/cdev"]);
    let v = json(&out);
    assert_eq!(v["rdev"], serde_json::json!([4, 65]));
    assert_eq!(v["type"], "chardevice");
    let (_, out, _) = salvage(&["stat", "--json", path, "/f"]);
    let v = json(&out);
    let big = v["xattrs"].as_array().unwrap().iter().find(|x| x["name"] == "user.big").unwrap().clone();
    assert_eq!(big["text"], "v".repeat(700));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn old_ext2_without_checksums_shows_no_problems() {
    let dir = scratch("ext2-plain");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_tree(&src, false, false);
    let img = dir.join("fs.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-t", "ext2", "-b", "1024", "-I", "128", "-E", "root_owner=0:0", "-d"]).arg(&src).arg(&img).arg("16M");
    run(c, &[0]);
    // An attribute in an external block (128-byte inodes have no room in the inode).
    debugfs_write(&img, "ea_set /one user.note kept\n");
    let fs = open_image(&img);
    let info = fs.info();
    assert!(info.problems.is_empty(), "{:?}", info.problems);
    assert!(info.details.iter().any(|(k, v)| k == "superblock" && v == "primary at byte 1024"));
    // walk() fails on any problem or listing error.
    compare_with_source(&src, &walk(&fs));
    let one = fs.resolve(b"/one").unwrap();
    let x = fs.xattrs(one).unwrap();
    assert_eq!(x, vec![salvage::fs::Xattr { name: b"user.note".to_vec(), value: b"kept".to_vec() }]);
    let (code, out, err) = salvage(&["info", img.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(!out.contains("problem:"), "{out}");
    assert!(out.contains("  state: clean\n") && out.contains("  errors behaviour: continue\n"), "{out}");
    assert!(out.contains("  created: 20"), "{out}");
    let (code, _, err2) = salvage(&["ls", "-R", img.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(!err2.contains("warning"), "{err}{err2}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_whose_every_block_fails_is_listed_with_bounded_warnings() {
    let dir = scratch("allbad");
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("big")).unwrap();
    for i in 0..3000 {
        std::fs::write(src.join(format!("big/a-name-long-enough-to-fill-blocks-{i:05}")), b"").unwrap();
    }
    let img = dir.join("fs.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-t", "ext4", "-b", "1024", "-O", "metadata_csum", "-d"]).arg(&src).arg(&img).arg("32M");
    run(c, &[0]);
    // A new generation changes the seed of every block checksum of the
    // directory (debugfs rewrites the inode's own checksum to match).
    debugfs_write(&img, "sif /big generation 12345\n");
    let fs = open_image(&img);
    let big = fs.resolve(b"/big").unwrap();
    let blocks = fs.stat(big).unwrap().size / 1024;
    assert!(blocks > 100, "{blocks}");
    let items: Vec<_> = fs.read_dir(big).unwrap().collect();
    assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 3000);
    let errors: Vec<String> = items.iter().filter_map(|i| i.as_ref().err().map(|e| e.to_string())).collect();
    // 64 one by one, then one sum for the rest.
    assert_eq!(errors.len(), 65, "{errors:?}");
    assert!(errors.iter().all(|e| e.ends_with(LISTED_ANYWAY)));
    assert_eq!(errors[64], format!("inode {big}: {} more directory blocks have bad checksums; {LISTED_ANYWAY}", blocks - 64));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn xattr_values_in_an_ea_inode_are_read_through_it() {
    let dir = scratch("eainode");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"x").unwrap();
    let img = dir.join("fs.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-t", "ext4", "-b", "4096", "-O", "ea_inode,metadata_csum", "-d"]).arg(&src).arg(&img).arg("32M");
    run(c, &[0]);
    // A value as large as a block can't share the xattr block: it goes to an ea_inode.
    let value = pseudo_random(4096, 77).iter().map(|b| b'a' + b % 26).collect::<Vec<u8>>();
    std::fs::write(dir.join("value"), &value).unwrap();
    debugfs_write(&img, &format!("ea_set -f {} /f user.huge\n", dir.join("value").display()));
    let out = dir.join("got");
    debugfs(&img, &format!("ea_get -f {} /f user.huge", out.display()));
    assert_eq!(std::fs::read(&out).unwrap(), value, "debugfs disagrees with what was set");
    // Stored as a reference in the inode, not in an xattr block.
    assert!(debugfs(&img, "stat /f").contains("File ACL: 0"));
    let fs = open_image(&img);
    assert!(fs.info().problems.is_empty(), "{:?}", fs.info().problems);
    let f = fs.resolve(b"/f").unwrap();
    let m = fs.stat(f).unwrap();
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let x = fs.xattrs(f).unwrap();
    assert_eq!(x, vec![salvage::fs::Xattr { name: b"user.huge".to_vec(), value }]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inodes_of_a_group_with_a_bad_descriptor_say_so_and_still_read() {
    let (src, img) = csum_image("gd0");
    flip(&img, 2 * 1024 + 0x1E); // group 0's bg_checksum
    let fs = open_image(&img);
    let info = fs.info();
    assert_eq!(info.problems.len(), 1, "{:?}", info.problems);
    assert!(info.problems[0].starts_with("byte 0x800: group 0's descriptor checksum is "), "{}", info.problems[0]);
    let plain = fs.resolve(b"/plain").unwrap();
    let m = fs.stat(plain).unwrap();
    assert_eq!(m.problems.len(), 1, "{:?}", m.problems);
    assert!(m.problems[0].starts_with("group 0's descriptor checksum is "), "{}", m.problems[0]);
    assert!(m.problems[0].ends_with("its inode table location may be wrong"));
    assert_eq!(sha_of_file(&fs, plain, m.size), sha_file(&src.join("plain")));
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}

#[test]
fn zeroed_primary_superblock_uses_the_backup_64k() {
    // 64 KiB blocks: 65528 blocks per group, so group 1 starts at 4 GiB less
    // 512 KiB; the image is sparse (about 25 MB on disk without a journal).
    let dir = scratch("backup-64k");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_tree(&src, false, false);
    let img = dir.join("fs.img");
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-t", "ext4", "-b", "65536", "-N", "4096", "-O", "^has_journal,^resize_inode", "-E", "root_owner=0:0", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("5G");
    run(c, &[0]);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
        f.write_all_at(&[0u8; 1024], 1024).unwrap();
    }
    let fs = open_image(&img);
    let at = 65528u64 * 65536;
    assert!(
        fs.info().details.iter().any(|(k, v)| k == "superblock" && *v == format!("backup in group 1 at byte {at}")),
        "{:?}",
        fs.info().details
    );
    compare_with_source(&src, &walk(&fs));
    std::fs::remove_dir_all(&dir).unwrap();
}
