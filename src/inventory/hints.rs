//! Restore hints: what a person must do, after unzipping, for the
//! exported data to work again on another machine — server versions,
//! owners by the image's own numbers, and the image's `/etc/passwd` and
//! `/etc/group` lines for the accounts owning exported files.

use std::collections::BTreeSet;
use std::rc::Rc;

use super::files::{text, Ctx};
use super::{Inventory, Item, ItemKind, Owner, Scan};
use crate::fs::{FileKind, FileSystem};
use crate::path::{escape, join, unescape};

/// Accounts listed in the passwd hint; more are counted.
const MAX_ACCOUNT_LINES: usize = 50;

/// Hints for an export of `selection` (escaped absolute paths, as the
/// export report shows them) from `fs`; `owners` are the (uid, gid) of the
/// exported entries, so the hints can quote the image's account lines.
/// Runs the quick part of the inventory (configuration files only, no
/// sizes or scans); a volume that is not a Linux root gives no hints.
pub fn restore_hints<S: AsRef<str>>(fs: Rc<dyn FileSystem>, selection: &[S], owners: impl IntoIterator<Item = (u32, u32)>) -> Vec<String> {
    let Some(inv) = Scan::quick(fs.clone()) else { return Vec::new() };
    restore_hints_for(&inv, &*fs, selection, owners)
}

