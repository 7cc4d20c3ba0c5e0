"""Checks tally's emulated GROW module with pyfingerprint, a host library written without it.

Run by drivers/grow/tests/it/peer.rs, which serves the emulator on a pseudo-terminal:

    python pyfingerprint_peer.py SLAVE_PATH EXPECTED_PIXELS OUT_DIR

EXPECTED_PIXELS holds the 256x288 8-bit image a host should decode (the emulator's image cut to
4 bits and expanded back). The finger is moved by the test: this script prints "ASK lift" or
"ASK place" and waits for "ok" on its standard input. It prints "PASS" when every check holds and
exits non-zero with the failed check otherwise.
"""

import os
import sys

from PIL import Image
from pyfingerprint.pyfingerprint import PyFingerprint

CAPACITY = 200
SCORE = 200
BUFFER_1 = 0x01
BUFFER_2 = 0x02


def ask(action):
    print("ASK " + action, flush=True)
    answer = sys.stdin.readline().strip()
    if answer != "ok":
        sys.exit("the test answered %r to %r" % (answer, action))


def check(holds, what):
    if not holds:
        sys.exit("FAILED: " + what)


def touch(sensor):
    """A new touch: lift, place, and take its image into the image buffer."""
    ask("lift")
    check(sensor.readImage() is False, "readImage with no finger says so")
    ask("place")
    check(sensor.readImage() is True, "readImage with a finger takes an image")


def main():
    port, expected_path, out_dir = sys.argv[1:4]
    with open(expected_path, "rb") as f:
        expected = f.read()

    intruder = PyFingerprint(port, 57600, 0xFFFFFFFF, 0x12345678)
    check(intruder.verifyPassword() is False, "a wrong password is refused")
    del intruder

    sensor = PyFingerprint(port, 57600, 0xFFFFFFFF, 0x00000000)
    check(sensor.verifyPassword() is True, "the factory password is accepted")

    status, system_id, capacity, level, address, size_code, baud = sensor.getSystemParameters()
    check(capacity == CAPACITY, "capacity %d" % capacity)
    check(address == 0xFFFFFFFF, "address %#x" % address)
    check(size_code == 2 and sensor.getMaxPacketSize() == 128, "packet size code %d" % size_code)
    check(baud == 6 and sensor.getBaudRate() == 57600, "baud multiplier %d" % baud)
    check(1 <= level <= 5, "security level %d" % level)
    check(status & 0b100, "status register shows the password verified: %#x" % status)

    touch(sensor)
    png = os.path.join(out_dir, "finger.png")
    sensor.downloadImage(png)
    image = Image.open(png)
    check(image.size == (256, 288), "image size %r" % (image.size,))
    check(image.mode == "L", "image mode %s" % image.mode)
    pixels = image.tobytes()
    differ = [i for i in range(len(expected)) if pixels[i] != expected[i]]
    check(not differ, "%d pixels differ, first at %s" % (len(differ), differ[:1]))

    check(sensor.convertImage(BUFFER_1) is True, "features into buffer 1")
    touch(sensor)
    check(sensor.convertImage(BUFFER_2) is True, "features into buffer 2")
    check(sensor.compareCharacteristics() == SCORE, "the two touches match")
    check(sensor.createTemplate() is True, "a template from the two touches")

    # Without a position, pyfingerprint finds a free page through ReadIndexTable (1F).
    check(sensor.storeTemplate() == 0, "stored at the first free page")
    check(sensor.storeTemplate(7, BUFFER_1) == 7, "stored at page 7")
    check(sensor.getTemplateCount() == 2, "two templates")
    index = sensor.getTemplateIndex(0)
    check(len(index) == 256 and index[0] and index[7] and not any(index[1:7]), "index table")

    touch(sensor)
    check(sensor.convertImage(BUFFER_1) is True, "features of a third touch")
    check(sensor.searchTemplate() == (0, SCORE), "search finds page 0")
    check(sensor.deleteTemplate(0) is True, "page 0 deleted")
    check(sensor.searchTemplate() == (7, SCORE), "search finds page 7")

    check(sensor.clearDatabase() is True, "library emptied")
    check(sensor.getTemplateCount() == 0, "no templates left")
    check(sensor.searchTemplate() == (-1, -1), "search finds nothing")

    print("PASS", flush=True)


if __name__ == "__main__":
    main()
