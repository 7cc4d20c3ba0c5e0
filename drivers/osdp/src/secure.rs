//! The OSDP secure channel: keys, the handshake's cryptograms, and MAC + encryption of each frame
//! after it.
//!
//! Session keys S-ENC, S-MAC1 and S-MAC2 are AES-128(SCBK, `01 82` / `01 01` / `01 02` ‖
//! RND.A[0..6] ‖ zeros). The client cryptogram is AES(S-ENC, RND.A ‖ RND.B), the server cryptogram
//! AES(S-ENC, RND.B ‖ RND.A), and RMAC_I = AES(S-MAC2, AES(S-MAC1, server cryptogram)). A frame's
//! MAC is a CBC-MAC over SOM … data (padded with 0x80 then zeros when not a whole number of
//! blocks), S-MAC1 for all blocks but the last and S-MAC2 for the last, starting from the other
//! side's last MAC (RMAC_I for the first command); four bytes go on the wire. Data of SCS_17/18
//! frames is AES-CBC with S-ENC, IV = the complement of the other side's last MAC, always padded
//! with 0x80 then zeros. These rules were checked against libosdp 3.2.9 over the wire (see the
//! capture in the tests).
//!
//! AES-128 is RustCrypto's `aes` block cipher; CBC and CBC-MAC are the few lines here, because the
//! MAC changes keys on its last block. This module does not own the handshake's order or timing
//! (`acu`, `pd`) nor where RND.A comes from (the ACU's injected RNG).
//!
//! No type here prints key material: `Debug` is written by hand.

use std::fmt;

use aes::Aes128;
use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

use crate::frame::{Frame, FrameError, SecurityBlock};

/// A secure-channel failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecureError {
    /// The client cryptogram in CCRYPT does not match our key: the PD holds another SCBK.
    #[error("the PD's cryptogram does not match the configured key (wrong SCBK?)")]
    ClientCryptogram,
    /// The server cryptogram in SCRYPT does not match: the ACU holds another SCBK.
    #[error("the ACU's cryptogram does not match the configured key (wrong SCBK?)")]
    ServerCryptogram,
    /// RMAC_I does not match what the key gives.
    #[error("the PD's initial reply MAC does not match")]
    InitialRmac,
    /// A frame's MAC does not match.
    #[error("bad MAC on a secure-channel frame")]
    Mac,
    /// A frame that should be secured arrived without a MAC.
    #[error("a frame without a MAC arrived on the secure channel")]
    Unsecured,
    /// Encrypted data is not a whole number of blocks or its padding is wrong.
    #[error("encrypted data is malformed")]
    Padding,
    /// A hex key string is not 32 hex digits.
    #[error("a key must be 32 hex digits")]
    KeyFormat,
    /// The frame could not be encoded for MACing.
    #[error("cannot encode the frame")]
    Frame(#[source] FrameError),
}

/// A 128-bit AES key (an SCBK). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 16]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// The install-mode default key SCBK-D: bytes 0x30 … 0x3F.
    pub const SCBK_D: Key =
        Key([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F]);

    /// A key from its bytes.
    pub fn new(bytes: [u8; 16]) -> Key {
        Key(bytes)
    }

    /// A key from 32 hex digits (as configuration holds it).
    pub fn from_hex(text: &str) -> Result<Key, SecureError> {
        let text = text.trim();
        if text.len() != 32 || !text.is_ascii() {
            return Err(SecureError::KeyFormat);
        }
        let mut bytes = [0; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| SecureError::KeyFormat)?;
        }
        Ok(Key(bytes))
    }

    /// The key's bytes, for KEYSET only.
    pub(crate) fn expose(&self) -> &[u8; 16] {
        &self.0
    }
}

type Block = [u8; 16];

fn encrypt(key: &Block, block: &Block) -> Block {
    let mut out = Array::from(*block);
    Aes128::new(&Array::from(*key)).encrypt_block(&mut out);
    out.into()
}

fn xor(a: &Block, b: &Block) -> Block {
    std::array::from_fn(|i| a[i] ^ b[i])
}

fn complement(block: &Block) -> Block {
    std::array::from_fn(|i| !block[i])
}

/// The session keys of one secure channel. Never printed.
#[derive(Clone)]
pub struct SessionKeys {
    enc: Block,
    mac1: Block,
    mac2: Block,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    /// Derives S-ENC, S-MAC1 and S-MAC2 from the SCBK and RND.A.
    pub fn derive(scbk: &Key, rnd_a: &[u8; 8]) -> SessionKeys {
        let derive = |a: u8, b: u8| {
            let mut block = [0; 16];
            block[0] = a;
            block[1] = b;
            block[2..8].copy_from_slice(&rnd_a[..6]);
            encrypt(&scbk.0, &block)
        };
        SessionKeys { enc: derive(0x01, 0x82), mac1: derive(0x01, 0x01), mac2: derive(0x01, 0x02) }
    }

