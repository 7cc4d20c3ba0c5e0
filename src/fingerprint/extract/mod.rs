//! From a 500 dpi grey image to a minutiae template.
