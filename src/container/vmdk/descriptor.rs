//! The VMDK text descriptor (VMware Virtual Disk Format 1.1, section
//! "The Descriptor File"): `key=value` lines, extent lines, and the disk
//! database (`ddb.*`), which Salvage does not need.
//!
//! ```text
//! # Disk DescriptorFile
//! version=1
//! CID=fffffffe
//! parentCID=ffffffff
//! createType="twoGbMaxExtentSparse"
//! RW 4192256 SPARSE "disk-s001.vmdk"
//! RW 2048 FLAT "disk-flat.vmdk" 0
//! RDONLY 1000 ZERO
//! ```
//!
//! Parsing is lenient about spacing and unknown keys (writers differ), and
//! strict about extent lines: an extent that cannot be understood is an
//! error, since skipping it would shift every later byte of the disk.

use crate::error::{Error, Result};

/// Most extents accepted in one descriptor (a 2 GiB-split 64 TiB disk has 32768).
pub const MAX_EXTENTS: usize = 65_536;

/// Largest descriptor text read, embedded or separate.
pub const MAX_DESCRIPTOR_BYTES: u64 = 1 << 20;

/// `parentCID` of a disk without a parent.
pub const NO_PARENT_CID: u32 = 0xffff_ffff;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtentKind {
    /// Plain bytes at an offset of a file (`FLAT`, and ESX's `VMFS`).
    Flat,
    /// A hosted sparse extent (`SPARSE`): header, grain directory, grains.
    Sparse,
    /// Reads as zeros, has no file.
    Zero,
    /// ESX formats Salvage does not read: `VMFSSPARSE` (COWD),
    /// `SESPARSE`, raw device mappings (`VMFSRDM`, `VMFSRAW`).
    Unsupported,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtentLine {
    /// `RW`, `RDONLY` or `NOACCESS`.
    pub access: String,
    pub size_sectors: u64,
    /// The type word as written (`FLAT`, `VMFS`, …).
    pub type_name: String,
    pub kind: ExtentKind,
    /// The extent file as stored (possibly with a path); none for `ZERO`.
    pub file_name: Option<String>,
    /// Where the extent starts in its file (flat extents).
    pub offset_sectors: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub create_type: Option<String>,
    pub cid: Option<u32>,
    pub parent_cid: Option<u32>,
    pub parent_file_name_hint: Option<String>,
    pub extents: Vec<ExtentLine>,
}

impl Descriptor {
    /// The parent's stored name, when this disk is a child (delta) disk.
    pub fn parent(&self) -> Option<&str> {
        match self.parent_cid {
            Some(cid) if cid != NO_PARENT_CID => self.parent_file_name_hint.as_deref().or(Some("")),
            _ => None,
        }
    }

    /// Parses descriptor text (NULs after the text, as in an embedded
    /// descriptor's padding, end it).
    pub fn parse(bytes: &[u8]) -> Result<Descriptor> {
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        let text = String::from_utf8_lossy(&bytes[..end]);
        let mut d = Descriptor::default();
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let first = line.split_whitespace().next().unwrap_or("");
            if matches!(first, "RW" | "RDONLY" | "NOACCESS") {
                if d.extents.len() >= MAX_EXTENTS {
                    return Err(Error::corrupt(format!("the VMDK descriptor lists more than {MAX_EXTENTS} extents")));
                }
                let e = parse_extent(line)
                    .ok_or_else(|| Error::corrupt(format!("line {} of the VMDK descriptor is not an extent line Salvage understands: {line:?}", number.saturating_add(1))))?;
                d.extents.push(e);
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = unquote(value.trim());
            match key.trim() {
                "createType" => d.create_type = Some(value.to_string()),
                "CID" => d.cid = u32::from_str_radix(value, 16).ok(),
                "parentCID" => d.parent_cid = u32::from_str_radix(value, 16).ok(),
                "parentFileNameHint" => d.parent_file_name_hint = Some(value.to_string()),
                _ => {}
            }
        }
        Ok(d)
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

/// `ACCESS SIZE TYPE ["FILE" [OFFSET]]`; the file name may hold spaces.
fn parse_extent(line: &str) -> Option<ExtentLine> {
    let (access, rest) = split_word(line)?;
    let access = access.to_string();
    let (size_word, rest) = split_word(rest.trim_start())?;
    let size_sectors: u64 = size_word.parse().ok()?;
    let (type_name, rest) = split_word(rest.trim_start())?;
    let kind = match type_name {
        "FLAT" | "VMFS" => ExtentKind::Flat,
        "SPARSE" => ExtentKind::Sparse,
        "ZERO" => ExtentKind::Zero,
        "VMFSSPARSE" | "SESPARSE" | "VMFSRDM" | "VMFSRAW" => ExtentKind::Unsupported,
        _ => return None,
    };
    let rest = rest.trim();
    let (file_name, rest) = if let Some(quoted) = rest.strip_prefix('"') {
        let (name, after) = quoted.split_once('"')?;
        (Some(name.to_string()), after.trim())
    } else {
        (None, rest)
    };
    let offset_sectors = if rest.is_empty() { 0 } else { rest.split_whitespace().next()?.parse().ok()? };
    if file_name.is_none() && kind != ExtentKind::Zero {
        return None;
    }
    Some(ExtentLine { access, size_sectors, type_name: type_name.to_string(), kind, file_name, offset_sectors })
}

fn split_word(s: &str) -> Option<(&str, &str)> {
    if s.is_empty() {
        return None;
    }
    Some(s.split_once(char::is_whitespace).unwrap_or((s, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_extents() {
        let text = b"# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentFlat\"\n\n# Extent description\nRW 4192256 FLAT \"my disk-f001.vmdk\" 0\nRW  2048   SPARSE \"d-s002.vmdk\"\nRDONLY 100 ZERO\nRW 8 VMFS \"x-flat.vmdk\" 16\n\nddb.adapterType = \"ide\"\n\0\0\0";
        let d = Descriptor::parse(text).unwrap();
        assert_eq!(d.create_type.as_deref(), Some("twoGbMaxExtentFlat"));
        assert_eq!(d.cid, Some(0x1234_5678));
        assert_eq!(d.parent(), None);
        assert_eq!(d.extents.len(), 4);
        assert_eq!(d.extents[0].file_name.as_deref(), Some("my disk-f001.vmdk"));
        assert_eq!(d.extents[0].size_sectors, 4_192_256);
        assert_eq!(d.extents[1].kind, ExtentKind::Sparse);
        assert_eq!(d.extents[1].size_sectors, 2048);
        assert_eq!(d.extents[2].kind, ExtentKind::Zero);
        assert_eq!(d.extents[2].file_name, None);
        assert_eq!((d.extents[3].kind, d.extents[3].offset_sectors), (ExtentKind::Flat, 16));
    }

    #[test]
    fn a_child_names_its_parent() {
        let d = Descriptor::parse(b"parentCID=0000abcd\nparentFileNameHint=\"C:\\VMs\\base.vmdk\"\n").unwrap();
        assert_eq!(d.parent(), Some("C:\\VMs\\base.vmdk"));
    }

    #[test]
    fn refuses_unknown_extent_lines() {
        let e = Descriptor::parse(b"RW 100 WEIRD \"a\"\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1 of the VMDK descriptor is not an extent line Salvage understands: \"RW 100 WEIRD \\\"a\\\"\"");
        assert!(Descriptor::parse(b"RW x FLAT \"a\"\n").is_err());
        assert!(Descriptor::parse(b"RW 100 FLAT\n").is_err());
    }
}
