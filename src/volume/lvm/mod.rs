//! LVM2: physical volumes → volume groups → logical volumes as volumes.
//!
//! Each candidate volume with an LVM2 label is read: label, PV header,
//! each metadata area's header, its committed text (CRC-checked) and,
//! from the ring buffer, older texts. PVs are grouped by VG id; the
//! highest `seqno` among the committed texts wins. A PV listed by the VG
//! but not among the selected disks is named in a note, and only the LVs
//! that touch it are unreadable.
//!
//! Older versions (lower seqno, still in a ring) are listed in notes, and
//! each LV they describe differently from the newest version (deleted,
//! shrunk, grown, moved later) becomes an extra volume named
//! `vg/lv@seqno`, marked as from older metadata.

pub mod label;
pub mod lv;
pub mod metadata;
pub mod snapshot;
pub mod thin;
pub mod vg;

use std::collections::BTreeMap;
use std::rc::Rc;

use super::assemble::{AssembledVolume, Assembly, Candidate};
use crate::read_at::Reader;
use label::{ring_text, texts_in_ring, MdaHeader, PvLabel};
use lv::{LvReader, PvSlot};
use vg::{LogicalVolume, SegmentKind, VolumeGroup};

/// Older versions turned into volumes, per VG.
const MAX_OLD_VOLUMES: usize = 64;
/// Older versions listed per VG.
const MAX_OLD_VERSIONS: usize = 32;

struct FoundPv {
    candidate: usize,
    label: PvLabel,
    /// Its metadata areas hold no metadata: a PV not in any VG.
    empty: bool,
}

