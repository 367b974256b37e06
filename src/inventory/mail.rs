//! Mail: mbox spools (`/var/mail`, `/var/spool/mail`, one file per user,
//! see FHS 3.0 §5.6), virtual mail roots (`/var/vmail`, the usual
//! Postfix/Dovecot layout) and Maildir trees (a folder with `cur`, `new`
//! and `tmp`, see maildir(5)) in home folders.

use super::files::{Ctx, NewItem};
use super::{ItemKind, User};
use crate::fs::FileKind;
use crate::path::{escape, join, unescape};

fn is_maildir(cx: &mut Ctx, dir: &[u8]) -> bool {
    [b"cur".as_slice(), b"new", b"tmp"].iter().all(|sub| cx.is_dir(&join(dir, sub)))
}

pub(crate) fn scan(cx: &mut Ctx, users: &[User]) {
    // /var/spool/mail is usually a link to /var/mail (or the reverse): one item.
    let mut spool_inodes = Vec::new();
    for dir in [b"/var/mail".as_slice(), b"/var/spool/mail"] {
        let Some(found) = cx.find(dir) else { continue };
        if found.meta.kind != FileKind::Dir || spool_inodes.contains(&found.inode) {
            continue;
        }
        spool_inodes.push(found.inode);
        let mut owners = Vec::new();
        for (name, inode, _) in cx.list_inode(dir, found.inode) {
            let path = join(dir, &name);
            if let Some(m) = cx.stat(&path, inode) {
                if m.kind == FileKind::File {
                    owners.push(escape(&name));
                }
            }
        }
        if !owners.is_empty() {
            cx.add_item(NewItem::dir(ItemKind::MailSpool, "mailboxes (mbox)", dir).essential().detail("mailboxes", owners.join(" ")));
        }
    }
    for dir in [b"/var/vmail".as_slice(), b"/var/spool/vmail", b"/home/vmail"] {
        if cx.list(dir).iter().any(|(n, _, _)| !n.starts_with(b".")) {
            cx.add_item(NewItem::dir(ItemKind::MailSpool, "virtual mailboxes", dir).essential());
        }
    }
    // People's homes only: service accounts keep no Maildir, virtual users aren't in passwd.
    for u in users.iter().filter(|u| u.home_exists && u.human) {
        let home = unescape(&u.home);
        if home == b"/" {
            continue;
        }
        for name in [b"Maildir".as_slice(), b"mail"] {
            let dir = join(&home, name);
            if is_maildir(cx, &dir) {
                cx.add_item(NewItem::dir(ItemKind::Maildir, format!("Maildir of {}", u.name), &dir).essential().detail("user", u.name.clone()));
            }
        }
    }
}
