//! The browser side in a real dedicated worker (FileReaderSync exists only
//! there): the Blob reader over real `Blob`s and the chunk cache in front of
//! it. Run by `make test` through wasm-bindgen-test-runner in Chromium.
#![cfg(target_arch = "wasm32")]
// Tests may use plain arithmetic and casts on small known values.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use std::rc::Rc;

use salvage::read_at::{CacheConfig, ChunkCache, IoStats, ReadAt};
use salvage::web::BlobSource;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i >> 12) as u8).collect()
}

fn blob(data: &[u8]) -> web_sys::Blob {
    let parts = js_sys::Array::new();
    parts.push(&js_sys::Uint8Array::from(data).buffer());
    web_sys::Blob::new_with_buffer_source_sequence(&parts).unwrap()
}

#[wasm_bindgen_test]
fn blob_reads_are_exact() {
    let data = pattern(3 << 20);
    let src = BlobSource::new(blob(&data)).unwrap();
    assert_eq!(src.size(), data.len() as u64);
    for (off, len) in [(0usize, 1usize), (4095, 2), (1 << 20, 1 << 20), ((3 << 20) - 7, 7)] {
        let mut buf = vec![0; len];
        src.read_exact_at(off as u64, &mut buf).unwrap();
        assert_eq!(buf, data[off..off + len]);
    }
    let mut buf = [0u8; 8];
    let e = src.read_exact_at((3 << 20) - 4, &mut buf).unwrap_err();
    assert!(e.to_string().contains("short read"), "{e}");
}

#[wasm_bindgen_test]
fn the_cache_turns_small_reads_into_few_blob_reads() {
    let data = pattern(8 << 20);
    let stats = Rc::new(IoStats::default());
    let cache = ChunkCache::new(BlobSource::new(blob(&data)).unwrap(), CacheConfig::BROWSER, stats.clone());
    // 8 MiB read sequentially in 4 KiB pieces: 2048 requests.
    let mut buf = vec![0u8; 4096];
    for i in 0..2048u64 {
        cache.read_exact_at(i * 4096, &mut buf).unwrap();
        let at = (i * 4096) as usize;
        assert_eq!(buf[..], data[at..at + 4096]);
    }
    let s = stats.snapshot();
    // Read-ahead doubles 1, 2, 4, 8 MiB: four Blob reads, not 2048.
    assert!(s.source_reads <= 5, "{s:?}");
    assert_eq!(s.source_bytes, 8 << 20);
    // Re-reading is free.
    cache.read_exact_at(12345, &mut buf).unwrap();
    assert_eq!(stats.snapshot().source_reads, s.source_reads);
}

#[wasm_bindgen_test]
fn a_whole_image_opens_in_the_worker() {
    // A tiny MBR disk with one (empty) Linux partition and no filesystem:
    // exercises Session-level plumbing without fixtures.
    let mut disk = vec![0u8; 1 << 20];
    disk[0x1be + 4] = 0x83;
    disk[0x1be + 8..0x1be + 12].copy_from_slice(&2048u32.to_le_bytes());
    disk[0x1be + 12..0x1be + 16].copy_from_slice(&100u32.to_le_bytes());
    disk[0x1fe] = 0x55;
    disk[0x1ff] = 0xaa;
    let file = web_sys::File::new_with_blob_sequence(&js_sys::Array::of1(&blob(&disk)), "tiny.img").unwrap();
    let session = salvage::web::Session::open(js_sys::Array::of1(&file)).map_err(|_| ()).unwrap();
    let info = session.info().map_err(|_| ()).unwrap();
    let table = js_sys::Reflect::get(&info, &"table".into()).unwrap();
    assert_eq!(js_sys::Reflect::get(&table, &"kind".into()).unwrap().as_string().as_deref(), Some("mbr"));
    let vols = js_sys::Array::from(&js_sys::Reflect::get(&info, &"volumes".into()).unwrap());
    assert_eq!(vols.length(), 1);
    let v = vols.get(0);
    assert_eq!(js_sys::Reflect::get(&v, &"offset".into()).unwrap().as_f64(), Some(2048.0 * 512.0));
    assert_eq!(js_sys::Reflect::get(&v, &"type_id".into()).unwrap().as_string().as_deref(), Some("0x83"));
}

/// The MBR disk of `a_whole_image_opens_in_the_worker`, as a `File`.
fn tiny_mbr_file() -> web_sys::File {
    let mut disk = vec![0u8; 1 << 20];
    disk[0x1be + 4] = 0x83;
    disk[0x1be + 8..0x1be + 12].copy_from_slice(&2048u32.to_le_bytes());
    disk[0x1be + 12..0x1be + 16].copy_from_slice(&100u32.to_le_bytes());
    disk[0x1fe] = 0x55;
    disk[0x1ff] = 0xaa;
    web_sys::File::new_with_blob_sequence(&js_sys::Array::of1(&blob(&disk)), "tiny.img").unwrap()
}

fn js_error_text(e: wasm_bindgen::JsError) -> String {
    let v: wasm_bindgen::JsValue = e.into();
    js_sys::Reflect::get(&v, &"message".into()).unwrap().as_string().unwrap()
}

#[wasm_bindgen_test]
fn export_jobs_refuse_with_a_sentence() {
    let session = salvage::web::Session::open(js_sys::Array::of1(&tiny_mbr_file())).map_err(|_| ()).unwrap();
    // Volume 1 has no filesystem; volume 9 does not exist; nothing selected.
    let e = session.export(1, vec!["/".into()], wasm_bindgen::JsValue::UNDEFINED).err().map(js_error_text).unwrap();
    assert!(e.starts_with("volume 1"), "{e}");
    let e = session.export(9, vec!["/".into()], wasm_bindgen::JsValue::UNDEFINED).err().map(js_error_text).unwrap();
    assert!(e.contains("there is no volume 9"), "{e}");
    let e = session.export(1, vec![], wasm_bindgen::JsValue::UNDEFINED).err().map(js_error_text).unwrap();
    assert_eq!(e, "nothing is selected");
    let e = session.export_file(1, "/a").err().map(js_error_text).unwrap();
    assert!(e.starts_with("volume 1"), "{e}");
}

