//! Services: units enabled with `systemctl enable` (the links in
//! `/etc/systemd/system/*.wants/`, see systemd.unit(5) "[Install]"),
//! timers, SysV init scripts (`/etc/init.d`, enabled by `rcN.d/S??name`
//! links) and crontabs (crontab(5): the users' spool files, /etc/crontab,
//! /etc/cron.d and the run-parts folders).

use super::files::{Ctx, NewItem};
use super::ItemKind;
use crate::path::{escape, join};

/// Files in /etc/init.d that are not services.
const NOT_INIT_SCRIPTS: [&[u8]; 7] = [b"README", b"skeleton", b"rc", b"rcS", b"functions", b".depend.boot", b".legacy-bootordering"];

pub(crate) fn scan(cx: &mut Ctx) {
    // Enabled units: one item per link (a unit wanted by two targets shows twice).
    for dir in [b"/etc/systemd/system".as_slice(), b"/usr/local/lib/systemd/system"] {
        for (name, _, _) in cx.list(dir) {
            let wants = name.ends_with(b".wants") || name.ends_with(b".requires");
            if !wants {
                if name.ends_with(b".timer") {
                    let path = join(dir, &name);
                    cx.add_item(NewItem::dir(ItemKind::SystemdTimer, format!("timer {}", escape(&name)), &path).detail("defined in", escape(dir)));
                }
                continue;
            }
            let target = escape(name.rsplit_once_str(b'.'));
            let wants_dir = join(dir, &name);
            for (unit, _, _) in cx.list(&wants_dir) {
                let path = join(&wants_dir, &unit);
                let kind = if unit.ends_with(b".timer") { ItemKind::SystemdTimer } else { ItemKind::SystemdUnit };
                let mut item = NewItem::dir(kind, escape(&unit), &path).detail("wanted by", target.clone());
                // The unit file the link points at (inside the volume).
                if let Ok(inode) = cx.fs.resolve(&path) {
                    if let Ok(t) = cx.fs.read_link(inode) {
                        item = item.detail("unit file", escape(&t));
                    }
                }
                cx.add_item(item);
            }
        }
    }

    // SysV scripts, with the runlevels that start them.
    let scripts: Vec<Vec<u8>> = cx
        .list(b"/etc/init.d")
        .into_iter()
        .map(|(n, _, _)| n)
        .filter(|n| !n.starts_with(b".") && !NOT_INIT_SCRIPTS.contains(&n.as_slice()))
        .collect();
    if !scripts.is_empty() {
        let mut started: std::collections::HashMap<Vec<u8>, Vec<String>> = std::collections::HashMap::new();
        for level in [b'2', b'3', b'4', b'5'] {
            let dir = [b"/etc/rc".as_slice(), &[level], b".d"].concat();
            for (link, _, _) in cx.list(&dir) {
                if link.first() == Some(&b'S') && link.len() > 3 {
                    if let Some(name) = link.get(3..) {
                        started.entry(name.to_vec()).or_default().push(char::from(level).to_string());
                    }
                }
            }
        }
        for s in scripts {
            let levels = started.get(&s).cloned().unwrap_or_default();
            let mut item = NewItem::dir(ItemKind::InitScript, format!("init script {}", escape(&s)), &join(b"/etc/init.d", &s));
            item = item.detail("started in runlevels", if levels.is_empty() { "none".to_string() } else { levels.join(" ") });
            cx.add_item(item);
        }
    }

    // Crontabs: the users' own (Debian, then Red Hat's layout), then the system's.
    let mut user_spool = false;
    for dir in [b"/var/spool/cron/crontabs".as_slice(), b"/var/spool/cron", b"/var/spool/cron/tabs"] {
        for (name, inode, kind) in cx.list(dir) {
            let path = join(dir, &name);
            let is_file = match kind {
                Some(k) => k == crate::fs::FileKind::File,
                None => cx.stat(&path, inode).is_some_and(|m| m.kind == crate::fs::FileKind::File),
            };
            if is_file && !name.starts_with(b".") {
                user_spool = true;
                cx.add_item(NewItem::dir(ItemKind::Crontab, format!("crontab of {}", escape(&name)), &path).essential().detail("user", escape(&name)));
            }
        }
    }
    if user_spool {
        // The spool folder itself, so its owner and mode come along.
        for dir in [b"/var/spool/cron".as_slice()] {
            if cx.is_dir(dir) {
                cx.add_item(NewItem::dir(ItemKind::Crontab, "users' crontabs", dir).essential());
            }
        }
    }
    if cx.is_file(b"/etc/crontab") {
        cx.add_item(NewItem::dir(ItemKind::Crontab, "system crontab", b"/etc/crontab").essential());
    }
    for dir in [b"/etc/cron.d".as_slice(), b"/etc/cron.hourly", b"/etc/cron.daily", b"/etc/cron.weekly", b"/etc/cron.monthly"] {
        for (name, _, _) in cx.list(dir) {
            if name.starts_with(b".") {
                continue;
            }
            let path = join(dir, &name);
            cx.add_item(NewItem::dir(ItemKind::Crontab, format!("{} {}", escape(dir.strip_prefix(b"/etc/").unwrap_or(dir)), escape(&name)), &path).essential());
        }
    }
}

trait SplitExt {
    fn rsplit_once_str(&self, sep: u8) -> &[u8];
}

impl SplitExt for Vec<u8> {
    /// Everything before the last `sep` (the whole name without one).
    fn rsplit_once_str(&self, sep: u8) -> &[u8] {
        match self.iter().rposition(|c| *c == sep) {
            Some(i) => self.get(..i).unwrap_or(self),
            None => self,
        }
    }
}
