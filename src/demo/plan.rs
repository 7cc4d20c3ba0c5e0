//! The synthetic prison of `tally demo`, as a plan: who is registered (ids, names, categories, dates of
//! birth), where each person is at the start, whose status is changed (on duty, at court, in hospital,
//! released), and which synthetic finger each enrolled finger is. Pure and deterministic: the same seed
//! and size always give the same prison, so a second run on the same data directory finds the fingers
//! it enrolled the first time. Writing the plan into the register and the ledger is [`super::seed`]'s.
//!
//! Nobody here is real. Family names are common ones of the Democratic Republic of the Congo, given
//! names common there, drawn at random and paired at random; ids are `P-` (inmates), `S-` (staff) and
//! `V-` (visitors) with a number.
//!
//! # Fingers
//! People who will walk through a lane during the demo (those outside the walls or at reception at the
//! start, and the released, who come back to be refused) have fingers drawn from synthetic *images*
//! ([`Source::Image`]: a master finger of [`crate::fingerprint::synth::Master`], enrolled from its
//! impression 0 and presented at the lanes as other impressions). Everyone else — inmates and staff
//! already in block A or the yard, who never pass a lane in the demo — has fingers drawn as synthetic
//! *templates* ([`Source::Template`], [`crate::fingerprint::synth::templates`]): they fill the gallery
//! that every scan is searched against, at a thousandth of the cost of growing an image.

use crate::people::{Category, Status};

/// The zone where new inmates and the gates are.
pub const RECEPTION: &str = "reception";
/// The cell block counted at the shift change.
pub const BLOCK_A: &str = "block-a";
/// The exercise yard.
pub const YARD: &str = "yard";

/// ISO finger position of the right index finger, everyone's first enrolled finger.
pub const RIGHT_INDEX: u8 = 2;
/// ISO finger position of the left index finger, the second finger of some.
pub const LEFT_INDEX: u8 = 7;

/// First master index of fingers that belong to nobody enrolled (the demo's unknown fingers).
pub const UNKNOWN_MASTERS: u64 = 1_000_000;

const FAMILY_NAMES: &[&str] = &[
    "Mbuyi",
    "Kabongo",
    "Ilunga",
    "Tshibanda",
    "Kalala",
    "Mukendi",
    "Kasongo",
    "Ngoy",
    "Banza",
    "Lukusa",
    "Tshimanga",
    "Mwamba",
    "Kabeya",
    "Mulumba",
    "Kazadi",
    "Nkulu",
    "Lumbala",
    "Kayembe",
    "Mbombo",
    "Kanku",
    "Musau",
    "Nsimba",
    "Makiese",
    "Lutete",
    "Mavungu",
    "Nzuzi",
    "Kiala",
    "Mpiana",
    "Bokele",
    "Likwela",
    "Bolamba",
    "Mbala",
    "Ndombe",
    "Mokonzi",
    "Mutamba",
    "Kabamba",
    "Kitenge",
    "Bisimwa",
    "Cirhuza",
    "Bahati",
    "Kahindo",
    "Kavira",
    "Masika",
    "Paluku",
    "Kambale",
    "Muhindo",
    "Mushagalusa",
    "Lokwa",
    "Bofale",
    "Ekanga",
];

const MEN: &[&str] = &[
    "Jean",
    "Joseph",
    "Pierre",
    "Patrick",
    "Didier",
    "Christian",
    "Fiston",
    "Héritier",
    "Dieudonné",
    "Trésor",
    "Glody",
    "Aimé",
    "Papy",
    "Junior",
    "Emmanuel",
    "Jonathan",
    "Josué",
    "Blaise",
    "Serge",
    "Arsène",
    "Benjamin",
    "Cédric",
    "Olivier",
    "Guy",
    "Prince",
];

const WOMEN: &[&str] = &[
    "Grace",
    "Esther",
    "Ruth",
    "Chancelle",
    "Merveille",
    "Sarah",
    "Rebecca",
    "Nathalie",
    "Jolie",
    "Gloire",
    "Divine",
    "Prisca",
    "Anny",
    "Dorcas",
];

/// A small deterministic random generator (SplitMix64): the demo's choices, reproducible from a seed.
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    /// A generator for `seed` and `stream` (different streams of one seed do not repeat each other).
    pub fn new(seed: u64, stream: u64) -> DemoRng {
        DemoRng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (`None` when empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }
}

/// Where an enrolled finger comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Impression 0 of synthetic master finger `master` (the lanes are shown other impressions).
    Image {
        /// The master's index under the prison's seed.
        master: u64,
    },
    /// Synthetic template `index` of the prison's seed, with no image.
    Template {
        /// The template's index.
        index: u64,
    },
}

