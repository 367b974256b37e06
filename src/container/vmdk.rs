//! VMDK: VMware virtual disks (VMware Virtual Disk Format 1.1).
//!
//! A VMDK is a text [descriptor](descriptor) listing extents, each a range
//! of the virtual disk stored somewhere:
//! - `monolithicSparse`, `streamOptimized`: one [sparse](sparse) file with
//!   the descriptor embedded after its header;
//! - `monolithicFlat`, `twoGbMaxExtentSparse`, `twoGbMaxExtentFlat`, and
//!   ESX's `vmfs`/`vmfsThin` (`VMFS` extents): a small descriptor file plus
//!   extent files, which the user selects together; they are matched by the
//!   names the descriptor stores (see [`super::parents`]);
//! - `ZERO` extents, which have no file.
//!
//! A child (delta) disk names its parent (`parentFileNameHint`); its
//! unallocated grains read from the parent when it is selected too.
//! Unallocated grains of a disk without a parent read as zeros.
//!
//! Deviation from the spec: a GT entry of 1 always means a zero grain
//! (the spec ties it to a header flag; no real grain can sit at sector 1,
//! inside the header).

pub mod descriptor;
pub mod sparse;
pub mod stream_scan;

use std::rc::Rc;

use self::descriptor::{Descriptor, ExtentKind, MAX_DESCRIPTOR_BYTES};
use self::sparse::{Grain, SparseExtent, SparseHeader};
use super::parents::{self, MAX_CHAIN_DEPTH};
use super::{human_size, Disk, Source};
use crate::error::{Error, Result};
use crate::read_at::{check_range, read_vec, ReadAt, Reader};

const SECTOR: u64 = 512;
const DESCRIPTOR_SIGNATURE: &[u8] = b"# Disk DescriptorFile";
/// ESX's own sparse format (`VMFSSPARSE` extents), not read.
const COWD_MAGIC: &[u8; 4] = b"COWD";

/// What kind of VMDK file `source` is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Sparse,
    Descriptor,
    Cowd,
}

pub fn probe(source: &Source) -> Option<Probe> {
    let r = &*source.reader;
    let head = read_vec(r, 0, usize::try_from(r.size().min(1024)).unwrap_or(0)).ok()?;
    if head.starts_with(sparse::MAGIC) {
        return Some(Probe::Sparse);
    }
    if head.starts_with(COWD_MAGIC) {
        return Some(Probe::Cowd);
    }
    // A separate descriptor is a small text file.
    if r.size() <= MAX_DESCRIPTOR_BYTES && head.windows(DESCRIPTOR_SIGNATURE.len()).any(|w| w == DESCRIPTOR_SIGNATURE) {
        return Some(Probe::Descriptor);
    }
    None
}

/// The descriptor of `source` (a descriptor file, or a sparse file with an
/// embedded one), if it has one.
fn read_descriptor(source: &Source, kind: Probe) -> Result<Option<Descriptor>> {
    let r = &*source.reader;
    let text = match kind {
        Probe::Descriptor => Some(read_vec(r, 0, usize::try_from(r.size()).unwrap_or(0))?),
        Probe::Sparse => SparseHeader::read(r, 0)?.descriptor(r)?,
        Probe::Cowd => None,
    };
    text.map(|t| Descriptor::parse(&t)).transpose()
}

/// Names of the extent and parent files `source` refers to (for choosing
/// which selected file to open first).
pub fn referenced_names(source: &Source) -> Vec<String> {
    let Some(kind) = probe(source) else { return Vec::new() };
    let Ok(Some(d)) = read_descriptor(source, kind) else { return Vec::new() };
    let mut names: Vec<String> = d.extents.iter().filter_map(|e| e.file_name.clone()).collect();
    names.extend(d.parent().map(String::from));
    names.retain(|n| parents::base_name(n) != source.name);
    names
}

