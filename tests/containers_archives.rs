//! Archives around a disk (tar in every format GNU tar writes, gzip, pigz,
//! multi-member gzip, .tar.gz) against the real tools: the virtual disk
//! Salvage reads must equal the raw disk (whole sha256 and 300 random
//! reads), the tar member must equal what Python's `tarfile` extracts, and
//! files read through the whole stack (archive → disk → GPT → ext4) must
//! equal the source tree. Damaged archives give a sentence, not a panic.
//!
//! The raw disk is built at test time (sgdisk GPT + `mke2fs -d` ext4, with
//! holes so `tar -S` has something to skip); tests skip with a message
//! when a tool is missing.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::OnceLock;

use salvage::container::detect::open_disk;
use salvage::container::gzip::{GzipIndex, GzipIndexBuilder, GzipReader};
use salvage::container::tar;
use salvage::container::Disk;
use salvage::image::Image;
use salvage::read_at::{IoStats, ReadAt, Reader};
use sha2::{Digest, Sha256};

mod common;
use common::{pseudo_random, sha256_reader, source};

const MIB: u64 = 1 << 20;

fn open(main: &Path) -> salvage::Result<Disk> {
    let stats = Rc::new(IoStats::default());
    open_disk(source(main, &stats), Vec::new())
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} || test -x /usr/sbin/{tool} || test -x /sbin/{tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn missing(tools: &[&str]) -> bool {
    for t in tools {
        if !have(t) {
            eprintln!("skipped: {t} is not installed");
            return true;
        }
    }
    false
}

fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin:/usr/local/bin")
        .output()
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Files placed in the ext4 volume: path → content.
fn tree_files() -> BTreeMap<&'static str, Vec<u8>> {
    let mut m = BTreeMap::new();
    m.insert("etc/hostname", b"archive-test\n".to_vec());
    let text: Vec<u8> = (0..40_000).flat_map(|i| format!("line {i}: the quick brown fox\n").into_bytes()).collect();
    m.insert("var/log/syslog", text);
    m.insert("home/alice/random.bin", pseudo_random(3 * MIB as usize + 12_345, 7));
    m.insert("srv/data/pattern.bin", (0..2 * MIB as usize).map(|i| (i % 251) as u8).collect());
    m
}

struct Fixture {
    dir: PathBuf,
    raw: PathBuf,
}

/// A sparse raw GPT disk with one ext4 partition, built once per run.
fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        if missing(&["sgdisk", "mke2fs", "tar", "gzip", "python3"]) {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("salvage-arch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let tree = dir.join("tree");
        for (path, data) in tree_files() {
            let f = tree.join(path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, data).unwrap();
        }
        let (fs, raw) = (dir.join("fs.img"), dir.join("disk.raw"));
        sh(&format!("mke2fs -q -F -t ext4 -L arch -d {} {} 40M", p(&tree), p(&fs)));
        sh(&format!("truncate -s 48M {r} && sgdisk -n 1:2048:+40M -t 1:8300 {r} >/dev/null", r = p(&raw)));
        sh(&format!("dd status=none conv=notrunc,sparse bs=64k seek=16 if={} of={}", p(&fs), p(&raw)));
        std::fs::write(dir.join("README.txt"), b"the disk is disk.raw\n").unwrap();
        Some(Fixture { dir, raw })
    })
    .as_ref()
}

/// The reader equals `expected`: whole hash and 300 random reads.
fn check_equals(r: &dyn ReadAt, expected: &[u8], what: &str) {
    assert_eq!(r.size(), expected.len() as u64, "{what}: size");
    assert_eq!(sha256_reader(r), format!("{:x}", Sha256::digest(expected)), "{what}: whole sha256");
    let noise = pseudo_random(300 * 16, 99);
    for i in 0..300 {
        let a = u64::from_le_bytes(noise[i * 16..i * 16 + 8].try_into().unwrap());
        let b = u64::from_le_bytes(noise[i * 16 + 8..i * 16 + 16].try_into().unwrap());
        let len = (b % 200_000) as usize + 1;
        let off = a % (expected.len() as u64 - len as u64);
        let mut buf = vec![0u8; len];
        r.read_exact_at(off, &mut buf).unwrap_or_else(|e| panic!("{what}: read at {off:#x}+{len}: {e}"));
        assert!(buf == expected[off as usize..off as usize + len], "{what}: read at {off:#x}+{len}");
    }
}

