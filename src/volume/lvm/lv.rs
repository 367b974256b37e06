//! Reading a logical volume: its segments mapped onto PVs (lvm2's
//! device-mapper tables, `lib/activate/dev_manager.c`, done in memory).
//!
//! - linear / striped: an LV byte `o` in a segment of `n` stripes of
//!   `stripe_bytes` lies in chunk `c = o / stripe_bytes`, on stripe
//!   `c % n`, at row `c / n` of that stripe's area;
//! - mirror / raid1: every leg holds the same bytes; the first leg that
//!   reads wins, the next ones are tried on an error;
//! - zero: zeros; other types (thin, snapshot, raid5 …): a sentence.
//!
//! Sub-LVs (mirror legs) are built recursively, at most [`MAX_DEPTH`]
//! deep, never through an LV already on the path, and each once.

use std::collections::HashMap;
use std::rc::Rc;

use super::snapshot::SnapshotMap;
use crate::volume::md::MdReader;
use super::thin::ThinMap;
use super::vg::{Area, LogicalVolume, SegmentKind, VolumeGroup};
use crate::error::{Error, Result};
use crate::read_at::{check_range, ReadAt, Reader};

const MAX_DEPTH: usize = 8;

/// Where an area's bytes are read from.
#[derive(Clone)]
struct Target {
    /// None when the PV is missing; `missing` says which.
    reader: Option<Reader>,
    offset: u64,
    missing: String,
    /// Every byte can be read (a PV present, a sub-LV without problems).
    complete: bool,
}

impl Target {
    fn read(&self, at: u64, buf: &mut [u8]) -> Result<()> {
        let r = self.reader.as_ref().ok_or_else(|| Error::not_found(self.missing.clone()))?;
        let pos = self.offset.checked_add(at).ok_or_else(|| Error::corrupt("LV offset overflows"))?;
        r.read_exact_at(pos, buf)
    }
}

enum Map {
    Striped { stripe_bytes: u64, areas: Vec<Target> },
    Mirror { legs: Vec<Target> },
    Zero,
    /// Another reader holding the segment's bytes from its start (a raid array).
    Via(Reader),
    /// A thin volume: its mapping and the pool's data LV.
    Thin { map: Rc<ThinMap>, data: Reader },
    /// A snapshot: changed chunks from the COW LV, the rest from the origin.
    Snapshot { map: Rc<SnapshotMap>, origin: Reader, cow: Reader },
    Fail(String),
}

struct Piece {
    start: u64,
    len: u64,
    map: Map,
}

/// Sub-LV readers already built for one LV, by name.
type Built = HashMap<String, Rc<LvReader>>;

/// A logical volume as a [`ReadAt`].
pub struct LvReader {
    size: u64,
    pieces: Vec<Piece>,
    /// Sentences about parts that can't be read (missing PV, segment type).
    pub problems: Vec<String>,
    /// Sentences about mirror legs that can't be read while another can.
    pub degraded: Vec<String>,
}

/// A PV of the VG: its device (when found) and how to name it when not.
pub struct PvSlot {
    pub reader: Option<Reader>,
    pub missing: String,
}

impl LvReader {
    pub fn new(vg: &VolumeGroup, lv: &LogicalVolume, pvs: &[PvSlot]) -> LvReader {
        Self::build(vg, lv, pvs, &mut Vec::new(), &mut HashMap::new())
    }

