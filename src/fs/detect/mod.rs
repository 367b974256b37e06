//! What is in a volume, by signature: the one probe list of this layer.
//!
//! Magic numbers and offsets follow each format's own documentation (and
//! agree with util-linux's blkid). Detection reads a few small blocks and
//! never fails: an unreadable volume is simply "not recognised".

mod dos;

use crate::read_at::ReadAt;

/// A recognised volume content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FsKind {
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Btrfs,
    Ntfs,
    Fat12,
    Fat16,
    Fat32,
    Exfat,
    Swap,
    Lvm2,
    LinuxRaid,
    Luks,
    Iso9660,
    Udf,
    Squashfs,
    /// An ext3/ext4 journal on its own device (`mke2fs -O journal_dev`).
    ExtJournal,
}

impl FsKind {
    /// The short name used by the CLI's JSON and the page.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext2 => "ext2",
            FsKind::Ext3 => "ext3",
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::Ntfs => "ntfs",
            FsKind::Fat12 => "fat12",
            FsKind::Fat16 => "fat16",
            FsKind::Fat32 => "fat32",
            FsKind::Exfat => "exfat",
            FsKind::Swap => "swap",
            FsKind::Lvm2 => "lvm2",
            FsKind::LinuxRaid => "linux_raid",
            FsKind::Luks => "luks",
            FsKind::Iso9660 => "iso9660",
            FsKind::Udf => "udf",
            FsKind::Squashfs => "squashfs",
            FsKind::ExtJournal => "ext_journal",
        }
    }

    /// How a person calls it.
    pub fn display_name(self) -> &'static str {
        match self {
            FsKind::Ext2 => "ext2",
            FsKind::Ext3 => "ext3",
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "XFS",
            FsKind::Btrfs => "Btrfs",
            FsKind::Ntfs => "NTFS",
            FsKind::Fat12 => "FAT12",
            FsKind::Fat16 => "FAT16",
            FsKind::Fat32 => "FAT32",
            FsKind::Exfat => "exFAT",
            FsKind::Swap => "Linux swap",
            FsKind::Lvm2 => "LVM2 physical volume",
            FsKind::LinuxRaid => "Linux software RAID member",
            FsKind::Luks => "LUKS encrypted volume",
            FsKind::Iso9660 => "ISO 9660",
            FsKind::Udf => "UDF",
            FsKind::Squashfs => "SquashFS",
            FsKind::ExtJournal => "ext3/ext4 external journal",
        }
    }

    /// Whether Salvage can list and read its files.
    pub fn is_readable(self) -> bool {
        matches!(self, FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4)
    }

    /// The plain sentence shown for a volume we recognise but can't read.
    pub fn unsupported_sentence(self) -> String {
        let name = self.display_name();
        match self {
            FsKind::Swap | FsKind::ExtJournal => format!("{name} — holds no files"),
            FsKind::Lvm2 => format!("{name} — not supported yet; its logical volumes can't be opened"),
            FsKind::LinuxRaid => format!("{name} — not supported yet; the array can't be assembled"),
            FsKind::Luks => format!("{name} — encrypted, not supported yet"),
            _ => format!("{name} — not supported yet; its files can't be listed"),
        }
    }
}

/// What detection found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    pub kind: FsKind,
    pub label: Option<String>,
    pub uuid: Option<String>,
    /// Extra facts worth showing ("LUKS2, cipher aes-xts-plain64").
    pub detail: Option<String>,
}

pub(crate) fn read(r: &dyn ReadAt, offset: u64, len: usize) -> Option<Vec<u8>> {
    let mut v = vec![0; len];
    r.read_exact_at(offset, &mut v).ok().map(|_| v)
}

pub(crate) use crate::bytes::{le16, le32};

/// Text of a fixed-size, NUL- or space-padded label field; None when blank.
pub(crate) fn label(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]).trim_end().to_string();
    if s.is_empty() { None } else { Some(s) }
}

fn uuid(b: &[u8]) -> Option<String> {
    if b.iter().all(|c| *c == 0) {
        return None;
    }
    let h: Vec<String> = b.iter().map(|c| format!("{c:02x}")).collect();
    Some(format!("{}-{}-{}-{}-{}", h[0..4].concat(), h[4..6].concat(), h[6..8].concat(), h[8..10].concat(), h[10..16].concat()))
}

fn found(kind: FsKind) -> Detected {
    Detected { kind, label: None, uuid: None, detail: None }
}

/// Sector 0 is a filesystem boot sector (FAT, NTFS, exFAT), not an MBR.
pub fn is_boot_sector_fs(sector0: &[u8; 512]) -> bool {
    &sector0[3..11] == b"NTFS    " || &sector0[3..11] == b"EXFAT   " || dos::fat_bpb(sector0).is_some()
}