    /// AES(S-ENC, RND.A ‖ RND.B): what the PD proves it holds the key with.
    pub fn client_cryptogram(&self, rnd_a: &[u8; 8], rnd_b: &[u8; 8]) -> Block {
        encrypt(&self.enc, &concat(rnd_a, rnd_b))
    }

    /// AES(S-ENC, RND.B ‖ RND.A): what the ACU proves it holds the key with.
    pub fn server_cryptogram(&self, rnd_a: &[u8; 8], rnd_b: &[u8; 8]) -> Block {
        encrypt(&self.enc, &concat(rnd_b, rnd_a))
    }

    /// RMAC_I = AES(S-MAC2, AES(S-MAC1, server cryptogram)).
    pub fn initial_rmac(&self, server_cryptogram: &Block) -> Block {
        encrypt(&self.mac2, &encrypt(&self.mac1, server_cryptogram))
    }

    /// CBC-MAC of `bytes` starting from `iv`.
    fn mac(&self, iv: &Block, bytes: &[u8]) -> Block {
        let mut padded = bytes.to_vec();
        if !padded.len().is_multiple_of(16) || padded.is_empty() {
            padded.push(0x80);
            padded.resize(padded.len().div_ceil(16) * 16, 0);
        }
        let blocks = padded.len() / 16;
        let mut chain = *iv;
        for (i, chunk) in padded.chunks_exact(16).enumerate() {
            let key = if i + 1 == blocks { &self.mac2 } else { &self.mac1 };
            let mut block = [0; 16];
            block.copy_from_slice(chunk);
            chain = encrypt(key, &xor(&chain, &block));
        }
        chain
    }

    fn encrypt_data(&self, iv: &Block, data: &[u8]) -> Vec<u8> {
        let mut padded = data.to_vec();
        padded.push(0x80);
        padded.resize(padded.len().div_ceil(16) * 16, 0);
        let cipher = Aes128::new(&Array::from(self.enc));
        let mut chain = *iv;
        let mut out = Vec::with_capacity(padded.len());
        for chunk in padded.chunks_exact(16) {
            let mut block = Array::from(xor(&chain, &chunk.try_into().unwrap_or([0; 16])));
            cipher.encrypt_block(&mut block);
            chain = block.into();
            out.extend_from_slice(&chain);
        }
        out
    }

    fn decrypt_data(&self, iv: &Block, data: &[u8]) -> Result<Vec<u8>, SecureError> {
        if data.is_empty() || !data.len().is_multiple_of(16) {
            return Err(SecureError::Padding);
        }
        let cipher = Aes128::new(&Array::from(self.enc));
        let mut chain = *iv;
        let mut out = Vec::with_capacity(data.len());
        for chunk in data.chunks_exact(16) {
            let cipher_block: Block = chunk.try_into().map_err(|_| SecureError::Padding)?;
            let mut block = Array::from(cipher_block);
            cipher.decrypt_block(&mut block);
            out.extend_from_slice(&xor(&block.into(), &chain));
            chain = cipher_block;
        }
        let end = out.iter().rposition(|&b| b != 0).ok_or(SecureError::Padding)?;
        if out[end] != 0x80 {
            return Err(SecureError::Padding);
        }
        out.truncate(end);
        Ok(out)
    }
}

fn concat(a: &[u8; 8], b: &[u8; 8]) -> Block {
    let mut block = [0; 16];
    block[..8].copy_from_slice(a);
    block[8..].copy_from_slice(b);
    block
}

/// Which way a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// ACU → PD.
    Command,
    /// PD → ACU.
    Reply,
}

/// One established secure channel, as either side holds it: the keys and the last MAC each way.
#[derive(Clone)]
pub struct Session {
    keys: SessionKeys,
    /// The last command MAC (C-MAC), in full.
    c_mac: Block,
    /// The last reply MAC (R-MAC), in full; RMAC_I at first.
    r_mac: Block,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session(..)")
    }
}

impl Session {
    /// A channel whose handshake ended with `rmac_i`.
    pub fn new(keys: SessionKeys, rmac_i: Block) -> Session {
        Session { keys, c_mac: [0; 16], r_mac: rmac_i }
    }

