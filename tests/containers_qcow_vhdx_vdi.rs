//! qcow2, VHDX and VDI against qemu-img: every virtual disk Salvage reads
//! must equal `qemu-img convert -O raw`'s output (sha256 of the whole disk
//! and random reads), and files read through the whole stack (image →
//! GPT volume → ext4) must equal the source tree.
//!
//! The raw disk is built at test time (sgdisk GPT + `mke2fs -d` ext4 with
//! known files) and converted with qemu-img; tests skip with a message when
//! the tools are missing. With `SALVAGE_CORPUS=DIR` the qemu-iotests and
//! dfvfs images are checked against that folder's README.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::OnceLock;

use salvage::container::detect::open_disk;
use salvage::container::Disk;
use salvage::image::Image;
use salvage::read_at::{IoStats, ReadAt};
use sha2::{Digest, Sha256};

mod common;
use common::{pseudo_random, sha256_reader, source};

const MIB: u64 = 1 << 20;

fn open(main: &Path, with: &[&Path]) -> salvage::Result<Disk> {
    let stats = Rc::new(IoStats::default());
    open_disk(source(main, &stats), with.iter().map(|p| source(p, &stats)).collect())
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn tools_missing() -> Option<&'static str> {
    for t in ["qemu-img", "qemu-io", "sgdisk", "mke2fs"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {t} || test -x /usr/sbin/{t} || test -x /sbin/{t}")).output();
        if !found.is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: {t} is not installed");
            return Some("tool missing");
        }
    }
    let _ = have;
    None
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin")
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Files placed in the ext4 volume: path → content.
fn tree_files() -> BTreeMap<&'static str, Vec<u8>> {
    let mut m = BTreeMap::new();
    m.insert("etc/hostname", b"qcow-test\n".to_vec());
    let text: Vec<u8> = (0..40_000).flat_map(|i| format!("line {i}: the quick brown fox\n").into_bytes()).collect();
    m.insert("var/log/syslog", text);
    m.insert("home/alice/random.bin", pseudo_random(3 * MIB as usize + 12_345, 7));
    m.insert("home/alice/zeros.bin", vec![0u8; MIB as usize]);
    m.insert("srv/data/pattern.bin", (0..2 * MIB as usize).map(|i| (i % 251) as u8).collect());
    m
}

struct Fixture {
    dir: PathBuf,
    raw: PathBuf,
}

/// The raw GPT disk with one ext4 partition, built once per test run.
fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        if tools_missing().is_some() {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("salvage-qvv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let tree = dir.join("tree");
        for (path, data) in tree_files() {
            let f = tree.join(path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, data).unwrap();
        }
        let fs = dir.join("fs.img");
        run(&["mke2fs", "-q", "-F", "-t", "ext4", "-L", "qvv", "-d", p(&tree), p(&fs), "40M"]);
        let raw = dir.join("disk.raw");
        run(&["truncate", "-s", "48M", p(&raw)]);
        run(&["sgdisk", "-n", "1:2048:+40M", "-t", "1:8300", p(&raw)]);
        run(&["dd", "status=none", "conv=notrunc", "bs=1M", "seek=1", &format!("if={}", p(&fs)), &format!("of={}", p(&raw))]);
        Some(Fixture { dir, raw })
    })
    .as_ref()
}

