//! Export: the selection → one streamed zip, with a recovery report and a
//! manifest.
//!
//! The zip is written front to back through any [`std::io::Write`] (a
//! file natively, an OPFS sync-access handle in the browser) with the
//! `zip` crate's stream mode: data descriptors after each entry, ZIP64
//! where sizes, offsets or the entry count need it (a file's ZIP64 flag is
//! decided from its size before its first byte). See [`entry`] for what
//! each entry carries.
//!
//! The work is cut into steps so the browser worker can return to its
//! event loop: [`Export::step`] walks or writes up to a byte budget and
//! reports [`Progress`]; [`Export::finish`] writes the central directory
//! and hands the writer back. Dropping an [`Export`] cancels it.
//!
//! Every chunk of a file is read before it is written. A file whose first
//! chunk can't be read is left out. With `keep_partial` unreadable ranges
//! become zeros and the file is marked incomplete; without it a file that
//! fails after its entry began is finished, then removed from the zip's
//! directory (its bytes stay in the archive, unlisted), except when its
//! name is not UTF-8 — the zip crate can only unlist UTF-8 names — where
//! it is kept with zeros and marked incomplete.
//!
//! Memory: one chunk buffer, one frame per folder level during the walk,
//! and about 200 bytes plus the name per entry (the entry list here and
//! the zip's central directory, which a zip must keep until its end).

mod compress;
#[cfg(target_os = "linux")]
mod direct;
pub mod entry;
#[cfg(not(target_arch = "wasm32"))]
mod hash_thread;
pub(crate) mod owners;
mod report;
mod walk;

use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::rc::Rc;

use sha2::{Digest, Sha256};
use zip::write::{FullFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Error, Result};
use crate::fs::{FileKind, FileSystem, Timestamp};
use crate::path::escape;
use owners::Owners;
use walk::{Planned, Status, Walk};

/// Bytes read and written at a time.
const CHUNK_BYTES: usize = 1 << 20;
/// Size of the pieces a failing chunk is re-read in, to find the bad part.
const PIECE_BYTES: usize = 4096;
/// Budget a step charges per entry, so steps over many tiny files end too.
const ENTRY_COST: u64 = 512;
/// Entries the walk handles per step at most.
const WALK_PER_STEP: usize = 4096;
/// Unreadable ranges listed per file; more are counted.
const MAX_RANGES: usize = 64;
/// Files this large get ZIP64 sizes (below 4 GiB, as Deflate may grow data).
const LARGE_FILE_BYTES: u64 = 0xF000_0000;

/// How to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Deflate files where a trial shows it pays; otherwise all stored.
    pub deflate: bool,
    /// Keep files with unreadable parts, zeros in those parts.
    pub keep_partial: bool,
    /// The time the export is written (the core has no clock): the report
    /// shows it, and the report and manifest entries carry it.
    pub now: Option<Timestamp>,
}

/// Where the files come from, in words for the report.
#[derive(Clone, Debug, Default)]
pub struct About {
    /// The image file name(s).
    pub image: String,
    /// E.g. `2 (ext4 "root")`.
    pub volume: String,
}

/// What the export is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Walking the selection; the totals are still growing.
    Counting,
    Writing,
    /// Writing the manifest and report.
    Finishing,
    /// [`Export::finish`] may be called.
    Done,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// The entry being written, escaped.
    pub current_path: String,
    pub done: bool,
}

/// Counters of the walk and the writing.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub files_total: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub bytes_done: u64,
}

/// The outcome, for the CLI's last lines and the page.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    /// Regular files stored with every byte.
    pub files_ok: u64,
    pub bytes_ok: u64,
    pub files_incomplete: u64,
    /// Entries left out because of damage (files, links, unreadable inodes).
    pub skipped: u64,
    /// Devices, fifos and sockets, listed but not stored.
    pub specials: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hard_links: u64,
    /// Folders (or parts) that could not be listed.
    pub walk_problems: u64,
    /// Entries in the zip besides the report and manifest.
    pub entries_written: u64,
    /// Size of the zip.
    pub archive_bytes: u64,
    pub report_name: String,
    pub manifest_name: String,
}

impl Summary {
    /// Whether every selected byte made it into the zip intact.
    pub fn is_complete(&self) -> bool {
        self.files_incomplete == 0 && self.skipped == 0 && self.walk_problems == 0
    }
}

/// Counts what reaches the caller's writer. When that is a Linux file,
/// the bytes go through [`direct::DirectFile`] instead (see there).
struct Counting<W> {
    inner: W,
    bytes: u64,
    #[cfg(target_os = "linux")]
    direct: Option<direct::DirectFile>,
}

impl<W: Write + 'static> Counting<W> {
    #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
    fn new(mut inner: W) -> Counting<W> {
        #[cfg(target_os = "linux")]
        {
            let any: &mut dyn std::any::Any = &mut inner;
            let direct = any.downcast_mut::<std::fs::File>().and_then(|f| direct::DirectFile::open(f));
            Counting { inner, bytes: 0, direct }
        }
        #[cfg(not(target_os = "linux"))]
        Counting { inner, bytes: 0 }
    }
}

impl<W> Counting<W> {
    /// Ends direct writing, if any: every byte is in `inner`'s file after.
    fn finish(&mut self) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(mut d) = self.direct.take() {
            d.finish()?;
        }
        Ok(())
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        #[cfg(target_os = "linux")]
        let n = match self.direct.as_mut() {
            Some(d) => d.write(buf)?,
            None => self.inner.write(buf)?,
        };
        #[cfg(not(target_os = "linux"))]
        let n = self.inner.write(buf)?;
        self.bytes = self.bytes.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(d) = self.direct.as_mut() {
            return d.flush();
        }
        self.inner.flush()
    }
}

type Zip<W> = ZipWriter<StreamWriter<BufWriter<Counting<W>>>>;

