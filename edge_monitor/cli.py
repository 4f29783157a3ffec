"""edge-monitor: the device-side commands. Streaming commands arrive with the edge runtime issue."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    help="Live ECG monitoring on a Raspberry Pi-class device.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()


@app.command()
def ports() -> None:
    """List the serial ports pyserial can see (an ECG front end shows up here)."""
    from serial.tools import list_ports

    found = sorted(list_ports.comports(), key=lambda p: p.device)
    if not found:
        console.print("no serial ports found")
    for port in found:
        console.print(f"{port.device}\t{port.description}\t{port.hwid}", highlight=False)


@app.command()
def version() -> None:
    """Print the installed version."""
    from edge_monitor import __version__

    console.print(__version__)
