//! Accounts from passwd(5) and group(5), told apart by login.defs(5)'s
//! `UID_MIN`/`UID_MAX` and the login shell; home folders, sshd(8)'s
//! `authorized_keys` files and the host keys in /etc/ssh.

use super::files::{text, Ctx, NewItem};
use super::{Group, ItemKind, User};
use crate::fs::FileKind;
use crate::path::{escape, join, unescape};

/// Accounts kept; more are counted in a note.
const MAX_USERS: usize = 10_000;

/// `UID_MIN` and `UID_MAX` of login.defs (defaults 1000 and 60000).
pub(crate) fn uid_range(login_defs: &str) -> (u32, u32) {
    let mut range = (1000u32, 60000u32);
    for line in login_defs.lines() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else { continue };
        let Ok(v) = value.parse::<u32>() else { continue };
        match key {
            "UID_MIN" => range.0 = v,
            "UID_MAX" => range.1 = v,
            _ => {}
        }
    }
    range
}

/// Shells that let nobody log in.
fn is_login_shell(shell: &str) -> bool {
    !(shell.is_empty() || shell.ends_with("/nologin") || shell.ends_with("/false") || shell == "/bin/sync" || shell.ends_with("/shutdown") || shell.ends_with("/halt"))
}

/// One passwd line's seven fields; `None` for comments and broken lines.
pub(crate) fn passwd_fields(line: &[u8]) -> Option<[String; 7]> {
    let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
    if f.len() < 7 || f.first().is_none_or(|n| n.is_empty() || n.starts_with(b"#") || n.starts_with(b"+") || n.starts_with(b"-")) {
        return None;
    }
    let s = |i: usize| escape(f.get(i).copied().unwrap_or(b""));
    Some([s(0), s(1), s(2), s(3), s(4), s(5), s(6)])
}

