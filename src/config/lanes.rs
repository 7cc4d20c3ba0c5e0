//! The lanes of the configuration: for each turnstile, its zones, its reader, its controller and its
//! timing, checked before anything runs.
//!
//! ```toml
//! [[lane]]
//! id = "north-in"                 # as entries and screens name it
//! from_zone = "outside"           # the zone a person leaves…
//! to_zone = "reception"           # …and the zone they enter
//! reader = "usb:1-10"             # "usb:<port>", "serial:<path>" (GROW module) or "simulated"
//! turnstile_port = "/dev/tally/serial-pci-0000_00_14_0-usb-0_3_1_0"
//! turnstile_address = 1           # OSDP address, 0–126
//! turnstile_baud = 9600
//! scbk_file = "/var/lib/tally/keys/osdp-north-in.scbk"   # the PD's secure channel key (hex)
//! output = 0                      # controller output that frees the turnstile
//! pulse_ms = 3000                 # how long it is freed
//! passage_input = 0               # controller input of the passage sensor
//! passage_timeout_s = 10          # how long a passage is waited for
//! ```
//! The secure channel is mandatory: a lane without `scbk_file` is refused unless
//! `turnstile_install_mode = true`, which uses the published install key until provisioning sets one.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::valid_id;

/// Where a lane's fingerprint reader is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderSetting {
    /// A U.are.U-family reader on this USB port path ("1-10", "1-2.3").
    Usb(String),
    /// A GROW/ZhianTec module on this serial path.
    Serial(String),
    /// No hardware: images come from the demo or a test.
    Simulated,
}

/// One lane, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSetting {
    /// Lane id.
    pub id: String,
    /// Zone left.
    pub from_zone: String,
    /// Zone entered.
    pub to_zone: String,
    /// The reader.
    pub reader: ReaderSetting,
    /// The controller's serial port (RS-485 adapter).
    pub turnstile_port: String,
    /// The controller's OSDP address.
    pub turnstile_address: u8,
    /// The bus speed.
    pub turnstile_baud: u32,
    /// Where the controller's secure channel key is; `None` only in install mode.
    pub scbk_file: Option<PathBuf>,
    /// Install mode: the published install key (SCBK-D), until provisioning sets a real one.
    pub install_mode: bool,
    /// Output that frees the turnstile.
    pub output: u8,
    /// How long it is freed.
    pub pulse: Duration,
    /// Input of the passage sensor.
    pub passage_input: u8,
    /// How long a passage is waited for.
    pub passage_timeout: Duration,
}

/// OSDP bus speeds a controller may be set to.
pub const BAUD_RATES: [u32; 6] = [9600, 19_200, 38_400, 57_600, 115_200, 230_400];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLane {
    id: Spanned<String>,
    from_zone: Spanned<String>,
    to_zone: Spanned<String>,
    reader: Spanned<String>,
    turnstile_port: Spanned<String>,
    turnstile_address: Spanned<i64>,
    turnstile_baud: Option<Spanned<i64>>,
    scbk_file: Option<Spanned<String>>,
    #[serde(default)]
    turnstile_install_mode: bool,
    output: Option<Spanned<i64>>,
    pulse_ms: Option<Spanned<i64>>,
    passage_input: Option<Spanned<i64>>,
    passage_timeout_s: Option<Spanned<i64>>,
}

/// A refused lane: the span of the offending value and why.
pub(super) type Refusal = (std::ops::Range<usize>, String);

fn in_range(
    v: Option<Spanned<i64>>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
) -> Result<i64, Refusal> {
    match v {
        None => Ok(default),
        Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref()),
        Some(v) => Err((v.span(), format!("{what} {} is not within {}–{}", v.get_ref(), range.start(), range.end()))),
    }
}

/// Checks an id (lane, zone): what [`valid_id`] accepts.
pub(super) fn id(v: Spanned<String>, what: &str) -> Result<String, Refusal> {
    if valid_id(v.get_ref()) {
        Ok(v.into_inner())
    } else {
        Err((v.span(), format!("{what} {:?} must be 1 to 64 letters, digits, '.', '_' or '-'", v.get_ref())))
    }
}

