//! Integration tests of the `salvage` command line against disk images made
//! by real tools (`tests/fixtures/make.sh`), with `tests/fixtures/expected.json`
//! (partition offsets as sfdisk/sgdisk report them) and the source tree
//! `tree/` that the ext4 volumes were built from as oracles.
//!
//! The fixtures are built once per test binary into
//! `$CARGO_TARGET_TMPDIR/fixtures` (rebuilt when `make.sh` is newer than its
//! `VERSIONS.txt`). `SALVAGE_FIXTURES=DIR` uses a prebuilt directory instead.
//! Building needs root (chown) and the tools listed in make.sh's header.
//!
//! What these tests assume about numbering (the CLI's contract):
//! - volumes are numbered from 1 in table order; on MBR the primaries come
//!   first, then the logical partitions in chain order; the extended
//!   container itself is not a volume. So `mbr.img`'s volumes are
//!   1 = p1 (`first`), 2 = p5 (`logical`), 3 = p6 (swap). expected.json
//!   keeps Linux's number as `partition` for reference.
//! - an image with no partition table has one volume, index 1, covering the
//!   whole image, with `type_id` and `name` null.
//!
//! `SALVAGE_BIN=PATH` runs another build of the CLI instead of this crate's.
//!
//! With `SALVAGE_CORPUS=DIR` (e.g. `../shared/corpus`) the third-party
//! images are probed too; without it those tests return early.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_salvage");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TMP: &str = env!("CARGO_TARGET_TMPDIR");
/// How long any one CLI run may take before the test calls it a hang.
const TIMEOUT: Duration = Duration::from_secs(60);
const CORPUS_TIMEOUT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------ fixtures

/// The directory holding make.sh's output, built on first use.
fn fixtures() -> &'static Path {
    // The outcome is kept, failure included, so a failed build runs only once.
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("SALVAGE_FIXTURES") {
            return Ok(PathBuf::from(dir));
        }
        let script = Path::new(MANIFEST_DIR).join("tests/fixtures/make.sh");
        let out = Path::new(TMP).join("fixtures");
        let versions = out.join("VERSIONS.txt");
        let fresh = match (mtime(&versions), mtime(&script)) {
            (Some(built), Some(source)) => built >= source,
            _ => false,
        };
        if !fresh {
            let started = Instant::now();
            let status = Command::new("bash")
                .arg(&script)
                .arg(&out)
                .status()
                .map_err(|e| format!("cannot run bash for tests/fixtures/make.sh: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "tests/fixtures/make.sh failed ({status}); it needs root and the tools in its header"
                ));
            }
            eprintln!(
                "built fixtures in {:.1?} into {}",
                started.elapsed(),
                out.display()
            );
        }
        Ok(out)
    });
    match built {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

/// The CLI under test: this crate's binary, or `SALVAGE_BIN` (e.g. a release
/// build, or a stand-in while checking the tests themselves).
fn bin() -> OsString {
    std::env::var_os("SALVAGE_BIN").unwrap_or_else(|| BIN.into())
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// The committed `tests/fixtures/expected.json`.
fn expected() -> &'static Value {
    static EXPECTED: OnceLock<Value> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let path = Path::new(MANIFEST_DIR).join("tests/fixtures/expected.json");
        let text = std::fs::read_to_string(&path).expect("read tests/fixtures/expected.json");
        serde_json::from_str(&text).expect("parse tests/fixtures/expected.json")
    })
}

fn expected_image(name: &str) -> &'static Value {
    let image = &expected()[name];
    assert!(image.is_object(), "expected.json has no entry for {name}");
    image
}

/// Images make.sh could not build on this machine (listed in SKIPPED.txt).
fn skipped() -> BTreeSet<String> {
    std::fs::read_to_string(fixture("SKIPPED.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(str::to_owned)
        .collect()
}

// ------------------------------------------------------------------ running the CLI

/// One finished run of the CLI.
struct Run {
    args: Vec<OsString>,
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn describe(&self) -> String {
        let args: Vec<_> = self.args.iter().map(|a| a.to_string_lossy()).collect();
        format!(
            "salvage {} -> {} in {:.1?}\nstderr: {}",
            args.join(" "),
            self.status,
            self.elapsed,
            self.stderr.trim_end()
        )
    }

    /// Asserts the CLI did not panic, whatever its exit status.
    fn no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && self.status.code() != Some(101),
            "the CLI panicked: {}",
            self.describe()
        );
        assert!(
            self.status.code().is_some(),
            "the CLI was killed by a signal: {}",
            self.describe()
        );
        self
    }

    /// Asserts success and returns self.
    fn ok(&self) -> &Self {
        self.no_panic();
        assert!(
            self.status.success(),
            "expected success: {}",
            self.describe()
        );
        self
    }

    /// Asserts a clean failure: non-zero exit, a message on stderr, no panic.
    fn fails(&self) -> &Self {
        self.no_panic();
        assert!(
            !self.status.success(),
            "expected failure: {}",
            self.describe()
        );
        let message = self.stderr.trim();
        assert!(
            !message.is_empty(),
            "failed without saying why: {}",
            self.describe()
        );
        assert!(
            message.lines().count() <= 3,
            "an error should be one sentence, not a dump: {}",
            self.describe()
        );
        self
    }

    fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "stderr should mention {needle:?}: {}",
            self.describe()
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstdout: {}",
                self.describe(),
                String::from_utf8_lossy(&self.stdout)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }
}

