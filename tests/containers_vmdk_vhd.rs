//! VMDK and VHD containers against qemu-img: every subformat converted from
//! a GPT + ext4 disk built at test time must read back as the bytes
//! `qemu-img convert -O raw` gives (whole-disk hash and random reads), and
//! its files must equal the source tree through the whole stack. Also the
//! corpus images (set SALVAGE_CORPUS) and hand-damaged images.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::OnceLock;

use salvage::container::detect::open_disk;
use salvage::container::Disk;
use salvage::fs::ext4::Ext4Fs;
use salvage::image::Image;
use salvage::read_at::{IoStats, ReadAt, Reader, Slice};
use sha2::{Digest, Sha256};

mod common;
use common::*;

const MIB: u64 = 1 << 20;

fn have(tool_name: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool_name}")).env("PATH", TOOLS_PATH).output().is_ok_and(|o| o.status.success())
}

fn qemu(args: &[&str], dir: &Path) -> String {
    let mut c = tool(args[0]);
    c.args(&args[1..]).current_dir(dir);
    run(c, &[0])
}

/// A file behind the chunk cache, as the CLI opens it.
fn open(main: &Path, others: &[&Path]) -> salvage::Result<Disk> {
    let stats = Rc::new(IoStats::default());
    open_disk(source(main, &stats), others.iter().map(|p| source(p, &stats)).collect())
}

fn sha_of(r: &dyn ReadAt) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    let mut off = 0u64;
    while off < r.size() {
        let n = (r.size() - off).min(buf.len() as u64) as usize;
        r.read_exact_at(off, &mut buf[..n]).unwrap_or_else(|e| panic!("reading at {off}: {e}"));
        h.update(&buf[..n]);
        off += n as u64;
    }
    h.finalize().into()
}

/// Random reads of odd sizes at odd offsets, compared with `raw`.
fn random_reads(r: &dyn ReadAt, raw: &[u8], seed: u64) {
    let mut s = seed | 1;
    for _ in 0..300 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let len = (s % 200_000) as usize + 1;
        let off = (s >> 20) % (raw.len() as u64 - len as u64);
        let mut buf = vec![0u8; len];
        r.read_exact_at(off, &mut buf).unwrap();
        assert!(buf == raw[off as usize..off as usize + len], "{len} bytes at {off}");
    }
}

/// The test disk: GPT, one ext4 partition at 1 MiB built with `mke2fs -d`
/// from the common source tree, a few MiB of nothing after it.
struct Base {
    dir: PathBuf,
    src: PathBuf,
    raw: PathBuf,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let (src, fs_img) = build("vmdkvhd-base", &["-t", "ext4", "-b", "4096"], "24M", true, false);
        let dir = fs_img.parent().unwrap().to_path_buf();
        let raw = dir.join("disk.raw");
        let fs = std::fs::read(&fs_img).unwrap();
        let total = MIB + fs.len() as u64 + 3 * MIB;
        let mut disk = vec![0u8; total as usize];
        disk[MIB as usize..MIB as usize + fs.len()].copy_from_slice(&fs);
        std::fs::write(&raw, &disk).unwrap();
        let mut c = tool("sgdisk");
        c.arg("-n").arg(format!("1:2048:+{}", fs.len() / 512)).args(["-t", "1:8300"]).arg(&raw);
        run(c, &[0]);
        Base { dir, src, raw }
    })
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = base().dir.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What qemu reads from `image`, as a raw file in `dir`.
fn qemu_raw(image: &Path, format: &str, dir: &Path) -> Vec<u8> {
    let out = dir.join("qemu.raw");
    qemu(&["qemu-img", "convert", "-f", format, "-O", "raw", image.to_str().unwrap(), out.to_str().unwrap()], dir);
    std::fs::read(out).unwrap()
}

