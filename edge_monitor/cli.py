"""edge-monitor: the device-side commands. No torch here (a test proves it); wfdb is imported only
by the commands that read records."""

from __future__ import annotations

import signal

import edge_monitor

# the edge-monitor command is quiet about Ctrl-C from the package's first line until a command
# starts (edge_monitor/__init__.py); a program importing the CLI (tests, `python -c`) is quiet
# while the modules below load (typer, rich), then has Python's KeyboardInterrupt back
_loading_handler = None if edge_monitor.QUIET_COMMAND else edge_monitor._quiet_until_started()

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from edge_monitor.cli_leads import bundles_for, checked_channel  # noqa: E402
from edge_monitor.cli_support import (  # noqa: E402
    HELP_OPTIONS,
    MAX_FS,
    Channel,
    Models,
    Profile,
    SecondLeadOpt,
    Speed,
    Start,
    Stop,
    _lifecycle,
    _positive,
    err_console,
    guarded,
    version_option,
    writable_file,
    write_text,
)
from edge_monitor.cli_tasks import emulate_record, print_summary, say_second_lead  # noqa: E402
from edge_monitor.errors import InputError  # noqa: E402
from edge_monitor.profiles import DEFAULT_PROFILE  # noqa: E402
from edge_monitor.safe_text import shown  # noqa: E402

if _loading_handler is not None:  # loaded: Ctrl-C is KeyboardInterrupt again (click, _lifecycle)
    signal.signal(signal.SIGINT, _loading_handler)

