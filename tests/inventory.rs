//! "This server at a glance": the inventory of a Debian 12-like root laid
//! out by `tests/fixtures/inventory.sh` (real packages' paths, service
//! uids), with the source tree as the oracle for paths, sizes and owners;
//! the essentials exported with `salvage export` keep their owners; a data
//! partition and an ESP give no inventory; garbled configs, include loops
//! and symlink loops give notes. Built once per test binary into
//! `$CARGO_TARGET_TMPDIR/inventory` (rebuilt when the script is newer);
//! needs root (chown) and the tools named in the script's header.

#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Instant;

use salvage::container::Source;
use salvage::fs::ext4::Ext4Fs;
use salvage::fs::{DirIter, FileKind, FileSystem, FsInfo, Metadata};
use salvage::image::Image;
use salvage::inventory::{inventory, restore_hints, Inventory, Item, ItemKind, Scan};
use salvage::read_at::{CacheConfig, ChunkCache, IoStats, Reader, Slice};

use common::{Counting, FileReader};

const BIN: &str = env!("CARGO_BIN_EXE_salvage");
const TMP: &str = env!("CARGO_TARGET_TMPDIR");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inventory.sh");

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(TMP).join("inventory");
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let fresh = matches!((mtime(&out.join("VERSIONS.txt")), mtime(Path::new(SCRIPT))), (Some(b), Some(s)) if b >= s);
        if !fresh {
            let status = Command::new("bash").arg(SCRIPT).arg(&out).status().expect("running bash");
            assert!(status.success(), "tests/fixtures/inventory.sh failed; it needs root and the tools in its header");
        }
        out
    })
}

fn open_image(path: &Path) -> (Image, Rc<IoStats>) {
    open_image_with(path, CacheConfig::NATIVE)
}

fn open_image_with(path: &Path, config: CacheConfig) -> (Image, Rc<IoStats>) {
    let stats = Rc::new(IoStats::default());
    let f = std::fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    let cached = ChunkCache::new(FileReader(f, len), config, stats.clone());
    let source = Source { name: path.file_name().unwrap().to_string_lossy().into_owned(), reader: Rc::new(cached) };
    (Image::open(source, Vec::new(), stats.clone()).unwrap(), stats)
}

fn root_fs() -> Rc<dyn FileSystem> {
    let (image, _) = open_image(&fixtures().join("disk.img"));
    image.filesystem(2).unwrap()
}

fn src(rel: &str) -> PathBuf {
    fixtures().join("root").join(rel.trim_start_matches('/'))
}

/// `du -b`-like: bytes and count of the regular files below `path` (links
/// not followed, hard links once), from the source tree.
fn du(path: &Path) -> (u64, u64) {
    let m = std::fs::symlink_metadata(path).unwrap();
    if m.is_file() {
        return (m.len(), 1);
    }
    let (mut bytes, mut files) = (0, 0);
    let mut seen = BTreeSet::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() && (m.nlink() == 1 || seen.insert(m.ino())) {
                bytes += m.len();
                files += 1;
            }
        }
    }
    (bytes, files)
}

fn item<'a>(inv: &'a Inventory, kind: ItemKind, path: &str) -> &'a Item {
    inv.items
        .iter()
        .find(|i| i.kind == kind && i.path == path)
        .unwrap_or_else(|| panic!("no {kind:?} item at {path}; items: {:#?}", inv.items.iter().map(|i| (i.kind, &i.path)).collect::<Vec<_>>()))
}

fn detail<'a>(i: &'a Item, name: &str) -> &'a str {
    i.details.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("{} has no {name}: {:?}", i.path, i.details))
}

/// The item's size and owner equal the source tree's.
fn assert_matches_source(i: &Item) {
    let p = src(&i.path);
    let m = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let owner = i.owner.as_ref().unwrap_or_else(|| panic!("{} has no owner", i.path));
    assert_eq!((owner.uid, owner.gid), (m.uid(), m.gid()), "owner of {}", i.path);
    if let Some(size) = i.size {
        let (bytes, files) = du(&std::fs::canonicalize(&p).unwrap());
        assert_eq!((size.bytes, size.files), (bytes, files), "size of {}", i.path);
        assert!(size.complete, "{}", i.path);
    }
}

