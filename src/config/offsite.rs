//! The `[offsite]` settings: who off-site copies are encrypted for, where the scheduled copy goes and how
//! often.
//!
//! ```toml
//! [offsite]
//! recipients = ["age1…"]         # the national authority's age X25519 public keys; required for a copy
//! dir = "/media/tally-offsite"   # where `tally serve` writes its scheduled copy, when it is mounted
//! every = "24h"                  # how often: "90s", "30m", "24h", "7d", or a number of seconds
//! ```
//!
//! Recipients are checked here for their shape only (`age1` and lowercase bech32 letters); the off-site
//! module parses them fully and refuses a copy, naming the key, if one does not decode.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::lanes::Refusal;

/// Default interval between scheduled copies.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Shortest interval accepted (tests use a few seconds; a real schedule is hours).
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// The off-site copy settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsiteSetting {
    /// The authority's age public keys (`age1…`); a copy is refused while there is none.
    pub recipients: Vec<String>,
    /// Where the scheduled copy is written; `None`: no scheduled copy.
    pub dir: Option<PathBuf>,
    /// How old the latest copy in `dir` may get before the next is written.
    pub every: Duration,
}

impl Default for OffsiteSetting {
    fn default() -> Self {
        OffsiteSetting { recipients: Vec::new(), dir: None, every: DEFAULT_EVERY }
    }
}

/// `[offsite]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOffsite {
    recipients: Option<Spanned<Vec<String>>>,
    dir: Option<Spanned<String>>,
    every: Option<Spanned<Every>>,
}

/// `every` as a string with a unit or a number of seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum Every {
    Seconds(u64),
    Text(String),
}

impl RawOffsite {
    /// Validates the section.
    pub(super) fn validate(self) -> Result<OffsiteSetting, Refusal> {
        let mut s = OffsiteSetting::default();
        if let Some(r) = self.recipients {
            let span = r.span();
            for key in r.get_ref() {
                if !looks_like_recipient(key) {
                    return Err((span, format!("recipient {key:?} is not an age public key (age1…)")));
                }
            }
            s.recipients = r.into_inner();
        }
        if let Some(d) = self.dir {
            if d.get_ref().is_empty() {
                return Err((d.span(), "offsite dir must not be empty".into()));
            }
            s.dir = Some(PathBuf::from(d.into_inner()));
        }
        if let Some(e) = self.every {
            let span = e.span();
            let every = match e.into_inner() {
                Every::Seconds(n) => Some(Duration::from_secs(n)),
                Every::Text(t) => parse_every(&t),
            };
            s.every = every.filter(|d| *d >= MIN_EVERY).ok_or_else(|| {
                (
                    span,
                    "every must be a positive number of seconds or a duration like \"90s\", \"30m\", \"24h\", \"7d\""
                        .into(),
                )
            })?;
        }
        Ok(s)
    }
}

/// Whether `key` has the shape of an age X25519 recipient.
fn looks_like_recipient(key: &str) -> bool {
    key.len() > 10 && key.starts_with("age1") && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `"90s"`, `"30m"`, `"24h"`, `"7d"` or a bare number of seconds.
pub fn parse_every(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units() {
        assert_eq!(parse_every("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_every("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_every("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_every("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_every("15"), Some(Duration::from_secs(15)));
        for bad in ["", "h", "1w", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_every(bad), None, "{bad}");
        }
    }
}