/// Stored file bytes in the zip whose SHA-256 the caller computes
/// ([`Export::hash_outside`]): entry `index`'s bytes at `start..end` of
/// the output, `last` when they end the file, whose size is `file_bytes`
/// (so the caller can choose how to hash it before its first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub index: usize,
    pub start: u64,
    pub end: u64,
    pub last: bool,
    pub file_bytes: u64,
}

/// The bookkeeping of hashing outside the export.
#[derive(Default)]
struct Outside {
    /// Spans not yet handed out, in zip offsets.
    spans: VecDeque<Span>,
    /// Zip offset up to which spans were handed out.
    handed: u64,
    /// Files whose digest has not come back yet.
    waiting: usize,
}

/// A file whose entry is open.
struct OpenFile {
    index: usize,
    offset: u64,
    hasher: Sha256,
    /// Its stored bytes are hashed by the caller ([`Span`]s), not here.
    outside: bool,
    /// Its bytes are hashed on the hashing thread (natively).
    threaded: bool,
    bad: Vec<(u64, u64)>,
    bad_dropped: usize,
    why: Option<String>,
}

enum State {
    Walking,
    Writing,
    Manifest { row: usize },
    Report,
    Done,
    Failed(Error),
}

/// One export in progress; see the module docs.
pub struct Export<W: Write> {
    fs: Rc<dyn FileSystem>,
    about: About,
    selection: Vec<String>,
    options: ExportOptions,
    walk: Walk,
    entries: Vec<Planned>,
    next: usize,
    open: Option<OpenFile>,
    zip: Option<Zip<W>>,
    buf: Vec<u8>,
    totals: Totals,
    owners: Option<Owners>,
    state: State,
    manifest_name: String,
    report_name: String,
    /// Set by [`Export::hash_outside`].
    outside: Option<Outside>,
    #[cfg(not(target_arch = "wasm32"))]
    hash_thread: Option<hash_thread::HashThread>,
}

/// A zip error while writing: an output failure, unless the zip crate
/// refused the entry itself (a duplicate or overlong name).
enum EntryError {
    Refused(String),
    Output(Error),
}

fn zip_error(e: zip::result::ZipError) -> EntryError {
    match e {
        zip::result::ZipError::Io(io) => EntryError::Output(output_error(&io)),
        other => EntryError::Refused(other.to_string()),
    }
}

fn output_error(e: &std::io::Error) -> Error {
    Error::io(format!("writing the zip failed: {e}"))
}

impl<W: Write + 'static> Export<W> {
    /// Prepares the export of `selection` (absolute raw paths on `fs`)
    /// into `writer`. Nothing is read or written until [`Export::step`].
    pub fn new(fs: Rc<dyn FileSystem>, about: About, selection: &[Vec<u8>], options: ExportOptions, writer: W) -> Export<W> {
        let sink = BufWriter::with_capacity(CHUNK_BYTES, Counting::new(writer));
        Export {
            fs,
            about,
            selection: selection.iter().map(|p| escape(p)).collect(),
            options,
            walk: Walk::new(selection),
            entries: Vec::new(),
            next: 0,
            open: None,
            zip: Some(ZipWriter::new_stream(sink)),
            buf: vec![0u8; CHUNK_BYTES],
            outside: None,
            #[cfg(not(target_arch = "wasm32"))]
            hash_thread: hash_thread::HashThread::start(),
            totals: Totals::default(),
            owners: None,
            state: State::Walking,
            manifest_name: String::new(),
            report_name: String::new(),
        }
    }

}

impl<W: Write> Export<W> {
    /// Does up to about `budget_bytes` of work (file bytes written, plus a
    /// little per entry) and reports where it stands. An error means the
    /// output failed: the zip is unusable and the export is over.
    pub fn step(&mut self, budget_bytes: u64) -> Result<Progress> {
        let mut spent = 0u64;
        while spent < budget_bytes.max(1) {
            let result = match self.state {
                State::Failed(ref e) => return Err(e.clone()),
                State::Done => break,
                State::Walking => {
                    let room = usize::try_from((budget_bytes.saturating_sub(spent) / ENTRY_COST).max(1)).unwrap_or(WALK_PER_STEP);
                    let n = room.min(WALK_PER_STEP);
                    let before = self.entries.len();
                    let finished = self.walk.step(&*self.fs, &mut self.entries, n);
                    self.count_walked(before);
                    spent = spent.saturating_add(ENTRY_COST.saturating_mul(u64::try_from(n).unwrap_or(1)));
                    if finished {
                        self.manifest_name = free_name(&self.walk.top_names, "manifest.csv");
                        self.report_name = free_name(&self.walk.top_names, "SALVAGE-REPORT.txt");
                        self.state = State::Writing;
                    }
                    Ok(())
                }
                State::Writing if self.blocked() => {
                    // Every stored byte must reach the caller, who hashes it.
                    self.zip()?.flush().map_err(|e| output_error(&e))?;
                    break;
                }
                State::Writing => self.write_some(&mut spent),
                State::Manifest { row } => self.write_manifest(row, &mut spent),
                State::Report => self.write_report(),
            };
            if let Err(e) = result {
                self.state = State::Failed(e.clone());
                return Err(e);
            }
        }
        Ok(self.progress())
    }

    /// Hands SHA-256 of stored file data to the caller: from now on each
    /// regular file stored with at least one byte gets no digest here;
    /// instead [`Export::take_spans`] says where its bytes are in the
    /// output, and the caller gives the digest back with
    /// [`Export::set_sha256`]. The manifest (written last) waits for them:
    /// while [`Export::waiting_for_digests`], a step returns at once.
    /// Only before the first step.
    pub fn hash_outside(&mut self) -> Result<()> {
        if !matches!(self.state, State::Walking) || !self.entries.is_empty() {
            return Err(Error::invalid("hashing outside must be chosen before the export starts"));
        }
        self.outside = Some(Outside::default());
        Ok(())
    }