    fn ivs(&self, direction: Direction) -> Block {
        match direction {
            Direction::Command => self.r_mac,
            Direction::Reply => self.c_mac,
        }
    }

    fn remember(&mut self, direction: Direction, mac: Block) {
        match direction {
            Direction::Command => self.c_mac = mac,
            Direction::Reply => self.r_mac = mac,
        }
    }

    /// Secures a clear frame going `direction`: SCS_15/16 when it has no data, SCS_17/18 with its
    /// data encrypted otherwise; then sets its MAC.
    pub fn seal(&mut self, frame: &mut Frame, direction: Direction) -> Result<(), SecureError> {
        let iv = self.ivs(direction);
        let (plain, encrypted) = match direction {
            Direction::Command => (0x15, 0x17),
            Direction::Reply => (0x16, 0x18),
        };
        let kind = if frame.data.is_empty() {
            plain
        } else {
            frame.data = self.keys.encrypt_data(&complement(&iv), &frame.data);
            encrypted
        };
        frame.security = Some(SecurityBlock { kind, data: vec![] });
        let mac = self.keys.mac(&iv, &frame.mac_input().map_err(SecureError::Frame)?);
        frame.mac = Some([mac[0], mac[1], mac[2], mac[3]]);
        self.remember(direction, mac);
        Ok(())
    }

    /// Checks a secured frame's MAC and returns its clear data.
    pub fn open(&mut self, frame: &Frame, direction: Direction) -> Result<Vec<u8>, SecureError> {
        let (Some(block), Some(found)) = (&frame.security, frame.mac) else { return Err(SecureError::Unsecured) };
        let iv = self.ivs(direction);
        let mac = self.keys.mac(&iv, &frame.mac_input().map_err(SecureError::Frame)?);
        if mac[..4] != found {
            return Err(SecureError::Mac);
        }
        self.remember(direction, mac);
        match block.kind {
            0x15 | 0x16 => Ok(frame.data.clone()),
            0x17 | 0x18 if frame.data.is_empty() => Ok(vec![]),
            0x17 | 0x18 => self.keys.decrypt_data(&complement(&iv), &frame.data),
            _ => Err(SecureError::Unsecured),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_never_print() {
        let key = Key::from_hex("303132333435363738393A3B3C3D3E3F").unwrap();
        assert_eq!(key, Key::SCBK_D);
        assert_eq!(format!("{key:?}"), "Key(..)");
        assert!(Key::from_hex("30").is_err());
        assert!(Key::from_hex("zz3132333435363738393A3B3C3D3E3F").is_err());
        let keys = SessionKeys::derive(&key, &[1; 8]);
        assert_eq!(format!("{keys:?}"), "SessionKeys(..)");
        assert_eq!(format!("{:?}", Session::new(keys, [0; 16])), "Session(..)");
    }

    #[test]
    fn both_sides_agree_and_a_wrong_key_shows() {
        let (rnd_a, rnd_b) = ([1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]);
        let acu = SessionKeys::derive(&Key::new([9; 16]), &rnd_a);
        let pd = SessionKeys::derive(&Key::new([9; 16]), &rnd_a);
        let wrong = SessionKeys::derive(&Key::new([8; 16]), &rnd_a);
        assert_eq!(acu.client_cryptogram(&rnd_a, &rnd_b), pd.client_cryptogram(&rnd_a, &rnd_b));
        assert_ne!(acu.client_cryptogram(&rnd_a, &rnd_b), wrong.client_cryptogram(&rnd_a, &rnd_b));
        let rmac = acu.initial_rmac(&acu.server_cryptogram(&rnd_a, &rnd_b));
        let mut acu = Session::new(acu, rmac);
        let mut pd = Session::new(pd, rmac);
        for data in [vec![], vec![0, 5, 30, 0], vec![7; 16], vec![1; 33]] {
            let mut frame = Frame::command(1, 1, 0x68, data.clone());
            acu.seal(&mut frame, Direction::Command).unwrap();
            let on_wire = Frame::parse(&frame.encode().unwrap()).unwrap();
            assert_eq!(pd.open(&on_wire, Direction::Command).unwrap(), data);
            let mut reply = Frame::reply(1, 1, 0x49, data.clone());
            pd.seal(&mut reply, Direction::Reply).unwrap();
            assert_eq!(acu.open(&reply, Direction::Reply).unwrap(), data);
        }
        let mut tampered = Frame::command(1, 2, 0x60, vec![]);
        acu.seal(&mut tampered, Direction::Command).unwrap();
        tampered.code = 0x61;
        assert_eq!(pd.open(&tampered, Direction::Command), Err(SecureError::Mac));
    }
}
