//! What the page's file manager needs beyond one listing: a directory's
//! names read and sorted once and turned into [`Entry`] records page by
//! page ([`DirPages`]), a name search over a whole volume ([`NameSearch`],
//! substring or glob `*?[]`) and the size of folders ([`TreeSize`]).
//!
//! The two walks go in steps: each `step(budget)` reads about `budget`
//! directory entries (a directory is read whole once started) and returns,
//! so the browser worker can go back to its event loop between steps. Both
//! keep a visited set of directory inodes and a depth limit, so a damaged
//! filesystem whose directories loop can't keep them going forever.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::fs::{FileKind, FileSystem};
use crate::path::{escape, join};

use super::{dir_problem, entry_at, Entry};

/// Deepest folder the walks enter (PATH_MAX allows ~2048 levels).
const MAX_DEPTH: usize = 2048;
/// Problems kept per walk; more are only counted.
const MAX_PROBLEMS: usize = 100;

enum Item {
    Named { escaped: String, raw: Vec<u8>, inode: u64 },
    /// A part of the directory that could not be read, as a sentence.
    Problem(String),
}

/// One directory's names, sorted like [`super::Image::list`]; the slow
/// part (reading each inode) happens per page in [`DirPages::entries`].
pub struct DirPages {
    path: Vec<u8>,
    items: Vec<Item>,
}

impl DirPages {
    /// Reads the names of directory `path` (raw bytes).
    pub fn read(fs: &dyn FileSystem, path: &[u8]) -> Result<DirPages> {
        let dir = fs.resolve(path)?;
        let meta = fs.stat(dir)?;
        if meta.kind != FileKind::Dir {
            return Err(Error::invalid(format!("{} is not a folder", escape(path))));
        }
        let mut items = Vec::new();
        for item in fs.read_dir(dir)? {
            items.push(match item {
                Ok(d) => Item::Named { escaped: escape(&d.name), raw: d.name, inode: d.inode },
                Err(e) => Item::Problem(dir_problem(&e)),
            });
        }
        // Problems have no name and sort first, as in Image::list.
        items.sort_by(|a, b| match (a, b) {
            (Item::Named { escaped: x, .. }, Item::Named { escaped: y, .. }) => x.cmp(y),
            (Item::Problem(_), Item::Named { .. }) => std::cmp::Ordering::Less,
            (Item::Named { .. }, Item::Problem(_)) => std::cmp::Ordering::Greater,
            (Item::Problem(_), Item::Problem(_)) => std::cmp::Ordering::Equal,
        });
        Ok(DirPages { path: path.to_vec(), items })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Records of entries `start..start + count` (fewer at the end).
    pub fn entries(&self, fs: &dyn FileSystem, start: usize, count: usize) -> Vec<Entry> {
        let end = start.saturating_add(count).min(self.items.len());
        let slice = self.items.get(start..end).unwrap_or(&[]);
        slice
            .iter()
            .map(|item| match item {
                Item::Named { raw, inode, .. } => entry_at(fs, &join(&self.path, raw), raw, *inode),
                Item::Problem(p) => Entry::unreadable(escape(&self.path), String::new(), 0, p.clone()),
            })
            .collect()
    }
}

// ---- name patterns ---------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `?`: one character (a UTF-8 sequence, or one stray byte).
    One,
    /// `*`: any run, empty too.
    Any,
    /// `[…]` / `[!…]` / `[^…]`: inclusive byte ranges.
    Class { negate: bool, ranges: Vec<(u8, u8)> },
}

/// What the user typed to search names: a glob when it holds `*`, `?` or
/// `[`, matched against the whole name; else a substring. Both ignore
/// ASCII case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamePattern(Pattern);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Substring(Vec<u8>),
    Glob(Vec<Token>),
}

impl NamePattern {
    pub fn new(pattern: &[u8]) -> NamePattern {
        let lower = pattern.to_ascii_lowercase();
        if lower.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            NamePattern(Pattern::Glob(parse_glob(&lower)))
        } else {
            NamePattern(Pattern::Substring(lower))
        }
    }

    pub fn is_glob(&self) -> bool {
        matches!(self.0, Pattern::Glob(_))
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        let name = name.to_ascii_lowercase();
        match &self.0 {
            Pattern::Substring(s) => s.is_empty() || name.windows(s.len()).any(|w| w == s.as_slice()),
            Pattern::Glob(t) => glob_match(t, &name),
        }
    }
}

