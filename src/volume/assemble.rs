//! Volumes built from other volumes: Linux md RAID arrays, then LVM2
//! logical volumes (which may sit on an array).
//!
//! The image layer hands every partition of every selected disk over as a
//! [`Candidate`]; what comes back are more volumes (with their readers),
//! notes about groups that are incomplete, and a sentence for each
//! candidate that turned out to be a member.

use crate::read_at::Reader;

/// A volume that may be a PV or an array member.
#[derive(Clone)]
pub struct Candidate {
    /// How the user knows it: "volume 2", "disk2.img, volume 1".
    pub name: String,
    pub reader: Reader,
}

/// A logical volume or an array, readable like a partition.
#[derive(Clone)]
pub struct AssembledVolume {
    /// `centos/root`, `centos/data@7` (older metadata), `md0`.
    pub name: String,
    /// "LVM2 logical volume", "Linux md RAID1 array".
    pub type_name: String,
    pub reader: Reader,
    pub details: Vec<(String, String)>,
    pub problems: Vec<String>,
    /// Set when its contents can't be read at all: why, as a sentence.
    pub unreadable: Option<String>,
    /// Set when it is itself a member of what was assembled above it (an
    /// array holding an LVM2 PV): that sentence.
    pub member_of: Option<String>,
}

/// What assembling found.
#[derive(Default)]
pub struct Assembly {
    pub volumes: Vec<AssembledVolume>,
    /// About groups and arrays (a missing PV, older metadata versions).
    pub notes: Vec<String>,
    /// (candidate index, sentence) for candidates used as members.
    pub members: Vec<(usize, String)>,
}

/// Assembles md arrays from the candidates, then LVM2 volume groups from
/// the candidates and the arrays. Never fails: problems become notes.
pub fn assemble(candidates: &[Candidate], first_index: u32) -> Assembly {
    let mut out = Assembly::default();
    let md = super::md::assemble(candidates);
    out.notes.extend(md.notes);
    out.members.extend(md.members.iter().cloned());
    // md members are read through their arrays only: a 0.90 or 1.0 member
    // starts with the array's data, so it would look like a PV itself.
    // `origin[i]`: Ok(candidate index) or Err(array index).
    let mut all: Vec<Candidate> = Vec::new();
    let mut origin: Vec<std::result::Result<usize, usize>> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if !md.members.iter().any(|(m, _)| *m == i) {
            all.push(c.clone());
            origin.push(Ok(i));
        }
    }
    for (i, a) in md.volumes.iter().enumerate() {
        all.push(Candidate { name: a.name.clone(), reader: a.reader.clone() });
        origin.push(Err(i));
    }
    out.volumes.extend(md.volumes);
    let next = first_index.saturating_add(u32::try_from(out.volumes.len()).unwrap_or(u32::MAX));
    let lvm = super::lvm::assemble(&all, next);
    out.notes.extend(lvm.notes);
    // LVM members that are arrays are described on the array itself.
    for (i, sentence) in lvm.members {
        match origin.get(i) {
            Some(Err(a)) => {
                if let Some(v) = out.volumes.get_mut(*a) {
                    v.member_of = Some(sentence);
                }
            }
            Some(Ok(c)) => out.members.push((*c, sentence)),
            None => {}
        }
    }
    out.volumes.extend(lvm.volumes);
    out
}
