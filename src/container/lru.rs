//! A tiny least-recently-used map for container metadata (qcow2 L2 tables,
//! decompressed clusters, VHDX sector bitmaps).
//!
//! Containers read through the shared chunk cache, which keeps raw file
//! bytes; this one keeps what was derived from them (a parsed table, an
//! inflated cluster) so a sequential read doesn't redo the work per call.
//! Capacities are small (tens of entries), so a linear scan is cheapest.

use std::cell::RefCell;
use std::rc::Rc;

/// (key, last use, value).
type Slot<V> = (u64, u64, Rc<V>);

pub struct Lru<V> {
    capacity: usize,
    /// The use counter and the entries.
    state: RefCell<(u64, Vec<Slot<V>>)>,
}

impl<V> Lru<V> {
    /// At most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), state: RefCell::new((0, Vec::new())) }
    }

    /// The value for `key`, loading it with `load` on a miss.
    pub fn get_or_load<E>(&self, key: u64, load: impl FnOnce() -> Result<V, E>) -> Result<Rc<V>, E> {
        {
            let mut st = self.state.borrow_mut();
            let (tick, entries) = &mut *st;
            *tick = tick.wrapping_add(1);
            if let Some(e) = entries.iter_mut().find(|e| e.0 == key) {
                e.1 = *tick;
                return Ok(e.2.clone());
            }
        }
        // Not borrowed while loading: `load` may read through another Lru.
        let value = Rc::new(load()?);
        let mut st = self.state.borrow_mut();
        let (tick, entries) = &mut *st;
        if entries.len() >= self.capacity {
            if let Some(oldest) = entries.iter().enumerate().min_by_key(|(_, e)| e.1).map(|(i, _)| i) {
                entries.swap_remove(oldest);
            }
        }
        entries.push((key, *tick, value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let lru: Lru<u64> = Lru::new(2);
        let mut loads = 0;
        for key in [1, 2, 1, 3, 1, 2] {
            let v = lru
                .get_or_load(key, || {
                    loads += 1;
                    Ok::<_, ()>(key * 10)
                })
                .unwrap();
            assert_eq!(*v, key * 10);
        }
        // 1, 2, (1 hit), 3 evicts 2, (1 hit), 2 evicts 3.
        assert_eq!(loads, 4);
    }
}