/// [`restore_hints`] with an inventory already made.
pub fn restore_hints_for<S: AsRef<str>>(inv: &Inventory, fs: &dyn FileSystem, selection: &[S], owners: impl IntoIterator<Item = (u32, u32)>) -> Vec<String> {
    let selected: Vec<Vec<u8>> = selection.iter().map(|s| unescape(s.as_ref())).collect();
    let mut cx = Ctx::new(fs);
    let mut hints = Vec::new();
    let who = |o: &Option<Owner>| match o {
        Some(o) => format!(
            "{}:{} (uid {}, gid {} on this image)",
            o.user.clone().unwrap_or_else(|| o.uid.to_string()),
            o.group.clone().unwrap_or_else(|| o.gid.to_string()),
            o.uid,
            o.gid
        ),
        None => "its original owner".to_string(),
    };
    let chown = |o: &Option<Owner>| match o {
        Some(o) => format!("{}:{}", o.user.clone().unwrap_or_else(|| o.uid.to_string()), o.group.clone().unwrap_or_else(|| o.gid.to_string())),
        None => "OWNER:GROUP".to_string(),
    };
    let detail = |i: &Item, k: &str| i.details.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    for item in &inv.items {
        let path = unescape(&item.path);
        let whole = selected.iter().any(|s| within(&path, s));
        let part = !whole && selected.iter().any(|s| within(s, &path));
        if !whole && !part {
            continue;
        }
        match item.kind {
            ItemKind::MysqlDatadir => {
                let version = detail(item, "server version");
                let major = version.as_deref().map(major_version);
                let mut h = format!("MySQL/MariaDB data directory {}: ", item.path);
                match (&version, &major) {
                    (Some(v), Some(m)) => h.push_str(&format!(
                        "start these files only with the same server and major version, {m} (the image last ran {v}, says {}); ",
                        detail(item, "version from").unwrap_or_default()
                    )),
                    _ => h.push_str("start these files only with the server and major version the image ran (not recorded in the datadir; see the image's package list); "),
                }
                h.push_str(&format!(
                    "stop the new server, put the files in its datadir, then `chown -R {} DATADIR` — owner {}; those numbers may belong to other accounts on the new machine. InnoDB runs crash recovery on the first start; then take a dump with mysqldump.",
                    chown(&item.owner),
                    who(&item.owner)
                ));
                if part {
                    h.push_str(" Only part of it is selected: a database folder alone can't be attached to another server without ibdata1, the redo logs and the mysql folder; export the whole data directory.");
                }
                hints.push(h);
            }
            ItemKind::PostgresCluster => {
                let v = detail(item, "major version").unwrap_or_else(|| "?".into());
                let mut h = format!(
                    "PostgreSQL cluster {}: needs PostgreSQL {v} (PG_VERSION; another major version can't open it). Install it, stop it, replace its data directory with these files, `chown -R {} DATADIR` (owner {}) and `chmod 700 DATADIR`.",
                    item.path,
                    chown(&item.owner),
                    who(&item.owner)
                );
                if item.path.starts_with("/var/lib/postgresql/") {
                    let conf = item.path.replacen("/var/lib/postgresql/", "/etc/postgresql/", 1);
                    h.push_str(&format!(" On Debian its settings (postgresql.conf, pg_hba.conf) are in {conf}; export that too."));
                }
                if part {
                    h.push_str(" Only part of it is selected: a cluster only starts from the whole directory.");
                }
                hints.push(h);
            }
            ItemKind::Redis | ItemKind::Mongodb => hints.push(format!(
                "{} {}: stop the server before copying the files in, then `chown -R {} DIR` (owner {}).",
                item.title,
                item.path,
                chown(&item.owner),
                who(&item.owner)
            )),
            ItemKind::MailSpool => {
                let mut owners = Vec::new();
                for (name, inode, _) in cx.list(&path).into_iter().take(200) {
                    if let Some(m) = cx.stat(&join(&path, &name), inode) {
                        if m.kind == FileKind::File {
                            let user = inv.users.iter().find(|u| u.uid == m.uid).map(|u| u.name.clone()).unwrap_or_else(|| m.uid.to_string());
                            let group = inv.groups.iter().find(|g| g.gid == m.gid).map(|g| g.name.clone()).unwrap_or_else(|| m.gid.to_string());
                            owners.push(format!("{} → {user}:{group} (uid {}, gid {}), mode {:04o}", escape(&name), m.uid, m.gid, m.mode & 0o7777));
                        }
                    }
                }
                let mut h = format!("Mail in {}: each mailbox must belong to its user, or delivery and IMAP refuse it (`chown USER:GROUP FILE`).", item.path);
                if owners.is_empty() {
                    h.push_str(&format!(" Here the mail folders belong to {}, the account the mail server delivers as: `chown -R {} DIR`.", who(&item.owner), chown(&item.owner)));
                } else {
                    h.push_str(&format!(" On this image: {}.", owners.join("; ")));
                }
                hints.push(h);
            }
            ItemKind::Maildir => {
                hints.push(format!("{} {}: `chown -R {} DIR` after creating the user (owner {}).", item.title, item.path, chown(&item.owner), who(&item.owner)))
            }
            ItemKind::Home => hints.push(format!(
                "Home folder {}: create the user with the same uid and gid first (see the account lines below), or `chown -R {} DIR` after extracting.",
                item.path,
                chown(&item.owner)
            )),
            ItemKind::Crontab if item.path == "/var/spool/cron" => hints.push(
                "Users' crontabs (/var/spool/cron): cron ignores a crontab not owned by its user (on Debian: group crontab, mode 600); or reinstall each with `crontab -u USER FILE`.".to_string(),
            ),
            ItemKind::Tls => hints.push(format!(
                "Let's Encrypt ({}{}): restore /etc/letsencrypt as a whole — live/ holds symbolic links into archive/, and renewal/ the settings certbot renews with; private keys must stay readable by root only.",
                item.path,
                if part { ", only part of it selected" } else { "" }
            )),
            ItemKind::DockerVolume => hints.push(format!(
                "{} ({}): create it with `docker volume create {}` and copy the files into its _data folder as root, keeping the numeric owners (`unzip -X`): the containers use the image's uids.",
                item.title,
                item.path,
                detail(item, "volume").unwrap_or_default()
            )),
            ItemKind::WebRoot if item.path != "/var/www" => hints.push(format!(
                "{} ({}): owned by {}; the web server's user must be able to read it (and write where the site uploads).",
                item.title,
                item.path,
                who(&item.owner)
            )),
            ItemKind::Sqlite => hints.push(format!(
                "{} ({}): copy it together with any -wal and -journal file beside it; the program using it needs write access to the folder too (owner {}).",
                item.title,
                item.path,
                who(&item.owner)
            )),
            _ => {}
        }
    }

    // Accounts owning exported files: the image's own lines.
    let (uids, gids): (BTreeSet<u32>, BTreeSet<u32>) = owners.into_iter().filter(|(u, _)| *u != 0).unzip();
    let gids: BTreeSet<u32> = gids.into_iter().filter(|g| *g != 0).collect();
    if !uids.is_empty() || !gids.is_empty() {
        let passwd = account_lines(&mut cx, b"/etc/passwd", &uids);
        let group = account_lines(&mut cx, b"/etc/group", &gids);
        if !passwd.is_empty() || !group.is_empty() {
            let mut h = "Accounts owning exported files, as in the image's /etc/passwd and /etc/group (create them with these numbers before extracting with `unzip -X` as root, or chown afterwards); password fields are replaced by x:".to_string();
            for l in passwd.iter().chain(group.iter()) {
                h.push_str("\n    ");
                h.push_str(l);
            }
            hints.push(h);
        }
        let known: BTreeSet<u32> = inv.users.iter().map(|u| u.uid).collect();
        let unknown: Vec<String> = uids.difference(&known).map(|u| u.to_string()).take(20).collect();
        if !unknown.is_empty() {
            hints.push(format!("Files owned by uids with no account in the image's /etc/passwd: {} (often a container's or a deleted user's).", unknown.join(", ")));
        }
    }
    hints
}

