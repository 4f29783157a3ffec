"""Expected failures: the CLIs turn them into one red line and a non-zero exit.

Anything else is a bug and keeps its traceback.
"""


class EcgEdgeError(Exception):
    """Root of every failure a user can cause and fix (bad file, missing data, no network)."""


class InputError(EcgEdgeError, ValueError):
    """A file, option or stream value that cannot be used as given."""


class DataNotFoundError(EcgEdgeError, FileNotFoundError):
    """A data set, record or checkpoint that is not where it was said to be."""


class NetworkError(EcgEdgeError, OSError):
    """A download that could not reach its server."""


class CheckFailedError(EcgEdgeError, RuntimeError):
    """A gate the artifact must pass did not hold (parity after export, accuracy after int8)."""


class Terminated(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP, SIGINT) raised where the loops catch Ctrl-C, so they end
    the same way: summary printed, recording closed. Not an error: it carries the signal number
    for the exit code (128 + signum)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def first_line(exc: BaseException, limit: int = 200) -> str:
    """A library's exception as one line for a user: its first line, else its type's name."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def check_keys(table: dict, expected: set[str], where: str, optional: set[str] = frozenset()):
    """A config table's keys, exactly: a typo must not fall back to a default nobody checked."""
    if unknown := set(table) - expected:
        raise InputError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    if missing := expected - set(optional) - set(table):
        raise InputError(f"{where}: missing keys {', '.join(sorted(missing))}")
