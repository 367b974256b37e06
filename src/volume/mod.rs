//! Partition tables → volumes.
