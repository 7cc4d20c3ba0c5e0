//! The identification gallery (being written).