#[test]
fn finds_each_thing_with_paths_sizes_and_owners() {
    let started = Instant::now();
    let inv = inventory(root_fs()).expect("a Linux root");
    eprintln!("inventory of the fixture root: {:.1} ms, {} items", started.elapsed().as_secs_f64() * 1000.0, inv.items.len());
    assert!(inv.notes.is_empty(), "{:#?}", inv.notes);
    assert!(inv.complete);

    let s = &inv.system;
    assert_eq!(s.os.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    assert_eq!((s.os_id.as_deref(), s.os_version.as_deref()), (Some("debian"), Some("12")));
    assert_eq!(s.os_source.as_deref(), Some("/etc/os-release"));
    assert_eq!(s.hostname.as_deref(), Some("web1"));
    assert_eq!(s.kernels, ["6.1.0-18-amd64", "6.1.0-21-amd64"]);
    assert_eq!(s.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(s.last_mount_time.as_deref(), Some("2024-05-01T12:00:00Z"));
    assert_eq!(s.last_mounted_on.as_deref(), Some("/"));
    assert!(s.journal.is_some());

    // People and service accounts by login.defs' UID_MIN and the shell.
    let human: Vec<&str> = inv.users.iter().filter(|u| u.human).map(|u| u.name.as_str()).collect();
    assert_eq!(human, ["root", "alice", "bob"]);
    assert_eq!(inv.users.len(), 15);
    assert!(!inv.users.iter().find(|u| u.name == "vmail").unwrap().human, "uid 5000 with nologin is a service");
    let alice = inv.users.iter().find(|u| u.name == "alice").unwrap();
    assert_eq!((alice.uid, alice.gid, alice.group.as_deref()), (1000, 1000, Some("alice")));
    assert_eq!(alice.groups, ["sudo", "docker"]);
    assert_eq!(alice.authorized_keys, ["/home/alice/.ssh/authorized_keys"]);
    assert!(!inv.users.iter().find(|u| u.name == "postgres").unwrap().human, "uid 105 with a shell is still a service");
    assert_eq!(inv.groups.len(), 15);

    for (kind, path) in [
        (ItemKind::Config, "/etc"),
        (ItemKind::Home, "/home/alice"),
        (ItemKind::Home, "/home/bob"),
        (ItemKind::Home, "/root"),
        (ItemKind::SshAuthorizedKeys, "/home/alice/.ssh/authorized_keys"),
        (ItemKind::SshAuthorizedKeys, "/root/.ssh/authorized_keys"),
        (ItemKind::MysqlDatadir, "/srv/mysql"),
        (ItemKind::MysqlDatabase, "/srv/mysql/shop"),
        (ItemKind::MysqlDatabase, "/srv/mysql/wiki@002ddb"),
        (ItemKind::PostgresCluster, "/var/lib/postgresql/15/main"),
        (ItemKind::PostgresCluster, "/srv/pg-archive"),
        (ItemKind::Redis, "/srv/redis"),
        (ItemKind::Mongodb, "/var/lib/mongodb"),
        (ItemKind::MailSpool, "/var/vmail"),
        (ItemKind::DockerVolume, "/var/lib/docker/volumes/app_db/_data"),
        (ItemKind::DockerVolume, "/var/lib/docker/volumes/app_uploads/_data"),
        (ItemKind::DockerCompose, "/srv/app/docker-compose.yml"),
        (ItemKind::Sqlite, "/srv/app/data/app.sqlite"),
        (ItemKind::WebRoot, "/var/www/shop/public"),
        (ItemKind::WebRoot, "/srv/blog"),
        (ItemKind::WebRoot, "/var/www/legacy"),
        (ItemKind::WebRoot, "/var/www"),
        (ItemKind::MailSpool, "/var/mail"),
        (ItemKind::Maildir, "/home/alice/Maildir"),
        (ItemKind::Maildir, "/home/bob/Maildir"),
        (ItemKind::Crontab, "/var/spool/cron/crontabs/alice"),
        (ItemKind::Crontab, "/var/spool/cron/crontabs/root"),
        (ItemKind::Crontab, "/etc/crontab"),
        (ItemKind::Crontab, "/etc/cron.d/certbot"),
        (ItemKind::Crontab, "/etc/cron.daily/logrotate"),
        (ItemKind::Tls, "/etc/letsencrypt"),
        (ItemKind::TlsCertificate, "/etc/letsencrypt/live/shop.example"),
        (ItemKind::SshHostKeys, "/etc/ssh"),
        (ItemKind::Panel, "/usr/local/ispconfig"),
        (ItemKind::InitScript, "/etc/init.d/nginx"),
    ] {
        let i = item(&inv, kind, path);
        assert_matches_source(i);
        assert!(i.size.is_some() || !matches!(kind, ItemKind::Home | ItemKind::MysqlDatadir | ItemKind::WebRoot), "{path} has a size");
    }
    // Names from the volume's own passwd and group.
    let datadir = item(&inv, ItemKind::MysqlDatadir, "/srv/mysql");
    let o = datadir.owner.as_ref().unwrap();
    assert_eq!((o.uid, o.gid, o.user.as_deref(), o.group.as_deref()), (106, 110, Some("mysql"), Some("mysql")));
    assert_eq!(detail(datadir, "found by"), "datadir in /etc/mysql/mariadb.conf.d/99-datadir.cnf");
    assert_eq!(detail(datadir, "server version"), "10.11.6-MariaDB");
    assert_eq!(detail(datadir, "databases"), "shop wiki-db");
    assert_eq!(item(&inv, ItemKind::MysqlDatabase, "/srv/mysql/wiki@002ddb").title, "database wiki-db");
    assert_eq!(detail(item(&inv, ItemKind::PostgresCluster, "/var/lib/postgresql/15/main"), "major version"), "15");
    assert_eq!(item(&inv, ItemKind::PostgresCluster, "/srv/pg-archive").title, "PostgreSQL 15 cluster archive");
    let shop = item(&inv, ItemKind::WebRoot, "/var/www/shop/public");
    assert_eq!(detail(shop, "server names"), "shop.example www.shop.example");
    assert_eq!(detail(shop, "config"), "/etc/nginx/sites-enabled/shop.example");
    assert_eq!(detail(item(&inv, ItemKind::WebRoot, "/srv/blog"), "config"), "/etc/nginx/sites-enabled/blog.example");
    let legacy = item(&inv, ItemKind::WebRoot, "/var/www/legacy");
    assert_eq!((legacy.title.as_str(), detail(legacy, "server names")), ("Apache site legacy.example", "legacy.example old.example"));
    assert_eq!(detail(legacy, "config"), "/etc/apache2/sites-enabled/legacy.conf");
    assert!(!inv.items.iter().any(|i| i.path == "/var/www/html" && i.kind == ItemKind::WebRoot), "the default sites are not enabled");
    assert_eq!(detail(item(&inv, ItemKind::MailSpool, "/var/mail"), "mailboxes"), "alice bob");
    let redis = item(&inv, ItemKind::Redis, "/srv/redis");
    assert_eq!((detail(redis, "found at"), detail(redis, "files")), ("/var/lib/redis", "appendonlydir dump.rdb"));
    assert_eq!(detail(item(&inv, ItemKind::SshHostKeys, "/etc/ssh"), "types"), "ecdsa ed25519 rsa");
    let docker_db = item(&inv, ItemKind::DockerVolume, "/var/lib/docker/volumes/app_db/_data").owner.as_ref().unwrap();
    assert_eq!((docker_db.uid, docker_db.user.as_deref()), (999, None), "a container's uid has no name");

    let units: BTreeSet<&str> = inv.items.iter().filter(|i| i.kind == ItemKind::SystemdUnit).map(|i| i.title.as_str()).collect();
    assert_eq!(
        units,
        ["cron.service", "docker.service", "docker.socket", "mariadb.service", "nginx.service", "postgresql.service", "redis-server.service", "ssh.service"].into()
    );
    let timers: BTreeSet<&str> = inv.items.iter().filter(|i| i.kind == ItemKind::SystemdTimer).map(|i| i.title.as_str()).collect();
    assert_eq!(timers, ["certbot.timer", "timer backup.timer"].into());
    assert_eq!(detail(item(&inv, ItemKind::InitScript, "/etc/init.d/nginx"), "started in runlevels"), "2");
    assert!(!inv.items.iter().any(|i| i.path.ends_with("README") || i.path.ends_with("skeleton") || i.path.ends_with(".placeholder")));

    assert_eq!(
        inv.essentials,
        [
            "/etc",
            "/home/alice",
            "/home/bob",
            "/root",
            "/srv/app/data/app.sqlite",
            "/srv/app/docker-compose.yml",
            "/srv/blog",
            "/srv/mysql",
            "/srv/pg-archive",
            "/srv/redis",
            "/var/lib/docker/volumes/app_db/_data",
            "/var/lib/docker/volumes/app_uploads/_data",
            "/var/lib/mongodb",
            "/var/lib/postgresql/15/main",
            "/var/mail",
            "/var/spool/cron",
            "/var/vmail",
            "/var/www",
        ]
    );

    // The record serializes cleanly for the page.
    let json = serde_json::to_value(&inv).unwrap();
    assert_eq!(json["items"][0]["section"], "system");
    assert_eq!(json["system"]["hostname"], "web1");
}

#[test]
fn steps_are_bounded_and_give_the_same_result() {
    let whole = serde_json::to_value(inventory(root_fs()).unwrap()).unwrap();
    let mut scan = Scan::new(root_fs()).unwrap();
    let mut steps = 0;
    let mut stages = vec!["system"];
    let mut slow_steps = Vec::new();
    let mut last_work = 0;
    loop {
        let ran = *stages.last().unwrap();
        let p = scan.step(25);
        steps += 1;
        if stages.last() != Some(&p.stage) {
            stages.push(p.stage);
        }
        // The slow stages stop at their budget, past it by at most one
        // folder's listing and stats (bob's Maildir/cur: 4500 entries).
        if matches!(ran, "files" | "sizes") {
            let did = p.work - last_work;
            assert!(did <= 25 + 2 * 4500 + 50, "a {ran} step did {did} units");
            slow_steps.push(did);
        }
        last_work = p.work;
        // The partial record is readable between steps.
        let _ = serde_json::to_string(scan.inventory()).unwrap();
        if p.done {
            break;
        }
        assert!(!scan.inventory().complete);
    }
    slow_steps.sort_unstable();
    assert!(slow_steps.len() > 10 && slow_steps[slow_steps.len() / 2] < 100, "{slow_steps:?}");
    assert!(steps > 20, "only {steps} steps");
    assert!(stages.ends_with(&["files", "sizes", "done"]), "{stages:?}");
    assert_eq!(serde_json::to_value(scan.finish()).unwrap(), whole);
}

/// Records what a filesystem was asked: file bytes read per inode.
struct Recording {
    inner: Rc<dyn FileSystem>,
    read: RefCell<BTreeMap<u64, u64>>,
    listed: Cell<u64>,
}

impl FileSystem for Recording {
    fn info(&self) -> FsInfo {
        self.inner.info()
    }
    fn root(&self) -> u64 {
        self.inner.root()
    }
    fn stat(&self, inode: u64) -> salvage::Result<Metadata> {
        self.inner.stat(inode)
    }
    fn read_dir(&self, inode: u64) -> salvage::Result<DirIter<'_>> {
        self.listed.set(self.listed.get() + 1);
        self.inner.read_dir(inode)
    }
    fn read_at(&self, inode: u64, offset: u64, buf: &mut [u8]) -> salvage::Result<usize> {
        let n = self.inner.read_at(inode, offset, buf)?;
        *self.read.borrow_mut().entry(inode).or_default() += n as u64;
        Ok(n)
    }
    fn read_link(&self, inode: u64) -> salvage::Result<Vec<u8>> {
        self.inner.read_link(inode)
    }
}

/// inode → path of every name in the volume.
fn paths_by_inode(fs: &dyn FileSystem) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), fs.root())];
    while let Some((path, dir)) = stack.pop() {
        for e in fs.read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = format!("{path}/{}", String::from_utf8_lossy(&e.name));
            if e.kind == Some(FileKind::Dir) {
                stack.push((p.clone(), e.inode));
            }
            out.insert(e.inode, p);
        }
    }
    out
}

