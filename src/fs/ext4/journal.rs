//! Journal recovery, in memory: which filesystem blocks the journal's
//! committed transactions change, and where their newest copies are.
//!
//! Follows Documentation/filesystems/ext4/journal.rst and the three passes
//! of the kernel's recovery: a scan from `s_start`/`s_sequence` (wrapping
//! around the circular log) finds the last transaction with a valid commit
//! block; a revoke pass collects revoke records; a replay pass records, for
//! every logged block that no later revoke cancels, the location of its
//! newest copy. Nothing is written and no block contents are kept: the
//! result is a map from filesystem block to journal location, which
//! [`super::overlay`] serves reads from.
//!
//! Deviations, all toward showing more rather than failing: a damaged
//! transaction (bad descriptor, revoke or commit checksum, a block that
//! can't be read) ends the replay before it, where the kernel would refuse
//! to mount; a logged block whose own checksum fails, or that points past
//! the filesystem, is skipped with a problem. Fast-commit blocks are not
//! replayed (reported). The journal is read through the reader's own inode
//! machinery, or the superblock's backup of its block map.

use std::collections::{BTreeMap, HashMap};

use super::file_map::Run;
use super::jbd2::{self, JournalCsum, JournalSuperblock};
use super::superblock::{self, SbJournal};
use super::{Ext4Fs, Mapping};
use crate::error::{Error, Result};

/// Most distinct blocks a replay may change (about 40 bytes each).
const MAX_REPLAYED_BLOCKS: usize = 1 << 21;
/// Most revoke records kept.
const MAX_REVOKE_RECORDS: usize = 1 << 21;
/// Problems of one kind listed before they are only counted.
const MAX_LISTED: usize = 5;

/// Where the newest copy of a replayed block lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JournalCopy {
    /// The filesystem block holding the copy (inside the journal).
    pub at_block: u64,
    /// The copy's first four bytes were the journal magic and were zeroed
    /// when logged (JBD2_FLAG_ESCAPE): restore them when reading.
    pub escaped: bool,
}

/// What opening the journal found and decided.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The `info()` "journal" line.
    pub line: Option<String>,
    pub problems: Vec<String>,
    /// Blocks to serve from the journal; `None` when nothing is replayed.
    pub replay: Option<BTreeMap<u64, JournalCopy>>,
}

/// Looks at the journal and, when the filesystem needs recovery and
/// `replay` is on, works out the replay.
pub(crate) fn recover(fs: &Ext4Fs, sbj: &SbJournal, replay: bool) -> Outcome {
    let sb = &fs.sb;
    let has_journal = sb.has_compat(superblock::COMPAT_HAS_JOURNAL);
    let needs_recovery = sb.has_incompat(superblock::INCOMPAT_RECOVER);
    let mut out = Outcome::default();
    if sb.has_incompat(superblock::INCOMPAT_JOURNAL_DEV) {
        out.line = Some("this volume is an external journal device, not a filesystem with files".into());
        return out;
    }
    if !has_journal {
        if needs_recovery {
            out.line = Some("needs recovery, but the filesystem has no journal".into());
            out.problems.push("the superblock says the journal needs recovery but there is no journal".into());
        }
        return out;
    }
    if sbj.s_journal_inum == 0 {
        let uuid = uuid_string(&sbj.s_journal_uuid);
        out.line = Some(format!(
            "external journal device {uuid} (device number {:#x}): not available, not replayed",
            sbj.s_journal_dev
        ));
        if needs_recovery {
            out.problems.push(
                "the journal is on another device, which is not available; recent changes in it were not replayed".into(),
            );
        }
        return out;
    }
    if !needs_recovery {
        out.line = Some("clean".into());
        return out;
    }
    if !replay {
        out.line = Some("needs recovery, not replayed (--no-journal)".into());
        out.problems.push("the journal needs recovery; replay is turned off, so recent changes in it are not shown".into());
        return out;
    }
    match replay_journal(fs, sbj, &mut out.problems) {
        Ok((line, map)) => {
            out.line = Some(line);
            out.replay = Some(map).filter(|m| !m.is_empty());
        }
        Err(e) => {
            out.line = Some("needs recovery, unreadable, not replayed".into());
            out.problems.push(format!("journal unreadable: {e}; showing the filesystem without replay"));
        }
    }
    out
}

