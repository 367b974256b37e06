//! "This server at a glance" for the page: the inventory of a Linux root
//! ([`crate::inventory`]) as a job the worker runs in steps, so the quick
//! part (configuration files) shows at once and the slow part (the file
//! scan, folder sizes) streams in between the page's other requests.

use wasm_bindgen::prelude::*;

use crate::inventory::{find_linux_root, is_linux_root, Scan};

use super::{js_err, to_js, Session};

/// A running inventory; drop it (or `free()`) to cancel.
#[wasm_bindgen]
pub struct InventoryJob {
    scan: Scan,
    volume: u32,
}

#[derive(serde::Serialize)]
struct StepRecord<'a> {
    volume: u32,
    /// The stage about to run: `system`, `users`, … `files`, `sizes`, `done`.
    stage: &'static str,
    done: bool,
    items: usize,
    work: f64,
    /// The inventory so far; final once `done`.
    inventory: &'a crate::inventory::Inventory,
}

#[wasm_bindgen]
impl Session {
    /// The index of the first readable volume that holds a Linux root
    /// (`/etc` and `/usr` or `/bin`), or `undefined`.
    pub fn linux_root(&self) -> Option<u32> {
        find_linux_root(&self.image).map(|(index, _)| index)
    }

    /// Starts the inventory of `volume`; refuses, with a sentence, a volume
    /// that is not a Linux root.
    pub fn inventory(&self, volume: u32) -> Result<InventoryJob, JsError> {
        let fs = self.image.filesystem(volume).map_err(js_err)?;
        if !is_linux_root(&*fs) {
            return Err(JsError::new(&format!("Volume {volume} doesn't hold a Linux system (no /etc with /usr or /bin), so there is nothing to sum up.")));
        }
        let scan = Scan::new(fs).ok_or_else(|| JsError::new("the volume stopped looking like a Linux system while it was read"))?;
        Ok(InventoryJob { scan, volume })
    }
}

#[wasm_bindgen]
impl InventoryJob {
    /// Does about `budget` units of work (a lookup, a folder entry, a read)
    /// and answers {volume, stage, done, items, work, inventory}.
    pub fn step(&mut self, budget: f64) -> Result<JsValue, JsError> {
        // Whole and positive, else one unit: the scan only needs a bound.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let budget = if budget.is_finite() && budget >= 1.0 { budget.min(1e12) as u64 } else { 1 };
        let p = self.scan.step(budget);
        // Work counts stay far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        let work = p.work as f64;
        to_js(&StepRecord { volume: self.volume, stage: p.stage, done: p.done, items: p.items, work, inventory: self.scan.inventory() })
    }
}
