//! Finding the other files of a disk (extents, parents) among the files the
//! user selected, by the name another file stores.
//!
//! Containers store companions' names as their writer saw them: a bare name
//! (`disk-s001.vmdk`), a relative path (`.\base.vhd`) or an absolute one from
//! another machine (`C:\VMs\base.vhd`, `file:///Users/me/base.vhd`). Only
//! the last component can be matched against picked files: the browser
//! gives names, never paths. An exact match wins; otherwise a match ignoring
//! ASCII case (Windows names are case-insensitive).
//!
//! The page sorts picked files by name, so the file the user means to open
//! (a descriptor, an overlay) is not always first: [`choose_top`] moves to
//! the front the one selected file that no other selected file names.

use super::{vhd, vmdk, Source};
use crate::error::Result;
use crate::read_at::Reader;

/// Most nested parents (differencing disk → parent → …) followed.
pub const MAX_CHAIN_DEPTH: usize = 32;

/// The last component of a stored path or URL, without quotes or NULs.
pub fn base_name(stored: &str) -> &str {
    let trimmed = stored.trim_matches(|c: char| c == '"' || c == '\0' || c.is_whitespace());
    trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed)
}

/// Whether the selected file `source` is the one stored as `wanted`,
/// exactly or ignoring ASCII case.
fn matches(wanted: &str, source: &Source, exact: bool) -> bool {
    let want = base_name(wanted);
    !want.is_empty() && if exact { source.name == want } else { source.name.eq_ignore_ascii_case(want) }
}

/// The selected file whose name matches the stored name `wanted`.
pub fn find<'a>(wanted: &str, sources: &'a [Source]) -> Option<&'a Source> {
    sources
        .iter()
        .find(|s| matches(wanted, s, true))
        .or_else(|| sources.iter().find(|s| matches(wanted, s, false)))
}

/// Names of the files `source` needs besides itself (extents, parent), as stored.
fn referenced(source: &Source) -> Vec<String> {
    let mut names = vmdk::referenced_names(source);
    names.extend(vhd::referenced_names(source));
    names
}

/// Puts first the selected file that none of the others refers to, when
/// the first one is referred to by another (e.g. an extent picked before its
/// descriptor, a parent before its child). Otherwise keeps the order.
pub fn choose_top(main: Source, mut others: Vec<Source>) -> (Source, Vec<Source>) {
    if others.is_empty() {
        return (main, others);
    }
    let mut all = Vec::with_capacity(others.len().saturating_add(1));
    all.push(main);
    all.append(&mut others);
    let mut named = vec![false; all.len()];
    for (j, s) in all.iter().enumerate() {
        for n in referenced(s) {
            for (i, o) in all.iter().enumerate() {
                if i != j && matches(&n, o, false) {
                    named[i] = true;
                }
            }
        }
    }
    if named[0] {
        if let Some(top) = named.iter().position(|n| !n) {
            let first = all.remove(top);
            return (first, all);
        }
    }
    let first = all.remove(0);
    (first, all)
}

/// Fills `buf` with what a child disk does not hold at `pos`: its parent's
/// bytes, zeros past the parent's end (a parent may be smaller), or zeros
/// when there is no parent.
pub fn read_parent_or_zeros(parent: Option<&Reader>, pos: u64, buf: &mut [u8]) -> Result<()> {
    buf.fill(0);
    if let Some(p) = parent {
        let n = usize::try_from(p.size().saturating_sub(pos)).unwrap_or(usize::MAX).min(buf.len());
        if n > 0 {
            p.read_exact_at(pos, &mut buf[..n]).map_err(|e| e.context("reading the parent disk"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_drop_any_path() {
        assert_eq!(base_name(r"C:\VMs\base.vhd"), "base.vhd");
        assert_eq!(base_name(r".\base.vhd"), "base.vhd");
        assert_eq!(base_name("file:///Users/me/base.vhd"), "base.vhd");
        assert_eq!(base_name("\"disk-s001.vmdk\""), "disk-s001.vmdk");
        assert_eq!(base_name("plain"), "plain");
    }
}