fn parse_glob(p: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&b) = p.get(i) {
        i = i.saturating_add(1);
        match b {
            b'*' => {
                if out.last() != Some(&Token::Any) {
                    out.push(Token::Any);
                }
            }
            b'?' => out.push(Token::One),
            b'[' => match parse_class(p, i) {
                Some((token, next)) => {
                    out.push(token);
                    i = next;
                }
                None => out.push(Token::Byte(b'[')),
            },
            _ => out.push(Token::Byte(b)),
        }
    }
    out
}

/// A class starting after its `[` at `i`: the token and the index after
/// its `]`, or None when it never closes (then `[` is a plain character).
fn parse_class(p: &[u8], mut i: usize) -> Option<(Token, usize)> {
    let negate = matches!(p.get(i), Some(b'!' | b'^'));
    if negate {
        i = i.saturating_add(1);
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let &b = p.get(i)?;
        if b == b']' && !first {
            return Some((Token::Class { negate, ranges }, i.saturating_add(1)));
        }
        first = false;
        match (p.get(i.saturating_add(1)), p.get(i.saturating_add(2))) {
            (Some(b'-'), Some(&hi)) if hi != b']' => {
                ranges.push((b.min(hi), b.max(hi)));
                i = i.saturating_add(3);
            }
            _ => {
                ranges.push((b, b));
                i = i.saturating_add(1);
            }
        }
    }
}

/// Length of the character starting at `name[i]` (1 for a stray byte).
fn char_len(name: &[u8], i: usize) -> usize {
    let rest = name.get(i..).unwrap_or(&[]);
    let want: usize = match rest.first() {
        Some(b) if *b >= 0xf0 => 4,
        Some(b) if *b >= 0xe0 => 3,
        Some(b) if *b >= 0xc0 => 2,
        _ => 1,
    };
    let cont = rest.iter().skip(1).take(want.saturating_sub(1)).take_while(|b| (0x80..0xc0).contains(*b)).count();
    cont.saturating_add(1)
}

fn token_at(t: &Token, name: &[u8], i: usize) -> Option<usize> {
    let &b = name.get(i)?;
    match t {
        Token::Byte(x) => (*x == b).then_some(1),
        Token::One => Some(char_len(name, i)),
        Token::Class { negate, ranges } => (ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&b)) != *negate).then_some(1),
        Token::Any => None,
    }
}

/// Glob match with one backtrack point (the last `*`): linear in practice.
fn glob_match(tokens: &[Token], name: &[u8]) -> bool {
    let (mut t, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match tokens.get(t) {
            Some(Token::Any) => {
                star = Some((t, n));
                t = t.saturating_add(1);
                continue;
            }
            Some(tok) => {
                if let Some(len) = token_at(tok, name, n) {
                    t = t.saturating_add(1);
                    n = n.saturating_add(len);
                    continue;
                }
            }
            None if n >= name.len() => return true,
            None => {}
        }
        // Mismatch: let the last `*` take one more character, if any.
        match star {
            Some((st, sn)) if sn < name.len() => {
                let next = sn.saturating_add(char_len(name, sn));
                star = Some((st, next));
                t = st.saturating_add(1);
                n = next;
            }
            _ => return false,
        }
    }
}

// ---- walks -----------------------------------------------------------------

/// A depth-first walk that reads one directory per turn.
struct Walk {
    /// (path, inode, depth) of directories still to read.
    stack: Vec<(Vec<u8>, u64, usize)>,
    seen: HashSet<u64>,
    problems: Vec<String>,
    problem_count: u64,
    dirs_read: u64,
    entries_seen: u64,
}

impl Walk {
    fn new() -> Walk {
        Walk { stack: Vec::new(), seen: HashSet::new(), problems: Vec::new(), problem_count: 0, dirs_read: 0, entries_seen: 0 }
    }