/// Reads every PV among the candidates and assembles their VGs.
pub fn assemble(candidates: &[Candidate], first_index: u32) -> Assembly {
    let mut out = Assembly::default();
    let mut pvs: Vec<FoundPv> = Vec::new();
    // VG id → (newest text's VG, older VGs by seqno)
    let mut current: BTreeMap<String, VolumeGroup> = BTreeMap::new();
    let mut older: BTreeMap<String, BTreeMap<u64, VolumeGroup>> = BTreeMap::new();
    for (ci, c) in candidates.iter().enumerate() {
        if !label::has_label(&*c.reader) {
            continue;
        }
        let label = match PvLabel::read(&*c.reader) {
            Ok(l) => l,
            Err(e) => {
                out.members.push((ci, format!("LVM2 physical volume — its label is damaged: {e}")));
                continue;
            }
        };
        let mut problems = Vec::new();
        let mut empty_areas = 0;
        for area in &label.metadata_areas {
            let mda = match MdaHeader::read(&*c.reader, *area) {
                Ok(m) => m,
                Err(e) => {
                    problems.push(format!("metadata area at byte {}: {e}", area.offset));
                    continue;
                }
            };
            match mda.read_current(&*c.reader).and_then(|t| VolumeGroup::from_metadata(&metadata::parse(&t)?)) {
                Ok(g) => {
                    let key = vg_key(&g);
                    if current.get(&key).is_none_or(|old| old.seqno < g.seqno) {
                        if let Some(prev) = current.insert(key.clone(), g) {
                            older.entry(key).or_default().insert(prev.seqno, prev);
                        }
                    } else {
                        older.entry(key).or_default().insert(g.seqno, g);
                    }
                }
                Err(e) if e.kind() == crate::ErrorKind::NotFound => empty_areas += 1,
                Err(e) => problems.push(format!("metadata area at byte {}: {e}", area.offset)),
            }
            if let Some(ring) = mda.read_ring(&*c.reader) {
                for start in texts_in_ring(&ring) {
                    if let Ok(g) = metadata::parse(&ring_text(&ring, start)).and_then(|t| VolumeGroup::from_metadata(&t)) {
                        older.entry(vg_key(&g)).or_default().entry(g.seqno).or_insert(g);
                    }
                }
            }
        }
        if !problems.is_empty() {
            out.notes.push(format!("{}: LVM2 physical volume: {}", c.name, problems.join("; ")));
        }
        pvs.push(FoundPv { candidate: ci, label, empty: empty_areas > 0 && problems.is_empty() });
    }
    // A VG whose committed texts are all damaged: use the newest ring text.
    for (key, versions) in older.iter_mut() {
        if !current.contains_key(key) {
            if let Some((_, g)) = versions.pop_last() {
                out.notes.push(format!(
                    "VG {}: no committed metadata could be read; the newest version found in the metadata ring (seqno {}) is used",
                    g.name, g.seqno
                ));
                current.insert(key.clone(), g);
            }
        }
    }
    let mut next_index = first_index;
    let mut used = vec![false; pvs.len()];
    for (key, g) in &current {
        let slots: Vec<PvSlot> = g
            .pvs
            .iter()
            .map(|p| {
                let found = pvs.iter().position(|f| f.label.pv_uuid == p.uuid);
                if let Some(i) = found {
                    used[i] = true;
                }
                PvSlot {
                    reader: found.map(|i| candidates[pvs[i].candidate].reader.clone()),
                    missing: format!(
                        "PV {} of VG {} (uuid {}{}) is missing: select its disk image too",
                        p.key,
                        g.name,
                        dashed(&p.uuid),
                        p.device.as_deref().map(|d| format!(", was {d}")).unwrap_or_default()
                    ),
                }
            })
            .collect();
        let lv_names: Vec<&str> = g.lvs.iter().filter(|l| shown(g, l)).map(|l| l.name.as_str()).collect();
        out.notes.push(format!(
            "VG {}: seqno {}, extents of {}, PVs: {}; LVs: {}",
            g.name,
            g.seqno,
            human(g.extent_bytes),
            g.pvs
                .iter()
                .zip(&slots)
                .map(|(p, s)| format!("{} ({})", p.key, if s.reader.is_some() { "present" } else { "missing" }))
                .collect::<Vec<_>>()
                .join(", "),
            if lv_names.is_empty() { "none".to_string() } else { lv_names.join(", ") }
        ));
        for s in slots.iter().filter(|s| s.reader.is_none()) {
            out.notes.push(s.missing.clone());
        }
        let pv_names: Vec<String> = g
            .pvs
            .iter()
            .zip(&slots)
            .map(|(p, s)| {
                let on = pvs
                    .iter()
                    .find(|f| f.label.pv_uuid == p.uuid)
                    .map(|f| candidates[f.candidate].name.clone())
                    .unwrap_or_else(|| "missing".into());
                let _ = s;
                format!("{} on {on}", p.key)
            })
            .collect();
        let first = next_index;
        for lv in g.lvs.iter().filter(|l| shown(g, l)) {
            out.volumes.push(lv_volume(g, lv, &slots, None, &pv_names));
            next_index = next_index.saturating_add(1);
        }
        let after_current = next_index;
        // Older versions.
        let mut old_count = 0;
        if let Some(versions) = older.get(key) {
            let mut added: Vec<(String, Vec<vg::Segment>)> = Vec::new();
            let mut same: Vec<u64> = Vec::new();
            for (seqno, old) in versions.iter().rev().filter(|(s, _)| **s < g.seqno).take(MAX_OLD_VERSIONS) {
                let mut changes = Vec::new();
                for lv in old.lvs.iter().filter(|l| shown(old, l)) {
                    let now = g.lv(&lv.name);
                    let change = match now {
                        None => "deleted later",
                        Some(n) if n.segments == lv.segments => continue,
                        Some(n) if n.extents() < lv.extents() => "shrunk later",
                        Some(n) if n.extents() > lv.extents() => "grown later",
                        Some(_) => "moved later",
                    };
                    changes.push(format!("LV {} ({change})", lv.name));
                    if old_count < MAX_OLD_VOLUMES && !added.iter().any(|(n, s)| n == &lv.name && s == &lv.segments) {
                        let old_slots = slots_for(old, g, &slots);
                        let mut v = lv_volume(old, lv, &old_slots, Some((*seqno, g.seqno, change)), &pv_names);
                        v.name = format!("{}/{}@{seqno}", old.name, lv.name);
                        out.volumes.push(v);
                        added.push((lv.name.clone(), lv.segments.clone()));
                        old_count += 1;
                        next_index = next_index.saturating_add(1);
                    }
                }
                let when = old.written.map(|t| format!(", {}", date(t))).unwrap_or_default();
                if changes.is_empty() {
                    same.push(*seqno);
                } else {
                    out.notes.push(format!("VG {}, seqno {seqno}{when}: {}", old.name, changes.join(", ")));
                }
            }
            if !same.is_empty() {
                let list: Vec<String> = same.iter().rev().map(|s| s.to_string()).collect();
                out.notes.push(format!(
                    "VG {}: older metadata (seqno {}) in the metadata ring describes the same LVs as now",
                    g.name,
                    list.join(", ")
                ));
            }
        }
        let last = after_current.saturating_sub(1);
        let lvs = if after_current == first {
            "it has no logical volumes".to_string()
        } else if last == first {
            format!("its logical volume is volume {first}")
        } else {
            format!("its logical volumes are volumes {first}–{last}")
        };
        for (i, f) in pvs.iter().enumerate() {
            if g.pvs.iter().any(|p| p.uuid == f.label.pv_uuid) {
                used[i] = true;
                out.members.push((f.candidate, format!("LVM2 physical volume of VG {} (seqno {}) — {lvs}", g.name, g.seqno)));
            }
        }
    }
    for (i, f) in pvs.iter().enumerate() {
        if !used[i] {
            let sentence = if f.empty {
                "LVM2 physical volume, not part of any volume group (its metadata area is empty)"
            } else if f.label.metadata_areas.is_empty() {
                "LVM2 physical volume without metadata — select the other PVs of its volume group too"
            } else {
                "LVM2 physical volume — no readable volume group metadata on it"
            };
            out.members.push((f.candidate, sentence.to_string()));
        }
    }
    out
}

