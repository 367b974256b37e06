//! Opens the whole stack.