fn sha256_file(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// The disk equals qemu-img's raw conversion of `image`: whole hash and random reads.
fn check_equals_qemu(disk: &Disk, image: &Path) {
    let raw = image.with_extension("qemu.raw");
    run(&["qemu-img", "convert", "-O", "raw", p(image), p(&raw)]);
    let expected = std::fs::read(&raw).unwrap();
    assert_eq!(disk.reader.size(), expected.len() as u64, "{}: virtual size", image.display());
    assert_eq!(sha256_reader(&*disk.reader), sha256_file(&raw), "{}: whole-disk sha256", image.display());
    let noise = pseudo_random(300 * 16, 99);
    for i in 0..300 {
        let a = u64::from_le_bytes(noise[i * 16..i * 16 + 8].try_into().unwrap());
        let b = u64::from_le_bytes(noise[i * 16 + 8..i * 16 + 16].try_into().unwrap());
        let len = (b % 200_000) as usize + 1;
        let off = a % (expected.len() as u64 - len as u64);
        let mut buf = vec![0u8; len];
        disk.reader.read_exact_at(off, &mut buf).unwrap();
        assert!(buf == expected[off as usize..off as usize + len], "{}: read at {off:#x}+{len}", image.display());
    }
    let _ = std::fs::remove_file(raw);
}

/// Every file of the tree reads back through image → GPT → ext4.
fn check_files(main: &Path, with: &[&Path]) {
    let stats = Rc::new(IoStats::default());
    let image = Image::open(source(main, &stats), with.iter().map(|p| source(p, &stats)).collect(), stats.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", main.display()));
    let fs = image.filesystem(image.default_volume().unwrap()).unwrap();
    for (path, data) in tree_files() {
        let inode = fs.resolve(format!("/{path}").as_bytes()).unwrap();
        let mut got = vec![0u8; data.len()];
        let mut done = 0;
        while done < got.len() {
            let n = fs.read_at(inode, done as u64, &mut got[done..]).unwrap();
            assert!(n > 0, "{path} ends early");
            done += n;
        }
        assert!(got == data, "{}: {path} differs", main.display());
    }
}

fn convert(fx: &Fixture, name: &str, args: &[&str]) -> PathBuf {
    let out = fx.dir.join(name);
    let mut cmd = vec!["qemu-img", "convert"];
    cmd.extend_from_slice(args);
    cmd.push(p(&fx.raw));
    cmd.push(p(&out));
    run(&cmd);
    out
}

#[test]
fn qcow2_variants_equal_qemu_and_files_read() {
    let Some(fx) = fixture() else { return };
    let cases: &[(&str, &[&str], &str)] = &[
        ("v2.qcow2", &["-O", "qcow2", "-o", "compat=0.10"], "qcow2 v2, 64 KiB clusters, zlib, 48 MiB virtual"),
        ("v3-512.qcow2", &["-O", "qcow2", "-o", "compat=1.1,cluster_size=512"], "qcow2 v3, 512 B clusters"),
        ("v3-2m.qcow2", &["-O", "qcow2", "-o", "cluster_size=2M"], "qcow2 v3, 2 MiB clusters"),
        ("extl2.qcow2", &["-O", "qcow2", "-o", "extended_l2=on"], "extended L2 (subclusters)"),
        ("zlib.qcow2", &["-c", "-O", "qcow2"], "zlib"),
        ("zlib-v2-512.qcow2", &["-c", "-O", "qcow2", "-o", "compat=0.10,cluster_size=512"], "qcow2 v2, 512 B clusters"),
        ("zstd.qcow2", &["-c", "-O", "qcow2", "-o", "compression_type=zstd"], "zstd"),
        ("zstd-2m.qcow2", &["-c", "-O", "qcow2", "-o", "compression_type=zstd,cluster_size=2M"], "zstd"),
        ("zstd-extl2.qcow2", &["-c", "-O", "qcow2", "-o", "compression_type=zstd,extended_l2=on"], "extended L2"),
    ];
    for (name, args, summary) in cases {
        let img = convert(fx, name, args);
        let disk = open(&img, &[]).unwrap();
        assert_eq!(disk.format, "qcow2");
        assert!(disk.details[0].1.contains(summary), "{name}: {:?}", disk.details);
        assert!(disk.notes.is_empty(), "{name}: {:?}", disk.notes);
        check_equals_qemu(&disk, &img);
        check_files(&img, &[]);
    }
}

#[test]
fn qcow2_backing_chain_reads_through_and_names_what_is_missing() {
    let Some(fx) = fixture() else { return };
    let d = fx.dir.join("chain");
    std::fs::create_dir_all(&d).unwrap();
    let base = d.join("base.qcow2");
    run(&["qemu-img", "convert", "-O", "qcow2", p(&fx.raw), p(&base)]);
    let mid = d.join("mid.qcow2");
    run(&["qemu-img", "create", "-q", "-f", "qcow2", "-b", p(&base), "-F", "qcow2", p(&mid)]);
    run(&["qemu-io", "-c", "write -P 0xcd 5M 100k", p(&mid)]);
    // The top is larger than its backing file: the tail reads as zeros.
    let top = d.join("top.qcow2");
    run(&["qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", p(&top), "64M"]);
    run(&["qemu-io", "-c", "write -P 0xab 1M 64k", "-c", "write -z 3M 64k", "-c", "write -P 0x11 50M 8k", p(&top)]);
    let disk = open(&top, &[&base, &mid]).unwrap();
    assert_eq!(disk.parts, ["top.qcow2", "mid.qcow2", "base.qcow2"]);
    assert!(disk.details[0].1.ends_with("backing mid.qcow2 (qcow2)"), "{:?}", disk.details);
    check_equals_qemu(&disk, &top);

    // The overlay alone: it opens, says what is missing, and refuses to guess.
    let alone = open(&top, &[]).unwrap();
    assert!(alone.notes[0].contains("backing file mid.qcow2"), "{:?}", alone.notes);
    let mut buf = [0u8; 16];
    alone.reader.read_exact_at(MIB, &mut buf).unwrap();
    assert_eq!(buf, [0xab; 16]);
    let e = alone.reader.read_exact_at(0, &mut buf).unwrap_err();
    assert!(e.to_string().contains("backing file mid.qcow2, which was not selected"), "{e}");
    // Two levels, the bottom one missing.
    let e = open(&top, &[&mid]).unwrap();
    assert!(e.notes.iter().any(|n| n.starts_with("backing file mid.qcow2: mid.qcow2 is an overlay on the backing file base.qcow2")), "{:?}", e.notes);

    // A raw backing file.
    let over_raw = d.join("over-raw.qcow2");
    run(&["qemu-img", "create", "-q", "-f", "qcow2", "-b", p(&fx.raw), "-F", "raw", p(&over_raw)]);
    run(&["qemu-io", "-c", "write -P 0x42 0 4k", p(&over_raw)]);
    let disk = open(&over_raw, &[&fx.raw]).unwrap();
    assert_eq!(disk.parts, ["over-raw.qcow2", "disk.raw"]);
    check_equals_qemu(&disk, &over_raw);
}

#[test]
fn qcow2_overlay_reads_files_through_the_chain() {
    let Some(fx) = fixture() else { return };
    let d = fx.dir.join("chain2");
    std::fs::create_dir_all(&d).unwrap();
    let base = d.join("b.qcow2");
    run(&["qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", p(&fx.raw), p(&base)]);
    let top = d.join("t.qcow2");
    run(&["qemu-img", "create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", p(&top)]);
    // Rewrite a few clusters with their own content: allocated in the overlay, same bytes.
    run(&["qemu-io", "-c", "write -P 0 40M 64k", p(&top)]);
    check_files(&top, &[&base]);
}

#[test]
fn qcow2_external_data_file() {
    let Some(fx) = fixture() else { return };
    let d = fx.dir.join("ext");
    std::fs::create_dir_all(&d).unwrap();
    let img = d.join("e.qcow2");
    let data = d.join("e.data");
    run(&["qemu-img", "create", "-q", "-f", "qcow2", "-o", &format!("data_file={}", p(&data)), p(&img), "8M"]);
    run(&["qemu-io", "-c", "write -P 0x77 1M 256k", "-c", "write -P 0x78 7M 4k", p(&img)]);
    let disk = open(&img, &[&data]).unwrap();
    assert!(disk.details[0].1.contains("data file e.data"), "{:?}", disk.details);
    check_equals_qemu(&disk, &img);
    let alone = open(&img, &[]).unwrap();
    assert!(alone.notes[0].contains("external data file e.data, which was not selected"), "{:?}", alone.notes);
    let mut buf = [0u8; 8];
    let e = alone.reader.read_exact_at(MIB, &mut buf).unwrap_err();
    assert!(e.to_string().contains("e.data, which was not selected"), "{e}");
}

#[test]
fn qcow2_encryption_is_named_and_refused() {
    let Some(fx) = fixture() else { return };
    let img = fx.dir.join("enc.qcow2");
    run(&[
        "qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=sec0,data=salvage",
        "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", p(&img), "4M",
    ]);
    let e = open(&img, &[]).err().unwrap();
    assert_eq!(
        e.to_string(),
        "qcow2 enc.qcow2: this image is encrypted with LUKS; Salvage can't decrypt qcow2 images yet (qemu-img convert with the key can)"
    );
}

#[test]
fn qcow2_damage_is_a_sentence_not_a_panic() {
    let Some(fx) = fixture() else { return };
    let img = convert(fx, "cut.qcow2", &["-O", "qcow2"]);
    let full = std::fs::read(&img).unwrap();
    for keep in [100usize, 4096, 70_000, 300_000, full.len() / 2] {
        let cut = fx.dir.join(format!("cut-{keep}.qcow2"));
        std::fs::write(&cut, &full[..keep]).unwrap();
        match open(&cut, &[]) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(disk) => {
                let mut buf = vec![0u8; MIB as usize];
                let mut failures = 0;
                for i in 0..disk.reader.size() / MIB {
                    if let Err(e) = disk.reader.read_exact_at(i * MIB, &mut buf) {
                        assert!(e.to_string().contains("cut-"), "{e}");
                        failures += 1;
                    }
                }
                assert!(failures > 0, "a qcow2 cut to {keep} bytes reads whole");
            }
        }
    }
}

#[test]
fn vhdx_fixed_and_dynamic_equal_qemu() {
    let Some(fx) = fixture() else { return };
    for (name, sub, summary) in [
        ("fixed.vhdx", "subformat=fixed", "VHDX fixed, 8 MiB blocks, 512 B logical / 512 B physical sectors, 48 MiB virtual"),
        ("dynamic.vhdx", "subformat=dynamic", "VHDX dynamic"),
        ("dyn-1m.vhdx", "subformat=dynamic,block_size=1M,log_size=1M", "1 MiB blocks"),
    ] {
        let img = convert(fx, name, &["-O", "vhdx", "-o", sub]);
        let disk = open(&img, &[]).unwrap();
        assert_eq!(disk.format, "VHDX");
        assert!(disk.details[0].1.starts_with(summary) || disk.details[0].1.contains(summary), "{name}: {:?}", disk.details);
        check_equals_qemu(&disk, &img);
        check_files(&img, &[]);
    }
}

#[test]
fn vdi_static_and_dynamic_equal_qemu() {
    let Some(fx) = fixture() else { return };
    for (name, opt, summary) in [
        ("static.vdi", "static=on", "VDI 1.1, static, 1 MiB blocks, 48 MiB virtual, 48 of 48 blocks allocated"),
        ("dynamic.vdi", "static=off", "VDI 1.1, dynamic, 1 MiB blocks, 48 MiB virtual"),
    ] {
        let img = convert(fx, name, &["-O", "vdi", "-o", opt]);
        let disk = open(&img, &[]).unwrap();
        assert_eq!(disk.format, "VDI");
        assert!(disk.details[0].1.starts_with(summary), "{name}: {:?}", disk.details);
        check_equals_qemu(&disk, &img);
        check_files(&img, &[]);
    }
}

#[test]
fn info_names_the_container() {
    let Some(fx) = fixture() else { return };
    let img = convert(fx, "info.qcow2", &["-c", "-O", "qcow2", "-o", "compression_type=zstd"]);
    let out = Command::new(env!("CARGO_BIN_EXE_salvage")).args(["info", p(&img)]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("image: qcow2 (48.0 MiB, 50331648 bytes)\n  container: qcow2 v3, 64 KiB clusters, zstd, 48 MiB virtual, "), "{text}");
    assert!(text.contains("ext4"), "{text}");
}

// ---- third-party images (SALVAGE_CORPUS) ----

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("SALVAGE_CORPUS")?);
    dir.is_dir().then_some(dir)
}

