//! Native only: the manifest's SHA-256 on a thread of its own, while the
//! export reads and writes the next chunk.
//!
//! With the zip written by `O_DIRECT` ([`super::direct`]), SHA-256 was
//! about half of the export's remaining CPU time on the main thread. Each
//! chunk's buffer is handed over as it is (no copy) once its bytes are in
//! the zip, and an empty buffer comes back; the digest of a file comes
//! back after its last chunk. At most [`BUFFERS`] chunk buffers exist.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Chunk buffers in use at once: one being read, the others being hashed
/// or waiting.
const BUFFERS: usize = 3;

/// Bytes of one file for the thread: `buf[..len]` of entry `index`.
struct Piece {
    index: usize,
    buf: Vec<u8>,
    len: usize,
    last: bool,
}

enum Back {
    /// A buffer the thread is done with.
    Empty(Vec<u8>),
    /// A file's digest, after its last piece.
    Digest(usize, [u8; 32]),
}

pub struct HashThread {
    to_thread: Option<Sender<Piece>>,
    from_thread: Receiver<Back>,
    made: usize,
    free: Vec<Vec<u8>>,
    /// Digests received and not yet collected.
    ready: Vec<(usize, [u8; 32])>,
    /// Files handed over whose digest has not been collected.
    pub waiting: usize,
    thread: Option<JoinHandle<()>>,
}

impl HashThread {
    /// `None` when no thread can be started (the caller hashes itself).
    pub fn start() -> Option<HashThread> {
        let (to_thread, pieces) = channel::<Piece>();
        let (back, from_thread) = channel();
        let thread = std::thread::Builder::new()
            .name("salvage-sha256".into())
            .spawn(move || {
                let mut current: Option<(usize, Sha256)> = None;
                for p in pieces {
                    let h = match current.as_mut() {
                        Some((i, h)) if *i == p.index => h,
                        _ => &mut current.insert((p.index, Sha256::new())).1,
                    };
                    h.update(p.buf.get(..p.len).unwrap_or_default());
                    if p.last {
                        if let Some((i, h)) = current.take() {
                            if back.send(Back::Digest(i, h.finalize().into())).is_err() {
                                return;
                            }
                        }
                    }
                    if back.send(Back::Empty(p.buf)).is_err() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(HashThread {
            to_thread: Some(to_thread),
            from_thread,
            made: 1,
            free: Vec::new(),
            ready: Vec::new(),
            waiting: 0,
            thread: Some(thread),
        })
    }

    fn gone() -> crate::error::Error {
        crate::error::Error::io("the hashing thread stopped")
    }

    fn receive(&mut self, back: Back) {
        match back {
            Back::Empty(buf) => self.free.push(buf),
            Back::Digest(i, d) => self.ready.push((i, d)),
        }
    }

    /// Hands `buf[..len]`, bytes of entry `index`, to the thread (counting
    /// a new file on its first piece) and returns an empty buffer of the
    /// same length to read the next chunk into.
    pub fn hash(&mut self, index: usize, first: bool, buf: Vec<u8>, len: usize, last: bool) -> crate::error::Result<Vec<u8>> {
        let size = buf.len();
        if first {
            self.waiting = self.waiting.saturating_add(1);
        }
        self.to_thread.as_ref().ok_or_else(Self::gone)?.send(Piece { index, buf, len, last }).map_err(|_| Self::gone())?;
        if self.free.is_empty() && self.made < BUFFERS {
            self.made = self.made.saturating_add(1);
            return Ok(vec![0u8; size]);
        }
        while self.free.is_empty() {
            let back = self.from_thread.recv().map_err(|_| Self::gone())?;
            self.receive(back);
        }
        let mut buf = self.free.pop().ok_or_else(Self::gone)?;
        buf.resize(size, 0);
        Ok(buf)
    }

    /// Ends entry `index` early (a file left out midway): its digest comes
    /// back like any other, to be ignored.
    pub fn close(&mut self, index: usize) -> crate::error::Result<()> {
        let piece = Piece { index, buf: Vec::new(), len: 0, last: true };
        self.to_thread.as_ref().ok_or_else(Self::gone)?.send(piece).map_err(|_| Self::gone())
    }

    /// Digests that came back, without waiting.
    pub fn digests(&mut self) -> Vec<(usize, [u8; 32])> {
        while let Ok(back) = self.from_thread.try_recv() {
            self.receive(back);
        }
        self.waiting = self.waiting.saturating_sub(self.ready.len());
        std::mem::take(&mut self.ready)
    }

    /// Waits until every file handed over has its digest; returns them.
    pub fn wait_all(&mut self) -> crate::error::Result<Vec<(usize, [u8; 32])>> {
        let mut out = self.digests();
        while self.waiting > 0 {
            let back = self.from_thread.recv().map_err(|_| Self::gone())?;
            self.receive(back);
            let got = std::mem::take(&mut self.ready);
            self.waiting = self.waiting.saturating_sub(got.len());
            out.extend(got);
        }
        Ok(out)
    }
}

impl Drop for HashThread {
    fn drop(&mut self) {
        drop(self.to_thread.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
