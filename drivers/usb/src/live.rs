//! Real USB through nusb: finding readers, opening them, and watching them come and go.
//!
//! [`NusbTransport`] implements [`UsbTransport`] on a claimed interface, with one nusb endpoint
//! queue per IN endpoint. [`list`] finds attached devices of the ids a driver supports, and
//! [`Hotplug`] reports them arriving and leaving. This is the only file of tally that names nusb
//! types; drivers see only the transport trait and [`UsbDevice`].

use std::collections::HashMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use nusb::MaybeFuture as _;
use nusb::transfer::{Bulk, ControlIn, ControlOut, ControlType, In, Interrupt, Recipient, TransferError};
use tally_device::{DeviceAddress, Presence};

use crate::transport::{Completion, EndpointIn, EndpointKind, Setup, Status, UsbError, UsbTransport};

/// How long a control transfer may take before it is given up.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// An attached USB device, as discovery found it.
#[derive(Debug, Clone)]
pub struct UsbDevice {
    info: nusb::DeviceInfo,
}

impl UsbDevice {
    /// idVendor.
    pub fn vendor(&self) -> u16 {
        self.info.vendor_id()
    }

    /// idProduct.
    pub fn product(&self) -> u16 {
        self.info.product_id()
    }

    /// Where it is plugged in; stable across replugging into the same port.
    pub fn address(&self) -> DeviceAddress {
        address(&self.info)
    }

    /// The device node the kernel gives it.
    pub fn node(&self) -> String {
        format!("/dev/bus/usb/{:03}/{:03}", self.info.busnum(), self.info.device_address())
    }

    /// The product string the device reported at enumeration, if any.
    pub fn product_name(&self) -> Option<&str> {
        self.info.product_string()
    }

    /// Opens the device and claims `interface`, for a driver to use.
    pub fn open(&self, interface: u8) -> Result<NusbTransport, UsbError> {
        let node = self.node();
        let device = self.info.open().wait().map_err(|e| open_error(e, &node))?;
        let interface = device.detach_and_claim_interface(interface).wait().map_err(|e| open_error(e, &node))?;
        Ok(NusbTransport { _device: device, interface, endpoints: HashMap::new() })
    }

    /// Whether this process may open the device node (for `tally devices`).
    pub fn check_access(&self) -> Result<(), UsbError> {
        let node = self.node();
        self.info.open().wait().map(drop).map_err(|e| open_error(e, &node))
    }
}

fn address(info: &nusb::DeviceInfo) -> DeviceAddress {
    let chain: Vec<String> = info.port_chain().iter().map(u8::to_string).collect();
    DeviceAddress::Usb {
        bus: info.busnum(),
        port: format!("{}-{}", info.busnum(), chain.join(".")),
        vendor: info.vendor_id(),
        product: info.product_id(),
    }
}

fn open_error(e: nusb::Error, node: &str) -> UsbError {
    match e.kind() {
        nusb::ErrorKind::PermissionDenied => UsbError::PermissionDenied { path: node.to_string() },
        nusb::ErrorKind::Disconnected => UsbError::Disconnected,
        nusb::ErrorKind::Busy => UsbError::Busy { path: node.to_string() },
        _ => UsbError::Transfer { what: format!("opening {node}"), source: Box::new(e) },
    }
}

/// Attached devices whose vendor and product ids `supported` accepts.
pub fn list(supported: impl Fn(u16, u16) -> bool) -> Result<Vec<UsbDevice>, UsbError> {
    let devices = nusb::list_devices()
        .wait()
        .map_err(|e| UsbError::Transfer { what: "listing USB devices".into(), source: Box::new(e) })?;
    Ok(devices.filter(|d| supported(d.vendor_id(), d.product_id())).map(|info| UsbDevice { info }).collect())
}

/// Readers arriving and leaving, from the kernel's hotplug events.
pub struct Hotplug {
    watch: nusb::hotplug::HotplugWatch,
    supported: Box<dyn Fn(u16, u16) -> bool + Send>,
    known: HashMap<nusb::DeviceId, DeviceAddress>,
}