fn uuid_string(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    let part = |a: usize, b: usize| h.get(a..b).unwrap_or("");
    format!("{}-{}-{}-{}-{}", part(0, 8), part(8, 12), part(12, 16), part(16, 20), part(20, 32))
}

/// The journal as a sequence of blocks, mapped through its inode.
struct JournalFile<'a> {
    fs: &'a Ext4Fs,
    map: Mapping,
    /// Blocks the inode's size covers.
    size_blocks: u64,
    last: std::cell::Cell<Option<Run>>,
}

impl<'a> JournalFile<'a> {
    /// Opens the journal through its inode or, when that fails or gives no
    /// readable journal superblock, through the superblock's backup of
    /// the inode's i_block.
    fn open(fs: &'a Ext4Fs, sbj: &SbJournal, problems: &mut Vec<String>) -> Result<(JournalFile<'a>, JournalSuperblock)> {
        let ino = u64::from(sbj.s_journal_inum);
        let loaded = fs.loaded(ino);
        let inode_i_block = loaded.as_ref().ok().map(|l| l.inode.i_block);
        let from_inode = loaded
            .and_then(|l| match &l.map {
                Mapping::Inline(_) => Err(Error::corrupt("the journal inode holds inline data, not blocks")),
                Mapping::Extents(e) => Ok(JournalFile::new(fs, Mapping::Extents(e.clone()), l.inode.size)),
                Mapping::BlockMap(p) => Ok(JournalFile::new(fs, Mapping::BlockMap(*p), l.inode.size)),
            })
            .and_then(|jf| jf.superblock().map(|sb| (jf, sb)));
        let e = match from_inode {
            Ok(found) => return Ok(found),
            Err(e) => e,
        };
        let Some((i_block, size)) = sbj.backup.as_ref().filter(|(b, _)| Some(*b) != inode_i_block) else {
            // No backup, or one saying the same as the inode: the journal
            // itself is damaged.
            return Err(e);
        };
        let map = if crate::bytes::le16(i_block, 0) == 0xF30A {
            let read = |n: u64| fs.read_block(n);
            Mapping::Extents(super::extent::collect_extents(i_block, &read).map_err(|e2| {
                e2.context(format!("journal inode {ino} is unreadable ({e}), and so is the superblock's backup of its extent tree"))
            })?)
        } else {
            Mapping::BlockMap(super::block_map::root_pointers(i_block))
        };
        let jf = JournalFile::new(fs, map, *size);
        let sb = jf.superblock().map_err(|e2| {
            e2.context(format!("journal inode {ino} is unreadable ({e}), and through the superblock's backup of its block map"))
        })?;
        problems.push(format!("the journal inode {ino} is unreadable ({e}); used the superblock's backup of its block map"));
        Ok((jf, sb))
    }