    fn build(vg: &VolumeGroup, lv: &LogicalVolume, pvs: &[PvSlot], path: &mut Vec<String>, built: &mut Built) -> LvReader {
        path.push(lv.name.clone());
        let eb = vg.extent_bytes;
        let mut pieces = Vec::new();
        let mut problems = Vec::new();
        let mut degraded = Vec::new();
        let target = |area: &Area, problems: &mut Vec<String>, path: &mut Vec<String>, built: &mut Built| -> Target {
            match area {
                Area::Pv { pv, start_extent } => {
                    let slot = &pvs[*pv];
                    let pe_start = vg.pvs[*pv].pe_start_bytes;
                    // Checked in VolumeGroup::from_metadata for the PV's own extents; areas past them fail on read.
                    let offset = start_extent.saturating_mul(eb).saturating_add(pe_start);
                    if slot.reader.is_none() && !problems.contains(&slot.missing) {
                        problems.push(slot.missing.clone());
                    }
                    Target { reader: slot.reader.clone(), offset, missing: slot.missing.clone(), complete: slot.reader.is_some() }
                }
                Area::Lv { name, start_extent } => {
                    let missing = format!("LV {}/{} refers to LV {name}, which can't be read", vg.name, lv.name);
                    let sub = vg.lv(name).filter(|_| path.len() < MAX_DEPTH && !path.contains(name));
                    match sub {
                        Some(sub) => {
                            // Each sub-LV is built once, however many legs name it.
                            let r = match built.get(name) {
                                Some(r) => r.clone(),
                                None => {
                                    let r = Rc::new(Self::build(vg, sub, pvs, path, built));
                                    built.insert(name.clone(), r.clone());
                                    r
                                }
                            };
                            for p in &r.problems {
                                if !problems.contains(p) {
                                    problems.push(p.clone());
                                }
                            }
                            let complete = r.problems.is_empty();
                            Target { reader: Some(r), offset: start_extent.saturating_mul(eb), missing, complete }
                        }
                        None => {
                            problems.push(missing.clone());
                            Target { reader: None, offset: 0, missing, complete: false }
                        }
                    }
                }
            }
        };
        for s in &lv.segments {
            // Bounded in VolumeGroup::from_metadata.
            let start = s.start_extent.saturating_mul(eb);
            let len = s.extent_count.saturating_mul(eb);
            let map = match &s.kind {
                SegmentKind::Striped { stripe_bytes, areas } => Map::Striped {
                    stripe_bytes: *stripe_bytes,
                    areas: areas.iter().map(|a| target(a, &mut problems, path, built)).collect(),
                },
                SegmentKind::Mirror { legs } if !legs.is_empty() => {
                    let mut leg_problems = Vec::new();
                    let legs: Vec<Target> = legs.iter().map(|a| target(a, &mut leg_problems, path, built)).collect();
                    // One complete leg is enough; the others are only worth a note.
                    let sink = if legs.iter().any(|l| l.complete) { &mut degraded } else { &mut problems };
                    for p in leg_problems {
                        if !sink.contains(&p) {
                            sink.push(p);
                        }
                    }
                    Map::Mirror { legs }
                }
                SegmentKind::Raid { level, layout, stripe_bytes, images } if !images.is_empty() => {
                    let mut image_problems = Vec::new();
                    let members: Vec<Option<Reader>> = images
                        .iter()
                        .map(|a| {
                            let t = target(a, &mut image_problems, path, built);
                            t.complete.then(|| Rc::new(crate::read_at::Slice::new(t.reader.clone().unwrap_or_else(|| Rc::new(crate::read_at::MemReader::new(Vec::new()))), t.offset, u64::MAX)) as Reader)
                        })
                        .collect();
                    // Each image holds its share of the segment.
                    let n = members.len() as u64;
                    let share = match level {
                        0 => n,
                        10 => n / 2,
                        _ => n.saturating_sub(1),
                    }
                    .max(1);
                    match MdReader::for_level(*level, *layout, members, len / share, *stripe_bytes) {
                        Ok(r) => {
                            for p in image_problems {
                                if !degraded.contains(&p) {
                                    degraded.push(p);
                                }
                            }
                            Map::Via(Rc::new(r))
                        }
                        Err(e) => {
                            let why = format!("{} segment: {e}", s.type_name);
                            problems.extend(image_problems);
                            problems.push(why.clone());
                            Map::Fail(why)
                        }
                    }
                }
                SegmentKind::Zero => Map::Zero,
                SegmentKind::Snapshot { origin, cow_store, chunk_bytes } => {
                    let got = Self::sub(vg, origin, pvs, path, built).and_then(|o| {
                        let cow = Self::sub(vg, cow_store, pvs, path, built)?;
                        if let Some(p) = o.problems.first().or(cow.problems.first()) {
                            return Err(Error::not_found(p.clone()));
                        }
                        let map = SnapshotMap::load(&*cow, *chunk_bytes)?;
                        Ok(Map::Snapshot { map: Rc::new(map), origin: o as Reader, cow: cow as Reader })
                    });
                    got.unwrap_or_else(|e| {
                        let why = format!("snapshot of {origin}: {e}");
                        problems.push(why.clone());
                        Map::Fail(why)
                    })
                }
                SegmentKind::Thin { pool, device_id } => match Self::thin(vg, pool, *device_id, pvs, path, built) {
                    Ok((map, data)) => Map::Thin { map, data },
                    Err(e) => {
                        let why = format!("thin volume in pool {pool}: {e}");
                        problems.push(why.clone());
                        Map::Fail(why)
                    }
                },
                _ => {
                    let why = format!("segment type {} is not supported yet", s.type_name);
                    if !problems.contains(&why) {
                        problems.push(why.clone());
                    }
                    Map::Fail(why)
                }
            };
            pieces.push(Piece { start, len, map });
        }
        path.pop();
        let size = lv.extents().saturating_mul(eb);
        LvReader { size, pieces, problems, degraded }
    }

