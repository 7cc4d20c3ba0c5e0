//! Comparing two templates into a calibrated score.
