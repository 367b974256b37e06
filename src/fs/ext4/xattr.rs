//! Extended attributes: in the inode's extra space and in one external block.
//!
//! Follows Documentation/filesystems/ext4/attributes.rst ("Extended
//! Attributes"): after `i_extra_isize` comes the 4-byte magic 0xEA020000,
//! then entries (e_name_len 0x0, e_name_index 0x1, e_value_offs 0x2,
//! e_value_inum 0x4, e_value_size 0x8, e_hash 0xC, e_name 0x10), each padded
//! to 4 bytes, ended by four zero bytes. In the inode, value offsets count
//! from the first entry; in the block `i_file_acl` names (a 32-byte header
//! with magic 0xEA020000 and h_blocks 1, entries from 0x20), from the block
//! start. A value in another inode (ea_inode, e_value_inum ≠ 0) is returned
//! as a reference for the caller to read through that inode.

use crate::bytes::{le16, le32, le8};
use crate::error::{Error, Result};

const EXT4_XATTR_MAGIC: u32 = 0xEA02_0000;
/// Bytes of the external block's header.
const XATTR_BLOCK_HEADER_BYTES: usize = 0x20;
/// Longest value Linux allows (XATTR_SIZE_MAX); longer ea_inode values are not read.
pub(crate) const MAX_VALUE_BYTES: u64 = 64 << 10;

/// Where an attribute's value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawValue {
    Bytes(Vec<u8>),
    /// In ea_inode `inode`, `size` bytes.
    InInode { inode: u32, size: u32 },
}

/// One attribute as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawXattr {
    pub name_index: u8,
    pub name: Vec<u8>,
    pub value: RawValue,
}

impl RawXattr {
    /// The full name with its namespace prefix, as `getfattr` shows it.
    pub fn full_name(&self) -> Vec<u8> {
        let prefix: String = match self.name_index {
            1 => "user.".into(),
            2 => "system.posix_acl_access".into(),
            3 => "system.posix_acl_default".into(),
            4 => "trusted.".into(),
            6 => "security.".into(),
            7 => "system.".into(),
            8 => "system.richacl".into(),
            n => format!("unknown-namespace-{n}."),
        };
        let mut out = prefix.into_bytes();
        out.extend_from_slice(&self.name);
        out
    }
}

/// Parses the entry table `entries`; values are found at offsets into
/// `values`. `what` names the place for messages ("the inode", "block 123").
fn parse_entries(entries: &[u8], values: &[u8], what: &str) -> Result<Vec<RawXattr>> {
    let mut out = Vec::new();
    let mut off = 0usize;
    // Each entry takes at least 16 bytes, so this ends.
    while off.saturating_add(16) <= entries.len() {
        if le32(entries, off) == 0 {
            break;
        }
        let e_name_len = le8(entries, off);
        let e_name_index = le8(entries, off.saturating_add(0x1));
        let e_value_offs = usize::from(le16(entries, off.saturating_add(0x2)));
        let e_value_inum = le32(entries, off.saturating_add(0x4));
        let e_value_size = le32(entries, off.saturating_add(0x8));
        let name_start = off.saturating_add(0x10);
        let name_end = name_start.saturating_add(usize::from(e_name_len));
        let e_name = entries
            .get(name_start..name_end)
            .ok_or_else(|| Error::corrupt(format!("extended attribute name at byte {off} runs past {what}")))?;
        let value = if e_value_inum != 0 {
            RawValue::InInode { inode: e_value_inum, size: e_value_size }
        } else {
            let size = usize::try_from(e_value_size).unwrap_or(usize::MAX);
            let end = e_value_offs.saturating_add(size);
            let v = values.get(e_value_offs..end).ok_or_else(|| {
                Error::corrupt(format!(
                    "extended attribute value ({e_value_size} bytes at {e_value_offs}) runs past {what}"
                ))
            })?;
            RawValue::Bytes(v.to_vec())
        };
        out.push(RawXattr { name_index: e_name_index, name: e_name.to_vec(), value });
        // Entries are padded to 4 bytes.
        off = name_end.saturating_add(3) & !3;
    }
    Ok(out)
}

/// The attributes in an inode's extra space (`area`: the bytes after
/// `i_extra_isize`); none when the magic is absent.
pub(crate) fn in_inode(area: &[u8]) -> Result<Vec<RawXattr>> {
    if area.len() < 4 || le32(area, 0) != EXT4_XATTR_MAGIC {
        return Ok(Vec::new());
    }
    let entries = area.get(4..).unwrap_or(&[]);
    parse_entries(entries, entries, "the inode")
}

/// The attributes of external block `block_nr` (its bytes in `block`).
pub(crate) fn in_block(block: &[u8], block_nr: u64) -> Result<Vec<RawXattr>> {
    let h_magic = le32(block, 0x0);
    let h_blocks = le32(block, 0x8);
    let what = format!("extended attribute block {block_nr}");
    if h_magic != EXT4_XATTR_MAGIC {
        return Err(Error::corrupt(format!("{what} has magic {h_magic:#x}, expected 0xea020000")));
    }
    if h_blocks != 1 {
        return Err(Error::corrupt(format!("{what} says it spans {h_blocks} blocks, expected 1")));
    }
    parse_entries(block.get(XATTR_BLOCK_HEADER_BYTES..).unwrap_or(&[]), block, &what)
}