fn detect_ext(r: &dyn ReadAt) -> Option<Detected> {
    let sb = read(r, 1024, 1024)?;
    if le16(&sb, 0x38) != 0xef53 {
        return None;
    }
    let compat = le32(&sb, 0x5c);
    let incompat = le32(&sb, 0x60);
    let ro_compat = le32(&sb, 0x64);
    if incompat & 0x8 != 0 {
        // INCOMPAT_JOURNAL_DEV: the journal of another filesystem.
        return Some(Detected { kind: FsKind::ExtJournal, label: label(&sb[0x78..0x88]), uuid: uuid(&sb[0x68..0x78]), detail: None });
    }
    // Features that only ext4 sets: extents, 64bit, flex_bg, inline data,
    // huge_file, gdt_csum, dir_nlink, extra_isize, metadata_csum.
    let ext4 = incompat & (0x40 | 0x80 | 0x200 | 0x8000) != 0 || ro_compat & (0x8 | 0x10 | 0x20 | 0x40 | 0x400) != 0;
    let kind = if ext4 {
        FsKind::Ext4
    } else if compat & 0x4 != 0 {
        FsKind::Ext3
    } else {
        FsKind::Ext2
    };
    Some(Detected { kind, label: label(&sb[0x78..0x88]), uuid: uuid(&sb[0x68..0x78]), detail: None })
}

fn detect_swap(r: &dyn ReadAt) -> Option<Detected> {
    for page in [4096u64, 8192, 16384, 65536] {
        if let Some(m) = read(r, page - 10, 10) {
            if m == b"SWAPSPACE2" || m == b"SWAP-SPACE" {
                let hdr = read(r, 1024, 48);
                return Some(Detected {
                    kind: FsKind::Swap,
                    label: hdr.as_ref().and_then(|h| label(&h[28..44])),
                    uuid: hdr.as_ref().and_then(|h| uuid(&h[12..28])),
                    detail: None,
                });
            }
        }
    }
    None
}

fn detect_lvm(r: &dyn ReadAt) -> Option<Detected> {
    for sector in 0..4u64 {
        let s = read(r, sector * 512, 32)?;
        if &s[0..8] == b"LABELONE" && &s[24..32] == b"LVM2 001" {
            // The PV header (usually right after the label) starts with the PV UUID.
            let offset_xl = u64::from(le32(&s, 0x14));
            let uuid = read(r, sector * 512 + offset_xl.min(480), 32)
                .filter(|u| u.iter().all(|c| c.is_ascii_alphanumeric()))
                .map(|u| crate::volume::lvm::dashed(&String::from_utf8_lossy(&u)));
            return Some(Detected { kind: FsKind::Lvm2, label: None, uuid, detail: None });
        }
    }
    None
}

fn detect_md(r: &dyn ReadAt) -> Option<Detected> {
    const MAGIC: u32 = 0xa92b_4efc;
    let size = r.size();
    let mut spots = vec![(0u64, "1.1"), (4096, "1.2")];
    if size >= 8192 {
        spots.push((((size - 8192) & !4095), "1.0"));
    }
    if size >= 65536 {
        spots.push((((size & !65535) - 65536), "0.90"));
    }
    for (at, version) in spots {
        if let Some(b) = read(r, at, 4) {
            if le32(&b, 0) == MAGIC {
                if let Some(Ok(sb)) = crate::volume::md::MdSuperblock::find(r) {
                    let label = (sb.version != "0.90").then(|| sb.name.clone());
                    let detail = format!("{}, metadata {}", sb.level_name(), sb.version);
                    return Some(Detected { kind: FsKind::LinuxRaid, label, uuid: Some(sb.uuid_string()), detail: Some(detail) });
                }
                return Some(Detected { kind: FsKind::LinuxRaid, label: None, uuid: None, detail: Some(format!("metadata {version}")) });
            }
        }
    }
    None
}

fn detect_luks(r: &dyn ReadAt) -> Option<Detected> {
    let h = read(r, 0, 512)?;
    if &h[0..6] != b"LUKS\xba\xbe" {
        return None;
    }
    let version = u16::from_be_bytes([h[6], h[7]]);
    let detail = if version == 1 {
        let cipher = label(&h[8..40]).unwrap_or_default();
        let mode = label(&h[40..72]).unwrap_or_default();
        format!("LUKS1, cipher {cipher}-{mode}")
    } else {
        // LUKS2: a JSON area follows the 4 KiB binary header; its crypt
        // segment names the cipher ("encryption":"aes-xts-plain64").
        let json = read(r, 4096, 12 * 1024).or_else(|| read(r, 4096, usize::try_from(r.size().saturating_sub(4096)).unwrap_or(0).min(12 * 1024)));
        let cipher = json.and_then(|j| {
            let key = b"\"encryption\":";
            let at = j.windows(key.len()).position(|w| w == key)? + key.len();
            let rest = &j[at..];
            let open = rest.iter().position(|c| *c == b'"')? + 1;
            let len = rest[open..].iter().take(64).position(|c| *c == b'"')?;
            Some(String::from_utf8_lossy(&rest[open..open + len]).into_owned())
        });
        match cipher {
            Some(c) => format!("LUKS{version}, cipher {c}"),
            None => format!("LUKS{version}"),
        }
    };
    let (l, u) = if version == 2 { (label(&h[24..72]), label(&h[168..208])) } else { (None, label(&h[168..208])) };
    Some(Detected { kind: FsKind::Luks, label: l, uuid: u, detail: Some(detail) })
}

