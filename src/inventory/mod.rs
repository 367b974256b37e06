//! "This server at a glance": what was on a Linux root filesystem —
//! system, users, services, databases, web roots, mail, certificates,
//! control panels — read from the volume's own files, and the usual
//! "essentials" selection for an export.
//!
//! Only the paths this needs are read, through [`FileSystem`] and
//! [`resolve_following`] (symlinks resolve inside the volume). Everything
//! is tolerant: a missing file is simply absent, an unreadable, huge or
//! garbled one becomes a note; every read, listing, include chain and walk
//! has a cap (see the constants below), so a hostile image costs bounded
//! time and memory and never panics.
//!
//! [`Scan`] is the steppable driver: the quick parts (configuration files)
//! run whole in the first steps, the slow parts (the SQLite/compose file
//! scan and recursive sizes) advance by a budget of work units per
//! [`Scan::step`], so the page can stream them with progress. The
//! partial [`Inventory`] can be read between steps:
//!
//! ```text
//! let mut scan = Scan::new(fs)?;        // None: not a Linux root
//! while !scan.step(20_000).done {       // ~20,000 stats/entries/reads a step
//!     show(scan.inventory());           // items appear, sizes fill in
//! }
//! let inventory = scan.finish();
//! ```
//!
//! The core has no clock (wasm), so budgets count work, not time; the page
//! times its own steps. Sizes are apparent bytes of regular files (`du -b`,
//! hard links once); `Size::complete` is false where a budget or damage
//! cut a walk. Restore hints for an export: [`restore_hints`].

mod cache;
mod files;
mod hints;
mod mail;
mod mysql;
mod data;
mod scan;
mod services;
mod system;
mod users;
mod web;

use std::collections::HashMap;
use std::rc::Rc;

use crate::fs::{resolve_following, FileKind, FileSystem};
use crate::path::escape;

pub use hints::{hints_section, restore_hints, restore_hints_for};

/// Largest configuration file read (bigger ones: the first part, and a note).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Entries read from one directory in the quick stages.
pub const MAX_DIR_ENTRIES: usize = 4096;
/// Entries read from one folder by the file scan and the size walks.
pub const WALK_MAX_DIR_ENTRIES: usize = 65_536;
/// Nesting of `!include`/`include`/`Include` followed.
pub const MAX_INCLUDE_DEPTH: u32 = 8;
/// Configuration files read per server family (my.cnf, nginx, Apache).
pub const MAX_CONFIG_FILES: usize = 256;
/// Work units (lookups, entries, reads) one quick stage may spend.
pub const QUICK_STAGE_MAX_WORK: u64 = 500_000;
/// Notes kept; more are counted in a last one.
pub const MAX_NOTES: usize = 500;
/// Items kept; more are counted in a note.
pub const MAX_ITEMS: usize = 5000;
/// Entries the SQLite/compose scan visits in all.
pub const SCAN_MAX_ENTRIES: u64 = 100_000;
/// Files whose first 16 bytes the SQLite scan reads.
pub const SCAN_MAX_MAGIC_READS: u64 = 5000;
/// Folder depth of the SQLite/compose scan below each of its roots.
pub const SCAN_MAX_DEPTH: usize = 10;
/// Entries one item's size walk visits; past it the size is an estimate.
pub const SIZE_MAX_ENTRIES_PER_ITEM: u64 = 200_000;
/// Entries all size walks visit together.
pub const SIZE_MAX_ENTRIES: u64 = 1_000_000;

/// Everything found, for the CLI's text and JSON and the page's panel.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Inventory {
    pub system: System,
    /// Every account of `/etc/passwd`, in file order.
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// What was found, in discovery order; each names its section.
    pub items: Vec<Item>,
    /// The "essentials" selection: escaped absolute paths, none inside another.
    pub essentials: Vec<String>,
    /// What could not be read or was cut short, one sentence each.
    pub notes: Vec<String>,
    /// False while the scan runs, and when a budget stopped a walk early.
    pub complete: bool,
}

/// The system's identity and the filesystem's last use.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct System {
    /// `PRETTY_NAME`, else `NAME VERSION`, else a release file's line.
    pub os: Option<String>,
    /// `ID` (`debian`, `ubuntu`, `rhel` …).
    pub os_id: Option<String>,
    /// `VERSION_ID`, or the release file's version.
    pub os_version: Option<String>,
    /// The file the OS name came from.
    pub os_source: Option<String>,
    pub hostname: Option<String>,
    /// Kernel versions with a `vmlinuz-*` in /boot (or modules in /lib/modules).
    pub kernels: Vec<String>,
    /// E.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    /// ISO 8601, from the superblock.
    pub last_mount_time: Option<String>,
    pub last_mounted_on: Option<String>,
    /// The journal's state as the filesystem reports it (replayed or not).
    pub journal: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The primary group's name.
    pub group: Option<String>,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// A person's account: uid in `UID_MIN..=UID_MAX` of /etc/login.defs
    /// (1000–60000 by default) and a login shell; root counts too.
    pub human: bool,
    /// Whether the home folder exists on this volume.
    pub home_exists: bool,
    /// `authorized_keys` files found in the home folder (escaped paths).
    pub authorized_keys: Vec<String>,
    /// Supplementary groups (from /etc/group member lists).
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The page's and the CLI's grouping of items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    System,
    Users,
    Services,
    Data,
    Web,
    Mail,
    Tls,
    Panels,
}