#[test]
fn reads_only_what_it_needs() {
    let fs = root_fs();
    let paths = paths_by_inode(&*fs);
    let rec = Rc::new(Recording { inner: fs, read: RefCell::new(BTreeMap::new()), listed: Cell::new(0) });
    inventory(rec.clone()).unwrap();
    let read = rec.read.borrow();
    // Configuration files are read whole; everything else (databases,
    // photos, mail) at most its first 16 bytes, for the SQLite header.
    let config = |p: &str| {
        p.starts_with("/etc/")
            || p == "/usr/lib/os-release"
            || p.ends_with("/authorized_keys")
            || p == "/srv/mysql/mysql_upgrade_info"
            || p.ends_with("/PG_VERSION")
    };
    let mut probed = Vec::new();
    for (inode, bytes) in read.iter() {
        let p = &paths[inode];
        if config(p) {
            continue;
        }
        assert!(*bytes <= 16, "{p}: {bytes} bytes read");
        probed.push(p.as_str());
    }
    // Only files whose size could be a database's (a multiple of 512) are probed.
    assert!(probed.contains(&"/srv/app/data/app.sqlite"), "{probed:?}");
    assert!(!probed.iter().any(|p| p.ends_with("notes.txt") || p.ends_with("index.php") || p.contains("/Maildir/")), "{probed:?}");
    let config_files: Vec<&str> = read.keys().map(|i| paths[i].as_str()).filter(|p| config(p)).collect();
    assert!(!config_files.contains(&"/etc/mysql/mariadb.conf.d/README.txt"), "only *.cnf are included");
    assert!(!config_files.contains(&"/etc/nginx/sites-available/default"), "a site that is not enabled is not read");
    assert!(!config_files.contains(&"/etc/apache2/sites-available/000-default.conf"));
    assert!(config_files.contains(&"/etc/apache2/sites-available/legacy.conf") && config_files.contains(&"/etc/apache2/ports.conf"));
    assert!(config_files.contains(&"/etc/nginx/snippets/fastcgi-php.conf"));
    eprintln!("files read: {} whole, {} probed; folders listed: {}", config_files.len(), probed.len(), rec.listed.get());

    // Reads reaching the image, with no cache in between (each a block or
    // an inode-table read), against a full walk that reads every file.
    let disk = fixtures().join("disk.img");
    let (image, _) = open_image(&disk);
    let volume = image.volumes().iter().find(|v| v.index == 2).unwrap().clone();
    let f = std::fs::File::open(&disk).unwrap();
    let len = f.metadata().unwrap().len();
    let raw: Reader = Rc::new(FileReader(f, len));
    let counting = Rc::new(Counting(Rc::new(Slice::new(raw, volume.offset, volume.length)), Cell::new(0)));
    let ext4 = Rc::new(Ext4Fs::open(counting.clone()).unwrap());
    let opened = counting.1.get();
    let started = Instant::now();
    inventory(ext4.clone()).unwrap();
    let took = started.elapsed();
    let inventory_reads = counting.1.get() - opened;
    counting.1.set(0);
    common::walk(&ext4);
    let walk_reads = counting.1.get();
    eprintln!(
        "inventory: {:.1} ms, {inventory_reads} uncached reads (a full walk with every file's bytes: {walk_reads})",
        took.as_secs_f64() * 1000.0
    );
    assert!(inventory_reads < walk_reads, "{inventory_reads} vs {walk_reads}");
    assert!(took.as_secs() < 2);

    // Through the chunk caches, as the CLI and the page read (each browser
    // read costs about 1 ms plus the bytes).
    for (name, config) in [("native", CacheConfig::NATIVE), ("browser", CacheConfig::BROWSER)] {
        let (image, stats) = open_image_with(&disk, config);
        let before = stats.snapshot();
        let started = Instant::now();
        inventory(image.filesystem(2).unwrap()).unwrap();
        let after = stats.snapshot();
        let reads = after.source_reads - before.source_reads;
        eprintln!(
            "inventory through the {name} cache: {:.1} ms, {reads} source reads, {} bytes",
            started.elapsed().as_secs_f64() * 1000.0,
            after.source_bytes - before.source_bytes
        );
        // The root filesystem is 64 MiB: no chunk is read twice.
        assert!(reads <= 64, "{reads}");
    }
}

