//! umockdev device files (`umockdev-record` output): which USB device a recording is of.
//!
//! The file lists sysfs devices, the recorded device first, each as lines `P: path`, `N: node=hex`,
//! `E: KEY=value`, `A: attribute=value`, `H: attribute=hex`, `L: link=target`, separated by blank
//! lines. From the first device we take the raw descriptors (`H: descriptors=`) — the device
//! descriptor gives vendor and product — and the bus and device numbers (`E: BUSNUM`, `E: DEVNUM`)
//! that pick its records out of a usbmon capture.

/// The recorded device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFile {
    /// The sysfs path of the device.
    pub sysfs_path: String,
    /// idVendor from the device descriptor.
    pub vendor: u16,
    /// idProduct from the device descriptor.
    pub product: u16,
    /// Bus number.
    pub bus: u16,
    /// Device number on the bus.
    pub device: u8,
    /// The raw descriptors (device, then configuration with its interfaces and endpoints).
    pub descriptors: Vec<u8>,
}

/// Why a device file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceFileError {
    /// No `P:` line: not a umockdev file.
    #[error("not a umockdev device file (no `P:` line)")]
    NotUmockdev,
    /// A field the replay needs is missing or unreadable.
    #[error("the first device in the file has no usable {0}")]
    Missing(&'static str),
}

/// Reads the first (recorded) device of a umockdev device file.
pub fn parse(text: &str) -> Result<DeviceFile, DeviceFileError> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("P: "));
    let sysfs_path = lines.next().ok_or(DeviceFileError::NotUmockdev)?[3..].trim().to_string();
    let mut descriptors = None;
    let (mut bus, mut device) = (None, None);
    for line in lines.take_while(|l| !l.trim().is_empty()) {
        if let Some(hex) = line.strip_prefix("H: descriptors=") {
            descriptors = decode_hex(hex.trim());
        } else if let Some(v) = line.strip_prefix("E: BUSNUM=") {
            bus = v.trim().parse::<u16>().ok();
        } else if let Some(v) = line.strip_prefix("E: DEVNUM=") {
            device = v.trim().parse::<u8>().ok();
        }
    }
    let descriptors = descriptors.ok_or(DeviceFileError::Missing("descriptors (H: descriptors=)"))?;
    // Device descriptor: bLength 18, bDescriptorType 1, idVendor at 8, idProduct at 10.
    if descriptors.len() < 18 || descriptors[0] != 18 || descriptors[1] != 1 {
        return Err(DeviceFileError::Missing("device descriptor"));
    }
    Ok(DeviceFile {
        sysfs_path,
        vendor: u16::from_le_bytes([descriptors[8], descriptors[9]]),
        product: u16::from_le_bytes([descriptors[10], descriptors[11]]),
        bus: bus.ok_or(DeviceFileError::Missing("bus number (E: BUSNUM=)"))?,
        device: device.ok_or(DeviceFileError::Missing("device number (E: DEVNUM=)"))?,
        descriptors,
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_recorded_device() {
        let text = "P: /devices/pci0000:00/usb1/1-10\n\
                    N: bus/usb/001/047=12010002\n\
                    E: BUSNUM=001\nE: DEVNUM=047\n\
                    H: descriptors=12010002000000405E04CA000001010203010902200001010080\n\
                    \n\
                    P: /devices/pci0000:00/usb1\nE: BUSNUM=001\nE: DEVNUM=001\n";
        let device = parse(text).unwrap();
        assert_eq!((device.vendor, device.product, device.bus, device.device), (0x045e, 0x00ca, 1, 47));
        assert_eq!(device.sysfs_path, "/devices/pci0000:00/usb1/1-10");
    }

    #[test]
    fn refuses_files_without_what_replay_needs() {
        assert_eq!(parse("hello"), Err(DeviceFileError::NotUmockdev));
        let err = parse("P: /x\nE: BUSNUM=1\nE: DEVNUM=2\n").unwrap_err();
        assert!(err.to_string().contains("descriptors"), "{err}");
        let err = parse("P: /x\nH: descriptors=12010002000000405E04CA00000101020301\nE: BUSNUM=1\n").unwrap_err();
        assert!(err.to_string().contains("device number"), "{err}");
        assert!(parse("P: /x\nH: descriptors=zz\n").is_err());
    }
}
