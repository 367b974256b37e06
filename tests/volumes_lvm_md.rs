//! LVM2 and Linux md RAID volumes, built with the real tools.
//!
//! LVM: `pvcreate`/`vgcreate`/`lvcreate --driverloaded n -an -Zn` on loop
//! devices over plain files (device-mapper isn't available here; only the
//! metadata is written), then ext4 filesystems made with `mke2fs -d` are
//! written at the extents `lvs --segments -o seg_pe_ranges` reports, striped
//! as dm-stripe lays them out. Oracles: `lvs`, `pvck --dump metadata_all`
//! and the source trees (every file read through the stack equals its
//! source). Needs root (losetup); skipped otherwise. Loop devices are
//! detached on drop, so also when a test fails.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use common::{is_root, pseudo_random, run, scratch, tool};
use salvage::container::Source;
use salvage::fs::{FileKind, FileSystem};
use salvage::image::Image;
use salvage::read_at::{IoStats, MemReader};

const MIB: u64 = 1 << 20;

/// A loop device over a file, detached on drop.
struct Loop(String);

impl Loop {
    fn new(file: &Path) -> Loop {
        for _ in 0..20 {
            let out = tool("losetup").args(["--find", "--show"]).arg(file).output().expect("losetup");
            if out.status.success() {
                return Loop(String::from_utf8_lossy(&out.stdout).trim().to_string());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("losetup --find --show {} keeps failing", file.display());
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = tool("losetup").args(["-d", &self.0]).status();
    }
}

/// An lvm command seeing only `devs`, with no device-mapper, udev or backups.
fn lvm(devs: &[&Loop], args: &[&str]) -> String {
    let accept: Vec<String> = devs.iter().map(|d| format!("\"a|^{}$|\"", d.0)).collect();
    let filter = format!("[{}, \"r|.*|\"]", accept.join(", "));
    let config = format!(
        "devices {{ filter = {filter} global_filter = {filter} obtain_device_list_from_udev = 0 use_devicesfile = 0 }} \
         activation {{ udev_sync = 0 udev_rules = 0 monitoring = 0 }} backup {{ backup = 0 archive = 0 }}"
    );
    let mut c = tool("lvm");
    c.env("LVM_SUPPRESS_FD_WARNINGS", "1").arg(args[0]).arg("--config").arg(config).args(&args[1..]);
    run(c, &[0])
}

/// `lvs` fields for one LV's segments: (start extent, [(device, first pe)], stripe bytes).
fn segments(devs: &[&Loop], vg_lv: &str) -> Vec<(u64, u64, Vec<(String, u64)>, u64)> {
    let out = lvm(
        devs,
        &["lvs", "--driverloaded", "n", "--noheadings", "--segments", "--units", "b", "--nosuffix", "--separator", ";", "-o", "seg_start_pe,seg_size_pe,seg_pe_ranges,stripe_size", vg_lv],
    );
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.trim().split(';').collect();
            let ranges = f[2]
                .split_whitespace()
                .map(|r| {
                    let (dev, pes) = r.rsplit_once(':').unwrap();
                    (dev.to_string(), pes.split('-').next().unwrap().parse().unwrap())
                })
                .collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), ranges, f[3].trim().parse().unwrap())
        })
        .collect()
}

fn vg_numbers(devs: &[&Loop], vg: &str) -> (u64, BTreeMap<String, u64>) {
    let extent = lvm(devs, &["vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_extent_size", vg]).trim().parse().unwrap();
    let mut pe_start = BTreeMap::new();
    for l in lvm(devs, &["pvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", ";", "-o", "pv_name,pe_start"]).lines() {
        if let Some((n, s)) = l.trim().split_once(';') {
            pe_start.insert(n.to_string(), s.trim().parse().unwrap());
        }
    }
    (extent, pe_start)
}

/// Writes `data` (the LV's contents) where `lvs` says the LV's extents are.
fn write_lv(devs: &[&Loop], files: &BTreeMap<String, PathBuf>, vg: &str, lv: &str, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let (extent, pe_start) = vg_numbers(devs, vg);
    for (start_pe, size_pe, ranges, stripe) in segments(devs, &format!("{vg}/{lv}")) {
        let seg_start = start_pe * extent;
        let seg_len = size_pe * extent;
        let n = ranges.len() as u64;
        let chunk = if n == 1 { seg_len } else { stripe };
        let mut pos = 0;
        while pos < seg_len {
            let c = pos / chunk;
            let (dev, first_pe) = &ranges[(c % n) as usize];
            let at = pe_start[dev] + first_pe * extent + (c / n) * chunk;
            let lv_at = seg_start + pos;
            if lv_at < data.len() as u64 {
                let end = (lv_at + chunk).min(data.len() as u64);
                let f = std::fs::OpenOptions::new().write(true).open(&files[dev]).unwrap();
                f.write_all_at(&data[lv_at as usize..end as usize], at).unwrap();
            }
            pos += chunk;
        }
    }
}

/// An ext4 image of `size` bytes holding `src`.
fn ext4_of(dir: &Path, name: &str, src: &Path, size: u64) -> Vec<u8> {
    let img = dir.join(format!("{name}.ext4"));
    let mut c = tool("mke2fs");
    c.args(["-q", "-F", "-t", "ext4", "-d"]).arg(src).arg(&img).arg(format!("{}k", size / 1024));
    run(c, &[0]);
    std::fs::read(img).unwrap()
}

fn tree(dir: &Path, seed: u64) -> PathBuf {
    let root = dir.join(format!("tree-{seed}"));
    std::fs::create_dir_all(root.join("etc/sub")).unwrap();
    std::fs::write(root.join("etc/hostname"), format!("host-{seed}\n")).unwrap();
    std::fs::write(root.join("etc/sub/big"), pseudo_random(700_000 + seed as usize, seed)).unwrap();
    std::fs::write(root.join("small"), pseudo_random(5000, seed + 1)).unwrap();
    std::os::unix::fs::symlink("etc/hostname", root.join("link")).unwrap();
    root
}

fn open(main: &Path, with: &[&Path]) -> Image {
    let src = |p: &Path| Source {
        name: p.file_name().unwrap().to_string_lossy().into_owned(),
        reader: Rc::new(MemReader::new(std::fs::read(p).unwrap())),
    };
    Image::open(src(main), with.iter().map(|p| src(p)).collect(), Rc::new(IoStats::default())).unwrap()
}

