//! Inline data: small files and directories stored inside the inode.
//!
//! Follows Documentation/filesystems/ext4/inlinedata.rst ("Inline Data"):
//! the first 60 bytes live in `i_block`, the rest in the value of the
//! `system.data` extended attribute (name index 7, name "data") in the
//! inode's extra space. Inline directories start with the parent's inode
//! number (4 bytes), then directory entries fill the rest of `i_block`;
//! the xattr value holds further entries.

use super::inode::Inode;
use super::xattr;
use crate::error::Result;

const EXT4_XATTR_INDEX_SYSTEM: u8 = 7;
/// Bytes of `i_block`.
pub(crate) const EXT4_MIN_INLINE_DATA_SIZE: usize = 60;

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