/// The fuzz target's body: `data` as a metadata text (parsed, read as a
/// VG, every LV mapped over small zero PVs and read at its start, middle
/// and end), then as a whole PV image (label, areas, texts in the ring).
#[doc(hidden)]
pub fn fuzz_metadata(data: &[u8]) {
    use crate::read_at::{MemReader, ReadAt};
    if let Ok(g) = metadata::parse(data).and_then(|t| VolumeGroup::from_metadata(&t)) {
        let pv: Reader = Rc::new(MemReader::new(vec![0; 1 << 16]));
        let slots: Vec<PvSlot> = g.pvs.iter().map(|_| PvSlot { reader: Some(pv.clone()), missing: String::new() }).collect();
        for lv in g.lvs.iter().take(64) {
            let r = LvReader::new(&g, lv, &slots);
            let mut buf = [0u8; 4096];
            for at in [0, r.size() / 2, r.size().saturating_sub(4096)] {
                let n = buf.len().min(usize::try_from(r.size().saturating_sub(at)).unwrap_or(4096));
                let _ = r.read_exact_at(at, &mut buf[..n]);
            }
        }
    }
    let disk: Reader = Rc::new(MemReader::new(data.to_vec()));
    let _ = assemble(&[Candidate { name: "fuzz".into(), reader: disk }], 1);
}

/// LVs that are volumes: the visible ones, and snapshots (whose COW LV
/// lvm2 writes without VISIBLE; it shows as the snapshot).
fn shown(g: &VolumeGroup, lv: &LogicalVolume) -> bool {
    lv.visible
        || g.lvs.iter().any(|s| {
            s.segments.iter().any(|seg| matches!(&seg.kind, SegmentKind::Snapshot { cow_store, .. } if cow_store == &lv.name))
        })
}

fn vg_key(g: &VolumeGroup) -> String {
    if g.id.is_empty() { g.name.clone() } else { g.id.clone() }
}