/// ISO 9660 and UDF share the volume recognition sequence at 32 KiB:
/// 2 KiB descriptors tagged `CD001`, and for UDF `BEA01` … `NSR02`/`NSR03`.
fn detect_optical(r: &dyn ReadAt) -> Option<Detected> {
    let mut iso_label = None;
    let mut iso = false;
    for i in 0..16u64 {
        let Some(b) = read(r, 0x8000 + i * 2048, 0x80) else { break };
        match &b[1..6] {
            b"CD001" => {
                if !iso {
                    iso_label = label(&b[0x28..0x48]);
                }
                iso = true;
            }
            b"NSR02" | b"NSR03" => return Some(found(FsKind::Udf)),
            b"BEA01" | b"BOOT2" | b"CDW02" | b"TEA01" => {}
            _ => break,
        }
    }
    iso.then(|| Detected { kind: FsKind::Iso9660, label: iso_label, uuid: None, detail: None })
}

/// Identifies the content of a volume, or None.
pub fn detect(r: &dyn ReadAt) -> Option<Detected> {
    // Containers first: their payload may look like a filesystem further in.
    if let Some(d) = detect_luks(r).or_else(|| detect_lvm(r)) {
        return Some(d);
    }
    if let Some(b) = read(r, 0, 512) {
        if &b[3..11] == b"NTFS    " {
            return Some(Detected { kind: FsKind::Ntfs, label: dos::ntfs_label(r, &b), uuid: None, detail: None });
        }
        if &b[3..11] == b"EXFAT   " {
            return Some(Detected { kind: FsKind::Exfat, label: dos::exfat_label(r, &b), uuid: None, detail: None });
        }
        if &b[0..4] == b"XFSB" {
            return Some(Detected { kind: FsKind::Xfs, label: label(&b[108..120]), uuid: uuid(&b[32..48]), detail: None });
        }
        if &b[0..4] == b"hsqs" || &b[0..4] == b"sqsh" {
            return Some(found(FsKind::Squashfs));
        }
        if let Some(bpb) = dos::fat_bpb(&b) {
            return Some(Detected { kind: bpb.kind, label: dos::fat_label(r, &b, &bpb), uuid: None, detail: None });
        }
    }
    if let Some(d) = detect_ext(r) {
        return Some(d);
    }
    if let Some(b) = read(r, 0x10000, 0x200) {
        if &b[0x40..0x48] == b"_BHRfS_M" {
            return Some(Detected { kind: FsKind::Btrfs, label: label(&b[0x12b..0x12b + 256 - 0x2b]), uuid: uuid(&b[0x20..0x30]), detail: None });
        }
    }
    if let Some(d) = detect_optical(r) {
        return Some(d);
    }
    detect_md(r).or_else(|| detect_swap(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::MemReader;

    #[test]
    fn ext_features_pick_the_name() {
        let mut img = vec![0u8; 4096];
        img[1024 + 0x38..1024 + 0x3a].copy_from_slice(&0xef53u16.to_le_bytes());
        img[1024 + 0x78..1024 + 0x7c].copy_from_slice(b"root");
        let d = detect(&MemReader::new(img.clone())).unwrap();
        assert_eq!((d.kind, d.label.as_deref()), (FsKind::Ext2, Some("root")));
        img[1024 + 0x5c] = 0x4; // has_journal
        assert_eq!(detect(&MemReader::new(img.clone())).unwrap().kind, FsKind::Ext3);
        img[1024 + 0x60] = 0x40; // extents
        assert_eq!(detect(&MemReader::new(img)).unwrap().kind, FsKind::Ext4);
    }

    #[test]
    fn nothing_is_nothing() {
        assert_eq!(detect(&MemReader::new(vec![0; 200_000])), None);
        assert_eq!(detect(&MemReader::new(vec![0; 10])), None);
    }

    #[test]
    fn unsupported_sentences_are_plain() {
        assert_eq!(FsKind::Xfs.unsupported_sentence(), "XFS — not supported yet; its files can't be listed");
        assert_eq!(FsKind::Swap.unsupported_sentence(), "Linux swap — holds no files");
    }
}