fn entry(name: &str, kind: salvage::fs::FileKind, uid: u32, size: u64, target: Option<&str>, problems: &[&str]) -> salvage::image::Entry {
    salvage::image::Entry {
        path: format!("/d/{name}"),
        name: name.into(),
        kind: kind.json_name(),
        file_kind: kind,
        mode: 0o644,
        uid,
        gid: uid + 1,
        size,
        mtime: 1_704_067_200,
        mtime_ns: 500_000_000,
        target: target.map(String::from),
        inode: 12,
        nlink: 1,
        problems: problems.iter().map(|p| p.to_string()).collect(),
    }
}

fn get(obj: &js_sys::Object, key: &str) -> wasm_bindgen::JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap()
}

#[wasm_bindgen_test]
fn entries_cross_to_the_page_in_columns() {
    use salvage::fs::FileKind;
    let entries = vec![
        entry("a.txt", FileKind::File, 1001, 5_000_000_000, None, &[]),
        entry("caf\\xe9", FileKind::Symlink, 0, 7, Some("/usr/bin/dash"), &[]),
        entry("dev", FileKind::CharDevice, 7, 0, None, &["inode checksum is 0x1, expected 0x2"]),
    ];
    let user = |id: u32| if id == 1001 { "alice".to_string() } else if id == 0 { "root".into() } else { String::new() };
    let group = |id: u32| if id == 1002 { "alice".to_string() } else { String::new() };
    let out = salvage::web::pack_entries(&entries, &user, &group, true).unwrap();
    assert_eq!(get(&out, "count").as_f64(), Some(3.0));
    assert_eq!(get(&out, "names").as_string().unwrap(), "a.txt\0caf\\xe9\0dev");
    assert_eq!(get(&out, "paths").as_string().unwrap(), "/d/a.txt\0/d/caf\\xe9\0/d/dev");
    let kinds: js_sys::Uint8Array = get(&out, "kinds").into();
    assert_eq!(kinds.to_vec(), vec![0, 2, 3]);
    let sizes: js_sys::Float64Array = get(&out, "sizes").into();
    assert_eq!(sizes.to_vec(), vec![5e9, 7.0, 0.0]);
    let mtimes: js_sys::Float64Array = get(&out, "mtimes").into();
    assert_eq!(mtimes.to_vec()[0], 1_704_067_200.5);
    // Sparse columns: [index, value].
    let targets: js_sys::Array = get(&out, "targets").into();
    assert_eq!(targets.length(), 1);
    let t: js_sys::Array = targets.get(0).into();
    assert_eq!((t.get(0).as_f64(), t.get(1).as_string()), (Some(1.0), Some("/usr/bin/dash".into())));
    let problems: js_sys::Array = get(&out, "problems").into();
    let p: js_sys::Array = problems.get(0).into();
    assert_eq!(p.get(0).as_f64(), Some(2.0));
    // Names only for the ids present that the image names; uid 7 has none.
    let users: js_sys::Array = get(&out, "users").into();
    let pairs: Vec<(f64, String)> = users.iter().map(|u| {
        let u: js_sys::Array = u.into();
        (u.get(0).as_f64().unwrap(), u.get(1).as_string().unwrap())
    }).collect();
    assert_eq!(pairs, vec![(0.0, "root".to_string()), (1001.0, "alice".to_string())]);
    let groups: js_sys::Array = get(&out, "groups").into();
    assert_eq!(groups.length(), 1);
    // A listing page has no paths column.
    let listing = salvage::web::pack_entries(&entries[..1], &user, &group, false).unwrap();
    assert!(get(&listing, "paths").is_undefined());
    let empty = salvage::web::pack_entries(&[], &user, &group, false).unwrap();
    assert_eq!(get(&empty, "names").as_string().unwrap(), "");
}

#[wasm_bindgen_test]
fn browse_jobs_refuse_with_a_sentence() {
    let session = salvage::web::Session::open(js_sys::Array::of1(&tiny_mbr_file())).map_err(|_| ()).unwrap();
    // Volume 1 has no filesystem; volume 9 does not exist.
    let e = session.list_open(1, "/").err().map(js_error_text).unwrap();
    assert!(e.starts_with("volume 1"), "{e}");
    let e = session.search(9, "/", "*.txt", 10).err().map(js_error_text).unwrap();
    assert!(e.contains("there is no volume 9"), "{e}");
    let e = session.sizes(1, vec!["/".into()]).err().map(js_error_text).unwrap();
    assert!(e.starts_with("volume 1"), "{e}");
}

#[wasm_bindgen_test]
fn an_image_without_a_linux_root_has_no_inventory() {
    let session = salvage::web::Session::open(js_sys::Array::of1(&tiny_mbr_file())).map_err(|_| ()).unwrap();
    // The page shows no "At a glance" panel: no volume holds a Linux root.
    assert_eq!(session.linux_root(), None);
    // Volume 1 has no filesystem; volume 9 does not exist.
    let e = session.inventory(1).err().map(js_error_text).unwrap();
    assert!(e.starts_with("volume 1"), "{e}");
    let e = session.inventory(9).err().map(js_error_text).unwrap();
    assert!(e.contains("there is no volume 9"), "{e}");
}