    /// Reads and writes file data `bytes` at a time (1 MiB by default;
    /// clamped to 64 KiB–64 MiB). Only before the first step.
    pub fn set_chunk_bytes(&mut self, bytes: usize) -> Result<()> {
        if !matches!(self.state, State::Walking) || !self.entries.is_empty() {
            return Err(Error::invalid("the chunk size must be chosen before the export starts"));
        }
        let bytes = bytes.clamp(64 << 10, 64 << 20);
        let mut buf = Vec::new();
        buf.try_reserve_exact(bytes).map_err(|_| Error::io("out of memory for the export's buffer"))?;
        buf.resize(bytes, 0);
        self.buf = buf;
        Ok(())
    }

    /// The [`Span`]s of the output the caller has taken so far (every byte
    /// that reached the writer), with `start` and `end` counted from the
    /// first byte not covered by the previous call. A span cut by the
    /// end of what was written comes in two parts, `last` on the second.
    pub fn take_spans(&mut self) -> Vec<Span> {
        let written = self.written_bytes();
        let Some(o) = self.outside.as_mut() else {
            return Vec::new();
        };
        let base = o.handed;
        let mut out = Vec::new();
        while let Some(front) = o.spans.front_mut() {
            let rel = |at: u64| at.saturating_sub(base);
            if front.end <= written {
                out.push(Span { start: rel(front.start), end: rel(front.end), ..*front });
                o.spans.pop_front();
            } else {
                if front.start < written {
                    out.push(Span { start: rel(front.start), end: rel(written), last: false, ..*front });
                    front.start = written;
                }
                break;
            }
        }
        o.handed = written.max(base);
        out
    }

    /// The SHA-256 of entry `index`'s stored bytes, computed by the caller.
    pub fn set_sha256(&mut self, index: usize, digest: [u8; 32]) {
        if let Some(o) = self.outside.as_mut() {
            o.waiting = o.waiting.saturating_sub(1);
        }
        if let Some(p) = self.entries.get_mut(index) {
            // A file may still be open (its status comes at its end), but
            // one left out keeps no digest.
            if p.kind == FileKind::File && !matches!(p.status, Status::Skipped(_)) {
                p.sha256 = Some(digest);
            }
        }
    }

    /// Whether the export can't go on until more digests are given.
    pub fn waiting_for_digests(&self) -> bool {
        matches!(self.state, State::Writing) && self.blocked()
    }

    /// All files are written but digests are missing.
    fn blocked(&self) -> bool {
        self.open.is_none() && self.next >= self.entries.len() && self.outside.as_ref().is_some_and(|o| o.waiting > 0)
    }

    /// Bytes that reached the caller's writer.
    fn written_bytes(&self) -> u64 {
        self.zip.as_ref().and_then(|z| z.get_ref()).map(|s| s.get_ref().get_ref().bytes).unwrap_or(0)
    }

    /// Offset in the zip of the next byte written.
    fn output_position(&self) -> u64 {
        self.zip
            .as_ref()
            .and_then(|z| z.get_ref())
            .map(|s| {
                let b = s.get_ref();
                b.get_ref().bytes.saturating_add(u64::try_from(b.buffer().len()).unwrap_or(u64::MAX))
            })
            .unwrap_or(0)
    }

    fn count_walked(&mut self, from: usize) {
        for p in self.entries.get(from..).unwrap_or_default() {
            if p.kind == FileKind::File || p.kind == FileKind::Symlink {
                self.totals.files_total = self.totals.files_total.saturating_add(1);
                self.totals.bytes_total = self.totals.bytes_total.saturating_add(p.size);
            }
        }
    }

    pub fn progress(&self) -> Progress {
        let (phase, done) = match self.state {
            State::Walking => (Phase::Counting, false),
            State::Writing => (Phase::Writing, false),
            State::Manifest { .. } | State::Report | State::Failed(_) => (Phase::Finishing, false),
            State::Done => (Phase::Done, true),
        };
        let current = self.open.as_ref().map(|o| o.index).unwrap_or(self.next);
        Progress {
            phase,
            files_done: self.totals.files_done,
            files_total: self.totals.files_total,
            bytes_done: self.totals.bytes_done,
            bytes_total: self.totals.bytes_total,
            current_path: self.entries.get(current).map(|p| escape(&p.name)).unwrap_or_default(),
            done,
        }
    }

    fn zip(&mut self) -> Result<&mut Zip<W>> {
        self.zip.as_mut().ok_or_else(|| Error::io("the zip was already closed"))
    }

    /// Writes entries until the budget is spent or all are written.
    fn write_some(&mut self, spent: &mut u64) -> Result<()> {
        if self.open.is_some() {
            let before = self.totals.bytes_done;
            self.continue_file()?;
            *spent = spent.saturating_add(self.totals.bytes_done.saturating_sub(before));
            return Ok(());
        }
        let Some(p) = self.entries.get(self.next) else {
            self.collect_digests(true)?;
            self.start_manifest()?;
            return Ok(());
        };
        let index = self.next;
        let kind = p.kind;
        self.next = self.next.saturating_add(1);
        *spent = spent.saturating_add(ENTRY_COST);
        if p.status != Status::Pending {
            return Ok(());
        }
        let outcome = match kind {
            FileKind::Dir => self.write_dir(index),
            FileKind::Symlink => self.write_symlink(index),
            FileKind::File => {
                let before = self.totals.bytes_done;
                let r = self.start_file(index);
                *spent = spent.saturating_add(self.totals.bytes_done.saturating_sub(before));
                r
            }
            other => {
                let device = p.rdev.map(|(major, minor)| format!(" (device {major},{minor})")).unwrap_or_default();
                self.set_status(index, Status::Skipped(format!("a {}{device} can't be stored in a zip", report::kind_name(other)).into()));
                Ok(())
            }
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(EntryError::Refused(why)) => {
                self.set_status(index, Status::Skipped(format!("the zip writer refused it: {why}").into()));
                if self.open.as_ref().is_some_and(|o| o.index == index) {
                    self.open = None;
                }
                Ok(())
            }
            Err(EntryError::Output(e)) => Err(e),
        }
    }

