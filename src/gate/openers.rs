//! Openers for the readers a lane can be configured with: a U.are.U on a given USB port, found by
//! its port path so a replacement plugged into the same port is taken up without configuration; and
//! a GROW/ZhianTec module on a serial path (udev's stable `/dev/tally/serial-<port>` name, so an
//! adapter that disappears and comes back is found again under the same name).

use tally_device::{DeviceAddress, Reader, ReaderError};

use super::reader::{Nudger, Opener};

/// Watches USB hotplug and nudges the supervisor of the lane whose port a supported reader arrives
/// on, so it is reopened at once rather than at the next retry. Runs until the watch fails.
pub async fn nudge_on_usb_arrival(lanes: Vec<(String, Nudger)>) -> Result<(), ReaderError> {
    let mut hotplug = tally_usb::Hotplug::watch(tally_uru4000::supported).map_err(ReaderError::from)?;
    loop {
        let event = hotplug.next().await;
        tracing::info!(event = ?event.presence(), "USB reader hotplug");
        if let tally_usb::UsbPresence::Arrived(device) = event
            && let DeviceAddress::Usb { port, .. } = device.address()
        {
            lanes.iter().filter(|(p, _)| *p == port).for_each(|(_, n)| n.nudge());
        }
    }
}

/// The U.are.U-family reader plugged into one USB port ("1-10", "1-2.3": bus, then the port chain).
#[derive(Debug, Clone)]
pub struct UsbPortOpener {
    /// The port path, as `tally devices` prints it.
    pub port: String,
}

impl Opener for UsbPortOpener {
    fn describe(&self) -> String {
        format!("USB reader on port {}", self.port)
    }

    fn open(&mut self) -> Result<Box<dyn Reader>, ReaderError> {
        let devices = tally_usb::list(tally_uru4000::supported).map_err(ReaderError::from)?;
        let device = devices
            .into_iter()
            .find(|d| matches!(d.address(), DeviceAddress::Usb { ref port, .. } if *port == self.port))
            .ok_or(ReaderError::Disconnected)?;
        let model = tally_uru4000::find(device.vendor(), device.product()).ok_or(ReaderError::Disconnected)?;
        let transport = device.open(0).map_err(ReaderError::from)?;
        let reader = tally_uru4000::Uru4000::open(transport, model, device.address(), tally_uru4000::varying_seed())?;
        Ok(Box::new(reader))
    }
}

/// The GROW/ZhianTec module on one serial port.
#[derive(Debug, Clone)]
pub struct SerialModuleOpener {
    /// Port, password and timing of the module.
    pub config: tally_grow::Config,
}

impl Opener for SerialModuleOpener {
    fn describe(&self) -> String {
        format!("serial fingerprint module on {}", self.config.path)
    }

    fn open(&mut self) -> Result<Box<dyn Reader>, ReaderError> {
        Ok(Box::new(tally_grow::Module::open(self.config.clone())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_with_no_reader_is_reported_as_disconnected() {
        let mut opener = UsbPortOpener { port: "9-9.9.9".into() };
        match opener.open() {
            Err(ReaderError::Disconnected) => {}
            // Machines without usbfs (some containers) cannot list at all; that is reported too.
            Err(ReaderError::Transport { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a reader on a port that has none"),
        }
    }
}