/// Decompresses `name` (.bz2 or .xz) from the corpus into a temp dir.
fn unpack(corpus: &Path, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("salvage-qvv-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (stem, tool) = match name.rsplit_once('.') {
        Some((s, "bz2")) => (s, "bzip2"),
        Some((s, "xz")) => (s, "xz"),
        _ => panic!("{name}"),
    };
    let out = dir.join(stem);
    if !out.exists() {
        let data = Command::new(tool).args(["-dc", p(&corpus.join(name))]).output().unwrap();
        assert!(data.status.success());
        std::fs::write(&out, data.stdout).unwrap();
    }
    out
}

fn all_bytes(disk: &Disk, start: u64, end: u64, value: u8) -> bool {
    let mut buf = vec![0u8; MIB as usize];
    let mut pos = start;
    while pos < end {
        let n = (end - pos).min(MIB) as usize;
        disk.reader.read_exact_at(pos, &mut buf[..n]).unwrap();
        if buf[..n].iter().any(|b| *b != value) {
            return false;
        }
        pos += n as u64;
    }
    true
}

#[test]
fn corpus_vhdx_images_read_as_documented() {
    let Some(c) = corpus() else {
        eprintln!("skipped: SALVAGE_CORPUS is not set");
        return;
    };
    let q = c.join("qemu-iotests");
    let dynamic = unpack(&q, "iotest-dynamic-1G.vhdx.bz2");
    let disk = open(&dynamic, &[]).unwrap();
    assert_eq!(disk.reader.size(), 1 << 30);
    assert!(all_bytes(&disk, 0, 33 * MIB, 0xa5));
    assert!(all_bytes(&disk, 33 * MIB, 66 * MIB, 0x96));
    assert!(all_bytes(&disk, 66 * MIB, 80 * MIB, 0));
    let mut buf = vec![1u8; 4096];
    disk.reader.read_exact_at((1 << 30) - 4096, &mut buf).unwrap();
    assert!(buf.iter().all(|b| *b == 0));

    let dirty = unpack(&q, "iotest-dirtylog-10G-4M.vhdx.bz2");
    let disk = open(&dirty, &[]).unwrap();
    assert_eq!(disk.reader.size(), 10 << 30);
    assert!(disk.notes.iter().any(|n| n.contains("replayed in memory")), "{:?}", disk.notes);
    assert!(all_bytes(&disk, 0, 18 * MIB, 0xa5));

    let d2v = unpack(&q, "test-disk2vhd.vhdx.bz2");
    let disk = open(&d2v, &[]).unwrap();
    assert_eq!(disk.reader.size(), 256 * MIB);
    let mut mbr = [0u8; 512];
    disk.reader.read_exact_at(0, &mut mbr).unwrap();
    assert_eq!(&mbr[510..], &[0x55, 0xaa]);
    assert_eq!(u32::from_le_bytes(mbr[0x1be + 8..0x1be + 12].try_into().unwrap()), 128);
}

