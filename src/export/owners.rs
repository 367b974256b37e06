//! User and group names for the manifest, from the volume's own
//! `/etc/passwd` and `/etc/group` (the `name:password:id:…` format of
//! passwd(5) and group(5)). The machine running Salvage is never asked.

use std::collections::HashMap;

use crate::fs::{FileKind, FileSystem};
use crate::path::escape;

/// Largest passwd or group file read; bigger ones are ignored.
const MAX_TABLE_BYTES: u64 = 4 << 20;

/// Names by numeric id, as found on the volume (empty when absent).
#[derive(Debug, Default)]
pub struct Owners {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Owners {
    /// Reads both files; anything missing, damaged or too large just
    /// leaves names out.
    pub fn load(fs: &dyn FileSystem) -> Owners {
        Owners {
            users: read_table(fs, b"/etc/passwd").map(|t| parse(&t)).unwrap_or_default(),
            groups: read_table(fs, b"/etc/group").map(|t| parse(&t)).unwrap_or_default(),
        }
    }

    pub fn user(&self, uid: u32) -> &str {
        self.users.get(&uid).map(String::as_str).unwrap_or("")
    }

    pub fn group(&self, gid: u32) -> &str {
        self.groups.get(&gid).map(String::as_str).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

fn read_table(fs: &dyn FileSystem, path: &[u8]) -> Option<Vec<u8>> {
    let inode = fs.resolve(path).ok()?;
    let meta = fs.stat(inode).ok()?;
    if meta.kind != FileKind::File || meta.size > MAX_TABLE_BYTES {
        return None;
    }
    let len = usize::try_from(meta.size).ok()?;
    let mut buf = vec![0u8; len];
    let mut done = 0usize;
    while done < len {
        let n = fs.read_at(inode, u64::try_from(done).ok()?, buf.get_mut(done..)?).ok()?;
        if n == 0 {
            break;
        }
        done = done.checked_add(n)?;
    }
    buf.truncate(done);
    Some(buf)
}

/// `name:x:id:…` lines → id → name (the first line wins, as in getpwuid).
fn parse(table: &[u8]) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    for line in table.split(|b| *b == b'\n') {
        let mut fields = line.split(|b| *b == b':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some(id) = std::str::from_utf8(id).ok().and_then(|s| s.trim().parse::<u32>().ok()) else {
            continue;
        };
        if !name.is_empty() && !name.starts_with(b"#") {
            out.entry(id).or_insert_with(|| escape(name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_lines() {
        let t = parse(b"root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\ntwin:x:0:0::/:/bin/sh\n");
        assert_eq!(t.get(&0).map(String::as_str), Some("root"));
        assert_eq!(t.get(&1000).map(String::as_str), Some("alice"));
        assert_eq!(t.len(), 2);
    }
}
