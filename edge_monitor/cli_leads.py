"""Which models a command runs and on which of a source's channels, and what the user is told
about it: a lead standing in for lead II, a lead the models were not validated on, two channels
that carry one name."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from edge_monitor.cli_support import err_console
from edge_monitor.errors import EcgEdgeError, InputError
from edge_monitor.leads import LeadMatch, match_leads
from edge_monitor.safe_text import shown


def bundles_for(models: list[Path] | None, leads: list[str], profile=None) -> list:
    """The bundles asked for, or the embedded beat model (+ the ventricular rhythm model and
    the diagnostic one when the source has their leads), each proven on the profile's budgets
    before monitoring starts. The trial runs (a child process each) run side by side: a second
    model does not double the start-up."""
    from concurrent.futures import ThreadPoolExecutor

    from edge_monitor.bundle import embedded_beat_bundles, embedded_bundle, load_bundle

    paths = list(models or embedded_beat_bundles())
    for task in () if models else ("ventricular", "diagnostic"):
        try:  # the leads first: no trial run for a model the source cannot feed
            need = load_bundle(embedded_bundle(task), probe=False).contract.leads
        except EcgEdgeError:
            continue
        if task == "ventricular":  # it reads the beat lead or the lead standing in for it
            if leads:
                paths.append(embedded_bundle(task))
            continue
        if (said := _unfed(task, match_leads(leads, need))) is None:
            paths.append(embedded_bundle(task))
        elif said:
            err_console.print(said, highlight=False, markup=False)
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        return list(pool.map(lambda path: load_bundle(path, profile=profile), paths))


def _unfed(task: str, match: LeadMatch) -> str | None:
    """None where the source feeds the multi-lead model, else why it is not run: said ("...")
    when the source is near enough to a 12-lead one that a user would expect it, else ""."""
    if match.missing:
        if len(match.leads) > 1 and match.found >= len(match.leads) // 2:
            return f"the {task} model needs leads {', '.join(match.missing)} as well: not run"
        if len(match.leads) > 1 and len(match.sig_name) >= len(match.leads):
            # as many channels as the model has leads, named otherwise: a user expects it
            return (
                f"the {task} model is not run: it reads leads {', '.join(match.leads)} by "
                f"name, and only {match.found} of the source's channel names are one of them"
            )
        return ""
    if match.duplicates:
        return f"the {task} model is not run: {match.duplicate_line()} (rename one to run it)"
    return None


def checked_channel(
    channel: int | None, sig_name: list[str], bundles: list, source: str
) -> int | None:
    """The channel to read, or None where every model finds its own lead. An index past the
    source's signals is an error; a lead other than the beat model's is allowed (a one-lead
    board wired differently, a Holter's V5) but said, once, on stderr."""
    if channel is None:
        return _stand_in(sig_name, bundles, source)
    if channel >= len(sig_name):
        have = ", ".join(f"{i} {n}" for i, n in enumerate(sig_name))
        raise InputError(
            f"--channel {channel} is out of range: {source} has {len(sig_name)} "
            f"signal{'s' if len(sig_name) != 1 else ''} ({have})"
        )
    _warn_lead(channel, sig_name, bundles)
    return channel


def _one_lead_models(bundles: list) -> list:
    """The models that read the beat lead: the beat model and the one-lead VT/VF detector."""
    from edge_monitor.contract import BeatInput
    from edge_monitor.ventricular import TASK as VENTRICULAR

    return [
        b
        for b in bundles
        if isinstance(b.contract.input, BeatInput)
        or (b.contract.task == VENTRICULAR and len(b.contract.leads) == 1)
    ]


def _stand_in(sig_name: list[str], bundles: list, source: str) -> int | None:
    """A record from another database may hold no lead II (a Holter's MLIII and V5): rather
    than refuse it, a lead whose QRS looks like lead II's stands in and the user is told which.
    A source with only leads unlike it (V1, aVR) is refused: the user chooses."""
    from edge_monitor.leads import (
        lead_channels,
        lead_key,
        one_channel,
        stand_in_channel,
        unnamed_twice,
    )

    models = _one_lead_models(bundles)
    if not models or all(one_channel(sig_name, b.contract.leads[0]) is not None for b in models):
        same = lead_channels(sig_name, models[0].contract.leads[0]) if models else []
        if unnamed_twice(sig_name, same):
            name, each = shown(lead_key(sig_name[same[0]])), "both" if len(same) == 2 else "all"
            err_console.print(
                f"{shown(source)}: channels {', '.join(map(str, same[:-1]))} and {same[-1]} are "
                f"{each} named {name}, which names no lead: reading channel {same[0]} "
                "(--channel to choose)",
                highlight=False,
            )
        return None
    channel = stand_in_channel(sig_name)
    names = ", ".join(f"{i} {n}" for i, n in enumerate(sig_name)) or "no signals"
    if channel is None:
        raise InputError(
            f"{source} has no lead II and no lead that may stand in for it ({names}): "
            "choose one with --channel"
        )
    listed = shown(", ".join(sig_name))
    err_console.print(
        f"[yellow]warning:[/yellow] {shown(source)} has no lead II ({listed}): reading "
        f"channel {channel} ({shown(sig_name[channel])}) instead (--channel to choose)",
        highlight=False,
    )
    _warn_lead(channel, sig_name, bundles)
    return channel


def _warn_lead(channel: int, sig_name: list[str], bundles: list) -> None:
    """Said once for every model reading a lead other than its own: the beat model's labels
    and the VT/VF alarm alike were validated on lead II only."""
    from edge_monitor.leads import find_channel
    from edge_monitor.ventricular import TASK as VENTRICULAR

    lead = sig_name[channel]
    for b in _one_lead_models(bundles):
        want = b.contract.leads[0]
        if find_channel([lead], want) is None:
            what = "VT/VF alarms" if b.contract.task == VENTRICULAR else "beat labels"
            err_console.print(
                f"[yellow]warning:[/yellow] channel {channel} is lead {shown(lead)}; the "
                f"{shown(b.name)} model expects {escape(want)}: its {what} on {shown(lead)} "
                "are not validated",
                highlight=False,
            )