    /// A sub-LV by name, built once, never through the path.
    fn sub(vg: &VolumeGroup, name: &str, pvs: &[PvSlot], path: &mut Vec<String>, built: &mut Built) -> Result<Rc<LvReader>> {
        if let Some(r) = built.get(name) {
            return Ok(r.clone());
        }
        let lv = vg.lv(name).ok_or_else(|| Error::not_found(format!("LV {name} is not in VG {}", vg.name)))?;
        if path.len() >= MAX_DEPTH || path.iter().any(|p| p == name) {
            return Err(Error::corrupt(format!("LV {name} refers back to itself")));
        }
        let r = Rc::new(Self::build(vg, lv, pvs, path, built));
        built.insert(name.to_string(), r.clone());
        Ok(r)
    }

    /// A thin device's mapping (read from the pool's metadata LV) and the pool's data LV.
    fn thin(vg: &VolumeGroup, pool: &str, device_id: u64, pvs: &[PvSlot], path: &mut Vec<String>, built: &mut Built) -> Result<(Rc<ThinMap>, Reader)> {
        let pool_lv = vg.lv(pool).ok_or_else(|| Error::not_found(format!("the pool LV {pool} is not in VG {}", vg.name)))?;
        let Some((metadata, data)) = pool_lv.segments.iter().find_map(|s| match &s.kind {
            SegmentKind::ThinPool { metadata, data, .. } => Some((metadata.clone(), data.clone())),
            _ => None,
        }) else {
            return Err(Error::corrupt(format!("LV {pool} is not a thin pool")));
        };
        let meta = Self::sub(vg, &metadata, pvs, path, built)?;
        if let Some(p) = meta.problems.first() {
            return Err(Error::not_found(format!("its metadata LV {metadata} can't be read: {p}")));
        }
        let data_lv = Self::sub(vg, &data, pvs, path, built)?;
        if let Some(p) = data_lv.problems.first() {
            return Err(Error::not_found(format!("its data LV {data} can't be read: {p}")));
        }
        let map = ThinMap::load(&*meta, device_id)?;
        Ok((Rc::new(map), data_lv))
    }

    fn read_piece(&self, p: &Piece, at: u64, buf: &mut [u8]) -> Result<()> {
        match &p.map {
            Map::Thin { map, data } => map.read(data, at, buf),
            Map::Via(r) => r.read_exact_at(at, buf),
            Map::Snapshot { map, origin, cow } => map.read(origin, cow, at, buf),
            Map::Zero => {
                buf.fill(0);
                Ok(())
            }
            Map::Fail(why) => Err(Error::unsupported(why.clone())),
            Map::Mirror { legs } => {
                let mut last = Error::not_found("the mirror has no legs");
                for leg in legs {
                    match leg.read(at, buf) {
                        Ok(()) => return Ok(()),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Map::Striped { stripe_bytes, areas } => {
                if areas.len() == 1 || *stripe_bytes == 0 {
                    return areas.first().ok_or_else(|| Error::corrupt("a segment has no stripes"))?.read(at, buf);
                }
                let n = areas.len() as u64;
                let sb = *stripe_bytes;
                let mut done = 0usize;
                while done < buf.len() {
                    let pos = at + done as u64;
                    let chunk = pos / sb;
                    let within = pos % sb;
                    // Stripe index < n ≤ 256.
                    let stripe = (chunk % n) as usize;
                    let row = chunk / n;
                    let take = ((sb - within) as usize).min(buf.len() - done);
                    areas[stripe].read(row * sb + within, &mut buf[done..done + take])?;
                    done += take;
                }
                Ok(())
            }
        }
    }
}

impl ReadAt for LvReader {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            // Pieces are sorted and contiguous (checked in from_metadata).
            let i = self.pieces.partition_point(|p| p.start + p.len <= pos);
            let p = self.pieces.get(i).ok_or_else(|| Error::corrupt("LV offset past its segments").at_offset(pos))?;
            let at = pos - p.start;
            let take = ((p.len - at).min((buf.len() - done) as u64)) as usize;
            self.read_piece(p, at, &mut buf[done..done + take]).map_err(|e| e.at_offset(pos))?;
            done += take;
        }
        Ok(())
    }
}