pub(crate) fn scan(cx: &mut Ctx, users: &mut Vec<User>, groups: &mut Vec<Group>) {
    let (uid_min, uid_max) = cx.read_text(b"/etc/login.defs").map(|b| uid_range(&text(&b))).unwrap_or((1000, 60000));
    if let Some(table) = cx.read_text(b"/etc/group") {
        for line in table.split(|b| *b == b'\n') {
            let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
            let (Some(name), Some(gid)) = (f.first(), f.get(2)) else { continue };
            let Some(gid) = std::str::from_utf8(gid).ok().and_then(|g| g.trim().parse::<u32>().ok()) else { continue };
            if name.is_empty() || name.starts_with(b"#") || groups.len() >= MAX_USERS {
                continue;
            }
            let members = f.get(3).map(|m| m.split(|b| *b == b',').filter(|m| !m.is_empty()).map(escape).collect()).unwrap_or_default();
            groups.push(Group { name: escape(name), gid, members });
        }
    }
    let Some(table) = cx.read_text(b"/etc/passwd") else {
        cx.note("/etc/passwd: not found; owners are shown as numbers");
        return;
    };
    if super::files::looks_binary(&table) {
        cx.note("/etc/passwd: holds binary data; only its readable lines were used");
    }
    let group_names: std::collections::HashMap<u32, String> = groups.iter().rev().map(|g| (g.gid, g.name.clone())).collect();
    let mut member_of: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    for g in groups.iter() {
        for m in &g.members {
            let list = member_of.entry(m.as_str()).or_default();
            if list.len() < 256 {
                list.push(g.name.clone());
            }
        }
    }
    let mut dropped = 0usize;
    for line in table.split(|b| *b == b'\n') {
        let Some([name, _, uid, gid, gecos, home, shell]) = passwd_fields(line) else { continue };
        let (Ok(uid), Ok(gid)) = (uid.trim().parse::<u32>(), gid.trim().parse::<u32>()) else { continue };
        if users.len() >= MAX_USERS {
            dropped = dropped.saturating_add(1);
            continue;
        }
        let human = uid == 0 || (uid >= uid_min && uid <= uid_max && is_login_shell(&shell));
        let group = group_names.get(&gid).cloned();
        let extra = member_of.get(name.as_str()).cloned().unwrap_or_default();
        users.push(User { name, uid, gid, group, gecos, home, shell, human, home_exists: false, authorized_keys: Vec::new(), groups: extra });
    }
    if dropped > 0 {
        cx.note(format!("/etc/passwd: {dropped} more accounts not listed (at most {MAX_USERS})"));
    }

    // Home folders of people (and root), and everyone's authorized_keys.
    let mut seen_homes: Vec<Vec<u8>> = Vec::new();
    for u in users.iter_mut() {
        let home = unescape(&u.home);
        if home.is_empty() || home == b"/" || home == b"/nonexistent" || seen_homes.contains(&home) {
            continue;
        }
        let Some(found) = cx.find(&home) else { continue };
        if found.meta.kind != FileKind::Dir {
            continue;
        }
        seen_homes.push(home.clone());
        u.home_exists = true;
        // Service accounts' homes (/var/lib/…, /var/www) are found as what they hold.
        if u.human {
            let title = if u.gecos.split(',').next().is_some_and(|g| !g.is_empty() && g != u.name) {
                format!("{} ({})", u.name, u.gecos.split(',').next().unwrap_or(""))
            } else {
                u.name.clone()
            };
            cx.add_item(NewItem::dir(ItemKind::Home, title, &home).essential().detail("user", u.name.clone()));
        }
        for file in [b"authorized_keys".as_slice(), b"authorized_keys2"] {
            let path = join(&join(&home, b".ssh"), file);
            if let Some(f) = cx.find(&path) {
                if f.meta.kind == FileKind::File {
                    let keys = cx.read_found(&path, &f, super::MAX_CONFIG_BYTES).map(|b| count_keys(&b)).unwrap_or(0);
                    u.authorized_keys.push(escape(&path));
                    cx.add_item(
                        NewItem::dir(ItemKind::SshAuthorizedKeys, format!("SSH keys allowed to log in as {}", u.name), &path)
                            .essential()
                            .detail("keys", keys.to_string()),
                    );
                }
            }
        }
    }

    let host_keys: Vec<String> = cx
        .list(b"/etc/ssh")
        .into_iter()
        .filter_map(|(name, _, _)| {
            let n = String::from_utf8_lossy(&name).into_owned();
            n.strip_prefix("ssh_host_").and_then(|r| r.strip_suffix("_key")).map(String::from)
        })
        .collect();
    if !host_keys.is_empty() {
        cx.add_item(NewItem::dir(ItemKind::SshHostKeys, "SSH host keys", b"/etc/ssh").essential().detail("types", host_keys.join(" ")));
    }
}

/// Non-comment, non-empty lines of an authorized_keys file.
fn count_keys(bytes: &[u8]) -> usize {
    bytes.split(|b| *b == b'\n').filter(|l| {
        let l = l.trim_ascii();
        !l.is_empty() && !l.starts_with(b"#")
    }).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_defs_range() {
        assert_eq!(uid_range("# UID_MIN 5\nUID_MIN\t\t 500\nUID_MAX 29999\nGID_MIN 100\n"), (500, 29999));
        assert_eq!(uid_range("\0\x01garbage"), (1000, 60000));
    }

    #[test]
    fn passwd_lines() {
        assert!(passwd_fields(b"#x:x:1:1::/:/bin/sh").is_none());
        assert!(passwd_fields(b"short:x:1").is_none());
        let f = passwd_fields(b"alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash").unwrap();
        assert_eq!(f[0], "alice");
        assert_eq!(f[5], "/home/alice");
        assert!(is_login_shell("/bin/bash"));
        assert!(!is_login_shell("/usr/sbin/nologin"));
        assert_eq!(count_keys(b"# c\nssh-ed25519 AAA a\n\nssh-rsa BBB b\n"), 2);
    }
}