impl Section {
    pub const ALL: [Section; 8] =
        [Section::System, Section::Users, Section::Services, Section::Data, Section::Web, Section::Mail, Section::Tls, Section::Panels];

    pub fn title(self) -> &'static str {
        match self {
            Section::System => "System",
            Section::Users => "Users",
            Section::Services => "Services",
            Section::Data => "Data",
            Section::Web => "Web",
            Section::Mail => "Mail",
            Section::Tls => "TLS certificates",
            Section::Panels => "Control panels",
        }
    }
}

/// What an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// The `/etc` folder.
    Config,
    Home,
    SshAuthorizedKeys,
    SshHostKeys,
    SystemdUnit,
    SystemdTimer,
    InitScript,
    Crontab,
    MysqlDatadir,
    MysqlDatabase,
    PostgresCluster,
    Redis,
    Mongodb,
    Sqlite,
    DockerVolume,
    DockerCompose,
    WebRoot,
    MailSpool,
    Maildir,
    /// `/etc/letsencrypt` as a whole.
    Tls,
    /// One certificate's `live/NAME` folder (links into `archive/`).
    TlsCertificate,
    Panel,
}

impl ItemKind {
    pub fn section(self) -> Section {
        use ItemKind::*;
        match self {
            Config => Section::System,
            Home | SshAuthorizedKeys | SshHostKeys => Section::Users,
            SystemdUnit | SystemdTimer | InitScript | Crontab => Section::Services,
            MysqlDatadir | MysqlDatabase | PostgresCluster | Redis | Mongodb | Sqlite | DockerVolume | DockerCompose => Section::Data,
            WebRoot => Section::Web,
            MailSpool | Maildir => Section::Mail,
            Tls | TlsCertificate => Section::Tls,
            Panel => Section::Panels,
        }
    }

    /// Whether the item's size is worth a walk (services and keys are small
    /// files whose size nobody asks for).
    fn sized(self) -> bool {
        use ItemKind::*;
        !matches!(self, SystemdUnit | SystemdTimer | InitScript | SshHostKeys | TlsCertificate | Panel)
    }
}

/// One thing found, selectable by its path.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Item {
    pub kind: ItemKind,
    pub section: Section,
    /// A short label: `database shop`, `nginx site example.com`, `alice`.
    pub title: String,
    /// Absolute inside the volume, escaped (see [`crate::path`]).
    pub path: String,
    /// Bytes and files below `path`; `None` until the size stage reaches it
    /// (and for kinds without a size).
    pub size: Option<Size>,
    pub owner: Option<Owner>,
    /// Part of the "Select the essentials" set.
    pub essential: bool,
    /// Further facts as (name, value): version, config file, server names.
    pub details: Vec<(String, String)>,
}

/// A recursive size (apparent bytes, like `du -b`; hard links once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Size {
    pub bytes: u64,
    /// Regular files.
    pub files: u64,
    pub dirs: u64,
    /// False when a budget or damage stopped the walk: then `bytes` and
    /// `files` are a lower bound.
    pub complete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
    /// Names from the volume's own /etc/passwd and /etc/group.
    pub user: Option<String>,
    pub group: Option<String>,
}

/// Where a [`Scan`] is.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Progress {
    /// The stage about to run: `system`, `users`, … `files`, `sizes`, `done`.
    pub stage: &'static str,
    pub done: bool,
    pub items: usize,
    /// Work units spent so far (file-system calls, roughly).
    pub work: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    System,
    Users,
    Services,
    Data,
    Web,
    Mail,
    Tls,
    Files,
    Sizes,
    Done,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::System => "system",
            Stage::Users => "users",
            Stage::Services => "services",
            Stage::Data => "data",
            Stage::Web => "web",
            Stage::Mail => "mail",
            Stage::Tls => "tls",
            Stage::Files => "files",
            Stage::Sizes => "sizes",
            Stage::Done => "done",
        }
    }

    fn next(self) -> Stage {
        match self {
            Stage::System => Stage::Users,
            Stage::Users => Stage::Services,
            Stage::Services => Stage::Data,
            Stage::Data => Stage::Web,
            Stage::Web => Stage::Mail,
            Stage::Mail => Stage::Tls,
            Stage::Tls => Stage::Files,
            Stage::Files => Stage::Sizes,
            Stage::Sizes | Stage::Done => Stage::Done,
        }
    }
}