/// One enrolled finger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerPlan {
    /// ISO finger position.
    pub position: u8,
    /// Which synthetic finger it is.
    pub source: Source,
}

/// A status change made at seeding, after the registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// The reason recorded.
    pub reason: &'static str,
}

/// One person of the synthetic prison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonPlan {
    /// Person id.
    pub id: String,
    /// Inmate, staff or visitor.
    pub category: Category,
    /// Given name.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// The zone registered in; `None` is outside the walls.
    pub zone: Option<&'static str>,
    /// A status change made at seeding.
    pub change: Option<Change>,
    /// Enrolled fingers.
    pub fingers: Vec<FingerPlan>,
}

impl PersonPlan {
    /// `FAMILY Given`, as the screens show a name.
    pub fn name(&self) -> String {
        format!("{} {}", self.family_name.to_uppercase(), self.given_names)
    }

    /// Whether the given name is a woman's (the plan draws it from the women's names).
    pub fn is_woman(&self) -> bool {
        WOMEN.contains(&self.given_names.as_str())
    }

    /// The master finger the lanes can be shown for this person, if any.
    pub fn image_master(&self) -> Option<u64> {
        self.fingers.iter().find_map(|f| match f.source {
            Source::Image { master } => Some(master),
            Source::Template { .. } => None,
        })
    }
}

/// The synthetic prison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prison {
    /// The seed everything is drawn from, fingers included.
    pub seed: u64,
    /// Everyone, in registration order.
    pub people: Vec<PersonPlan>,
}

/// How many of each kind a prison of `n` people holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shares {
    staff: usize,
    visitors: usize,
    at_court: usize,
    at_hospital: usize,
    released: usize,
    reception: usize,
    block_a: usize,
    yard: usize,
}

impl Shares {
    fn of(n: usize) -> Shares {
        let staff = (n / 10).max(3);
        let visitors = (n / 40).max(2);
        let inmates = n.saturating_sub(staff + visitors);
        let at_court = (inmates / 60).max(1);
        let at_hospital = (inmates / 120).max(1);
        let released = (inmates / 150).max(1);
        let inside = inmates.saturating_sub(at_court + at_hospital + released);
        let reception = inside * 15 / 100;
        let block_a = (inside - reception) * 55 / 100;
        Shares {
            staff,
            visitors,
            at_court,
            at_hospital,
            released,
            reception,
            block_a,
            yard: inside - reception - block_a,
        }
    }
}