#[test]
fn restore_hints_name_versions_owners_and_accounts() {
    let fs = root_fs();
    let hints = restore_hints(fs.clone(), &["/srv/mysql", "/var/mail"], [(106, 110), (1000, 8), (1001, 8), (999, 999)]);
    let all = hints.join("\n");
    assert!(all.contains("MariaDB 10.11") && all.contains("10.11.6-MariaDB"), "{all}");
    assert!(all.contains("`chown -R mysql:mysql DATADIR`") && all.contains("uid 106, gid 110"), "{all}");
    assert!(all.contains("alice → alice:mail (uid 1000, gid 8), mode 0660"), "{all}");
    assert!(all.contains("\n    mysql:x:106:110:MariaDB Server,,,:/nonexistent:/bin/false"), "{all}");
    assert!(all.contains("\n    mail:x:8:"), "{all}");
    assert!(all.contains("uids with no account in the image's /etc/passwd: 999"), "{all}");
    assert!(!all.contains("PostgreSQL"), "only what is selected: {all}");

    let part = restore_hints(fs.clone(), &["/srv/mysql/shop"], []).join("\n");
    assert!(part.contains("Only part of it is selected"), "{part}");
    let vmail = restore_hints(fs.clone(), &["/var/vmail"], []).join("\n");
    assert!(vmail.contains("belong to vmail:vmail (uid 5000, gid 5000 on this image)"), "{vmail}");
    let pg = restore_hints(fs.clone(), &["/var/lib/postgresql"], []).join("\n");
    assert!(pg.contains("needs PostgreSQL 15") && pg.contains("/etc/postgresql/15/main"), "{pg}");
    let section = salvage::inventory::hints_section(&hints);
    assert!(section.starts_with("\r\nRESTORE HINTS"));

    // A volume that is not a Linux root has no hints.
    let (image, _) = open_image(&fixtures().join("disk.img"));
    assert!(restore_hints(image.filesystem(3).unwrap(), &["/"], [(0, 0)]).is_empty());
}

