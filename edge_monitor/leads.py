"""Which channel of a source is the lead a model was trained on, and which may stand in for it.

The beat and VT/VF models learnt MIT-BIH's modified lead II. Other databases name it otherwise
(II, ML2, D2, "ECG lead II"), and some record no lead II at all: a Holter's MLIII or V5, a
European ST-T record's MLIII. Leads whose QRS is upright like lead II's may stand in (said to
the user); V1-V3, aVR and aVL may not: their QRS is mostly negative or small, the R-peak detector
double-counts on them and the VT/VF alarm reads their wide complexes as VT (MIT-BIH 212's V1: 125
false V beats and 3 false critical alarms in 10 minutes). Those are read only when asked for.
"""

from __future__ import annotations

__all__ = [
    "LEAD_ALIASES",
    "NOT_ECG",
    "STAND_INS",
    "find_channel",
    "is_ecg",
    "stand_in_channel",
]

# a beat model trained on MIT-BIH's modified lead II accepts a standard lead II (also written
# ML2, D2 or DII), and a one-lead front end whose channel is simply called ECG
LEAD_ALIASES = {"MLII": ("MLII", "II", "ML2", "D2", "DII", "ECG", "ECG1")}
# where none of those is recorded, the leads whose QRS looks most like lead II's (upright, limb
# or left precordial) stand in, in this order
STAND_INS = (
    "MLIII", "III", "D3", "DIII", "AVF", "MLI", "I", "D1", "DI", "V5", "CM5", "V4", "V6", "ML5",
)  # fmt: skip
# named leads that never stand in (a channel of one of these is read only when chosen), and
# signals that are no ECG at all
NOT_ECG = frozenset(
    {"ABP", "ART", "PAP", "CVP", "RESP", "PLETH", "SPO2", "SAO2", "CO2", "EEG", "EMG", "EOG"}
    | {"BP", "NIBP", "ICP", "TEMP", "PULSE", "FLOW", "AIRFLOW", "THOR", "ABDO", "SAT", "PPG"}
)  # a name that begins with one of these ("EEG Fpz-Cz", "Resp (sum)", "SpO2 %") is no ECG
UNSUITABLE = (
    frozenset({"V1", "V2", "V3", "AVR", "AVL", "VX", "VY", "VZ", "X", "Y", "Z", "CM2", "MCL1"})
    | NOT_ECG
)
_KNOWN = frozenset(LEAD_ALIASES["MLII"]) | frozenset(STAND_INS) | UNSUITABLE
# what may follow an "ECG" or "LEAD" prefix that is dropped ("ECG lead II" -> "LEADII" -> "II")
_AFTER_PREFIX = _KNOWN | {"LEAD" + k for k in _KNOWN}


def lead_key(name: str) -> str:
    """`Lead II`, `ml ii`, `ECG lead II` and `MLII` are one lead to a reader; so to us."""
    key = "".join(str(name).split()).upper()
    for prefix in ("ECG", "LEAD"):
        if key.startswith(prefix) and key[len(prefix) :] in _AFTER_PREFIX:
            key = key[len(prefix) :]
    return key


def find_channel(sig_name: list[str], lead: str) -> int | None:
    names = [lead_key(s) for s in sig_name]
    for candidate in map(lead_key, LEAD_ALIASES.get(lead_key(lead), (lead,))):
        if candidate in names:
            return names.index(candidate)
    return None


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
    return next((i for i, n in enumerate(names) if n and n not in UNSUITABLE and is_ecg(n)), None)
