//! Inline data: small files and directories stored inside the inode.
//!
//! Follows Documentation/filesystems/ext4/inlinedata.rst ("Inline Data"):
//! the first 60 bytes live in `i_block`, the rest in the value of the
//! `system.data` extended attribute (name index 7, name "data") in the
//! inode's extra space. Inline directories start with the parent's inode
//! number (4 bytes), then directory entries fill the rest of `i_block`;
//! the xattr value holds further entries.

use super::dir;
use super::inode::Inode;
use super::xattr;
use crate::error::Result;
use crate::fs::DirEntry;

const EXT4_XATTR_INDEX_SYSTEM: u8 = 7;
/// Bytes of `i_block`.
const EXT4_MIN_INLINE_DATA_SIZE: u64 = 60;
/// The parent inode number at the start of an inline directory.
const EXT4_INLINE_DOTDOT_SIZE: usize = 4;

/// The two parts of an inode's inline data: `i_block` and `system.data`.
pub(crate) fn parts(inode: &Inode) -> Result<(&[u8], Vec<u8>)> {
    let extra = xattr::find_in_inode(&inode.xattr_area, EXT4_XATTR_INDEX_SYSTEM, b"data")?.unwrap_or_default();
    Ok((&inode.i_block[..], extra))
}

/// A file's inline bytes, `i_block` then `system.data`, cut to the file size.
pub(crate) fn file_bytes(inode: &Inode) -> Result<Vec<u8>> {
    let (head, tail) = parts(inode)?;
    let mut all = head.to_vec();
    all.extend_from_slice(&tail);
    let size = usize::try_from(inode.size).unwrap_or(usize::MAX);
    all.truncate(size);
    Ok(all)
}

/// An inline directory's entries: those in `i_block` after the parent's
/// inode number, then those in `system.data`, each region parsed on its own.
pub(crate) fn dir_entries(inode: &Inode, filetype: bool) -> Result<Vec<Result<DirEntry>>> {
    let (head, tail) = parts(inode)?;
    let mut items = dir::parse_block(head.get(EXT4_INLINE_DOTDOT_SIZE..).unwrap_or(&[]), filetype, 4);
    if !tail.is_empty() {
        items.extend(dir::parse_block(&tail, filetype, EXT4_MIN_INLINE_DATA_SIZE));
    }
    Ok(items)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn entry(b: &mut Vec<u8>, inode: u32, rec_len: u16, name: &[u8]) {
        let start = b.len();
        b.extend_from_slice(&inode.to_le_bytes());
        b.extend_from_slice(&rec_len.to_le_bytes());
        b.push(name.len() as u8);
        b.push(1);
        b.extend_from_slice(name);
        b.resize(start + usize::from(rec_len), 0);
    }

    /// A 256-byte inode with `i_block` and a system.data value.
    fn inline_inode(size: u32, i_block: &[u8], data: &[u8]) -> Inode {
        let mut b = vec![0u8; 256];
        b[0..2].copy_from_slice(&0o040755u16.to_le_bytes());
        b[0x4..0x8].copy_from_slice(&size.to_le_bytes());
        b[0x20..0x24].copy_from_slice(&0x1000_0000u32.to_le_bytes());
        b[0x28..0x28 + i_block.len()].copy_from_slice(i_block);
        b[0x80..0x82].copy_from_slice(&32u16.to_le_bytes());
        // xattr area at 160: magic, one entry "data" (index 7), terminator, value.
        let mut a = 0xEA02_0000u32.to_le_bytes().to_vec();
        a.extend_from_slice(&[4, 7]);
        a.extend_from_slice(&24u16.to_le_bytes()); // value after entry (20) + terminator (4)
        a.extend_from_slice(&0u32.to_le_bytes());
        a.extend_from_slice(&(data.len() as u32).to_le_bytes());
        a.extend_from_slice(&0u32.to_le_bytes());
        a.extend_from_slice(b"data");
        a.extend_from_slice(&[0; 4]);
        a.extend_from_slice(data);
        b[160..160 + a.len()].copy_from_slice(&a);
        Inode::from_bytes(&b).unwrap()
    }

    #[test]
    fn inline_directories_span_i_block_and_system_data() {
        let mut head = 2u32.to_le_bytes().to_vec();
        entry(&mut head, 12, 16, b"first");
        entry(&mut head, 13, 40, b"second");
        let mut tail = Vec::new();
        entry(&mut tail, 14, 16, b"third");
        entry(&mut tail, 0, 16, b"");
        let inode = inline_inode(92, &head, &tail);
        let names: Vec<Vec<u8>> = dir_entries(&inode, true).unwrap().into_iter().map(|e| e.unwrap().name).collect();
        assert_eq!(names, vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]);
    }

    #[test]
    fn inline_files_join_both_parts_up_to_the_size() {
        let head: Vec<u8> = (0..60).collect();
        let inode = inline_inode(70, &head, &[100; 20]);
        let bytes = file_bytes(&inode).unwrap();
        assert_eq!(bytes.len(), 70);
        assert_eq!(bytes[59], 59);
        assert_eq!(bytes[60..], [100; 10]);
    }

    #[test]
    fn damaged_inline_directories_report_errors() {
        let mut head = 2u32.to_le_bytes().to_vec();
        entry(&mut head, 12, 56, b"only");
        head[8] = 3; // rec_len 3
        let inode = inline_inode(60, &head, &[]);
        let items = dir_entries(&inode, true).unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0].as_ref().unwrap_err().to_string().contains("byte 0x4"));
    }
}
