//! People: the register's vocabulary (categories, statuses, ids, identity fields), the template vault
//! that encrypts templates and photos at rest, and the gallery that identifies people by finger.
//!
//! What a person *is* lives here; where a person *is* (zone, roll-call) is the census's fold over the
//! ledger; who may go where is the policy's. The SQL is the store's ([`crate::store::people`]).
//!
//! - [`vault`]: AES-256-GCM sealing of templates and photos with a key file kept apart from the database.
//! - [`gallery`]: the identification index with each template's owner, loaded at start-up.
//! - [`import`]: registering people in bulk from a registry's CSV export and template files.
//! - [`sync`]: the gallery kept in step with templates other processes store, through the ledger.
//! - [`retention`]: deleting the templates and photos of people released long enough ago.

pub mod gallery;
pub mod import;
pub mod retention;
pub mod sync;
pub mod vault;

use serde::{Deserialize, Serialize};

/// Longest person id, in bytes.
pub const MAX_ID_LEN: usize = 32;
/// Longest name field, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Largest photo accepted, in bytes (a passport-style JPEG or PNG).
pub const MAX_PHOTO_BYTES: usize = 512 * 1024;
/// A capture whose image quality is below this is refused at enrolment (0–100). On FVC2002 set B the
/// extractor rates the worst impressions 21–29 (DB3's dry, partial ones) and most above 30: this asks
/// again for the worst few, which an officer at a reader can always do.
pub const MIN_ENROL_QUALITY: u8 = 25;
/// A capture with fewer minutiae than this is refused at enrolment.
pub const MIN_ENROL_MINUTIAE: usize = 12;
/// The false match rate below which an enrolment candidate is reported as a possible duplicate: looser
/// than the gate's, since a human looks at each candidate.
pub const DUPLICATE_MAX_FMR: f64 = 1e-4;

/// What a person is to the prison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Held in custody.
    Inmate,
    /// Works there.
    Staff,
    /// Visits.
    Visitor,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 3] = [Category::Inmate, Category::Staff, Category::Visitor];

    /// The name used in the ledger and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Inmate => "inmate",
            Category::Staff => "staff",
            Category::Visitor => "visitor",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A person's custody or duty status. Every change is a `status_change` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// An inmate held in the facility.
    InCustody,
    /// An inmate taken to court.
    AtCourt,
    /// An inmate in hospital.
    AtHospital,
    /// An inmate out on a work party.
    WorkParty,
    /// An inmate moved to another facility (final).
    Transferred,
    /// An inmate set free (final).
    Released,
    /// An inmate who escaped.
    Escaped,
    /// Died in custody or in service (final).
    Deceased,
    /// Staff at work.
    OnDuty,
    /// Staff not at work.
    OffDuty,
    /// A visitor allowed in.
    Visiting,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 11] = [
        Status::InCustody,
        Status::AtCourt,
        Status::AtHospital,
        Status::WorkParty,
        Status::Transferred,
        Status::Released,
        Status::Escaped,
        Status::Deceased,
        Status::OnDuty,
        Status::OffDuty,
        Status::Visiting,
    ];

    /// The name used in the ledger and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InCustody => "in_custody",
            Status::AtCourt => "at_court",
            Status::AtHospital => "at_hospital",
            Status::WorkParty => "work_party",
            Status::Transferred => "transferred",
            Status::Released => "released",
            Status::Escaped => "escaped",
            Status::Deceased => "deceased",
            Status::OnDuty => "on_duty",
            Status::OffDuty => "off_duty",
            Status::Visiting => "visiting",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The status a newly registered person of `category` has.
    pub fn initial(category: Category) -> Status {
        match category {
            Category::Inmate => Status::InCustody,
            Category::Staff => Status::OffDuty,
            Category::Visitor => Status::Visiting,
        }
    }

    /// Whether a person of `category` may have this status.
    pub fn fits(self, category: Category) -> bool {
        use Status::*;
        match category {
            Category::Inmate => {
                matches!(
                    self,
                    InCustody | AtCourt | AtHospital | WorkParty | Transferred | Released | Escaped | Deceased
                )
            }
            Category::Staff => matches!(self, OnDuty | OffDuty | Deceased),
            Category::Visitor => matches!(self, Visiting | Released),
        }
    }

    /// Whether the person has left the facility's charge for good or unlawfully: such a person is
    /// refused at every lane, and an alarm is raised if they are seen.
    pub fn is_gone(self) -> bool {
        matches!(self, Status::Transferred | Status::Released | Status::Escaped | Status::Deceased)
    }

    /// Whether an inmate is lawfully away for a while (court, hospital, work party).
    pub fn is_away(self) -> bool {
        matches!(self, Status::AtCourt | Status::AtHospital | Status::WorkParty)
    }
}

/// Why identity fields were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeopleError {
    /// A field is empty, too long or holds characters it may not.
    #[error("{field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// Checks a person id: 1 to 32 letters, digits, '-', '_', '/' or '.', starting with a letter or digit.
/// Ids go into the ledger, URLs and file names.
pub fn check_id(id: &str) -> Result<(), PeopleError> {
    let ok = (1..=MAX_ID_LEN).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_/.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PeopleError::Field { field: "id", reason: "1 to 32 letters, digits, '-', '_', '/' or '.'" })
    }
}

/// Checks a name field: not blank, at most [`MAX_NAME_CHARS`] characters, no control or invisible
/// formatting characters.
pub fn check_name(field: &'static str, value: &str) -> Result<(), PeopleError> {
    if value.trim().is_empty() {
        return Err(PeopleError::Field { field, reason: "must not be empty" });
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(PeopleError::Field { field, reason: "at most 100 characters" });
    }
    if value.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    }) {
        return Err(PeopleError::Field { field, reason: "holds control or invisible formatting characters" });
    }
    Ok(())
}

/// Whether `finger` is an ISO/IEC 19794-2 finger position of one finger (1 right thumb … 10 left little).
pub fn check_finger(finger: u8) -> Result<(), PeopleError> {
    if (1..=10).contains(&finger) {
        Ok(())
    } else {
        Err(PeopleError::Field {
            field: "finger",
            reason: "an ISO finger position, 1 (right thumb) to 10 (left little)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_statuses_fit_their_categories() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert!(Status::initial(c).fits(c));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert!(!Status::OnDuty.fits(Category::Inmate));
        assert!(Status::Escaped.is_gone() && !Status::AtCourt.is_gone() && Status::AtCourt.is_away());
    }

    #[test]
    fn ids_and_names_are_checked() {
        assert!(check_id("MKL-2026/0042").is_ok());
        for bad in ["", "-x", "a b", "é", &"x".repeat(33)] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("family_name", "Mbuyi").is_ok());
        assert!(check_name("family_name", " ").is_err());
        assert!(check_name("family_name", "a\u{202E}b").is_err());
        assert!(check_finger(0).is_err() && check_finger(10).is_ok());
    }
}
