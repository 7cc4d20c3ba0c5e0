//! The devices this driver serves, by USB vendor and product id.

/// One supported device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// USB vendor id.
    pub vendor: u16,
    /// USB product id.
    pub product: u16,
    /// What installers and guards call it.
    pub name: &'static str,
    /// Whether it asks for the AES challenge-response at power-up (the Microsoft v2).
    pub challenge: bool,
    /// Whether its image comes upside down and must be turned 180°.
    pub rotate: bool,
}

/// Every device the driver supports. The udev rules (udev/70-tally.rules) must list exactly these
/// ids; a test checks it.
pub const MODELS: &[Model] = &[
    Model { vendor: 0x05ba, product: 0x0007, name: "DigitalPersona U.are.U 4000", challenge: false, rotate: false },
    Model { vendor: 0x05ba, product: 0x0008, name: "DigitalPersona U.are.U 4000", challenge: false, rotate: false },
    Model {
        vendor: 0x05ba,
        product: 0x000a,
        name: "DigitalPersona U.are.U 4000B / 4500",
        challenge: false,
        rotate: true,
    },
    Model {
        vendor: 0x045e,
        product: 0x00bb,
        name: "Microsoft Keyboard with Fingerprint Reader",
        challenge: false,
        rotate: false,
    },
    Model {
        vendor: 0x045e,
        product: 0x00bc,
        name: "Microsoft Wireless IntelliMouse with Fingerprint Reader",
        challenge: false,
        rotate: false,
    },
    Model { vendor: 0x045e, product: 0x00bd, name: "Microsoft Fingerprint Reader", challenge: false, rotate: false },
    Model { vendor: 0x045e, product: 0x00ca, name: "Microsoft Fingerprint Reader v2", challenge: true, rotate: false },
];

/// The model with these ids, if the driver supports it.
pub fn find(vendor: u16, product: u16) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.vendor == vendor && m.product == product)
}

/// Whether the driver supports these ids (for discovery and hotplug filters).
pub fn supported(vendor: u16, product: u16) -> bool {
    find(vendor, product).is_some()
}

/// The seed a recorded session wrote with its first key index (register 0x33), so a replay can
/// inject the same one; `None` if the recording never got that far.
pub fn recorded_seed(records: &[tally_usb::usbmon::Record]) -> Option<u32> {
    records.iter().find_map(|r| {
        let setup = r.setup?;
        let is_key_index = r.event == tally_usb::usbmon::Event::Submit && setup[..4] == [0x40, 0x04, 0x33, 0x00];
        (is_key_index && r.data.len() == 5).then(|| u32::from_le_bytes([r.data[1], r.data[2], r.data[3], r.data[4]]))
    })
}