app = typer.Typer(
    help="Live ECG monitoring on a Raspberry Pi-class device.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)
console = Console()


@app.callback()
def _main(version: Annotated[bool, version_option("edge-monitor")] = False) -> None:
    """Live ECG monitoring on a Raspberry Pi-class device."""


def _record_folder(value: str) -> Path:
    """`--record ""` would be Path("") (the current folder) by accident: say "." for that."""
    if not value.strip():
        raise typer.BadParameter("an empty folder name: say . for the current folder")
    return Path(value)


def _sample_record() -> Path:
    from importlib import resources

    return Path(str(resources.files("edge_monitor") / "sample_data" / "mitdb-200-excerpt"))


def _replay(
    record: Path | None,
    models: list[Path] | None,
    profile: str,
    speed: float,
    start: float,
    stop: float | None,
    channel: int | None,
    ui: bool,
    json_out: bool,
    second_lead: int | str | None = None,
) -> dict:
    from edge_monitor.profiles import load_profile
    from edge_monitor.replay_session import ReplaySession
    from edge_monitor.reporting import json_lines
    from edge_monitor.sources import _record_path
    from edge_monitor.wfdb_io import read_header

    path = _record_path(record or _sample_record())
    header = read_header(path)
    sig_name = list(header.sig_name)
    prof = load_profile(profile)
    bundles = bundles_for(models, sig_name, prof)
    channel = checked_channel(channel, sig_name, bundles, str(path))
    _note_units(header, str(path))
    emit = json_lines() if json_out else None
    threads = prof.runtime.threads
    session = ReplaySession(
        path, bundles, threads, channel, emit, speed, start, stop, second_lead=second_lead
    )
    say_second_lead(second_lead, session.monitor)
    return _loop(session, None, emit, ui)


def _note_units(header, source: str) -> None:
    """Units the reader does not know are read as mV; an ECG channel in them is said once. So
    is a header without a sampling rate (WFDB's default 250 Hz scales every time and rate)."""

    from edge_monitor.leads import is_ecg
    from edge_monitor.wfdb_io import unknown_units

    if not header.fs_given:
        err_console.print(
            f"[yellow]warning:[/yellow] {shown(source)}: its header gives no sampling rate: "
            f"read at WFDB's default {header.fs:g} Hz (every time and heart rate rests on it)",
            highlight=False,
        )

    ecg = [u for n, u in zip(header.sig_name, header.units or [], strict=False) if is_ecg(n)]
    odd = unknown_units(ecg)
    if odd:
        listed = ", ".join(u if len(u) <= 20 else u[:20] + "..." for u in odd)
        err_console.print(
            f"[yellow]warning:[/yellow] {shown(source)}: units {shown(listed)} are "
            "not known here: read as mV",
            highlight=False,
        )


def _loop(session, duration: float | None, emit, ui: bool) -> dict:
    """The one run loop, with the live screen (rich's Live) or without it."""
    from edge_monitor.run_loop import run_loop

    if not ui:
        return run_loop(session, duration, emit_stats=emit)
    from edge_monitor.ui_live import live_screen

    with live_screen(console) as screen:  # the alternate screen; keys when stdin is a TTY
        return run_loop(session, duration, on_view=screen.show, keys=screen.keys)


@app.command()
def replay(
    record: Annotated[
        Path | None, typer.Argument(help="WFDB record (.dat, .hea or name); default: the sample")
    ] = None,
    model: Models = None,
    profile: Profile = DEFAULT_PROFILE,
    speed: Speed = 1.0,
    start: Start = 0.0,
    stop: Stop = None,
    channel: Channel = None,
    ui: Annotated[bool, typer.Option(help="live terminal UI; --no-ui prints JSON lines")] = True,
    second_lead: SecondLeadOpt = None,
) -> None:
    """Replay a WFDB record through the live pipeline (default: the embedded MIT-BIH sample)."""
    with _lifecycle():  # before the imports: Ctrl-C while they load is an interrupt too
        from edge_monitor.reporting import json_text

        args = (record, model, profile, speed, start, stop, channel, ui, not ui, second_lead)
        result = guarded(_replay, *args)
        if not ui:
            print(json_text(result), flush=True)
        else:
            print()  # below the screen's last frame, not glued to it
            print_summary(result)


@app.command()
def classify(
    record: Annotated[Path, typer.Argument(help="WFDB record (.dat, .hea or name)")],
    model: Models = None,
    profile: Profile = DEFAULT_PROFILE,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    start: Start = 0.0,
    stop: Stop = None,
    channel: Channel = None,
    second_lead: SecondLeadOpt = None,
) -> None:
    """Run the streaming pipeline over a whole record as fast as possible; print its verdict
    (classes over their tuned thresholds, beats and alerts counted), or JSON lines."""
    with _lifecycle():  # before the imports: Ctrl-C while they load is an interrupt too
        from edge_monitor.reporting import json_text

        args = (record, model, profile, 0.0, start, stop, channel, False, json_out, second_lead)
        result = guarded(_replay, *args)
        if json_out:
            print(json_text(result), flush=True)
        else:
            from edge_monitor.verdict import bundle_thresholds, print_verdict, verdict_of

            thresholds = bundle_thresholds(list(result["record_probs"]), model)
            print_verdict(verdict_of(result, thresholds), console)


@app.command()
def run(
    source: Annotated[
        str | None,
        typer.Option(help="serial port or pyserial URL (socket://, loop://); default: profile"),
    ] = None,
    profile: Profile = DEFAULT_PROFILE,
    model: Models = None,
    baud: Annotated[
        int | None, typer.Option(min=50, max=20_000_000, help="serial line speed; default: profile")
    ] = None,
    fs: Annotated[
        float | None,
        typer.Option(
            max=MAX_FS,
            callback=_positive,
            help="sampling rate of the front end, Hz (QRS detection needs 50 or more)",
        ),
    ] = None,
    adc_gain: Annotated[
        float | None,
        typer.Option(min=1e-6, max=1e9, callback=_positive, help="ADC counts per mV"),
    ] = None,
    baseline: Annotated[int | None, typer.Option(min=0, help="ADC count of 0 mV")] = None,
    adc_bits: Annotated[
        int | None, typer.Option(min=1, max=24, help="ADC resolution in bits; default: profile")
    ] = None,
    leads: Annotated[
        str | None, typer.Option(help="channel-to-lead mapping, comma-separated: MLII or I,II")
    ] = None,
    counter: Annotated[bool, typer.Option(help="lines start with a sample counter")] = False,
    channel: Channel = None,
    record: Annotated[
        Path | None,
        typer.Option(
            parser=_record_folder,
            metavar="FOLDER",
            help="save the raw stream (WFDB) and alerts (JSON lines) in this folder",
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(callback=_positive, help="stop after these seconds")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="wait for a port that is not there yet (else: an error)")
    ] = False,
    ui: Annotated[bool, typer.Option(help="live terminal UI; --no-ui prints JSON lines")] = True,
    second_lead: SecondLeadOpt = None,
) -> None:
    """Monitor a live ECG front end on a serial port (Ctrl-C stops; the recording is kept)."""
    options = dict(locals())
    with _lifecycle() as ended:  # before the imports: Ctrl-C while they load is an interrupt too
        from edge_monitor.reporting import json_text

        result = guarded(_run, options)
        result["interrupted"] = ended.signum is not None
        if ui:
            print()  # below the screen's last frame, not glued to it
            print_summary(result)
        else:
            print(json_text(result), flush=True)


def _run(options: dict) -> dict:
    """`run`'s options (the command's own parameters, as typer checked them) -> the session."""
    from edge_monitor.profiles import load_profile
    from edge_monitor.reporting import json_lines
    from edge_monitor.serial_session import SerialSettings, open_session

    o = options
    prof = load_profile(o["profile"])
    s = prof.sensor
    leads = o["leads"]
    if leads is not None and not all(x.strip() for x in leads.split(",")):
        raise InputError(f"--leads {leads!r} names an empty lead: give every channel a name")
    if o["source"] is not None and not o["source"].strip():
        raise InputError("--source is empty: name a serial port or URL (or leave it out)")
    settings = SerialSettings(
        url=o["source"] or s.port,
        baud=o["baud"] or s.baud,
        fs=o["fs"] or s.fs,
        adc_gain=o["adc_gain"] or s.adc_gain,
        baseline=s.baseline if o["baseline"] is None else o["baseline"],
        adc_bits=o["adc_bits"] or s.adc_bits,
        sig_name=[x.strip() for x in leads.split(",")] if leads else list(s.sig_name),
        counter=o["counter"],
        stall_s=s.stall_s,
    )
    top = 2**settings.adc_bits - 1
    if not 0 <= settings.baseline <= top:
        raise InputError(
            f"baseline {settings.baseline} is outside the {settings.adc_bits}-bit ADC's 0..{top}"
        )
    bundles = bundles_for(o["model"], settings.sig_name, prof)
    channel = o["channel"]
    channel = checked_channel(channel, settings.sig_name, bundles, "the source")
    emit = None if o["ui"] else json_lines()
    session = open_session(
        settings, bundles, prof.runtime.threads, channel, emit, o["record"], o["wait"],
        o["second_lead"],
    )  # fmt: skip
    say_second_lead(o["second_lead"], session.monitor)
    return _loop(session, o["duration"], emit, o["ui"])


@app.command()
def emulate(
    record: Annotated[Path, typer.Argument(help="WFDB record to play")],
    port: Annotated[str, typer.Option(help="serial port or pyserial URL to write to")],
    profile: Profile = DEFAULT_PROFILE,
    speed: Speed = 1.0,
    counter: Annotated[bool, typer.Option(help="prefix each line with a sample counter")] = False,
    loops: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="play the record this many times")
    ] = 1,
    channel: Channel = None,
    fit: Annotated[
        bool, typer.Option(help="scale a record wider than the ADC's range to fit (else clip)")
    ] = True,
) -> None:
    """Play a record onto a serial port in the front end's wire format (demo without hardware)."""
    from edge_monitor.emulator import emulate as play
    from edge_monitor.profiles import load_profile

    with _lifecycle():
        s = guarded(load_profile, profile).sensor
        sent = guarded(emulate_record, play, record, port, s, speed, counter, loops, channel, fit)
        console.print(f"sent {sent} samples to {shown(port)}")


