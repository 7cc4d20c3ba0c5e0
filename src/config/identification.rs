//! The `[identification]` settings: how sure the gate must be before it names someone.
//!
//! ```toml
//! [identification]
//! max_false_identification = 0.001   # per touch of a finger nobody enrolled; default 0.001
//! ```
//!
//! The rate is the chance that a finger nobody enrolled is taken for someone's, per touch, from
//! 0.000001 to 0.1. A lower rate refuses more genuine touches as the gallery grows; what it means in
//! scores is [`crate::gate::operating_point`]'s.

use serde::Deserialize;
use toml::Spanned;

use super::lanes::Refusal;
use crate::gate::operating_point::DEFAULT_MAX_FPIR;

/// Lowest rate accepted (below it the extrapolated calibration says nothing measurable).
pub const MIN_RATE: f64 = 1e-6;
/// Highest rate accepted (above it a tenth of strangers would be named).
pub const MAX_RATE: f64 = 0.1;

/// The identification operating point, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentificationSetting {
    /// The largest false positive identification rate accepted, per touch.
    pub max_false_identification: f64,
}

/// Validated: never NaN, so equality is an equivalence.
impl Eq for IdentificationSetting {}

impl Default for IdentificationSetting {
    fn default() -> Self {
        IdentificationSetting { max_false_identification: DEFAULT_MAX_FPIR }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentification {
    max_false_identification: Option<Spanned<f64>>,
}

impl RawIdentification {
    pub(super) fn validate(self) -> Result<IdentificationSetting, Refusal> {
        let Some(v) = self.max_false_identification else { return Ok(IdentificationSetting::default()) };
        let rate = *v.get_ref();
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err((
                v.span(),
                format!("max_false_identification {rate} must be a rate from {MIN_RATE} to {MAX_RATE}, like 0.001"),
            ));
        }
        Ok(IdentificationSetting { max_false_identification: rate })
    }
}