impl std::fmt::Debug for Hotplug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hotplug").field("known", &self.known).finish_non_exhaustive()
    }
}

/// A supported device arriving, with what it takes to open it.
#[derive(Debug)]
pub enum UsbPresence {
    /// Plugged in.
    Arrived(UsbDevice),
    /// Unplugged.
    Left(DeviceAddress),
}

impl UsbPresence {
    /// The event without the means to open the device.
    pub fn presence(&self) -> Presence {
        match self {
            UsbPresence::Arrived(device) => Presence::Arrived(device.address()),
            UsbPresence::Left(address) => Presence::Left(address.clone()),
        }
    }
}

impl Hotplug {
    /// Starts watching; devices already attached are not reported (use [`list`] first).
    pub fn watch(supported: impl Fn(u16, u16) -> bool + Send + 'static) -> Result<Hotplug, UsbError> {
        let watch = nusb::watch_devices()
            .map_err(|e| UsbError::Transfer { what: "watching USB hotplug".into(), source: Box::new(e) })?;
        let known = list(&supported)?.into_iter().map(|d| (d.info.id(), d.address())).collect();
        Ok(Hotplug { watch, supported: Box::new(supported), known })
    }

    /// The next supported device arriving or leaving.
    pub async fn next(&mut self) -> UsbPresence {
        loop {
            let event = poll_fn(|cx| Pin::new(&mut self.watch).poll_next(cx)).await;
            match event {
                Some(nusb::hotplug::HotplugEvent::Connected(info)) => {
                    if (self.supported)(info.vendor_id(), info.product_id()) {
                        self.known.insert(info.id(), address(&info));
                        return UsbPresence::Arrived(UsbDevice { info });
                    }
                }
                Some(nusb::hotplug::HotplugEvent::Disconnected(id)) => {
                    if let Some(address) = self.known.remove(&id) {
                        return UsbPresence::Left(address);
                    }
                }
                // The watch never ends on its own; should it, wait forever rather than spin.
                None => std::future::pending::<()>().await,
            }
        }
    }
}

/// One IN endpoint's queue of transfers.
enum Queue {
    Interrupt(nusb::Endpoint<Interrupt, In>),
    Bulk(nusb::Endpoint<Bulk, In>),
}

impl Queue {
    fn pending(&self) -> usize {
        match self {
            Queue::Interrupt(ep) => ep.pending(),
            Queue::Bulk(ep) => ep.pending(),
        }
    }

    fn wait(&mut self, timeout: Duration) -> Option<nusb::transfer::Completion> {
        match self {
            Queue::Interrupt(ep) => ep.wait_next_complete(timeout),
            Queue::Bulk(ep) => ep.wait_next_complete(timeout),
        }
    }
}

/// A claimed interface of a real device.
pub struct NusbTransport {
    // Kept so the device stays open as long as the interface is used.
    _device: nusb::Device,
    interface: nusb::Interface,
    endpoints: HashMap<u8, Queue>,
}

impl std::fmt::Debug for NusbTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NusbTransport").field("interface", &self.interface.interface_number()).finish_non_exhaustive()
    }
}

fn transfer_error(e: TransferError, what: impl FnOnce() -> String) -> UsbError {
    match e {
        TransferError::Disconnected => UsbError::Disconnected,
        TransferError::Stall => UsbError::Stall(what()),
        TransferError::Cancelled => UsbError::Timeout(what()),
        other => UsbError::Transfer { what: what(), source: Box::new(other) },
    }
}

fn control_type(setup: &Setup) -> (ControlType, Recipient) {
    let kind = match (setup.request_type >> 5) & 3 {
        0 => ControlType::Standard,
        1 => ControlType::Class,
        _ => ControlType::Vendor,
    };
    let recipient = match setup.request_type & 0x1f {
        0 => Recipient::Device,
        1 => Recipient::Interface,
        2 => Recipient::Endpoint,
        _ => Recipient::Other,
    };
    (kind, recipient)
}