/// The virtual disk equals qemu's raw output, and the files equal the source.
fn check_against_qemu(disk: &Disk, image: &Path, format: &str, dir: &Path) {
    let raw = qemu_raw(image, format, dir);
    assert_eq!(disk.reader.size(), raw.len() as u64, "virtual size");
    let want: [u8; 32] = Sha256::digest(&raw).into();
    assert_eq!(sha_of(&*disk.reader), want, "whole-disk hash");
    random_reads(&*disk.reader, &raw, raw.len() as u64);
}

fn check_files(disk_reader: Reader) {
    let fs = Ext4Fs::open(Rc::new(Slice::new(disk_reader, MIB, 24 * MIB))).unwrap();
    compare_with_source(&base().src, &walk(&fs));
}

fn check_stack(main: &Path, others: &[&Path]) -> Image {
    let stats = Rc::new(IoStats::default());
    let img = Image::open(source(main, &stats), others.iter().map(|p| source(p, &stats)).collect(), stats).unwrap();
    let v = &img.volumes()[0];
    assert_eq!((v.fs, v.offset, v.supported), (Some("ext4"), MIB, true), "{v:?}");
    let fs = img.filesystem(1).unwrap();
    let ino = fs.resolve(b"/a/b/c/f4097").unwrap();
    let mut buf = vec![0u8; 4097];
    assert_eq!(fs.read_at(ino, 0, &mut buf).unwrap(), 4097);
    assert_eq!(buf, std::fs::read(base().src.join("a/b/c/f4097")).unwrap());
    img
}

fn vmdk_subformat(subformat: &str) {
    if !have("qemu-img") || !have("sgdisk") {
        eprintln!("qemu-img or sgdisk missing: skipping");
        return;
    }
    let dir = scratch_dir(subformat);
    let image = dir.join("disk.vmdk");
    qemu(&["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", &format!("subformat={subformat}"), base().raw.to_str().unwrap(), "disk.vmdk"], &dir);
    let mut others: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| *p != image).collect();
    others.sort();
    let other_refs: Vec<&Path> = others.iter().map(PathBuf::as_path).collect();
    let disk = open(&image, &other_refs).unwrap();
    assert_eq!(disk.format, format!("VMDK {subformat}"));
    assert!(disk.notes.is_empty(), "{:?}", disk.notes);
    check_against_qemu(&disk, &image, "vmdk", &dir);
    check_files(disk.reader.clone());
    // Picked in any order: the extents first, the descriptor last.
    let mut all = other_refs.clone();
    let first = all.first().copied();
    if let Some(first) = first {
        all.remove(0);
        all.push(&image);
        let img = check_stack(first, &all);
        assert_eq!(img.info().image.format, format!("VMDK {subformat}"));
        // An extent missing is named.
        if !subformat.contains("Sparse") || subformat.starts_with("twoGb") {
            let e = open(&image, &[]).err().expect("a missing extent fails");
            assert!(e.to_string().contains("needs these extent files, which were not selected: "), "{e}");
        }
    } else {
        check_stack(&image, &[]);
    }
}

#[test]
fn vmdk_monolithic_sparse() {
    vmdk_subformat("monolithicSparse");
}

#[test]
fn vmdk_stream_optimized() {
    vmdk_subformat("streamOptimized");
}

#[test]
fn vmdk_monolithic_flat() {
    vmdk_subformat("monolithicFlat");
}

#[test]
fn vmdk_two_gb_max_extent_sparse() {
    vmdk_subformat("twoGbMaxExtentSparse");
}

#[test]
fn vmdk_two_gb_max_extent_flat() {
    vmdk_subformat("twoGbMaxExtentFlat");
}

