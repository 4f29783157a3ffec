"""Which channel of a source is the lead a model was trained on, and which may stand in for it.

The beat and VT/VF models learnt MIT-BIH's modified lead II. Other databases name it otherwise
(II, ML2, D2, "ECG lead II"), and some record no lead II at all: a Holter's MLIII or V5, a
European ST-T record's MLIII. Leads whose QRS is upright like lead II's may stand in (said to
the user); V1-V3, aVR and aVL may not: their QRS is mostly negative or small, the R-peak detector
double-counts on them and the VT/VF alarm reads their wide complexes as VT (MIT-BIH 212's V1: 125
false V beats and 3 false critical alarms in 10 minutes). Those are read only when asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge_monitor.errors import InputError

__all__ = [
    "LEAD_ALIASES",
    "NOT_ECG",
    "STAND_INS",
    "TWELVE_LEADS",
    "LeadMatch",
    "find_channel",
    "is_ecg",
    "lead_channels",
    "match_leads",
    "model_lead_key",
    "one_channel",
    "stand_in_channel",
    "unnamed_twice",
]

# a beat model trained on MIT-BIH's modified lead II accepts a standard lead II (also written
# ML2, D2 or DII), and a one-lead front end whose channel is simply called ECG
LEAD_ALIASES = {"MLII": ("MLII", "II", "ML2", "D2", "DII", "ECG", "ECG1")}
# where none of those is recorded, the leads whose QRS looks most like lead II's (upright, limb
# or left precordial) stand in, in this order
STAND_INS = (
    "MLIII", "III", "D3", "DIII", "AVF", "MLI", "I", "D1", "DI", "V5", "CM5", "V4", "V6", "ML5",
    "MV5", "MV4", "MV6",
)  # fmt: skip
# named leads that never stand in (a channel of one of these is read only when chosen), and
# signals that are no ECG at all
NOT_ECG = frozenset(
    {"ABP", "ART", "PAP", "CVP", "RESP", "PLETH", "SPO2", "SAO2", "CO2", "EEG", "EMG", "EOG"}
    | {"BP", "NIBP", "ICP", "TEMP", "PULSE", "FLOW", "AIRFLOW", "THOR", "ABDO", "SAT", "PPG"}
)  # a name that begins with one of these ("EEG Fpz-Cz", "Resp (sum)", "SpO2 %") is no ECG
UNSUITABLE = (
    frozenset({"V1", "V2", "V3", "AVR", "AVL", "VX", "VY", "VZ", "X", "Y", "Z", "CM2", "MCL1"})
    | frozenset({"MV1", "MV2", "MV3"})  # the Long-Term ST database's modified chest leads
    | NOT_ECG
)
_UNNAMED_ECG = re.compile(r"ECG\d*")  # a Holter's channels named by number only (lead_key form)
_KNOWN = frozenset(LEAD_ALIASES["MLII"]) | frozenset(STAND_INS) | UNSUITABLE
# the standard 12 leads as a multi-lead contract names them; the limb leads' Einthoven spellings
# (D1, DI, ...) are the same leads. MLII, ML2 and the other modified chest-placed limb leads are
# not: a 12-lead model never reads them as its I, II or III
TWELVE_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
_EINTHOVEN = {"D1": "I", "DI": "I", "D2": "II", "DII": "II", "D3": "III", "DIII": "III"}
# what may follow an "ECG" or "LEAD" prefix that is dropped ("ECG lead II" -> "LEADII" -> "II")
_AFTER_PREFIX = _KNOWN | {"LEAD" + k for k in _KNOWN}


# characters that join the words of a lead name: underscores and dots anywhere, a hyphen
# after a letter or digit (`Lead-II`; a leading `-` means inverted)
_JOINERS = re.compile(r"[_.]|(?<=[0-9A-Za-z])-")


def lead_key(name: str) -> str:
    """`Lead II`, `ml ii`, `ECG lead II`, `ECG_II`, `Lead-II` and `MLII` are one lead to a
    reader; so to us. A leading minus stays: `-aVR` is aVR inverted (Cabrera), not aVR."""
    joined = _JOINERS.sub("", str(name))
    key = "".join(joined.split()).upper().strip(",;:")  # BIDMC writes `II,` and `V,`
    for prefix in ("ECG", "LEAD"):
        if key.startswith(prefix) and key[len(prefix) :] in _AFTER_PREFIX:
            key = key[len(prefix) :]
    return key


def model_lead_key(name: str) -> str:
    """The key a multi-lead contract matches on: `lead_key`, with D1/DI, D2/DII and D3/DIII read
    as the limb leads I, II and III (so `Lead I`, `D1`, `di` all feed a 12-lead model's I)."""
    key = lead_key(name)
    return _EINTHOVEN.get(key, key)


def lead_channels(sig_name: list[str], lead: str) -> list[int]:
    """Every channel that is `lead` for a one-lead model: those named like the first of its
    aliases the source has (MLII before II before ML2 ...), and any channel that is the same
    limb lead under another spelling (II, D2 and DII are one lead; MLII is not II). More than
    one: the source is ambiguous (`one_channel` refuses it)."""
    names = [lead_key(s) for s in sig_name]
    for candidate in map(lead_key, LEAD_ALIASES.get(lead_key(lead), (lead,))):
        if candidate in names:
            same = _EINTHOVEN.get(candidate, candidate)
            return [i for i, n in enumerate(names) if _EINTHOVEN.get(n, n) == same]
    return []


def find_channel(sig_name: list[str], lead: str) -> int | None:
    """The first channel that is `lead` for a one-lead model, else None."""
    found = lead_channels(sig_name, lead)
    return found[0] if found else None


def one_channel(sig_name: list[str], lead: str) -> int | None:
    """The one channel that is `lead` for a one-lead model, else None; two that both are is a
    refusal naming them (reading the first silently could read the wrong electrode), unless
    their name names no lead at all (`unnamed_twice`): then the first."""
    found = lead_channels(sig_name, lead)
    if len(found) > 1 and not unnamed_twice(sig_name, found):
        said = _twice(sig_name, found, lead_key(sig_name[found[0]]))
        raise InputError(f"{said}: choose one with --channel")
    return found[0] if found else None


def unnamed_twice(sig_name: list[str], channels: list[int]) -> bool:
    """Channels that all carry one Holter name that names no lead (`ECG`, as both of every MIT-BIH
    Malignant Ventricular Ectopy record's): their names tell the electrodes apart no better than
    the channel numbers do, so refusing them would refuse the whole database for nothing."""
    keys = {lead_key(sig_name[i]) for i in channels}
    return len(channels) > 1 and len(keys) == 1 and bool(_UNNAMED_ECG.fullmatch(keys.pop()))


@dataclass(frozen=True)
class LeadMatch:
    """A multi-lead model's leads found in a source: `channels[i]` feeds the model's i-th lead
    (the model's order, not the file's); None where the source lacks it."""

    leads: list[str]
    sig_name: list[str]
    channels: list[int | None]
    duplicates: dict[str, list[int]]  # a lead named by more than one channel -> those channels

    @property
    def missing(self) -> list[str]:
        return [lead for lead, c in zip(self.leads, self.channels, strict=True) if c is None]

    @property
    def found(self) -> int:
        return len(self.leads) - len(self.missing)

    def duplicate_line(self) -> str:
        """One line naming the first lead two channels claim ("" when none does)."""
        if not self.duplicates:
            return ""
        lead, chans = next(iter(self.duplicates.items()))
        return _twice(self.sig_name, chans, lead)


def match_leads(sig_name: list[str], leads: list[str]) -> LeadMatch:
    """A multi-lead contract's `leads` against a source's channel names, through
    `model_lead_key` on both sides: case, spaces and a `Lead `/`ECG ` prefix never matter."""
    names = [model_lead_key(s) for s in sig_name]
    channels: list[int | None] = []
    duplicates: dict[str, list[int]] = {}
    for lead in leads:
        key = model_lead_key(lead)
        found = [i for i, n in enumerate(names) if n == key]
        channels.append(found[0] if found else None)
        if len(found) > 1:
            duplicates[lead] = found
    return LeadMatch(list(leads), list(sig_name), channels, duplicates)


def _twice(sig_name: list[str], channels: list[int], lead: str) -> str:
    named = ", ".join(f"{i} ({sig_name[i]})" for i in channels[:-1])
    last = channels[-1]
    each = "both" if len(channels) == 2 else "all"
    return f"channels {named} and {last} ({sig_name[last]}) are {each} lead {lead}"


def is_ecg(name: str) -> bool:
    key = lead_key(name)
    return not any(key.startswith(other) for other in NOT_ECG)


def stand_in_channel(sig_name: list[str]) -> int | None:
    """The channel a lead-II model reads when the source has no lead II: the first of STAND_INS
    recorded, else the first channel that is neither a lead unlike lead II nor another signal
    (a one-lead board named anything, `ch0`), else None: the user must choose."""
    names = [lead_key(s) for s in sig_name]
    for lead in STAND_INS:
        if lead in names:
            return names.index(lead)
    return next((i for i, n in enumerate(names) if _like_lead_ii(n)), None)


def _like_lead_ii(key: str) -> bool:
    """A named ECG lead (its `lead_key`) that is not unlike lead II: may stand in, or be read
    beside it."""
    return bool(key) and key not in UNSUITABLE and is_ecg(key)


def second_beat_channel(sig_name: list[str], beat_lead: int) -> int | None:
    """The channel `--second-lead auto` reads beside the beat lead. Auto is the default, so it
    reads only what a channel's name vouches for: the first of lead II's own spellings, then of
    STAND_INS' order (a 12-lead source reads III beside II whatever its channel order), else a
    Holter's unnamed ECG channel (`ECG`, `ECG2`: svdb's second lead); never V1-V3, aVR, aVL, a
    vector lead, nor a name that tells nothing or another lead (`ch1`, `V4R`, `V7`, `-V1`: a
    channel number reads those). None: the beat lead alone."""
    names = [lead_key(s) for s in sig_name]
    order = [*map(lead_key, LEAD_ALIASES["MLII"]), *STAND_INS]
    rank = {lead: k for k, lead in reversed(list(enumerate(order)))}
    others = [
        i
        for i, n in enumerate(names)
        if i != beat_lead and (n in rank or _UNNAMED_ECG.fullmatch(n))
    ]
    return min(others, key=lambda i: rank.get(names[i], len(rank)), default=None)
