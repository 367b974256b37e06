//! A file's block mapping, whichever way the inode stores it.
//!
//! Not an on-disk structure of its own: it unifies the extent tree
//! (Documentation/filesystems/ext4/ifork.rst, "Extent Tree") and the block
//! map ("Direct/Indirect Block Addressing") behind one lookup that returns
//! runs, so `read_at` issues one disk read per contiguous run.

use super::extent::Extent;

/// Consecutive file blocks `[logical, logical + len)` that are either
/// consecutive disk blocks from `physical`, or zeros (`None`: a hole or an
/// unwritten extent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub logical: u64,
    pub len: u64,
    pub physical: Option<u64>,
}

/// The run of a sorted extent list around file block `logical`.
pub(crate) fn extent_run(extents: &[Extent], logical: u64) -> Run {
    // The last extent starting at or before `logical`.
    let idx = extents.partition_point(|e| e.logical <= logical);
    if let Some(e) = idx.checked_sub(1).and_then(|i| extents.get(i)) {
        let end = e.logical.saturating_add(e.len);
        if logical < end {
            let into = logical.saturating_sub(e.logical);
            let len = end.saturating_sub(logical);
            let physical = if e.unwritten { None } else { Some(e.physical.saturating_add(into)) };
            return Run { logical, len, physical };
        }
    }
    // A hole up to the next extent (or forever).
    let next = extents.get(idx).map_or(u64::MAX, |e| e.logical);
    Run { logical, len: next.saturating_sub(logical).max(1), physical: None }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn finds_extents_holes_and_unwritten_runs() {
        let ex = [
            Extent { logical: 0, len: 4, physical: 100, unwritten: false },
            Extent { logical: 10, len: 2, physical: 200, unwritten: true },
        ];
        assert_eq!(extent_run(&ex, 1), Run { logical: 1, len: 3, physical: Some(101) });
        assert_eq!(extent_run(&ex, 4), Run { logical: 4, len: 6, physical: None });
        assert_eq!(extent_run(&ex, 11), Run { logical: 11, len: 1, physical: None });
        assert_eq!(extent_run(&ex, 12).physical, None);
        assert_eq!(extent_run(&[], 5).physical, None);
    }
}