/// Lines of passwd or group whose third field is one of `ids`, with the
/// password field blanked to `x`.
fn account_lines(cx: &mut Ctx, path: &[u8], ids: &BTreeSet<u32>) -> Vec<String> {
    let Some(bytes) = cx.read_text(path) else { return Vec::new() };
    let mut out = Vec::new();
    let mut more = 0usize;
    for line in text(&bytes).lines() {
        let mut f: Vec<&str> = line.split(':').collect();
        let Some(id) = f.get(2).and_then(|i| i.trim().parse::<u32>().ok()) else { continue };
        if f.first().is_none_or(|n| n.is_empty() || n.starts_with('#')) || !ids.contains(&id) {
            continue;
        }
        if out.len() >= MAX_ACCOUNT_LINES {
            more = more.saturating_add(1);
            continue;
        }
        if let Some(pw) = f.get_mut(1) {
            *pw = "x";
        }
        out.push(f.join(":").chars().filter(|c| !c.is_control()).collect());
    }
    if more > 0 {
        out.push(format!("… and {more} more"));
    }
    out
}

/// `10.11.6-MariaDB-0+deb12u1` → `MariaDB 10.11`; `8.0.35` → `8.0`.
pub(crate) fn major_version(v: &str) -> String {
    let numbers: Vec<&str> = v.split(|c: char| !c.is_ascii_digit() && c != '.').next().unwrap_or("").split('.').take(2).collect();
    let major = numbers.join(".");
    if v.to_ascii_lowercase().contains("mariadb") {
        format!("MariaDB {major}")
    } else {
        major
    }
}

/// Whether `path` is `dir` or inside it.
fn within(path: &[u8], dir: &[u8]) -> bool {
    let dir = if dir.len() > 1 { dir.strip_suffix(b"/").unwrap_or(dir) } else { dir };
    dir == b"/" || path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

/// The hints as a report section (CRLF lines, like the rest of the
/// report); empty when there are none.
pub fn hints_section(hints: &[String]) -> String {
    if hints.is_empty() {
        return String::new();
    }
    let mut s = String::from("\r\nRESTORE HINTS (from this image's own configuration)\r\n");
    for h in hints {
        for (i, line) in h.lines().enumerate() {
            s.push_str(if i == 0 { "  - " } else { "  " });
            s.push_str(line);
            s.push_str("\r\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_paths() {
        assert_eq!(major_version("10.11.6-MariaDB-0+deb12u1"), "MariaDB 10.11");
        assert_eq!(major_version("8.0.35"), "8.0");
        assert!(within(b"/var/lib/mysql/shop", b"/var/lib/mysql"));
        assert!(within(b"/var/lib/mysql", b"/var/lib/mysql/"));
        assert!(!within(b"/var/lib/mysql2", b"/var/lib/mysql"));
        assert!(within(b"/etc", b"/"));
        assert!(hints_section(&[]).is_empty());
        assert_eq!(hints_section(&["a\n    b".into()]), "\r\nRESTORE HINTS (from this image's own configuration)\r\n  - a\r\n      b\r\n");
    }
}
