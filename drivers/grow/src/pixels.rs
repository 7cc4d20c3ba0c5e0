//! The module's image format: 256×288 pixels at 4 bits each, two to a byte, high nibble first.
//!
//! [`unpack`] turns the bytes UpImage sends into 8-bit grey (each 4-bit value v becomes v × 17, so
//! 0 stays black and 15 becomes 255); [`pack`] does the reverse for the emulator, keeping each
//! pixel's top four bits. This module owns the pixel layout only, not the transfer in packets.

/// Pixels per row.
pub const WIDTH: usize = 256;

/// Rows.
pub const HEIGHT: usize = 288;

/// Resolution of the sensors in this family.
pub const DPI: u16 = 500;

/// Bytes of one image on the wire (two pixels a byte).
pub const PACKED_LEN: usize = WIDTH * HEIGHT / 2;

/// An 8-bit pixel as the host sees it after the trip through 4 bits.
pub fn quantise(value: u8) -> u8 {
    (value >> 4) * 17
}

/// Packs 8-bit pixels into 4-bit pairs, high nibble first (an odd last pixel gets a zero partner).
pub fn pack(pixels: &[u8]) -> Vec<u8> {
    pixels
        .chunks(2)
        .map(|pair| {
            let high = pair[0] >> 4;
            let low = pair.get(1).map_or(0, |v| v >> 4);
            (high << 4) | low
        })
        .collect()
}

/// Unpacks 4-bit pairs, high nibble first, into 8-bit pixels.
pub fn unpack(packed: &[u8]) -> Vec<u8> {
    packed.iter().flat_map(|&b| [(b >> 4) * 17, (b & 0x0F) * 17]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_nibble_comes_first_and_expands_by_17() {
        assert_eq!(unpack(&[0x0F, 0xA5]), vec![0, 255, 170, 85]);
        assert_eq!(pack(&[0x00, 0xFF, 0xAB, 0x5C]), vec![0x0F, 0xA5]);
    }

    #[test]
    fn a_round_trip_quantises() {
        let pixels: Vec<u8> = (0..=255).collect();
        let expected: Vec<u8> = pixels.iter().map(|&v| quantise(v)).collect();
        assert_eq!(unpack(&pack(&pixels)), expected);
    }
}
