//! One error type for every layer.
//!
//! An error says what kind of failure it is (so callers can act: skip a
//! damaged inode, say "not supported yet", retry an I/O) and where it
//! happened, as far as the layers it passed through knew. Low layers report
//! only offsets; each layer above adds what it was reading
//! ([`Error::at_volume`], [`Error::at_inode`], [`Error::context`]).
//!
//! `Display` reads as one sentence for a person, e.g.
//! `volume 2, inode 1234, byte 0x3f000: extent depth 9 exceeds 5`.

use std::fmt;

/// What went wrong, in terms a caller can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The image's bytes contradict the format: damaged or not this format.
    Corrupt,
    /// A valid structure Salvage cannot read yet.
    Unsupported,
    /// The bytes could not be read (short file, browser read failure).
    Io,
    /// A path, volume or file part that does not exist.
    NotFound,
    /// The caller asked for something malformed (bad argument).
    InvalidInput,
}

/// Where an error happened, filled in as far as known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Where {
    pub volume: Option<u32>,
    pub inode: Option<u64>,
    /// Byte offset, relative to the layer that reported it.
    pub offset: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    at: Where,
    /// Outer context first, e.g. ["reading /etc/passwd"].
    context: Vec<String>,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, at: Where::default(), context: Vec::new(), message: message.into() }
    }
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn location(&self) -> &Where {
        &self.at
    }

    /// Records the byte offset, unless a lower layer already did.
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.at.offset.get_or_insert(offset);
        self
    }
    pub fn at_inode(mut self, inode: u64) -> Self {
        self.at.inode.get_or_insert(inode);
        self
    }
    pub fn at_volume(mut self, volume: u32) -> Self {
        self.at.volume.get_or_insert(volume);
        self
    }
    /// Adds what the caller was doing ("reading the GPT header").
    pub fn context(mut self, what: impl Into<String>) -> Self {
        self.context.insert(0, what.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(v) = self.at.volume {
            parts.push(format!("volume {v}"));
        }
        if let Some(i) = self.at.inode {
            parts.push(format!("inode {i}"));
        }
        if let Some(o) = self.at.offset {
            parts.push(format!("byte {o:#x}"));
        }
        let mut prefix = self.context.join(": ");
        if !parts.is_empty() {
            if !prefix.is_empty() {
                prefix.push_str(", ");
            }
            prefix.push_str(&parts.join(", "));
        }
        if prefix.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{prefix}: {}", self.message)
        }
    }
}

impl std::error::Error for Error {}

/// Adds context to errors in a `Result`.
pub trait ResultExt<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.context(what()))
    }
}

/// Reserves a buffer whose size comes from disk, refusing sizes beyond
/// `limit` instead of aborting on allocation failure.
pub fn alloc_bytes(len: u64, limit: u64, what: &str) -> Result<Vec<u8>> {
    if len > limit {
        return Err(Error::corrupt(format!("{what} claims {len} bytes, more than the {limit} allowed")));
    }
    let len = usize::try_from(len).map_err(|_| Error::corrupt(format!("{what} is too large")))?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::io(format!("out of memory reserving {len} bytes for {what}")))?;
    v.resize(len, 0);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_as_a_sentence() {
        let e = Error::corrupt("extent depth 9 exceeds 5").at_offset(0x3f000).at_inode(1234).at_volume(2);
        assert_eq!(e.to_string(), "volume 2, inode 1234, byte 0x3f000: extent depth 9 exceeds 5");
        let e = Error::io("short read").context("reading the GPT header");
        assert_eq!(e.to_string(), "reading the GPT header: short read");
    }

    #[test]
    fn inner_location_wins() {
        let e = Error::corrupt("x").at_offset(1).at_offset(2);
        assert_eq!(e.location().offset, Some(1));
    }

    #[test]
    fn alloc_refuses_absurd_sizes() {
        assert!(alloc_bytes(1 << 40, 1 << 20, "table").is_err());
        assert_eq!(alloc_bytes(16, 1 << 20, "table").unwrap().len(), 16);
    }
}