fn vhd_subformat(opts: &str, expect: &str) {
    if !have("qemu-img") || !have("sgdisk") {
        eprintln!("qemu-img or sgdisk missing: skipping");
        return;
    }
    let dir = scratch_dir(&opts.replace(['=', ','], "-"));
    let image = dir.join("disk.vhd");
    qemu(&["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", opts, base().raw.to_str().unwrap(), "disk.vhd"], &dir);
    let disk = open(&image, &[]).unwrap();
    assert_eq!(disk.format, expect);
    check_against_qemu(&disk, &image, "vpc", &dir);
    check_files(disk.reader.clone());
    check_stack(&image, &[]);
}

#[test]
fn vhd_fixed() {
    vhd_subformat("subformat=fixed,force_size=on", "VHD fixed");
}

#[test]
fn vhd_dynamic() {
    vhd_subformat("subformat=dynamic,force_size=on", "VHD dynamic");
}

#[test]
fn vhd_dynamic_sized_by_geometry() {
    vhd_subformat("subformat=dynamic", "VHD dynamic");
}

#[test]
fn vmdk_child_reads_unwritten_grains_from_its_parent() {
    if !have("qemu-img") || !have("qemu-io") || !have("sgdisk") {
        eprintln!("qemu tools or sgdisk missing: skipping");
        return;
    }
    let dir = scratch_dir("vmdk-child");
    qemu(&["qemu-img", "convert", "-f", "raw", "-O", "vmdk", base().raw.to_str().unwrap(), "base.vmdk"], &dir);
    qemu(&["qemu-img", "create", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "child.vmdk"], &dir);
    qemu(&["qemu-io", "-c", "write -P 0xab 1M 64k", "-c", "write -P 0xcd 5000k 3k", "child.vmdk"], &dir);
    let (child, parent) = (dir.join("child.vmdk"), dir.join("base.vmdk"));
    // Picked parent first, as the page's name order does.
    let disk = open(&parent, &[&child]).unwrap();
    assert_eq!(disk.parts, ["child.vmdk", "base.vmdk"]);
    check_against_qemu(&disk, &child, "vmdk", &dir);
    let e = open(&child, &[]).err().unwrap();
    assert_eq!(
        e.to_string(),
        "child.vmdk is a child disk: its unwritten grains come from its parent base.vmdk, which was not selected; select it together with child.vmdk"
    );
}

