//! `salvage`: the command-line face of the same core the page uses.
//!
//! A stable interface that tests and benchmarks drive:
//! `info`, `ls`, `cat`, `stat`, `export` (see `salvage --help`). Errors print one
//! sentence on stderr and exit with status 1 (2 for usage errors).

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;

use salvage::container::{human_size as human, Source};
use salvage::error::{Error, Result};
use salvage::fs::{FileKind, FileSystem};
use salvage::image::{Entry, Image, OpenOptions};
use salvage::path::{escape, unescape};
use salvage::read_at::{CacheConfig, ChunkCache, IoStats, ReadAt};

const USAGE: &str = "\
usage:
  salvage info IMAGE [--with FILE]... [--json]
  salvage ls IMAGE [--with FILE]... [--volume N] [PATH] [-R] [--json]
  salvage cat IMAGE [--with FILE]... [--volume N] PATH
  salvage stat IMAGE [--with FILE]... [--volume N] PATH [--json]
  salvage export IMAGE [--with FILE]... [--volume N] PATH... -o OUT.zip [--deflate] [--partial]
  salvage inventory IMAGE [--with FILE]... [--volume N] [--json]

IMAGE is the disk image; --with adds the other files of the same image
(split pieces, VMDK extents, parent disks; any order).
--volume N is the 1-based index shown by `info`, or a volume's name
(an LVM2 logical volume: `centos/root`; from older metadata: `centos/root@7`).
--member NAME opens that file of a tar archive (.tar, .tar.gz) instead
of the largest. A gzip file's index is kept in IMAGE.salvage-index
beside it (when the folder is writable), so a second open is instant.
`stat` prints everything about one inode: type, mode, owners, size,
links, times with nanoseconds, device numbers, flags, extended
attributes (text when printable, else hex) and problems.
--stats prints, on stderr, how many reads reached the image file(s).
--no-journal (any command) does not replay ext3/ext4 journals: it shows
the filesystem as it was on disk before the crash. By default a journal
that needs recovery is replayed in memory; the image is never written.
Paths are absolute inside the volume; bytes that are not UTF-8 are
written and accepted as \\xHH, and a backslash as \\\\.

export writes one zip with SALVAGE-REPORT.txt and manifest.csv at its
root. --deflate compresses files where it pays; --partial keeps files
with unreadable parts (zeros there). Exit status: 0 all exported intact,
3 the zip is complete but some files are incomplete or left out (see
the report), 1 nothing could be exported or the output failed.

inventory tells what a Linux root filesystem held: system, users,
services, databases, web roots, mail, certificates, control panels, with
paths, sizes and owners, the \"essentials\" paths to export, and restore
hints. Without --volume it uses the first volume that is a Linux root.";

/// A native file read with positioned reads (a seek and a read where the
/// platform has no positioned read).
struct FileSource {
    #[cfg(unix)]
    file: std::fs::File,
    #[cfg(not(unix))]
    file: std::cell::RefCell<std::fs::File>,
    size: u64,
}

impl FileSource {
    fn new(file: std::fs::File, size: u64) -> FileSource {
        #[cfg(not(unix))]
        let file = std::cell::RefCell::new(file);
        FileSource { file, size }
    }

    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }

    #[cfg(not(unix))]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = self.file.borrow_mut();
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }
}

impl ReadAt for FileSource {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        salvage::read_at::check_range(offset, buf.len(), self.size)?;
        self.read_at(offset, buf)
            .map_err(|e| Error::io(format!("reading {} bytes: {e}", buf.len())).at_offset(offset))
    }
}

fn open_source(path: &str, stats: &Rc<IoStats>) -> Result<Source> {
    let file = std::fs::File::open(path).map_err(|e| Error::not_found(format!("can't open {path}: {e}")))?;
    let meta = file.metadata().map_err(|e| Error::io(format!("can't read {path}: {e}")))?;
    if meta.is_dir() {
        return Err(Error::invalid(format!("{path} is a directory, not a disk image")));
    }
    let name = std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.into());
    let cached = ChunkCache::new(FileSource::new(file, meta.len()), CacheConfig::NATIVE, stats.clone());
    Ok(Source { name, reader: Rc::new(cached) })
}