fn salvage(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn non_root_volumes_give_no_inventory() {
    let disk = fixtures().join("disk.img");
    let (image, _) = open_image(&disk);
    // The data partition has /etc but no /usr or /bin.
    let data = image.filesystem(3).unwrap();
    assert!(data.resolve(b"/etc").is_ok());
    assert!(Scan::new(data.clone()).is_none() && inventory(data).is_none());
    // The ESP is FAT: not even a readable filesystem.
    assert!(image.filesystem(1).is_err());

    let d = disk.to_str().unwrap();
    let (code, out, err) = salvage(&["inventory", d, "--volume", "3"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "salvage: volume 3 is not a Linux root filesystem (no /etc with /usr or /bin); there is nothing to take stock of\n");
    let (code, _, err) = salvage(&["inventory", d, "--volume", "1", "--json"]);
    assert_eq!(code, 1);
    assert!(err.contains("FAT32"), "{err}");
    let data_img = fixtures().join("data.ext4");
    let (code, out, err) = salvage(&["inventory", data_img.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "salvage: no volume on this image is a Linux root filesystem (one with /etc and /usr or /bin)\n");
    let (code, _, err) = salvage(&["inventory", d, "/etc"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn damaged_configs_give_notes_not_panics() {
    let (image, _) = open_image(&fixtures().join("damaged.img"));
    let fs = image.filesystem(1).unwrap();
    let inv = inventory(fs.clone()).unwrap();
    let notes = inv.notes.join("\n");
    for want in [
        "/etc/os-release: more than 40 symbolic links (a loop)",
        "/etc/mysql/my.cnf: holds binary data",
        "/etc/mysql/my.cnf: included again (an include loop)",
        "/etc/mysql/chain/c8.cnf: includes nested deeper than 8; not followed",
        "MySQL datadir /var/lib/mysql-bad (datadir in /etc/mysql/my.cnf) is not on this volume",
        "/etc/nginx/nginx.conf: includes itself (an include loop)",
        "/etc/nginx/conf.d/huge.conf: 2200000 bytes; only the first 1048576 were read",
        "/etc/nginx/sites-enabled/loop: more than 40 symbolic links (a loop)",
        "/etc/nginx/sites-enabled/a: more than 40 symbolic links (a loop)",
        "/var/lib/postgresql/15/main/PG_VERSION: not a PostgreSQL version number",
        "/etc/passwd: holds binary data",
        "nginx site default site: web root /var/www/x is not on this volume",
    ] {
        assert!(notes.contains(want), "missing note {want:?} in:\n{notes}");
    }
    assert!(inv.system.os.is_none());
    // `..` past the root stays at the volume's root, as in the kernel.
    assert_eq!(inv.system.hostname.as_deref(), Some("bad-host"));
    assert!(!inv.items.iter().any(|i| matches!(i.kind, ItemKind::MysqlDatadir | ItemKind::PostgresCluster)));
    // Any budget, even one unit a step, ends.
    let mut scan = Scan::new(fs).unwrap();
    let mut steps = 0u32;
    while !scan.step(1).done {
        steps += 1;
        assert!(steps < 100_000);
    }
    let (code, out, _) = salvage(&["inventory", fixtures().join("damaged.img").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("Notes\n") && out.contains("include loop"), "{out}");
}

#[test]
fn cli_text_and_json() {
    let disk = fixtures().join("disk.img");
    let d = disk.to_str().unwrap();
    let (code, out, err) = salvage(&["inventory", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("volume 2 \"root\": Debian GNU/Linux 12 (bookworm)\n"), "{out}");
    for line in [
        "\nSystem\n",
        "  hostname: web1\n",
        "  last mounted: 2024-05-01T12:00:00Z on /\n",
        "  people: root (0), alice (1000), bob (1001)\n",
        "  /srv/mysql  MySQL/MariaDB data directory  460.2 KiB in 15 files  mysql:mysql  [essential]\n",
        "      databases: shop wiki-db\n",
        "  /var/www/shop/public  nginx site shop.example  ",
        "\nEssentials (18 paths;",
        "\nRestore hints for the essentials\n",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    let (code, out, _) = salvage(&["inventory", d, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["volume"], 2);
    assert_eq!(v["system"]["os_id"], "debian");
    let lib = inventory(root_fs()).unwrap();
    assert_eq!(v["essentials"], serde_json::to_value(&lib.essentials).unwrap());
    assert_eq!(v["items"], serde_json::to_value(&lib.items).unwrap());
    assert!(v["restore_hints"].as_array().unwrap().len() > 5);
    let datadir = v["items"].as_array().unwrap().iter().find(|i| i["kind"] == "mysql_datadir").unwrap();
    assert_eq!(datadir["owner"], serde_json::json!({"uid": 106, "gid": 110, "user": "mysql", "group": "mysql"}));
    assert_eq!(datadir["size"]["complete"], true);
}

/// uid and gid from a zip entry's Info-ZIP 0x7875 extra field.
fn zip_owner(extra: &[u8]) -> Option<(u32, u32)> {
    let mut rest = extra;
    while rest.len() >= 4 {
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = u16::from_le_bytes([rest[2], rest[3]]) as usize;
        let data = rest.get(4..4 + len)?;
        if id == 0x7875 {
            let num = |b: &[u8]| b.iter().rev().fold(0u32, |acc, x| (acc << 8) | u32::from(*x));
            let ulen = data[1] as usize;
            let uid = num(&data[2..2 + ulen]);
            let glen = data[2 + ulen] as usize;
            let gid = num(&data[3 + ulen..3 + ulen + glen]);
            return Some((uid, gid));
        }
        rest = &rest[4 + len..];
    }
    None
}

#[test]
fn essentials_export_keeps_owners() {
    let inv = inventory(root_fs()).unwrap();
    let zip_path = Path::new(TMP).join(format!("inventory-essentials-{}.zip", std::process::id()));
    let disk = fixtures().join("disk.img");
    let mut args = vec!["export".to_string(), disk.to_str().unwrap().into(), "--volume".into(), "2".into()];
    args.extend(inv.essentials.iter().cloned());
    args.extend(["-o".to_string(), zip_path.to_str().unwrap().into()]);
    let out = Command::new(BIN).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut seen = BTreeSet::new();
    let mut checked = 0;
    for i in 0..z.len() {
        let f = z.by_index(i).unwrap();
        let name = String::from_utf8_lossy(f.name_raw().strip_suffix(b"/").unwrap_or(f.name_raw())).into_owned();
        if name == "manifest.csv" || name == "SALVAGE-REPORT.txt" {
            continue;
        }
        // The selection spans the volume, so names are relative to /.
        let source = src(&name);
        let m = std::fs::symlink_metadata(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        let owner = zip_owner(&f.extra_data().unwrap_or_default()).unwrap_or_else(|| panic!("{name} has no owner field"));
        assert_eq!(owner, (m.uid(), m.gid()), "owner of {name}");
        checked += 1;
        seen.insert(format!("/{name}"));
    }
    for must in [
        "/srv/mysql/shop/products.ibd",
        "/srv/mysql/wiki@002ddb/pages.ibd",
        "/var/lib/postgresql/15/main/PG_VERSION",
        "/var/lib/docker/volumes/app_db/_data/PG_VERSION",
        "/var/mail/alice",
        "/home/alice/Maildir/new/1700000001.M2P1.web1",
        "/var/spool/cron/crontabs/alice",
        "/etc/letsencrypt/live/shop.example/privkey.pem",
        "/etc/letsencrypt/archive/shop.example/privkey1.pem",
        "/etc/ssh/ssh_host_ed25519_key",
        "/home/alice/.ssh/authorized_keys",
        "/root/.ssh/authorized_keys",
        "/srv/app/data/app.sqlite",
        "/srv/blog/index.html",
        "/var/www/shop/public/index.php",
        "/srv/redis/dump.rdb",
    ] {
        assert!(seen.contains(must), "{must} is not in the essentials zip");
    }
    // Owners by name in the manifest, from the image's passwd.
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut z.by_name("manifest.csv").unwrap(), &mut manifest).unwrap();
    assert!(manifest.contains("srv/mysql/shop/products.ibd,file,98304,"), "{manifest}");
    assert!(manifest.lines().any(|l| l.starts_with("var/mail/alice,") && l.contains(",1000,8,alice,mail,")));
    // The report says what restoring needs, from the image's own files.
    let mut report = String::new();
    std::io::Read::read_to_string(&mut z.by_name("SALVAGE-REPORT.txt").unwrap(), &mut report).unwrap();
    assert!(report.contains("RESTORE HINTS"), "{report}");
    assert!(report.contains("`chown -R mysql:mysql DATADIR`") && report.contains("uid 106, gid 110"), "{report}");
    eprintln!("essentials zip: {checked} entries, owners checked");
    std::fs::remove_file(&zip_path).unwrap();
}

/// A made-up volume with hostile sizes, generated on demand: /home/big
/// holds 300,000 files that all start like SQLite databases, /srv/deep
/// nests 2,000 folders, /etc/passwd names big as a person's home, and
/// /etc/systemd/system has 4,096 `.wants` folders of 4,096 links each.
const SYSTEM: u64 = 8;
const FIRST_WANTS: u64 = 500_000;
const WANTS: u64 = 4096;
const FIRST_UNIT: u64 = 2_000_000;
struct HugeFs;

const BIG: u64 = 7;
const BIG_FILES: u64 = 300_000;
const FIRST_FILE: u64 = 1_000_000;
const DEEP: u64 = 100;
const DEEP_LEVELS: u64 = 2_000;
const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\nbig:x:1000:1000:Big:/home/big:/bin/bash\n";

impl FileSystem for HugeFs {
    fn info(&self) -> FsInfo {
        FsInfo::default()
    }
    fn root(&self) -> u64 {
        1
    }
    fn stat(&self, inode: u64) -> salvage::Result<Metadata> {
        let (kind, size) = match inode {
            6 => (FileKind::File, PASSWD.len() as u64),
            i if i >= FIRST_UNIT => (FileKind::Symlink, 20),
            i if i >= FIRST_FILE => (FileKind::File, 1024),
            _ => (FileKind::Dir, 4096),
        };
        let t = salvage::fs::Timestamp::default();
        Ok(Metadata { inode, kind, mode: 0o755, uid: 1000, gid: 1000, size, nlink: 1, atime: t, mtime: t, ctime: t, crtime: None, rdev: None, flags: 0, problems: Vec::new() })
    }
    fn read_dir(&self, inode: u64) -> salvage::Result<DirIter<'_>> {
        let fixed = |v: Vec<(&'static str, u64)>| -> DirIter<'static> {
            Box::new(v.into_iter().map(|(n, i)| Ok(salvage::fs::DirEntry { name: n.as_bytes().to_vec(), inode: i, kind: None })))
        };
        Ok(match inode {
            1 => fixed(vec![("etc", 2), ("usr", 3), ("home", 4), ("srv", 5)]),
            2 => fixed(vec![("passwd", 6), ("systemd", 9)]),
            9 => fixed(vec![("system", SYSTEM)]),
            SYSTEM => Box::new((0..WANTS).map(|n| Ok(salvage::fs::DirEntry { name: format!("t{n}.wants").into_bytes(), inode: FIRST_WANTS + n, kind: None }))),
            i if (FIRST_WANTS..FIRST_WANTS + WANTS).contains(&i) => {
                let base = FIRST_UNIT + (i - FIRST_WANTS) * WANTS;
                Box::new((0..WANTS).map(move |k| Ok(salvage::fs::DirEntry { name: format!("u{k}.service").into_bytes(), inode: base + k, kind: None })))
            }
            4 => fixed(vec![("big", BIG)]),
            5 => fixed(vec![("deep", DEEP)]),
            BIG => Box::new((0..BIG_FILES).map(|i| Ok(salvage::fs::DirEntry { name: format!("f{i}.db").into_bytes(), inode: FIRST_FILE + i, kind: Some(FileKind::File) }))),
            i if (DEEP..DEEP + DEEP_LEVELS).contains(&i) => fixed(vec![("d", i + 1)]),
            _ => fixed(vec![]),
        })
    }
    fn read_at(&self, inode: u64, offset: u64, buf: &mut [u8]) -> salvage::Result<usize> {
        let data: Vec<u8> = if inode == 6 { PASSWD.to_vec() } else { b"SQLite format 3\0".to_vec() };
        let rest = data.get(offset as usize..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
    fn read_link(&self, inode: u64) -> salvage::Result<Vec<u8>> {
        if inode >= FIRST_UNIT {
            return Ok(b"/lib/systemd/system/x".to_vec());
        }
        Err(salvage::Error::invalid("not a link"))
    }
}

#[test]
fn budgets_bound_huge_trees() {
    let started = Instant::now();
    let mut scan = Scan::new(Rc::new(HugeFs)).unwrap();
    let mut steps = 0;
    let mut last = 0;
    loop {
        let p = scan.step(10_000);
        // Slow stages pass the budget by at most one folder (its listing
        // and stats); a quick stage stops at QUICK_STAGE_MAX_WORK, plus
        // the folder it was listing.
        assert!(p.work - last <= salvage::inventory::QUICK_STAGE_MAX_WORK + 2 * 4096 + 100, "a step did {}", p.work - last);
        last = p.work;
        steps += 1;
        if p.done {
            break;
        }
    }
    let inv = scan.finish();
    eprintln!("huge made-up tree: {:.0} ms, {steps} steps, {} items", started.elapsed().as_secs_f64() * 1000.0, inv.items.len());
    assert!(!inv.complete);
    let notes = inv.notes.join("\n");
    assert!(notes.contains("/home/big: more than 65536 entries; the rest were not looked at"), "{notes}");
    assert!(notes.contains("the SQLite scan read the headers of 5000 files and stopped"), "{notes}");
    assert!(notes.contains("more items were found but not listed (at most 5000)"), "{notes}");
    assert!(notes.contains("this part of the inventory stopped after 500000 steps of reading; it is incomplete"), "{notes}");
    let sqlite = inv.items.iter().filter(|i| i.kind == ItemKind::Sqlite).count();
    assert!(sqlite <= 5000, "{sqlite}");
    let home = item(&inv, ItemKind::Home, "/home/big");
    let size = home.size.unwrap();
    assert!(!size.complete && size.files == 65_536, "{size:?}");
    // The nested folders are scanned only to SCAN_MAX_DEPTH: nothing hangs.
    assert!(started.elapsed().as_secs() < 30);
}