/// The value of attribute `name` in namespace `name_index`, if present.
/// `area` is the inode's bytes after `i_extra_isize`.
pub(crate) fn find_in_inode(area: &[u8], name_index: u8, name: &[u8]) -> Result<Option<Vec<u8>>> {
    for x in in_inode(area)? {
        if x.name_index == name_index && x.name == name {
            return match x.value {
                RawValue::Bytes(v) => Ok(Some(v)),
                RawValue::InInode { inode, .. } => Err(Error::unsupported(format!(
                    "extended attribute value is stored in inode {inode} (ea_inode), which is not supported here"
                ))),
            };
        }
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    pub(crate) fn area_with(index: u8, name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut a = EXT4_XATTR_MAGIC.to_le_bytes().to_vec();
        let entry_len = (16 + name.len() + 3) & !3;
        let value_offs = entry_len + 4; // after the entry and the 4-byte terminator
        a.push(u8::try_from(name.len()).unwrap());
        a.push(index);
        a.extend_from_slice(&u16::try_from(value_offs).unwrap().to_le_bytes());
        a.extend_from_slice(&0u32.to_le_bytes());
        a.extend_from_slice(&u32::try_from(value.len()).unwrap().to_le_bytes());
        a.extend_from_slice(&0u32.to_le_bytes());
        a.extend_from_slice(name);
        a.resize(4 + entry_len + 4, 0);
        a.extend_from_slice(value);
        a
    }

    #[test]
    fn finds_system_data() {
        let a = area_with(7, b"data", b"hello");
        assert_eq!(find_in_inode(&a, 7, b"data").unwrap().unwrap(), b"hello");
        assert_eq!(find_in_inode(&a, 1, b"data").unwrap(), None);
        assert_eq!(find_in_inode(&[], 7, b"data").unwrap(), None);
    }

    #[test]
    fn names_get_their_namespace() {
        let a = area_with(1, b"comment", b"hi");
        let got = in_inode(&a).unwrap();
        assert_eq!(got[0].full_name(), b"user.comment");
        assert_eq!(got[0].value, RawValue::Bytes(b"hi".to_vec()));
        let a = area_with(2, b"", b"acl");
        assert_eq!(in_inode(&a).unwrap()[0].full_name(), b"system.posix_acl_access");
    }

    #[test]
    fn reads_an_external_block() {
        let mut b = vec![0u8; 1024];
        b[0..4].copy_from_slice(&EXT4_XATTR_MAGIC.to_le_bytes());
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        // One entry at 0x20: name "big", value 5 bytes at 1000.
        b[0x20] = 3;
        b[0x21] = 4;
        b[0x22..0x24].copy_from_slice(&1000u16.to_le_bytes());
        b[0x28..0x2C].copy_from_slice(&5u32.to_le_bytes());
        b[0x30..0x33].copy_from_slice(b"big");
        b[1000..1005].copy_from_slice(b"value");
        let got = in_block(&b, 9).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].full_name(), b"trusted.big");
        assert_eq!(got[0].value, RawValue::Bytes(b"value".to_vec()));
        b[0x22..0x24].copy_from_slice(&1022u16.to_le_bytes());
        assert!(in_block(&b, 9).unwrap_err().to_string().contains("runs past extended attribute block 9"));
        b[8] = 2;
        assert!(in_block(&b, 9).unwrap_err().to_string().contains("spans 2 blocks"));
        b[3] = 0;
        assert!(in_block(&b, 9).unwrap_err().to_string().contains("magic"));
        // An ea_inode reference.
        let mut a = area_with(1, b"x", b"");
        a[4 + 4..4 + 8].copy_from_slice(&77u32.to_le_bytes());
        a[4 + 8..4 + 12].copy_from_slice(&100_000u32.to_le_bytes());
        assert_eq!(in_inode(&a).unwrap()[0].value, RawValue::InInode { inode: 77, size: 100_000 });
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..2000 {
            let len = [0, 3, 16, 40, 100, 1024][round % 6];
            let mut b = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b.push((seed >> 24) as u8);
            }
            if len >= 12 && round % 2 == 0 {
                b[0..4].copy_from_slice(&EXT4_XATTR_MAGIC.to_le_bytes());
                b[8..12].copy_from_slice(&1u32.to_le_bytes());
            }
            let _ = in_inode(&b);
            let _ = in_block(&b, 1);
            let _ = super::super::dir::classify(&b, (round % 3) as u64, true);
            let _ = super::super::checksum::dir_leaf_problem(&b, 1);
            let _ = super::super::checksum::dx_problem(&b, round % 40, 1);
            let _ = super::super::checksum::extent_block_problem(&b, (round % 100) as u16, 1);
            let _ = super::super::checksum::xattr_block_problem(&b, 1, 1);
        }
    }

    #[test]
    fn values_past_the_inode_are_errors() {
        let mut a = area_with(7, b"data", b"hello");
        a.truncate(a.len() - 2);
        assert!(find_in_inode(&a, 7, b"data").unwrap_err().to_string().contains("runs past the inode"));
    }
}