/// Whether a volume holds a Linux root: an `/etc` folder and `/usr` or
/// `/bin` (a folder, or the `/bin → usr/bin` link of merged-/usr systems).
pub fn is_linux_root(fs: &dyn FileSystem) -> bool {
    let is_dir = |p: &[u8]| resolve_following(fs, p).ok().and_then(|(i, _)| fs.stat(i).ok()).is_some_and(|m| m.kind == FileKind::Dir);
    is_dir(b"/etc") && (is_dir(b"/usr") || is_dir(b"/bin"))
}

/// The first readable volume of an image that is a Linux root, for the
/// CLI without `--volume` and the page's "At a glance" panel.
pub fn find_linux_root(image: &crate::image::Image) -> Option<(u32, Rc<dyn FileSystem>)> {
    image
        .volumes()
        .iter()
        .filter(|v| v.supported)
        .find_map(|v| image.filesystem(v.index).ok().filter(|fs| is_linux_root(&**fs)).map(|fs| (v.index, fs)))
}

/// The steppable inventory of one volume.
pub struct Scan {
    fs: Rc<cache::CachedFs>,
    inv: Inventory,
    stage: Stage,
    ctx_work: u64,
    dropped_items: usize,
    /// A quick stage stopped at its work limit.
    quick_cut: bool,
    dropped_notes: usize,
    tree: scan::TreeScan,
    sizes: scan::Sizes,
    /// (kind, path) → index in `inv.items`.
    index: HashMap<(ItemKind, String), usize>,
}

impl Scan {
    /// Starts an inventory, or `None` when the volume is not a Linux root.
    pub fn new(fs: Rc<dyn FileSystem>) -> Option<Scan> {
        let fs = Rc::new(cache::CachedFs::new(fs));
        if !is_linux_root(&*fs) {
            return None;
        }
        Some(Scan {
            fs,
            inv: Inventory::default(),
            stage: Stage::System,
            ctx_work: 0,
            dropped_items: 0,
            quick_cut: false,
            dropped_notes: 0,
            tree: scan::TreeScan::new(),
            sizes: scan::Sizes::default(),
            index: HashMap::new(),
        })
    }

    /// Does about `budget` work units (a stat, a directory entry, a read),
    /// more when a quick stage must run whole. Call until `done`.
    pub fn step(&mut self, budget: u64) -> Progress {
        let start = self.ctx_work;
        // A quick stage runs whole once started, so budget 1 runs one stage.
        while self.stage != Stage::Done && self.ctx_work.saturating_sub(start) < budget.max(1) {
            let left = budget.max(1).saturating_sub(self.ctx_work.saturating_sub(start));
            let fs = self.fs.clone();
            let mut cx = files::Ctx::new(&*fs);
            if !matches!(self.stage, Stage::Files | Stage::Sizes) {
                cx = cx.limited(QUICK_STAGE_MAX_WORK);
            }
            let finished = match self.stage {
                Stage::System => {
                    system::scan(&mut cx, &mut self.inv.system);
                    cx.add_item(files::NewItem::dir(ItemKind::Config, "system configuration", b"/etc").essential());
                    true
                }
                Stage::Users => {
                    users::scan(&mut cx, &mut self.inv.users, &mut self.inv.groups);
                    true
                }
                Stage::Services => {
                    services::scan(&mut cx);
                    true
                }
                Stage::Data => {
                    mysql::scan(&mut cx);
                    data::scan(&mut cx);
                    true
                }
                Stage::Web => {
                    web::scan(&mut cx);
                    true
                }
                Stage::Mail => {
                    mail::scan(&mut cx, &self.inv.users);
                    true
                }
                Stage::Tls => {
                    data::scan_tls_and_panels(&mut cx);
                    true
                }
                Stage::Files => self.tree.step(&mut cx, left),
                Stage::Sizes => self.sizes.step(&mut cx, &mut self.inv.items, left),
                Stage::Done => true,
            };
            self.ctx_work = self.ctx_work.saturating_add(cx.work.max(1));
            self.quick_cut |= cx.cut_short;
            let (new_items, notes) = cx.into_parts();
            for n in notes {
                if self.inv.notes.len() < MAX_NOTES {
                    if !self.inv.notes.contains(&n) {
                        self.inv.notes.push(n);
                    }
                } else {
                    self.dropped_notes = self.dropped_notes.saturating_add(1);
                }
            }
            for it in new_items {
                self.push_item(it);
            }
            if finished {
                self.stage = self.stage.next();
                if self.stage == Stage::Sizes {
                    self.sizes.plan(&self.inv.items);
                }
            }
        }
        self.refresh();
        Progress { stage: self.stage.name(), done: self.stage == Stage::Done, items: self.inv.items.len(), work: self.ctx_work }
    }

