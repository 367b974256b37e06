//! Paths and names as text without losing bytes.
//!
//! Names on Linux filesystems are bytes. Salvage shows them as text and
//! takes them back from text (CLI arguments, JSON, the page) with one
//! lossless escape: valid UTF-8 stays as is, a backslash becomes `\\`, and
//! every byte that is not part of valid UTF-8 becomes `\xHH` (two lowercase
//! hex digits). [`escape`] and [`unescape`] are exact inverses.

/// Bytes → escaped text (see the module docs).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Escaped text → bytes. A backslash not followed by `\` or `xHH` is kept
/// as a plain backslash, so hand-typed paths still work.
pub fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b.get(i + 1) == Some(&b'x') {
                if let Some(v) = b.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// For messages: escaped, as a person should read it.
pub fn display_bytes(bytes: &[u8]) -> String {
    escape(bytes)
}

/// Joins a directory path and a name with one `/`.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_bytes() {
        let cases: [&[u8]; 6] = [b"plain", "caf\u{e9}".as_bytes(), b"latin1 caf\xe9", b"back\\slash", b"\\x41 literal", b"\xff\xfe\x00"];
        for c in cases {
            assert_eq!(unescape(&escape(c)), c, "{c:?}");
        }
        assert_eq!(escape(b"caf\xe9"), "caf\\xe9");
        assert_eq!(escape(b"a\\b"), "a\\\\b");
    }

    #[test]
    fn exhaustive_two_byte_round_trip() {
        for a in 0..=255u8 {
            for b in [0u8, 0x5c, 0x78, 0x80, 0xc3, 0xa9, 0xff] {
                let v = [a, b, b'x', a];
                assert_eq!(unescape(&escape(&v)), v);
            }
        }
    }
}