/// Every file, directory and link under `src` equals what `fs` holds.
fn compare(fs: &dyn FileSystem, src: &Path, rel: &str) {
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let path = format!("{rel}/{}", e.file_name().to_string_lossy());
        let ino = fs.resolve(path.as_bytes()).unwrap_or_else(|err| panic!("{path}: {err}"));
        let m = fs.stat(ino).unwrap();
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            assert_eq!(m.kind, FileKind::Symlink, "{path}");
            let want = std::fs::read_link(e.path()).unwrap();
            assert_eq!(fs.read_link(ino).unwrap(), want.to_string_lossy().as_bytes(), "{path}");
        } else if t.is_dir() {
            assert_eq!(m.kind, FileKind::Dir, "{path}");
            compare(fs, &e.path(), &path);
        } else {
            let want = std::fs::read(e.path()).unwrap();
            let mut got = vec![0; want.len()];
            let n = fs.read_at(ino, 0, &mut got).unwrap();
            assert_eq!(n, want.len(), "{path}");
            assert!(got == want, "{path}: contents differ");
        }
    }
}

fn salvage(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_salvage")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn volume<'a>(image: &'a Image, name: &str) -> &'a salvage::image::VolumeInfo {
    image.volumes().iter().find(|v| v.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no volume {name}"))
}

struct Vg {
    dir: PathBuf,
    files: BTreeMap<String, PathBuf>,
    a: PathBuf,
    b: PathBuf,
}

/// Two 64 MiB PVs in VG `vg`: `root` linear on the first, `data` striped
/// over both (64 KiB stripes), `home` linear in two segments (one on each
/// PV), each holding an ext4 made from its own tree.
fn two_pv_vg(name: &str, vg: &str) -> Vg {
    let dir = scratch(name);
    let a = dir.join("a.img");
    let b = dir.join("b.img");
    for f in [&a, &b] {
        std::fs::File::create(f).unwrap().set_len(64 * MIB).unwrap();
    }
    let la = Loop::new(&a);
    let lb = Loop::new(&b);
    let devs = [&la, &lb];
    let files: BTreeMap<String, PathBuf> = [(la.0.clone(), a.clone()), (lb.0.clone(), b.clone())].into_iter().collect();
    lvm(&devs, &["pvcreate", "-q", &la.0, &lb.0]);
    lvm(&devs, &["vgcreate", "-q", "-s", "1m", vg, &la.0, &lb.0]);
    lvm(&devs, &["lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-L", "8m", "-n", "root", vg, &la.0]);
    lvm(&devs, &["lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-L", "12m", "-i", "2", "-I", "64k", "-n", "data", vg]);
    lvm(&devs, &["lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-L", "6m", "-n", "home", vg, &lb.0]);
    lvm(&devs, &["lvextend", "-q", "--driverloaded", "n", "-L", "+4m", &format!("{vg}/home"), &la.0]);
    for (lv, size, seed) in [("root", 8 * MIB, 1), ("data", 12 * MIB, 2), ("home", 10 * MIB, 3)] {
        let src = tree(&dir, seed);
        let fs = ext4_of(&dir, lv, &src, size);
        write_lv(&devs, &files, vg, lv, &fs);
    }
    let oracle = lvm(&devs, &["lvs", "--driverloaded", "n", "--noheadings", "-o", "lv_name,seg_count,stripes", vg]);
    assert!(oracle.contains("home") && oracle.contains("data"), "{oracle}");
    Vg { dir, files, a, b }
}

#[test]
fn lvm_linear_striped_and_two_segment_lvs_over_two_pvs() {
    if !is_root() {
        eprintln!("skipped: needs root for losetup");
        return;
    }
    let vg = two_pv_vg("lvm-two", "salvtwo");
    let image = open(&vg.a, &[&vg.b]);
    for (lv, seed) in [("root", 1), ("data", 2), ("home", 3)] {
        let v = volume(&image, &format!("salvtwo/{lv}"));
        assert_eq!(v.type_name, "LVM2 logical volume");
        assert!(v.supported, "{lv}: {}", v.status);
        let fs = image.filesystem(v.index).unwrap();
        compare(&*fs, &vg.dir.join(format!("tree-{seed}")), "");
    }
    let data = volume(&image, "salvtwo/data");
    assert_eq!(data.length, 12 * MIB);
    let seg = data.details.iter().find(|(k, _)| k == "segments").unwrap();
    assert_eq!(seg.1, "striped 12 MiB, 2 stripes of 64 KiB on pv0:8, pv1:0");
    let home = volume(&image, "salvtwo/home");
    assert_eq!(home.details.iter().find(|(k, _)| k == "segments").unwrap().1, "linear 6 MiB on pv1:6; linear 4 MiB on pv0:14");
    // The PVs say what they hold.
    assert!(image.volumes()[0].status.starts_with("LVM2 physical volume of VG salvtwo"), "{}", image.volumes()[0].status);
    assert_eq!(image.volumes()[1].disk.as_deref(), Some("b.img"));

    // The CLI: info names VG, LVs and segments; --volume takes the name.
    let (a, b) = (vg.a.to_str().unwrap(), vg.b.to_str().unwrap());
    let (ok, out, err) = salvage(&["info", a, "--with", b]);
    assert!(ok, "{err}");
    assert!(out.contains("  name: salvtwo/data\n") && out.contains("  type: LVM2 logical volume\n"), "{out}");
    assert!(!out.contains("ignored the other selected files"), "{out}");
    assert!(out.contains("note: VG salvtwo: seqno 5, extents of 1 MiB, PVs: pv0 (present), pv1 (present); LVs: root, data, home\n"), "{out}");
    let (ok, out, err) = salvage(&["cat", a, "--with", b, "--volume", "salvtwo/root", "/etc/hostname"]);
    assert!(ok, "{err}");
    assert_eq!(out, "host-1\n");
    let (ok, _, err) = salvage(&["ls", a, "--with", b, "--volume", "salvtwo/nope", "/"]);
    assert!(!ok);
    assert!(err.contains("there is no volume named \"salvtwo/nope\"; named volumes: salvtwo/root"), "{err}");

    // One PV missing: it is named; the LV wholly on the other still opens.
    let image = open(&vg.a, &[]);
    let notes = image.info().volume_notes.join("\n");
    assert!(notes.contains("PV pv1 of VG salvtwo (uuid ") && notes.contains("is missing: select its disk image too"), "{notes}");
    let root = volume(&image, "salvtwo/root");
    assert!(root.supported, "{}", root.status);
    compare(&*image.filesystem(root.index).unwrap(), &vg.dir.join("tree-1"), "");
    for lv in ["salvtwo/data", "salvtwo/home"] {
        let v = volume(&image, lv);
        assert!(!v.supported);
        assert!(v.status.starts_with("LVM2 logical volume — can't be read: PV pv1 of VG salvtwo"), "{}", v.status);
    }
    let _ = &vg.files;
}

#[test]
fn lvm_older_metadata_opens_a_deleted_lv() {
    if !is_root() {
        eprintln!("skipped: needs root for losetup");
        return;
    }
    let dir = scratch("lvm-old");
    let a = dir.join("pv.img");
    std::fs::File::create(&a).unwrap().set_len(48 * MIB).unwrap();
    let la = Loop::new(&a);
    let devs = [&la];
    let files: BTreeMap<String, PathBuf> = [(la.0.clone(), a.clone())].into_iter().collect();
    lvm(&devs, &["pvcreate", "-q", &la.0]);
    lvm(&devs, &["vgcreate", "-q", "salvold", &la.0]);
    lvm(&devs, &["lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-L", "8m", "-n", "keep", "salvold"]);
    lvm(&devs, &["lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-L", "8m", "-n", "gone", "salvold"]);
    let src = tree(&dir, 9);
    let fs = ext4_of(&dir, "gone", &src, 8 * MIB);
    write_lv(&devs, &files, "salvold", "gone", &fs);
    let src_keep = tree(&dir, 10);
    let fs = ext4_of(&dir, "keep", &src_keep, 8 * MIB);
    write_lv(&devs, &files, "salvold", "keep", &fs);
    lvm(&devs, &["lvremove", "-q", "-f", "--driverloaded", "n", "salvold/gone"]);
    // Oracle: pvck sees the older versions in the ring.
    let dump = lvm(&devs, &["pvck", "--dump", "metadata_all", &la.0]);
    let seqnos: Vec<u64> = dump
        .lines()
        .filter_map(|l| l.split("seqno ").nth(1))
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    let newest = *seqnos.iter().max().unwrap_or_else(|| panic!("no seqno in pvck output:\n{dump}"));
    drop(la);

    let image = open(&a, &[]);
    let notes = image.info().volume_notes;
    let deleted_at = newest - 1;
    let note = notes.iter().find(|n| n.starts_with(&format!("VG salvold, seqno {deleted_at}, "))).unwrap_or_else(|| panic!("{notes:?}"));
    assert!(note.ends_with(": LV gone (deleted later)"), "{note}");
    let old = volume(&image, &format!("salvold/gone@{deleted_at}"));
    assert_eq!(old.type_name, format!("LVM2 logical volume from older metadata (seqno {deleted_at})"));
    assert!(old.problems[0].contains("deleted later"), "{:?}", old.problems);
    compare(&*image.filesystem(old.index).unwrap(), &src, "");
    compare(&*image.filesystem(volume(&image, "salvold/keep").index).unwrap(), &src_keep, "");
    assert!(image.volumes().iter().all(|v| v.name.as_deref() != Some("salvold/gone")));
    // The CLI opens it by name.
    let name = format!("salvold/gone@{deleted_at}");
    let (ok, out, err) = salvage(&["cat", a.to_str().unwrap(), "--volume", &name, "/etc/hostname"]);
    assert!(ok, "{err}");
    assert_eq!(out, "host-9\n");

    // Bytes flipped in the label, the metadata area header and the text
    // (the first MiB): never a panic or a hang, always an image.
    let head = std::fs::read(&a).unwrap()[..2 * MIB as usize].to_vec();
    let mut seed = 0x1234_5678_9abc_def0u64;
    for round in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut m = head.clone();
        // Half the flips in the first 8 KiB (label, area header, text start).
        let span = if round % 2 == 0 { 8192 } else { MIB as usize };
        for k in 0..4 {
            let at = ((seed >> (k * 16)) as usize) % span;
            m[at] ^= (seed >> (k * 8)) as u8 | 1;
        }
        let src = Source { name: "m.img".into(), reader: Rc::new(MemReader::new(m)) };
        let image = Image::open(src, Vec::new(), Rc::new(IoStats::default())).unwrap();
        let _ = image.info();
    }

    // Damaged committed text: its checksum fails, a sentence says so, and
    // the newest text in the ring is used instead.
    let mut bytes = std::fs::read(&a).unwrap();
    let seqno_line = format!("seqno = {newest}\n");
    let at = bytes.windows(seqno_line.len()).rposition(|w| w == seqno_line.as_bytes()).unwrap();
    bytes[at + 2] = b'#';
    let damaged = dir.join("damaged.img");
    std::fs::write(&damaged, &bytes).unwrap();
    let image = open(&damaged, &[]);
    let notes = image.info().volume_notes.join("\n");
    assert!(notes.contains("LVM2 metadata text checksum mismatch"), "{notes}");
    assert!(image.volumes().iter().any(|v| v.name.as_deref() == Some("salvold/keep")), "{notes}");
}

