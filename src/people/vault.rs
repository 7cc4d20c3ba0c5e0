//! AES-256-GCM sealing of templates and photos (being written).