    fn problem(&mut self, text: String) {
        self.problem_count = self.problem_count.saturating_add(1);
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(text);
        }
    }

    fn push_dir(&mut self, path: Vec<u8>, inode: u64, depth: usize) {
        if depth > MAX_DEPTH {
            self.problem(format!("{}: deeper than {MAX_DEPTH} folders; not entered", escape(&path)));
        } else if self.seen.insert(inode) {
            self.stack.push((path, inode, depth));
        }
    }

    /// Reads the next directory: its (path, depth, entries), or None when done.
    fn next_dir(&mut self, fs: &dyn FileSystem) -> Option<(Vec<u8>, usize, Vec<crate::fs::DirEntry>)> {
        let (path, inode, depth) = self.stack.pop()?;
        let mut entries = Vec::new();
        match fs.read_dir(inode) {
            Ok(iter) => {
                for item in iter {
                    match item {
                        Ok(d) => entries.push(d),
                        Err(e) => self.problem(format!("{}: {e}", escape(&path))),
                    }
                }
            }
            Err(e) => self.problem(format!("{}: can't be read: {e}", escape(&path))),
        }
        self.dirs_read = self.dirs_read.saturating_add(1);
        self.entries_seen = self.entries_seen.saturating_add(u64::try_from(entries.len()).unwrap_or(u64::MAX));
        // Depth-first in name order: push subfolders in reverse.
        entries.sort_by(|a, b| b.name.cmp(&a.name));
        Some((path, depth, entries))
    }

    /// The kind of a listed entry: from the directory when it says, else the inode.
    fn kind_of(&mut self, fs: &dyn FileSystem, path: &[u8], d: &crate::fs::DirEntry) -> Option<FileKind> {
        match d.kind {
            Some(k) => Some(k),
            None => match fs.stat(d.inode) {
                Ok(m) => Some(m.kind),
                Err(e) => {
                    self.problem(format!("{}: {e}", escape(path)));
                    None
                }
            },
        }
    }
}

/// Progress of a walk, for the page.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WalkProgress {
    pub done: bool,
    pub dirs_read: u64,
    pub entries_seen: u64,
    /// Directories still queued (a lower bound of the work left).
    pub dirs_queued: u64,
    pub problem_count: u64,
    pub problems: Vec<String>,
}

fn progress(w: &Walk) -> WalkProgress {
    WalkProgress {
        done: w.stack.is_empty(),
        dirs_read: w.dirs_read,
        entries_seen: w.entries_seen,
        dirs_queued: u64::try_from(w.stack.len()).unwrap_or(u64::MAX),
        problem_count: w.problem_count,
        problems: w.problems.clone(),
    }
}

/// Finds names matching a [`NamePattern`] under a folder, in steps.
pub struct NameSearch {
    pattern: NamePattern,
    walk: Walk,
    hits: u64,
    max_hits: u64,
    truncated: bool,
}

impl NameSearch {
    /// Searches under `root` (raw bytes, a folder); at most `max_hits` results.
    pub fn new(fs: &dyn FileSystem, root: &[u8], pattern: NamePattern, max_hits: u64) -> Result<NameSearch> {
        let inode = fs.resolve(root)?;
        if fs.stat(inode)?.kind != FileKind::Dir {
            return Err(Error::invalid(format!("{} is not a folder", escape(root))));
        }
        let mut walk = Walk::new();
        let start = if root.is_empty() { b"/".to_vec() } else { root.to_vec() };
        walk.push_dir(start, inode, 0);
        Ok(NameSearch { pattern, walk, hits: 0, max_hits, truncated: false })
    }

    /// Reads about `budget` entries; matching ones are added to `out`.
    pub fn step(&mut self, fs: &dyn FileSystem, budget: u64, out: &mut Vec<Entry>) -> WalkProgress {
        let until = self.walk.entries_seen.saturating_add(budget.max(1));
        while self.walk.entries_seen < until && !self.truncated {
            let Some((dir, depth, entries)) = self.walk.next_dir(fs) else { break };
            for d in entries.iter().rev() {
                let path = join(&dir, &d.name);
                let kind = self.walk.kind_of(fs, &path, d);
                if kind == Some(FileKind::Dir) {
                    self.walk.push_dir(path.clone(), d.inode, depth.saturating_add(1));
                }
                if self.pattern.matches(&d.name) {
                    if self.hits >= self.max_hits {
                        self.truncated = true;
                        break;
                    }
                    self.hits = self.hits.saturating_add(1);
                    out.push(entry_at(fs, &path, &d.name, d.inode));
                }
            }
        }
        let mut p = progress(&self.walk);
        p.done = p.done || self.truncated;
        p
    }

    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Whether the search stopped at `max_hits`.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// Totals of a [`TreeSize`] walk.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SizeTotals {
    /// Regular files, counted once per path (as an export stores them).
    pub files: u64,
    /// Folders, the starting ones included.
    pub dirs: u64,
    /// Symbolic links, devices, pipes, sockets.
    pub others: u64,
    /// Sum of the regular files' sizes.
    pub bytes: u64,
}