impl RawLane {
    /// The spans of `from_zone` and `to_zone`, for refusals made once the zones are known.
    pub(super) fn zone_spans(&self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        (self.from_zone.span(), self.to_zone.span())
    }

    pub(super) fn validate(self) -> Result<LaneSetting, Refusal> {
        let lane = id(self.id, "lane id")?;
        let to_span = self.to_zone.span();
        let (from_zone, to_zone) = (id(self.from_zone, "from_zone")?, id(self.to_zone, "to_zone")?);
        if from_zone == to_zone {
            return Err((to_span, format!("lane {lane} leads from {from_zone} to the same zone")));
        }
        let reader = match self.reader.get_ref().split_once(':') {
            _ if self.reader.get_ref() == "simulated" => ReaderSetting::Simulated,
            Some(("usb", port)) if !port.is_empty() => ReaderSetting::Usb(port.to_string()),
            Some(("serial", path)) if path.starts_with('/') => ReaderSetting::Serial(path.to_string()),
            _ => {
                return Err((
                    self.reader.span(),
                    format!(
                        "reader {:?} is none of \"usb:<port>\" (as `tally devices` prints it), \"serial:/dev/…\" or \"simulated\"",
                        self.reader.get_ref()
                    ),
                ));
            }
        };
        if !self.turnstile_port.get_ref().starts_with('/') {
            return Err((
                self.turnstile_port.span(),
                "turnstile_port must be a device path like /dev/tally/serial-…".into(),
            ));
        }
        let address = in_range(Some(self.turnstile_address), 0, 0..=0x7E, "turnstile_address")? as u8;
        let baud = match self.turnstile_baud {
            None => 9600,
            Some(b) if BAUD_RATES.contains(&(*b.get_ref() as u32)) && *b.get_ref() > 0 => *b.get_ref() as u32,
            Some(b) => return Err((b.span(), format!("turnstile_baud {} is not one of {BAUD_RATES:?}", b.get_ref()))),
        };
        let scbk_file = self.scbk_file.map(|f| PathBuf::from(f.into_inner()));
        if scbk_file.is_none() && !self.turnstile_install_mode {
            return Err((
                to_span,
                format!(
                    "lane {lane} has no scbk_file: the OSDP secure channel is mandatory (set turnstile_install_mode = true \
                     only while provisioning a new controller)"
                ),
            ));
        }
        Ok(LaneSetting {
            id: lane,
            from_zone,
            to_zone,
            reader,
            turnstile_port: self.turnstile_port.into_inner(),
            turnstile_address: address,
            turnstile_baud: baud,
            scbk_file,
            install_mode: self.turnstile_install_mode,
            output: in_range(self.output, 0, 0..=255, "output")? as u8,
            pulse: Duration::from_millis(in_range(self.pulse_ms, 3000, 200..=30_000, "pulse_ms")? as u64),
            passage_input: in_range(self.passage_input, 0, 0..=255, "passage_input")? as u8,
            passage_timeout: Duration::from_secs(
                in_range(self.passage_timeout_s, 10, 1..=300, "passage_timeout_s")? as u64
            ),
        })
    }
}

/// Checks what no single lane can: unique ids, one lane per controller.
pub(super) fn check_together(lanes: &[(std::ops::Range<usize>, LaneSetting)]) -> Result<(), Refusal> {
    for (k, (span, lane)) in lanes.iter().enumerate() {
        for (_, other) in &lanes[..k] {
            if other.id == lane.id {
                return Err((span.clone(), format!("lane id {} is used twice", lane.id)));
            }
            if other.turnstile_port == lane.turnstile_port && other.turnstile_address == lane.turnstile_address {
                return Err((
                    span.clone(),
                    format!(
                        "lanes {} and {} both name the controller at address {} on {}",
                        other.id, lane.id, lane.turnstile_address, lane.turnstile_port
                    ),
                ));
            }
            if other.turnstile_port == lane.turnstile_port && other.turnstile_baud != lane.turnstile_baud {
                return Err((span.clone(), format!("lanes on {} disagree on the bus speed", lane.turnstile_port)));
            }
        }
    }
    Ok(())
}