/// Opens the VMDK whose descriptor (or sparse file) is `main`.
pub fn open(main: Source, others: Vec<Source>) -> Result<Disk> {
    let mut used = vec![main.name.clone()];
    let vmdk = open_chain(&main, &others, 0, &mut used)?;
    let mut notes = vmdk.notes;
    let ignored: Vec<&str> = others.iter().map(|s| s.name.as_str()).filter(|n| !used.iter().any(|u| u == n)).collect();
    if !ignored.is_empty() {
        notes.push(format!("ignored the other selected files ({}): this VMDK does not refer to them", ignored.join(", ")));
    }
    let stored: u64 = used.iter().filter_map(|n| find_source(n, &main, &others)).map(|s| s.reader.size()).sum();
    let reader: Reader = Rc::new(vmdk.disk);
    let details = vec![
        ("subformat".to_string(), vmdk.subformat.clone()),
        ("stored".to_string(), format!("{} in {} file(s)", human_size(stored), used.len())),
    ];
    Ok(Disk { format: format!("VMDK {}", vmdk.subformat), reader, parts: used, notes, details })
}

fn find_source<'a>(name: &str, main: &'a Source, others: &'a [Source]) -> Option<&'a Source> {
    if main.name == name { Some(main) } else { others.iter().find(|s| s.name == name) }
}

struct Opened {
    disk: VmdkDisk,
    subformat: String,
    notes: Vec<String>,
}

/// Opens `main` and, through its parent hint, its ancestors.
fn open_chain(main: &Source, others: &[Source], depth: usize, used: &mut Vec<String>) -> Result<Opened> {
    let kind = probe(main).ok_or_else(|| Error::corrupt(format!("{} is not a VMDK file", main.name)))?;
    if kind == Probe::Cowd {
        return Err(Error::unsupported(format!(
            "{} is an ESX sparse extent (COWD, VMFSSPARSE); Salvage reads hosted sparse, stream-optimized and flat VMDKs only",
            main.name
        )));
    }
    let mut notes = Vec::new();
    let descriptor = match read_descriptor(main, kind) {
        Ok(d) => d,
        Err(e) if kind == Probe::Sparse => {
            notes.push(format!("{}: the embedded descriptor can't be used ({e}); reading the sparse extent alone", main.name));
            None
        }
        Err(e) => return Err(e.context(format!("reading the VMDK descriptor {}", main.name))),
    };
    let Some(d) = descriptor.filter(|d| !d.extents.is_empty()) else {
        // A sparse file without a (usable) descriptor: itself is the disk.
        let extent = SparseExtent::open(main.reader.clone(), &main.name)?;
        let subformat = extent.subformat_hint().to_string();
        if kind == Probe::Sparse && extent.header.descriptor_offset_sectors == 0 {
            notes.push(format!(
                "{} is one extent of a VMDK without its descriptor; if it belongs to a larger disk, select the descriptor .vmdk and all extents together",
                main.name
            ));
        }
        notes.extend(extent.notes.iter().cloned());
        let size = extent.capacity_bytes();
        return Ok(Opened { disk: VmdkDisk::new(vec![(size, Extent::Sparse(Box::new(extent)))], None)?, subformat, notes });
    };
    let subformat = d.create_type.clone().unwrap_or_else(|| "unknown type".into());
    let mut extents = Vec::with_capacity(d.extents.len());
    let mut missing = Vec::new();
    for line in &d.extents {
        let size = line.size_sectors.checked_mul(SECTOR).ok_or_else(|| Error::corrupt("an extent's size overflows"))?;
        let file = match &line.file_name {
            None => None,
            Some(stored) if parents::base_name(stored) == main.name || (kind == Probe::Sparse && d.extents.len() == 1) => {
                Some(main.clone())
            }
            Some(stored) => match parents::find(stored, others) {
                Some(s) => Some(s.clone()),
                None => {
                    missing.push(parents::base_name(stored).to_string());
                    continue;
                }
            },
        };
        if let Some(f) = &file {
            if !used.contains(&f.name) {
                used.push(f.name.clone());
            }
        }
        let extent = match (line.kind, file) {
            (ExtentKind::Zero, _) => Extent::Zero,
            (ExtentKind::Unsupported, _) => {
                return Err(Error::unsupported(format!(
                    "{}: {} extents (ESX sparse or raw device mappings) are not supported",
                    main.name, line.type_name
                )))
            }
            (_, None) => return Err(Error::corrupt(format!("{}: a {} extent names no file", main.name, line.type_name))),
            (ExtentKind::Flat, Some(f)) => {
                let offset = line.offset_sectors.checked_mul(SECTOR).ok_or_else(|| Error::corrupt("an extent's offset overflows"))?;
                let available = f.reader.size().saturating_sub(offset);
                if available < size {
                    notes.push(format!(
                        "{} holds {available} bytes from byte {offset}, but the descriptor says {size}: the rest of that extent can't be read",
                        f.name
                    ));
                }
                Extent::Flat { file: f.reader.clone(), offset }
            }
            (ExtentKind::Sparse, Some(f)) => {
                let e = SparseExtent::open(f.reader.clone(), &f.name)?;
                if e.capacity_bytes() < size {
                    notes.push(format!("{}: the sparse extent holds {} bytes, the descriptor says {size}; the rest reads as zeros", f.name, e.capacity_bytes()));
                }
                notes.extend(e.notes.iter().cloned());
                Extent::Sparse(Box::new(e))
            }
        };
        extents.push((size, extent));
    }
    if !missing.is_empty() {
        return Err(Error::not_found(format!(
            "{} needs these extent files, which were not selected: {}; select them together with {}",
            main.name,
            missing.join(", "),
            main.name
        )));
    }
    let parent = match d.parent() {
        None => None,
        Some(hint) => Some(open_parent(main, hint, d.parent_cid, others, depth, used, &mut notes)?),
    };
    Ok(Opened { disk: VmdkDisk::new(extents, parent)?, subformat, notes })
}

