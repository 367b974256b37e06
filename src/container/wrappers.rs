//! Files Salvage recognises but does not read (yet): compressed files and
//! archives the disk image is packed in, and virtual-disk formats without a
//! reader. Each is named by its magic bytes with one sentence saying what to
//! do, instead of being shown as a raw disk with no partitions.
//!
//! Checked after every readable container's probe, so a format that gains
//! a reader is claimed before it is named here: gzip, xz, zstd and tar are
//! read ([`super::gzip`], [`super::xz`], [`super::zstd`], [`super::tar`])
//! and only reach this list when their own probe refuses the file (a tar
//! header with a bad checksum, a file too short to hold a stream).

use super::Source;
use crate::read_at::read_vec;

/// What the file is, when it is one of the formats above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wrapper {
    pub name: &'static str,
    /// `true` for compressed files and archives: extracting gives the image.
    pub packed: bool,
}

impl Wrapper {
    /// The sentence shown instead of the disk.
    pub fn sentence(&self) -> String {
        if self.packed {
            format!("this is {} — extract it first, then open the disk image inside", self.name)
        } else {
            format!(
                "this is {}, which Salvage does not read yet; convert it to a raw image first (for example `qemu-img convert -O raw`)",
                self.name
            )
        }
    }
}

const fn packed(name: &'static str) -> Option<Wrapper> {
    Some(Wrapper { name, packed: true })
}
const fn image(name: &'static str) -> Option<Wrapper> {
    Some(Wrapper { name, packed: false })
}

/// Names the format of `source`, if it is one Salvage only recognises.
pub fn identify(source: &Source) -> Option<Wrapper> {
    let r = &*source.reader;
    let size = r.size();
    let head = read_vec(r, 0, usize::try_from(size.min(512)).unwrap_or(0)).ok()?;
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset.saturating_add(magic.len())) == Some(magic);
    if at(0, &[0x1f, 0x8b, 0x08]) {
        return packed("a gzip-compressed file");
    }
    if at(0, &[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return packed("an xz-compressed file");
    }
    if at(0, &[0x28, 0xb5, 0x2f, 0xfd]) {
        return packed("a zstd-compressed file");
    }
    if at(0, b"BZh")
        && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d))
        && (at(4, &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59]) || at(4, &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90]))
    {
        return packed("a bzip2-compressed file");
    }
    if at(257, b"ustar") {
        return packed("a tar archive");
    }
    if at(0, b"PK\x03\x04") {
        return packed("a zip archive");
    }
    if at(0, b"7z\xbc\xaf\x27\x1c") {
        return packed("a 7-Zip archive");
    }
    if at(0, b"QFI\xfb") {
        return image("a qcow image");
    }
    if at(0, b"vhdxfile") {
        return image("a VHDX image");
    }
    if at(0x40, &[0x7f, 0x10, 0xda, 0xbe]) {
        return image("a VirtualBox VDI image");
    }
    if at(0, b"WithoutFreeSpace") || at(0, b"WithouFreSpacExt") {
        return image("a Parallels disk image");
    }
    if at(0, b"QED\0") {
        return image("a QED image");
    }
    if at(0, b"Bochs Virtual HD Image") {
        return image("a Bochs disk image");
    }
    if at(0, b"#!/bin/sh") && head.windows(5).any(|w| w == b"cloop") {
        return image("a cloop compressed image");
    }
    if at(0, b"EVF\x09\x0d\x0a\xff\x00") || at(0, b"EVF2\x0d\x0a\x81\x00") {
        return image("an EnCase evidence file (E01/EWF)");
    }
    if at(0, b"LVF\x09\x0d\x0a\xff\x00") {
        return image("an EnCase logical evidence file (L01)");
    }
    if size >= 512 && read_vec(r, size.saturating_sub(512), 4).is_ok_and(|t| t == b"koly") {
        return image("an Apple disk image (DMG)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;
    use std::rc::Rc;

    fn src(data: Vec<u8>) -> Source {
        Source { name: "x".into(), reader: Rc::new(MemReader::new(data)) }
    }

    #[test]
    fn names_compressed_files() {
        let w = identify(&src(vec![0x1f, 0x8b, 0x08, 0, 0, 0])).unwrap();
        assert_eq!(w.sentence(), "this is a gzip-compressed file — extract it first, then open the disk image inside");
        let mut tar = vec![0u8; 1024];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(identify(&src(tar)).unwrap().name, "a tar archive");
    }

    #[test]
    fn names_dmg_by_its_trailer() {
        let mut d = vec![0u8; 4096];
        d[4096 - 512..4096 - 508].copy_from_slice(b"koly");
        assert_eq!(identify(&src(d)).unwrap().name, "an Apple disk image (DMG)");
    }

    #[test]
    fn plain_disks_are_not_wrappers() {
        assert_eq!(identify(&src(vec![0u8; 4096])), None);
        assert_eq!(identify(&src(Vec::new())), None);
    }
}