    /// Only the quick stages (configuration files): no file scan, no
    /// sizes. What [`restore_hints`] needs.
    pub fn quick(fs: Rc<dyn FileSystem>) -> Option<Inventory> {
        let mut scan = Scan::new(fs)?;
        while scan.stage != Stage::Files && scan.stage != Stage::Done {
            scan.step(1);
        }
        scan.refresh();
        Some(scan.inv)
    }

    /// The inventory so far (complete once a step reported `done`).
    pub fn inventory(&self) -> &Inventory {
        &self.inv
    }

    pub fn finish(mut self) -> Inventory {
        self.refresh();
        self.inv
    }

    fn push_item(&mut self, it: files::NewItem) {
        let path = escape(&it.path);
        // One item per (kind, path): two vhosts sharing a root are one root.
        if let Some(prev) = self.index.get(&(it.kind, path.clone())).and_then(|i| self.inv.items.get_mut(*i)) {
            for d in it.details {
                if !prev.details.contains(&d) {
                    prev.details.push(d);
                }
            }
            prev.essential |= it.essential;
            return;
        }
        if self.inv.items.len() >= MAX_ITEMS {
            self.dropped_items = self.dropped_items.saturating_add(1);
            return;
        }
        self.index.insert((it.kind, path.clone()), self.inv.items.len());
        self.inv.items.push(Item {
            kind: it.kind,
            section: it.kind.section(),
            title: it.title,
            path,
            size: it.size,
            owner: it.owner.map(|(uid, gid)| Owner { uid, gid, user: None, group: None }),
            essential: it.essential,
            details: it.details,
        });
    }

    /// Fills owner names, the essentials list and `complete`.
    fn refresh(&mut self) {
        let users: HashMap<u32, &str> = self.inv.users.iter().rev().map(|u| (u.uid, u.name.as_str())).collect();
        let groups: HashMap<u32, &str> = self.inv.groups.iter().rev().map(|g| (g.gid, g.name.as_str())).collect();
        for it in &mut self.inv.items {
            if let Some(o) = &mut it.owner {
                o.user = users.get(&o.uid).map(|s| s.to_string());
                o.group = groups.get(&o.gid).map(|s| s.to_string());
            }
        }
        self.inv.essentials = essentials(&self.inv.items);
        let cut = self.inv.items.iter().any(|i| i.size.is_some_and(|s| !s.complete)) || self.tree.cut_short() || self.dropped_items > 0 || self.quick_cut;
        self.inv.complete = self.stage == Stage::Done && !cut;
        if self.stage == Stage::Done && self.dropped_notes > 0 {
            let note = format!("… and {} more notes", self.dropped_notes);
            if !self.inv.notes.contains(&note) {
                self.inv.notes.push(note);
            }
        }
        if self.stage == Stage::Done && self.dropped_items > 0 {
            let note = format!("{} more items were found but not listed (at most {MAX_ITEMS})", self.dropped_items);
            if !self.inv.notes.contains(&note) {
                self.inv.notes.push(note);
            }
        }
    }
}

/// Runs a whole inventory; `None` when the volume is not a Linux root.
pub fn inventory(fs: Rc<dyn FileSystem>) -> Option<Inventory> {
    let mut scan = Scan::new(fs)?;
    while !scan.step(50_000).done {}
    Some(scan.finish())
}

/// The essential items' paths (escaped), sorted, with any path inside
/// another one left out.
pub fn essentials(items: &[Item]) -> Vec<String> {
    let mut paths: Vec<&str> = items.iter().filter(|i| i.essential).map(|i| i.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    let mut kept: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        // Is any ancestor folder of p already kept? (Sorted order puts
        // ancestors first.)
        let inside = kept.contains("/") || p.match_indices('/').skip(1).any(|(i, _)| p.get(..i).is_some_and(|a| kept.contains(a)));
        if !inside {
            kept.insert(p);
            out.push(p.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, essential: bool) -> Item {
        Item {
            kind: ItemKind::WebRoot,
            section: Section::Web,
            title: String::new(),
            path: path.into(),
            size: None,
            owner: None,
            essential,
            details: Vec::new(),
        }
    }

    #[test]
    fn essentials_drop_nested_paths() {
        let items = [
            item("/var/www/a", true),
            item("/var/www", true),
            item("/var/www2", true),
            item("/var/www-x/y", true),
            item("/srv", false),
            item("/srv/a", true),
            item("/etc", true),
            item("/etc/ssh", true),
            item("/etc/ssh", true),
        ];
        assert_eq!(essentials(&items), vec!["/etc", "/srv/a", "/var/www", "/var/www-x/y", "/var/www2"]);
        assert_eq!(essentials(&[item("/", true), item("/etc", true)]), vec!["/"]);
    }
}