    fn set_status(&mut self, index: usize, status: Status) {
        if let Some(p) = self.entries.get_mut(index) {
            p.status = status;
        }
    }

    /// Options carrying the entry's mode, time and owner.
    fn entry_options(&self, p: &Planned) -> std::result::Result<FullFileOptions<'static, 'static>, EntryError> {
        let mut o = FullFileOptions::default()
            .system(zip::System::Unix)
            .external_attributes(entry::external_attributes(p.kind, p.mode))
            .last_modified_time(entry::dos_time(p.mtime))
            .compression_method(CompressionMethod::Stored);
        if let Some(ut) = entry::extended_timestamp(p.mtime) {
            o.add_extra_field(entry::EXTENDED_TIMESTAMP_ID, ut, false).map_err(zip_error)?;
        }
        if let Some(ntfs) = entry::ntfs_times(p.mtime) {
            o.add_extra_field(entry::NTFS_ID, ntfs, false).map_err(zip_error)?;
        }
        o.add_extra_field(entry::UNIX_OWNER_ID, entry::unix_owner(p.uid, p.gid), false).map_err(zip_error)?;
        Ok(o)
    }

    fn write_dir(&mut self, index: usize) -> std::result::Result<(), EntryError> {
        let p = self.entries[index].clone();
        let options = self.entry_options(&p)?;
        let Ok(name) = std::str::from_utf8(&p.name) else {
            return self.write_raw_named_dir(index, &p, options);
        };
        self.zip().map_err(EntryError::Output)?.add_directory(format!("{name}/"), options).map_err(zip_error)?;
        self.set_status(index, Status::Ok);
        Ok(())
    }

    /// A folder whose name is not UTF-8. The zip crate's `add_directory`
    /// takes UTF-8 only, and a folder begun with `start_file_with_options`
    /// would need a seek to finish; so the entry is built in a small
    /// in-memory zip (which can seek) and copied over raw: a folder entry
    /// has no data, so its header is final as written. The raw copy keeps
    /// mode, owner and DOS time; the zip crate drops the UT and NTFS
    /// times on the way, so such a folder's time is exact to 2 seconds
    /// within 1980–2107 only (the manifest keeps it in full).
    fn write_raw_named_dir(&mut self, index: usize, p: &Planned, options: FullFileOptions<'static, 'static>) -> std::result::Result<(), EntryError> {
        let mut name = p.name.to_vec();
        name.push(b'/');
        let built = (|| {
            let mut scratch = ZipWriter::new(std::io::Cursor::new(Vec::new()));
            scratch.start_file_with_options(options.name(&name))?;
            let bytes = scratch.finish()?;
            zip::ZipArchive::new(bytes)
        })();
        let mut archive = match built {
            Ok(a) => a,
            Err(_) => {
                // Its files still carry the folder's exact name.
                self.set_status(index, Status::Implied);
                return Ok(());
            }
        };
        let entry = archive.by_index_raw(0).map_err(zip_error)?;
        self.zip().map_err(EntryError::Output)?.raw_copy_file(entry).map_err(zip_error)?;
        self.set_status(index, Status::Ok);
        Ok(())
    }

    fn write_symlink(&mut self, index: usize) -> std::result::Result<(), EntryError> {
        let p = self.entries[index].clone();
        let target = match self.fs.read_link(p.inode) {
            Ok(t) => t,
            Err(e) => {
                self.set_status(index, Status::Skipped(format!("its target can't be read: {e}").into()));
                return Ok(());
            }
        };
        let options = self.entry_options(&p)?;
        let zip = self.zip().map_err(EntryError::Output)?;
        zip.start_file_with_options(options.name(&p.name)).map_err(zip_error)?;
        zip.write_all(&target).map_err(|e| EntryError::Output(output_error(&e)))?;
        let entry = &mut self.entries[index];
        entry.sha256 = Some(Sha256::digest(&target).into());
        entry.size = u64::try_from(target.len()).unwrap_or(u64::MAX);
        entry.status = Status::Ok;
        self.totals.files_done = self.totals.files_done.saturating_add(1);
        Ok(())
    }

    /// Reads `len` bytes at `offset` into the buffer, zeros where the disk
    /// can't be read; returns the unreadable ranges and the first reason.
    fn read_chunk(&mut self, inode: u64, offset: u64, len: usize) -> (Vec<(u64, u64)>, Option<String>) {
        let buf = &mut self.buf[..len];
        match read_full(&*self.fs, inode, offset, buf) {
            Ok(n) if n == len => return (Vec::new(), None),
            Ok(n) => {
                buf[n..].fill(0);
                let start = offset.saturating_add(u64::try_from(n).unwrap_or(0));
                let end = offset.saturating_add(u64::try_from(len).unwrap_or(0));
                return (vec![(start, end)], Some("the file's data ends before its recorded size".into()));
            }
            Err(_) => {}
        }
        // Find the bad part piece by piece.
        let mut bad: Vec<(u64, u64)> = Vec::new();
        let mut why = None;
        let mut at = 0usize;
        while at < len {
            let end = at.saturating_add(PIECE_BYTES).min(len);
            let piece_offset = offset.saturating_add(u64::try_from(at).unwrap_or(0));
            let piece = &mut buf[at..end];
            let good = match read_full(&*self.fs, inode, piece_offset, piece) {
                Ok(n) if n == piece.len() => piece.len(),
                Ok(n) => {
                    why.get_or_insert_with(|| "the file's data ends before its recorded size".to_string());
                    n
                }
                Err(e) => {
                    why.get_or_insert_with(|| e.to_string());
                    0
                }
            };
            if good < piece.len() {
                piece[good..].fill(0);
                let s = piece_offset.saturating_add(u64::try_from(good).unwrap_or(0));
                let e = offset.saturating_add(u64::try_from(end).unwrap_or(0));
                match bad.last_mut() {
                    Some(last) if last.1 == s => last.1 = e,
                    _ => bad.push((s, e)),
                }
            }
            at = end;
        }
        (bad, why)
    }

