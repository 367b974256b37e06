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
use salvage::container::{Disk, Source};
use salvage::fs::ext4::Ext4Fs;
use salvage::image::Image;
use salvage::read_at::{CacheConfig, ChunkCache, IoStats, ReadAt, Reader, Slice};
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
fn source(path: &Path, stats: &Rc<IoStats>) -> Source {
    let f = std::fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    let cached = ChunkCache::new(FileReader(f, len), CacheConfig::NATIVE, stats.clone());
    Source { name: path.file_name().unwrap().to_string_lossy().into_owned(), reader: Rc::new(cached) }
}

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