/// Slots for an older version's PVs, by UUID among the newest version's.
fn slots_for(old: &VolumeGroup, now: &VolumeGroup, slots: &[PvSlot]) -> Vec<PvSlot> {
    old.pvs
        .iter()
        .map(|p| match now.pvs.iter().position(|q| q.uuid == p.uuid) {
            Some(i) => PvSlot { reader: slots[i].reader.clone(), missing: slots[i].missing.clone() },
            None => PvSlot {
                reader: None,
                missing: format!("PV {} (uuid {}) of an older version of VG {} is no longer in it", p.key, dashed(&p.uuid), old.name),
            },
        })
        .collect()
}

fn lv_volume(g: &VolumeGroup, lv: &LogicalVolume, slots: &[PvSlot], old: Option<(u64, u64, &str)>, pv_names: &[String]) -> AssembledVolume {
    // A visible old-style snapshot is the COW store of a hidden LV with a
    // snapshot segment: the volume is that LV's view.
    let snapshot = g.lvs.iter().find(|s| {
        s.segments.iter().any(|seg| matches!(&seg.kind, SegmentKind::Snapshot { cow_store, .. } if cow_store == &lv.name))
    });
    let origin = snapshot.and_then(|s| {
        s.segments.iter().find_map(|seg| match &seg.kind {
            SegmentKind::Snapshot { origin, .. } => Some(origin.clone()),
            _ => None,
        })
    });
    let reader = LvReader::new(g, snapshot.unwrap_or(lv), slots);
    let mut problems = reader.problems.clone();
    problems.extend(reader.degraded.iter().map(|d| format!("degraded, the data is still complete: {d}")));
    let mut details = vec![
        ("volume group".to_string(), format!("{} (seqno {}; {})", g.name, g.seqno, pv_names.join(", "))),
        ("segments".to_string(), segments_text(g, lv)),
    ];
    if let Some(t) = lv.creation_time {
        details.push(("created".into(), date(t)));
    }
    let unreadable = if lv.segments.iter().any(|s| matches!(s.kind, SegmentKind::ThinPool { .. })) {
        Some("LVM2 thin pool — holds thin volumes, no files of its own".to_string())
    } else if reader.problems.iter().any(|p| p.ends_with("not supported yet")) {
        Some(format!("LVM2 logical volume — {}", reader.problems.join("; ")))
    } else if !reader.problems.is_empty() {
        Some(format!("LVM2 logical volume — can't be read: {}", reader.problems.join("; ")))
    } else {
        None
    };
    let mut type_name = match &origin {
        Some(o) => format!("LVM2 snapshot of {}/{o}", g.name),
        None => "LVM2 logical volume".to_string(),
    };
    if let Some((seqno, newest, change)) = old {
        type_name = format!("{type_name} from older metadata (seqno {seqno})");
        details.insert(0, ("metadata".into(), format!("older version, seqno {seqno}; the newest is {newest}")));
        problems.insert(
            0,
            format!("this is the LV as metadata seqno {seqno} described it ({change}); its extents may since have been reused, so check what you recover"),
        );
    }
    AssembledVolume { name: format!("{}/{}", g.name, lv.name), type_name, reader: Rc::new(reader) as Reader, details, problems, unreadable, member_of: None }
}

fn segments_text(g: &VolumeGroup, lv: &LogicalVolume) -> String {
    let parts: Vec<String> = lv
        .segments
        .iter()
        .map(|s| {
            let size = human(s.extent_count.saturating_mul(g.extent_bytes));
            let pv_name = |a: &vg::Area| match a {
                vg::Area::Pv { pv, start_extent } => format!("{}:{start_extent}", g.pvs[*pv].key),
                vg::Area::Lv { name, start_extent } => format!("{name}:{start_extent}"),
            };
            match &s.kind {
                SegmentKind::Striped { stripe_bytes: 0, areas } => {
                    format!("linear {size} on {}", areas.iter().map(pv_name).collect::<Vec<_>>().join(", "))
                }
                SegmentKind::Striped { stripe_bytes, areas } => format!(
                    "striped {size}, {} stripes of {} on {}",
                    areas.len(),
                    human(*stripe_bytes),
                    areas.iter().map(pv_name).collect::<Vec<_>>().join(", ")
                ),
                SegmentKind::Mirror { legs } => {
                    format!("{} {size}, {} legs: {}", s.type_name, legs.len(), legs.iter().map(pv_name).collect::<Vec<_>>().join(", "))
                }
                _ => format!("{} {size}", s.type_name),
            }
        })
        .collect();
    parts.join("; ")
}