#[test]
fn vmdk_split_sparse_and_flat_across_extents() {
    if !have("qemu-img") || !have("qemu-io") {
        eprintln!("qemu tools missing: skipping");
        return;
    }
    for subformat in ["twoGbMaxExtentSparse", "twoGbMaxExtentFlat"] {
        let dir = scratch_dir(&format!("{subformat}-5g"));
        qemu(&["qemu-img", "create", "-f", "vmdk", "-o", &format!("subformat={subformat}"), "big.vmdk", "5G"], &dir);
        // Writes straddling the 2 GiB extent boundaries.
        qemu(&["qemu-io", "-c", "write -P 0x11 0 8k", "-c", "write -P 0x22 2047M 2M", "-c", "write -P 0x33 4095M 2M", "-c", "write -P 0x44 5119M 1M", "big.vmdk"], &dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(files.len() >= 4, "{files:?}");
        let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let disk = open(refs[0], &refs[1..]).unwrap();
        assert_eq!(disk.format, format!("VMDK {subformat}"));
        assert_eq!(disk.reader.size(), 5 << 30);
        let raw = dir.join("qemu.raw");
        qemu(&["qemu-img", "convert", "-f", "vmdk", "-O", "raw", "big.vmdk", raw.to_str().unwrap()], &dir);
        let want = std::fs::File::open(&raw).unwrap();
        for (at, len) in [(0u64, 16384u64), (2046 * MIB, 4 * MIB), (4094 * MIB, 4 * MIB), (5118 * MIB, 2 * MIB), (3000 * MIB, 65536)] {
            let mut a = vec![0u8; len as usize];
            let mut b = vec![0u8; len as usize];
            disk.reader.read_exact_at(at, &mut a).unwrap();
            std::os::unix::fs::FileExt::read_exact_at(&want, &mut b, at).unwrap();
            assert!(a == b, "{subformat}: {len} bytes at {at}");
        }
        std::fs::remove_file(raw).unwrap();
        // Without the descriptor, one extent alone says what it is.
        let e = open(&dir.join("big.vmdk"), &refs[1..2]).err().unwrap();
        assert!(e.to_string().starts_with("big.vmdk needs these extent files, which were not selected: "), "{e}");
    }
}

/// The offsets of a VHD's dynamic header, BAT and first block.
fn vhd_layout(b: &[u8]) -> (usize, usize) {
    let be64 = |at: usize| u64::from_be_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let header = be64(0x10);
    (header, be64(header + 0x10))
}

fn vhd_checksum(b: &mut [u8], field: usize) {
    b[field..field + 4].fill(0);
    let sum = b.iter().fold(0u32, |s, v| s.wrapping_add(u32::from(*v)));
    b[field..field + 4].copy_from_slice(&(!sum).to_be_bytes());
}

/// qemu cannot create differencing VHDs: take a qemu dynamic VHD written
/// by qemu-io, mark it differencing with a parent name, and clear the
/// bitmap bits of the sectors it did not write, as Virtual PC would have.
#[test]
fn vhd_differencing_reads_absent_sectors_from_its_parent() {
    if !have("qemu-img") || !have("qemu-io") || !have("sgdisk") {
        eprintln!("qemu tools or sgdisk missing: skipping");
        return;
    }
    let dir = scratch_dir("vhd-diff");
    qemu(&["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size=on", base().raw.to_str().unwrap(), "base.vhd"], &dir);
    let size = std::fs::metadata(&base().raw).unwrap().len().to_string();
    qemu(&["qemu-img", "create", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", "overlay.vhd", &size], &dir);
    // After the ext4 partition, in block 13 (2 MiB blocks).
    qemu(&["qemu-io", "-c", "write -P 0xab 26M 64k", "overlay.vhd"], &dir);
    let parent = std::fs::read(dir.join("base.vhd")).unwrap();
    let mut child = std::fs::read(dir.join("overlay.vhd")).unwrap();
    let (header, bat) = vhd_layout(&child);
    // Footer copies: type 4, checksums.
    let end = child.len() - 512;
    for at in [0, end] {
        child[at + 0x3c..at + 0x40].copy_from_slice(&4u32.to_be_bytes());
        vhd_checksum(&mut child[at..at + 512], 0x40);
    }
    // Header: parent unique id and UTF-16 name.
    child[header + 0x28..header + 0x38].copy_from_slice(&parent[parent.len() - 512 + 0x44..parent.len() - 512 + 0x54]);
    let name: Vec<u8> = "base.vhd".encode_utf16().flat_map(u16::to_be_bytes).collect();
    child[header + 0x40..header + 0x40 + name.len()].copy_from_slice(&name);
    vhd_checksum(&mut child[header..header + 1024], 0x24);
    // Block 13's bitmap: only its first 128 sectors (64 KiB) are in the child.
    let block = u32::from_be_bytes(child[bat + 13 * 4..bat + 14 * 4].try_into().unwrap()) as usize * 512;
    child[block..block + 512].fill(0);
    child[block..block + 16].fill(0xff);
    std::fs::write(dir.join("child.vhd"), &child).unwrap();
    std::fs::remove_file(dir.join("overlay.vhd")).unwrap();

    let disk = open(&dir.join("base.vhd"), &[&dir.join("child.vhd")]).unwrap();
    assert_eq!(disk.format, "VHD differencing");
    assert!(disk.notes.is_empty(), "{:?}", disk.notes);
    let mut want = qemu_raw(&dir.join("base.vhd"), "vpc", &dir);
    want[(26 * MIB) as usize..(26 * MIB + 65536) as usize].fill(0xab);
    assert_eq!(disk.reader.size(), want.len() as u64);
    let w: [u8; 32] = Sha256::digest(&want).into();
    assert_eq!(sha_of(&*disk.reader), w);
    random_reads(&*disk.reader, &want, 99);
    check_files(disk.reader.clone());
    let e = open(&dir.join("child.vhd"), &[]).err().unwrap();
    assert_eq!(
        e.to_string(),
        "child.vhd is a differencing VHD: what it did not change comes from its parent base.vhd, which was not selected; select it together with child.vhd"
    );
}

/// The primary grain directory zeroed: the redundant copy is used, and said.
#[test]
fn vmdk_damaged_primary_grain_directory_falls_back_to_the_redundant_one() {
    if !have("qemu-img") || !have("sgdisk") {
        eprintln!("qemu-img or sgdisk missing: skipping");
        return;
    }
    let dir = scratch_dir("vmdk-rgd");
    qemu(&["qemu-img", "convert", "-f", "raw", "-O", "vmdk", base().raw.to_str().unwrap(), "good.vmdk"], &dir);
    let mut b = std::fs::read(dir.join("good.vmdk")).unwrap();
    let le64 = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let (rgd, gd) = (le64(0x30) * 512, le64(0x38) * 512);
    assert!(rgd != 0 && gd != 0);
    // Zero the primary GD, and point a second entry outside the file.
    b[gd..gd + 8].fill(0);
    std::fs::write(dir.join("damaged.vmdk"), &b).unwrap();
    let disk = open(&dir.join("damaged.vmdk"), &[]).unwrap();
    assert!(disk.notes.iter().any(|n| n.contains("disagree")), "{:?}", disk.notes);
    let good = open(&dir.join("good.vmdk"), &[]).unwrap();
    assert_eq!(sha_of(&*disk.reader), sha_of(&*good.reader));
    b[gd..gd + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    std::fs::write(dir.join("damaged.vmdk"), &b).unwrap();
    let disk = open(&dir.join("damaged.vmdk"), &[]).unwrap();
    assert!(disk.notes.iter().any(|n| n.contains("1 grain table(s) of the primary grain directory point past the end of the file; the redundant copies are used")), "{:?}", disk.notes);
    assert_eq!(sha_of(&*disk.reader), sha_of(&*good.reader));
}

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("SALVAGE_CORPUS")?);
    assert!(dir.is_dir(), "SALVAGE_CORPUS={} is not a directory", dir.display());
    Some(dir)
}

/// Decompresses a corpus file (`.bz2`, `.xz`) into a temp dir.
fn unpack(src: &Path) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| scratch("vmdkvhd-corpus"));
    let name = src.file_name().unwrap().to_string_lossy();
    let (stem, prog) = match name.rsplit_once('.') {
        Some((stem, "bz2")) => (stem.to_string(), "bzip2"),
        Some((stem, "xz")) => (stem.to_string(), "xz"),
        _ => panic!("{name}: not compressed"),
    };
    let dst = dir.join(stem);
    let out = std::fs::File::create(&dst).unwrap();
    let status = Command::new(prog).arg("-dc").arg(src).stdout(out).status().unwrap();
    assert!(status.success());
    dst
}

