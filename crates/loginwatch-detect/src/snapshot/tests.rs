//! Save and restore.