/// Counts files and bytes under folders, in steps.
pub struct TreeSize {
    walk: Walk,
    totals: SizeTotals,
}

impl TreeSize {
    /// Starts at `roots` (raw paths); a root that is a file is counted as is.
    pub fn new(fs: &dyn FileSystem, roots: &[Vec<u8>]) -> TreeSize {
        let mut t = TreeSize { walk: Walk::new(), totals: SizeTotals::default() };
        for root in roots {
            match fs.resolve(root).and_then(|i| fs.stat(i)) {
                Ok(m) if m.kind == FileKind::Dir => {
                    t.totals.dirs = t.totals.dirs.saturating_add(1);
                    t.walk.push_dir(root.clone(), m.inode, 0);
                }
                Ok(m) => t.count(m.kind, m.size),
                Err(e) => t.walk.problem(format!("{}: {e}", escape(root))),
            }
        }
        t
    }

    fn count(&mut self, kind: FileKind, size: u64) {
        let t = &mut self.totals;
        match kind {
            FileKind::File => {
                t.files = t.files.saturating_add(1);
                t.bytes = t.bytes.saturating_add(size);
            }
            FileKind::Dir => t.dirs = t.dirs.saturating_add(1),
            _ => t.others = t.others.saturating_add(1),
        }
    }