fn read_at(disk: &Disk, at: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    disk.reader.read_exact_at(at, &mut b).unwrap_or_else(|e| panic!("{len} bytes at {at}: {e}"));
    b
}

#[test]
fn corpus_qemu_sample_images() {
    let Some(c) = corpus() else {
        eprintln!("SALVAGE_CORPUS not set: skipping");
        return;
    };
    let q = c.join("qemu-iotests");
    // streamOptimized v3: 100 sectors of a pattern, zeros elsewhere.
    let disk = open(&unpack(&q.join("iotest-version3.vmdk.bz2")), &[]).unwrap();
    assert_eq!((disk.format.as_str(), disk.reader.size()), ("VMDK streamOptimized", 16 << 30));
    let head = read_at(&disk, 0, 66 << 20);
    let mut want = vec![0u8; 66 << 20];
    for i in 0..100usize {
        want[i * 655_360 + i * 512..][..512].fill(0x30 + (i % 10) as u8);
    }
    assert!(head == want, "the first 66 MiB of iotest-version3.vmdk");
    for at in [1u64 << 30, 8 << 30, (16 << 30) - 4096] {
        assert!(read_at(&disk, at, 4096).iter().all(|b| *b == 0));
    }
    // Virtual PC sizes by geometry, Hyper-V by current size.
    for (name, size) in [("virtualpc-dynamic.vhd", 136_363_130_880u64), ("hyperv2012r2-dynamic.vhd", 136_365_211_648)] {
        let disk = open(&unpack(&q.join(format!("{name}.bz2"))), &[]).unwrap();
        assert_eq!((disk.format.as_str(), disk.reader.size()), ("VHD dynamic", size), "{name}");
        for at in [0, size / 2, size - 65536] {
            assert!(read_at(&disk, at, 65536).iter().all(|b| *b == 0), "{name} at {at}");
        }
    }
    let disk = open(&unpack(&q.join("d2v-zerofilled.vhd.bz2")), &[]).unwrap();
    assert!(sha_of(&*disk.reader) == <[u8; 32]>::from(Sha256::digest(vec![0u8; disk.reader.size() as usize])));
    // Fuzzed images are refused with a sentence.
    for (name, sentence) in [
        ("afl9.vmdk", "afl9.vmdk: a capacity of 2233785398448881665 sectors is more than 2^64 bytes"),
        (
            "afl5.img",
            "afl5.img: reading the VHD dynamic header, byte 0x200: short read: 1024 bytes wanted at byte 0x200, but the data ends at byte 0x404",
        ),
    ] {
        let e = open(&unpack(&q.join(format!("{name}.bz2"))), &[]).err().unwrap_or_else(|| panic!("{name} opened"));
        assert_eq!(e.to_string(), sentence);
    }
    // Formats only named.
    for (name, what) in [
        ("parallels-v1", "a Parallels disk image"),
        ("parallels-v2", "a Parallels disk image"),
        ("parallels-with-bitmap", "a Parallels disk image"),
        ("empty.bochs", "a Bochs disk image"),
        ("simple-pattern.cloop", "a cloop compressed image"),
        ("simple-dmg.dmg", "an Apple disk image (DMG)"),
    ] {
        let e = open(&unpack(&q.join(format!("{name}.bz2"))), &[]).err().unwrap_or_else(|| panic!("{name} opened"));
        assert!(e.to_string().starts_with(&format!("{name}: this is {what}")), "{e}");
    }
}

