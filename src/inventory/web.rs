//! Web roots from the web servers' own configuration: nginx (`server`
//! blocks' `server_name` and `root`, following `include` with its
//! wildcards, relative paths from /etc/nginx; nginx docs "Core
//! functionality" / ngx_http_core_module) and Apache httpd (`<VirtualHost>`
//! `ServerName`/`ServerAlias`/`DocumentRoot`, `Include`/`IncludeOptional`
//! relative to `ServerRoot`). Roots holding variables (`$host`) are
//! named in a note, not guessed. Only roots present on the volume become
//! items; `/var/www` is one too when it exists.

use super::files::{expand_glob, looks_binary, text, Ctx, NewItem};
use super::{ItemKind, MAX_CONFIG_FILES, MAX_INCLUDE_DEPTH};
use crate::fs::FileKind;
use crate::path::{escape, join};

/// A virtual host as parsed.
#[derive(Default, Clone)]
struct Site {
    server: &'static str,
    names: Vec<String>,
    roots: Vec<String>,
    file: Vec<u8>,
}

/// Shared state of one server family's parse.
struct Parse {
    server: &'static str,
    prefix: Vec<u8>,
    files: usize,
    /// Inodes of the files being included, outermost first (loop guard).
    stack: Vec<u64>,
    sites: Vec<Site>,
}

impl Parse {
    fn new(server: &'static str, prefix: &[u8]) -> Parse {
        Parse { server, prefix: prefix.to_vec(), files: 0, stack: Vec::new(), sites: Vec::new() }
    }

    fn absolute(&self, p: &str) -> Vec<u8> {
        if p.starts_with('/') {
            p.as_bytes().to_vec()
        } else {
            join(&self.prefix, p.as_bytes())
        }
    }

    /// Reads a config file for inclusion; `None` when missing, looping,
    /// too deep or past the file budget (each with a note).
    fn open(&mut self, cx: &mut Ctx, path: &[u8]) -> Option<(u64, Vec<u8>)> {
        let found = cx.find(path)?;
        if found.meta.kind != FileKind::File {
            return None;
        }
        if self.stack.contains(&found.inode) {
            cx.note(format!("{}: includes itself (an include loop); not followed again", escape(path)));
            return None;
        }
        if self.stack.len() > usize::try_from(MAX_INCLUDE_DEPTH).unwrap_or(8) {
            cx.note(format!("{}: includes nested deeper than {MAX_INCLUDE_DEPTH}; not followed", escape(path)));
            return None;
        }
        if self.files >= MAX_CONFIG_FILES {
            cx.note(format!("{} configuration: more than {MAX_CONFIG_FILES} files read; {} not read", self.server, escape(path)));
            return None;
        }
        self.files = self.files.saturating_add(1);
        let bytes = cx.read_found(path, &found, super::MAX_CONFIG_BYTES)?;
        if looks_binary(&bytes) {
            cx.note(format!("{}: holds binary data; only its readable parts were used", escape(path)));
        }
        Some((found.inode, bytes))
    }
}