fn open_parent(
    main: &Source,
    hint: &str,
    parent_cid: Option<u32>,
    others: &[Source],
    depth: usize,
    used: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<Reader> {
    if depth >= MAX_CHAIN_DEPTH {
        return Err(Error::corrupt(format!("the chain of VMDK parents is more than {MAX_CHAIN_DEPTH} deep (a loop?)")));
    }
    let name = parents::base_name(hint);
    let parent = parents::find(hint, others).filter(|p| !used.contains(&p.name)).ok_or_else(|| {
        Error::not_found(format!(
            "{} is a child disk: its unwritten grains come from its parent {}, which was not selected; select it together with {}",
            main.name,
            if name.is_empty() { "(no name stored)" } else { name },
            main.name
        ))
    })?;
    used.push(parent.name.clone());
    let opened = open_chain(parent, others, depth.saturating_add(1), used).map_err(|e| e.context(format!("opening the parent {}", parent.name)))?;
    if let (Some(want), Ok(Some(got))) = (parent_cid, probe(parent).map(|k| read_descriptor(parent, k)).unwrap_or(Ok(None)).map(|d| d.and_then(|d| d.cid))) {
        if want != got {
            notes.push(format!(
                "{}: the parent {} has content id {got:08x}, but the child expects {want:08x}: the parent may have changed since, and bytes read from it may be wrong",
                main.name, parent.name
            ));
        }
    }
    notes.extend(opened.notes);
    Ok(Rc::new(opened.disk))
}

enum Extent {
    Flat { file: Reader, offset: u64 },
    Sparse(Box<SparseExtent>),
    Zero,
}

/// The virtual disk: extents end to end, with an optional parent for
/// grains a sparse extent does not hold.
pub struct VmdkDisk {
    extents: Vec<Extent>,
    /// Start of each extent in the virtual disk.
    starts: Vec<u64>,
    size: u64,
    parent: Option<Reader>,
}

impl VmdkDisk {
    fn new(list: Vec<(u64, Extent)>, parent: Option<Reader>) -> Result<VmdkDisk> {
        let mut starts = Vec::with_capacity(list.len());
        let mut extents = Vec::with_capacity(list.len());
        let mut size = 0u64;
        for (len, e) in list {
            starts.push(size);
            extents.push(e);
            size = size.checked_add(len).ok_or_else(|| Error::corrupt("the extents' sizes add up past 2^64 bytes"))?;
        }
        Ok(VmdkDisk { extents, starts, size, parent })
    }
}

impl ReadAt for VmdkDisk {
    fn size(&self) -> u64 {
        self.size
    }

    // No overflow: check_range bounds `offset + buf.len()` by the size, and
    // each piece stays inside its extent and `buf`.
    #[allow(clippy::arithmetic_side_effects)]
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let i = self.starts.partition_point(|s| *s <= pos).saturating_sub(1);
            let start = self.starts[i];
            let end = self.starts.get(i + 1).copied().unwrap_or(self.size);
            let within = pos - start;
            let mut n = usize::try_from(end - pos).unwrap_or(usize::MAX).min(buf.len() - done);
            if n == 0 {
                // An empty extent: the next one starts here.
                return Err(Error::io("VMDK extent layout is inconsistent").at_offset(pos));
            }
            match &self.extents[i] {
                Extent::Zero => buf[done..done + n].fill(0),
                Extent::Flat { file, offset: base } => {
                    let at = base.checked_add(within).ok_or_else(|| Error::corrupt("flat extent offset overflows"))?;
                    file.read_exact_at(at, &mut buf[done..done + n])?;
                }
                Extent::Sparse(s) => {
                    let index = within / s.grain_bytes;
                    let in_grain = within % s.grain_bytes;
                    n = n.min(usize::try_from(s.grain_bytes - in_grain).unwrap_or(usize::MAX));
                    let piece = &mut buf[done..done + n];
                    if within >= s.capacity_bytes() {
                        piece.fill(0);
                    } else {
                        match s.lookup(index).map_err(|e| e.at_offset(pos))? {
                            Grain::Unallocated => parents::read_parent_or_zeros(self.parent.as_ref(), pos, piece)?,
                            g => s.read_grain(index, g, in_grain, piece).map_err(|e| e.at_offset(pos))?,
                        }
                    }
                }
            }
            done += n;
        }
        Ok(())
    }
}