// ------------------------------------------------------------------ third-party corpus

fn corpus_image(stem: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("SALVAGE_CORPUS")?).join("util-linux-blkid/images-fs");
    let src = dir.join(format!("{stem}.img.xz"));
    let dst = scratch(&format!("corpus-{stem}")).join(format!("{stem}.img"));
    let out = Command::new("xz").arg("-dc").arg(&src).output().unwrap();
    assert!(out.status.success(), "xz -dc {}", src.display());
    std::fs::write(&dst, out.stdout).unwrap();
    Some(dst)
}

/// util-linux's blkid images of LVM2, md and LUKS members: detected as
/// blkid says (type, UUID), with a sentence, never a panic.
#[test]
fn corpus_lvm_md_luks_members() {
    let cases = [
        ("lvm2", "lvm2", Some("Vynv4k-APH8-xQER-HSBb-8VJ3-SvFF-PB5O1U"), "LVM2 physical volume, not part of any volume group"),
        ("luks1", "luks", Some("e5f398d9-39da-4b6a-9ac3-e085a9394e7c"), "LUKS encrypted volume (LUKS1, cipher aes-cbc-essiv:sha256) — encrypted, not supported yet"),
        ("luks2", "luks", Some("202265fe-9842-4c2d-ac9b-aba1b05deb63"), "LUKS encrypted volume (LUKS2) — encrypted, not supported yet"),
        ("mdraid", "linux_raid", Some("37c76b91-011a-05c5-d30c-1fd4c5c3dbbc"), "Linux software RAID member 0 of md0 (RAID1, metadata 0.90)"),
        ("mdraid-1", "linux_raid", Some("77e61baf-c0b5-d7d0-39cf-575b64d4878c"), "Linux software RAID member 0 of troy.t-8ch.de:0 (RAID0, metadata 1.2)"),
    ];
    for (stem, fs, uuid, status) in cases {
        let Some(img) = corpus_image(stem) else {
            eprintln!("skipped: SALVAGE_CORPUS is not set");
            return;
        };
        let image = open(&img, &[]);
        let v = &image.volumes()[0];
        assert_eq!(v.fs, Some(fs), "{stem}");
        if let Some(u) = uuid {
            assert_eq!(v.uuid.as_deref(), Some(u), "{stem}");
        }
        assert!(v.status.starts_with(status), "{stem}: {}", v.status);
        // The arrays assemble with mdadm -E's sizes: a degraded 0.90 mirror
        // (Array Size 10176 KiB), a one-member 1.2 RAID0 (16384 sectors).
        let array = image.volumes().get(1).map(|a| (a.type_name.as_str(), a.length));
        match stem {
            "mdraid" => assert_eq!(array, Some(("Linux md RAID1 array", 10176 * 1024))),
            "mdraid-1" => assert_eq!(array, Some(("Linux md RAID0 array", 16384 * 512))),
            _ => assert_eq!(array, None),
        }
    }
}

