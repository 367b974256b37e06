//! MySQL/MariaDB: the data directory from the option files (MySQL 8.0
//! manual 6.2.2.2 "Using Option Files": `[group]`s, `key = value`,
//! `!include FILE` and `!includedir DIR` reading `*.cnf` in name order, the
//! last value read winning), default `/var/lib/mysql`; its databases are
//! its folders (table-file-name encoding `@XXXX` decoded), and its server
//! version comes from `mysql_upgrade_info` or Debian's `debian-X.Y.flag`.

use std::collections::HashSet;

use super::files::{expand_glob, looks_binary, text, Ctx, NewItem};
use super::{ItemKind, MAX_CONFIG_FILES, MAX_INCLUDE_DEPTH};
use crate::fs::FileKind;
use crate::path::{escape, join};

/// Folders of a datadir that are not user databases.
const SYSTEM_SCHEMAS: [&[u8]; 5] = [b"mysql", b"performance_schema", b"sys", b"information_schema", b"lost+found"];

pub const DEFAULT_DATADIR: &[u8] = b"/var/lib/mysql";

/// Groups whose options the server reads.
fn is_server_group(group: &str) -> bool {
    matches!(group, "mysqld" | "server" | "mariadb" | "mariadbd" | "mysqld_safe" | "galera")
        || group.starts_with("mysqld-")
        || group.starts_with("mariadb-")
}

/// Where the option files lead: the last `datadir` of a server group and
/// the file it came from.
#[derive(Default)]
pub(crate) struct MyCnf {
    pub datadir: Option<(Vec<u8>, Vec<u8>)>,
    pub files_read: Vec<Vec<u8>>,
    seen: HashSet<u64>,
}

impl MyCnf {
    pub fn read(cx: &mut Ctx, roots: &[&[u8]]) -> MyCnf {
        let mut cnf = MyCnf::default();
        for root in roots {
            cnf.file(cx, root, 0);
        }
        cnf
    }

    fn file(&mut self, cx: &mut Ctx, path: &[u8], depth: u32) {
        let Some(found) = cx.find(path) else { return };
        if found.meta.kind != FileKind::File {
            return;
        }
        if !self.seen.insert(found.inode) {
            if depth > 0 {
                cx.note(format!("{}: included again (an include loop); not read twice", escape(path)));
            }
            return;
        }
        if self.files_read.len() >= MAX_CONFIG_FILES {
            cx.note(format!("MySQL option files: more than {MAX_CONFIG_FILES}; {} and later ones not read", escape(path)));
            return;
        }
        let Some(bytes) = cx.read_found(path, &found, super::MAX_CONFIG_BYTES) else { return };
        if looks_binary(&bytes) {
            cx.note(format!("{}: holds binary data; only its readable lines were used", escape(path)));
        }
        self.files_read.push(path.to_vec());
        let mut group = String::new();
        for raw in text(&bytes).lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("!includedir") {
                let dir = rest.trim().as_bytes().to_vec();
                if self.deeper(cx, path, depth) {
                    let pattern = join(&dir, b"*.cnf");
                    for f in expand_glob(cx, &pattern) {
                        self.file(cx, &f, depth.saturating_add(1));
                    }
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("!include") {
                if self.deeper(cx, path, depth) {
                    self.file(cx, rest.trim().as_bytes(), depth.saturating_add(1));
                }
                continue;
            }
            if let Some(g) = line.strip_prefix('[').and_then(|l| l.split_once(']')).map(|(g, _)| g) {
                group = g.trim().to_ascii_lowercase();
                continue;
            }
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (line, ""),
            };
            if key.replace('-', "_").eq_ignore_ascii_case("datadir") && is_server_group(&group) {
                let value = unquote(strip_comment(value));
                if value.starts_with('/') {
                    self.datadir = Some((value.trim_end_matches('/').as_bytes().to_vec(), path.to_vec()));
                }
            }
        }
    }

    fn deeper(&self, cx: &mut Ctx, path: &[u8], depth: u32) -> bool {
        if depth >= MAX_INCLUDE_DEPTH {
            cx.note(format!("{}: includes nested deeper than {MAX_INCLUDE_DEPTH}; not followed", escape(path)));
            return false;
        }
        true
    }
}