    fn start_file(&mut self, index: usize) -> std::result::Result<(), EntryError> {
        let p = self.entries[index].clone();
        let chunk = self.buf.len();
        let first = usize::try_from(p.size.min(chunk as u64)).unwrap_or(chunk);
        let (bad, why) = self.read_chunk(p.inode, 0, first);
        if !bad.is_empty() && !self.options.keep_partial {
            let why = why.unwrap_or_default();
            self.set_status(index, Status::Skipped(format!("unreadable from byte {}: {why}", bad[0].0).into()));
            return Ok(());
        }
        let mut options = self.entry_options(&p)?.large_file(p.size >= LARGE_FILE_BYTES);
        let deflated = self.options.deflate && compress::worth_deflating(&p.name, &self.buf[..first]);
        if deflated {
            options = options.compression_method(CompressionMethod::Deflated);
        }
        let zip = self.zip.as_mut().ok_or_else(|| EntryError::Output(Error::io("the zip was already closed")))?;
        zip.start_file_with_options(options.name(&p.name)).map_err(zip_error)?;
        // Stored bytes appear in the output as they are: the caller can hash them there.
        let outside = !deflated && p.size > 0 && self.outside.is_some();
        if let Some(o) = self.outside.as_mut().filter(|_| outside) {
            o.waiting = o.waiting.saturating_add(1);
        }
        let threaded = !outside && p.size > 0 && self.has_hash_thread();
        let mut open = OpenFile { index, offset: 0, hasher: Sha256::new(), outside, threaded, bad: Vec::new(), bad_dropped: 0, why: None };
        self.write_chunk(&mut open, first, bad, why).map_err(EntryError::Output)?;
        self.open = Some(open);
        if p.size == 0 {
            self.end_file().map_err(EntryError::Output)?;
        }
        Ok(())
    }

    fn write_chunk(&mut self, open: &mut OpenFile, len: usize, bad: Vec<(u64, u64)>, why: Option<String>) -> Result<()> {
        let start = self.output_position();
        let zip = self.zip.as_mut().ok_or_else(|| Error::io("the zip was already closed"))?;
        zip.write_all(&self.buf[..len]).map_err(|e| output_error(&e))?;
        let n = u64::try_from(len).unwrap_or(0);
        let size = self.entries.get(open.index).map(|p| p.size).unwrap_or(0);
        let last = open.offset.saturating_add(n) >= size;
        if open.outside {
            self.push_span(Span { index: open.index, start, end: start.saturating_add(n), last, file_bytes: size });
        } else if open.threaded {
            self.hash_on_thread(open.index, open.offset == 0, len, last)?;
        } else {
            open.hasher.update(&self.buf[..len]);
        }
        open.offset = open.offset.saturating_add(n);
        self.totals.bytes_done = self.totals.bytes_done.saturating_add(n);
        if open.why.is_none() {
            open.why = why;
        }
        for r in bad {
            let full = open.bad.len() >= MAX_RANGES;
            match open.bad.last_mut() {
                Some(last) if last.1 == r.0 => last.1 = r.1,
                _ if full => open.bad_dropped = open.bad_dropped.saturating_add(1),
                _ => open.bad.push(r),
            }
        }
        Ok(())
    }