// ------------------------------------------------------------------ md RAID

/// mdadm --create needs the md kernel module, absent here, so members are
/// written by this helper following `md_p.h` (`mdp_superblock_1`,
/// `mdp_super_t`) and each is checked with `mdadm -E` as the oracle.
struct MdMember {
    version: &'static str,
    level: i32,
    layout: u32,
    chunk_bytes: u64,
    raid_disks: u32,
    role: u32,
    data_offset_bytes: u64,
    data_bytes: u64,
    events: u64,
}

const UUID: [u8; 16] = *b"salvage-md-test!";

fn fold(words: &[u8]) -> u32 {
    let mut sum = 0u64;
    let mut c = words.chunks_exact(4);
    for w in &mut c {
        sum += u64::from(u32::from_le_bytes(w.try_into().unwrap()));
    }
    if c.remainder().len() == 2 {
        sum += u64::from(u16::from_le_bytes(c.remainder().try_into().unwrap()));
    }
    ((sum & 0xffff_ffff) + (sum >> 32)) as u32
}

/// Writes the member's superblock into `dev` (whose length is final).
fn write_superblock(dev: &mut [u8], m: &MdMember) {
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |b: &mut [u8], at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    let size = dev.len() as u64;
    if m.version == "0.90" {
        let at = ((size & !65535) - 65536) as usize;
        let mut sb = vec![0u8; 4096];
        let w = |sb: &mut Vec<u8>, i: usize, v: u32| put32(sb, i * 4, v);
        w(&mut sb, 0, 0xa92b_4efc);
        w(&mut sb, 2, 90);
        w(&mut sb, 5, u32::from_be_bytes(UUID[0..4].try_into().unwrap()));
        w(&mut sb, 6, 1_700_000_000);
        w(&mut sb, 7, m.level as u32);
        w(&mut sb, 8, (m.data_bytes / 1024) as u32);
        w(&mut sb, 9, m.raid_disks);
        w(&mut sb, 10, m.raid_disks);
        w(&mut sb, 11, 5);
        for (k, word) in [13, 14, 15].into_iter().enumerate() {
            w(&mut sb, word, u32::from_be_bytes(UUID[4 + 4 * k..8 + 4 * k].try_into().unwrap()));
        }
        w(&mut sb, 32, 1_700_000_000);
        w(&mut sb, 33, 1);
        w(&mut sb, 34, m.raid_disks);
        w(&mut sb, 35, m.raid_disks);
        w(&mut sb, 39, m.events as u32);
        w(&mut sb, 64, m.layout);
        w(&mut sb, 65, m.chunk_bytes as u32);
        for d in 0..m.raid_disks as usize {
            let base = 128 + d * 32;
            w(&mut sb, base, d as u32);
            w(&mut sb, base + 1, 9);
            w(&mut sb, base + 2, d as u32);
            w(&mut sb, base + 3, d as u32);
            w(&mut sb, base + 4, 6);
        }
        for k in 0..5 {
            let v = le_word(&sb, (128 + m.role as usize * 32 + k) * 4);
            w(&mut sb, 992 + k, v);
        }
        let csum = fold(&sb);
        w(&mut sb, 38, csum);
        dev[at..at + 4096].copy_from_slice(&sb);
        return;
    }
    let at = match m.version {
        "1.2" => 4096,
        "1.1" => 0,
        _ => ((size - 8192) & !4095) as usize,
    };
    let max_dev = 128u32;
    let mut sb = vec![0u8; 256 + max_dev as usize * 2];
    put32(&mut sb, 0, 0xa92b_4efc);
    put32(&mut sb, 4, 1);
    sb[16..32].copy_from_slice(&UUID);
    sb[32..46].copy_from_slice(b"salvage:testmd");
    put64(&mut sb, 64, 1_700_000_000);
    put32(&mut sb, 72, m.level as u32);
    put32(&mut sb, 76, m.layout);
    put64(&mut sb, 80, if m.level == 0 { 0 } else { m.data_bytes / 512 });
    put32(&mut sb, 88, (m.chunk_bytes / 512) as u32);
    put32(&mut sb, 92, m.raid_disks);
    put64(&mut sb, 128, m.data_offset_bytes / 512);
    put64(&mut sb, 136, m.data_bytes / 512);
    put64(&mut sb, 144, at as u64 / 512);
    put32(&mut sb, 160, m.role);
    sb[168..184].copy_from_slice(&[m.role as u8 + 1; 16]);
    put64(&mut sb, 192, 1_700_000_000);
    put64(&mut sb, 200, m.events);
    put64(&mut sb, 208, u64::MAX);
    put32(&mut sb, 220, max_dev);
    for slot in 0..max_dev as usize {
        let role: u16 = if (slot as u32) < m.raid_disks { slot as u16 } else { 0xffff };
        sb[256 + slot * 2..258 + slot * 2].copy_from_slice(&role.to_le_bytes());
    }
    let csum = fold(&sb);
    put32(&mut sb, 216, csum);
    dev[at..at + sb.len()].copy_from_slice(&sb);
}

