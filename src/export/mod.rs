//! Export: the streamed zip, the recovery report and the manifest.
//!
//! Not written yet (see the export issue). Until then the CLI's `export`
//! says so plainly instead of producing a partial archive.

use crate::error::{Error, Result};

/// Refuses clearly: the zip writer is the next piece of work.
pub fn not_implemented() -> Result<()> {
    Err(Error::unsupported("export to zip is not implemented yet; use `salvage cat` to copy single files"))
}
