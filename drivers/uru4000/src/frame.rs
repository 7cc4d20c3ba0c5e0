//! The image frame a U.are.U sends on its bulk endpoint, and turning it into a fingerprint image.
//!
//! A frame is a 64-byte header and rows of 384 bytes. The header gives the number of rows sent
//! (bytes 4–5, little-endian), the number of the scramble key in use (byte 6) and up to 15 blocks of
//! (flags, rows) at bytes 16–45 describing the 290 rows of the image in order: rows scrambled with
//! the key (0x02), rows sent in clear that still advance the key stream (neither 0x02 nor 0x04), rows
//! that do not (0x04), and rows not sent at all (0x01), which repeat the next row sent. A block of 0
//! rows ends the list.
//!
//! The scramble is a 32-bit LFSR keyed with the value read from register 0x34 XOR the seed the
//! driver wrote to register 0x33 (PROTOCOLS.md §1). It hides nothing from anyone who can read the
//! bus, and this module treats it as what it is: an encoding. Then the sensor's negative image is
//! inverted (ridges dark) and, on models that mount the prism the other way, rotated 180°.
//!
//! Pure computation; the USB exchange is in [`crate::driver`].

/// Width of the sensor image in pixels.
pub const WIDTH: usize = 384;
/// Height of the sensor image in rows.
pub const HEIGHT: usize = 290;
/// Header bytes before the first row.
pub const HEADER_LEN: usize = 64;

const BLOCK_NOT_PRESENT: u8 = 0x01;
const BLOCK_ENCRYPTED: u8 = 0x02;
const BLOCK_NO_KEY_UPDATE: u8 = 0x04;

/// Why a frame could not be made into an image.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than its header.
    #[error("the image frame is {0} bytes, shorter than its 64-byte header")]
    NoHeader(usize),
    /// The header announces more rows than the frame holds, or the block list needs more rows
    /// than were sent.
    #[error("the image frame holds {present} rows but its header needs {needed}")]
    MissingRows {
        /// Whole rows in the frame after the header.
        present: usize,
        /// Rows the header or block list needs.
        needed: usize,
    },
    /// The block list does not describe exactly 290 rows.
    #[error("the frame's blocks describe {0} rows, not {HEIGHT}")]
    BadBlocks(usize),
}

/// The parts of the header the driver needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Rows sent after the header.
    pub rows: usize,
    /// Which scramble key the device used.
    pub key_number: u8,
}

/// Reads the header of a frame.
pub fn header(frame: &[u8]) -> Result<Header, FrameError> {
    if frame.len() < HEADER_LEN {
        return Err(FrameError::NoHeader(frame.len()));
    }
    Ok(Header { rows: usize::from(u16::from_le_bytes([frame[4], frame[5]])), key_number: frame[6] })
}

/// One step of the scramble LFSR: the new top bit is the parity of the tapped bits.
fn step(key: u32) -> u32 {
    let feedback = (key & 0x9248_144D).count_ones() & 1;
    (key >> 1) | (feedback << 31)
}

/// The key-stream byte for `key`: bits 4, 8, 11, 14, 18, 21, 24 and 29 as bits 0–7.
fn keystream(key: u32) -> u8 {
    const TAPS: [u32; 8] = [4, 8, 11, 14, 18, 21, 24, 29];
    TAPS.iter().enumerate().fold(0, |byte, (bit, &tap)| byte | (((key >> tap) & 1) as u8) << bit)
}

/// Unscrambles `rows` in place: each byte is the next byte XOR the key stream, the last byte is 0.
/// Returns the key after the block.
fn unscramble(rows: &mut [u8], mut key: u32) -> u32 {
    let Some(last) = rows.len().checked_sub(1) else { return key };
    for i in 0..last {
        rows[i] = rows[i + 1] ^ keystream(key);
        key = step(key);
    }
    rows[last] = 0;
    step(key)
}