impl NusbTransport {
    fn queue(&mut self, endpoint: EndpointIn) -> Result<&mut Queue, UsbError> {
        if !self.endpoints.contains_key(&endpoint.address) {
            let opened = match endpoint.kind {
                EndpointKind::Interrupt => {
                    self.interface.endpoint::<Interrupt, In>(endpoint.address).map(Queue::Interrupt)
                }
                EndpointKind::Bulk => self.interface.endpoint::<Bulk, In>(endpoint.address).map(Queue::Bulk),
            };
            let queue =
                opened.map_err(|e| UsbError::Transfer { what: format!("opening {endpoint}"), source: Box::new(e) })?;
            self.endpoints.insert(endpoint.address, queue);
        }
        self.endpoints.get_mut(&endpoint.address).ok_or_else(|| UsbError::Misuse(format!("{endpoint} vanished")))
    }
}

fn completion(c: nusb::transfer::Completion) -> Completion {
    let status = match c.status {
        Ok(()) => Status::Ok,
        Err(TransferError::Cancelled) => Status::Cancelled,
        Err(TransferError::Stall) => Status::Stall,
        Err(TransferError::Disconnected) => Status::Disconnected,
        Err(TransferError::Unknown(code)) => Status::Failed(code as i32),
        Err(_) => Status::Failed(-1),
    };
    let mut data = c.buffer.into_vec();
    data.truncate(c.actual_len);
    Completion { data, status }
}

impl UsbTransport for NusbTransport {
    fn control_in(&mut self, setup: Setup) -> Result<Vec<u8>, UsbError> {
        let (control_type, recipient) = control_type(&setup);
        let request = ControlIn {
            control_type,
            recipient,
            request: setup.request,
            value: setup.value,
            index: setup.index,
            length: setup.length,
        };
        self.interface.control_in(request, CONTROL_TIMEOUT).wait().map_err(|e| transfer_error(e, || setup.to_string()))
    }

    fn control_out(&mut self, setup: Setup, data: &[u8]) -> Result<(), UsbError> {
        if usize::from(setup.length) != data.len() {
            return Err(UsbError::Misuse(format!("{setup} given {} bytes", data.len())));
        }
        let (control_type, recipient) = control_type(&setup);
        let request = ControlOut {
            control_type,
            recipient,
            request: setup.request,
            value: setup.value,
            index: setup.index,
            data,
        };
        self.interface.control_out(request, CONTROL_TIMEOUT).wait().map_err(|e| transfer_error(e, || setup.to_string()))
    }

    fn submit_in(&mut self, endpoint: EndpointIn, length: usize) -> Result<(), UsbError> {
        match self.queue(endpoint)? {
            Queue::Interrupt(ep) => {
                let buffer = ep.allocate(length);
                ep.submit(buffer);
            }
            Queue::Bulk(ep) => {
                let buffer = ep.allocate(length);
                ep.submit(buffer);
            }
        }
        Ok(())
    }

    fn poll_in(&mut self, endpoint: EndpointIn) -> Result<Option<Completion>, UsbError> {
        self.wait_in(endpoint, Duration::ZERO)
    }

    fn wait_in(&mut self, endpoint: EndpointIn, timeout: Duration) -> Result<Option<Completion>, UsbError> {
        let queue = self.queue(endpoint)?;
        if queue.pending() == 0 {
            return Err(UsbError::Misuse(format!("wait on {endpoint} with no transfer queued")));
        }
        Ok(queue.wait(timeout).map(completion))
    }

    fn cancel_in(&mut self, endpoint: EndpointIn) -> Result<(), UsbError> {
        let queue = self.queue(endpoint)?;
        match queue {
            Queue::Interrupt(ep) => ep.cancel_all(),
            Queue::Bulk(ep) => ep.cancel_all(),
        }
        while queue.pending() > 0 {
            if queue.wait(CONTROL_TIMEOUT).is_none() {
                return Err(UsbError::Timeout(format!("cancelling {endpoint}")));
            }
        }
        Ok(())
    }

    fn pause(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}
