//! The configuration: one validated type, loaded once, with defaults that need no file at all.
//!
//! A file is TOML. Unknown keys and bad values are refused with the file, line and reason, before
//! anything runs; a value that is absent takes its default. With no file, tally runs on embedded
//! defaults: data under `./tally-data`, API on `127.0.0.1:8080`.
//!
//! ```toml
//! data_dir = "/var/lib/tally"
//!
//! [facility]
//! id = "makala"                 # part of the ledger's name: letters, digits, '.', '_', '-'
//! name = "Makala Central Prison"
//! outside = "outside"           # the zone beyond the walls; see [`access`]
//! utc_offset = "+01:00"         # local time of access windows
//!
//! [appliance]
//! id = "gate-north-1"           # default: derived from /etc/machine-id at first start
//!
//! [api]
//! listen = "127.0.0.1:8080"
//!
//! [[lane]]                      # one per turnstile; see [`lanes`]
//! id = "north-in"
//!
//! [[zone]]                      # the facility's zones; see [`access`]
//! id = "reception"
//!
//! [access]                      # anti-passback and [[access.rule]]s; see [`access`]
//! anti_passback = "hard"
//!
//! [identification]              # how sure the gate must be; see [`identification`]
//! max_false_identification = 0.001
//!
//! [retention]                   # biometric data of people who have left; see [`retention`]
//! templates_after_release = "365d"
//! [offsite]                     # encrypted off-site copies; see [`offsite`]
//! recipients = ["age1…"]
//! [[peer]]                      # the facility's other appliances; see [`peers`]
//! id = "gate-south-1"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub mod access;
pub mod identification;
pub mod lanes;
pub mod offsite;
pub mod peers;
pub mod retention;

pub use access::{AccessSetting, AntiPassback, Hours, RuleSetting, ZoneSet, ZoneSetting};
pub use identification::IdentificationSetting;
pub use lanes::{LaneSetting, ReaderSetting};
pub use offsite::OffsiteSetting;
pub use peers::PeerSetting;
pub use retention::RetentionSetting;

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./tally-data";
/// Default API address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default facility id.
pub const DEFAULT_FACILITY_ID: &str = "facility";
/// Default facility name.
pub const DEFAULT_FACILITY_NAME: &str = "Unnamed facility";