fn le_word(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Member `role`'s data region for `array` bytes, as md lays them out
/// (RAID1 copies; RAID0 chunks round-robin; RAID10 near-2 copies on
/// neighbouring members; RAID5 left-symmetric with rotating parity).
fn member_data(level: i32, n: usize, chunk: usize, role: usize, array: &[u8], per_member: usize) -> Vec<u8> {
    let mut out = vec![0u8; per_member];
    match level {
        1 => out[..array.len()].copy_from_slice(array),
        0 => {
            for (c, piece) in array.chunks(chunk).enumerate() {
                if c % n == role {
                    out[(c / n) * chunk..(c / n) * chunk + piece.len()].copy_from_slice(piece);
                }
            }
        }
        10 => {
            for (c, piece) in array.chunks(chunk).enumerate() {
                for j in 0..2 {
                    let idx = c * 2 + j;
                    if idx % n == role {
                        out[(idx / n) * chunk..(idx / n) * chunk + piece.len()].copy_from_slice(piece);
                    }
                }
            }
        }
        5 => {
            let rows = array.len() / (chunk * (n - 1));
            for row in 0..rows {
                let parity = (n - 1) - row % n;
                let mut p = vec![0u8; chunk];
                for i in 0..n - 1 {
                    let k = row * (n - 1) + i;
                    let piece = &array[k * chunk..(k + 1) * chunk];
                    p.iter_mut().zip(piece).for_each(|(a, b)| *a ^= b);
                    if (parity + 1 + i) % n == role {
                        out[row * chunk..(row + 1) * chunk].copy_from_slice(piece);
                    }
                }
                if parity == role {
                    out[row * chunk..(row + 1) * chunk].copy_from_slice(&p);
                }
            }
        }
        _ => unreachable!(),
    }
    out
}

/// Builds the members of an array holding `array`, checks each with
/// `mdadm -E`, and returns their paths.
fn md_array(dir: &Path, version: &'static str, level: i32, n: usize, array: &[u8], per_member: u64) -> Vec<PathBuf> {
    let chunk = 64 * 1024;
    let data_offset_bytes = match version {
        "1.2" => MIB,
        "1.1" => 2 * MIB,
        _ => 0,
    };
    let layout = match level {
        5 => 2,
        10 => 0x102,
        _ => 0,
    };
    let file_bytes = data_offset_bytes + per_member + 2 * MIB;
    (0..n)
        .map(|role| {
            let mut dev = vec![0u8; file_bytes as usize];
            let data = member_data(level, n, chunk, role, array, per_member as usize);
            dev[data_offset_bytes as usize..(data_offset_bytes + per_member) as usize].copy_from_slice(&data);
            let m = MdMember {
                version,
                level,
                layout,
                chunk_bytes: chunk as u64,
                raid_disks: n as u32,
                role: role as u32,
                data_offset_bytes,
                data_bytes: per_member,
                events: 7,
            };
            write_superblock(&mut dev, &m);
            let path = dir.join(format!("md-{version}-{level}-{role}.img"));
            std::fs::write(&path, dev).unwrap();
            let mut c = tool("mdadm");
            c.arg("-E").arg(&path);
            let e = run(c, &[0]);
            let level_name = if level == 0 && version == "0.90" { "raid0".into() } else { format!("raid{level}") };
            assert!(e.contains(&format!("Raid Level : {level_name}")), "{e}");
            assert!(e.contains(" - correct"), "mdadm -E finds the checksum wrong:\n{e}");
            if let Some(rest) = e.split("Array Size : ").nth(1) {
                let kib: u64 = rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
                assert_eq!(kib * 1024, array.len() as u64, "mdadm -E's array size:\n{e}");
            }
            if data_offset_bytes > 0 {
                assert!(e.contains(&format!("Data Offset : {} sectors", data_offset_bytes / 512)), "{e}");
            }
            if version != "0.90" {
                assert!(e.contains(&format!("Device Role : Active device {role}")), "{e}");
            }
            path
        })
        .collect()
}

#[test]
fn md_raid1_raid0_raid10_raid5_through_the_stack() {
    let dir = scratch("md");
    let src = tree(&dir, 20);
    for (version, level, n, array_mib) in [("1.2", 1, 2, 8u64), ("0.90", 1, 2, 8), ("1.2", 0, 3, 12), ("1.1", 10, 4, 8), ("1.0", 5, 3, 8)] {
        let what = format!("metadata {version} RAID{level}");
        let fs = ext4_of(&dir, &format!("md{level}-{version}"), &src, array_mib * MIB);
        let per_member = match level {
            1 => array_mib * MIB,
            0 => array_mib * MIB / n as u64,
            10 => array_mib * MIB * 2 / n as u64,
            _ => array_mib * MIB / (n as u64 - 1),
        };
        let members = md_array(&dir, version, level, n, &fs, per_member);
        let refs: Vec<&Path> = members[1..].iter().map(|p| p.as_path()).collect();
        let image = open(&members[0], &refs);
        let array = image.volumes().iter().find(|v| v.assembled).unwrap_or_else(|| panic!("{what}: no array"));
        assert_eq!(array.length, array_mib * MIB, "{what}");
        assert_eq!(array.type_name, format!("Linux md RAID{level} array"), "{what}");
        assert!(array.supported, "{what}: {}", array.status);
        compare(&*image.filesystem(array.index).unwrap(), &src, "");
        assert!(image.volumes()[0].status.starts_with("Linux software RAID member 0 of "), "{what}: {}", image.volumes()[0].status);

        // One member missing: a mirror and RAID5 still read (RAID5 by
        // parity; the missing member is the one holding chunk 0); RAID0
        // says which members are missing.
        let absent = if level == 5 { 0 } else { n - 1 };
        let rest: Vec<&Path> = members.iter().enumerate().filter(|(i, _)| *i != absent).map(|(_, p)| p.as_path()).collect();
        let image = open(rest[0], &rest[1..]);
        let array = image.volumes().iter().find(|v| v.assembled).unwrap();
        match level {
            0 => {
                assert!(!array.supported);
                assert_eq!(array.status, "Linux md RAID0 array — member 2 of 3 missing: select the other disks of the array too");
            }
            _ => {
                assert!(array.supported, "{what}, degraded: {}", array.status);
                assert!(array.problems.iter().any(|p| p.starts_with("degraded: member")), "{:?}", array.problems);
                compare(&*image.filesystem(array.index).unwrap(), &src, "");
            }
        }
    }
}

/// The dedicated-server layout: an LVM PV on a RAID1 array (0.90, data
/// from byte 0). One member alone opens the mirror, then the VG on it.
#[test]
fn lvm_on_a_degraded_md_mirror() {
    if !is_root() {
        eprintln!("skipped: needs root for losetup");
        return;
    }
    let dir = scratch("lvm-on-md");
    let pv = dir.join("array.img");
    std::fs::File::create(&pv).unwrap().set_len(24 * MIB).unwrap();
    let files: BTreeMap<String, PathBuf>;
    {
        let l = Loop::new(&pv);
        let devs = [&l];
        files = [(l.0.clone(), pv.clone())].into_iter().collect();
        lvm(&devs, &["pvcreate", "-q", &l.0]);
        lvm(&devs, &["vgcreate", "-q", "-s", "1m", "salvmd", &l.0]);
        lvm(&devs, &["lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-L", "10m", "-n", "root", "salvmd"]);
        let src = tree(&dir, 30);
        let fs = ext4_of(&dir, "root", &src, 10 * MIB);
        write_lv(&devs, &files, "salvmd", "root", &fs);
    }
    let array = std::fs::read(&pv).unwrap();
    let members = md_array(&dir, "0.90", 1, 2, &array, 24 * MIB);
    let image = open(&members[1], &[]);
    let root = volume(&image, "salvmd/root");
    assert!(root.supported, "{}", root.status);
    compare(&*image.filesystem(root.index).unwrap(), &dir.join("tree-30"), "");
    let md = image.volumes().iter().find(|v| v.name.as_deref() == Some("md5")).unwrap();
    assert!(md.status.starts_with("LVM2 physical volume of VG salvmd"), "{}", md.status);
    assert!(image.volumes()[0].status.starts_with("Linux software RAID member 1 of md5 (RAID1, metadata 0.90)"), "{}", image.volumes()[0].status);
}

/// One LV of a written metadata text, `segment1` given.
fn lv_text(name: &str, visible: bool, segment: &str) -> String {
    let status = if visible { r#"["READ", "WRITE", "VISIBLE"]"# } else { r#"["READ", "WRITE"]"# };
    // A distinct, well-formed id per name.
    let sum: u32 = name.bytes().enumerate().map(|(i, b)| (i as u32 + 1) * u32::from(b)).sum();
    format!(
        "{name} {{\nid = \"{sum:06}-aaaa-bbbb-cccc-dddd-eeee-ffffff\"\nstatus = {status}\nflags = []\ncreation_time = 1700000000\ncreation_host = \"t\"\nsegment_count = 1\nsegment1 {{\n{segment}\n}}\n}}\n"
    )
}

fn linear_text(pv: &str, start: u64, count: u64) -> String {
    format!("start_extent = 0\nextent_count = {count}\ntype = \"striped\"\nstripe_count = 1\nstripes = [\n\"{pv}\", {start}\n]")
}

/// A raid1 LV (lvcreate can't make one without device-mapper, so its
/// metadata is written and restored with `vgcfgrestore --force`): each
/// leg holds the filesystem; with one PV missing the other leg is read.
#[test]
fn lvm_raid1_lv_reads_either_leg() {
    if !is_root() {
        eprintln!("skipped: needs root for losetup");
        return;
    }
    let dir = scratch("lvm-raid1");
    let a = dir.join("a.img");
    let b = dir.join("b.img");
    for f in [&a, &b] {
        std::fs::File::create(f).unwrap().set_len(32 * MIB).unwrap();
    }
    let src = tree(&dir, 40);
    let fs = ext4_of(&dir, "mir", &src, 8 * MIB);
    {
        let la = Loop::new(&a);
        let lb = Loop::new(&b);
        let devs = [&la, &lb];
        lvm(&devs, &["pvcreate", "-q", &la.0, &lb.0]);
        lvm(&devs, &["vgcreate", "-q", "-s", "1m", "salvmir", &la.0, &lb.0]);
        let backup = dir.join("salvmir.txt");
        lvm(&devs, &["vgcfgbackup", "-q", "-f", backup.to_str().unwrap(), "salvmir"]);
        let text = std::fs::read_to_string(&backup).unwrap();
        // After physical_volumes { … } closes, the LVs.
        let start = text.find("physical_volumes {").unwrap();
        let mut depth = 0;
        let mut end = start;
        for (i, c) in text[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let raid = "start_extent = 0\nextent_count = 8\ntype = \"raid1\"\ndevice_count = 2\nregion_size = 1024\nraids = [\n\"mir_rmeta_0\", \"mir_rimage_0\",\n\"mir_rmeta_1\", \"mir_rimage_1\"\n]";
        let lvs = [
            lv_text("mir", true, raid),
            lv_text("mir_rmeta_0", false, &linear_text("pv0", 0, 1)),
            lv_text("mir_rimage_0", false, &linear_text("pv0", 1, 8)),
            lv_text("mir_rmeta_1", false, &linear_text("pv1", 0, 1)),
            lv_text("mir_rimage_1", false, &linear_text("pv1", 1, 8)),
        ]
        .concat();
        let text = format!("{}\nlogical_volumes {{\n{lvs}}}\n{}", &text[..end], &text[end..]);
        std::fs::write(&backup, text).unwrap();
        lvm(&devs, &["vgcfgrestore", "-q", "--force", "-f", backup.to_str().unwrap(), "salvmir"]);
        let oracle = lvm(&devs, &["lvs", "--driverloaded", "n", "-a", "--noheadings", "-o", "lv_name,segtype,devices", "salvmir"]);
        assert!(oracle.contains("raid1") && oracle.contains("mir_rimage_1"), "{oracle}");
    }
    // Each leg: pe_start 1 MiB, extent 1 of its PV.
    for f in [&a, &b] {
        use std::os::unix::fs::FileExt;
        std::fs::OpenOptions::new().write(true).open(f).unwrap().write_all_at(&fs, 2 * MIB).unwrap();
    }
    for (main, with) in [(&a, vec![b.as_path()]), (&a, vec![]), (&b, vec![])] {
        let image = open(main, &with);
        let mir = volume(&image, "salvmir/mir");
        assert!(mir.supported, "{}", mir.status);
        assert_eq!(mir.details.iter().find(|(k, _)| k == "segments").unwrap().1, "raid1 8 MiB, 2 legs: mir_rimage_0:0, mir_rimage_1:0");
        compare(&*image.filesystem(mir.index).unwrap(), &src, "");
        assert!(image.volumes().iter().all(|v| !v.name.as_deref().unwrap_or("").contains("rimage")));
        let degraded = mir.problems.iter().any(|p| p.starts_with("degraded, the data is still complete: PV pv"));
        assert_eq!(degraded, with.is_empty(), "{:?}", mir.problems);
    }
}

/// A LUKS2 container made by cryptsetup is named with its cipher.
#[test]
fn luks2_is_named_with_its_cipher() {
    let dir = scratch("luks2");
    let img = dir.join("luks2.img");
    std::fs::File::create(&img).unwrap().set_len(20 * MIB).unwrap();
    let mut c = tool("cryptsetup");
    c.args(["luksFormat", "--type", "luks2", "-q", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--cipher", "aes-xts-plain64", "--key-file", "-"]).arg(&img);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"passphrase").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        eprintln!("skipped: cryptsetup luksFormat failed: {}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    let image = open(&img, &[]);
    assert_eq!(image.volumes()[0].status, "LUKS encrypted volume (LUKS2, cipher aes-xts-plain64) — encrypted, not supported yet");
}

/// Writes LV sections into a VG's `vgcfgbackup` text, after `physical_volumes`.
fn with_lvs(text: &str, lvs: &str) -> String {
    let start = text.find("physical_volumes {").unwrap();
    let mut depth = 0;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let end = start + i + 1;
                    return format!("{}\nlogical_volumes {{\n{lvs}}}\n{}", &text[..end], &text[end..]);
                }
            }
            _ => {}
        }
    }
    panic!("physical_volumes does not close");
}

/// A thin pool and a thin volume (metadata restored with vgcfgrestore, the
/// pool's btree with thin_restore, checked with thin_dump); the
/// filesystem's non-zero 64 KiB blocks are mapped in reverse order, the
/// zero ones left unmapped.
#[test]
fn lvm_thin_volume_reads_through_the_pool() {
    if !is_root() {
        eprintln!("skipped: needs root for losetup");
        return;
    }
    let dir = scratch("lvm-thin");
    let a = dir.join("pv.img");
    std::fs::File::create(&a).unwrap().set_len(48 * MIB).unwrap();
    let src = tree(&dir, 50);
    let fs = ext4_of(&dir, "thin1", &src, 24 * MIB);
    let block = 64 * 1024usize;
    let mut xml = String::from("<superblock uuid=\"\" time=\"0\" transaction=\"1\" flags=\"0\" version=\"2\" data_block_size=\"128\" nr_data_blocks=\"256\">\n");
    let used: Vec<usize> = (0..fs.len() / block).filter(|i| fs[i * block..(i + 1) * block].iter().any(|b| *b != 0)).collect();
    assert!(used.len() < 256, "{} blocks", used.len());
    xml.push_str(&format!("<device dev_id=\"1\" mapped_blocks=\"{}\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n", used.len()));
    let mut placed = Vec::new();
    for (k, v) in used.iter().enumerate() {
        let d = 255 - k;
        xml.push_str(&format!("<single_mapping origin_block=\"{v}\" data_block=\"{d}\" time=\"0\"/>\n"));
        placed.push((*v, d));
    }
    xml.push_str("</device>\n</superblock>\n");
    let xml_path = dir.join("thin.xml");
    std::fs::write(&xml_path, &xml).unwrap();
    let tmeta = dir.join("tmeta.bin");
    std::fs::File::create(&tmeta).unwrap().set_len(4 * MIB).unwrap();
    let mut c = tool("thin_restore");
    c.arg("-i").arg(&xml_path).arg("-o").arg(&tmeta);
    run(c, &[0]);
    let mut c = tool("thin_dump");
    c.arg(&tmeta);
    let dump = run(c, &[0]);
    assert!(dump.contains(&format!("mapped_blocks=\"{}\"", used.len())), "{dump}");
    {
        let l = Loop::new(&a);
        let devs = [&l];
        lvm(&devs, &["pvcreate", "-q", &l.0]);
        lvm(&devs, &["vgcreate", "-q", "-s", "1m", "salvthin", &l.0]);
        let backup = dir.join("salvthin.txt");
        lvm(&devs, &["vgcfgbackup", "-q", "-f", backup.to_str().unwrap(), "salvthin"]);
        let pool = "start_extent = 0\nextent_count = 16\ntype = \"thin-pool\"\nmetadata = \"pool_tmeta\"\npool = \"pool_tdata\"\ntransaction_id = 1\nchunk_size = 128\ndiscards = \"passdown\"\nzero_new_blocks = 1";
        let thin = "start_extent = 0\nextent_count = 24\ntype = \"thin\"\nthin_pool = \"pool\"\ntransaction_id = 0\ndevice_id = 1";
        let lvs = [
            lv_text("pool", true, pool),
            lv_text("thin1", true, thin),
            lv_text("pool_tmeta", false, &linear_text("pv0", 0, 4)),
            lv_text("pool_tdata", false, &linear_text("pv0", 4, 16)),
        ]
        .concat();
        std::fs::write(&backup, with_lvs(&std::fs::read_to_string(&backup).unwrap(), &lvs)).unwrap();
        lvm(&devs, &["vgcfgrestore", "-q", "--force", "-f", backup.to_str().unwrap(), "salvthin"]);
        let oracle = lvm(&devs, &["lvs", "--driverloaded", "n", "-a", "--noheadings", "-o", "lv_name,segtype", "salvthin"]);
        assert!(oracle.contains("thin-pool") && oracle.contains("thin1"), "{oracle}");
    }
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
        f.write_all_at(&std::fs::read(&tmeta).unwrap(), MIB).unwrap();
        for (v, d) in &placed {
            f.write_all_at(&fs[v * block..(v + 1) * block], MIB + 4 * MIB + (*d * block) as u64).unwrap();
        }
    }
    let image = open(&a, &[]);
    let thin = volume(&image, "salvthin/thin1");
    assert!(thin.supported, "{}", thin.status);
    assert_eq!(thin.length, 24 * MIB);
    compare(&*image.filesystem(thin.index).unwrap(), &src, "");
    assert_eq!(volume(&image, "salvthin/pool").status, "LVM2 thin pool — holds thin volumes, no files of its own");

    // A damaged top-level btree node: a sentence, the volume unreadable.
    let mut bytes = std::fs::read(&a).unwrap();
    let meta = MIB as usize;
    let root = u64::from_le_bytes(bytes[meta + 320..meta + 328].try_into().unwrap()) as usize;
    bytes[meta + root * 4096 + 100] ^= 0xff;
    let damaged = dir.join("damaged.img");
    std::fs::write(&damaged, bytes).unwrap();
    let image = open(&damaged, &[]);
    let thin = volume(&image, "salvthin/thin1");
    assert!(!thin.supported);
    assert!(thin.status.contains(&format!("thin volume in pool pool: thin pool metadata: btree node {root} checksum mismatch")), "{}", thin.status);
}

