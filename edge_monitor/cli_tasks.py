"""What the edge-monitor commands print and the emulate command's choice of lead: kept apart
from cli.py so that module holds the commands themselves. Light imports only (the CLI's start-up
time and its quiet Ctrl-C window depend on it)."""

from __future__ import annotations

from rich.console import Console

from edge_monitor.cli_leads import checked_channel
from edge_monitor.cli_support import ByDefault, err_console
from edge_monitor.errors import InputError
from edge_monitor.safe_text import one_line, shown

console = Console()


def say_second_lead(choice, monitor) -> None:
    """`--second-lead auto` asked for that finds no lead like lead II says so once, on stderr."""
    asked = choice == "auto" and not isinstance(choice, ByDefault)
    if asked and monitor.second is None and monitor.beats:
        err_console.print(
            "--second-lead auto: no other lead like lead II here; the beat lead alone",
            markup=False,
            highlight=False,
        )


def print_summary(result: dict) -> None:
    """Plain lines (a pipe gets them unwrapped): what was seen, counted, and where it went."""
    where = one_line(str(result.get("record") or result.get("source") or "source"))
    print(
        f"{where}: {result['signal_seconds']:.0f} s of signal in {result['wall_seconds']:.2f} s "
        f"({result['realtime_factor']}x real time)"
    )
    print(f"beats: {counts(result['beats'])}; windows: {result['windows']}")
    quality = {k: f"{v:g} s" for k, v in result["quality_seconds"].items()}
    print(f"alerts: {counts(result['alerts'])}; quality: {counts(quality)}")
    for name, probs in result["record_probs"].items():
        print(f"{one_line(name)} record probabilities: {counts(probs)}")
    lat = result["latency_ms"]
    ms = "/".join("--" if lat[k] != lat[k] else f"{lat[k]:.3f}" for k in ("p50", "p95", "p99"))
    print(f"model call p50/p95/p99 {ms} ms; peak RSS {result['peak_rss_mb']} MB")
    if result.get("recording") or result.get("recording_error"):
        print(
            f"recording: {one_line(str(result.get('recording') or result.get('recording_error')))}"
        )


def counts(mapping: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items()) or "none"


def emulate_record(play, record, port, s, speed, counter, loops, channel, fit) -> int:
    """`emulate`: the record's lead(s) the profile's front end would send, played onto `port`."""
    from edge_monitor.sources import _record_path
    from edge_monitor.wfdb_io import read_header

    names = list(read_header(_record_path(record)).sig_name)
    checked_channel(channel, names, [], str(record))
    if channel is None and len(names) > len(s.sig_name) == 1:
        # a one-lead board sends one value a line: the record's other leads would make every
        # line garbage to the monitor
        from rich.markup import escape

        from edge_monitor.leads import one_channel, stand_in_channel

        found = one_channel(names, s.sig_name[0])
        channel = found if found is not None else stand_in_channel(names)
        if channel is None:  # as classify refuses it: a board would send it as lead II
            have = ", ".join(f"{i} {n}" for i, n in enumerate(names))
            raise InputError(
                f"{record} has no lead II and no lead that may stand in for it ({have}): "
                "choose one with --channel"
            )
        stand_in = "" if found is not None else ", standing in for lead II: not validated"
        err_console.print(
            f"the profile's front end has one lead ({escape(s.sig_name[0])}): sending channel "
            f"{channel} ({shown(names[channel])}{stand_in}) of the record's {len(names)} "
            "(--channel to choose)",
            highlight=False,
        )
    return play(
        record,
        port,
        s.baud,
        s.adc_gain,
        s.baseline,
        s.adc_bits,
        fs=s.fs,
        speed=speed,
        counter=counter,
        loops=loops,
        channel=channel,
        say=lambda line: console.print(shown(line), highlight=False),
        fit=fit,
        warn=lambda line: err_console.print(one_line(line), highlight=False, markup=False),
    )
