"""`edge-monitor replay` and `run` in a real pseudo-terminal: the screen goes to the alternate
screen and comes back on the normal end, on Ctrl-C and on `q`, follows a resize, leaves the
terminal's modes as it found them, and prints the finished frame and the summary after it has
left. The waits below only guard against a hang; nothing asserts how long anything took."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios

import pytest

from edge_monitor.keys import key_reader

ENTER, LEAVE = b"\x1b[?1049h", b"\x1b[?1049l"
HANG_GUARD_S = 120.0


class Tty:
    """A child `python -m edge_monitor ARGS` on a fresh pty of `cols` x `rows`."""

    def __init__(self, args: list[str], cols: int = 80, rows: int = 24) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: its stdin/stdout/stderr are the pty's terminal side
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "", "LINES": ""}
            env = {k: v for k, v in env.items() if v and k != "NO_COLOR"}
            os.execve(sys.executable, [sys.executable, "-m", "edge_monitor", *args], env)
        self.pid, self.fd, self.out = pid, fd, b""

    def read_until(self, needle: bytes | None, after: int = 0) -> bool:
        """Read until `needle` shows up past `after` (None: until the child closes the pty)."""
        waited = 0.0
        while needle is None or self.out.find(needle, after) < 0:
            if waited > HANG_GUARD_S:
                return False
            ready = select.select([self.fd], [], [], 0.5)[0]
            waited += 0.5 if not ready else 0.0
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child has gone and the terminal side is closed
                chunk = b""
            if not chunk:
                return needle is None
            self.out += chunk
        return True

    def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def local_modes(self) -> int:
        """The terminal's local modes (ICANON, ECHO...), as the child left or set them."""
        return termios.tcgetattr(self.fd)[3]

    def finish(self) -> int:
        self.read_until(None)
        _, status = os.waitpid(self.pid, 0)
        self.final_modes = self.local_modes()
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def plain(out: bytes) -> str:
    """The text without its escape sequences (colours, cursor moves)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))


def assert_left_cleanly(t: Tty) -> None:
    start = t.out.find(ENTER)
    assert start >= 0, t.out[-2000:]
    end = t.out.find(LEAVE, start)
    assert end > start, t.out[-2000:]
    after = t.out[end:].decode("utf-8", "replace")
    assert "FINISHED" in after  # the last frame, on the normal screen
    assert "s of signal in" in after  # then the summary


def test_replay_enters_and_leaves_the_alternate_screen():
    t = Tty(["replay", "--speed", "0"])
    assert t.finish() == 0
    assert_left_cleanly(t)


@pytest.mark.slow
@pytest.mark.parametrize(("key", "code"), [(b"\x03", 130), (b"q", 0)])
def test_ctrl_c_or_q_leaves_a_clean_terminal(key, code):
    t = Tty(["replay", "--speed", "1"], cols=100, rows=30)
    assert t.read_until(ENTER)
    assert t.read_until(b"record time", t.out.find(ENTER))  # a frame is up
    assert not t.local_modes() & termios.ICANON  # keys one by one while the screen is up
    t.resize(130, 40)  # the kernel tells the child (SIGWINCH); the next frame fits the new size
    assert t.read_until(b"sweep 6 s", len(t.out))  # 4 s fit 100 columns, 6 s fit 130
    os.write(t.fd, key)
    assert t.finish() == code
    assert_left_cleanly(t)
    assert t.final_modes & termios.ICANON and t.final_modes & termios.ECHO  # as it was


def test_keys_are_read_without_waiting_and_the_terminal_mode_comes_back():
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "rb", buffering=0, closefd=False) as stream:
            saved = termios.tcgetattr(slave)
            with key_reader(stream) as keys:
                assert keys is not None
                assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak
                assert keys() == ""  # nothing pressed: no wait
                os.write(master, b"A")
                select.select([slave], [], [], 5.0)
                assert keys() == "a"
            assert termios.tcgetattr(slave) == saved
    finally:
        os.close(master)
        os.close(slave)


def test_piped_input_is_never_touched():
    read, write = os.pipe()
    try:
        with os.fdopen(read, "rb", closefd=False) as stream, key_reader(stream) as keys:
            assert keys is None
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.slow
def test_run_on_a_silent_port_shows_stream_time_and_a_grey_reason():
    """The serial path of the screen: nothing arrives on loop://, so no rate, a grey banner
    with the reason, and the stream clock."""
    t = Tty(["run", "--source", "loop://", "--profile", "host", "--duration", "2"])
    assert t.finish() == 0
    start = t.out.find(ENTER)
    after = plain(t.out[t.out.find(LEAVE, start) :])
    assert start >= 0 and "FINISHED" in after and "stream time 0:00:0" in after
    assert "INCONCLUSIVE no signal from the front end" in after
