//! A volume group as its metadata text describes it (lvm2
//! `lib/format_text/import_vsn1.c`): the VG section's `physical_volumes`
//! and `logical_volumes`, each LV's `segmentN` sections.
//!
//! Sizes in the text are 512-byte sectors (`extent_size`, `pe_start`,
//! `stripe_size`, `chunk_size`); extents are counted in `start_extent`,
//! `extent_count` and the areas' starting extents. Everything is checked
//! here once so the readers only do arithmetic that cannot overflow.

use super::metadata::{Item, Section, Value};
use crate::error::{Error, Result};

const SECTOR: u64 = 512;
/// More than any real VG.
const MAX_PVS: usize = 4096;
const MAX_LVS: usize = 65536;
const MAX_SEGMENTS: usize = 65536;
const MAX_AREAS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhysicalVolume {
    /// The section name (`pv0`), which segments refer to.
    pub key: String,
    /// UUID with the dashes removed, as in the PV label.
    pub uuid: String,
    /// The device path when the metadata was written (`/dev/sda2`).
    pub device: Option<String>,
    pub pe_start_bytes: u64,
    pub pe_count: u64,
}

/// Where one stripe/leg of a segment lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Area {
    /// A PV (by index into `pvs`) from extent `start_extent`.
    Pv { pv: usize, start_extent: u64 },
    /// Another LV (mirror/raid legs), from extent `start_extent`.
    Lv { name: String, start_extent: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// `striped` (one stripe: linear). `stripe_bytes` is 0 for one stripe.
    Striped { stripe_bytes: u64, areas: Vec<Area> },
    /// `mirror` and `raid1`: identical legs (raid1's metadata sub-LVs dropped).
    Mirror { legs: Vec<Area> },
    /// raid0/raid10/raid5 over sub-LV images, laid out as md lays out
    /// `level` with `layout` (md's numbering).
    Raid { level: i32, layout: u32, stripe_bytes: u64, images: Vec<Area> },
    /// Thin LV: a device in a pool.
    Thin { pool: String, device_id: u64 },
    /// Thin pool: metadata and data sub-LVs.
    ThinPool { metadata: String, data: String, chunk_bytes: u64 },
    /// An old-style snapshot: `origin` as it was, changed chunks kept in `cow_store`.
    Snapshot { origin: String, cow_store: String, chunk_bytes: u64 },
    /// Reads as zeros.
    Zero,
    /// Anything else, by its type name.
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start_extent: u64,
    pub extent_count: u64,
    pub type_name: String,
    pub kind: SegmentKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalVolume {
    pub name: String,
    pub id: String,
    pub visible: bool,
    pub creation_time: Option<i64>,
    pub segments: Vec<Segment>,
}

impl LogicalVolume {
    pub fn extents(&self) -> u64 {
        self.segments.iter().map(|s| s.extent_count).fold(0, u64::saturating_add)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeGroup {
    pub name: String,
    pub id: String,
    pub seqno: u64,
    pub extent_bytes: u64,
    pub pvs: Vec<PhysicalVolume>,
    pub lvs: Vec<LogicalVolume>,
    /// When this version was written (the text's top-level `creation_time`).
    pub written: Option<i64>,
}

fn err(what: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("LVM metadata: {what}"))
}

fn uint(s: &Section, key: &str, whose: &str) -> Result<u64> {
    let v = s.int(key).ok_or_else(|| err(format!("{whose} has no number {key}")))?;
    u64::try_from(v).map_err(|_| err(format!("{whose}: {key} = {v} is negative")))
}

impl VolumeGroup {
    /// Finds the VG section in a parsed text (the one with `seqno` and
    /// `physical_volumes`) and reads it.
    pub fn from_metadata(top: &Section) -> Result<VolumeGroup> {
        let (name, vg) = top
            .sections()
            .find(|(_, s)| s.get("seqno").is_some() && s.get("physical_volumes").is_some())
            .ok_or_else(|| err("no volume group section"))?;
        let written = top.int("creation_time");
        let whose = format!("VG {name}");
        let seqno = uint(vg, "seqno", &whose)?;
        let extent_sectors = uint(vg, "extent_size", &whose)?;
        if extent_sectors == 0 || extent_sectors > (1 << 32) {
            return Err(err(format!("{whose}: extent size {extent_sectors} sectors is out of range")));
        }
        let extent_bytes = extent_sectors * SECTOR;
        let id = vg.str("id").unwrap_or_default().to_string();
        let mut pvs = Vec::new();
        for (key, pv) in vg.section("physical_volumes").map(|s| s.sections().collect::<Vec<_>>()).unwrap_or_default() {
            if pvs.len() >= MAX_PVS {
                return Err(err(format!("{whose} lists more than {MAX_PVS} PVs")));
            }
            let whose = format!("{whose}, PV {key}");
            let pe_start = uint(pv, "pe_start", &whose)?;
            let pe_count = uint(pv, "pe_count", &whose)?;
            let pe_start_bytes = pe_start.checked_mul(SECTOR).ok_or_else(|| err(format!("{whose}: pe_start overflows")))?;
            pe_count
                .checked_mul(extent_bytes)
                .and_then(|b| b.checked_add(pe_start_bytes))
                .ok_or_else(|| err(format!("{whose}: {pe_count} extents overflow")))?;
            pvs.push(PhysicalVolume {
                key: key.to_string(),
                uuid: pv.str("id").unwrap_or_default().replace('-', ""),
                device: pv.str("device").map(String::from),
                pe_start_bytes,
                pe_count,
            });
        }
        let mut lvs = Vec::new();
        for (lv_name, lv) in vg.section("logical_volumes").map(|s| s.sections().collect::<Vec<_>>()).unwrap_or_default() {
            if lvs.len() >= MAX_LVS {
                return Err(err(format!("{whose} lists more than {MAX_LVS} LVs")));
            }
            lvs.push(read_lv(&whose, lv_name, lv, &pvs, extent_bytes)?);
        }
        Ok(VolumeGroup { name: name.to_string(), id, seqno, extent_bytes, pvs, lvs, written })
    }

    pub fn lv(&self, name: &str) -> Option<&LogicalVolume> {
        self.lvs.iter().find(|l| l.name == name)
    }
}

fn read_lv(vg: &str, name: &str, lv: &Section, pvs: &[PhysicalVolume], extent_bytes: u64) -> Result<LogicalVolume> {
    let whose = format!("{vg}, LV {name}");
    let mut segments = Vec::new();
    let mut next = 0u64;
    let mut segs: Vec<(&str, &Section)> = lv.sections().filter(|(k, _)| k.starts_with("segment")).collect();
    if segs.len() > MAX_SEGMENTS {
        return Err(err(format!("{whose} has more than {MAX_SEGMENTS} segments")));
    }
    segs.sort_by_key(|(_, s)| s.int("start_extent"));
    for (key, s) in segs {
        let whose = format!("{whose}, {key}");
        let start_extent = uint(s, "start_extent", &whose)?;
        let extent_count = uint(s, "extent_count", &whose)?;
        if start_extent != next {
            return Err(err(format!("{whose} starts at extent {start_extent}, expected {next}")));
        }
        next = start_extent
            .checked_add(extent_count)
            .filter(|e| e.checked_mul(extent_bytes).is_some())
            .ok_or_else(|| err(format!("{whose}: {extent_count} extents overflow")))?;
        let type_name = s.str("type").unwrap_or("striped").to_string();
        let kind = match type_name.as_str() {
            "striped" => {
                let areas = areas(s, "stripes", &whose, pvs)?;
                let count = uint(s, "stripe_count", &whose).unwrap_or(areas.len() as u64);
                if areas.is_empty() || count != areas.len() as u64 {
                    return Err(err(format!("{whose}: stripe_count {count} but {} stripes listed", areas.len())));
                }
                let n = areas.len() as u64;
                if extent_count % n != 0 {
                    return Err(err(format!("{whose}: {extent_count} extents don't divide into {n} stripes")));
                }
                let stripe_bytes = if n > 1 {
                    let sz = uint(s, "stripe_size", &whose)?;
                    if sz == 0 || sz > (1 << 32) {
                        return Err(err(format!("{whose}: stripe size {sz} sectors is out of range")));
                    }
                    sz * SECTOR
                } else {
                    0
                };
                SegmentKind::Striped { stripe_bytes, areas }
            }
            "mirror" => SegmentKind::Mirror { legs: areas(s, "mirrors", &whose, pvs)? },
            "raid1" => SegmentKind::Mirror { legs: raid_images(areas(s, "raids", &whose, pvs)?) },
            "raid0" | "raid0_meta" | "raid10" | "raid5" | "raid5_ls" | "raid5_la" | "raid5_rs" | "raid5_ra" => {
                // raid0 lists its images as raid0_lvs (no metadata sub-LVs).
                let key = if s.get("raid0_lvs").is_some() { "raid0_lvs" } else { "raids" };
                let images = raid_images(areas(s, key, &whose, pvs)?);
                let (level, layout) = match type_name.as_str() {
                    "raid0" | "raid0_meta" => (0, 0),
                    "raid10" => (10, 0x102),
                    "raid5_la" => (5, 0),
                    "raid5_ra" => (5, 1),
                    "raid5_rs" => (5, 3),
                    _ => (5, 2),
                };
                let sz = uint(s, "stripe_size", &whose)?;
                if sz == 0 || sz > (1 << 32) {
                    return Err(err(format!("{whose}: stripe size {sz} sectors is out of range")));
                }
                SegmentKind::Raid { level, layout, stripe_bytes: sz * SECTOR, images }
            }
            "thin" => SegmentKind::Thin {
                pool: s.str("thin_pool").unwrap_or_default().to_string(),
                device_id: uint(s, "device_id", &whose)?,
            },
            "thin-pool" => SegmentKind::ThinPool {
                metadata: s.str("metadata").unwrap_or_default().to_string(),
                data: s.str("pool").unwrap_or_default().to_string(),
                chunk_bytes: uint(s, "chunk_size", &whose)?.saturating_mul(SECTOR),
            },
            "snapshot" => SegmentKind::Snapshot {
                origin: s.str("origin").unwrap_or_default().to_string(),
                cow_store: s.str("cow_store").unwrap_or_default().to_string(),
                chunk_bytes: uint(s, "chunk_size", &whose)?.saturating_mul(SECTOR),
            },
            "zero" => SegmentKind::Zero,
            other => SegmentKind::Other(other.to_string()),
        };
        segments.push(Segment { start_extent, extent_count, type_name, kind });
    }
    let status = lv.strings("status");
    Ok(LogicalVolume {
        name: name.to_string(),
        id: lv.str("id").unwrap_or_default().to_string(),
        visible: status.contains(&"VISIBLE"),
        creation_time: lv.int("creation_time"),
        segments,
    })
}

/// The data images of a raid segment (`lv_rimage_N`); the metadata
/// sub-LVs (`lv_rmeta_N`) are left out.
fn raid_images(all: Vec<Area>) -> Vec<Area> {
    let is_image = |a: &Area| matches!(a, Area::Lv { name, .. } if name.contains("_rimage_"));
    if all.iter().any(is_image) {
        all.into_iter().filter(is_image).collect()
    } else if all.iter().any(|a| matches!(a, Area::Lv { name, .. } if name.contains("_rmeta_"))) {
        all.into_iter().skip(1).step_by(2).collect()
    } else {
        all
    }
}

/// An area list: `["pv0", 0, "pv1", 0]` (name, starting extent) pairs;
/// raid segments list sub-LV names alone (`raids = ["lv_rmeta_0",
/// "lv_rimage_0", …]`), which start at extent 0.
fn areas(s: &Section, key: &str, whose: &str, pvs: &[PhysicalVolume]) -> Result<Vec<Area>> {
    let list = match s.get(key) {
        Some(Item::Value(Value::Array(a))) => a,
        _ => return Err(err(format!("{whose} has no {key} list"))),
    };
    if list.len() > 2 * MAX_AREAS {
        return Err(err(format!("{whose}: the {key} list has {} entries", list.len())));
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < list.len() {
        let Value::Str(name) = &list[i] else {
            return Err(err(format!("{whose}: the {key} list is not name, extent pairs")));
        };
        let start_extent = match list.get(i + 1) {
            Some(Value::Int(start)) => {
                i += 2;
                u64::try_from(*start).map_err(|_| err(format!("{whose}: extent {start} is negative")))?
            }
            _ => {
                i += 1;
                0
            }
        };
        match pvs.iter().position(|p| &p.key == name) {
            Some(pv) => out.push(Area::Pv { pv, start_extent }),
            None => out.push(Area::Lv { name: name.clone(), start_extent }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::metadata::parse;
    use super::*;

    fn vg(extra: &str) -> Result<VolumeGroup> {
        let text = format!(
            "v {{\nid = \"a\"\nseqno = 4\nextent_size = 8192\nphysical_volumes {{\npv0 {{\nid = \"ab-cd\"\npe_start = 2048\npe_count = 10\n}}\n}}\nlogical_volumes {{\n{extra}\n}}\n}}\ncreation_time = 1700000000\n"
        );
        VolumeGroup::from_metadata(&parse(text.as_bytes())?)
    }

    #[test]
    fn reads_linear_and_striped() {
        let g = vg("root {\nstatus = [\"READ\", \"VISIBLE\"]\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 3]\n}\n}").unwrap();
        assert_eq!((g.name.as_str(), g.seqno, g.extent_bytes, g.written), ("v", 4, 4 << 20, Some(1_700_000_000)));
        assert_eq!(g.pvs[0].uuid, "abcd");
        let lv = g.lv("root").unwrap();
        assert!(lv.visible);
        assert_eq!(lv.segments[0].kind, SegmentKind::Striped { stripe_bytes: 0, areas: vec![Area::Pv { pv: 0, start_extent: 3 }] });
    }

    #[test]
    fn damage_gives_sentences() {
        let e = vg("r {\nsegment1 {\nstart_extent = 0\nextent_count = 3\nstripe_count = 2\nstripe_size = 128\nstripes = [\"pv0\", 0, \"pv0\", 5]\n}\n}").unwrap_err();
        assert_eq!(e.message(), "LVM metadata: VG v, LV r, segment1: 3 extents don't divide into 2 stripes");
        let e = vg("r {\nsegment1 {\nstart_extent = 1\nextent_count = 3\nstripes = [\"pv0\", 0]\n}\n}").unwrap_err();
        assert_eq!(e.message(), "LVM metadata: VG v, LV r, segment1 starts at extent 1, expected 0");
        let e = vg("r {\nsegment1 {\nstart_extent = 0\nextent_count = 9223372036854775807\nstripes = [\"pv0\", 0]\n}\n}").unwrap_err();
        assert!(e.message().ends_with("extents overflow"), "{e}");
    }
}