/// Opens `data` as a VMDK and reads a few ranges: for `cargo fuzz`.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    super::fuzz_open("fuzz.vmdk", data, |s| probe(s).is_some(), open);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    fn src(name: &str, data: Vec<u8>) -> Source {
        Source { name: name.into(), reader: Rc::new(MemReader::new(data)) }
    }

    #[test]
    fn an_esx_descriptor_joins_flat_and_zero_extents() {
        let text = b"# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\nRW 2 VMFS \"esx-flat.vmdk\"\nRDONLY 1 ZERO\nRW 1 FLAT \"esx-flat.vmdk\" 1\n";
        let flat: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
        let disk = open(src("esx.vmdk", text.to_vec()), vec![src("esx-flat.vmdk", flat.clone())]).unwrap();
        assert_eq!((disk.format.as_str(), disk.reader.size()), ("VMDK vmfs", 2048));
        assert_eq!(disk.parts, ["esx.vmdk", "esx-flat.vmdk"]);
        let mut b = vec![0u8; 2048];
        disk.reader.read_exact_at(0, &mut b).unwrap();
        assert_eq!(b[..1024], flat[..]);
        assert!(b[1024..1536].iter().all(|x| *x == 0));
        assert_eq!(b[1536..], flat[512..]);
    }

    #[test]
    fn a_short_flat_extent_is_reported_and_not_read_as_zeros() {
        let text = b"# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\nRW 4 FLAT \"d-flat.vmdk\" 0\n";
        let disk = open(src("d.vmdk", text.to_vec()), vec![src("d-flat.vmdk", vec![7; 1024])]).unwrap();
        assert_eq!(disk.notes, ["d-flat.vmdk holds 1024 bytes from byte 0, but the descriptor says 2048: the rest of that extent can't be read"]);
        assert!(disk.reader.read_exact_at(1000, &mut [0u8; 100]).is_err());
    }

    #[test]
    fn unsupported_extents_are_named() {
        let text = b"# Disk DescriptorFile\ncreateType=\"vmfsSparse\"\nRW 4 VMFSSPARSE \"d-delta.vmdk\"\n";
        let e = open(src("d.vmdk", text.to_vec()), vec![src("d-delta.vmdk", vec![0; 512])]).err().unwrap();
        assert_eq!(e.to_string(), "d.vmdk: VMFSSPARSE extents (ESX sparse or raw device mappings) are not supported");
    }
}