    fn has_hash_thread(&self) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        return self.hash_thread.is_some();
        #[cfg(target_arch = "wasm32")]
        false
    }

    /// Hands the buffer's first `len` bytes to the hashing thread, taking
    /// an empty buffer for the next chunk.
    #[cfg(not(target_arch = "wasm32"))]
    fn hash_on_thread(&mut self, index: usize, first: bool, len: usize, last: bool) -> Result<()> {
        let Some(t) = self.hash_thread.as_mut() else {
            return Err(Error::io("the hashing thread is gone"));
        };
        let buf = std::mem::take(&mut self.buf);
        self.buf = t.hash(index, first, buf, len, last)?;
        if last {
            self.collect_digests(false)?;
        }
        Ok(())
    }

    #[cfg(target_arch = "wasm32")]
    fn hash_on_thread(&mut self, _index: usize, _first: bool, _len: usize, _last: bool) -> Result<()> {
        Err(Error::io("no hashing thread here"))
    }

    /// Stores the digests the hashing thread has sent back; with `all`,
    /// waits for every one still to come.
    fn collect_digests(&mut self, all: bool) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(t) = self.hash_thread.as_mut() {
            let got = if all { t.wait_all()? } else { t.digests() };
            for (index, digest) in got {
                if let Some(p) = self.entries.get_mut(index) {
                    if !matches!(p.status, Status::Skipped(_)) {
                        p.sha256 = Some(digest);
                    }
                }
            }
        }
        let _ = all;
        Ok(())
    }

    fn push_span(&mut self, span: Span) {
        if let Some(o) = self.outside.as_mut() {
            match o.spans.back_mut() {
                Some(b) if b.index == span.index && b.end == span.start && !b.last => {
                    b.end = span.end;
                    b.last = span.last;
                }
                _ => o.spans.push_back(span),
            }
        }
    }

    fn continue_file(&mut self) -> Result<()> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let p = &self.entries[open.index];
        let (inode, size) = (p.inode, p.size);
        let utf8 = std::str::from_utf8(&p.name).is_ok();
        let left = size.saturating_sub(open.offset);
        if left == 0 {
            self.open = Some(open);
            return self.end_file();
        }
        let chunk = self.buf.len();
        let len = usize::try_from(left.min(chunk as u64)).unwrap_or(chunk);
        let (bad, why) = self.read_chunk(inode, open.offset, len);
        if !bad.is_empty() && !self.options.keep_partial && utf8 {
            // Unlist the entry begun: finish it short, drop it from the directory.
            let at = bad[0].0;
            let name = String::from_utf8_lossy(&self.entries[open.index].name).into_owned();
            let zip = self.zip.as_mut().ok_or_else(|| Error::io("the zip was already closed"))?;
            zip.hide_file(&name).map_err(|e| match e {
                zip::result::ZipError::Io(io) => output_error(&io),
                other => Error::io(format!("the zip writer failed: {other}")),
            })?;
            #[cfg(not(target_arch = "wasm32"))]
            if open.threaded {
                if let Some(t) = self.hash_thread.as_mut() {
                    t.close(open.index)?;
                }
            }
            if open.outside {
                // Its digest is not needed, but closes the caller's hash.
                let at = self.output_position();
                self.push_span(Span { index: open.index, start: at, end: at, last: true, file_bytes: size });
            }
            let why = why.unwrap_or_default();
            let status = format!(
                "unreadable from byte {at}: {why} (the {at} bytes before were written, then the entry was removed from the zip's list)"
            );
            self.totals.bytes_done = self.totals.bytes_done.saturating_add(size.saturating_sub(open.offset));
            self.totals.files_done = self.totals.files_done.saturating_add(1);
            self.set_status(open.index, Status::Skipped(status.into()));
            return Ok(());
        }
        self.write_chunk(&mut open, len, bad, why)?;
        self.open = Some(open);
        if self.open.as_ref().is_some_and(|o| o.offset >= size) {
            self.end_file()?;
        }
        Ok(())
    }

    fn end_file(&mut self) -> Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        self.totals.files_done = self.totals.files_done.saturating_add(1);
        let Some(p) = self.entries.get_mut(open.index) else {
            return Ok(());
        };
        if !open.outside && !open.threaded {
            p.sha256 = Some(open.hasher.finalize().into());
        }
        p.status = if open.bad.is_empty() {
            Status::Ok
        } else {
            let mut ranges: Vec<String> = open.bad.iter().map(|(s, e)| format!("{s}–{}", e.saturating_sub(1))).collect();
            if open.bad_dropped > 0 {
                ranges.push(format!("and {} more ranges", open.bad_dropped));
            }
            let why = open.why.unwrap_or_default();
            Status::Incomplete(format!("zeros at bytes {} because {why}", ranges.join(", ")).into())
        };
        Ok(())
    }

    /// Options for the report and manifest entries.
    fn own_options(&self) -> FullFileOptions<'static, 'static> {
        let now = self.options.now.unwrap_or_default();
        let mut o = FullFileOptions::default()
            .system(zip::System::Unix)
            .external_attributes(entry::external_attributes(FileKind::File, 0o644))
            .last_modified_time(entry::dos_time(now))
            .compression_method(if self.options.deflate { CompressionMethod::Deflated } else { CompressionMethod::Stored });
        if let Some(ut) = entry::extended_timestamp(now) {
            let _ = o.add_extra_field(entry::EXTENDED_TIMESTAMP_ID, ut, false);
        }
        o
    }

    fn start_manifest(&mut self) -> Result<()> {
        self.owners = Some(Owners::load(&*self.fs));
        let options = self.own_options().large_file(true);
        let name = self.manifest_name.clone();
        let zip = self.zip()?;
        zip.start_file(name, options).map_err(|e| Error::io(format!("writing the manifest failed: {e}")))?;
        zip.write_all(report::MANIFEST_HEADER.as_bytes()).map_err(|e| output_error(&e))?;
        self.state = State::Manifest { row: 0 };
        Ok(())
    }

    fn write_manifest(&mut self, mut row: usize, spent: &mut u64) -> Result<()> {
        let owners = self.owners.take().unwrap_or_default();
        let mut text = String::new();
        while row < self.entries.len() && text.len() < CHUNK_BYTES {
            text.push_str(&report::manifest_row(&self.entries[row], &owners));
            row = row.saturating_add(1);
        }
        self.owners = Some(owners);
        self.zip()?.write_all(text.as_bytes()).map_err(|e| output_error(&e))?;
        *spent = spent.saturating_add(u64::try_from(text.len()).unwrap_or(0)).saturating_add(ENTRY_COST);
        self.state = if row >= self.entries.len() { State::Report } else { State::Manifest { row } };
        Ok(())
    }

    fn summary(&self) -> Summary {
        let mut s = Summary { report_name: self.report_name.clone(), manifest_name: self.manifest_name.clone(), ..Summary::default() };
        for p in &self.entries {
            match (&p.status, p.kind) {
                (Status::Ok | Status::Implied, FileKind::Dir) => s.dirs = s.dirs.saturating_add(1),
                (Status::Ok, FileKind::Symlink) => s.symlinks = s.symlinks.saturating_add(1),
                (Status::Ok, FileKind::File) => {
                    s.files_ok = s.files_ok.saturating_add(1);
                    s.bytes_ok = s.bytes_ok.saturating_add(p.size);
                    if p.same_as.is_some() {
                        s.hard_links = s.hard_links.saturating_add(1);
                    }
                }
                (Status::Incomplete(_), _) => s.files_incomplete = s.files_incomplete.saturating_add(1),
                (_, FileKind::CharDevice | FileKind::BlockDevice | FileKind::Fifo | FileKind::Socket) => s.specials = s.specials.saturating_add(1),
                (Status::Skipped(_) | Status::Pending, _) => s.skipped = s.skipped.saturating_add(1),
                _ => {}
            }
            if matches!(p.status, Status::Ok | Status::Incomplete(_)) {
                s.entries_written = s.entries_written.saturating_add(1);
            }
        }
        s.walk_problems = u64::try_from(self.walk.problems.len().saturating_add(self.walk.problems_dropped)).unwrap_or(u64::MAX);
        s
    }

    fn write_report(&mut self) -> Result<()> {
        let info = self.fs.info();
        let mut filesystem = info.format.clone();
        if let Some(l) = &info.label {
            filesystem.push_str(&format!(", label \"{l}\""));
        }
        if let Some(u) = &info.uuid {
            filesystem.push_str(&format!(", UUID {u}"));
        }
        let journal = info
            .details
            .iter()
            .find(|(k, _)| k == "journal")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "none reported by the filesystem (not replayed)".into());
        let summary = self.summary();
        let heading = report::Heading {
            image: &self.about.image,
            volume: &self.about.volume,
            filesystem: &filesystem,
            journal: &journal,
            selection: &self.selection,
            root: &self.walk.root,
            written: self.options.now.map(|t| t.iso8601()),
            manifest_name: &self.manifest_name,
            deflate: self.options.deflate,
            keep_partial: self.options.keep_partial,
            owners_found: self.owners.as_ref().is_some_and(|o| !o.is_empty()),
        };
        let mut text = report::report(&heading, &self.entries, &self.walk.problems, self.walk.problems_dropped, &self.totals, &summary);
        // What restoring the selection needs on a new server (database
        // versions, owners, the accounts' passwd lines), when the volume
        // is a Linux root.
        let owners = self.entries.iter().map(|e| (e.uid, e.gid));
        text.push_str(&crate::inventory::hints_section(&crate::inventory::restore_hints(self.fs.clone(), &self.selection, owners)));
        let options = self.own_options().large_file(text.len() as u64 >= LARGE_FILE_BYTES);
        let name = self.report_name.clone();
        let zip = self.zip()?;
        zip.start_file(name, options).map_err(|e| Error::io(format!("writing the report failed: {e}")))?;
        zip.write_all(text.as_bytes()).map_err(|e| output_error(&e))?;
        self.state = State::Done;
        Ok(())
    }

    /// Writes the zip's central directory and returns the writer and the
    /// summary. Call after a step reported `done`; before that it refuses.
    pub fn finish(mut self) -> Result<(W, Summary)> {
        if !matches!(self.state, State::Done) {
            return Err(Error::invalid("the export is not finished; call step until it reports done"));
        }
        let mut summary = self.summary();
        let zip = self.zip.take().ok_or_else(|| Error::io("the zip was already closed"))?;
        let stream = zip.finish().map_err(|e| Error::io(format!("writing the end of the zip failed: {e}")))?;
        let mut counting = stream.into_inner().into_inner().map_err(|e| output_error(e.error()))?;
        counting.finish().map_err(|e| output_error(&e))?;
        summary.archive_bytes = counting.bytes;
        let mut inner = counting.inner;
        inner.flush().map_err(|e| output_error(&e))?;
        Ok((inner, summary))
    }

    /// The entry list so far (for the page's own listing of results).
    pub fn totals(&self) -> &Totals {
        &self.totals
    }
}

