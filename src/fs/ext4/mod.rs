//! ext2/ext3/ext4, our own reader. (Being written; see the ext4 issue.)

use crate::error::{Error, Result};
use crate::fs::{DirIter, FileSystem, FsInfo, Metadata};
use crate::read_at::Reader;

/// An opened ext2/3/4 filesystem.
pub struct Ext4Fs {
    _reader: Reader,
}

impl Ext4Fs {
    pub fn open(reader: Reader) -> Result<Ext4Fs> {
        let _ = reader;
        Err(Error::unsupported("ext4 reader not written yet"))
    }
}

impl FileSystem for Ext4Fs {
    fn info(&self) -> FsInfo {
        FsInfo::default()
    }
    fn root(&self) -> u64 {
        2
    }
    fn stat(&self, _inode: u64) -> Result<Metadata> {
        Err(Error::unsupported("not yet"))
    }
    fn read_dir(&self, _inode: u64) -> Result<DirIter<'_>> {
        Err(Error::unsupported("not yet"))
    }
    fn read_at(&self, _inode: u64, _offset: u64, _buf: &mut [u8]) -> Result<usize> {
        Err(Error::unsupported("not yet"))
    }
    fn read_link(&self, _inode: u64) -> Result<Vec<u8>> {
        Err(Error::unsupported("not yet"))
    }
}
