//! A browser `Blob` (a picked `File`) as a [`ReadAt`].
//!
//! `FileReaderSync` exists only in workers. Each call costs about 1 ms
//! whatever its size, which is why every `BlobSource` sits behind a
//! [`ChunkCache`](crate::read_at::ChunkCache) reading in ≥ 1 MiB chunks.

use std::cell::Cell;

use wasm_bindgen::JsCast;

use crate::error::{Error, Result};

thread_local! {
    /// Milliseconds spent in `FileReaderSync` and in copying its result
    /// into wasm memory, since the worker started: the export's timing
    /// line reports them (see [`read_ms`]).
    static READ_MS: Cell<(f64, f64)> = const { Cell::new((0.0, 0.0)) };
    static READS: Cell<(f64, f64)> = const { Cell::new((0.0, 0.0)) };
}

/// (reading, copying into wasm) milliseconds so far.
pub fn read_ms() -> (f64, f64) {
    READ_MS.with(Cell::get)
}

/// (reads, bytes) so far.
pub fn reads() -> (f64, f64) {
    READS.with(Cell::get)
}

pub fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| js_sys::Reflect::get(&p, &"now".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok().map(|f| (p, f))))
        .and_then(|(p, f)| f.call0(&p).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}
use crate::read_at::{check_range, ReadAt};

pub struct BlobSource {
    blob: web_sys::Blob,
    reader: web_sys::FileReaderSync,
    size: u64,
}

impl BlobSource {
    pub fn new(blob: web_sys::Blob) -> Result<BlobSource> {
        let reader = web_sys::FileReaderSync::new()
            .map_err(|_| Error::unsupported("reading files needs FileReaderSync, which only exists in a Web Worker"))?;
        // Blob sizes are integers below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let size = blob.size() as u64;
        Ok(BlobSource { blob, reader, size })
    }
}

impl ReadAt for BlobSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(offset, buf.len(), self.size)?;
        // check_range proved offset + len <= size.
        let end = offset.saturating_add(u64::try_from(buf.len()).unwrap_or(u64::MAX));
        let fail = |what: &str| Error::io(format!("the browser could not read {} bytes of the file: {what}", buf.len())).at_offset(offset);
        let t0 = now_ms();
        let slice = self.blob.slice_with_f64_and_f64(offset as f64, end as f64).map_err(|_| fail("slice failed"))?;
        let data = self.reader.read_as_array_buffer(&slice).map_err(|e| {
            let msg = e.as_string().or_else(|| js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()));
            fail(&msg.unwrap_or_else(|| "read failed (was the file moved or changed?)".into()))
        })?;
        let bytes = js_sys::Uint8Array::new(&data);
        if bytes.length() as usize != buf.len() {
            return Err(fail(&format!("got {} bytes", bytes.length())));
        }
        let t1 = now_ms();
        bytes.copy_to(buf);
        let t2 = now_ms();
        READ_MS.with(|c| {
            let (r, k) = c.get();
            c.set((r + (t1 - t0), k + (t2 - t1)));
        });
        READS.with(|c| {
            let (n, b) = c.get();
            c.set((n + 1.0, b + buf.len() as f64));
        });
        Ok(())
    }
}
