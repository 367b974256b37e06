//! What one zip entry carries besides its bytes: the Unix mode in the
//! external attributes, the DOS time, and the two Info-ZIP extra fields.
//!
//! Follows PKWARE APPNOTE 6.3.10 §4.4.2 (version made by: upper byte 3 =
//! Unix), §4.4.15 (external attributes: the Unix `st_mode` in the high 16
//! bits) and §4.4.6 (DOS date and time, 1980–2107), plus Info-ZIP's
//! `extrafld.txt` for the extended timestamp (0x5455, "UT") and the Unix
//! owner field (0x7875, "ux"), and APPNOTE §4.5.5 for the NTFS times
//! (0x000a). The zip crate writes none of them itself, so there is no
//! duplicate.
//!
//! Deviation: DOS times are written in UTC, not local time — the core has
//! no time zone, and every Unix unzip prefers the UT field anyway.

use crate::fs::{FileKind, Timestamp};

/// Info-ZIP extended timestamp ("UT").
pub const EXTENDED_TIMESTAMP_ID: u16 = 0x5455;
/// Info-ZIP Unix owner field, third version ("ux").
pub const UNIX_OWNER_ID: u16 = 0x7875;
/// PKWARE NTFS attributes: three 64-bit times.
pub const NTFS_ID: u16 = 0x000a;

/// The `S_IFMT` bits of a kind that goes into a zip.
fn type_bits(kind: FileKind) -> u32 {
    match kind {
        FileKind::Dir => 0o040000,
        FileKind::Symlink => 0o120000,
        _ => 0o100000,
    }
}

/// External file attributes: `st_mode` (type and all 12 permission bits)
/// in the upper 16 bits, the MS-DOS directory bit in the lowest byte.
pub fn external_attributes(kind: FileKind, mode: u32) -> u32 {
    let st_mode = type_bits(kind) | (mode & 0o7777);
    let dos = if kind == FileKind::Dir { 0x10 } else { 0 };
    (st_mode << 16) | dos
}

/// The UT field's payload with the modification time only (the same in
/// the local and central header), for 1970 to 2106. Readers on 64-bit
/// systems (Info-ZIP unzip, libarchive, 7-Zip) take the 32 bits as
/// unsigned, so a time before 1970 written as a negative number would
/// come back near 2100: such times get no UT field (unzip then falls
/// back to the DOS time, clamped to 1980) and rely on the NTFS field.
pub fn extended_timestamp(mtime: Timestamp) -> Option<[u8; 5]> {
    let raw = u32::try_from(mtime.secs).ok()?;
    let mut out = [0u8; 5];
    out[0] = 1; // flags: modification time present
    out[1..].copy_from_slice(&raw.to_le_bytes());
    Some(out)
}

/// The NTFS extra field (0x000a, APPNOTE §4.5.5): reserved u32, then
/// tag 1 of 24 bytes holding modification, access and creation time as
/// FILETIME (100 ns since 1601). All three carry the modification time.
/// Any year from 1601 survives, with 100 ns precision; 7-Zip and Windows
/// read it. `None` before 1601.
pub fn ntfs_times(mtime: Timestamp) -> Option<[u8; 32]> {
    const SECS_1601_TO_1970: i64 = 11_644_473_600;
    let secs = u64::try_from(mtime.secs.checked_add(SECS_1601_TO_1970)?).ok()?;
    let ticks = secs.checked_mul(10_000_000)?.checked_add(u64::from(mtime.nanos / 100))?;
    let mut out = [0u8; 32];
    out[4..6].copy_from_slice(&1u16.to_le_bytes());
    out[6..8].copy_from_slice(&24u16.to_le_bytes());
    for i in 0usize..3 {
        let at = 8usize.saturating_add(i.saturating_mul(8));
        out[at..at.saturating_add(8)].copy_from_slice(&ticks.to_le_bytes());
    }
    Some(out)
}

/// The "ux" payload: version 1, then 4-byte uid and gid.
pub fn unix_owner(uid: u32, gid: u32) -> [u8; 11] {
    let mut out = [0u8; 11];
    out[0] = 1;
    out[1] = 4;
    out[2..6].copy_from_slice(&uid.to_le_bytes());
    out[6] = 4;
    out[7..11].copy_from_slice(&gid.to_le_bytes());
    out
}

/// The DOS date and time (UTC), clamped to what the field can hold:
/// before 1980 becomes 1980-01-01 00:00:00, after 2107 2107-12-31 23:59:58.
pub fn dos_time(mtime: Timestamp) -> zip::DateTime {
    let earliest = zip::DateTime::default();
    let Some((y, mo, d, h, mi, s)) = civil(mtime.secs) else {
        return earliest;
    };
    if y < 1980 {
        return earliest;
    }
    let (y, mo, d, h, mi, s) = if y > 2107 { (2107, 12, 31, 23, 59, 58) } else { (y, mo, d, h, mi, s) };
    let year = u16::try_from(y).unwrap_or(1980);
    zip::DateTime::from_date_and_time(year, mo, d, h, mi, s).unwrap_or(earliest)
}

