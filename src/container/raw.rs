//! Raw disks: one plain file, or a split raw image.
//!
//! Split raw images are numbered pieces of one disk, cut at arbitrary sizes:
//! `disk.000, disk.001, …` or `disk.001, disk.002, …` (FTK, `split -d`,
//! dfvfs's `.splitraw.000`). They are recognised by a numeric suffix of at
//! least three digits shared by the main file and the selected companions;
//! the pieces are read in numeric order, and a gap in the numbering is
//! reported rather than silently closed.

use std::rc::Rc;

use super::{Disk, Source};
use crate::error::{Error, Result};
use crate::read_at::{check_range, ReadAt, Reader};

/// Splits `name.NNN` into (`name`, NNN) when the suffix is 3+ digits.
fn split_suffix(name: &str) -> Option<(&str, u32, usize)> {
    let (stem, digits) = name.rsplit_once('.')?;
    if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem, digits.parse().ok()?, digits.len()))
}

/// Opens `main` as a raw disk, joined with numbered companions when it is
/// a split piece.
pub fn open(main: Source, others: Vec<Source>) -> Result<Disk> {
    let Some((stem, _, width)) = split_suffix(&main.name) else {
        let mut notes = Vec::new();
        if !others.is_empty() {
            let names: Vec<&str> = others.iter().map(|s| s.name.as_str()).collect();
            notes.push(format!("ignored the other selected files ({}): a plain raw disk is one file", names.join(", ")));
        }
        return Ok(Disk { format: "raw".into(), parts: vec![main.name.clone()], reader: main.reader, notes, details: Vec::new() });
    };
    let stem = stem.to_string();
    let mut pieces = vec![main];
    let mut notes = Vec::new();
    for s in others {
        match split_suffix(&s.name) {
            Some((st, _, w)) if st == stem && w == width => pieces.push(s),
            _ => notes.push(format!("ignored {}: it is not a piece of {stem}", s.name)),
        }
    }
    pieces.sort_by_key(|s| split_suffix(&s.name).map(|(_, n, _)| n));
    let numbers: Vec<u32> = pieces.iter().filter_map(|s| split_suffix(&s.name).map(|(_, n, _)| n)).collect();
    for pair in numbers.windows(2) {
        if pair[1] == pair[0] {
            return Err(Error::invalid(format!("piece {:0width$} of {stem} was selected twice", pair[0], width = width)));
        }
        if pair[1] != pair[0] + 1 {
            return Err(Error::not_found(format!(
                "piece {:0width$} of the split image {stem} is missing: select every piece together",
                pair[0] + 1,
                width = width
            )));
        }
    }
    if pieces.len() == 1 {
        if numbers.first().is_some_and(|n| *n <= 1) {
            notes.push(format!(
                "{} looks like the first piece of a split image; if there are more pieces, select them together",
                pieces[0].name
            ));
        }
        let only = pieces.remove(0);
        return Ok(Disk { format: "raw".into(), parts: vec![only.name], reader: only.reader, notes, details: Vec::new() });
    }
    let parts = pieces.iter().map(|s| s.name.clone()).collect();
    let reader: Reader = Rc::new(Concat::new(pieces.into_iter().map(|s| s.reader).collect()));
    Ok(Disk { format: "split raw".into(), parts, reader, notes, details: Vec::new() })
}

/// Several readers end to end.
pub struct Concat {
    parts: Vec<Reader>,
    /// Start offset of each part; `starts[i] + parts[i].size() == starts[i+1]`.
    starts: Vec<u64>,
    size: u64,
}

impl Concat {
    pub fn new(parts: Vec<Reader>) -> Self {
        let mut starts = Vec::with_capacity(parts.len());
        let mut size = 0u64;
        for p in &parts {
            starts.push(size);
            size = size.saturating_add(p.size());
        }
        Self { parts, starts, size }
    }
}

impl ReadAt for Concat {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            // The last part starting at or before pos.
            let i = self.starts.partition_point(|s| *s <= pos).saturating_sub(1);
            let part = &self.parts[i];
            let within = pos - self.starts[i];
            let n = usize::try_from(part.size() - within).unwrap_or(usize::MAX).min(buf.len() - done);
            if n == 0 {
                // An empty part: move on (starts are equal, partition_point skips it next time).
                return Err(Error::io("split image piece is empty").at_offset(pos));
            }
            part.read_exact_at(within, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    fn src(name: &str, data: &[u8]) -> Source {
        Source { name: name.into(), reader: Rc::new(MemReader::new(data.to_vec())) }
    }

    #[test]
    fn joins_pieces_in_numeric_order() {
        let disk = open(src("d.002", b"cd"), vec![src("d.003", b"efg"), src("d.001", b"ab")]).unwrap();
        assert_eq!(disk.format, "split raw");
        assert_eq!(disk.parts, ["d.001", "d.002", "d.003"]);
        let mut buf = [0; 7];
        disk.reader.read_exact_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"abcdefg");
        let mut buf = [0; 3];
        disk.reader.read_exact_at(1, &mut buf).unwrap();
        assert_eq!(&buf, b"bcd");
    }

    #[test]
    fn names_a_missing_piece() {
        let e = open(src("d.000", b"a"), vec![src("d.002", b"c")]).err().unwrap();
        assert_eq!(e.to_string(), "piece 001 of the split image d is missing: select every piece together");
    }

    #[test]
    fn a_lone_first_piece_says_so() {
        let disk = open(src("x.splitraw.000", b"abc"), vec![]).unwrap();
        assert_eq!(disk.format, "raw");
        assert!(disk.notes[0].contains("first piece of a split image"));
    }

    #[test]
    fn plain_files_are_raw() {
        let disk = open(src("server.img", b"abc"), vec![]).unwrap();
        assert_eq!(disk.format, "raw");
        assert_eq!(disk.reader.size(), 3);
    }
}