/// Every file of the tree reads back through archive → disk → GPT → ext4.
fn check_files(main: &Path) {
    let stats = Rc::new(IoStats::default());
    let image = Image::open(source(main, &stats), Vec::new(), stats.clone()).unwrap_or_else(|e| panic!("{}: {e}", main.display()));
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

/// What Python's tarfile extracts for `member` (it reads every sparse format).
fn python_extract(archive: &Path, member: &str, out: &Path) -> Vec<u8> {
    sh(&format!(
        "python3 -c 'import tarfile,shutil,sys; t=tarfile.open(sys.argv[1]); shutil.copyfileobj(t.extractfile(sys.argv[2]), open(sys.argv[3],\"wb\"))' {} {member} {}",
        p(archive),
        p(out)
    ));
    std::fs::read(out).unwrap()
}

/// A tar of disk.raw and README.txt made by GNU tar with `flags`.
fn make_tar(fx: &Fixture, name: &str, flags: &str) -> PathBuf {
    let out = fx.dir.join(name);
    sh(&format!("cd {} && tar {flags} -cf {} disk.raw README.txt", p(&fx.dir), p(&out)));
    out
}

#[test]
fn tar_formats_and_sparse_variants_read_like_tarfile() {
    let Some(fx) = fixture() else { return };
    let raw = std::fs::read(&fx.raw).unwrap();
    let cases: &[(&str, &str, bool)] = &[
        ("gnu.tar", "--format=gnu", false),
        ("oldgnu.tar", "--format=oldgnu", false),
        ("pax.tar", "--format=pax", false),
        ("ustar.tar", "--format=ustar", false),
        ("gnu-sparse.tar", "--format=gnu -S", true),
        ("oldgnu-sparse.tar", "--format=oldgnu -S", true),
        ("pax-sparse-0.0.tar", "--format=pax -S --sparse-version=0.0", true),
        ("pax-sparse-0.1.tar", "--format=pax -S --sparse-version=0.1", true),
        ("pax-sparse-1.0.tar", "--format=pax -S --sparse-version=1.0", true),
    ];
    for &(name, flags, sparse) in cases {
        let archive = make_tar(fx, name, flags);
        let r: Reader = source(&archive, &Rc::new(IoStats::default())).reader;
        let listing = tar::list(&*r).unwrap_or_else(|e| panic!("{name}: {e}"));
        let m = tar::choose(&listing, None).unwrap();
        assert_eq!(m.name, "disk.raw", "{name}");
        assert_eq!(m.sparse.is_some(), sparse, "{name}: sparse map");
        if sparse {
            assert!(m.stored_bytes < raw.len() as u64 / 2, "{name}: {} stored", m.stored_bytes);
        }
        let oracle = python_extract(&archive, "disk.raw", &fx.dir.join("extracted"));
        assert!(oracle == raw, "{name}: tarfile's extraction differs from the disk");
        let member = tar::member_reader(&r, m).unwrap();
        check_equals(&*member, &oracle, name);
        let readme = tar::choose(&listing, Some("README.txt")).unwrap();
        let mut b = vec![0u8; readme.size as usize];
        tar::member_reader(&r, readme).unwrap().read_exact_at(0, &mut b).unwrap();
        assert_eq!(b, b"the disk is disk.raw\n", "{name}");
        let disk = open(&archive).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(disk.format, "raw in tar", "{name}");
        assert_eq!(disk.parts, [name, "disk.raw"]);
        assert!(disk.notes.iter().any(|n| n.contains("the largest of its 2 files")), "{name}: {:?}", disk.notes);
        check_files(&archive);
        let _ = std::fs::remove_file(archive);
    }
}

#[test]
fn gzip_pigz_multi_member_and_tar_gz_read_like_gzip() {
    let Some(fx) = fixture() else { return };
    let raw = std::fs::read(&fx.raw).unwrap();
    let d = p(&fx.dir);
    let mut cases: Vec<(&str, String, &str)> = vec![
        ("disk.img.gz", format!("gzip -c {d}/disk.raw > {d}/disk.img.gz"), "raw in gzip"),
        ("fast.img.gz", format!("gzip -1 -c {d}/disk.raw > {d}/fast.img.gz"), "raw in gzip"),
        (
            "members.img.gz",
            format!("cd {d} && split -b 5000000 disk.raw piece. && for f in piece.*; do gzip -c $f; done > members.img.gz && rm piece.*"),
            "raw in gzip",
        ),
        ("disk.tar.gz", format!("cd {d} && tar --format=gnu -Scf - disk.raw README.txt | gzip > disk.tar.gz"), "raw in tar in gzip"),
    ];
    if have("pigz") {
        cases.push(("pigz.img.gz", format!("pigz -p 2 -b 256 -c {d}/disk.raw > {d}/pigz.img.gz"), "raw in gzip"));
        cases.push(("pigz.tar.gz", format!("cd {d} && tar --format=pax -cf - disk.raw README.txt | pigz -p 2 > pigz.tar.gz"), "raw in tar in gzip"));
    } else {
        eprintln!("pigz cases skipped: pigz is not installed");
    }
    for (name, script, format) in cases {
        sh(&script);
        let archive = fx.dir.join(name);
        let oracle_path = fx.dir.join("gunzipped");
        sh(&format!("gzip -dc {} > {}", p(&archive), p(&oracle_path)));
        let oracle = std::fs::read(&oracle_path).unwrap();
        let src = source(&archive, &Rc::new(IoStats::default())).reader;
        // Stepped pass with progress, then the index round-trips.
        let mut b = GzipIndexBuilder::new(src.clone()).unwrap();
        let mut steps = 0;
        let mut last = 0;
        loop {
            let pr = b.step(MIB).unwrap();
            assert!(pr.in_bytes >= last && pr.in_total == src.size(), "{name}: progress {pr:?}");
            last = pr.in_bytes;
            steps += 1;
            if pr.done {
                assert_eq!(pr.in_bytes, src.size(), "{name}");
                break;
            }
        }
        assert!(steps > 1 || src.size() < MIB, "{name}: {steps} steps");
        let ix = b.finish().unwrap();
        assert_eq!(ix.out_size, oracle.len() as u64, "{name}");
        let back = GzipIndex::from_bytes(&ix.to_bytes(), &*src).unwrap();
        assert_eq!(back.points, ix.points, "{name}");
        check_equals(&GzipReader::new(src, Rc::new(back)), &oracle, name);
        if name.ends_with(".img.gz") {
            assert!(oracle == raw, "{name}: gzip -dc differs from the disk");
        }
        let disk = open(&archive).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(disk.format, format, "{name}");
        check_equals(&*disk.reader, &raw, &format!("{name} disk"));
        check_files(&archive);
        let _ = std::fs::remove_file(archive);
    }
}

#[test]
fn the_member_can_be_chosen() {
    let Some(fx) = fixture() else { return };
    let archive = make_tar(fx, "choose.tar", "--format=gnu");
    let stats = Rc::new(IoStats::default());
    let opts = salvage::container::DiskOptions { member: Some("README.txt".into()), ..Default::default() };
    let disk = salvage::container::detect::open_disk_with(source(&archive, &stats), Vec::new(), &opts).unwrap();
    assert_eq!(disk.reader.size(), 21);
    let opts = salvage::container::DiskOptions { member: Some("nothing".into()), ..Default::default() };
    let e = salvage::container::detect::open_disk_with(source(&archive, &stats), Vec::new(), &opts).err().unwrap();
    assert_eq!(e.to_string(), "choose.tar: the archive has no file \"nothing\"; its files: disk.raw, README.txt");
}

#[test]
fn damaged_archives_give_a_sentence() {
    let Some(fx) = fixture() else { return };
    let d = p(&fx.dir);
    sh(&format!("cd {d} && tar --format=pax -S --sparse-version=1.0 -cf dmg.tar disk.raw && gzip -c disk.raw > dmg.img.gz"));
    let cut = |from: &str, to: &str, keep: u64| {
        let data = std::fs::read(fx.dir.join(from)).unwrap();
        std::fs::write(fx.dir.join(to), &data[..keep.min(data.len() as u64) as usize]).unwrap();
        fx.dir.join(to)
    };
    let gz_len = std::fs::metadata(fx.dir.join("dmg.img.gz")).unwrap().len();
    let e = open(&cut("dmg.img.gz", "cut.img.gz", gz_len / 2)).err().unwrap().to_string();
    assert!(e.starts_with("cut.img.gz: reading the gzip data, byte 0x") && e.ends_with("the file ends inside compressed data: it is cut short"), "{e}");
    let mut bad = std::fs::read(fx.dir.join("dmg.img.gz")).unwrap();
    let n = bad.len();
    bad[n / 2] ^= 0x55;
    bad[n / 2 + 1] ^= 0xaa;
    std::fs::write(fx.dir.join("bad.img.gz"), &bad).unwrap();
    let e = open(&fx.dir.join("bad.img.gz")).err().unwrap().to_string();
    assert!(e.starts_with("bad.img.gz: reading the gzip data, byte 0x"), "{e}");
    let tar_len = std::fs::metadata(fx.dir.join("dmg.tar")).unwrap().len();
    let e = open(&cut("dmg.tar", "cut.tar", tar_len / 2)).err().unwrap().to_string();
    assert!(e.contains("cut short"), "{e}");
    let e = open(&cut("dmg.tar", "header.tar", 700)).err().unwrap().to_string();
    assert!(e.starts_with("header.tar"), "{e}");
    // Every prefix length class of a small archive: a sentence, never a panic.
    for keep in [0u64, 10, 511, 512, 513, 1024, 1536, 4096] {
        let _ = open(&cut("dmg.tar", "prefix.tar", keep)).map(|d| d.reader.size());
        let _ = open(&cut("dmg.img.gz", "prefix.gz", keep)).map(|d| d.reader.size());
    }
}

#[test]
fn the_cli_saves_the_gzip_index_beside_the_image_and_takes_member() {
    let Some(fx) = fixture() else { return };
    let dir = fx.dir.join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let d = p(&fx.dir);
    sh(&format!("cd {d} && tar --format=gnu -cf - disk.raw README.txt | gzip -1 > cli/disk.tar.gz"));
    let archive = dir.join("disk.tar.gz");
    let info = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_salvage")).arg("info").arg(&archive).args(extra).output().unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code())
    };
    let (out, err, code) = info(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("raw in tar in gzip"), "{out}");
    assert!(!out.contains("used the saved gzip index"), "{out}");
    let saved = dir.join("disk.tar.gz.salvage-index");
    assert!(saved.exists());
    let (out, _, _) = info(&[]);
    assert!(out.contains("used the saved gzip index"), "{out}");
    // A stale index (another file under the same name) is ignored and replaced.
    sh(&format!("cd {d} && tar --format=pax -cf - disk.raw README.txt | gzip -9 > cli/disk.tar.gz"));
    let (out, err, code) = info(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("used the saved gzip index"), "{out}");
    let (out, err, code) = info(&["--member", "README.txt"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("README.txt (21 B)"), "{out}");
}

/// The fuzz targets' bodies over mutations of small real archives: a quick
/// stand-in for a fuzzing run (no panics, no hangs, bounded memory).
#[test]
fn fuzz_bodies_survive_mutated_archives() {
    let Some(fx) = fixture() else { return };
    let d = p(&fx.dir);
    sh(&format!(
        "cd {d} && head -c 16384 /dev/urandom > s.raw && truncate -s 65536 s.raw && printf tail >> s.raw && \
         tar --format=gnu -Scf m-gnu.tar s.raw README.txt && tar --format=pax -S --sparse-version=1.0 -cf m-pax10.tar s.raw && \
         tar --format=pax -S --sparse-version=0.0 -cf m-pax00.tar s.raw && tar --format=oldgnu -Scf m-old.tar s.raw && \
         {{ gzip -c m-gnu.tar; gzip -1 -c s.raw; }} > m.gz && xz -T1 -0 --block-size=16KiB -c s.raw > m.xz && \
         {{ zstd -q -c s.raw; cat s.raw | zstd -q -c; }} > m.zst"
    ));
    let start = std::time::Instant::now();
    let tar: fn(&[u8]) = salvage::container::tar::fuzz;
    let gz: fn(&[u8]) = salvage::container::gzip::fuzz;
    let xz: fn(&[u8]) = salvage::container::xz::fuzz;
    let zst: fn(&[u8]) = salvage::container::zstd::fuzz;
    for (name, body) in [("m-gnu.tar", tar), ("m-pax10.tar", tar), ("m-pax00.tar", tar), ("m-old.tar", tar), ("m.gz", gz), ("m.xz", xz), ("m.zst", zst)] {
        let seed = std::fs::read(fx.dir.join(name)).unwrap();
        body(&seed);
        let noise = pseudo_random(600 * 16, 5);
        for i in 0..600 {
            let mut data = seed.clone();
            let r = u64::from_le_bytes(noise[i * 16..i * 16 + 8].try_into().unwrap());
            let v = noise[i * 16 + 8..i * 16 + 16].to_vec();
            match i % 4 {
                0 => data.truncate((r % seed.len() as u64) as usize),
                // Headers and maps sit at the start: aim most flips there.
                1 => data[(r % 2048.min(seed.len() as u64)) as usize] ^= v[0] | 1,
                2 => {
                    for k in 0..4 {
                        let at = (r.rotate_left(k * 16) % seed.len() as u64) as usize;
                        data[at] = v[k as usize];
                    }
                }
                _ => {
                    let at = (r % seed.len() as u64) as usize;
                    let end = (at + 12).min(data.len());
                    data[at..end].copy_from_slice(&[b'7'; 12][..end - at]);
                }
            }
            body(&data);
        }
    }
    assert!(start.elapsed().as_secs() < 120, "{:?}", start.elapsed());
}

/// The benchmark row for scripts/bench-archive.sh: `SALVAGE_BENCH_ARCHIVE`
/// names a big .tar.gz (or .gz); prints index pass MB/s (compressed in,
/// inflated out), index size, and random 64 KiB read latency.
#[test]
#[ignore = "a benchmark: scripts/bench-archive.sh runs it"]
fn bench_archive() {
    let Ok(path) = std::env::var("SALVAGE_BENCH_ARCHIVE") else { return };
    let path = PathBuf::from(path);
    let src = source(&path, &Rc::new(IoStats::default())).reader;
    let t = std::time::Instant::now();
    let ix = GzipIndex::build(src.clone()).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let mb = |b: u64| b as f64 / 1e6;
    let saved = ix.to_bytes().len() as u64;
    let r = GzipReader::new(src.clone(), Rc::new(ix.clone()));
    let noise = pseudo_random(200 * 8, 11);
    let mut lat = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    for i in 0..200 {
        let a = u64::from_le_bytes(noise[i * 8..i * 8 + 8].try_into().unwrap());
        let off = a % (ix.out_size - buf.len() as u64);
        let t = std::time::Instant::now();
        r.read_exact_at(off, &mut buf).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    // A second open, with the index saved by the first.
    struct Saved(Vec<u8>);
    impl salvage::container::gzip::IndexStore for Saved {
        fn load(&self, _: &str) -> Option<Vec<u8>> {
            Some(self.0.clone())
        }
        fn save(&self, _: &str, _: &[u8]) {}
    }
    let opts = salvage::container::DiskOptions { member: None, index_store: Some(Rc::new(Saved(ix.to_bytes()))) };
    let t = std::time::Instant::now();
    let disk = salvage::container::detect::open_disk_with(source(&path, &Rc::new(IoStats::default())), Vec::new(), &opts).unwrap();
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(disk.notes.iter().any(|n| n.contains("used the saved gzip index")));
    println!("| file | compressed | inflated | index pass | in MB/s | out MB/s | points | index (saved) | 64 KiB read p50 | p95 | max | reopen with saved index |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {:.0} MB | {:.0} MB | {:.1} s | {:.0} | {:.0} | {} | {:.2} MiB | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} ms ({}) |",
        path.file_name().unwrap().to_string_lossy(),
        mb(ix.source_size),
        mb(ix.out_size),
        secs,
        mb(ix.source_size) / secs,
        mb(ix.out_size) / secs,
        ix.points.len(),
        saved as f64 / (1 << 20) as f64,
        lat[lat.len() / 2],
        lat[lat.len() * 95 / 100],
        lat[lat.len() - 1],
        open_ms,
        disk.format,
    );
}

#[test]
fn xz_multi_block_and_multi_stream_read_like_xz() {
    let Some(fx) = fixture() else { return };
    if missing(&["xz"]) {
        return;
    }
    let raw = std::fs::read(&fx.raw).unwrap();
    let d = p(&fx.dir);
    let cases: &[(&str, String, &str)] = &[
        ("blocks.img.xz", format!("xz -T2 -1 --block-size=4MiB -c {d}/disk.raw > {d}/blocks.img.xz"), "raw in xz"),
        ("crc32.img.xz", format!("xz -T1 -0 --check=crc32 --block-size=1MiB -c {d}/disk.raw > {d}/crc32.img.xz"), "raw in xz"),
        // Single-threaded xz: one block, small enough to decode whole.
        ("single.img.xz", format!("xz -T1 -0 -c {d}/disk.raw > {d}/single.img.xz"), "raw in xz"),
        (
            "streams.img.xz",
            format!("cd {d} && split -b 20000000 disk.raw xpiece. && for f in xpiece.*; do xz -0 -c $f; done > streams.img.xz && rm xpiece.*"),
            "raw in xz",
        ),
        ("disk.tar.xz", format!("cd {d} && tar --format=pax -S -cf - disk.raw README.txt | xz -T2 -0 --block-size=2MiB > disk.tar.xz"), "raw in tar in xz"),
    ];
    for (name, script, format) in cases {
        sh(script);
        let archive = fx.dir.join(name);
        let oracle_path = fx.dir.join("unxz");
        sh(&format!("xz -dc {} > {}", p(&archive), p(&oracle_path)));
        let oracle = std::fs::read(&oracle_path).unwrap();
        let src = source(&archive, &Rc::new(IoStats::default())).reader;
        let x = salvage::container::xz::reader(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_equals(&x, &oracle, name);
        let disk = open(&archive).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(disk.format, *format, "{name}");
        check_equals(&*disk.reader, &raw, &format!("{name} disk"));
        check_files(&archive);
        let _ = std::fs::remove_file(archive);
    }
    // Cut short and damaged: sentences.
    sh(&format!("xz -T2 -0 --block-size=1MiB -c {d}/disk.raw > {d}/dmg.img.xz"));
    let data = std::fs::read(fx.dir.join("dmg.img.xz")).unwrap();
    std::fs::write(fx.dir.join("cut.img.xz"), &data[..data.len() / 2]).unwrap();
    let e = open(&fx.dir.join("cut.img.xz")).err().unwrap().to_string();
    assert!(e.starts_with("cut.img.xz, byte 0x") && e.contains("footer is missing"), "{e}");
    let mut bad = data.clone();
    bad[data.len() / 3] ^= 0xff;
    bad[data.len() / 3 + 7] ^= 0x5a;
    std::fs::write(fx.dir.join("bad.img.xz"), &bad).unwrap();
    let x = salvage::container::xz::reader(source(&fx.dir.join("bad.img.xz"), &Rc::new(IoStats::default())).reader).unwrap();
    let mut buf = vec![0u8; MIB as usize];
    let errors = (0..48u64).filter(|i| x.read_exact_at(i * MIB, &mut buf).is_err()).count();
    assert!(errors >= 1, "damage went unnoticed");
    // One block too big to decode for each read: the sentence says what to do.
    sh(&format!("cd {d} && truncate -s 300M zeros.raw && xz -T1 -0 -c zeros.raw > one.img.xz && rm zeros.raw"));
    let e = open(&fx.dir.join("one.img.xz")).err().unwrap().to_string();
    assert_eq!(
        e,
        "one.img.xz: this file is one xz block of 300.0 MiB in all: xz can only read a block from its start, so it can't be opened in place — extract it first (`xz -dk`), or recompress with `xz -T0 --block-size=16MiB` for random access"
    );
    for keep in [0usize, 6, 12, 100, 4096] {
        std::fs::write(fx.dir.join("prefix.xz"), &data[..keep]).unwrap();
        let _ = open(&fx.dir.join("prefix.xz")).map(|d| d.reader.size());
    }
}

#[test]
fn zstd_frames_read_like_zstd() {
    let Some(fx) = fixture() else { return };
    if missing(&["zstd"]) {
        return;
    }
    let raw = std::fs::read(&fx.raw).unwrap();
    let d = p(&fx.dir);
    let mut cases: Vec<(&str, String, &str)> = vec![
        // The zstd tool writes one frame: small enough here to decode whole.
        ("one.img.zst", format!("zstd -q -1 -c {d}/disk.raw > {d}/one.img.zst"), "raw in zstd"),
        (
            "frames.img.zst",
            format!("cd {d} && split -b 3000000 disk.raw zpiece. && for f in zpiece.*; do zstd -q -c $f; done > frames.img.zst && rm zpiece.*"),
            "raw in zstd",
        ),
        (
            "nosize.img.zst",
            format!("cd {d} && split -b 8000000 disk.raw zpiece. && for f in zpiece.*; do cat $f | zstd -q -c; done > nosize.img.zst && rm zpiece.*"),
            "raw in zstd",
        ),
        ("disk.tar.zst", format!("cd {d} && tar --format=gnu -S -cf - disk.raw README.txt | zstd -q -c > disk.tar.zst"), "raw in tar in zstd"),
    ];
    if have("pzstd") {
        cases.push(("p.img.zst", format!("pzstd -q -p 2 -c {d}/disk.raw > {d}/p.img.zst"), "raw in zstd"));
    }
    for (name, script, format) in &cases {
        sh(script);
        let archive = fx.dir.join(name);
        let oracle_path = fx.dir.join("unzstd");
        sh(&format!("zstd -q -d -c {} > {}", p(&archive), p(&oracle_path)));
        let oracle = std::fs::read(&oracle_path).unwrap();
        let src = source(&archive, &Rc::new(IoStats::default())).reader;
        let (z, _) = salvage::container::zstd::reader(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_equals(&z, &oracle, name);
        let disk = open(&archive).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(disk.format, *format, "{name}");
        check_equals(&*disk.reader, &raw, &format!("{name} disk"));
        check_files(&archive);
        let _ = std::fs::remove_file(archive);
    }
    sh(&format!("cd {d} && truncate -s 300M zeros.raw && zstd -q -1 -c zeros.raw > big.img.zst && rm zeros.raw"));
    let e = open(&fx.dir.join("big.img.zst")).err().unwrap().to_string();
    assert_eq!(
        e,
        "big.img.zst: this file is one zstd frame of 300.0 MiB in all: a zstd frame can only be read from its start, so it can't be opened in place — extract it first (`zstd -d`), or compress in frames (`pzstd`, or the seekable format) for random access"
    );
    sh(&format!("zstd -q -1 -c {d}/disk.raw > {d}/dmg.img.zst"));
    let data = std::fs::read(fx.dir.join("dmg.img.zst")).unwrap();
    std::fs::write(fx.dir.join("cut.img.zst"), &data[..data.len() / 2]).unwrap();
    let e = open(&fx.dir.join("cut.img.zst")).err().unwrap().to_string();
    assert!(e.contains("cut short"), "{e}");
    for keep in [0usize, 4, 9, 100, 4096] {
        std::fs::write(fx.dir.join("prefix.zst"), &data[..keep]).unwrap();
        let _ = open(&fx.dir.join("prefix.zst")).map(|d| d.reader.size());
    }
}

/// A 9 GiB sparse member: its real size needs GNU base-256 (old GNU 'S')
/// or PAX; read at the data and in the holes.
#[test]
fn a_member_over_8_gib_uses_base_256_sizes() {
    let Some(fx) = fixture() else { return };
    let dir = fx.dir.join("big");
    std::fs::create_dir_all(&dir).unwrap();
    let d = p(&dir);
    sh(&format!(
        "cd {d} && truncate -s 9G huge.raw && printf head | dd status=none conv=notrunc of=huge.raw && \
         printf tail | dd status=none conv=notrunc bs=1 seek=$((9 * 1024 * 1024 * 1024 - 4)) of=huge.raw && \
         printf mid | dd status=none conv=notrunc bs=1 seek=$((8 * 1024 * 1024 * 1024 + 12345)) of=huge.raw && \
         tar --format=gnu -Scf gnu.tar huge.raw && tar --format=pax -Scf pax.tar huge.raw && rm huge.raw"
    ));
    for name in ["gnu.tar", "pax.tar"] {
        let archive = dir.join(name);
        let r = source(&archive, &Rc::new(IoStats::default())).reader;
        let listing = tar::list(&*r).unwrap();
        let m = tar::choose(&listing, None).unwrap();
        assert_eq!(m.size, 9 << 30, "{name}");
        let member = tar::member_reader(&r, m).unwrap();
        for (at, want) in [(0u64, &b"head"[..]), ((8u64 << 30) + 12345, b"mid"), ((9u64 << 30) - 4, b"tail"), (5 << 30, &[0u8; 4][..])] {
            let mut b = vec![0xee; want.len()];
            member.read_exact_at(at, &mut b).unwrap();
            assert_eq!(b, want, "{name} at {at}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