@app.command()
def bench(
    profile: Profile = DEFAULT_PROFILE,
    model: Models = None,
    record: Annotated[
        Path | None, typer.Option(help="WFDB record to stream (default: the sample)")
    ] = None,
    runs: Annotated[
        int, typer.Option(min=1, max=10_000_000, help="timed inferences per model")
    ] = 1000,
    out: Annotated[Path | None, typer.Option(help="write the figures as JSON here")] = None,
) -> None:
    """Latency, throughput, peak RSS and cold start against the profile's budgets."""
    import json

    with _lifecycle():  # Ctrl-C: 130; a closed pipe: 141
        if out is not None:  # refused now, not after minutes of benching
            guarded(writable_file, out)
        result = guarded(_bench, profile, model, record, runs)
        if out is not None:
            guarded(write_text, out, json.dumps(result, indent=2))
        for name, m in result["models"].items():
            if "latency_profile_threads" not in m:
                console.print(f"{name}: not measured (no record with its leads)", markup=False)
                continue
            lat, one = m["latency_profile_threads"], m["latency_1_thread"]
            used = "x".join(map(str, lat.get("threads", ())))  # what the monitor opens
            console.print(
                f"{name}: p50/p95/p99 "
                f"{lat['p50_ms']:.3f}/{lat['p95_ms']:.3f}/{lat['p99_ms']:.3f} ms "
                f"as the monitor runs it ({used} threads); "
                f"p99 {one['p99_ms']:.3f} ms on one thread",
                highlight=False,
                soft_wrap=True,
            )
        r = result["replay_headless"]
        console.print(
            f"replay: {r['signal_s']:.0f} s of signal in {r['wall_s_process']:.2f} s "
            f"({r['realtime_factor_process']:.0f}x real time, process included); peak RSS "
            f"{r['peak_rss_mb']:.0f} MB; first {r.get('first_answer', 'beat')} "
            f"{r['cold_start_to_first_beat_s']:.2f} s "
            "after start",
            highlight=False,
            soft_wrap=True,
        )
        serial = result["run_serial"]
        if "skipped" in serial:
            console.print(f"run (serial): not run, {serial['skipped']}", markup=False)
        else:
            console.print(f"run (serial): peak RSS {serial['peak_rss_mb']:.0f} MB")
        from edge_monitor.bench import checks_of, print_budgets

        if not print_budgets(checks_of(result), result["profile"], console):
            raise typer.Exit(1)


def _bench(profile: str, models: list[Path] | None, record: Path | None, runs: int) -> dict:
    from edge_monitor.bench import bench as run_bench
    from edge_monitor.profiles import load_profile
    from edge_monitor.sources import _record_path

    path = _record_path(record or _sample_record())
    from edge_monitor.wfdb_io import read_header

    prof = load_profile(profile)
    bundles = bundles_for(models, list(read_header(path).sig_name), prof)
    return run_bench(bundles, prof, path, runs, profile_arg=profile)


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