/// Fills `buf` from `offset`; fewer bytes only at the file's end.
fn read_full(fs: &dyn FileSystem, inode: u64, offset: u64, buf: &mut [u8]) -> Result<usize> {
    let mut done = 0usize;
    while done < buf.len() {
        let at = offset.saturating_add(u64::try_from(done).unwrap_or(0));
        let n = fs.read_at(inode, at, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        // A reader claiming more than it was given can't push us past the buffer.
        done = done.saturating_add(n).min(buf.len());
    }
    Ok(done)
}

/// `wanted`, or `SALVAGE-wanted` etc. when the selection has that name at its top.
fn free_name(taken: &std::collections::HashSet<Vec<u8>>, wanted: &str) -> String {
    let mut name = wanted.to_string();
    while taken.contains(name.as_bytes()) {
        name = format!("SALVAGE-{name}");
    }
    name
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::fs::{DirEntry, DirIter, FsInfo, Metadata};
    use std::io::Read;

    const SIZE: u64 = 3 << 20;
    const BAD: (u64, u64) = (1_572_864, 1_576_960);

    /// A root folder with `a.bin` (3 MiB, one unreadable 4 KiB block in
    /// the middle) and `b.txt`.
    struct MockFs;

    fn byte_at(i: u64) -> u8 {
        u8::try_from(i % 251).unwrap()
    }

    impl FileSystem for MockFs {
        fn info(&self) -> FsInfo {
            FsInfo { format: "mock".into(), ..FsInfo::default() }
        }
        fn root(&self) -> u64 {
            1
        }
        fn stat(&self, inode: u64) -> Result<Metadata> {
            let (kind, size) = match inode {
                1 => (FileKind::Dir, 0),
                2 => (FileKind::File, SIZE),
                3 => (FileKind::File, 3),
                _ => return Err(Error::not_found("no inode")),
            };
            Ok(Metadata {
                inode,
                kind,
                mode: 0o644,
                uid: 7,
                gid: 8,
                size,
                nlink: 1,
                atime: Timestamp::default(),
                mtime: Timestamp { secs: 1_000_000_000, nanos: 5 },
                ctime: Timestamp::default(),
                crtime: None,
                rdev: None,
                flags: 0,
                problems: Vec::new(),
            })
        }
        fn read_dir(&self, _inode: u64) -> Result<DirIter<'_>> {
            let e = |name: &[u8], inode| Ok(DirEntry { name: name.to_vec(), inode, kind: None });
            Ok(Box::new(vec![e(b"a.bin", 2), e(b"b.txt", 3)].into_iter()))
        }
        fn read_at(&self, inode: u64, offset: u64, buf: &mut [u8]) -> Result<usize> {
            let size = if inode == 2 { SIZE } else { 3 };
            let n = usize::try_from(size.saturating_sub(offset)).unwrap().min(buf.len());
            let end = offset + n as u64;
            if inode == 2 && offset < BAD.1 && end > BAD.0 {
                return Err(Error::corrupt("bad block").at_offset(BAD.0));
            }
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = byte_at(offset + i as u64);
            }
            Ok(n)
        }
        fn read_link(&self, _inode: u64) -> Result<Vec<u8>> {
            Err(Error::not_found("no links"))
        }
    }

    /// A root folder of 70,000 empty files.
    struct ManyFs;

    impl FileSystem for ManyFs {
        fn info(&self) -> FsInfo {
            FsInfo::default()
        }
        fn root(&self) -> u64 {
            1
        }
        fn stat(&self, inode: u64) -> Result<Metadata> {
            let mut m = MockFs.stat(3)?;
            m.inode = inode;
            m.size = 0;
            m.kind = if inode == 1 { FileKind::Dir } else { FileKind::File };
            Ok(m)
        }
        fn read_dir(&self, _inode: u64) -> Result<DirIter<'_>> {
            Ok(Box::new((0..70_000u64).map(|i| Ok(DirEntry { name: format!("f{i:05}").into_bytes(), inode: i + 2, kind: None }))))
        }
        fn read_at(&self, _inode: u64, _offset: u64, _buf: &mut [u8]) -> Result<usize> {
            Ok(0)
        }
        fn read_link(&self, _inode: u64) -> Result<Vec<u8>> {
            Err(Error::not_found("no links"))
        }
    }

    #[test]
    fn one_folder_of_70000_files_gives_a_zip64_directory() {
        let mut job = Export::new(Rc::new(ManyFs), About::default(), &[b"/".to_vec()], ExportOptions::default(), Vec::new());
        let first = job.step(1 << 20).unwrap();
        assert_eq!(first.phase, Phase::Counting, "the walk is cut into steps too");
        while !job.step(64 << 20).unwrap().done {}
        let (bytes, summary) = job.finish().unwrap();
        assert_eq!(summary.files_ok, 70_000);
        let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice())).unwrap();
        assert_eq!(zip.len(), 70_002);
        assert!(bytes.windows(4).any(|w| w == b"PK\x06\x06"), "a ZIP64 end record");
    }

    fn run(keep_partial: bool) -> (Vec<u8>, Summary, usize) {
        let options = ExportOptions { keep_partial, ..ExportOptions::default() };
        let mut job = Export::new(Rc::new(MockFs), About::default(), &[b"/".to_vec()], options, Vec::new());
        let mut steps = 0;
        while !job.step(1 << 20).unwrap().done {
            steps += 1;
            assert!(steps < 100);
        }
        let (bytes, summary) = job.finish().unwrap();
        (bytes, summary, steps)
    }

    fn read(zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    /// The caller's side of [`Export::hash_outside`]: takes the output
    /// after each step, hashes the spans, gives the digests back.
    fn run_outside(keep_partial: bool, chunk_bytes: usize, outside: bool) -> (Vec<u8>, Summary) {
        #[derive(Clone, Default)]
        struct Shared(Rc<std::cell::RefCell<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.borrow_mut().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Shared::default();
        let options = ExportOptions { keep_partial, ..ExportOptions::default() };
        let mut job = Export::new(Rc::new(MockFs), About::default(), &[b"/".to_vec()], options, out.clone());
        if outside {
            job.hash_outside().unwrap();
        }
        job.set_chunk_bytes(chunk_bytes).unwrap();
        let mut hashers: std::collections::HashMap<usize, Sha256> = Default::default();
        let mut ready = Vec::new();
        let mut taken = 0;
        let mut waited = 0;
        for _ in 0..1000 {
            for (i, d) in ready.drain(..) {
                job.set_sha256(i, d);
            }
            let p = job.step(1 << 20).unwrap();
            waited += usize::from(job.waiting_for_digests());
            let all = out.0.borrow();
            let chunk = &all[taken..];
            for sp in job.take_spans() {
                let h = hashers.entry(sp.index).or_default();
                h.update(&chunk[sp.start as usize..sp.end as usize]);
                if sp.last {
                    ready.push((sp.index, hashers.remove(&sp.index).unwrap().finalize().into()));
                }
            }
            taken = all.len();
            if p.done {
                break;
            }
        }
        assert!(hashers.is_empty(), "every hash was closed");
        assert_eq!(waited > 0, outside, "the manifest waited for the last digest");
        let (_, summary) = job.finish().unwrap();
        let bytes = out.0.borrow().clone();
        (bytes, summary)
    }

    #[test]
    fn digests_computed_outside_give_the_same_zip() {
        for keep_partial in [false, true] {
            for chunk in [64 << 10, 1 << 20, 16 << 20] {
                let (inside, _) = run_outside(keep_partial, chunk, false);
                let (outside, _) = run_outside(keep_partial, chunk, true);
                assert!(inside == outside, "keep_partial {keep_partial}, chunk {chunk}: the zips differ");
            }
        }
    }

    #[test]
    fn a_file_failing_midway_is_unlisted_without_partial() {
        let (bytes, summary, steps) = run(false);
        assert!(steps >= 3, "1 MiB budgets split a 3 MiB export, took {steps} steps");
        assert_eq!((summary.files_ok, summary.skipped, summary.files_incomplete), (1, 1, 0));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice())).unwrap();
        assert!(zip.by_name("a.bin").is_err());
        assert_eq!(read(&mut zip, "b.txt"), [0, 1, 2]);
        let report = String::from_utf8(read(&mut zip, "SALVAGE-REPORT.txt")).unwrap();
        assert!(report.contains("a.bin: unreadable from byte 1572864"), "{report}");
        let manifest = String::from_utf8(read(&mut zip, "manifest.csv")).unwrap();
        assert!(manifest.contains("a.bin,file,3145728,0644,7,8,,,2001-09-09T01:46:40.000000005Z,,\"skipped: unreadable from byte 1572864"), "{manifest}");
    }

    #[test]
    fn partial_keeps_zeros_in_the_bad_block_only() {
        let (bytes, summary, _) = run(true);
        assert_eq!((summary.files_ok, summary.skipped, summary.files_incomplete), (1, 0, 1));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice())).unwrap();
        let a = read(&mut zip, "a.bin");
        assert_eq!(a.len() as u64, SIZE);
        for (i, b) in a.iter().enumerate() {
            let i = i as u64;
            let expected = if (BAD.0..BAD.1).contains(&i) { 0 } else { byte_at(i) };
            assert_eq!(*b, expected, "byte {i}");
        }
        let manifest = String::from_utf8(read(&mut zip, "manifest.csv")).unwrap();
        assert!(manifest.contains("incomplete: zeros at bytes 1572864–1576959 because byte 0x180000: bad block"), "{manifest}");
    }
}