#[test]
fn corpus_dfvfs_vmdk_and_vhd() {
    let Some(c) = corpus() else {
        eprintln!("SALVAGE_CORPUS not set: skipping");
        return;
    };
    let d = c.join("dfvfs");
    let mut contents = Vec::new();
    for (name, format) in [("ext2.vmdk", "VMDK monolithicSparse"), ("ext2.vhd", "VHD dynamic")] {
        let path = unpack(&d.join(format!("{name}.xz")));
        let disk = open(&path, &[]).unwrap();
        assert_eq!(disk.format, format);
        let raw = qemu_raw(&path, if name.ends_with("vmdk") { "vmdk" } else { "vpc" }, path.parent().unwrap());
        assert_eq!(disk.reader.size(), raw.len() as u64);
        assert!(sha_of(&*disk.reader) == <[u8; 32]>::from(Sha256::digest(&raw)), "{name}");
        let stats = Rc::new(IoStats::default());
        let img = Image::open(source(&path, &stats), Vec::new(), stats).unwrap();
        let fs = img.filesystem(1).unwrap();
        let ino = fs.resolve(b"/passwords.txt").unwrap();
        let mut buf = vec![0u8; 116];
        assert_eq!(fs.read_at(ino, 0, &mut buf).unwrap(), 116);
        contents.push(buf);
    }
    assert_eq!(contents[0], contents[1]);
    // The differencing disk with its parent, picked parent first.
    let parent = unpack(&d.join("image.vhd.xz"));
    let child = unpack(&d.join("image-differential.vhd.xz"));
    let stats = Rc::new(IoStats::default());
    let img = Image::open(source(&parent, &stats), vec![source(&child, &stats)], stats).unwrap();
    let info = img.info();
    assert_eq!((info.image.format.as_str(), info.image.parts.clone()), ("VHD differencing", vec!["image-differential.vhd".to_string(), "image.vhd".into()]));
    assert_eq!(img.volumes()[0].fs, Some("ext2"));
    let fs = img.filesystem(1).unwrap();
    assert!(!img.list(&*fs, b"/").unwrap().is_empty());
    // Its parent missing is named.
    let e = open(&unpack(&d.join("fat-differential.vhd.xz")), &[]).err().unwrap();
    assert!(e.to_string().contains("its parent fat-parent.vhd, which was not selected"), "{e}");
}