#[test]
fn corpus_qcow2_images_read_as_documented() {
    let Some(c) = corpus() else {
        eprintln!("skipped: SALVAGE_CORPUS is not set");
        return;
    };
    let d = c.join("dfvfs");
    for name in ["ext2.qcow2.xz", "windows_volume.qcow2.xz"] {
        let img = unpack(&d, name);
        let disk = open(&img, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(disk.format, "qcow2");
        if have("qemu-img") {
            check_equals_qemu(&disk, &img);
        }
    }
    // dfvfs's ext2 image: an ext2 filesystem straight on the disk.
    let img = unpack(&d, "ext2.qcow2.xz");
    let disk = open(&img, &[]).unwrap();
    let mut sb = [0u8; 2];
    disk.reader.read_exact_at(1024 + 0x38, &mut sb).unwrap();
    assert_eq!(sb, [0x53, 0xef]);
    // Other formats in the folder are not mistaken for these.
    for name in ["afl5.img.bz2", "parallels-v1.bz2", "empty.bochs.bz2", "simple-pattern.cloop.bz2"] {
        let f = unpack(&c.join("qemu-iotests"), name);
        if let Ok(disk) = open(&f, &[]) {
            assert!(!matches!(disk.format.as_str(), "qcow2" | "VHDX" | "VDI"), "{name} is {}", disk.format);
        }
    }
}

#[test]
fn fuzz_entry_points_survive_the_converted_images_cut_and_flipped() {
    let Some(fx) = fixture() else { return };
    let imgs = [
        (convert(fx, "fz.qcow2", &["-c", "-O", "qcow2", "-o", "cluster_size=4096"]), salvage::container::qcow2::fuzz as fn(&[u8])),
        (convert(fx, "fz.vhdx", &["-O", "vhdx", "-o", "block_size=1M,log_size=1M"]), salvage::container::vhdx::fuzz),
        (convert(fx, "fz.vdi", &["-O", "vdi"]), salvage::container::vdi::fuzz),
    ];
    for (img, fuzz) in imgs {
        let data = std::fs::read(&img).unwrap();
        let head = &data[..data.len().min(2 * MIB as usize)];
        let noise = pseudo_random(64, 5);
        for (i, b) in noise.iter().enumerate() {
            let mut g = head.to_vec();
            let at = (u64::from(*b) * 7919 * (i as u64 + 1)) as usize % g.len().min(400_000);
            g[at] ^= 0x5a;
            fuzz(&g);
        }
        fuzz(head);
    }
}

#[test]
fn the_top_of_a_chain_is_found_whichever_file_comes_first() {
    let Some(fx) = fixture() else { return };
    let d = fx.dir.join("order");
    std::fs::create_dir_all(&d).unwrap();
    let base = d.join("a-base.qcow2");
    run(&["qemu-img", "convert", "-O", "qcow2", p(&fx.raw), p(&base)]);
    let top = d.join("z-top.qcow2");
    run(&["qemu-img", "create", "-q", "-f", "qcow2", "-b", "a-base.qcow2", "-F", "qcow2", p(&top)]);
    run(&["qemu-io", "-c", "write -P 0x99 2M 4k", p(&top)]);
    // As the page passes them: sorted by name, the base first.
    let disk = open(&base, &[&top]).unwrap();
    assert_eq!(disk.parts, ["z-top.qcow2", "a-base.qcow2"]);
    assert_eq!(disk.notes[0], "z-top.qcow2 was opened as the top of the chain: it refers to a-base.qcow2");
    check_equals_qemu(&disk, &top);
    // A VDI snapshot and its parent, matched by UUID.
    let parent = d.join("parent.vdi");
    run(&["qemu-img", "convert", "-O", "vdi", p(&fx.raw), p(&parent)]);
    let disk = open(&parent, &[]).unwrap();
    assert_eq!(disk.parts, ["parent.vdi"]);
}

/// Inputs the container fuzz targets crashed or hung on
/// (fuzz/regressions/container_*/) stay fixed: each runs through the same
/// entry point quickly and without a panic.
#[test]
fn fuzz_regressions_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    type Target = (&'static str, fn(&[u8]));
    let targets: [Target; 3] = [
        ("container_qcow2", salvage::container::qcow2::fuzz),
        ("container_vhdx", salvage::container::vhdx::fuzz),
        ("container_vdi", salvage::container::vdi::fuzz),
    ];
    for (target, fuzz) in targets {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else { continue };
        for f in dir.flatten().map(|e| e.path()) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".md") {
                continue;
            }
            let t = std::time::Instant::now();
            fuzz(&std::fs::read(&f).unwrap());
            assert!(t.elapsed() < std::time::Duration::from_secs(20), "{target}/{name} took {:?}", t.elapsed());
        }
    }
}
