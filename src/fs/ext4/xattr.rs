//! In-inode extended attributes, as far as inline data needs them.
//!
//! Follows Documentation/filesystems/ext4/attributes.rst ("Extended
//! Attributes"): after `i_extra_isize` comes the 4-byte magic 0xEA020000,
//! then entries (e_name_len 0x0, e_name_index 0x1, e_value_offs 0x2,
//! e_value_inum 0x4, e_value_size 0x8, e_hash 0xC, e_name 0x10), each padded
//! to 4 bytes, ended by four zero bytes. Value offsets count from the first
//! entry. Values in other inodes (ea_inode) are not followed.

use super::bytes::{le16, le32, le8};
use crate::error::{Error, Result};

const EXT4_XATTR_MAGIC: u32 = 0xEA02_0000;

/// The value of attribute `name` in namespace `name_index`, if present.
/// `area` is the inode's bytes after `i_extra_isize`.
pub(crate) fn find_in_inode(area: &[u8], name_index: u8, name: &[u8]) -> Result<Option<Vec<u8>>> {
    if area.len() < 4 || le32(area, 0) != EXT4_XATTR_MAGIC {
        return Ok(None);
    }
    let entries = area.get(4..).unwrap_or(&[]);
    let mut off = 0usize;
    // Each entry takes at least 16 bytes, so this ends.
    while off.saturating_add(16) <= entries.len() {
        let e_name_len = le8(entries, off);
        let e_name_index = le8(entries, off.saturating_add(0x1));
        if e_name_len == 0 && e_name_index == 0 && le16(entries, off.saturating_add(0x2)) == 0 {
            break;
        }
        let e_value_offs = usize::from(le16(entries, off.saturating_add(0x2)));
        let e_value_inum = le32(entries, off.saturating_add(0x4));
        let e_value_size = usize::try_from(le32(entries, off.saturating_add(0x8))).unwrap_or(usize::MAX);
        let name_start = off.saturating_add(0x10);
        let name_end = name_start.saturating_add(usize::from(e_name_len));
        let e_name = entries
            .get(name_start..name_end)
            .ok_or_else(|| Error::corrupt(format!("extended attribute name at byte {off} runs past the inode")))?;
        if e_name_index == name_index && e_name == name {
            if e_value_inum != 0 {
                return Err(Error::unsupported(format!(
                    "extended attribute value is stored in inode {e_value_inum} (ea_inode), which is not supported"
                )));
            }
            let end = e_value_offs.saturating_add(e_value_size);
            let value = entries.get(e_value_offs..end).ok_or_else(|| {
                Error::corrupt(format!(
                    "extended attribute value ({e_value_size} bytes at {e_value_offs}) runs past the inode"
                ))
            })?;
            return Ok(Some(value.to_vec()));
        }
        // Entries are padded to 4 bytes.
        off = name_end.saturating_add(3) & !3;
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
    fn values_past_the_inode_are_errors() {
        let mut a = area_with(7, b"data", b"hello");
        a.truncate(a.len() - 2);
        assert!(find_in_inode(&a, 7, b"data").unwrap_err().to_string().contains("runs past the inode"));
    }
}