pub fn dashed(uuid: &str) -> String {
    // lvm2 shows 32-character UUIDs as 6-4-4-4-4-4-6.
    if uuid.len() != 32 || !uuid.is_ascii() {
        return uuid.to_string();
    }
    let cuts = [6, 10, 14, 18, 22, 26];
    let mut s = String::new();
    for (i, c) in uuid.chars().enumerate() {
        if cuts.contains(&i) {
            s.push('-');
        }
        s.push(c);
    }
    s
}

fn date(secs: i64) -> String {
    let iso = crate::fs::Timestamp { secs, nanos: 0 }.iso8601();
    // 2024-05-01T12:00:00Z → 2024-05-01 12:00 UTC
    match (iso.get(0..10), iso.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => iso,
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_at::ReadAt;

    fn vg_text(lvs: &str) -> String {
        format!(
            "v {{\nid = \"a\"\nseqno = 1\nextent_size = 8\nphysical_volumes {{\npv0 {{\nid = \"x\"\npe_start = 8\npe_count = 100\n}}\n}}\nlogical_volumes {{\n{lvs}\n}}\n}}\n"
        )
    }

    #[test]
    fn every_cut_and_flip_of_a_text_gives_a_result() {
        let text = vg_text(
            "r {\nstatus = [\"VISIBLE\"]\nsegment1 {\nstart_extent = 0\nextent_count = 4\nstripe_count = 2\nstripe_size = 8\nstripes = [\"pv0\", 0, \"pv0\", 10]\n}\n}",
        );
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            fuzz_metadata(&bytes[..cut]);
        }
        for at in 0..bytes.len() {
            for flip in [b'{', b'}', b'"', b'[', b'=', b'9', b'-', 0] {
                let mut m = bytes.to_vec();
                m[at] = flip;
                fuzz_metadata(&m);
            }
        }
        thin::fuzz(&[0u8; 8192]);
        thin::fuzz(bytes);
    }

    #[test]
    fn loops_and_absurd_sizes_end() {
        // A mirror whose leg is itself, two mirrors naming each other, a
        // striped LV running far past its PV, an unknown segment type.
        let text = vg_text(
            "a {\nsegment1 {\nstart_extent = 0\nextent_count = 4\ntype = \"mirror\"\nmirrors = [\"a\", 0, \"b\", 0]\n}\n}\n\
             b {\nsegment1 {\nstart_extent = 0\nextent_count = 4\ntype = \"mirror\"\nmirrors = [\"a\", 0]\n}\n}\n\
             c {\nsegment1 {\nstart_extent = 0\nextent_count = 4000000000\nstripe_count = 1\nstripes = [\"pv0\", 99]\n}\n}\n\
             d {\nsegment1 {\nstart_extent = 0\nextent_count = 4\ntype = \"raid6\"\n}\n}",
        );
        fuzz_metadata(text.as_bytes());
        let g = VolumeGroup::from_metadata(&metadata::parse(text.as_bytes()).unwrap()).unwrap();
        let pv: Reader = Rc::new(crate::read_at::MemReader::new(vec![0; 1 << 16]));
        let slots = [PvSlot { reader: Some(pv), missing: "gone".into() }];
        let a = LvReader::new(&g, g.lv("a").unwrap(), &slots);
        let mut b = [0u8; 16];
        assert!(a.read_exact_at(0, &mut b).is_err());
        let d = LvReader::new(&g, g.lv("d").unwrap(), &slots);
        assert_eq!(d.problems, ["segment type raid6 is not supported yet"]);
        let c = LvReader::new(&g, g.lv("c").unwrap(), &slots);
        let e = c.read_exact_at(1 << 30, &mut b).unwrap_err();
        assert!(e.to_string().contains("short read"), "{e}");
    }
}
