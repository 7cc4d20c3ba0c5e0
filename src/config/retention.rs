//! The `[retention]` settings: how long the biometric data of people who have left is kept.
//!
//! ```toml
//! [retention]
//! templates_after_release = "365d"   # fingerprint templates, counted from the release; absent: kept
//! photos_after_release = "365d"      # the photo, the same way; absent: kept
//! ```
//!
//! A period is a whole number of days written `"<N>d"`, from `"0d"` (deleted at the next run after the
//! release) to `"36500d"`. What counts as a release, and how the period is measured against a clock that
//! may be wrong, is [`crate::people::retention`]'s.

use serde::Deserialize;
use toml::Spanned;

use super::lanes::Refusal;

/// Longest period accepted, in days (a hundred years: anything longer is a typing error).
pub const MAX_DAYS: u32 = 36_500;

/// How long templates and photos are kept after a release; `None`: kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionSetting {
    /// Days a released person's fingerprint templates are kept.
    pub templates_after_release: Option<u32>,
    /// Days a released person's photo is kept.
    pub photos_after_release: Option<u32>,
}

impl RetentionSetting {
    /// Whether anything is ever deleted.
    pub fn is_set(&self) -> bool {
        self.templates_after_release.is_some() || self.photos_after_release.is_some()
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    templates_after_release: Option<Spanned<String>>,
    photos_after_release: Option<Spanned<String>>,
}

impl RawRetention {
    pub(super) fn validate(self) -> Result<RetentionSetting, Refusal> {
        Ok(RetentionSetting {
            templates_after_release: days(self.templates_after_release, "templates_after_release")?,
            photos_after_release: days(self.photos_after_release, "photos_after_release")?,
        })
    }
}

/// `"<N>d"`, N from 0 to [`MAX_DAYS`].
fn days(v: Option<Spanned<String>>, what: &str) -> Result<Option<u32>, Refusal> {
    let Some(v) = v else { return Ok(None) };
    let text = v.get_ref();
    let n = text
        .strip_suffix('d')
        .filter(|n| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok());
    match n {
        Some(n) if n <= MAX_DAYS => Ok(Some(n)),
        Some(_) => Err((v.span(), format!("{what} {text:?} is longer than {MAX_DAYS} days"))),
        None => Err((v.span(), format!("{what} {text:?} must be a number of days like \"365d\" (\"0d\": at once)"))),
    }
}