/// An old-style snapshot (lvcreate -s needs device-mapper, so the metadata
/// is restored with vgcfgrestore and the COW store written per
/// dm-snap-persistent: header chunk, then areas of one metadata chunk of
/// {old, new} pairs and its data chunks). The origin holds one tree, the
/// snapshot's view the other.
#[test]
fn lvm_snapshot_shows_the_old_contents() {
    if !is_root() {
        eprintln!("skipped: needs root for losetup");
        return;
    }
    let dir = scratch("lvm-snap");
    let a = dir.join("pv.img");
    std::fs::File::create(&a).unwrap().set_len(32 * MIB).unwrap();
    let (old_src, new_src) = (tree(&dir, 60), tree(&dir, 61));
    let before = ext4_of(&dir, "before", &old_src, 8 * MIB);
    let after = ext4_of(&dir, "after", &new_src, 8 * MIB);
    {
        let l = Loop::new(&a);
        let devs = [&l];
        lvm(&devs, &["pvcreate", "-q", &l.0]);
        lvm(&devs, &["vgcreate", "-q", "-s", "1m", "salvsnap", &l.0]);
        let backup = dir.join("salvsnap.txt");
        lvm(&devs, &["vgcfgbackup", "-q", "-f", backup.to_str().unwrap(), "salvsnap"]);
        let snap = "start_extent = 0\nextent_count = 8\ntype = \"snapshot\"\nchunk_size = 8\norigin = \"data\"\ncow_store = \"snap\"";
        let lvs = [
            lv_text("data", true, &linear_text("pv0", 0, 8)),
            lv_text("snap", true, &linear_text("pv0", 8, 8)),
            lv_text("snapshot0", false, snap),
        ]
        .concat();
        std::fs::write(&backup, with_lvs(&std::fs::read_to_string(&backup).unwrap(), &lvs)).unwrap();
        lvm(&devs, &["vgcfgrestore", "-q", "--force", "-f", backup.to_str().unwrap(), "salvsnap"]);
        let oracle = lvm(&devs, &["lvs", "--driverloaded", "n", "--noheadings", "-o", "lv_name,origin", "salvsnap"]);
        assert!(oracle.split_whitespace().collect::<Vec<_>>().windows(2).any(|w| w == ["snap", "data"]), "{oracle}");
    }
    // The COW store: 4 KiB chunks, 256 exceptions per area.
    let chunk = 4096usize;
    let mut cow = vec![0u8; 8 * MIB as usize];
    cow[0..4].copy_from_slice(&0x7041_6e53u32.to_le_bytes());
    cow[4..8].copy_from_slice(&1u32.to_le_bytes());
    cow[8..12].copy_from_slice(&1u32.to_le_bytes());
    cow[12..16].copy_from_slice(&8u32.to_le_bytes());
    let changed: Vec<usize> = (0..before.len() / chunk).filter(|c| before[c * chunk..(c + 1) * chunk] != after[c * chunk..(c + 1) * chunk]).collect();
    for (k, old) in changed.iter().enumerate() {
        let (area, slot) = (k / 256, k % 256);
        let meta = 1 + area * 257;
        let new = meta + 1 + slot;
        assert!((new + 1) * chunk <= cow.len(), "{} changed chunks don't fit the COW LV", changed.len());
        let e = meta * chunk + slot * 16;
        cow[e..e + 8].copy_from_slice(&(*old as u64).to_le_bytes());
        cow[e + 8..e + 16].copy_from_slice(&(new as u64).to_le_bytes());
        cow[new * chunk..(new + 1) * chunk].copy_from_slice(&before[old * chunk..(old + 1) * chunk]);
    }
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
        f.write_all_at(&after, MIB).unwrap();
        f.write_all_at(&cow, MIB + 8 * MIB).unwrap();
    }
    let image = open(&a, &[]);
    let data = volume(&image, "salvsnap/data");
    compare(&*image.filesystem(data.index).unwrap(), &new_src, "");
    let snap = volume(&image, "salvsnap/snap");
    assert_eq!(snap.type_name, "LVM2 snapshot of salvsnap/data");
    assert_eq!(snap.length, 8 * MIB);
    assert!(snap.supported, "{}", snap.status);
    compare(&*image.filesystem(snap.index).unwrap(), &old_src, "");
}

