//! A browser `Blob` (a picked `File`) as a [`ReadAt`].
//!
//! `FileReaderSync` exists only in workers. Each call costs about 1 ms
//! whatever its size, which is why every `BlobSource` sits behind a
//! [`ChunkCache`](crate::read_at::ChunkCache) reading in ≥ 1 MiB chunks.

use crate::error::{Error, Result};
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
        let slice = self.blob.slice_with_f64_and_f64(offset as f64, end as f64).map_err(|_| fail("slice failed"))?;
        let data = self.reader.read_as_array_buffer(&slice).map_err(|e| {
            let msg = e.as_string().or_else(|| js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()));
            fail(&msg.unwrap_or_else(|| "read failed (was the file moved or changed?)".into()))
        })?;
        let bytes = js_sys::Uint8Array::new(&data);
        if bytes.length() as usize != buf.len() {
            return Err(fail(&format!("got {} bytes", bytes.length())));
        }
        bytes.copy_to(buf);
        Ok(())
    }
}
