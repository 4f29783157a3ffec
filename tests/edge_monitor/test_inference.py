"""Latency timing: interleaved rounds spread every model's calls over the same stretch of time."""

from edge_monitor.inference import time_interleaved


def test_interleaved_rounds_take_turns_and_spread_the_calls():
    order: list[str] = []
    calls = {name: (lambda i, n=name: order.append(n)) for name in ("teacher", "int8")}
    taken = time_interleaved(calls, {"teacher": 7, "int8": 10}, rounds=3, warmup=2)
    assert order[:4] == ["teacher", "teacher", "int8", "int8"]  # the warm-up, once each
    timed = order[4:]
    assert (
        timed
        == ["teacher"] * 3
        + ["int8"] * 4
        + ["teacher"] * 2
        + ["int8"] * 3
        + ["teacher"] * 2
        + ["int8"] * 3
    )
    assert [len(r) for r in taken["teacher"]] == [3, 2, 2]
    assert [len(r) for r in taken["int8"]] == [4, 3, 3]
    assert all(t >= 0 for r in taken["int8"] for t in r)