/// Turns a frame into the 384×290 image, ridges dark. `key` is the value read from register 0x34
/// XOR the seed written to register 0x33; `rotate` turns the image 180°.
pub fn decode(frame: &[u8], key: u32, rotate: bool) -> Result<Vec<u8>, FrameError> {
    let header = header(frame)?;
    let present = (frame.len() - HEADER_LEN) / WIDTH;
    if header.rows > present {
        return Err(FrameError::MissingRows { present, needed: header.rows });
    }
    let mut rows = frame[HEADER_LEN..HEADER_LEN + header.rows * WIDTH].to_vec();
    let blocks: Vec<(u8, usize)> =
        (0..15).map(|i| (frame[16 + 2 * i], usize::from(frame[17 + 2 * i]))).take_while(|&(_, n)| n > 0).collect();
    let described: usize = blocks.iter().map(|&(_, n)| n).sum();
    if described != HEIGHT {
        return Err(FrameError::BadBlocks(described));
    }
    let sent: usize = blocks.iter().filter(|(f, _)| f & BLOCK_NOT_PRESENT == 0).map(|&(_, n)| n).sum();
    if sent > header.rows {
        return Err(FrameError::MissingRows { present: header.rows, needed: sent });
    }

    // Unscramble the rows sent, in block order; the key stream runs over every block that does
    // not say otherwise, sent or not.
    let (mut key, mut row) = (key, 0);
    for &(flags, n) in &blocks {
        let sent_here = flags & BLOCK_NOT_PRESENT == 0;
        if flags & BLOCK_ENCRYPTED != 0 {
            if sent_here {
                key = unscramble(&mut rows[row * WIDTH..(row + n) * WIDTH], key);
            }
        } else if flags & BLOCK_NO_KEY_UPDATE == 0 {
            for _ in 0..n * WIDTH {
                key = step(key);
            }
        }
        if sent_here {
            row += n;
        }
    }

    // Lay the rows out, repeating the next row sent for each row not sent.
    let mut image = Vec::with_capacity(WIDTH * HEIGHT);
    let mut row = 0;
    for &(flags, n) in &blocks {
        if flags & BLOCK_NOT_PRESENT == 0 {
            image.extend_from_slice(&rows[row * WIDTH..(row + n) * WIDTH]);
            row += n;
        } else {
            let source = row.min(header.rows.saturating_sub(1));
            for _ in 0..n {
                match rows.get(source * WIDTH..(source + 1) * WIDTH) {
                    Some(r) => image.extend_from_slice(r),
                    None => image.extend(std::iter::repeat_n(0, WIDTH)),
                }
            }
        }
    }
    for v in &mut image {
        *v = 255 - *v;
    }
    if rotate {
        image.reverse();
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(blocks: &[(u8, u8)], rows: &[[u8; WIDTH]]) -> Vec<u8> {
        let mut f = vec![0u8; HEADER_LEN];
        f[4..6].copy_from_slice(&(rows.len() as u16).to_le_bytes());
        for (i, &(flags, n)) in blocks.iter().enumerate() {
            f[16 + 2 * i] = flags;
            f[17 + 2 * i] = n;
        }
        for r in rows {
            f.extend_from_slice(r);
        }
        f
    }

    #[test]
    fn the_lfsr_and_key_stream_follow_the_taps() {
        // Parity of key & 0x9248144D: one tapped bit set → 1 enters at the top.
        assert_eq!(step(0x0000_0001), 0x8000_0000);
        assert_eq!(step(0x0000_0002), 0x0000_0001);
        assert_eq!(step(0x0000_0005), 0x0000_0002); // bits 0 and 2 both tapped: parity 0
        assert_eq!(keystream(1 << 4), 0x01);
        assert_eq!(keystream(1 << 29), 0x80);
        assert_eq!(keystream(0xFFFF_FFFF), 0xFF);
        assert_eq!(
            keystream(!((1 << 4) | (1 << 8) | (1 << 11) | (1 << 14) | (1 << 18) | (1 << 21) | (1 << 24) | (1 << 29))),
            0
        );
    }

    #[test]
    fn clear_rows_are_inverted_and_a_missing_row_repeats_the_next() {
        let rows: Vec<[u8; WIDTH]> = (0..289).map(|r| [r as u8; WIDTH]).collect();
        let f = frame(&[(0x04, 100), (0x01, 1), (0x04, 189)], &rows);
        let image = decode(&f, 0, false).unwrap();
        assert_eq!(image.len(), WIDTH * HEIGHT);
        assert_eq!(image[0], 255);
        assert_eq!(image[99 * WIDTH], 255 - 99);
        assert_eq!(image[100 * WIDTH], 255 - 100); // the repeated row is the next one sent
        assert_eq!(image[101 * WIDTH], 255 - 100);
        assert_eq!(image[289 * WIDTH], 255 - (288u32 as u8));
        let rotated = decode(&f, 0, true).unwrap();
        assert_eq!(rotated[0], image[image.len() - 1]);
    }

    /// Scrambles one block as the device does: each byte moves one place later, XORed with the
    /// key stream; the block's first byte on the wire carries nothing.
    fn scramble(clear: &[u8], mut key: u32) -> (Vec<u8>, u32) {
        let mut wire = vec![0u8; clear.len()];
        for i in 0..clear.len() - 1 {
            wire[i + 1] = clear[i] ^ keystream(key);
            key = step(key);
        }
        (wire, step(key))
    }

    #[test]
    fn scrambled_blocks_unscramble_and_the_key_runs_across_blocks() {
        let key = 0x51EA_2124 ^ 0x05AE_28F2;
        let clear: Vec<u8> = (0..HEIGHT * WIDTH).map(|i| (i * 7 % 251) as u8).collect();
        let split = 250 * WIDTH;
        let (mut wire, k) = scramble(&clear[..split], key);
        // A clear block of one row between them advances the key stream by its length.
        let clear_row = &clear[split..split + WIDTH];
        let k = (0..WIDTH).fold(k, |k, _| step(k));
        let (rest, _) = scramble(&clear[split + WIDTH..], k);
        wire.extend_from_slice(clear_row);
        wire.extend_from_slice(&rest);
        let rows: Vec<[u8; WIDTH]> = wire.chunks(WIDTH).map(|c| c.try_into().unwrap()).collect();
        let image = decode(&frame(&[(0x02, 250), (0x00, 1), (0x02, 39)], &rows), key, false).unwrap();
        let mut expected: Vec<u8> = clear.iter().map(|v| 255 - v).collect();
        // Each scrambled block's last byte does not survive: it comes out 0, inverted 255.
        expected[split - 1] = 255;
        expected[HEIGHT * WIDTH - 1] = 255;
        assert_eq!(image, expected);
    }

    #[test]
    fn bad_frames_are_refused() {
        assert_eq!(decode(&[0; 10], 0, false), Err(FrameError::NoHeader(10)));
        let rows: Vec<[u8; WIDTH]> = vec![[0; WIDTH]; 10];
        assert!(matches!(decode(&frame(&[(0x04, 10)], &rows), 0, false), Err(FrameError::BadBlocks(10))));
        let mut f = frame(&[(0x04, 200), (0x04, 90)], &rows);
        assert!(matches!(decode(&f, 0, false), Err(FrameError::MissingRows { .. })));
        f[4] = 200; // header claims more rows than sent
        assert!(matches!(decode(&f, 0, false), Err(FrameError::MissingRows { .. })));
    }
}