/// Runs the CLI with a time limit; stdout and stderr are drained on threads.
fn salvage_timed<I, S>(args: I, limit: Duration) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let started = Instant::now();
    let mut child = Command::new(bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the salvage binary");
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for salvage") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let shown: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
            panic!(
                "salvage {} did not finish within {limit:?}",
                shown.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let stdout = out_thread.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_thread.join().expect("stderr reader")).into_owned();
    Run {
        args,
        status,
        stdout,
        stderr,
        elapsed,
    }
}

fn salvage<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    salvage_timed(args, TIMEOUT)
}

/// An image on the command line: the file plus `--with` for further pieces.
#[derive(Clone)]
struct Image {
    args: Vec<OsString>,
    /// Display name, used as the key into expected.json.
    name: String,
}

impl Image {
    fn fixture(name: &str) -> Image {
        Image {
            args: vec![fixture(name).into()],
            name: name.to_owned(),
        }
    }

    /// gpt.img as three pieces.
    fn split() -> Image {
        let mut args: Vec<OsString> = vec![fixture("split.000").into()];
        for piece in ["split.001", "split.002"] {
            args.push("--with".into());
            args.push(fixture(piece).into());
        }
        Image {
            args,
            name: "split.000".to_owned(),
        }
    }

    fn info(&self) -> Value {
        let mut a: Vec<OsString> = vec!["info".into()];
        a.extend(self.args.iter().cloned());
        a.push("--json".into());
        salvage(&a).ok().json()
    }

    /// `salvage SUBCOMMAND IMAGE [--volume N] REST...`
    fn run(&self, subcommand: &str, volume: Option<u32>, rest: &[&OsStr]) -> Run {
        let mut a: Vec<OsString> = vec![subcommand.into()];
        a.extend(self.args.iter().cloned());
        if let Some(n) = volume {
            a.push("--volume".into());
            a.push(n.to_string().into());
        }
        a.extend(rest.iter().map(|s| s.to_os_string()));
        salvage(&a)
    }

    /// `ls -R --json /` of one volume, keyed by path.
    fn walk(&self, volume: Option<u32>) -> BTreeMap<String, Value> {
        let run = self.run(
            "ls",
            volume,
            &[OsStr::new("/"), OsStr::new("-R"), OsStr::new("--json")],
        );
        let list = run.ok().json();
        let entries = list.as_array().expect("ls --json prints an array");
        let mut by_path = BTreeMap::new();
        for e in entries {
            let path = e["path"].as_str().expect("entry has a path").to_owned();
            assert!(path.starts_with('/'), "paths are absolute: {path}");
            assert!(
                by_path.insert(path.clone(), e.clone()).is_none(),
                "{path} listed twice"
            );
        }
        by_path
    }

    fn cat(&self, volume: Option<u32>, path: &str) -> Vec<u8> {
        let run = self.run("cat", volume, &[OsStr::new(path)]);
        run.ok();
        run.stdout
    }
}

// ------------------------------------------------------------------ the source tree as oracle

/// Escapes a name the way the CLI shows it: valid UTF-8 as is, `\` as `\\`,
/// any other byte as `\xHH` (lowercase hex).
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// What an entry of `tree/` must look like in `ls --json`.
#[derive(Debug)]
struct TreeEntry {
    host: PathBuf,
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    target: Option<String>,
}

