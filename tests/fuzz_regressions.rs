//! Every input the fuzzers found a bug with (fuzz/regressions/<target>/),
//! and the seed corpora fuzz/seeds.sh builds, through the same entry
//! points the fuzz targets call (salvage::fs::ext4::fuzzing), so they run
//! under plain `cargo test` on stable.

#![allow(clippy::arithmetic_side_effects)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use salvage::fs::ext4::fuzzing;

mod common;

const TARGETS: [&str; 4] = ["ext4_walk", "ext4_extent", "ext4_dir_block", "ext4_journal"];
/// One input of at most a few MiB must finish well inside this, even in a debug build.
const PER_INPUT: Duration = Duration::from_secs(20);

fn run_target(target: &str, data: &[u8]) {
    match target {
        "ext4_walk" => drop(fuzzing::ext4_walk(data)),
        "ext4_journal" => drop(fuzzing::ext4_journal(data)),
        "ext4_extent" => fuzzing::ext4_extent(data),
        "ext4_dir_block" => fuzzing::ext4_dir_block(data),
        _ => panic!("unknown fuzz target {target}"),
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    // README files describe the inputs and dot files keep empty folders;
    // everything else is an input.
    out.retain(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        !name.starts_with('.') && !name.ends_with(".md")
    });
    out.sort();
    out
}

fn run_all(target: &str, files: &[PathBuf]) {
    for f in files {
        let data = std::fs::read(f).unwrap();
        let t = Instant::now();
        run_target(target, &data);
        assert!(t.elapsed() < PER_INPUT, "{} took {:?}", f.display(), t.elapsed());
    }
}

#[test]
fn crash_inputs_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut total = 0;
    for target in TARGETS {
        let files = files_in(&root.join(target));
        run_all(target, &files);
        total += files.len();
    }
    eprintln!("fuzz regressions: {total} inputs");
}

#[test]
fn seeds_walk_cleanly() {
    let dir = common::scratch("fuzz-seeds");
    let mut c = common::tool("bash");
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds.sh")).arg(&dir);
    common::run(c, &[0]);
    for target in TARGETS {
        let files = files_in(&dir.join(target));
        assert!(!files.is_empty(), "seeds.sh made no seeds for {target}");
        run_all(target, &files);
    }
    // The images are healthy: every entry lists, stats and reads without error.
    for target in ["ext4_walk", "ext4_journal"] {
        for f in files_in(&dir.join(target)) {
            let counts = fuzzing::ext4_walk(&std::fs::read(&f).unwrap()).unwrap();
            let tiny = f.file_name().is_some_and(|n| n.to_string_lossy().starts_with("tiny"));
            assert!(counts.entries > if tiny { 4 } else { 130 }, "{}: {counts:?}", f.display());
            assert_eq!(counts.errors, 0, "{}: {counts:?}", f.display());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// fuzz/regressions/ext4_walk/dir-blocks-reread: a 256-block image whose
/// root directory claims 287,616 blocks, all mapped (through 214 extent
/// leaves) onto the same 16 blocks. Listing it re-read those blocks for
/// every logical block; work now stops once more blocks were read than
/// the image holds, with an error that says so, so a crafted image can't
/// make listing quadratic in its size.
#[test]
fn directory_mapping_blocks_twice_stops_at_the_image_size() {
    use salvage::fs::FileSystem;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/ext4_walk/dir-blocks-reread");
    let data = std::fs::read(path).unwrap();
    let reader: salvage::read_at::Reader = std::rc::Rc::new(salvage::read_at::MemReader::new(data));
    let fs = salvage::fs::ext4::Ext4Fs::open(reader).unwrap();
    let items: Vec<_> = fs.read_dir(fs.root()).unwrap().collect();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().unwrap_err().to_string(),
        "inode 2: directory maps more blocks than the image holds; stopped at block 256"
    );
}