    fn new(fs: &'a Ext4Fs, map: Mapping, size_bytes: u64) -> JournalFile<'a> {
        let size_blocks = size_bytes.checked_div(fs.block_size()).unwrap_or(0);
        JournalFile { fs, map, size_blocks, last: std::cell::Cell::new(None) }
    }

    /// Reads and checks the journal superblock against the inode's size
    /// and the filesystem's.
    fn superblock(&self) -> Result<JournalSuperblock> {
        let first = self.read(0).map_err(|e| e.context("reading the journal superblock"))?;
        let sb = JournalSuperblock::from_bytes(&first, self.fs.sb.block_size)?;
        if u64::from(sb.s_maxlen) > self.size_blocks {
            return Err(Error::corrupt(format!(
                "the journal claims {} blocks but its inode holds {}",
                sb.s_maxlen, self.size_blocks
            )));
        }
        if u64::from(sb.s_maxlen) > self.fs.sb.blocks_count {
            return Err(Error::corrupt(format!(
                "the journal claims {} blocks, more than the filesystem's {}",
                sb.s_maxlen, self.fs.sb.blocks_count
            )));
        }
        Ok(sb)
    }

    /// The filesystem block holding journal block `n`.
    fn physical(&self, n: u64) -> Result<u64> {
        let run = match self.last.get() {
            Some(r) if n >= r.logical && n.saturating_sub(r.logical) < r.len => r,
            _ => {
                let r = self.fs.run_at(&self.map, n)?;
                self.last.set(Some(r));
                r
            }
        };
        let p = run.physical.ok_or_else(|| Error::corrupt(format!("journal block {n} is a hole in the journal inode")))?;
        let p = p.saturating_add(n.saturating_sub(run.logical));
        if p >= self.fs.sb.blocks_count {
            return Err(Error::corrupt(format!("journal block {n} maps to block {p}, past the end of the filesystem")));
        }
        Ok(p)
    }

    fn read(&self, n: u64) -> Result<Vec<u8>> {
        self.fs.read_block(self.physical(n)?).map_err(|e| e.context(format!("reading journal block {n}")))
    }
}

/// Counts problems of one kind, keeping the first few sentences.
#[derive(Default)]
struct Tally {
    count: u64,
    listed: Vec<String>,
}

impl Tally {
    fn add(&mut self, sentence: impl FnOnce() -> String) {
        self.count = self.count.saturating_add(1);
        if self.listed.len() < MAX_LISTED {
            self.listed.push(sentence());
        }
    }
    fn flush(self, what: &str, problems: &mut Vec<String>) {
        let more = self.count.saturating_sub(self.listed.len() as u64);
        problems.extend(self.listed);
        if more > 0 {
            problems.push(format!("{more} more {what}"));
        }
    }
}

/// The circular log: next block after `n`, wrapping to `s_first`.
fn next_block(sb: &JournalSuperblock, n: u64, step: u64) -> u64 {
    let first = u64::from(sb.s_first);
    let span = u64::from(sb.log_end).saturating_sub(first).max(1);
    // n is inside [first, log_end) and span > 0.
    #[allow(clippy::arithmetic_side_effects)]
    let r = first + (n.saturating_sub(first).saturating_add(step % span)) % span;
    r
}

/// What one walk over the log is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Scan,
    Revoke,
    Replay,
}

struct Recovery<'a> {
    jf: JournalFile<'a>,
    sb: JournalSuperblock,
    /// First transaction not replayed (set by the scan).
    end_seq: u32,
    /// Newest transaction revoking each filesystem block.
    revoked: HashMap<u64, u32>,
    map: BTreeMap<u64, JournalCopy>,
    transactions: u64,
    skipped_revoked: u64,
    bad_data: Tally,
    outside: Tally,
    unreadable: Tally,
}

/// Runs the three passes; returns the info line and the replay map.
fn replay_journal(fs: &Ext4Fs, sbj: &SbJournal, problems: &mut Vec<String>) -> Result<(String, BTreeMap<u64, JournalCopy>)> {
    let (jf, sb) = JournalFile::open(fs, sbj, problems)?;
    if sb.s_start == 0 {
        return Ok((format!("clean (nothing to replay; journal {})", sb.describe()), BTreeMap::new()));
    }
    if sb.fast_commit() {
        problems.push("the journal has fast-commit blocks; those are not replayed, only full transactions".into());
    }
    let mut r = Recovery {
        jf,
        end_seq: sb.s_sequence,
        sb,
        revoked: HashMap::new(),
        map: BTreeMap::new(),
        transactions: 0,
        skipped_revoked: 0,
        bad_data: Tally::default(),
        outside: Tally::default(),
        unreadable: Tally::default(),
    };
    r.walk(Pass::Scan, problems);
    r.walk(Pass::Revoke, problems);
    r.walk(Pass::Replay, problems);
    r.bad_data.flush("logged blocks failed their checksums and were skipped", problems);
    r.outside.flush("logged blocks pointed past the end of the filesystem and were skipped", problems);
    r.unreadable.flush("logged blocks could not be read and were skipped", problems);
    let first = r.sb.s_sequence;
    let line = if r.transactions == 0 {
        format!("needs recovery, but no complete transaction was found; nothing replayed (journal {})", r.sb.describe())
    } else {
        let last = r.end_seq.wrapping_sub(1);
        let range = if r.transactions == 1 { format!("sequence {first}") } else { format!("sequence {first}–{last}") };
        let mut line = format!(
            "replayed {} transaction{} ({range}), {} block{} changed",
            r.transactions,
            if r.transactions == 1 { "" } else { "s" },
            r.map.len(),
            if r.map.len() == 1 { "" } else { "s" }
        );
        if r.skipped_revoked > 0 {
            line.push_str(&format!(", {} revoked", r.skipped_revoked));
        }
        line.push_str(&format!(" (journal {})", r.sb.describe()));
        line
    };
    Ok((line, r.map))
}