/// raid0, raid10 and raid5_ls LVs (metadata restored with vgcfgrestore;
/// each image on its own PV, its data laid out as md lays out the level):
/// read whole, and raid5/raid10 with one PV missing.
#[test]
fn lvm_raid0_raid10_raid5_lvs() {
    if !is_root() {
        eprintln!("skipped: needs root for losetup");
        return;
    }
    for (segtype, level, n) in [("raid5_ls", 5, 3usize), ("raid0", 0, 3), ("raid10", 10, 4)] {
        let dir = scratch(&format!("lvm-{segtype}"));
        let pvs: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("pv{i}.img"))).collect();
        for f in &pvs {
            std::fs::File::create(f).unwrap().set_len(16 * MIB).unwrap();
        }
        let src = tree(&dir, 70);
        let lv_mib = 12u64;
        let fs = ext4_of(&dir, segtype, &src, lv_mib * MIB);
        let per_image = match level {
            0 => lv_mib / n as u64,
            10 => lv_mib * 2 / n as u64,
            _ => lv_mib / (n as u64 - 1),
        };
        let vg = format!("salv{}", segtype.replace('_', ""));
        {
            let loops: Vec<Loop> = pvs.iter().map(|p| Loop::new(p)).collect();
            let devs: Vec<&Loop> = loops.iter().collect();
            let names: Vec<&str> = loops.iter().map(|l| l.0.as_str()).collect();
            lvm(&devs, &[&["pvcreate", "-q"][..], &names].concat());
            lvm(&devs, &[&["vgcreate", "-q", "-s", "1m", &vg][..], &names].concat());
            let backup = dir.join("vg.txt");
            lvm(&devs, &["vgcfgbackup", "-q", "-f", backup.to_str().unwrap(), &vg]);
            // raid0 has no metadata sub-LVs.
            let raids: Vec<String> = (0..n)
                .map(|i| if level == 0 { format!("\"lv_rimage_{i}\"") } else { format!("\"lv_rmeta_{i}\", \"lv_rimage_{i}\"") })
                .collect();
            let seg = if level == 0 {
                format!(
                    "start_extent = 0\nextent_count = {lv_mib}\ntype = \"raid0\"\nstripe_count = {n}\nstripe_size = 128\nraid0_lvs = [\n{}\n]",
                    raids.join(",\n")
                )
            } else {
                format!(
                    "start_extent = 0\nextent_count = {lv_mib}\ntype = \"{segtype}\"\ndevice_count = {n}\nstripe_size = 128\nregion_size = 1024\nraids = [\n{}\n]",
                    raids.join(",\n")
                )
            };
            let mut lvs = lv_text("lv", true, &seg);
            for i in 0..n {
                if level != 0 {
                    lvs.push_str(&lv_text(&format!("lv_rmeta_{i}"), false, &linear_text(&format!("pv{i}"), 0, 1)));
                }
                lvs.push_str(&lv_text(&format!("lv_rimage_{i}"), false, &linear_text(&format!("pv{i}"), 1, per_image)));
            }
            std::fs::write(&backup, with_lvs(&std::fs::read_to_string(&backup).unwrap(), &lvs)).unwrap();
            lvm(&devs, &["vgcfgrestore", "-q", "--force", "-f", backup.to_str().unwrap(), &vg]);
            let oracle = lvm(&devs, &["lvs", "--driverloaded", "n", "--noheadings", "-o", "lv_name,segtype,lv_size", "--units", "m", &vg]);
            let want_type = if segtype == "raid5_ls" { "raid5" } else { segtype };
            assert!(oracle.contains(want_type) && oracle.contains(&format!("{lv_mib}.00m")), "{segtype}: {oracle}");
        }
        for (role, f) in pvs.iter().enumerate() {
            use std::os::unix::fs::FileExt;
            let data = member_data(level, n, 64 * 1024, role, &fs, (per_image * MIB) as usize);
            std::fs::OpenOptions::new().write(true).open(f).unwrap().write_all_at(&data, 2 * MIB).unwrap();
        }
        let with: Vec<&Path> = pvs[1..].iter().map(|p| p.as_path()).collect();
        let image = open(&pvs[0], &with);
        let v = volume(&image, &format!("{vg}/lv"));
        assert!(v.supported, "{segtype}: {}", v.status);
        assert_eq!(v.length, lv_mib * MIB, "{segtype}");
        compare(&*image.filesystem(v.index).unwrap(), &src, "");
        // Without the last PV.
        let image = open(&pvs[0], &with[..with.len() - 1]);
        let v = volume(&image, &format!("{vg}/lv"));
        if level == 0 {
            assert!(!v.supported);
            assert!(v.status.contains("raid0 segment: 1 of its 3 images are missing"), "{}", v.status);
        } else {
            assert!(v.supported, "{segtype}, degraded: {}", v.status);
            assert!(v.problems.iter().any(|p| p.starts_with("degraded, the data is still complete: PV pv")), "{:?}", v.problems);
            compare(&*image.filesystem(v.index).unwrap(), &src, "");
        }
    }
}
