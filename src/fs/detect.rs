//! Filesystem signatures.