/// Every input saved under fuzz/regressions/container_{vmdk,vhd}/ goes
/// through the fuzz entry points again: no panic, no hang.
#[test]
fn fuzz_regressions_do_not_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for (dir, run) in [("container_vmdk", salvage::container::vmdk::fuzz as fn(&[u8])), ("container_vhd", salvage::container::vhd::fuzz)] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            eprintln!("{}", path.display());
            run(&std::fs::read(&path).unwrap());
        }
    }
}

/// A streamOptimized VMDK cut short (an interrupted download) loses its
/// grain directory and footer, written last (by VMware; qemu puts them
/// first): the grains are found by walking their markers, and what was
/// cut off is an error, not zeros. In iotest-version3.vmdk the grain
/// directory's marker is at byte 278528, and the first grain table's
/// (after the grains of the first 32 MiB) at byte 92160.
#[test]
fn corpus_vmdk_stream_cut_short_is_read_by_walking_its_markers() {
    let Some(c) = corpus() else {
        eprintln!("SALVAGE_CORPUS not set: skipping");
        return;
    };
    let whole = std::fs::read(unpack(&c.join("qemu-iotests/iotest-version3.vmdk.bz2"))).unwrap();
    let dir = scratch_dir("vmdk-cut");
    let mut want = vec![0u8; 66 << 20];
    for i in 0..100usize {
        want[i * 655_360 + i * 512..][..512].fill(0x30 + (i % 10) as u8);
    }
    // Cut before the grain directory: every grain survives.
    std::fs::write(dir.join("cut.vmdk"), &whole[..278_528]).unwrap();
    let disk = open(&dir.join("cut.vmdk"), &[]).unwrap();
    assert_eq!(
        disk.notes,
        ["cut.vmdk: the grain directory is lost (no footer at the end (not a VMDK sparse extent (no KDMV magic))); 151 grains were found by walking the stream from byte 0x10000; the stream is cut short at byte 0x44000, without its end-of-stream marker, so grains past that point can't be read"]
    );
    assert!(read_at(&disk, 0, 66 << 20) == want);
    // Cut after the first 32 MiB's grains: up to the last one found (the
    // 52nd pattern sector's), they read; past it, the bytes are unknown.
    std::fs::write(dir.join("half.vmdk"), &whole[..92_160]).unwrap();
    let disk = open(&dir.join("half.vmdk"), &[]).unwrap();
    let known = 51 * 655_872 + 512;
    assert!(read_at(&disk, 0, known) == want[..known]);
    let e = disk.reader.read_exact_at(40 << 20, &mut [0u8; 4096]).unwrap_err();
    assert!(e.to_string().contains("is not in the part of the stream that survived"), "{e}");
}