/// Seconds since 1970 → (year, month, day, hour, minute, second) in UTC,
/// from the manifest's ISO 8601 text so there is one calendar routine.
fn civil(secs: i64) -> Option<(i64, u8, u8, u8, u8, u8)> {
    let iso = Timestamp { secs, nanos: 0 }.iso8601();
    // "YYYY-MM-DDTHH:MM:SSZ", the year possibly longer or negative.
    let (date, time) = iso.strip_suffix('Z')?.split_once('T')?;
    let (rest, day) = date.rsplit_once('-')?;
    let (year, month) = rest.rsplit_once('-')?;
    let mut t = time.split(':');
    let num = |s: Option<&str>| s.and_then(|v| v.parse::<u8>().ok());
    Some((year.parse().ok()?, month.parse().ok()?, day.parse().ok()?, num(t.next())?, num(t.next())?, num(t.next())?))
}

/// ISO 8601 with nanoseconds, for the manifest: `2040-01-02T03:04:05.000000006Z`.
pub fn iso8601_nanos(t: Timestamp) -> String {
    let base = t.iso8601();
    let stem = base.strip_suffix('Z').unwrap_or(&base);
    format!("{stem}.{:09}Z", t.nanos)
}

/// Why one name from a directory can't be a path component of a zip
/// entry, or `None` when it can. On a healthy filesystem none of these
/// happen; a damaged directory block can produce any of them.
pub fn bad_component(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        Some("its name is empty")
    } else if name == b"." || name == b".." {
        Some("its name is \".\" or \"..\"")
    } else if name.contains(&b'/') {
        Some("its name contains \"/\"")
    } else if name.contains(&0) {
        Some("its name contains a NUL byte")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp { secs, nanos: 0 }
    }

    #[test]
    fn modes_carry_type_and_special_bits() {
        assert_eq!(external_attributes(FileKind::File, 0o4755), 0o104755 << 16);
        assert_eq!(external_attributes(FileKind::Dir, 0o1777), (0o041777 << 16) | 0x10);
        assert_eq!(external_attributes(FileKind::Symlink, 0o777), 0o120777 << 16);
    }

    #[test]
    fn timestamps_before_1970_and_after_2038() {
        // 1965-06-07T00:00:00Z is -144201600: only the NTFS field holds it.
        assert_eq!(extended_timestamp(ts(-144_201_600)), None);
        let ntfs = ntfs_times(Timestamp { secs: -144_201_600, nanos: 700 }).unwrap();
        let ticks = u64::from_le_bytes(ntfs[8..16].try_into().unwrap());
        assert_eq!(ticks, (11_644_473_600u64 - 144_201_600) * 10_000_000 + 7);
        // 2040-01-01T00:00:00Z is 2208988800, past i32 but within u32.
        assert_eq!(extended_timestamp(ts(2_208_988_800)).unwrap()[1..], 2_208_988_800u32.to_le_bytes());
        assert_eq!(extended_timestamp(ts(1 << 33)), None);
        assert_eq!(ntfs_times(ts(-20_000_000_000)), None);
    }

    #[test]
    fn dos_time_clamps() {
        assert_eq!(dos_time(ts(-144_201_600)), zip::DateTime::default());
        let t = dos_time(ts(2_208_988_800));
        assert_eq!((t.year(), t.month(), t.day()), (2040, 1, 1));
        let t = dos_time(ts(5_000_000_000));
        assert_eq!((t.year(), t.month(), t.day(), t.second()), (2107, 12, 31, 58));
        let t = dos_time(ts(951_782_401));
        assert_eq!((t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second()), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn owner_field_layout() {
        assert_eq!(unix_owner(1000, 0x0102_0304), [1, 4, 0xe8, 3, 0, 0, 4, 4, 3, 2, 1]);
    }

    #[test]
    fn nanos_in_iso() {
        assert_eq!(iso8601_nanos(Timestamp { secs: 0, nanos: 6 }), "1970-01-01T00:00:00.000000006Z");
    }

    #[test]
    fn unsafe_components() {
        assert!(bad_component(b"..").is_some());
        assert!(bad_component(b"a/b").is_some());
        assert!(bad_component(b"a\0").is_some());
        assert!(bad_component(b"").is_some());
        assert!(bad_component(b"caf\xe9").is_none());
        assert!(bad_component(b"...").is_none());
    }
}