impl Recovery<'_> {
    /// One walk over the log from `s_start`. The scan sets `end_seq` and
    /// `transactions`; later passes stop at `end_seq`.
    fn walk(&mut self, pass: Pass, problems: &mut Vec<String>) {
        let sb = self.sb.clone();
        let mut seq = sb.s_sequence;
        let mut pos = u64::from(sb.s_start);
        let log_blocks = u64::from(sb.log_end.saturating_sub(sb.s_first));
        let mut walked = 0u64;
        let mut last_commit_sec = 0u64;
        // Checksum v1: crc32 of the current transaction's blocks.
        let mut crc = !0u32;
        loop {
            if pass != Pass::Scan && seq == self.end_seq {
                break;
            }
            if walked > log_blocks {
                if pass == Pass::Scan {
                    problems.push(format!(
                        "the journal log runs longer than the journal ({log_blocks} blocks); replay stops at transaction {seq}"
                    ));
                }
                break;
            }
            let at = pos;
            let block = match self.jf.read(at) {
                Ok(b) => b,
                Err(e) => {
                    if pass == Pass::Scan {
                        problems.push(format!("{e}; replay stops before transaction {seq}"));
                    }
                    break;
                }
            };
            let Some((blocktype, h_sequence)) = jbd2::header(&block) else { break };
            if h_sequence != seq {
                break;
            }
            walked = walked.saturating_add(1);
            pos = next_block(&sb, pos, 1);
            match blocktype {
                jbd2::DESCRIPTOR_BLOCK => {
                    if pass == Pass::Scan && !jbd2::tail_ok(&sb, &block) {
                        problems.push(format!(
                            "transaction {seq}: descriptor block checksum mismatch at journal block {at}; replay stops before it"
                        ));
                        break;
                    }
                    let tags = jbd2::descriptor_tags(&sb, &block);
                    if pass == Pass::Scan && sb.csum == JournalCsum::V1 {
                        crc = jbd2::crc32_be(crc, &block);
                        let mut p = pos;
                        for _ in &tags {
                            if let Ok(d) = self.jf.read(p) {
                                crc = jbd2::crc32_be(crc, &d);
                            }
                            p = next_block(&sb, p, 1);
                        }
                    }
                    if pass == Pass::Replay {
                        let mut p = pos;
                        for tag in &tags {
                            if self.replay_tag(tag, seq, p).is_err() {
                                // Too many blocks: stop here, keeping what we have.
                                problems.push(format!(
                                    "the journal changes more than {MAX_REPLAYED_BLOCKS} blocks; replay stops in transaction {seq}"
                                ));
                                return;
                            }
                            p = next_block(&sb, p, 1);
                        }
                    }
                    let n = tags.len() as u64;
                    walked = walked.saturating_add(n);
                    pos = next_block(&sb, pos, n);
                }
                jbd2::COMMIT_BLOCK => {
                    if pass == Pass::Scan {
                        let c = jbd2::commit(&sb, &block);
                        let crc_ok = c.crc32.is_none_or(|want| want == crc);
                        if !c.csum_ok || !crc_ok {
                            // An older commit time means a stale block from
                            // an earlier pass over the log: the log's end.
                            if c.commit_sec >= last_commit_sec {
                                problems.push(format!(
                                    "transaction {seq}: commit block checksum mismatch at journal block {at}; replay stops before it"
                                ));
                            }
                            break;
                        }
                        last_commit_sec = c.commit_sec;
                        self.transactions = self.transactions.saturating_add(1);
                    }
                    crc = !0;
                    seq = seq.wrapping_add(1);
                }
                jbd2::REVOKE_BLOCK => {
                    if pass == Pass::Scan {
                        if !jbd2::tail_ok(&sb, &block) {
                            problems.push(format!(
                                "transaction {seq}: revoke block checksum mismatch at journal block {at}; replay stops before it"
                            ));
                            break;
                        }
                        if let Err(e) = jbd2::revoke_records(&sb, &block) {
                            problems.push(format!("transaction {seq}: {e} (journal block {at}); replay stops before it"));
                            break;
                        }
                    }
                    if pass == Pass::Revoke {
                        for b in jbd2::revoke_records(&sb, &block).unwrap_or_default() {
                            let newest = self.revoked.get(&b).map_or(seq, |s| newer(*s, seq));
                            if self.revoked.len() >= MAX_REVOKE_RECORDS && !self.revoked.contains_key(&b) {
                                problems.push(format!(
                                    "the journal revokes more than {MAX_REVOKE_RECORDS} blocks; replay stops before transaction {seq}"
                                ));
                                self.end_seq = seq;
                                return;
                            }
                            self.revoked.insert(b, newest);
                        }
                    }
                }
                _ => break,
            }
        }
        if pass == Pass::Scan {
            self.end_seq = seq;
        }
    }

    /// Records one logged block, unless revoked or damaged. Fails only when
    /// the map is full.
    fn replay_tag(&mut self, tag: &jbd2::Tag, seq: u32, at: u64) -> Result<()> {
        if self.revoked.get(&tag.fs_block).is_some_and(|r| !is_after(seq, *r)) {
            self.skipped_revoked = self.skipped_revoked.saturating_add(1);
            return Ok(());
        }
        let blocks = self.jf.fs.sb.blocks_count;
        if tag.fs_block >= blocks {
            let b = tag.fs_block;
            self.outside.add(|| format!("transaction {seq}: logged block {b} is past the end of the filesystem ({blocks} blocks); skipped"));
            return Ok(());
        }
        let physical = match self.jf.physical(at) {
            Ok(p) => p,
            Err(e) => {
                self.unreadable.add(|| format!("transaction {seq}: {e}; skipped"));
                return Ok(());
            }
        };
        if matches!(self.sb.csum, JournalCsum::V2 | JournalCsum::V3) {
            match self.jf.fs.read_block(physical) {
                Ok(data) if jbd2::data_ok(&self.sb, tag, seq, &data) => {}
                Ok(_) => {
                    let b = tag.fs_block;
                    self.bad_data.add(|| {
                        format!("transaction {seq}: the copy of block {b} at journal block {at} fails its checksum; skipped")
                    });
                    return Ok(());
                }
                Err(e) => {
                    self.unreadable.add(|| format!("transaction {seq}: {e}; skipped"));
                    return Ok(());
                }
            }
        }
        if self.map.len() >= MAX_REPLAYED_BLOCKS && !self.map.contains_key(&tag.fs_block) {
            return Err(Error::unsupported("too many replayed blocks"));
        }
        self.map.insert(tag.fs_block, JournalCopy { at_block: physical, escaped: tag.flags & jbd2::FLAG_ESCAPE != 0 });
        Ok(())
    }
}