fn source_tree(root: &Path) -> BTreeMap<String, TreeEntry> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, TreeEntry>) {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").file_name())
            .collect();
        names.sort();
        for name in names {
            let host = dir.join(&name);
            let meta = std::fs::symlink_metadata(&host).expect("lstat");
            let path = format!("{prefix}/{}", escape(name.as_bytes()));
            let ft = meta.file_type();
            let kind = if ft.is_file() {
                "file"
            } else if ft.is_dir() {
                "dir"
            } else if ft.is_symlink() {
                "symlink"
            } else {
                "other"
            };
            let target = ft.is_symlink().then(|| {
                escape(
                    std::fs::read_link(&host)
                        .expect("readlink")
                        .as_os_str()
                        .as_bytes(),
                )
            });
            out.insert(
                path.clone(),
                TreeEntry {
                    host: host.clone(),
                    kind,
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                    gid: meta.gid(),
                    size: meta.size(),
                    mtime: meta.mtime(),
                    mtime_nsec: meta.mtime_nsec(),
                    target,
                },
            );
            if ft.is_dir() {
                walk(&host, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Names mkfs adds that are not in the source tree.
const MKFS_EXTRAS: &[&str] = &["/lost+found"];

/// `ls -R --json` of the volume equals tree/, and `cat` of every file is byte-equal.
fn assert_volume_equals_tree(image: &Image, volume: Option<u32>) {
    let tree = source_tree(&fixture("tree"));
    let listed = image.walk(volume);
    let mut problems = Vec::new();

    for (path, want) in &tree {
        let Some(got) = listed.get(path) else {
            problems.push(format!("{path}: missing from the listing"));
            continue;
        };
        let mut check = |field: &str, got: &Value, want: Value| {
            if *got != want {
                problems.push(format!("{path}: {field} is {got}, expected {want}"));
            }
        };
        check("type", &got["type"], want.kind.into());
        check("mode", &got["mode"], want.mode.into());
        check("uid", &got["uid"], want.uid.into());
        check("gid", &got["gid"], want.gid.into());
        check("mtime", &got["mtime"], want.mtime.into());
        if want.kind != "dir" {
            check("size", &got["size"], want.size.into());
        }
        check(
            "target",
            &got["target"],
            want.target.clone().map_or(Value::Null, Value::from),
        );
        check(
            "name",
            &got["name"],
            path.rsplit('/').next().unwrap_or_default().into(),
        );
        // mtime_ns: either the nanosecond part or the whole time in ns.
        match got["mtime_ns"].as_i64() {
            Some(ns) if ns == want.mtime_nsec => {}
            Some(ns)
                if Some(ns)
                    == want
                        .mtime
                        .checked_mul(1_000_000_000)
                        .and_then(|s| s.checked_add(want.mtime_nsec)) => {}
            other => problems.push(format!("{path}: mtime_ns is {other:?}")),
        }
        if !got["problems"].as_array().is_some_and(|p| p.is_empty()) {
            problems.push(format!("{path}: problems {}", got["problems"]));
        }
        if !got["inode"].is_u64() {
            problems.push(format!("{path}: inode is {}", got["inode"]));
        }
    }
    for path in listed.keys() {
        let extra = MKFS_EXTRAS
            .iter()
            .any(|x| path == x || path.starts_with(&format!("{x}/")));
        if !tree.contains_key(path) && !extra && path != "/" {
            problems.push(format!("{path}: listed but not in the source tree"));
        }
    }
    for (path, want) in tree.iter().filter(|(_, e)| e.kind == "file") {
        let bytes = std::fs::read(&want.host).expect("read source file");
        let got = image.run("cat", volume, &[OsStr::new(path)]);
        got.no_panic();
        if !got.status.success() {
            problems.push(format!("{path}: cat failed: {}", got.stderr.trim()));
        } else if sha256(&got.stdout) != sha256(&bytes) {
            problems.push(format!(
                "{path}: cat gave {} bytes that differ from the source",
                got.stdout.len()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} (volume {volume:?}) differs from tree/ in {} ways:\n{}",
        image.name,
        problems.len(),
        problems.join("\n")
    );
}

// ------------------------------------------------------------------ info vs expected.json

/// `info --json` of the image matches its expected.json entry.
fn assert_info_matches_expected(image: &Image) {
    let want = expected_image(&image.name);
    let info = image.info();
    assert_eq!(
        info["table"]["kind"], want["table"],
        "{}: table kind; info: {info:#}",
        image.name
    );
    assert!(info["version"].is_string(), "info has a version: {info:#}");
    let got = info["volumes"].as_array().expect("volumes is an array");
    let want_vols = want["volumes"].as_array().expect("expected volumes");
    assert_eq!(
        got.len(),
        want_vols.len(),
        "{}: number of volumes; info: {info:#}",
        image.name
    );
    for (g, w) in got.iter().zip(want_vols) {
        for field in [
            "index", "offset", "length", "type_id", "name", "fs", "label",
        ] {
            assert_eq!(
                g[field], w[field],
                "{}: volume {} field {field}; got {g:#}",
                image.name, w["index"]
            );
        }
        let fs = w["fs"].as_str().unwrap_or_default();
        assert_eq!(
            g["supported"],
            Value::Bool(fs.starts_with("ext")),
            "{}: {g:#}",
            image.name
        );
        assert!(
            g["status"].as_str().is_some_and(|s| !s.is_empty()),
            "status sentence: {g:#}"
        );
        assert!(g["problems"].is_array(), "problems list: {g:#}");
    }
}

fn image_size(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| std::fs::metadata(fixture(n)).expect("stat fixture").len())
        .sum()
}

#[test]
fn generated_expected_json_matches_committed() {
    let generated: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("expected.json")).expect("read generated"),
    )
    .expect("parse generated expected.json");
    // Images skipped on this machine are absent from the generated file.
    let skipped = skipped();
    let mut committed = expected().clone();
    committed
        .as_object_mut()
        .expect("object")
        .retain(|k, _| !skipped.contains(k));
    assert_eq!(
        generated, committed,
        "re-run make.sh and commit its expected.json (tool versions changed?)"
    );
}

#[test]
fn info_gpt() {
    let image = Image::fixture("gpt.img");
    assert_info_matches_expected(&image);
    let info = image.info();
    assert_eq!(info["image"]["format"], "raw");
    assert_eq!(info["image"]["size"], image_size(&["gpt.img"]));
    assert_eq!(
        info["volumes"][0]["type_name"]
            .as_str()
            .map(|s| s.contains("EFI")),
        Some(true),
        "{info:#}"
    );
    assert_eq!(info["volumes"][1]["type_name"], "Linux filesystem");
}

#[test]
fn info_mbr_with_logical_partitions() {
    // Volumes: 1 = p1, 2 = p5 (logical), 3 = p6 (logical swap); the extended
    // partition p2 is a container, not a volume.
    let image = Image::fixture("mbr.img");
    assert_info_matches_expected(&image);
    let info = image.info();
    assert!(
        info["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .all(|v| v["type_id"] != "0x05" && v["type_id"] != "0x0f"),
        "the extended container is not a volume: {info:#}"
    );
}

#[test]
fn info_bare_ext4() {
    let image = Image::fixture("bare-ext4.img");
    assert_info_matches_expected(&image);
    let info = image.info();
    assert_eq!(info["table"]["kind"], "none");
    assert_eq!(
        info["volumes"][0]["uuid"], "5a1ba6e0-0000-4000-8000-000000000001",
        "{info:#}"
    );
}

#[test]
fn info_split_raw() {
    let image = Image::split();
    assert_info_matches_expected(&image);
    let info = image.info();
    assert_eq!(info["image"]["format"], "split raw");
    assert_eq!(
        info["image"]["size"],
        image_size(&["split.000", "split.001", "split.002"])
    );
    assert_eq!(info["image"]["size"], image_size(&["gpt.img"]));
    let parts: Vec<_> = info["image"]["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(parts.len(), 3, "{info:#}");
    for (part, want) in parts.iter().zip(["split.000", "split.001", "split.002"]) {
        assert!(part.ends_with(want), "part {part} should be {want}");
    }
}

#[test]
fn info_gpt_from_backup_header() {
    let image = Image::fixture("gpt-zeroed-primary.img");
    assert_info_matches_expected(&image);
    let info = image.info();
    let notes = info["table"]["notes"].as_array().expect("table.notes");
    assert!(
        notes
            .iter()
            .filter_map(Value::as_str)
            .any(|n| n.to_lowercase().contains("backup")),
        "a note should say the backup GPT was used: {info:#}"
    );
}

#[test]
fn info_sparse_8g_and_sample() {
    for name in ["sparse-8g.img", "sample.img"] {
        assert_info_matches_expected(&Image::fixture(name));
    }
}

/// A word that the status sentence of each format must contain.
fn format_word(fs: &str) -> &'static str {
    match fs {
        "ext2" => "ext2",
        "ext3" => "ext3",
        "ext4" => "ext4",
        "xfs" => "xfs",
        "btrfs" => "btrfs",
        "ntfs" => "ntfs",
        "fat12" | "fat16" | "fat32" => "fat",
        "exfat" => "exfat",
        "swap" => "swap",
        "lvm2" => "lvm",
        "linux_raid" => "raid",
        "luks" => "luks",
        "iso9660" => "iso",
        "squashfs" => "squashfs",
        other => panic!("no format word for {other}"),
    }
}

const SIGNATURES: &[&str] = &[
    "ext2",
    "ext3",
    "ext4",
    "xfs",
    "btrfs",
    "ntfs",
    "fat12",
    "fat16",
    "fat32",
    "exfat",
    "swap",
    "lvm2",
    "linux_raid",
    "luks1",
    "luks2",
    "iso9660",
    "squashfs",
];

#[test]
fn info_detects_every_signature_image() {
    let skipped = skipped();
    let mut failures = Vec::new();
    for sig in SIGNATURES {
        let name = format!("sig-{sig}.img");
        if skipped.contains(&name) {
            eprintln!("skipping {name}: make.sh could not build it here (see SKIPPED.txt)");
            continue;
        }
        let want = &expected_image(&name)["volumes"][0];
        let fs = want["fs"].as_str().expect("fs");
        let info = Image::fixture(&name).info();
        // FAT and NTFS boot sectors end in 55 AA like an MBR; they are still bare volumes.
        if info["table"]["kind"] != "none" {
            failures.push(format!(
                "{name}: table kind is {}, expected none",
                info["table"]["kind"]
            ));
        }
        let Some(vol) = info["volumes"].as_array().and_then(|v| v.first()) else {
            failures.push(format!("{name}: no volume in {info}"));
            continue;
        };
        if vol["fs"] != fs {
            failures.push(format!("{name}: fs is {}, expected {fs}", vol["fs"]));
        }
        if vol["label"] != want["label"] {
            failures.push(format!(
                "{name}: label is {}, expected {}",
                vol["label"], want["label"]
            ));
        }
        if vol["supported"] != Value::Bool(fs.starts_with("ext")) {
            failures.push(format!("{name}: supported is {}", vol["supported"]));
        }
        let status = vol["status"].as_str().unwrap_or_default();
        if !status.to_lowercase().contains(format_word(fs)) {
            failures.push(format!(
                "{name}: status {status:?} does not name the format"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "signature detection:\n{}",
        failures.join("\n")
    );
}

// ------------------------------------------------------------------ listing and reading

#[test]
fn ls_and_cat_gpt_root_equal_the_tree() {
    assert_volume_equals_tree(&Image::fixture("gpt.img"), Some(2));
}

#[test]
fn gpt_without_volume_uses_the_only_readable_one() {
    let image = Image::fixture("gpt.img");
    assert_eq!(image.cat(None, "/etc/hostname"), b"salvage-test\n");
}

#[test]
fn ls_and_cat_mbr_logical_equal_the_tree() {
    assert_volume_equals_tree(&Image::fixture("mbr.img"), Some(2));
}

#[test]
fn mbr_with_two_readable_volumes_needs_volume() {
    let run = Image::fixture("mbr.img").run("ls", None, &[OsStr::new("/")]);
    run.fails();
    // The error lists the choices: both ext4 volumes by index.
    run.stderr_contains("1").stderr_contains("2");
}

#[test]
fn ls_and_cat_bare_ext4_equal_the_tree() {
    assert_volume_equals_tree(&Image::fixture("bare-ext4.img"), None);
}

#[test]
fn ls_and_cat_split_equal_the_tree() {
    assert_volume_equals_tree(&Image::split(), Some(2));
}

#[test]
fn non_utf8_name_is_escaped_and_can_be_read_back() {
    let image = Image::fixture("bare-ext4.img");
    let listed = image.walk(None);
    let entry = listed.get("/caf\\xe9.txt").unwrap_or_else(|| {
        panic!(
            "/caf\\xe9.txt not listed; paths: {:?}",
            listed.keys().collect::<Vec<_>>()
        )
    });
    assert_eq!(entry["name"], "caf\\xe9.txt");
    assert_eq!(image.cat(None, "/caf\\xe9.txt"), b"caf\xe9 in Latin-1\n");
}

#[test]
fn ls_text_format() {
    let image = Image::fixture("bare-ext4.img");
    let text = image
        .run("ls", None, &[OsStr::new("/"), OsStr::new("-R")])
        .ok()
        .text();
    let line = |path: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .find(|cols| cols.get(5).map(String::as_str) == Some(path))
            .unwrap_or_else(|| panic!("no line for {path} in:\n{text}"))
    };
    assert_eq!(
        line("/etc/hostname"),
        [
            "-rw-r--r--",
            "0",
            "0",
            "13",
            "2024-01-01T00:00:00Z",
            "/etc/hostname"
        ]
    );
    assert_eq!(line("/y2k.txt")[4], "1999-12-31T23:59:59Z");
    assert_eq!(line("/modes/setuid")[0], "-rwsr-xr-x");
    assert_eq!(line("/modes/sticky-dir")[0], "drwxrwxrwt");
    assert_eq!(line("/modes/private")[0], "-rw-------");
    assert_eq!(line("/var/www/html/index.html")[1..3], ["33", "33"]);
    let link = line("/bin/sh-link");
    assert!(link[0].starts_with('l'), "{link:?}");
    assert_eq!(link[6..], ["->", "/usr/bin/dash"]);
}

#[test]
fn ls_one_directory_is_not_recursive() {
    let image = Image::fixture("bare-ext4.img");
    let list = image
        .run("ls", None, &[OsStr::new("/etc"), OsStr::new("--json")])
        .ok()
        .json();
    let mut paths: Vec<_> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/etc/group", "/etc/hostname", "/etc/passwd"]);
}

#[test]
fn large_directory_lists_all_300_files() {
    let image = Image::fixture("bare-ext4.img");
    let list = image
        .run("ls", None, &[OsStr::new("/big"), OsStr::new("--json")])
        .ok()
        .json();
    assert_eq!(list.as_array().expect("array").len(), 300);
}

#[test]
fn sparse_8g_reads_files() {
    let image = Image::fixture("sparse-8g.img");
    assert_eq!(image.cat(None, "/hello.txt"), b"hello from 8 GiB\n");
    let list = image
        .run("ls", None, &[OsStr::new("/data"), OsStr::new("--json")])
        .ok()
        .json();
    assert_eq!(list.as_array().expect("array").len(), 4);
}

#[test]
fn sample_image_has_owners_and_files() {
    let image = Image::fixture("sample.img");
    let listed = image.walk(None);
    let os_release = image.cat(None, "/etc/os-release");
    assert!(String::from_utf8_lossy(&os_release).contains("Debian GNU/Linux 12"));
    assert_eq!(listed["/var/lib/mysql"]["uid"], 106);
    assert_eq!(listed["/var/lib/mysql"]["gid"], 112);
    assert_eq!(listed["/var/lib/mysql/ibdata1"]["size"], 65536);
    assert_eq!(listed["/var/www/html/index.html"]["uid"], 33);
    for path in [
        "/etc/hostname",
        "/etc/passwd",
        "/etc/group",
        "/home/alice/notes.txt",
        "/var/lib/mysql/shop/orders.ibd",
        "/var/log/syslog",
        "/root/.bashrc",
    ] {
        assert!(listed.contains_key(path), "{path} missing");
    }
    if let Some(photo) = listed.get("/home/alice/photo.jpg") {
        let bytes = image.cat(None, "/home/alice/photo.jpg");
        assert_eq!(
            bytes.len() as u64,
            photo["size"].as_u64().unwrap_or_default()
        );
        assert!(
            bytes.starts_with(&[0xff, 0xd8, 0xff]),
            "photo.jpg is a JPEG"
        );
    }
}

#[test]
fn mbr_first_volume_is_an_empty_ext4() {
    let image = Image::fixture("mbr.img");
    let listed = image.walk(Some(1));
    let paths: Vec<_> = listed
        .keys()
        .map(String::as_str)
        .filter(|p| *p != "/")
        .collect();
    assert!(
        paths.iter().all(|p| MKFS_EXTRAS
            .iter()
            .any(|x| p == x || p.starts_with(&format!("{x}/")))),
        "volume 1 of mbr.img holds only what mkfs made: {paths:?}"
    );
}

#[test]
fn info_text_output_for_every_fixture() {
    let skipped = skipped();
    let mut names: Vec<String> = expected()
        .as_object()
        .expect("expected.json is an object")
        .keys()
        .filter(|k| !skipped.contains(*k))
        .cloned()
        .collect();
    names.sort();
    for name in names {
        let image = if name == "split.000" {
            Image::split()
        } else {
            Image::fixture(&name)
        };
        let run = image.run("info", None, &[]);
        run.ok();
        assert!(!run.text().trim().is_empty(), "info {name} printed nothing");
    }
}

// ------------------------------------------------------------------ errors

#[test]
fn missing_image_file_is_a_clean_error() {
    salvage(["info", "/nonexistent/salvage-test.img"]).fails();
    salvage(["ls", "/nonexistent/salvage-test.img"]).fails();
}

#[test]
fn missing_path_says_no_such_file() {
    let image = Image::fixture("bare-ext4.img");
    image
        .run("cat", None, &[OsStr::new("/no/such/file.txt")])
        .fails()
        .stderr_contains("no such file");
    image
        .run("ls", None, &[OsStr::new("/nope")])
        .fails()
        .stderr_contains("no such file");
}

#[test]
fn volume_out_of_range_is_a_clean_error() {
    Image::fixture("gpt.img")
        .run("ls", Some(9), &[OsStr::new("/")])
        .fails();
    Image::fixture("gpt.img")
        .run("cat", Some(9), &[OsStr::new("/etc/hostname")])
        .fails();
}

#[test]
fn unsupported_volume_is_a_clean_error() {
    // Volume 1 of gpt.img is FAT32, volume 3 swap: not readable (yet).
    Image::fixture("gpt.img")
        .run("ls", Some(1), &[OsStr::new("/")])
        .fails();
    Image::fixture("gpt.img")
        .run("ls", Some(3), &[OsStr::new("/")])
        .fails();
}

#[test]
fn cat_of_a_directory_is_a_clean_error() {
    Image::fixture("bare-ext4.img")
        .run("cat", None, &[OsStr::new("/etc")])
        .fails();
}

#[test]
fn truncated_image_never_panics() {
    let whole = std::fs::read(fixture("gpt.img")).expect("read gpt.img");
    let path = Path::new(TMP).join("gpt-first-1MiB.img");
    std::fs::write(&path, &whole[..1 << 20]).expect("write truncated image");
    let image = Image {
        args: vec![path.into()],
        name: "gpt-first-1MiB.img".into(),
    };
    let info = image.run("info", None, &[OsStr::new("--json")]);
    info.no_panic();
    if info.status.success() {
        info.json(); // partial info is fine, as long as it is well-formed
    } else {
        info.fails();
    }
    for volume in [None, Some(2)] {
        let run = image.run("ls", volume, &[OsStr::new("/")]);
        run.no_panic();
        if !run.status.success() {
            run.fails();
        }
    }
}

#[test]
fn first_split_piece_alone_notes_the_others() {
    let info = Image::fixture("split.000").info();
    let notes: Vec<String> = info["image"]["notes"]
        .as_array()
        .expect("image.notes")
        .iter()
        .filter_map(|n| n.as_str().map(str::to_lowercase))
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("split.001") || n.contains("piece") || n.contains("part")),
        "split.000 alone should note its missing pieces: {info:#}"
    );
}

#[test]
fn export_writes_a_zip_of_the_fixture() {
    let out = Path::new(TMP).join("export-test.zip");
    let _ = std::fs::remove_file(&out);
    let mut args: Vec<OsString> = vec!["export".into(), fixture("bare-ext4.img").into(), "/".into()];
    args.extend(["-o".into(), out.clone().into()]);
    salvage(&args).ok();
    let bytes = std::fs::read(&out).expect("the zip");
    assert!(bytes.starts_with(b"PK\x03\x04"), "a zip starts with a local header");
}

// ------------------------------------------------------------------ third-party corpus

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SALVAGE_CORPUS").map(PathBuf::from)?;
    let dir = if dir.is_relative() {
        Path::new(MANIFEST_DIR).join(dir)
    } else {
        dir
    };
    assert!(
        dir.is_dir(),
        "SALVAGE_CORPUS={} is not a directory",
        dir.display()
    );
    Some(dir)
}

/// Decompresses `src` (`.xz`) into the test temp dir, once; returns the path.
fn unxz(src: &Path) -> PathBuf {
    let name = src.file_name().expect("file name").to_string_lossy();
    let parent = src
        .parent()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = Path::new(TMP).join("corpus").join(parent);
    std::fs::create_dir_all(&dir).expect("create corpus temp dir");
    let dst = dir.join(name.strip_suffix(".xz").unwrap_or(&name));
    if !dst.exists() {
        let tmp = dst.with_extension("partial");
        let file = std::fs::File::create(&tmp).expect("create decompressed file");
        let status = Command::new("xz")
            .arg("-dc")
            .arg(src)
            .stdout(file)
            .status()
            .expect("run xz");
        assert!(status.success(), "xz -dc {} failed", src.display());
        std::fs::rename(&tmp, &dst).expect("rename decompressed file");
    }
    dst
}

/// blkid's TYPE → the CLI's fs name, for the types Salvage detects.
fn blkid_to_fs(blkid_type: &str) -> Option<&'static [&'static str]> {
    Some(match blkid_type {
        "ext2" => &["ext2"],
        "ext3" => &["ext3"],
        "ext4" => &["ext4"],
        "xfs" => &["xfs"],
        "btrfs" => &["btrfs"],
        "ntfs" => &["ntfs"],
        "vfat" => &["fat12", "fat16", "fat32"],
        "exfat" => &["exfat"],
        "swap" => &["swap"],
        "LVM2_member" => &["lvm2"],
        "linux_raid_member" => &["linux_raid"],
        "crypto_LUKS" => &["luks"],
        "iso9660" => &["iso9660"],
        "squashfs" => &["squashfs"],
        _ => return None,
    })
}

/// ID_FS_TYPE from util-linux's expected low-probe output for an image.
/// ID_FS_TYPE and ID_FS_LABEL from util-linux's expected low-probe output
/// for an image, when the corpus has one under exactly that name.
fn blkid_expected(corpus: &Path, stem: &str) -> Option<(String, Option<String>)> {
    let path = corpus
        .join("util-linux-blkid/expected")
        .join(format!("low-probe-{stem}"));
    let text = std::fs::read_to_string(path).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::to_owned)
    };
    Some((field("ID_FS_TYPE=")?, field("ID_FS_LABEL=")))
}

/// (fs, label) of each volume that `info --json` reported.
fn detected(info: &Value) -> Vec<(String, String)> {
    info["volumes"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|v| {
                    let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
                    (s("fs"), s("label"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn detected_fs(info: &Value) -> Vec<String> {
    detected(info).into_iter().map(|(fs, _)| fs).collect()
}

/// Probes each util-linux blkid image; asserts no panic, no hang, and the
/// same filesystem as blkid's expected output for the formats Salvage knows.
/// Labels are shown in the summary, not asserted (codepages differ).
#[test]
fn corpus_util_linux_blkid_images() {
    let Some(corpus) = corpus() else {
        eprintln!("SALVAGE_CORPUS not set: skipping the util-linux blkid images");
        return;
    };
    let mut summary = vec![format!(
        "{:<10} {:<48} {:<6} {:<36} {:>6}  blkid",
        "dir", "image", "table", "salvage fs (label)", "time"
    )];
    let mut failures = Vec::new();
    for sub in ["images-fs", "images-pt"] {
        let dir = corpus.join("util-linux-blkid").join(sub);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "xz"))
            .collect();
        files.sort();
        for src in files {
            let image = unxz(&src);
            let stem = image
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let run = salvage_timed(
                [OsStr::new("info"), image.as_os_str(), OsStr::new("--json")],
                CORPUS_TIMEOUT,
            );
            run.no_panic();
            let (kind, found) = if run.status.success() {
                let info = run.json();
                let kind = info["table"]["kind"].as_str().unwrap_or("?").to_owned();
                (kind, detected(&info))
            } else {
                let first_line = run.stderr.lines().next().unwrap_or_default().to_owned();
                ("error".to_owned(), vec![(first_line, "-".to_owned())])
            };
            let want = blkid_expected(&corpus, &stem);
            if let Some((blkid_type, _)) = &want {
                if let Some(names) = blkid_to_fs(blkid_type) {
                    if !found.iter().any(|(f, _)| names.contains(&f.as_str())) {
                        failures.push(format!(
                            "{sub}/{stem}: blkid says {blkid_type}, salvage found {found:?}"
                        ));
                    }
                }
            }
            let shown: Vec<String> = found.iter().map(|(f, l)| format!("{f} ({l})")).collect();
            let blkid_shown = match &want {
                Some((t, Some(l))) => format!("{t} ({l})"),
                Some((t, None)) => t.clone(),
                None => "-".to_owned(),
            };
            summary.push(format!(
                "{:<10} {:<48} {:<6} {:<36} {:>6.0?}  {}",
                sub,
                stem,
                kind,
                shown.join(", "),
                run.elapsed,
                blkid_shown
            ));
        }
    }
    eprintln!("{}", summary.join("\n"));
    assert!(
        failures.is_empty(),
        "detection differs from blkid:\n{}",
        failures.join("\n")
    );
}

#[test]
fn corpus_pytsk_mbr_with_logical_ext2() {
    let Some(corpus) = corpus() else {
        eprintln!("SALVAGE_CORPUS not set: skipping pytsk");
        return;
    };
    let image = unxz(&corpus.join("pytsk/tsk_volume_system.raw.xz"));
    let run = salvage_timed(
        [OsStr::new("info"), image.as_os_str(), OsStr::new("--json")],
        CORPUS_TIMEOUT,
    );
    let info = run.ok().json();
    assert_eq!(info["table"]["kind"], "mbr", "{info:#}");
    assert!(
        detected_fs(&info).iter().any(|f| f == "ext2"),
        "a logical ext2 volume: {info:#}"
    );
}

#[test]
fn corpus_dfvfs_split_raw_ext2() {
    let Some(corpus) = corpus() else {
        eprintln!("SALVAGE_CORPUS not set: skipping dfvfs");
        return;
    };
    let first = unxz(&corpus.join("dfvfs/ext2.splitraw.000.xz"));
    let second = unxz(&corpus.join("dfvfs/ext2.splitraw.001.xz"));
    let run = salvage_timed(
        [
            OsStr::new("info"),
            first.as_os_str(),
            OsStr::new("--with"),
            second.as_os_str(),
            OsStr::new("--json"),
        ],
        CORPUS_TIMEOUT,
    );
    let info = run.ok().json();
    assert_eq!(info["image"]["format"], "split raw", "{info:#}");
    let size = std::fs::metadata(&first).expect("stat").len()
        + std::fs::metadata(&second).expect("stat").len();
    assert_eq!(info["image"]["size"], size);
    assert!(
        detected_fs(&info).iter().any(|f| f == "ext2"),
        "an ext2 volume: {info:#}"
    );
}