/// Saved gzip indexes: `NAME.salvage-index` in the image's folder.
struct IndexBeside(std::path::PathBuf);

impl salvage::container::gzip::IndexStore for IndexBeside {
    fn load(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.0.join(format!("{name}.salvage-index"))).ok()
    }
    fn save(&self, name: &str, bytes: &[u8]) {
        // Best effort: a read-only folder just means no saved index.
        let path = self.0.join(format!("{name}.salvage-index"));
        let tmp = self.0.join(format!(".{name}.salvage-index.{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_err() || std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[derive(Default)]
struct Args {
    command: String,
    image: Option<String>,
    with: Vec<String>,
    /// A number from `info`, or a name (`centos/root`).
    volume: Option<String>,
    json: bool,
    recursive: bool,
    stats: bool,
    no_journal: bool,
    output: Option<String>,
    paths: Vec<String>,
    deflate: bool,
    partial: bool,
    member: Option<String>,
}

fn parse(argv: Vec<String>) -> std::result::Result<Args, String> {
    let mut it = argv.into_iter();
    let mut a = Args { command: it.next().ok_or("no command given")?, ..Args::default() };
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--with" => a.with.push(value("--with")?),
            "--volume" => {
                let v = value("--volume")?;
                if v.is_empty() {
                    return Err("--volume takes a number or a name from `salvage info`".into());
                }
                a.volume = Some(v);
            }
            "-o" | "--output" => a.output = Some(value("-o")?),
            "--json" => a.json = true,
            "-R" | "--recursive" => a.recursive = true,
            "--stats" => a.stats = true,
            "--no-journal" => a.no_journal = true,
            "--member" => a.member = Some(value("--member")?),
            "--deflate" => a.deflate = true,
            "--partial" => a.partial = true,
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ if a.image.is_none() => a.image = Some(arg),
            _ => a.paths.push(arg),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("salvage {}\n{USAGE}", salvage::VERSION);
        return ExitCode::SUCCESS;
    }
    if argv.iter().any(|a| a == "-V" || a == "--version") {
        println!("salvage {}", salvage::VERSION);
        return ExitCode::SUCCESS;
    }
    let args = match parse(argv) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("salvage: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = run(&args);
    STATS.with(|s| s.borrow_mut().take());
    match result {
        Ok(code) => code,
        // The reader of our output went away (`salvage ls … | head`): not an error.
        Err(e) if e.message() == OUTPUT_CLOSED => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("salvage: {e}");
            ExitCode::from(1)
        }
    }
}

const OUTPUT_CLOSED: &str = "the output was closed";

/// An error writing our output, as one of ours.
fn output_error(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Error::io(OUTPUT_CLOSED)
    } else {
        Error::io(format!("writing the output: {e}"))
    }
}

/// Prints the read counters when dropped, if `--stats` was given.
struct StatsOnExit(Rc<IoStats>, bool);

impl Drop for StatsOnExit {
    fn drop(&mut self) {
        if self.1 {
            let s = self.0.snapshot();
            eprintln!(
                "io: {} source reads, {} bytes read, {} cache hits, {} misses",
                s.source_reads, s.source_bytes, s.hits, s.misses
            );
        }
    }
}

thread_local! {
    static STATS: std::cell::RefCell<Option<StatsOnExit>> = const { std::cell::RefCell::new(None) };
}

fn open_image(args: &Args) -> Result<Image> {
    let stats = Rc::new(IoStats::default());
    STATS.with(|s| *s.borrow_mut() = Some(StatsOnExit(stats.clone(), args.stats)));
    let image = args.image.as_deref().ok_or_else(|| Error::invalid("no image given"))?;
    let main = open_source(image, &stats)?;
    let others = args.with.iter().map(|p| open_source(p, &stats)).collect::<Result<Vec<_>>>()?;
    let dir = std::path::Path::new(image).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let disk = salvage::container::DiskOptions { member: args.member.clone(), index_store: Some(Rc::new(IndexBeside(dir))) };
    Image::open_with(main, others, stats, OpenOptions { replay_journal: !args.no_journal, disk })
}

fn run(args: &Args) -> Result<ExitCode> {
    match args.command.as_str() {
        "info" => info(args),
        "ls" => ls(args),
        "cat" => cat(args),
        "stat" => stat(args),
        "export" => export(args),
        "inventory" => inventory(args),
        other => Err(Error::invalid(format!("unknown command {other:?}; try `salvage --help`"))),
    }
}

/// Exit status of an export whose zip is complete but holds incomplete
/// files or lacks damaged ones (the report lists them).
const EXIT_INCOMPLETE: u8 = 3;

fn export(args: &Args) -> Result<ExitCode> {
    use salvage::export::{About, Export, ExportOptions, Phase};
    use std::io::IsTerminal;

    let out_path = args.output.as_deref().ok_or_else(|| Error::invalid("export needs -o OUT.zip"))?;
    if args.paths.is_empty() {
        return Err(Error::invalid("export needs at least one path inside the volume, e.g. / or /home"));
    }
    let image = open_image(args)?;
    let index = match &args.volume {
        Some(v) => image.volume_index(v)?,
        None => image.default_volume()?,
    };
    let fs = image.filesystem(index)?;
    let volume = image.volumes().iter().find(|v| v.index == index);
    let about = About {
        image: image.info().image.parts.join(", "),
        volume: match volume {
            Some(v) => format!(
                "{index} ({}{})",
                v.fs.unwrap_or("?"),
                v.label.as_deref().map(|l| format!(" \"{l}\"")).unwrap_or_default()
            ),
            None => index.to_string(),
        },
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| salvage::fs::Timestamp { secs: i64::try_from(d.as_secs()).unwrap_or(0), nanos: d.subsec_nanos() })
        .ok();
    let options = ExportOptions { deflate: args.deflate, keep_partial: args.partial, now };
    let selection: Vec<Vec<u8>> = args.paths.iter().map(|p| unescape(p)).collect();

    // Written beside the target and renamed at the end, so a failed or
    // interrupted export leaves no half zip under the asked name.
    let part_path = format!("{out_path}.part");
    let file = std::fs::File::create(&part_path).map_err(|e| Error::io(format!("can't create {part_path}: {e}")))?;
    let result = (|| {
        let mut job = Export::new(fs, about, &selection, options, file);
        let show = std::io::stderr().is_terminal();
        let started = std::time::Instant::now();
        let mut last_shown = started;
        loop {
            let p = job.step(64 << 20)?;
            if show && (p.done || last_shown.elapsed().as_millis() >= 500) {
                last_shown = std::time::Instant::now();
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let what = match p.phase {
                    Phase::Counting => format!("counting: {} files, {}", p.files_total, human(p.bytes_total)),
                    _ => format!(
                        "{}/{} files, {} of {} ({:.0} MB/s) {}",
                        p.files_done,
                        p.files_total,
                        human(p.bytes_done),
                        human(p.bytes_total),
                        p.bytes_done as f64 / 1e6 / secs,
                        p.current_path
                    ),
                };
                let mut line: String = what.chars().take(150).collect();
                line.push_str("\x1b[K");
                eprint!("\r{line}");
            }
            if p.done {
                if show {
                    eprintln!();
                }
                break;
            }
        }
        let (file, summary) = job.finish()?;
        file.sync_all().map_err(|e| Error::io(format!("writing {part_path}: {e}")))?;
        Ok::<_, Error>(summary)
    })();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&part_path);
            return Err(e);
        }
    };
    if summary.entries_written == 0 && summary.specials == 0 {
        let _ = std::fs::remove_file(&part_path);
        return Err(Error::not_found(format!(
            "nothing could be exported ({} problem(s): {} left out, {} folder(s) unreadable or paths not found)",
            summary.skipped.saturating_add(summary.walk_problems),
            summary.skipped,
            summary.walk_problems
        )));
    }
    std::fs::rename(&part_path, out_path).map_err(|e| Error::io(format!("can't rename {part_path} to {out_path}: {e}")))?;
    let n = |count: u64, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
    eprintln!(
        "exported {} ({}), {}, {} into {out_path} ({})",
        n(summary.files_ok, "file", "files"),
        human(summary.bytes_ok),
        n(summary.dirs, "folder", "folders"),
        n(summary.symlinks, "symlink", "symlinks"),
        human(summary.archive_bytes)
    );
    if summary.specials > 0 {
        eprintln!("{} special file(s) (devices, fifos, sockets) listed in the manifest but not stored", summary.specials);
    }
    if summary.is_complete() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "salvage: not everything could be exported: {} file(s) incomplete, {} entr(ies) left out, {} folder problem(s); see {} in the zip",
        summary.files_incomplete, summary.skipped, summary.walk_problems, summary.report_name
    );
    Ok(ExitCode::from(EXIT_INCOMPLETE))
}

