"""Latency timing: interleaved rounds spread every model's calls over the same stretch of time;
how many threads a model's session gets."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.inference import PARALLEL_MIN_MACS, session_threads, time_interleaved
from edge_monitor.streams import ModelRunner


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


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"model": {"macs": 394_144}}, (1, 1)),  # the embedded beat model
        ({"model": {"macs": PARALLEL_MIN_MACS - 1}}, (1, 1)),
        ({"model": {"macs": PARALLEL_MIN_MACS}}, (4, 1)),
        ({"model": {"macs": 0}}, (4, 1)),  # a claim of no work is no claim
        ({"model": {"macs": "394144"}}, (4, 1)),  # a stranger's manifest: not a count
        ({"model": {"macs": True}}, (4, 1)),
        ({"model": {}}, (4, 1)),
        ({}, (4, 1)),
        ([], (4, 1)),
        ({"model": [394_144]}, (4, 1)),
        ({"model": None}, (4, 1)),
    ],
)
def test_a_small_model_runs_on_one_thread_and_any_other_on_the_profiles(manifest, expected):
    assert session_threads(manifest, (4, 1)) == expected


def test_the_monitor_opens_the_embedded_models_on_one_intra_op_thread():
    """The rpi4 profile allows two; every embedded model is under PARALLEL_MIN_MACS."""
    for task in ("arrhythmia", "ventricular", "diagnostic"):
        runner = ModelRunner(load_bundle(embedded_bundle(task)), (2, 1))
        options = runner.session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1), task
        assert runner.threads == (2, 1)  # kept for a companion stream, which decides anew


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    manifest=json_values
    | st.fixed_dictionaries({"model": json_values})
    | st.fixed_dictionaries({"model": st.fixed_dictionaries({"macs": json_values})}),
    intra=st.integers(1, 64),
    inter=st.integers(1, 64),
)
def test_any_manifest_gets_valid_threads_and_never_more_than_the_profile(manifest, intra, inter):
    """A stranger's manifest may say anything about its model: the answer is always the
    profile's threads or one intra-op thread, never an error."""
    got = session_threads(manifest, (intra, inter))
    assert got in ((intra, inter), (1, inter))