/// Whether transaction `a` comes after `b`, with wrap-around (tid_gt).
fn is_after(a: u32, b: u32) -> bool {
    // Reinterpreting the difference as signed is the point.
    #[allow(clippy::cast_possible_wrap)]
    let d = a.wrapping_sub(b) as i32;
    d > 0
}

fn newer(a: u32, b: u32) -> u32 {
    if is_after(b, a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_wrap() {
        assert!(is_after(5, 4));
        assert!(!is_after(4, 4));
        assert!(is_after(1, u32::MAX));
        assert_eq!(newer(u32::MAX, 2), 2);
        assert_eq!(newer(7, 3), 7);
    }

    #[test]
    fn the_log_wraps_to_its_first_block() {
        let mut b = vec![0u8; 1024];
        b[0..4].copy_from_slice(&jbd2::JBD2_MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&4u32.to_be_bytes());
        b[0xC..0x10].copy_from_slice(&1024u32.to_be_bytes());
        b[0x10..0x14].copy_from_slice(&100u32.to_be_bytes());
        b[0x14..0x18].copy_from_slice(&1u32.to_be_bytes());
        let sb = JournalSuperblock::from_bytes(&b, 1024).unwrap();
        assert_eq!(next_block(&sb, 98, 1), 99);
        assert_eq!(next_block(&sb, 99, 1), 1);
        assert_eq!(next_block(&sb, 98, 5), 4);
        assert_eq!(next_block(&sb, 50, 99 * 3), 50);
    }

    #[test]
    fn uuids_print_in_groups() {
        let mut u = [0u8; 16];
        u[0] = 0xab;
        u[15] = 0x01;
        assert_eq!(uuid_string(&u), "ab000000-0000-0000-0000-000000000001");
    }
}
