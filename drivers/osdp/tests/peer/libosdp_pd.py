"""A libosdp 3.2.9 PD on a pseudo-terminal, driven by the Rust test over stdin/stdout.

Usage: libosdp_pd.py TTY_PATH ADDRESS [SCBK_HEX]

With SCBK_HEX the PD holds that key and enforces the secure channel; without it the PD runs in
the clear; with "install" it is in install mode (accepts SCBK-D and a new key by KEYSET). TTY_PATH "new" makes a pseudo-terminal pair itself, serves on its master end, and
prints the slave's path after READY, for an ACU that opens its port by path as in production.
Prints READY once serving; then reads one request per line and answers one line:
  input B0 B1 ...   push an input status report (Event.Status, StatusReportType.Input) -> OK
  command [SECONDS] the next command the PD received (other than Status), as "CMD key=value ..." (or
                    "NONE" if none came within SECONDS, default 5)
  silent / resume   stop answering (incoming bytes are dropped) / answer again -> OK
  secure            "SECURE yes|no": whether the PD's secure channel is active
  quit              stop
"""

import os
import sys
import termios
import tty

from osdp import (Capability, Channel, Command, Event, LibFlag, LogLevel, PDCapabilities, PDInfo, PdId,
                  PeripheralDevice, StatusReportType)


class PtyChannel(Channel):
    def __init__(self, path):
        super().__init__()
        self.slave_path = None
        if path == "new":
            self.fd, self.slave_fd = os.openpty()
            tty.setraw(self.slave_fd, termios.TCSANOW)
            os.set_blocking(self.fd, False)
            self.slave_path = os.ttyname(self.slave_fd)
        else:
            self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            tty.setraw(self.fd, termios.TCSANOW)
        self.silent = False

    def read(self, max_bytes):
        try:
            data = os.read(self.fd, max_bytes)
        except (BlockingIOError, InterruptedError):
            return b""
        return b"" if self.silent else data

    def write(self, buf):
        if self.silent:
            return len(buf)
        return os.write(self.fd, bytes(buf))

    def flush(self):
        pass


def main():
    path, address = sys.argv[1], int(sys.argv[2])
    key_arg = sys.argv[3] if len(sys.argv) > 3 else None
    install = key_arg == "install"
    scbk = bytes.fromhex(key_arg) if key_arg and not install else None
    channel = PtyChannel(path)
    flags = [LibFlag.EnforceSecure] if scbk else [LibFlag.InstallMode] if install else []
    info = PDInfo(address, channel, scbk=scbk, flags=flags,
                  id=PdId(2, 7, 0x00A1B2C3, 0x12345678, 0x030209))
    caps = PDCapabilities([
        (Capability.ContactStatusMonitoring, 1, 4),
        (Capability.OutputControl, 1, 4),
        (Capability.LEDControl, 1, 1),
        (Capability.AudibleControl, 1, 1),
    ])
    pd = PeripheralDevice(info, caps, log_level=LogLevel.Warning)
    pd.start()
    print("READY" + (f" {channel.slave_path}" if channel.slave_path else ""), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "input":
            report = bytes(int(w) for w in words[1:])
            pd.submit_event({"event": Event.Status, "type": StatusReportType.Input, "report": report})
            print("OK", flush=True)
        elif words[0] == "command":
            # libosdp hands the app our start-up LSTAT as a Status command too; skip those.
            wait = float(words[1]) if len(words) > 1 else 5
            command = pd.get_command(timeout=wait)
            while command is not None and command.get("command") == Command.Status:
                command = pd.get_command(timeout=wait)
            if command is None:
                print("NONE", flush=True)
            else:
                fields = " ".join(f"{k}={v}" for k, v in sorted(command.items()))
                print(f"CMD {fields}", flush=True)
        elif words[0] == "silent":
            channel.silent = True
            print("OK", flush=True)
        elif words[0] == "resume":
            channel.silent = False
            print("OK", flush=True)
        elif words[0] == "secure":
            print("SECURE " + ("yes" if pd.is_sc_active() else "no"), flush=True)
        elif words[0] == "quit":
            break
        else:
            print(f"ERROR unknown request {words[0]}", flush=True)
    pd.stop()
    os._exit(0)


if __name__ == "__main__":
    main()