/// nginx tokens: words, and `;`, `{`, `}` as their own tokens.
fn nginx_tokens(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = src.chars();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' if cur.is_empty() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' if cur.is_empty() => {
                let mut escaped = false;
                for d in chars.by_ref() {
                    if escaped {
                        cur.push(d);
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == c {
                        break;
                    } else {
                        cur.push(d);
                    }
                }
                // An empty quoted word still counts as a word.
                out.push(std::mem::take(&mut cur));
            }
            ';' | '{' | '}' => {
                flush(&mut cur, &mut out);
                out.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Block kinds open in nginx's parse.
#[derive(Clone, Copy, PartialEq)]
enum Block {
    Server,
    Other,
}

fn nginx_file(cx: &mut Ctx, p: &mut Parse, path: &[u8], blocks: &mut Vec<Block>, open_sites: &mut Vec<Site>) {
    let Some((inode, bytes)) = p.open(cx, path) else { return };
    p.stack.push(inode);
    let tokens = nginx_tokens(&text(&bytes));
    let mut words: Vec<String> = Vec::new();
    for t in tokens {
        match t.as_str() {
            "{" => {
                let is_server = words.first().is_some_and(|w| w == "server") && !blocks.contains(&Block::Server);
                if is_server {
                    blocks.push(Block::Server);
                    open_sites.push(Site { server: "nginx", file: path.to_vec(), ..Site::default() });
                } else {
                    blocks.push(Block::Other);
                }
                words.clear();
            }
            "}" => {
                if blocks.pop() == Some(Block::Server) {
                    if let Some(site) = open_sites.pop() {
                        p.sites.push(site);
                    }
                }
                words.clear();
            }
            ";" => {
                let first = words.first().map(String::as_str).unwrap_or("");
                match first {
                    "include" => {
                        if let Some(pattern) = words.get(1) {
                            let pattern = p.absolute(pattern);
                            for f in expand_glob(cx, &pattern) {
                                nginx_file(cx, p, &f, blocks, open_sites);
                            }
                        }
                    }
                    "server_name" => {
                        if let Some(site) = open_sites.last_mut() {
                            site.names.extend(words.iter().skip(1).filter(|n| n.as_str() != "_" && !n.is_empty()).take(32).cloned());
                        }
                    }
                    "root" => {
                        if let Some(root) = words.get(1) {
                            match open_sites.last_mut() {
                                Some(site) => site.roots.push(root.clone()),
                                // http-level root: the default for servers without one.
                                None => p.sites.push(Site { server: "nginx", roots: vec![root.clone()], file: path.to_vec(), ..Site::default() }),
                            }
                        }
                    }
                    _ => {}
                }
                words.clear();
            }
            _ => {
                if words.len() < 64 {
                    words.push(t);
                }
            }
        }
    }
    p.stack.pop();
}

fn apache_file(cx: &mut Ctx, p: &mut Parse, path: &[u8], open: &mut Option<Site>) {
    let Some((inode, bytes)) = p.open(cx, path) else { return };
    p.stack.push(inode);
    let src = text(&bytes).replace("\\\r\n", " ").replace("\\\n", " ");
    for line in src.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(directive) = words.next() else { continue };
        let arg = words.next().map(|w| w.trim_matches('"').to_string());
        match directive.to_ascii_lowercase().as_str() {
            "serverroot" => {
                if let Some(a) = arg.filter(|a| a.starts_with('/')) {
                    p.prefix = a.into_bytes();
                }
            }
            "include" | "includeoptional" => {
                let Some(a) = arg else { continue };
                let pattern = p.absolute(&a);
                let mut targets = expand_glob(cx, &pattern);
                // Include of a folder reads every file in it.
                if targets.len() == 1 && targets.first().is_some_and(|t| cx.is_dir(t)) {
                    targets = cx.children(&pattern).into_iter().map(|(full, _)| full).collect();
                }
                for f in targets {
                    apache_file(cx, p, &f, open);
                }
            }
            d if d.starts_with("<virtualhost") => {
                *open = Some(Site { server: "Apache", file: path.to_vec(), ..Site::default() });
            }
            "</virtualhost>" => {
                if let Some(site) = open.take() {
                    p.sites.push(site);
                }
            }
            "servername" | "serveralias" => {
                if let Some(site) = open.as_mut() {
                    site.names.extend(line.split_whitespace().skip(1).take(32).map(|w| w.trim_matches('"').to_string()));
                }
            }
            "documentroot" => {
                let Some(a) = arg else { continue };
                match open.as_mut() {
                    Some(site) => site.roots.push(a),
                    None => p.sites.push(Site { server: "Apache", roots: vec![a], file: path.to_vec(), ..Site::default() }),
                }
            }
            _ => {}
        }
    }
    p.stack.pop();
}

fn add_sites(cx: &mut Ctx, p: &Parse) {
    for site in &p.sites {
        let name = site.names.first().cloned().unwrap_or_else(|| "default site".to_string());
        for root in &site.roots {
            if root.contains('$') {
                cx.note(format!("{} site {name} in {}: root {root} holds a variable; not followed", site.server, escape(&site.file)));
                continue;
            }
            let path = p.absolute(root.trim_end_matches('/'));
            let path = if path.is_empty() { b"/".to_vec() } else { path };
            if !cx.is_dir(&path) {
                cx.note(format!("{} site {name}: web root {} is not on this volume", site.server, escape(&path)));
                continue;
            }
            let mut item = NewItem::dir(ItemKind::WebRoot, format!("{} site {name}", site.server), &path).essential().detail("config", escape(&site.file));
            if !site.names.is_empty() {
                item = item.detail("server names", site.names.join(" "));
            }
            cx.add_item(item);
        }
    }
}

pub(crate) fn scan(cx: &mut Ctx) {
    let mut p = Parse::new("nginx", b"/etc/nginx");
    let (mut blocks, mut open) = (Vec::new(), Vec::new());
    if cx.is_file(b"/etc/nginx/nginx.conf") {
        nginx_file(cx, &mut p, b"/etc/nginx/nginx.conf", &mut blocks, &mut open);
    } else {
        for pattern in [b"/etc/nginx/conf.d/*.conf".as_slice(), b"/etc/nginx/sites-enabled/*"] {
            for f in expand_glob(cx, pattern) {
                nginx_file(cx, &mut p, &f, &mut blocks, &mut open);
            }
        }
    }
    // Relative roots are relative to nginx's prefix, /usr/share/nginx on Debian.
    p.prefix = b"/usr/share/nginx".to_vec();
    add_sites(cx, &p);

    for (conf, root) in [(b"/etc/apache2/apache2.conf".as_slice(), b"/etc/apache2".as_slice()), (b"/etc/httpd/conf/httpd.conf", b"/etc/httpd")] {
        if !cx.is_file(conf) {
            continue;
        }
        let mut p = Parse::new("Apache", root);
        let mut open = None;
        apache_file(cx, &mut p, conf, &mut open);
        add_sites(cx, &p);
    }

    if cx.is_dir(b"/var/www") {
        cx.add_item(NewItem::dir(ItemKind::WebRoot, "web files", b"/var/www").essential());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_tokenizer() {
        let t = nginx_tokens("server { # c { \n listen 80; root \"/srv/a b\";server_name a.example  b.example;}");
        assert_eq!(t, ["server", "{", "listen", "80", ";", "root", "/srv/a b", ";", "server_name", "a.example", "b.example", ";", "}"]);
        assert!(nginx_tokens("\u{0}\u{1}{{{;;'").len() > 3);
    }
}
