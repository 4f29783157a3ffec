"""Key presses from the terminal without blocking the monitor: the terminal in cbreak mode (keys
arrive one by one, unechoed; Ctrl-C still interrupts) while the screen is up, restored on the
way out whatever happens. Only for a terminal this process has in the foreground: piped or
redirected input, or a job in the background, is never touched."""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


class KeyReader:
    """Non-blocking reads of a TTY file descriptor in cbreak mode (see `key_reader`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self) -> str:
        """The keys pressed since the last call ('' when none), never waiting."""
        got = []
        while select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 64)
            if not chunk:  # the terminal went away
                break
            got.append(chunk.decode("utf-8", "replace"))
        return "".join(got).lower()


def _foreground(fd: int) -> bool:
    """False for a background job (`&`): touching its terminal would stop it (SIGTTOU)."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # not this process's controlling terminal: no job control applies
        return True


@contextmanager
def key_reader(stream: IO | None = None) -> Iterator[KeyReader | None]:
    """A KeyReader on `stream` (default stdin) while inside, or None when it is not a TTY."""
    stream = sys.stdin if stream is None else stream
    try:
        import termios
        import tty

        fd = stream.fileno()
        tty_in = os.isatty(fd) and _foreground(fd)
    except (ImportError, AttributeError, OSError, ValueError):  # no termios, a captured stdin
        tty_in = False
    if not tty_in:
        yield None
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield KeyReader(fd)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
