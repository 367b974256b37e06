//! Finding a backing or parent file among the files the user selected.
//!
//! qcow2 stores its backing file's path, VHDX a parent locator with
//! relative and absolute paths; both were written on another machine, so
//! only the last path component (split on `/` and `\`) is compared with the
//! selected files' names, exactly first, then ignoring ASCII case (Windows
//! names). VDI matches by UUID instead ([`take_where`]).
//!
//! A file is taken out of the pool when it is used, so a chain can never
//! visit the same file twice; [`MAX_CHAIN_DEPTH`] bounds it anyway.

use super::detect::open_layer;
use super::{qcow2, vdi, vhdx, Disk, Source};
use crate::error::Result;

/// Most layers opened below one disk (overlay → backing → backing …): the
/// same bound VMDK and VHD parents have.
pub use super::parents::MAX_CHAIN_DEPTH;

/// The last component of a path written by any OS.
pub fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Removes and returns the selected file whose name is `path`'s basename.
pub fn take_by_name(pool: &mut Vec<Source>, path: &str) -> Option<Source> {
    let want = basename(path);
    if want.is_empty() {
        return None;
    }
    let i = pool
        .iter()
        .position(|s| s.name == want)
        .or_else(|| pool.iter().position(|s| s.name.eq_ignore_ascii_case(want)))?;
    Some(pool.remove(i))
}

/// Removes and returns the first selected file `matches` accepts.
pub fn take_where(pool: &mut Vec<Source>, mut matches: impl FnMut(&Source) -> bool) -> Option<Source> {
    let i = pool.iter().position(&mut matches)?;
    Some(pool.remove(i))
}

/// Opens the top of a chain when several layered images were selected.
///
/// The page passes the picked files sorted by name and a CLI user may name
/// the base first, so the main file is not always the top. Each selected
/// qcow2/VHDX/VDI is tried as the top with the others as its pool; the one
/// that uses the most files wins (the given main file on a tie). `None`
/// when no candidate uses more than itself: the caller opens `main` as is.
pub fn open_top(main: &Source, others: &[Source]) -> Option<Disk> {
    let layered = |s: &Source| qcow2::probe(&*s.reader) || vhdx::probe(&*s.reader) || vdi::probe(&*s.reader);
    let all: Vec<&Source> = std::iter::once(main).chain(others.iter()).collect();
    if others.is_empty() || !all.iter().any(|s| layered(s)) {
        return None;
    }
    let mut best: Option<Disk> = None;
    for i in 0..all.len() {
        if !layered(all[i]) {
            continue;
        }
        let pool: Vec<Source> = all.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, s)| (*s).clone()).collect();
        let opened: Result<Disk> = open_layer(all[i].clone(), pool, 0);
        if let Ok(d) = opened {
            if best.as_ref().is_none_or(|b| d.parts.len() > b.parts.len()) {
                best = Some(d);
            }
        }
    }
    let mut best = best.filter(|b| b.parts.len() > 1)?;
    if best.parts[0] != main.name {
        best.notes.insert(
            0,
            format!("{} was opened as the top of the chain: it refers to {}", best.parts[0], best.parts[1..].join(", ")),
        );
    }
    Some(best)
}

/// "1.5 GiB": sizes in info lines.
#[allow(clippy::arithmetic_side_effects)] // unit <= 5, so the shifts stay below 64
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0usize;
    while unit + 1 < UNITS.len() && bytes >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    let scale = 1u64 << (10 * unit);
    if bytes.is_multiple_of(scale) {
        return format!("{} {}", bytes / scale, UNITS[unit]);
    }
    // Not a round number: one decimal.
    #[allow(clippy::cast_precision_loss)]
    let v = bytes as f64 / scale as f64;
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;
    use std::rc::Rc;

    fn src(name: &str) -> Source {
        Source { name: name.into(), reader: Rc::new(MemReader::new(vec![])) }
    }

    #[test]
    fn matches_the_basename_of_any_path() {
        let mut pool = vec![src("a.qcow2"), src("Base.VHDX")];
        assert_eq!(take_by_name(&mut pool, "/var/lib/images/a.qcow2").unwrap().name, "a.qcow2");
        assert_eq!(take_by_name(&mut pool, "C:\\VMs\\base.vhdx").unwrap().name, "Base.VHDX");
        assert!(pool.is_empty());
        assert!(take_by_name(&mut vec![src("x")], "dir/").is_none());
    }

    #[test]
    fn sizes_read_short() {
        assert_eq!(human_bytes(64 << 10), "64 KiB");
        assert_eq!(human_bytes(10 << 30), "10 GiB");
        assert_eq!(human_bytes(1536 << 20), "1.5 GiB");
        assert_eq!(human_bytes(100), "100 B");
    }
}