/// `salvage inventory`: the volume's "at a glance" record, as text or JSON.
fn inventory(args: &Args) -> Result<ExitCode> {
    use salvage::inventory::{find_linux_root, is_linux_root, restore_hints_for, Scan, Section};

    if !args.paths.is_empty() {
        return Err(Error::invalid("inventory takes no paths; it looks at the whole volume"));
    }
    let image = open_image(args)?;
    let (index, fs) = match &args.volume {
        Some(v) => {
            let v = image.volume_index(v)?;
            let fs = image.filesystem(v)?;
            if !is_linux_root(&*fs) {
                return Err(Error::not_found(format!("volume {v} is not a Linux root filesystem (no /etc with /usr or /bin); there is nothing to take stock of")));
            }
            (v, fs)
        }
        None => {
            find_linux_root(&image).ok_or_else(|| Error::not_found("no volume on this image is a Linux root filesystem (one with /etc and /usr or /bin)"))?
        }
    };
    let started = std::time::Instant::now();
    let mut scan = Scan::new(fs.clone()).ok_or_else(|| Error::not_found(format!("volume {index} is not a Linux root filesystem")))?;
    while !scan.step(20_000).done {}
    let inv = scan.finish();
    let owners: Vec<(u32, u32)> = inv.items.iter().filter(|i| i.essential).filter_map(|i| i.owner.as_ref().map(|o| (o.uid, o.gid))).collect();
    let hints = restore_hints_for(&inv, &*fs, &inv.essentials, owners);
    let elapsed = started.elapsed();
    let volume = image.volumes().iter().find(|v| v.index == index);
    let label = volume.and_then(|v| v.label.clone());

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = output_error;
    if args.json {
        #[derive(serde::Serialize)]
        struct Record<'a> {
            volume: u32,
            label: Option<String>,
            #[serde(flatten)]
            inventory: &'a salvage::inventory::Inventory,
            restore_hints: &'a [String],
        }
        serde_json::to_writer_pretty(&mut out, &Record { volume: index, label, inventory: &inv, restore_hints: &hints })
            .map_err(|e| output_error(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        let sys = &inv.system;
        let mut lines = vec![format!(
            "volume {index}{}: {}",
            label.map(|l| format!(" \"{l}\"")).unwrap_or_default(),
            sys.os.clone().unwrap_or_else(|| "Linux (release not recorded)".into())
        )];
        let size_text = |s: &Option<salvage::inventory::Size>| match s {
            Some(s) => format!(
                "{}{} in {} file{}",
                if s.complete { "" } else { "at least " },
                human(s.bytes),
                s.files,
                if s.files == 1 { "" } else { "s" }
            ),
            None => String::new(),
        };
        for section in Section::ALL {
            let items: Vec<_> = inv.items.iter().filter(|i| i.section == section).collect();
            let mut body = Vec::new();
            match section {
                Section::System => {
                    let mut fact = |k: &str, v: Option<String>| {
                        if let Some(v) = v {
                            body.push(format!("  {k}: {v}"));
                        }
                    };
                    fact("os", sys.os.clone().map(|o| match &sys.os_source {
                        Some(src) => format!("{o} (from {src})"),
                        None => o,
                    }));
                    fact("hostname", sys.hostname.clone());
                    fact("kernels", (!sys.kernels.is_empty()).then(|| sys.kernels.join(", ")));
                    fact("time zone", sys.timezone.clone());
                    fact("last mounted", sys.last_mount_time.clone().map(|t| match &sys.last_mounted_on {
                        Some(p) => format!("{t} on {p}"),
                        None => t,
                    }));
                    fact("journal", sys.journal.clone());
                }
                Section::Users => {
                    let people: Vec<String> = inv.users.iter().filter(|u| u.human).map(|u| format!("{} ({})", u.name, u.uid)).collect();
                    let services: Vec<&str> = inv.users.iter().filter(|u| !u.human).map(|u| u.name.as_str()).collect();
                    body.push(format!("  people: {}", if people.is_empty() { "none".into() } else { people.join(", ") }));
                    body.push(if services.is_empty() {
                        "  service accounts: none".to_string()
                    } else {
                        format!("  service accounts: {} ({})", services.len(), services.join(", "))
                    });
                    body.push(format!("  groups: {}", inv.groups.len()));
                }
                _ => {}
            }
            for i in items {
                let owner = i
                    .owner
                    .as_ref()
                    .map(|o| format!("{}:{}", o.user.clone().unwrap_or_else(|| o.uid.to_string()), o.group.clone().unwrap_or_else(|| o.gid.to_string())))
                    .unwrap_or_default();
                let mut line = format!("  {}  {}", i.path, i.title);
                for part in [size_text(&i.size), owner] {
                    if !part.is_empty() {
                        line.push_str("  ");
                        line.push_str(&part);
                    }
                }
                if i.essential {
                    line.push_str("  [essential]");
                }
                body.push(line);
                for (k, v) in &i.details {
                    body.push(format!("      {k}: {v}"));
                }
            }
            if !body.is_empty() {
                lines.push(String::new());
                lines.push(section.title().to_string());
                lines.extend(body);
            }
        }
        lines.push(String::new());
        lines.push(format!("Essentials ({} paths; export them with `salvage export IMAGE --volume {index} PATH... -o OUT.zip`)", inv.essentials.len()));
        lines.extend(inv.essentials.iter().map(|p| format!("  {p}")));
        if !hints.is_empty() {
            lines.push(String::new());
            lines.push("Restore hints for the essentials".into());
            for h in &hints {
                for (n, l) in h.lines().enumerate() {
                    lines.push(format!("{}{l}", if n == 0 { "  - " } else { "  " }));
                }
            }
        }
        if !inv.notes.is_empty() {
            lines.push(String::new());
            lines.push("Notes".into());
            lines.extend(inv.notes.iter().map(|n| format!("  {n}")));
        }
        if !inv.complete {
            lines.push(String::new());
            lines.push("Some walks stopped at their budget: sizes marked \"at least\" and the scans are incomplete (see the notes).".into());
        }
        for l in lines {
            writeln!(out, "{l}").map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    if args.stats {
        eprintln!("inventory: {} items in {:.1} ms", inv.items.len(), elapsed.as_secs_f64() * 1000.0);
    }
    Ok(ExitCode::SUCCESS)
}

fn info(args: &Args) -> Result<ExitCode> {
    let image = open_image(args)?;
    let info = image.info();
    let out = std::io::stdout();
    let mut out = out.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &info).map_err(|e| output_error(e.into()))?;
        writeln!(out).map_err(output_error)?;
        return Ok(ExitCode::SUCCESS);
    }
    let w = |out: &mut std::io::StdoutLock, s: String| writeln!(out, "{s}").map_err(output_error);
    w(&mut out, format!("image: {} ({}, {} bytes)", info.image.format, human(info.image.size), info.image.size))?;
    for (k, val) in &info.image.details {
        w(&mut out, format!("  {k}: {val}"))?;
    }
    if info.image.parts.len() > 1 {
        w(&mut out, format!("parts: {}", info.image.parts.join(", ")))?;
    }
    for n in &info.image.notes {
        w(&mut out, format!("note: {n}"))?;
    }
    w(&mut out, format!("partition table: {}", serde_json::to_value(info.table.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()))?;
    for n in &info.table.notes {
        w(&mut out, format!("note: {n}"))?;
    }
    for v in &info.volumes {
        w(&mut out, String::new())?;
        w(&mut out, format!("volume {}: {}", v.index, v.status))?;
        if let Some(d) = &v.disk {
            w(&mut out, format!("  on: {d}"))?;
        }
        if v.assembled {
            w(&mut out, format!("  size {} ({} bytes)", human(v.length), v.length))?;
        } else {
            w(&mut out, format!("  offset {} bytes, size {} ({} bytes)", v.offset, human(v.length), v.length))?;
        }
        let ty = match &v.type_id {
            Some(id) => format!("{} ({id})", v.type_name),
            None => v.type_name.clone(),
        };
        w(&mut out, format!("  type: {ty}"))?;
        if let Some(n) = &v.name {
            w(&mut out, format!("  name: {n}"))?;
        }
        if let Some(l) = &v.label {
            w(&mut out, format!("  label: {l}"))?;
        }
        if let Some(u) = &v.uuid {
            w(&mut out, format!("  uuid: {u}"))?;
        }
        for (k, val) in &v.details {
            w(&mut out, format!("  {k}: {val}"))?;
        }
        for p in &v.problems {
            w(&mut out, format!("  problem: {p}"))?;
        }
    }
    if !info.volume_notes.is_empty() {
        w(&mut out, String::new())?;
    }
    for n in &info.volume_notes {
        w(&mut out, format!("note: {n}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn select_fs(image: &Image, args: &Args) -> Result<Rc<dyn FileSystem>> {
    let index = match &args.volume {
        Some(v) => image.volume_index(v)?,
        None => image.default_volume()?,
    };
    image.filesystem(index)
}

/// `-rwsr-xr-x` from kind and permission bits.
fn mode_string(kind: FileKind, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(kind.letter());
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    let special = |x: u32, sp: u32, on: char, off: char| match (mode & x != 0, mode & sp != 0) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(0o100, 0o4000, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(0o010, 0o2000, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(0o001, 0o1000, 't', 'T'));
    s
}

fn print_entry(out: &mut impl Write, e: &Entry) -> std::io::Result<()> {
    let ts = salvage::fs::Timestamp { secs: e.mtime, nanos: e.mtime_ns };
    write!(out, "{} {:>6} {:>6} {:>12} {} {}", mode_string(e.file_kind, e.mode), e.uid, e.gid, e.size, ts.iso8601(), e.path)?;
    if let Some(t) = &e.target {
        write!(out, " -> {t}")?;
    }
    writeln!(out)
}

/// Deepest directory nesting `ls -R` follows; deeper is surely a loop.
const MAX_DEPTH: usize = 256;

fn ls(args: &Args) -> Result<ExitCode> {
    let image = open_image(args)?;
    let fs = select_fs(&image, args)?;
    let start = match args.paths.as_slice() {
        [] => b"/".to_vec(),
        [p] => unescape(p),
        _ => return Err(Error::invalid("ls takes one path")),
    };
    let mut entries = Vec::new();
    let mut warnings = 0usize;
    let mut visited = HashSet::new();
    // Depth-first, each directory's entries followed by its subdirectories'.
    let mut stack = vec![(start, 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let listed = match image.list(&*fs, &dir) {
            Ok(l) => l,
            Err(e) if !entries.is_empty() => {
                eprintln!("warning: {}: {e}", escape(&dir));
                warnings += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut subdirs = Vec::new();
        for e in listed {
            if args.recursive && e.kind == "dir" && e.file_kind == FileKind::Dir {
                if depth >= MAX_DEPTH || !visited.insert(e.inode) {
                    eprintln!("warning: {}: directory already listed or nested too deep; not entered again", e.path);
                    warnings += 1;
                } else {
                    subdirs.push((unescape(&e.path), depth + 1));
                }
            }
            entries.push(e);
        }
        stack.extend(subdirs.into_iter().rev());
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = output_error;
    if args.json {
        serde_json::to_writer(&mut out, &entries).map_err(|e| output_error(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        for e in &entries {
            print_entry(&mut out, e).map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    for e in &entries {
        for p in &e.problems {
            eprintln!("warning: {}: {p}", e.path);
            warnings += 1;
        }
    }
    if warnings > 0 {
        eprintln!("salvage: {warnings} problem(s) found; see the warnings above");
    }
    Ok(ExitCode::SUCCESS)
}

fn stat(args: &Args) -> Result<ExitCode> {
    let image = open_image(args)?;
    let fs = select_fs(&image, args)?;
    let [path] = args.paths.as_slice() else {
        return Err(Error::invalid("stat takes one path"));
    };
    let s = image.stat(&*fs, &unescape(path))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = output_error;
    if args.json {
        serde_json::to_writer_pretty(&mut out, &s).map_err(|e| output_error(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        let kind = serde_json::to_value(s.file_kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let mut lines = vec![
            format!("path: {}", s.path),
            format!("inode: {}", s.inode),
            format!("type: {kind}"),
            format!("mode: {} ({:04o})", mode_string(s.file_kind, s.mode), s.mode),
            format!("uid: {}", s.uid),
            format!("gid: {}", s.gid),
            format!("size: {}", s.size),
            format!("links: {}", s.nlink),
            format!("atime: {}", s.atime),
            format!("mtime: {}", s.mtime),
            format!("ctime: {}", s.ctime),
        ];
        if let Some(t) = &s.crtime {
            lines.push(format!("crtime: {t}"));
        }
        if let Some((major, minor)) = s.rdev {
            lines.push(format!("device: {major}, {minor}"));
        }
        lines.push(format!("flags: {:#x} ({})", s.flags, s.flag_names.join(" ")));
        if let Some(t) = &s.target {
            lines.push(format!("target: {t}"));
        }
        for x in &s.xattrs {
            match &x.text {
                Some(t) => lines.push(format!("xattr: {} = {t:?}", x.name)),
                None => lines.push(format!("xattr: {} = 0x{}", x.name, x.hex)),
            }
        }
        for p in &s.problems {
            lines.push(format!("problem: {p}"));
        }
        for l in lines {
            writeln!(out, "{l}").map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    for p in &s.problems {
        eprintln!("warning: {}: {p}", s.path);
    }
    Ok(ExitCode::SUCCESS)
}

fn cat(args: &Args) -> Result<ExitCode> {
    let image = open_image(args)?;
    let fs = select_fs(&image, args)?;
    let [path] = args.paths.as_slice() else {
        return Err(Error::invalid("cat takes one path"));
    };
    let raw = unescape(path);
    let inode = fs.resolve(&raw)?;
    let meta = fs.stat(inode)?;
    if meta.kind != FileKind::File {
        return Err(Error::invalid(format!("{} is not a regular file", escape(&raw))));
    }
    for p in &meta.problems {
        eprintln!("warning: {}: {p}", escape(&raw));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    while offset < meta.size {
        let n = fs.read_at(inode, offset, &mut buf).map_err(|e| {
            e.context(format!("{} is incomplete: only {offset} of {} bytes could be read", escape(&raw), meta.size))
        })?;
        if n == 0 {
            return Err(Error::corrupt(format!("{} ends early: {offset} of {} bytes", escape(&raw), meta.size)));
        }
        out.write_all(&buf[..n]).map_err(output_error)?;
        offset += n as u64;
    }
    out.flush().map_err(output_error)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_strings_like_ls() {
        assert_eq!(mode_string(FileKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(FileKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(FileKind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(FileKind::Symlink, 0o777), "lrwxrwxrwx");
    }
}
