//! `manifest.csv` (RFC 4180) and `SALVAGE-REPORT.txt`, both made from the
//! entry list after the last file is written.

use std::fmt::Write as _;

use super::entry::iso8601_nanos;
use super::owners::Owners;
use super::walk::{Planned, Status};
use super::{Summary, Totals};
use crate::fs::FileKind;
use crate::path::escape;

pub const MANIFEST_HEADER: &str = "path,type,size,mode,uid,gid,user,group,mtime,sha256,status\r\n";

/// One field, quoted when it holds a comma, quote or line break.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

pub fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::CharDevice => "char device",
        FileKind::BlockDevice => "block device",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
        FileKind::Unknown => "unknown",
    }
}

pub fn status_text(s: &Status) -> String {
    match s {
        Status::Pending => "skipped: the export stopped before it".into(),
        Status::Ok => "ok".into(),
        Status::Implied => "ok: no folder entry of its own (name not UTF-8); its files are in the zip under its exact name".into(),
        Status::Incomplete(why) => format!("incomplete: {why}"),
        Status::Skipped(why) => format!("skipped: {why}"),
    }
}

/// One manifest line, CRLF-terminated.
pub fn manifest_row(p: &Planned, owners: &Owners) -> String {
    let sha = p.sha256.map(|h| h.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }));
    let known = p.kind != FileKind::Unknown;
    let fields = [
        csv(&escape(&p.name)),
        kind_name(p.kind).to_string(),
        p.size.to_string(),
        if known { format!("{:04o}", p.mode) } else { String::new() },
        if known { p.uid.to_string() } else { String::new() },
        if known { p.gid.to_string() } else { String::new() },
        if known { csv(owners.user(p.uid)) } else { String::new() },
        if known { csv(owners.group(p.gid)) } else { String::new() },
        if known { iso8601_nanos(p.mtime) } else { String::new() },
        sha.unwrap_or_default(),
        csv(&status_text(&p.status)),
    ];
    let mut line = fields.join(",");
    line.push_str("\r\n");
    line
}

/// What the report says about where the files came from.
pub struct Heading<'a> {
    pub image: &'a str,
    pub volume: &'a str,
    pub filesystem: &'a str,
    pub journal: &'a str,
    pub selection: &'a [String],
    pub root: &'a str,
    pub written: Option<String>,
    pub manifest_name: &'a str,
    pub deflate: bool,
    pub keep_partial: bool,
    pub owners_found: bool,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The whole report text (its size grows with the number of problems).
pub fn report(h: &Heading, entries: &[Planned], walk_problems: &[String], dropped: usize, t: &Totals, s: &Summary) -> String {
    let mut r = String::new();
    let mut line = |text: String| {
        r.push_str(&text);
        r.push_str("\r\n");
    };
    line(format!("Salvage {} recovery report", crate::VERSION));
    if let Some(w) = &h.written {
        line(format!("Written: {w}"));
    }
    line(String::new());
    line(format!("Image:       {}", h.image));
    line(format!("Volume:      {}", h.volume));
    line(format!("Filesystem:  {}", h.filesystem));
    line(format!("Journal:     {}", h.journal));
    line(format!("Selected:    {}", h.selection.join(", ")));
    line(format!("Names in this zip are relative to {} on that volume.", h.root));
    line(format!(
        "Compression: {}. Partial files: {}.",
        if h.deflate { "Deflate where it saves space, otherwise stored" } else { "none (stored)" },
        if h.keep_partial { "kept, with zeros where the disk could not be read" } else { "left out" }
    ));
    line(String::new());
    line("Summary".into());
    line(format!("  {} written in full ({})", plural(s.files_ok, "file", "files"), plural(s.bytes_ok, "byte", "bytes")));
    line(format!("  {}, {}, {} ", plural(s.dirs, "folder", "folders"), plural(s.symlinks, "symbolic link", "symbolic links"), plural(s.hard_links, "extra hard link", "extra hard links")).trim_end().to_string());
    line(format!("  {} incomplete (kept with zeros in the unreadable parts)", plural(s.files_incomplete, "file", "files")));
    line(format!("  {} left out because of damage", plural(s.skipped, "entry", "entries")));
    line(format!("  {} not stored (devices, fifos, sockets)", plural(s.specials, "special file", "special files")));
    line(format!("  {} of file data read from the image in total", plural(t.bytes_done, "byte", "bytes")));
    line(format!("The list of every entry, with sha256 of the bytes written, is {}.", h.manifest_name));
    if !h.owners_found {
        line("No /etc/passwd or /etc/group was found on this volume, so owners are numbers only.".into());
    }

    let section = |title: &str, items: Vec<String>, r: &mut String| {
        if items.is_empty() {
            return;
        }
        r.push_str("\r\n");
        r.push_str(title);
        r.push_str("\r\n");
        for i in items {
            r.push_str("  ");
            r.push_str(&i);
            r.push_str("\r\n");
        }
    };
    let name = |p: &Planned| escape(&p.name);
    let incomplete: Vec<String> = entries
        .iter()
        .filter_map(|p| match &p.status {
            Status::Incomplete(why) => Some(format!("{}: {why}", name(p))),
            _ => None,
        })
        .collect();
    section("INCOMPLETE FILES (in the zip, but not every byte is the disk's)", incomplete, &mut r);
    let skipped: Vec<String> = entries
        .iter()
        .filter_map(|p| match &p.status {
            Status::Skipped(why) if !is_special(p.kind) => Some(format!("{}: {why}", name(p))),
            _ => None,
        })
        .collect();
    section("LEFT OUT BECAUSE OF DAMAGE (not in the zip)", skipped, &mut r);
    let mut problems = walk_problems.to_vec();
    if dropped > 0 {
        problems.push(format!("… and {dropped} more problems of this kind"));
    }
    section("SELECTED PATHS AND FOLDERS THAT COULD NOT BE READ IN FULL", problems, &mut r);
    let specials: Vec<String> = entries
        .iter()
        .filter(|p| is_special(p.kind))
        .map(|p| match p.rdev {
            Some((major, minor)) => format!("{} ({} {major},{minor})", name(p), kind_name(p.kind)),
            None => format!("{} ({})", name(p), kind_name(p.kind)),
        })
        .collect();
    section("SPECIAL FILES NOT STORED (a zip can't hold them; listed in the manifest with owner and mode)", specials, &mut r);
    let links: Vec<String> = entries
        .iter()
        .filter_map(|p| p.same_as.and_then(|i| entries.get(i)).map(|first| format!("{} is the same file as {} (stored as a separate copy)", name(p), name(first))))
        .collect();
    section("HARD LINKS (each name is stored as a full copy)", links, &mut r);
    let escaped: Vec<String> = entries
        .iter()
        .filter(|p| std::str::from_utf8(&p.name).is_err())
        .map(|p| format!("{} (shown with \\xHH for bytes that are not UTF-8)", name(p)))
        .collect();
    section(
        "NAMES THAT ARE NOT UTF-8 (stored byte for byte, without the UTF-8 flag; Linux unzip and bsdtar restore them exactly)",
        escaped,
        &mut r,
    );
    r
}

fn is_special(kind: FileKind) -> bool {
    matches!(kind, FileKind::CharDevice | FileKind::BlockDevice | FileKind::Fifo | FileKind::Socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv("plain"), "plain");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv("two\nlines"), "\"two\nlines\"");
    }
}