/// A configuration that was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds an unknown key or a bad value.
    #[error("{path}:{line}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// tally's configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the database and keys live.
    pub data_dir: PathBuf,
    /// Facility id (part of the ledger origin), if configured.
    pub facility_id: Option<String>,
    /// Facility display name.
    pub facility_name: String,
    /// Appliance id (part of the ledger origin), if configured.
    pub appliance_id: Option<String>,
    /// API listen address.
    pub listen: SocketAddr,
    /// The lanes (turnstiles) this appliance runs.
    pub lanes: Vec<LaneSetting>,
    /// Id of the zone outside the walls.
    pub outside: String,
    /// Offset of local time from UTC, for access windows (the appliance clock is UTC).
    pub utc_offset: time::UtcOffset,
    /// The facility's zones, the outside excluded: those declared, else those the lanes name.
    pub zones: Vec<ZoneSetting>,
    /// Anti-passback and access rules.
    pub access: AccessSetting,
    /// The identification operating point.
    pub identification: IdentificationSetting,
    /// How long the biometric data of people who have left is kept.
    pub retention: RetentionSetting,
    /// Off-site copies: recipients, medium, schedule.
    pub offsite: OffsiteSetting,
    /// The facility's other appliances, pulled and cosigned; see [`peers`].
    pub peers: Vec<PeerSetting>,
    /// How often each peer is pulled.
    pub sync_every: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            facility_id: None,
            facility_name: DEFAULT_FACILITY_NAME.into(),
            appliance_id: None,
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            lanes: Vec::new(),
            outside: access::DEFAULT_OUTSIDE.into(),
            utc_offset: time::UtcOffset::UTC,
            zones: Vec::new(),
            access: AccessSetting::default(),
            identification: IdentificationSetting::default(),
            retention: RetentionSetting::default(),
            offsite: OffsiteSetting::default(),
            peers: Vec::new(),
            sync_every: peers::DEFAULT_SYNC_EVERY,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    data_dir: Option<Spanned<String>>,
    #[serde(default)]
    facility: RawFacility,
    #[serde(default)]
    appliance: RawAppliance,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    lane: Vec<Spanned<lanes::RawLane>>,
    #[serde(default)]
    zone: Vec<Spanned<access::RawZone>>,
    #[serde(default)]
    access: access::RawAccess,
    #[serde(default)]
    identification: identification::RawIdentification,
    #[serde(default)]
    retention: retention::RawRetention,
    #[serde(default)]
    offsite: offsite::RawOffsite,
    #[serde(default)]
    peer: Vec<Spanned<peers::RawPeer>>,
    #[serde(default)]
    peers: peers::RawPeers,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFacility {
    id: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    outside: Option<Spanned<String>>,
    utc_offset: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAppliance {
    id: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: Option<Spanned<String>>,
}

/// Whether `s` may name a facility or an appliance (it becomes part of a signed-note key name).
pub fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl Config {
    /// Loads `path`, or the defaults when `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Config::parse(path, &text)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let invalid = |span: std::ops::Range<usize>, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: text[..span.start.min(text.len())].matches('\n').count() + 1,
            reason,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| invalid(e.span().unwrap_or(0..0), e.message().to_owned()))?;
        let mut c = Config::default();
        if let Some(d) = raw.data_dir {
            if d.get_ref().is_empty() {
                return Err(invalid(d.span(), "data_dir must not be empty".into()));
            }
            c.data_dir = PathBuf::from(d.into_inner());
        }
        let id = |v: Option<Spanned<String>>, what: &str| -> Result<Option<String>, ConfigError> {
            match v {
                Some(s) if !valid_id(s.get_ref()) => Err(invalid(
                    s.span(),
                    format!("{what} {:?} must be 1 to 64 letters, digits, '.', '_' or '-'", s.get_ref()),
                )),
                v => Ok(v.map(Spanned::into_inner)),
            }
        };
        c.facility_id = id(raw.facility.id, "facility id")?;
        c.appliance_id = id(raw.appliance.id, "appliance id")?;
        if let Some(n) = raw.facility.name {
            let ok = !n.get_ref().trim().is_empty()
                && n.get_ref().len() <= 200
                && !n.get_ref().chars().any(char::is_control);
            if !ok {
                return Err(invalid(n.span(), "facility name must be 1 to 200 printable characters".into()));
            }
            c.facility_name = n.into_inner();
        }
        if let Some(l) = raw.api.listen {
            c.listen = l.get_ref().parse().map_err(|_| {
                invalid(l.span(), format!("listen {:?} is not an address like 127.0.0.1:8080", l.get_ref()))
            })?;
        }
        let refused = |(span, reason): lanes::Refusal| invalid(span, reason);
        c.outside = access::outside(raw.facility.outside).map_err(refused)?;
        c.utc_offset = access::utc_offset(raw.facility.utc_offset).map_err(refused)?;
        let mut checked = Vec::new();
        let mut zone_spans = Vec::new();
        for lane in raw.lane {
            let span = lane.span();
            zone_spans.push(lane.get_ref().zone_spans());
            let setting = lane.into_inner().validate().map_err(|(span, reason)| invalid(span, reason))?;
            checked.push((span, setting));
        }
        lanes::check_together(&checked).map_err(|(span, reason)| invalid(span, reason))?;
        c.lanes = checked.into_iter().map(|(_, lane)| lane).collect();
        let declared = !raw.zone.is_empty();
        if declared {
            c.zones = access::declared_zones(raw.zone, &c.outside).map_err(refused)?;
            for (lane, spans) in c.lanes.iter().zip(&zone_spans) {
                access::check_lane(lane, spans, &c.zones, &c.outside).map_err(refused)?;
            }
        } else {
            c.zones = access::lane_zones(&c.lanes, &c.outside);
        }
        c.access = raw.access.validate(declared.then_some(c.zones.as_slice()), &c.outside).map_err(refused)?;
        c.identification = raw.identification.validate().map_err(refused)?;
        c.retention = raw.retention.validate().map_err(refused)?;
        c.offsite = raw.offsite.validate().map_err(refused)?;
        c.peers = peers::validate(raw.peer, c.appliance_id.as_deref()).map_err(refused)?;
        c.sync_every = raw.peers.validate().map_err(refused)?;
        Ok(c)
    }

    /// The facility id to create a ledger with: the configured one or the default.
    pub fn facility_id_or_default(&self) -> String {
        self.facility_id.clone().unwrap_or_else(|| DEFAULT_FACILITY_ID.into())
    }

    /// The appliance id to create a ledger with: the configured one, else one derived from the machine id
    /// (stable across reinstalls of the software on the same box).
    pub fn appliance_id_or_default(&self) -> String {
        self.appliance_id.clone().unwrap_or_else(|| {
            let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
            let short: String = machine.trim().chars().filter(char::is_ascii_hexdigit).take(8).collect();
            if short.len() == 8 { format!("appliance-{short}") } else { "appliance".into() }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("tally.toml"), text)
    }

    #[test]
    fn no_file_means_defaults() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./tally-data"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(parse("").unwrap(), c);
    }

    #[test]
    fn a_full_file_is_read() {
        let c = parse(
            "data_dir = \"/var/lib/tally\"\n[facility]\nid = \"makala\"\nname = \"Makala\"\n\
             [appliance]\nid = \"gate-1\"\n[api]\nlisten = \"0.0.0.0:9000\"\n",
        )
        .unwrap();
        assert_eq!(c.facility_id.as_deref(), Some("makala"));
        assert_eq!(c.appliance_id.as_deref(), Some("gate-1"));
        assert_eq!(c.listen.port(), 9000);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_file_line_and_reason() {
        let e = parse("[api]\nlisten = \"127.0.0.1:8080\"\nlisten_port = 3\n").unwrap_err().to_string();
        assert!(e.starts_with("tally.toml:3: unknown field `listen_port`"), "{e}");
        let e = parse("\n[api]\nlisten = \"nowhere\"\n").unwrap_err().to_string();
        assert!(e.starts_with("tally.toml:3: listen \"nowhere\""), "{e}");
        let e = parse("[facility]\nid = \"has space\"\n").unwrap_err().to_string();
        assert!(e.starts_with("tally.toml:2: facility id"), "{e}");
        let e = parse("[api]\nlisten = 8080\n").unwrap_err().to_string();
        assert!(e.starts_with("tally.toml:2: invalid type"), "{e}");
        let e = parse("[nonsense]\n").unwrap_err().to_string();
        assert!(e.starts_with("tally.toml:1: unknown field `nonsense`"), "{e}");
    }

    #[test]
    fn the_identification_rate_is_a_bounded_rate() {
        assert_eq!(parse("").unwrap().identification, IdentificationSetting::default());
        let c = parse("[identification]\nmax_false_identification = 0.0001\n").unwrap();
        assert_eq!(c.identification.max_false_identification, 1e-4);
        for bad in ["0.0", "0.5", "nan", "-0.001"] {
            let e = parse(&format!("[identification]\nmax_false_identification = {bad}\n")).unwrap_err().to_string();
            assert!(e.contains(":2:") && e.contains("must be a rate"), "{bad}: {e}");
        }
        let e = parse("[identification]\nmax_false_identification = \"0.001\"\n").unwrap_err().to_string();
        assert!(e.contains(":2:"), "{e}");
    }

    #[test]
    fn retention_periods_are_days_and_bad_ones_name_their_line() {
        assert_eq!(parse("").unwrap().retention, RetentionSetting::default());
        let c = parse("[retention]\ntemplates_after_release = \"365d\"\nphotos_after_release = \"0d\"\n").unwrap();
        assert_eq!(c.retention.templates_after_release, Some(365));
        assert_eq!(c.retention.photos_after_release, Some(0));
        assert!(c.retention.is_set());
        for (bad, why) in [
            ("\"1y\"", "must be a number of days like \"365d\""),
            ("\"d\"", "must be a number of days"),
            ("\"-3d\"", "must be a number of days"),
            ("\"365\"", "must be a number of days"),
            ("\"36501d\"", "longer than 36500 days"),
            ("365", "invalid type"),
        ] {
            let e = parse(&format!("[retention]\n\ntemplates_after_release = {bad}\n")).unwrap_err().to_string();
            assert!(e.starts_with("tally.toml:3: ") && e.contains(why), "{bad}: {e}");
        }
        let e = parse("[retention]\ntemplates_after = \"3d\"\n").unwrap_err().to_string();
        assert!(e.starts_with("tally.toml:2: unknown field `templates_after`"), "{e}");
    }

    const LANE: &str = "[[lane]]\nid = \"north-in\"\nfrom_zone = \"outside\"\nto_zone = \"reception\"\n\
                        reader = \"usb:1-10\"\nturnstile_port = \"/dev/tally/serial-a\"\nturnstile_address = 1\n\
                        scbk_file = \"/var/lib/tally/keys/osdp-north-in.scbk\"\n";

    #[test]
    fn a_lane_is_read_with_its_defaults() {
        let c = parse(LANE).unwrap();
        let lane = &c.lanes[0];
        assert_eq!(lane.reader, ReaderSetting::Usb("1-10".into()));
        assert_eq!((lane.turnstile_address, lane.turnstile_baud, lane.output, lane.passage_input), (1, 9600, 0, 0));
        assert_eq!(lane.pulse, std::time::Duration::from_secs(3));
        assert_eq!(lane.passage_timeout, std::time::Duration::from_secs(10));
        assert!(!lane.install_mode);
    }

    #[test]
    fn bad_lanes_are_refused_with_line_and_reason() {
        let e = parse(&LANE.replace("usb:1-10", "camera")).unwrap_err().to_string();
        assert!(e.starts_with("tally.toml:5: reader \"camera\""), "{e}");
        let e = parse(&LANE.replace("turnstile_address = 1", "turnstile_address = 200")).unwrap_err().to_string();
        assert!(e.contains("turnstile_address 200 is not within 0–126"), "{e}");
        let e = parse(&LANE.replace("\"reception\"", "\"outside\"")).unwrap_err().to_string();
        assert!(e.contains("to the same zone"), "{e}");
        let e = parse(&LANE.replace("scbk_file = \"/var/lib/tally/keys/osdp-north-in.scbk\"\n", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("secure channel is mandatory"), "{e}");
        let e = parse(&format!("{LANE}pulse_ms = 5\n")).unwrap_err().to_string();
        assert!(e.contains("pulse_ms 5"), "{e}");
        let twice = format!("{LANE}{}", LANE.replace("turnstile_address = 1", "turnstile_address = 2"));
        let e = parse(&twice).unwrap_err().to_string();
        assert!(e.contains("lane id north-in is used twice"), "{e}");
        let same_controller = format!("{LANE}{}", LANE.replace("north-in\"", "north-out\""));
        let e = parse(&same_controller).unwrap_err().to_string();
        assert!(e.contains("both name the controller at address 1"), "{e}");
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("provisioning/tally.toml");
        let c = Config::load(Some(&path)).unwrap();
        assert!(c.facility_id.is_some());
        assert_eq!(c.utc_offset, time::UtcOffset::from_hms(1, 0, 0).unwrap());
        assert!(c.zones.iter().any(|z| z.id == "reception" && z.name == "Reception"));
        assert!(c.access.rules.len() > 1 && c.access.rules != access::default_rules());
        assert_eq!(c.retention, RetentionSetting::default(), "kept until the installer sets the law's figures");
        // The retention lines shown commented out are valid as they stand.
        let text =
            std::fs::read_to_string(&path).unwrap().replace("# templates_after_release", "templates_after_release");
        let text = text.replace("# photos_after_release", "photos_after_release");
        let c = Config::parse(&path, &text).unwrap();
        assert_eq!((c.retention.templates_after_release, c.retention.photos_after_release), (Some(365), Some(365)));
    }
}
