"""What every edge-monitor command shares: option types with their checks, the one-line error
wrapper, and the process lifecycle (signals, a closed pipe) around a command's work (which
models run on which of a source's channels: cli_leads.py)."""

from __future__ import annotations

import math
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edge_monitor.errors import EcgEdgeError, InputError, Terminated
from edge_monitor.profiles import (
    DEFAULT_PROFILE,
    PROFILE_ENV,
    available_profiles,
    is_profile,
)
from edge_monitor.safe_text import shown
from edge_monitor.second_lead import DEFAULT as SECOND_LEAD

err_console = Console(stderr=True, soft_wrap=True)


def _finite(value: float | None) -> float | None:
    """typer's min/max let `nan` through (every comparison with it is false)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def _positive(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value} is not a finite number above 0")
    return value


Models = Annotated[
    list[Path] | None,
    typer.Option("--model", help="bundle folder (repeat for more; default: the embedded ones)"),
]


@dataclass(frozen=True)
class Choices:
    """An option's allowed names, read from their registry only when a value is checked or
    completed: the trainer's registries import sklearn and torch, and `--help` must not wait for
    them. `also` accepts a value outside the names (a profile's TOML file)."""

    what: str
    names: Callable[[], Sequence[str]]
    also: Callable[[str], bool] | None = None
    also_says: str = ""

    def parse(self, value: str) -> str:
        if value in self.names() or (self.also is not None and self.also(value)):
            return value
        raise typer.BadParameter(
            f"{value!r} is not a {self.what}: choose one of {', '.join(self.names())}"
            + (f" or {self.also_says}" if self.also_says else "")
        )

    def complete(self, incomplete: str) -> list[str]:
        return [n for n in self.names() if n.startswith(incomplete)]

    def _env_checked(self, envvar: str):
        def check(ctx, param, value):
            if value is None or ctx.resilient_parsing:
                return value
            source = ctx.get_parameter_source(param.name)
            if source is None or source.name != "ENVIRONMENT":
                return self.parse(value)  # typed (or the default): typer's own usage error
            try:
                return self.parse(value)
            except typer.BadParameter as exc:
                err_console.print(
                    f"[red]error:[/red] ${envvar}: {shown(exc.message)}", highlight=False
                )
                raise typer.Exit(2) from None

        return check

    def argument(self, help: str, metavar: str | None = None):
        """A typer argument taking one of the names."""
        return typer.Argument(
            parser=self.parse,
            autocompletion=self.complete,
            metavar=metavar or self.what.upper(),
            help=help,
        )

    def option(self, help: str, *decls: str, metavar: str | None = None, **kwargs):
        """A typer option taking one of the names (completed by the shell, refused by typer).
        With an `envvar`, a bad value from the variable is one line naming it (exit 2): the box
        typer draws would blame an option the user never typed."""
        if envvar := kwargs.get("envvar"):
            kwargs["callback"] = self._env_checked(envvar)
        return typer.Option(
            *decls,
            parser=str if envvar else self.parse,
            autocompletion=self.complete,
            metavar=metavar or self.what.upper(),
            help=help,
            **kwargs,
        )


PROFILES = Choices(
    "device profile", available_profiles, is_profile, "an existing .toml profile file"
)
Profile = Annotated[
    str,
    PROFILES.option(
        f"device profile: a shipped one or a .toml file; default ${PROFILE_ENV}, else "
        f"{DEFAULT_PROFILE}",
        metavar="[" + "|".join(available_profiles()) + "|FILE.toml]",
        envvar=PROFILE_ENV,
        show_envvar=False,  # the help text says it, and the default it falls back to
        show_default=False,  # "rpi4" would be wrong with the variable set
    ),
]
Channel = Annotated[
    int | None,
    typer.Option(min=0, help="channel index of the analysed lead (default: by lead name)"),
]


class ByDefault(str):
    """An option's value the user did not give: acted on, never remarked upon."""


def _second_lead_choice(value: str | None) -> int | str | None:
    """off, auto or a channel index (checked against the source once it is open)."""
    if value is None:
        return ByDefault(SECOND_LEAD)
    text = value.strip().lower()
    if text in ("off", "auto"):
        return None if text == "off" else "auto"
    if text.isascii() and text.isdigit():
        return int(text)
    raise typer.BadParameter("give off, auto or a channel index")


SecondLeadOpt = Annotated[
    str | None,
    typer.Option(
        "--second-lead",
        callback=_second_lead_choice,
        help="beat model on a second lead too, answers averaged: auto (the default: another "
        "lead like lead II, where the source has one), off or a channel index",
    ),
]
MIN_SPEED = 0.01  # slower than 1/100 of real time is no replay: 1e-300 overflowed the clock
MAX_SECONDS = 1e7  # 115 days into a record: past any WFDB record, and well inside a float index


def _speed(value: float) -> float:
    if not (math.isfinite(value) and (value == 0 or value >= MIN_SPEED)):
        raise typer.BadParameter(f"{value} is neither 0 (as fast as possible) nor >= {MIN_SPEED}")
    return value


Speed = Annotated[
    float,
    typer.Option(
        min=0, max=1e6, callback=_speed, help=f"1 real time, 0 as fast as possible, >= {MIN_SPEED}"
    ),
]
Start = Annotated[
    float,
    typer.Option(min=0, max=MAX_SECONDS, callback=_finite, help="seconds into the record"),
]
Stop = Annotated[
    float | None,
    typer.Option(min=0, max=MAX_SECONDS, callback=_finite, help="seconds into the record"),
]
MAX_FS = 20_000.0  # Hz: as wfdb_io refuses for records


def writable_file(path: Path) -> None:
    """A file a command writes when its work is done: refused before the work (a folder, a
    folder that does not exist, a FIFO or device, a place nothing can be created in), never
    with a traceback or a hang after it. Permissions alone say little (root may write
    anywhere the mode allows, /proc included), so a file is created and removed beside it."""
    import stat
    import tempfile

    if path.is_dir():
        raise InputError(f"--out {path}: a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"--out {path}: its folder {parent} does not exist")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise InputError(f"--out {path}: not a regular file (a FIFO or a device?)")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"--out {path}: not writable")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise InputError(f"--out {path}: cannot write there ({exc.strerror or exc})") from None


def write_text(path: Path, text: str) -> None:
    """`path.write_text` whose failure (a disk full, a folder removed meanwhile) is one line."""
    try:
        path.write_text(text)
    except OSError as exc:
        raise InputError(f"--out {path}: cannot write it ({exc.strerror or exc})") from None


def guarded(fn, *args, **kwargs):
    """Expected failures become one red line and exit code 1."""
    try:
        return fn(*args, **kwargs)
    except EcgEdgeError as exc:
        err_console.print(f"[red]error:[/red] {shown(exc)}", highlight=False)
        raise typer.Exit(1) from None


def _importing(frame) -> bool:
    """Whether `frame` runs inside a first import (importlib's frames are on the stack) while
    the command is still starting: an import made inside a running loop (a lazy one, the first
    time something is written) is not, for the loop owns a summary and a recording that a
    quiet exit would lose."""
    importing = False
    while frame is not None:
        code = frame.f_code
        if code.co_name == "run_loop" and code.co_filename.endswith("run_loop.py"):
            return False
        importing = importing or code.co_filename.startswith("<frozen importlib")
        frame = frame.f_back
    return importing


class _Ended:
    signum: int | None = None


@contextmanager
def _lifecycle() -> Iterator[_Ended]:
    """SIGTERM and SIGHUP (systemctl stop, a closed terminal) end a command as Ctrl-C does: the
    loops' `except KeyboardInterrupt` print the summary and close the recording; the exit code
    is then 128 + the signal (130, 143, 129); a SIGHUP the command was started to ignore
    (`nohup edge-monitor run ... &`) stays ignored. A reader that goes away (`| head -1`) ends the
    command quietly with 141, as a SIGPIPE would."""
    ended = _Ended()

    def stop(signum: int, frame) -> None:
        ended.signum = signum
        if _importing(frame):
            # a module is still loading (onnxruntime's native init prints an exception raised
            # inside it, then rewraps it as "ImportError: initialization failed"): nothing has
            # run that needs ending yet, so end here, quietly
            err_console.print(f"stopped by {signal.Signals(signum).name}", highlight=False)
            with suppress(OSError, ValueError):
                sys.stdout.flush()
            os._exit(128 + signum)
        raise Terminated(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # started under nohup: a closed terminal must not end the monitor
        with suppress(ValueError):  # not the main thread: keep Python's own handlers
            previous[sig] = signal.signal(sig, stop)
    try:
        yield ended
    except BrokenPipeError:
        # the Python docs' recipe: no further writes (nor the flush at exit) reach the pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141) from None
    except SystemExit as exc:
        # rich's Console meets a closed pipe with SystemExit(1) (its on_broken_pipe already sent
        # stdout to /dev/null); a closed reader is 141 whichever printer met it
        if isinstance(exc.__context__, BrokenPipeError):
            raise typer.Exit(141) from None
        raise
    except KeyboardInterrupt as exc:  # before (or after) a loop that reports it
        ended.signum = ended.signum or getattr(exc, "signum", signal.SIGINT)
    except ImportError:
        # a signal inside a lazy import (onnxruntime's) surfaces as "initialization failed"
        if not ended.signum:
            raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if ended.signum:
        err_console.print(f"stopped by {signal.Signals(ended.signum).name}", highlight=False)
        raise typer.Exit(128 + ended.signum)


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # both tools answer -h, as most tools do


def version_option(name: str):
    """A `--version` option for a typer callback: prints `name VERSION` and exits."""
    from edge_monitor import __version__

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{name} {__version__}")
            raise typer.Exit()

    return typer.Option(
        "--version", callback=show, is_eager=True, help="print the version and exit"
    )
