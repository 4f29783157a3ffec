"""A second lead for the beat model (the CLI's default where the source has one like lead II):
every beat is classified on both leads of a two-lead source and its class probabilities
averaged, as multi-lead Holter analysers read a beat on every lead.

Why: a beat that looks ambiguous on one lead is often plain on the other. On the held-out svdb
patients (two unnamed leads, ECG1 and ECG2) the students read ECG2 better than the ECG1 they were
trained on, and the mean of the two leads better than ECG1 alone (docs/beat_leads.md). Not every
second lead helps: on MIT-BIH's V1 the model fails, so auto reads only a lead whose name says it
is like lead II (`leads.second_beat_channel`); any other lead only when asked for by number.

The R peaks come from the beat lead's detector; the second lead has its own filter, resampler
and beat context (its own template, amplitude scale and R re-centring, as training read each
lead). Both streams see the same peaks in the same order, so their beats pair one to one; the
second lead's beat may complete a block later (its R re-centred up to 60 ms later), so a beat
waits for its twin at most that long. A second-lead beat whose model answer is invalid, or whose
lead is flat or off, is left out: the beat lead's answer stands alone. The second lead cannot
make a V the beat lead barely sees (`V_FLOOR`): a noisy lead looks ventricular to the model.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from edge_monitor.bundle import Bundle
from edge_monitor.errors import InputError
from edge_monitor.events import BeatEvent
from edge_monitor.leads import second_beat_channel
from edge_monitor.quality import QualityTracker
from edge_monitor.streams import BeatStream, rounded

SETTLE_S = 2.0  # after bad signal on the second lead, its filters settle this long (Monitor's)
# The second lead may confirm or veto a V, never make one alone: a fused V needs the beat lead's
# own V probability at least this high. Electrode motion on the second lead alone otherwise made
# false V beats (a development set's V +P 0.94 -> 0.70); chosen on that set by a rule written
# before it was run (docs/beat_leads.md), as the smallest of 0.05-0.5 that kept V F1 there.
V_FLOOR = 0.1
# The CLI's default (replay, classify, run): on held-out svdb the second lead lifted S and V F1
# with no extra critical alarm, clean or with noise on either lead alone, and left the VT/VF
# alarm and the AF warning as they were (docs/beat_leads.md). `Monitor` itself takes what its
# caller says (None: off), so that a library user or a benchmark never changes behaviour unasked.
DEFAULT = "auto"


class SecondLead:
    """The twin BeatStream on `channel` and the pairing of its beats with the beat lead's."""

    def __init__(
        self,
        bundle: Bundle,
        fs: float,
        channel: int,
        threads: tuple[int, int],
        start: int,
        down: Bundle | None = None,
    ) -> None:
        self.channel = channel
        self.stream = BeatStream(bundle, fs, threads, start, down)
        self.classes = self.stream.classes
        self._primary: deque[BeatEvent] = deque()
        self._twins: deque[BeatEvent | None] = deque()
        self.fused = 0  # beats whose answer is the two leads' mean
        self.quality = QualityTracker(fs, start=start)
        self._bad_until: int | None = None
        self._settle = int(round(SETTLE_S * fs))
        self._fs = fs

    @classmethod
    def of(
        cls, beats: list[BeatStream], choice: int | str | None, lead: int, sig_name: list[str]
    ) -> SecondLead | None:
        """The twin of the first beat stream: on channel `choice`, on the channel
        `leads.second_beat_channel` finds for "auto" (none there: None), or None ("off")."""
        if choice is None or choice == "off" or (choice == "auto" and not beats):
            return None
        if not beats:
            raise InputError("--second-lead needs a beat model")
        n = len(sig_name)
        channel = second_beat_channel(sig_name, lead) if choice == "auto" else choice
        if channel is None:
            return None
        if n == 1:
            raise InputError("--second-lead: the source has one channel; give auto or off")
        if not isinstance(channel, int) or not 0 <= channel < n or channel == lead:
            raise InputError(
                f"--second-lead must be another channel of the source (0-{n - 1}, not the beat "
                f"lead {lead}), auto or off"
            )
        first = beats[0]
        down = first.down_model.bundle if first.down_model is not None else None
        return cls(first.model.bundle, first.fs, channel, first.model.threads, first.origin, down)

    def own_gaps(self, finite: np.ndarray) -> np.ndarray:
        """This lead's missing samples (rows), taken out of the block's `finite` mask: a gap
        in the second lead is its own (held, gated, its twins dropped), never the row's, so
        the beat lead goes on as if it were read alone."""
        gaps = ~finite[:, self.channel]
        finite[:, self.channel] = True
        return gaps

    def push(
        self,
        primary: list[BeatEvent],
        x: np.ndarray,
        off: np.ndarray,
        peaks: list[int],
        gaps: list[tuple[int, int]],
    ) -> list[BeatEvent]:
        """The beat lead's new beats, fused with their twins where both are here (`gaps`: the
        beat lead's, so that both streams close the same beats)."""
        raw = x[:, self.channel]
        filtered = self.stream.filter(raw.reshape(-1, 1))[:, 0]
        for seg in self.quality.push(raw, filtered, off):
            if not seg.ok:
                self._bad_until = seg.end
        self._twins.extend(map(self._trusted, self.stream.push(filtered, peaks, raw, gaps)))
        self._primary.extend(primary)
        return self._pairs()

    def finish(self, primary: list[BeatEvent]) -> list[BeatEvent]:
        self._twins.extend(map(self._trusted, self.stream.finish()))
        self._primary.extend(primary)
        out = self._pairs()
        out += list(self._primary)  # none left in practice: both streams close every peak
        self._primary.clear()
        return out

    def _trusted(self, twin: BeatEvent) -> BeatEvent | None:
        """The twin, unless the second lead was bad from a second before it up to now or had
        not settled since (the Monitor's rule for the beat lead)."""
        if self.quality.current.ok and (
            self._bad_until is None or self._bad_until + self._settle < twin.sample - self._fs
        ):
            return twin
        return None

    def _pairs(self) -> list[BeatEvent]:
        out = []
        while self._primary and self._twins:
            out.append(self._fuse(self._primary.popleft(), self._twins.popleft()))
        return out

    def _fuse(self, beat: BeatEvent, twin: BeatEvent | None) -> BeatEvent:
        if beat.probs is None or twin is None or twin.probs is None:
            return beat
        label, p = fused(self.classes, beat.probs, twin.probs)
        self.fused += 1
        return dataclasses.replace(beat, label=label, probs=rounded(self.classes, p))


def fused(classes: list[str], first: dict, second: dict) -> tuple[str, np.ndarray]:
    """Both leads' mean probabilities and the beat's label: the mean's most likely class, but V
    only where the beat lead (`first`) itself gives V at least `V_FLOOR`."""
    p = np.array([(first[c] + second[c]) / 2 for c in classes])
    allowed = p.copy()
    if "V" in classes and first["V"] < V_FLOOR:
        allowed[classes.index("V")] = -1.0
    return classes[int(allowed.argmax())], p
