"""Device side of ecg-edge: streaming DSP, int8 inference and alerts. Never imports torch.

The `edge-monitor` command is quiet about Ctrl-C from this file's first lines (the console
script imports the package first): until a command takes the signal over
(`cli_support._lifecycle`), Ctrl-C ends it with 130 and no traceback. A program that imports
the package keeps Python's own KeyboardInterrupt."""

import _signal  # signal.py itself is slow to load (its enums): a gap before the handler
import os
import sys

__version__ = "0.1.0"


def _interrupted_loading(signum: int, frame) -> None:
    """Ctrl-C before a command has started (or after it ended): nothing to report or close, so
    exit 128 + the signal, quietly, with what was printed flushed."""
    try:  # noqa: SIM105 (no contextlib: each import before the handler widens the gap)
        sys.stdout.flush()
    except Exception:  # a closed pipe, a write the signal interrupted: exit all the same
        pass
    os._exit(128 + signum)


def _console_command() -> bool:
    """Whether this process is the `edge-monitor` command (its console script, or
    `python -m edge_monitor`), not a program that imports the package."""
    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    if name.removesuffix(".exe") == "edge-monitor":
        return True
    args = getattr(sys, "orig_argv", [])
    return any(a == "-m" and b == "edge_monitor" for a, b in zip(args, args[1:], strict=False))


def _quiet_until_started():
    """SIGINT to `_interrupted_loading` where Ctrl-C is Python's own (not ignored, as for a
    `cmd &` started from a script) in the main thread: the handler it replaced, else None."""
    try:
        if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
            return _signal.signal(_signal.SIGINT, _interrupted_loading)
    except ValueError:  # not the main thread: keep Python's own
        pass
    return None


# the command keeps the quiet handler until `_lifecycle`; cli.py restores Python's for others
QUIET_COMMAND = _console_command() and _quiet_until_started() is not None