    /// Reads about `budget` entries.
    pub fn step(&mut self, fs: &dyn FileSystem, budget: u64) -> (SizeTotals, WalkProgress) {
        let until = self.walk.entries_seen.saturating_add(budget.max(1));
        while self.walk.entries_seen < until {
            let Some((dir, depth, entries)) = self.walk.next_dir(fs) else { break };
            for d in entries.iter().rev() {
                let path = join(&dir, &d.name);
                match self.walk.kind_of(fs, &path, d) {
                    Some(FileKind::Dir) => {
                        self.count(FileKind::Dir, 0);
                        self.walk.push_dir(path, d.inode, depth.saturating_add(1));
                    }
                    Some(FileKind::File) => match fs.stat(d.inode) {
                        Ok(m) => self.count(FileKind::File, m.size),
                        Err(e) => self.walk.problem(format!("{}: {e}", escape(&path))),
                    },
                    Some(k) => self.count(k, 0),
                    None => {}
                }
            }
        }
        (self.totals.clone(), progress(&self.walk))
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn m(p: &str, name: &str) -> bool {
        NamePattern::new(p.as_bytes()).matches(name.as_bytes())
    }

    #[test]
    fn substrings_ignore_case() {
        assert!(m("host", "hostname"));
        assert!(m("NAME", "hostname"));
        assert!(m("", "anything"));
        assert!(!m("hosts", "hostname"));
        assert!(!NamePattern::new(b"abc").is_glob());
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(m("*.txt", "notes.txt"));
        assert!(!m("*.txt", "notes.txt.bak"));
        assert!(m("ib*1", "ibdata1"));
        assert!(m("file-00?.txt", "file-007.txt"));
        assert!(!m("file-00?.txt", "file-0007.txt"));
        assert!(m("file-[0-1][0-9]9.txt", "file-199.txt"));
        assert!(!m("file-[!0-1]*", "file-199.txt"));
        assert!(m("file-[^0]*", "file-199.txt"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYbc"));
        assert!(!m("a*b*c", "aXXbYYb"));
        assert!(m("*.TXT", "Notes.txt"));
        // `?` takes a whole UTF-8 character; a stray byte counts as one.
        assert!(m("caf?", "café"));
        assert!(NamePattern::new(b"caf?.txt").matches(b"caf\xe9.txt"));
        // An unclosed class is a plain `[`; `]` first in a class is literal.
        assert!(m("a[b", "a[b"));
        assert!(m("[]x]", "]"));
        assert!(m("[a-]", "-"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let name = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(50));
        let start = std::time::Instant::now();
        assert!(!m(&pattern, &name));
        assert!(start.elapsed().as_secs() < 2);
    }

    /// A tiny in-memory tree: inode 1 is `/`; dirs hold (name, inode).
    struct Mock {
        nodes: Vec<(FileKind, u64, Vec<(&'static str, u64)>)>,
    }

    impl FileSystem for Mock {
        fn info(&self) -> crate::fs::FsInfo {
            crate::fs::FsInfo::default()
        }
        fn root(&self) -> u64 {
            1
        }
        fn stat(&self, inode: u64) -> Result<crate::fs::Metadata> {
            let (kind, size, _) = self.nodes.get(inode as usize).ok_or_else(|| Error::corrupt("no such inode"))?;
            let t = crate::fs::Timestamp::default();
            Ok(crate::fs::Metadata {
                inode, kind: *kind, mode: 0o644, uid: 0, gid: 0, size: *size, nlink: 1,
                atime: t, mtime: t, ctime: t, crtime: None, rdev: None, flags: 0, problems: Vec::new(),
            })
        }
        fn read_dir(&self, inode: u64) -> Result<crate::fs::DirIter<'_>> {
            let (_, _, kids) = self.nodes.get(inode as usize).ok_or_else(|| Error::corrupt("no such inode"))?;
            Ok(Box::new(kids.iter().map(|(n, i)| Ok(crate::fs::DirEntry { name: n.as_bytes().to_vec(), inode: *i, kind: None }))))
        }
        fn read_at(&self, _: u64, _: u64, _: &mut [u8]) -> Result<usize> {
            Ok(0)
        }
        fn read_link(&self, _: u64) -> Result<Vec<u8>> {
            Ok(b"/target".to_vec())
        }
    }

    /// / → etc/{passwd 10, hosts 5}, home/alice/{notes.txt 7, loop → home}, link
    fn mock() -> Mock {
        use FileKind::*;
        Mock {
            nodes: vec![
                (Unknown, 0, vec![]),
                (Dir, 0, vec![("home", 3), ("etc", 2), ("link", 8)]),
                (Dir, 0, vec![("passwd", 4), ("hosts", 5)]),
                (Dir, 0, vec![("alice", 6)]),
                (File, 10, vec![]),
                (File, 5, vec![]),
                (Dir, 0, vec![("notes.txt", 7), ("loop", 3)]),
                (File, 7, vec![]),
                (Symlink, 7, vec![]),
            ],
        }
    }

    #[test]
    fn pages_list_sorted_entries() {
        let fs = mock();
        let pages = DirPages::read(&fs, b"/").unwrap();
        assert_eq!(pages.len(), 3);
        let first = pages.entries(&fs, 0, 2);
        assert_eq!(first.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["/etc", "/home"]);
        let rest = pages.entries(&fs, 2, 100);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].target.as_deref(), Some("/target"));
        assert!(pages.entries(&fs, 5, 10).is_empty());
        assert!(DirPages::read(&fs, b"/etc/passwd").is_err());
    }

    #[test]
    fn search_walks_in_steps_and_survives_loops() {
        let fs = mock();
        let mut s = NameSearch::new(&fs, b"/", NamePattern::new(b"*s*"), 100).unwrap();
        let mut hits = Vec::new();
        let mut steps = 0;
        loop {
            steps += 1;
            let p = s.step(&fs, 1, &mut hits);
            if p.done {
                break;
            }
            assert!(steps < 20);
        }
        assert!(steps > 1, "a budget of 1 entry takes several steps");
        let mut paths: Vec<&str> = hits.iter().map(|e| e.path.as_str()).collect();
        paths.sort();
        // "home" revisited through the loop is not searched twice.
        assert_eq!(paths, ["/etc/hosts", "/etc/passwd", "/home/alice/notes.txt"]);
        let mut few = NameSearch::new(&fs, b"/", NamePattern::new(b"o"), 2).unwrap();
        let mut hits = Vec::new();
        while !few.step(&fs, 1000, &mut hits).done {}
        assert_eq!(hits.len(), 2);
        assert!(few.truncated());
    }

    #[test]
    fn sizes_add_up() {
        let fs = mock();
        let mut t = TreeSize::new(&fs, &[b"/home".to_vec(), b"/etc/hosts".to_vec()]);
        let totals = loop {
            let (totals, p) = t.step(&fs, 1);
            if p.done {
                break totals;
            }
        };
        // /home, alice, and the looping entry (counted, not entered).
        assert_eq!(totals, SizeTotals { files: 2, dirs: 3, others: 0, bytes: 12 });
        let mut all = TreeSize::new(&fs, &[b"/".to_vec()]);
        let (totals, p) = all.step(&fs, 1000);
        assert!(p.done);
        assert_eq!(totals, SizeTotals { files: 3, dirs: 5, others: 1, bytes: 22 });
    }
}
