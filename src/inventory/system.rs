//! System identity: os-release(5) with the older release files as
//! fallbacks, hostname(5), kernels in /boot, the time zone (timezone file
//! or the /etc/localtime link, see localtime(5)) and the superblock's last
//! mount and journal state (from [`crate::fs::FsInfo::details`]).

use super::files::{text, Ctx};
use super::System;

/// `KEY=value` lines of os-release(5): value unquoted (shell-like, single
/// or double quotes, backslash escapes in double quotes).
pub(crate) fn os_release_value(content: &str, key: &str) -> Option<String> {
    for line in content.lines() {
        let Some((k, v)) = line.trim().split_once('=') else { continue };
        if k.trim() != key {
            continue;
        }
        let v = v.trim();
        let v = if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            let mut out = String::new();
            let mut esc = false;
            for c in inner.chars() {
                if esc || c != '\\' {
                    out.push(c);
                    esc = false;
                } else {
                    esc = true;
                }
            }
            out
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            inner.to_string()
        } else {
            v.to_string()
        };
        let v: String = v.chars().filter(|c| !c.is_control()).take(200).collect();
        return (!v.is_empty()).then_some(v);
    }
    None
}

fn first_line(bytes: &[u8]) -> Option<String> {
    let t = text(bytes);
    let line: String = t.lines().map(str::trim).find(|l| !l.is_empty())?.chars().filter(|c| !c.is_control()).take(200).collect();
    (!line.is_empty()).then_some(line)
}

pub(crate) fn scan(cx: &mut Ctx, sys: &mut System) {
    for path in [b"/etc/os-release".as_slice(), b"/usr/lib/os-release"] {
        if let Some(bytes) = cx.read_text(path) {
            let t = text(&bytes);
            let name = os_release_value(&t, "NAME");
            let version = os_release_value(&t, "VERSION");
            sys.os = os_release_value(&t, "PRETTY_NAME").or_else(|| match (&name, &version) {
                (Some(n), Some(v)) => Some(format!("{n} {v}")),
                (Some(n), None) => Some(n.clone()),
                _ => None,
            });
            sys.os_id = os_release_value(&t, "ID");
            sys.os_version = os_release_value(&t, "VERSION_ID");
            if sys.os.is_some() {
                sys.os_source = Some(String::from_utf8_lossy(path).into_owned());
                break;
            }
        }
    }
    if sys.os.is_none() {
        // Older systems: one line naming the release.
        const RELEASE_FILES: [(&[u8], &str, &str); 7] = [
            (b"/etc/lsb-release", "", ""),
            (b"/etc/redhat-release", "rhel", ""),
            (b"/etc/centos-release", "centos", ""),
            (b"/etc/SuSE-release", "suse", ""),
            (b"/etc/alpine-release", "alpine", "Alpine Linux "),
            (b"/etc/gentoo-release", "gentoo", ""),
            (b"/etc/debian_version", "debian", "Debian "),
        ];
        for (path, id, prefix) in RELEASE_FILES {
            let Some(bytes) = cx.read_text(path) else { continue };
            let found = if path == b"/etc/lsb-release" {
                let t = text(&bytes);
                sys.os_id = os_release_value(&t, "DISTRIB_ID").map(|s| s.to_lowercase());
                sys.os_version = os_release_value(&t, "DISTRIB_RELEASE");
                os_release_value(&t, "DISTRIB_DESCRIPTION")
            } else {
                let line = first_line(&bytes);
                if let Some(l) = &line {
                    sys.os_id = Some(id.to_string());
                    sys.os_version = l.split_whitespace().find(|w| w.starts_with(|c: char| c.is_ascii_digit())).map(String::from);
                }
                line.map(|l| format!("{prefix}{l}"))
            };
            if found.is_some() {
                sys.os = found;
                sys.os_source = Some(String::from_utf8_lossy(path).into_owned());
                break;
            }
        }
    }
    sys.hostname = [b"/etc/hostname".as_slice(), b"/etc/HOSTNAME"].into_iter().find_map(|p| cx.read_text(p).and_then(|b| first_line(&b)));
    if sys.hostname.is_none() {
        sys.hostname = cx.read_text(b"/etc/sysconfig/network").and_then(|b| os_release_value(&text(&b), "HOSTNAME"));
    }

    let mut kernels: Vec<String> = cx
        .list(b"/boot")
        .into_iter()
        .filter_map(|(name, _, _)| name.strip_prefix(b"vmlinuz-").map(|v| String::from_utf8_lossy(v).into_owned()))
        .collect();
    if kernels.is_empty() {
        for lib in [b"/lib/modules".as_slice(), b"/usr/lib/modules"] {
            kernels = cx.list(lib).into_iter().map(|(name, _, _)| String::from_utf8_lossy(&name).into_owned()).collect();
            if !kernels.is_empty() {
                break;
            }
        }
    }
    kernels.truncate(64);
    sys.kernels = kernels;

    sys.timezone = cx.read_text(b"/etc/timezone").and_then(|b| first_line(&b));
    if sys.timezone.is_none() {
        if let Some(f) = cx.find(b"/etc/localtime") {
            // resolve_following put the link's target in the found path.
            let p = String::from_utf8_lossy(&f.path).into_owned();
            sys.timezone = p.split_once("/zoneinfo/").map(|(_, z)| z.trim_start_matches("posix/").trim_start_matches("right/").to_string());
        } else if let Ok(inode) = cx.fs.resolve(b"/etc/localtime") {
            // A dangling link (zoneinfo not installed or not on this volume): its target still names the zone.
            if let Ok(t) = cx.fs.read_link(inode) {
                let t = String::from_utf8_lossy(&t).into_owned();
                sys.timezone = t.split_once("/zoneinfo/").map(|(_, z)| z.to_string());
            }
        }
    }
    if sys.timezone.is_none() {
        sys.timezone = cx.read_text(b"/etc/sysconfig/clock").and_then(|b| {
            let t = text(&b);
            os_release_value(&t, "ZONE").or_else(|| os_release_value(&t, "TIMEZONE"))
        });
    }

    let info = cx.fs.info();
    let detail = |k: &str| info.details.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    sys.last_mount_time = detail("last mount time");
    sys.last_mounted_on = detail("last mounted on");
    sys.journal = detail("journal");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values() {
        let t = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME='Debian'\nVERSION_ID=12\nX=\"a\\\"b\"\nEMPTY=\n";
        assert_eq!(os_release_value(t, "PRETTY_NAME").as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert_eq!(os_release_value(t, "NAME").as_deref(), Some("Debian"));
        assert_eq!(os_release_value(t, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(os_release_value(t, "X").as_deref(), Some("a\"b"));
        assert_eq!(os_release_value(t, "EMPTY"), None);
        assert_eq!(os_release_value(t, "MISSING"), None);
    }
}