/// A value's `#` comment (after white space) removed.
fn strip_comment(v: &str) -> &str {
    if v.starts_with(['"', '\'']) {
        return v;
    }
    match v.find(" #").or_else(|| v.find("\t#")) {
        Some(i) => v.get(..i).unwrap_or(v).trim_end(),
        None => v,
    }
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q) {
            return inner.split(q).next().unwrap_or("").to_string();
        }
    }
    v.to_string()
}

/// MySQL's table-file-name encoding: `@XXXX` is the code point XXXX.
pub(crate) fn decode_name(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    let mut out = String::new();
    let mut rest = s.as_ref();
    while let Some(i) = rest.find('@') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i.saturating_add(1)..).unwrap_or("");
        match after.get(..4).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32) {
            Some(c) => {
                out.push(c);
                rest = after.get(4..).unwrap_or("");
            }
            None => {
                out.push('@');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The server version a datadir was last used with, and where it says so.
pub(crate) fn datadir_version(cx: &mut Ctx, datadir: &[u8]) -> Option<(String, String)> {
    let info = join(datadir, b"mysql_upgrade_info");
    if let Some(bytes) = cx.read_text(&info) {
        let v: String = text(&bytes).chars().take_while(|c| !c.is_control()).take(64).collect();
        if !v.trim().is_empty() {
            return Some((v.trim().to_string(), escape(&info)));
        }
    }
    for (name, _, _) in cx.list(datadir) {
        if let Some(v) = name.strip_prefix(b"debian-").and_then(|r| r.strip_suffix(b".flag")) {
            return Some((String::from_utf8_lossy(v).into_owned(), escape(&join(datadir, &name))));
        }
    }
    None
}

pub(crate) fn scan(cx: &mut Ctx) {
    let cnf = MyCnf::read(cx, &[b"/etc/my.cnf", b"/etc/mysql/my.cnf"]);
    let mut candidates: Vec<(Vec<u8>, String)> = Vec::new();
    if let Some((dir, from)) = &cnf.datadir {
        candidates.push((dir.clone(), format!("datadir in {}", escape(from))));
    }
    candidates.push((DEFAULT_DATADIR.to_vec(), "the default".to_string()));
    let configured = cnf.datadir.is_some();
    for (i, (dir, why)) in candidates.iter().enumerate() {
        if i > 0 && candidates.first().is_some_and(|(d, _)| d == dir) {
            continue;
        }
        let Some(found) = cx.find(dir) else {
            if i == 0 && configured {
                cx.note(format!("MySQL datadir {} ({why}) is not on this volume", escape(dir)));
            }
            continue;
        };
        if found.meta.kind != FileKind::Dir {
            continue;
        }
        let entries = cx.list_inode(dir, found.inode);
        let looks_mysql = entries.iter().any(|(n, _, _)| n == b"mysql" || n == b"ibdata1" || n.starts_with(b"ib_logfile") || n == b"aria_log_control" || n == b"#innodb_redo");
        if entries.is_empty() || !looks_mysql {
            continue;
        }
        let mut item = NewItem::dir(ItemKind::MysqlDatadir, "MySQL/MariaDB data directory", dir).essential().detail("found by", why.clone());
        if let Some((v, from)) = datadir_version(cx, dir) {
            item = item.detail("server version", v).detail("version from", from);
        }
        let mut names = Vec::new();
        for (name, inode, kind) in &entries {
            if name.starts_with(b"#") || SYSTEM_SCHEMAS.contains(&name.as_slice()) {
                continue;
            }
            let path = join(dir, name);
            let is_dir = match kind {
                Some(k) => *k == FileKind::Dir,
                None => cx.stat(&path, *inode).is_some_and(|m| m.kind == FileKind::Dir),
            };
            if is_dir {
                let db = decode_name(name);
                names.push(db.clone());
                cx.add_item(NewItem::dir(ItemKind::MysqlDatabase, format!("database {db}"), &path).detail("database", db));
            }
        }
        item = item.detail("databases", names.join(" "));
        cx.add_item(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values() {
        assert_eq!(decode_name(b"my@002dshop"), "my-shop");
        assert_eq!(decode_name(b"a@zz"), "a@zz");
        assert_eq!(decode_name(b"@"), "@");
        assert_eq!(unquote("\"/srv/my sql\" x"), "/srv/my sql");
        assert_eq!(strip_comment("/srv/mysql # moved"), "/srv/mysql");
        assert!(is_server_group("mysqld-8.0"));
        assert!(!is_server_group("client"));
    }
}
