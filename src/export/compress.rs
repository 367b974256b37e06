//! Whether Deflate pays for one file: not for formats that are already
//! compressed, and not when a quick trial on the first bytes saves little.

use std::io::Write;

/// Endings of formats whose data is already compressed.
const COMPRESSED: &[&str] = &[
    "gz", "tgz", "bz2", "tbz", "tbz2", "xz", "txz", "zst", "zstd", "lz4", "lzma", "lz", "z", "zip", "jar", "war", "apk", "7z",
    "rar", "cab", "deb", "rpm", "jpg", "jpeg", "png", "gif", "webp", "heic", "avif", "jxl", "mp3", "m4a", "aac", "ogg", "opus",
    "flac", "mp4", "m4v", "mkv", "webm", "mov", "avi", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub", "woff", "woff2",
    "squashfs", "pack", "br",
];

/// Bytes compressed in the trial.
pub const SAMPLE_BYTES: usize = 64 << 10;

/// Deflate when the trial shrinks the sample to under 90 %.
pub fn worth_deflating(name: &[u8], sample: &[u8]) -> bool {
    if sample.len() < 64 {
        return false;
    }
    let base = name.rsplit(|b| *b == b'/').next().unwrap_or(name);
    if let Some(dot) = base.iter().rposition(|b| *b == b'.') {
        let ext = base.get(dot.saturating_add(1)..).unwrap_or_default().to_ascii_lowercase();
        if COMPRESSED.iter().any(|c| c.as_bytes() == ext.as_slice()) {
            return false;
        }
    }
    let sample = &sample[..sample.len().min(SAMPLE_BYTES)];
    let mut enc = flate2::write::DeflateEncoder::new(Vec::with_capacity(sample.len()), flate2::Compression::fast());
    if enc.write_all(sample).is_err() {
        return false;
    }
    match enc.finish() {
        // out / in < 0.9, in integers.
        Ok(out) => out.len().saturating_mul(10) < sample.len().saturating_mul(9),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_pays_noise_and_archives_do_not() {
        let text = b"the same line again and again\n".repeat(100);
        assert!(worth_deflating(b"log/app.log", &text));
        assert!(!worth_deflating(b"backup.tar.gz", &text));
        let mut x: u32 = 1;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        assert!(!worth_deflating(b"random.bin", &noise));
        assert!(!worth_deflating(b"tiny", b"abc"));
    }
}
