//! Our secure channel read against a recorded libosdp 3.2.9 conversation (tests/it/fixtures): the
//! handshake's cryptograms and RMAC_I, every MAC in the chain, and the decrypted ISTATR and OUT.
//! Proves the key derivation, MAC padding and chaining, and the CBC IVs agree with libosdp's.

use tally_osdp::frame::Frame;
use tally_osdp::message::{Command, OutputRecord, Reply};
use tally_osdp::secure::{Direction, Key, Session, SessionKeys};

fn capture() -> Vec<(bool, Frame)> {
    let text = include_str!("fixtures/libosdp_secure.txt");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (who, hex) = line.split_at(3);
            let mut bytes: Vec<u8> =
                hex.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex byte")).collect();
            if bytes[0] == 0xff {
                bytes.remove(0);
            }
            (who.trim() == "CP", Frame::parse(&bytes).expect("a valid frame"))
        })
        .collect()
}

#[test]
fn libosdp_handshake_macs_and_encryption_check_out() {
    let frames = capture();
    let scbk = Key::new(std::array::from_fn(|i| i as u8));
    let rnd_a: [u8; 8] = frames[0].1.data[..].try_into().unwrap();
    let Ok(Reply::ClientCryptogram { rnd_b, cryptogram, .. }) = Reply::parse(frames[1].1.code, &frames[1].1.data)
    else {
        panic!("no CCRYPT")
    };
    let keys = SessionKeys::derive(&scbk, &rnd_a);
    assert_eq!(keys.client_cryptogram(&rnd_a, &rnd_b), cryptogram, "client cryptogram");
    let server = keys.server_cryptogram(&rnd_a, &rnd_b);
    assert_eq!(frames[2].1.data, server, "server cryptogram");
    let rmac_i = keys.initial_rmac(&server);
    assert_eq!(frames[3].1.data, rmac_i, "RMAC_I");
    assert_eq!(frames[0].1.security.as_ref().map(|b| (b.kind, b.data.clone())), Some((0x11, vec![1])));

    let mut observer = Session::new(keys, rmac_i);
    let mut seen_input = false;
    let mut seen_out = false;
    for (from_acu, frame) in &frames[4..] {
        let direction = if *from_acu { Direction::Command } else { Direction::Reply };
        let clear = observer.open(frame, direction).unwrap_or_else(|err| panic!("{err}: {frame:?}"));
        if *from_acu {
            let command = Command::parse(frame.code, &clear).unwrap();
            if let Command::Output(records) = command {
                assert_eq!(records, vec![OutputRecord { output: 0, code: 5, timer: 30 }]);
                seen_out = true;
            }
        } else if frame.code == 0x49 {
            // Pushed with submit_event(Status, Input, bytes([1, 0, 0, 0])): ISTATR in reply to POLL.
            assert_eq!(Reply::parse(0x49, &clear).unwrap(), Reply::InputStatus(vec![true, false, false, false]));
            assert_eq!(frame.security.as_ref().map(|b| b.kind), Some(0x18));
            seen_input = true;
        }
    }
    assert!(seen_input && seen_out);
}