impl Prison {
    /// The prison of `people` people drawn from `seed`.
    pub fn plan(seed: u64, people: usize) -> Prison {
        let s = Shares::of(people);
        let mut rng = DemoRng::new(seed, 1);
        let mut out = Vec::with_capacity(people);
        let (mut masters, mut templates) = (0u64, 0u64);
        let mut fingers = |rng: &mut DemoRng, from_images: bool, second: bool| -> Vec<FingerPlan> {
            let mut next = || {
                if from_images {
                    masters += 1;
                    Source::Image { master: masters - 1 }
                } else {
                    templates += 1;
                    Source::Template { index: templates - 1 }
                }
            };
            let mut list = vec![FingerPlan { position: RIGHT_INDEX, source: next() }];
            if second && rng.chance(if from_images { 33 } else { 50 }) {
                list.push(FingerPlan { position: LEFT_INDEX, source: next() });
            }
            list
        };

        // Staff: two in five on duty inside (reception, block A, the yard); the rest arrive for the
        // next shift through the main gate.
        let on_duty = s.staff * 2 / 5;
        for i in 0..s.staff {
            let zone = match i {
                i if i >= on_duty => None,
                i if i % 3 == 0 => Some(RECEPTION),
                i if i % 3 == 1 => Some(BLOCK_A),
                _ => Some(YARD),
            };
            let change =
                (i < on_duty).then_some(Change { from: Status::OffDuty, to: Status::OnDuty, reason: "on shift" });
            let moves = zone.is_none_or(|z| z == RECEPTION);
            let f = fingers(&mut rng, moves, true);
            out.push(person(&mut rng, format!("S-{:03}", i + 1), Category::Staff, zone, change, f, (1968, 32)));
        }
        for i in 0..s.visitors {
            let f = fingers(&mut rng, true, false);
            out.push(person(&mut rng, format!("V-{:03}", i + 1), Category::Visitor, None, None, f, (0, 0)));
        }
        let away = |to, reason| Some(Change { from: Status::InCustody, to, reason });
        let groups: [(usize, Option<&'static str>, Option<Change>); 6] = [
            (s.at_court, None, away(Status::AtCourt, "hearing at the tribunal de grande instance")),
            (s.at_hospital, None, away(Status::AtHospital, "admitted to the general hospital")),
            (s.released, None, away(Status::Released, "sentence served")),
            (s.reception, Some(RECEPTION), None),
            (s.block_a, Some(BLOCK_A), None),
            (s.yard, Some(YARD), None),
        ];
        let mut number = 0;
        for (count, zone, change) in groups {
            for _ in 0..count {
                number += 1;
                let moves = zone.is_none_or(|z| z == RECEPTION);
                let f = fingers(&mut rng, moves, true);
                out.push(person(&mut rng, format!("P-{number:04}"), Category::Inmate, zone, change, f, (1966, 40)));
            }
        }
        Prison { seed, people: out }
    }

    /// The person with this id.
    pub fn person(&self, id: &str) -> Option<&PersonPlan> {
        self.people.iter().find(|p| p.id == id)
    }

    /// Number of people of `category`.
    pub fn count(&self, category: Category) -> usize {
        self.people.iter().filter(|p| p.category == category).count()
    }
}

/// A person with a random name (women are one in ten inmates, one in three others) and, when `born` is
/// `(first year, span)` with a span, a random date of birth.
fn person(
    rng: &mut DemoRng,
    id: String,
    category: Category,
    zone: Option<&'static str>,
    change: Option<Change>,
    fingers: Vec<FingerPlan>,
    born: (u64, u64),
) -> PersonPlan {
    let woman = rng.chance(if category == Category::Inmate { 10 } else { 33 });
    let given = rng.pick(if woman { WOMEN } else { MEN }).copied().unwrap_or("Jean");
    let family = rng.pick(FAMILY_NAMES).copied().unwrap_or("Mbuyi");
    let (first, span) = born;
    let date_of_birth =
        (span > 0).then(|| format!("{}-{:02}-{:02}", first + rng.below(span), 1 + rng.below(12), 1 + rng.below(28)));
    PersonPlan {
        id,
        category,
        given_names: given.to_owned(),
        family_name: family.to_owned(),
        date_of_birth,
        zone,
        change,
        fingers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::{check_id, check_name};

    #[test]
    fn a_prison_of_three_hundred_has_everyone_in_place() {
        let p = Prison::plan(7, 300);
        assert_eq!(p.people.len(), 300);
        assert_eq!((p.count(Category::Staff), p.count(Category::Visitor)), (30, 7));
        let in_zone = |z: &str| p.people.iter().filter(|x| x.zone == Some(z)).count();
        assert!(in_zone(BLOCK_A) > 100 && in_zone(YARD) > 80 && in_zone(RECEPTION) > 30, "{}", in_zone(BLOCK_A));
        let ids: std::collections::HashSet<&str> = p.people.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids.len(), 300, "ids are unique");
        for x in &p.people {
            assert!(check_id(&x.id).is_ok() && check_name("family_name", &x.family_name).is_ok());
            assert!(!x.fingers.is_empty() && x.fingers.len() <= 2);
            if let Some(c) = x.change {
                assert!(c.from.fits(x.category) && c.to.fits(x.category), "{}", x.id);
            }
            // Whoever starts outside or at reception walks through a lane: their fingers have images.
            if x.zone.is_none_or(|z| z == RECEPTION) {
                assert!(x.fingers.iter().all(|f| matches!(f.source, Source::Image { .. })), "{}", x.id);
            }
        }
        let released = p.people.iter().filter(|x| x.change.is_some_and(|c| c.to == Status::Released)).count();
        assert_eq!(released, 1);
        let images = p.people.iter().flat_map(|x| &x.fingers).filter(|f| matches!(f.source, Source::Image { .. }));
        assert!((70..130).contains(&images.count()), "a few seconds of image work, not minutes");
    }

    #[test]
    fn the_same_seed_gives_the_same_prison_and_masters_are_never_shared() {
        assert_eq!(Prison::plan(3, 60), Prison::plan(3, 60));
        assert_ne!(Prison::plan(3, 60), Prison::plan(4, 60));
        let p = Prison::plan(3, 60);
        let mut masters: Vec<u64> = p
            .people
            .iter()
            .flat_map(|x| &x.fingers)
            .filter_map(|f| match f.source {
                Source::Image { master } => Some(master),
                Source::Template { .. } => None,
            })
            .collect();
        let n = masters.len();
        masters.sort_unstable();
        masters.dedup();
        assert_eq!(masters.len(), n);
        assert!(masters.iter().all(|&m| m < UNKNOWN_MASTERS));
    }

    #[test]
    fn the_smallest_prison_still_has_every_kind() {
        let p = Prison::plan(1, 20);
        assert_eq!(p.people.len(), 20);
        for c in Category::ALL {
            assert!(p.count(c) > 0, "{c:?}");
        }
        assert!(p.people.iter().any(|x| x.zone == Some(BLOCK_A)));
    }
}
