//! Data stores at their packages' default paths: PostgreSQL clusters
//! (Debian's `/var/lib/postgresql/VERSION/CLUSTER`, Red Hat's
//! `/var/lib/pgsql[/VERSION]/data`, each with `PG_VERSION`), Redis
//! (`dump.rdb`, `appendonly.aof`, `appendonlydir`), MongoDB, Docker named
//! volumes (`/var/lib/docker/volumes/NAME/_data`); then Let's Encrypt
//! certificates (`/etc/letsencrypt/live/NAME`) and control-panel markers.

use super::files::{text, Ctx, NewItem};
use super::ItemKind;
use crate::fs::FileKind;
use crate::path::{escape, join};

fn pg_cluster(cx: &mut Ctx, dir: &[u8], title: String) {
    let version_file = join(dir, b"PG_VERSION");
    let Some(bytes) = cx.read_text(&version_file) else { return };
    let version: String = text(&bytes).trim().chars().take(16).collect();
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        cx.note(format!("{}: not a PostgreSQL version number", escape(&version_file)));
        return;
    }
    cx.add_item(NewItem::dir(ItemKind::PostgresCluster, title, dir).essential().detail("major version", version));
}

/// `data_directory = '/path'` of postgresql.conf (the last one wins).
fn pg_data_directory(conf: &str) -> Option<String> {
    let mut found = None;
    for line in conf.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("data_directory") else { continue };
        let value = rest.trim_start().strip_prefix('=').unwrap_or(rest).trim();
        let value = value.trim_matches(|c| c == '\'' || c == '"');
        if value.starts_with('/') {
            found = Some(value.to_string());
        }
    }
    found
}

pub(crate) fn scan(cx: &mut Ctx) {
    // Debian: /var/lib/postgresql/<version>/<cluster> (usually main).
    for (version, _, _) in cx.list(b"/var/lib/postgresql") {
        let vdir = join(b"/var/lib/postgresql", &version);
        for (cluster, _, _) in cx.list(&vdir) {
            let dir = join(&vdir, &cluster);
            if cx.is_dir(&dir) {
                pg_cluster(cx, &dir, format!("PostgreSQL {} cluster {}", escape(&version), escape(&cluster)));
            }
        }
    }
    // Debian's clusters moved elsewhere: data_directory in
    // /etc/postgresql/<version>/<cluster>/postgresql.conf.
    for (version, _, _) in cx.list(b"/etc/postgresql") {
        let vdir = join(b"/etc/postgresql", &version);
        for (cluster, _, _) in cx.list(&vdir) {
            let conf = join(&join(&vdir, &cluster), b"postgresql.conf");
            let Some(bytes) = cx.read_text(&conf) else { continue };
            if let Some(dir) = pg_data_directory(&text(&bytes)) {
                if cx.is_dir(dir.as_bytes()) {
                    pg_cluster(cx, dir.trim_end_matches('/').as_bytes(), format!("PostgreSQL {} cluster {}", escape(&version), escape(&cluster)));
                } else {
                    cx.note(format!("PostgreSQL cluster {}/{}: data_directory {dir} is not on this volume", escape(&version), escape(&cluster)));
                }
            }
        }
    }
    // Red Hat: /var/lib/pgsql/data or /var/lib/pgsql/<version>/data.
    if cx.is_dir(b"/var/lib/pgsql/data") {
        pg_cluster(cx, b"/var/lib/pgsql/data", "PostgreSQL cluster".into());
    }
    for (version, _, _) in cx.list(b"/var/lib/pgsql") {
        let dir = join(&join(b"/var/lib/pgsql", &version), b"data");
        if version != b"data" && cx.is_dir(&dir) {
            pg_cluster(cx, &dir, format!("PostgreSQL {} cluster", escape(&version)));
        }
    }

    for dir in [b"/var/lib/redis".as_slice(), b"/var/lib/redis-server"] {
        let names: Vec<Vec<u8>> = cx.list(dir).into_iter().map(|(n, _, _)| n).collect();
        let dumps: Vec<String> = names
            .iter()
            .filter(|n| n.ends_with(b".rdb") || n.ends_with(b".aof") || n.as_slice() == b"appendonlydir")
            .map(|n| escape(n))
            .collect();
        if !dumps.is_empty() {
            cx.add_item(NewItem::dir(ItemKind::Redis, "Redis data", dir).essential().detail("files", dumps.join(" ")));
        }
    }

    for dir in [b"/var/lib/mongodb".as_slice(), b"/var/lib/mongo"] {
        let names: Vec<Vec<u8>> = cx.list(dir).into_iter().map(|(n, _, _)| n).collect();
        if names.iter().any(|n| n.ends_with(b".wt") || n == b"mongod.lock" || n.ends_with(b".ns") || n == b"journal") {
            cx.add_item(NewItem::dir(ItemKind::Mongodb, "MongoDB data", dir).essential());
        }
    }

    for (name, _, _) in cx.list(b"/var/lib/docker/volumes") {
        let data = join(&join(b"/var/lib/docker/volumes", &name), b"_data");
        if cx.is_dir(&data) {
            cx.add_item(NewItem::dir(ItemKind::DockerVolume, format!("Docker volume {}", escape(&name)), &data).essential().detail("volume", escape(&name)));
        }
    }
}

/// Control panels by the folders their installers create.
const PANELS: [(&[u8], &str); 7] = [
    (b"/usr/local/ispconfig", "ISPConfig"),
    (b"/etc/ispcp", "ispCP"),
    (b"/var/www/ispcp", "ispCP"),
    (b"/usr/local/psa", "Plesk"),
    (b"/usr/local/cpanel", "cPanel"),
    (b"/usr/local/directadmin", "DirectAdmin"),
    (b"/usr/local/vesta", "VestaCP"),
];

pub(crate) fn scan_tls_and_panels(cx: &mut Ctx) {
    let live = b"/etc/letsencrypt/live";
    for (name, _, _) in cx.list(live) {
        let dir = join(live, &name);
        if name.starts_with(b".") || !cx.is_dir(&dir) {
            continue;
        }
        let mut item = NewItem::dir(ItemKind::TlsCertificate, format!("certificate {}", escape(&name)), &dir).essential();
        // live/NAME/*.pem link into archive/: the whole /etc/letsencrypt is what restores.
        let has_key = cx.find(&join(&dir, b"privkey.pem")).is_some_and(|f| f.meta.kind == FileKind::File);
        item = item.detail("private key", if has_key { "present" } else { "missing" }).detail("restore with", "/etc/letsencrypt");
        cx.add_item(item);
    }
    if cx.is_dir(b"/etc/letsencrypt") {
        cx.add_item(NewItem::dir(ItemKind::Tls, "Let's Encrypt (certificates, keys, renewal settings)", b"/etc/letsencrypt").essential());
    }
    for (dir, name) in PANELS {
        if cx.is_dir(dir) {
            cx.add_item(NewItem::dir(ItemKind::Panel, name, dir).detail("panel", name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_conf_data_directory() {
        assert_eq!(pg_data_directory("data_directory = '/srv/pg' # moved\n").as_deref(), Some("/srv/pg"));
        assert_eq!(pg_data_directory("#data_directory = '/x'\ndata_directory='/y'\n").as_deref(), Some("/y"));
        assert_eq!(pg_data_directory("data_directory = 'relative'\n"), None);
    }
}
