"""local_rr_msd, the robust irregularity feature, and the device feeding each model the RR
features its contract names (bundles from before the feature read six)."""

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.beats import RR_FEATURES, BeatSpec, beat_contexts
from tests.edge_monitor.test_beats import synthetic_beats

MSD, CV = RR_FEATURES.index("local_rr_msd"), RR_FEATURES.index("local_rr_cv")


def test_a_pause_inflates_the_cv_but_not_the_msd():
    """Atrial beats at a steady coupling with a pause among them (MIT-BIH 232's pattern): the cv
    reads them as irregular as atrial fibrillation, the median successive difference does not."""
    spec = BeatSpec()
    x, peaks = synthetic_beats([0.7] * 14 + [2.5] + [0.7] * 4, spec.fs)
    _, _, rr = beat_contexts(x, peaks, spec)
    after_pause = 17  # its last 10 RR hold the 2.5 s pause
    assert rr[after_pause, CV] > 0.4
    assert rr[after_pause, MSD] < 0.02


def test_a_randomly_irregular_rhythm_reads_high_on_both():
    spec = BeatSpec()
    rng = np.random.default_rng(0)
    x, peaks = synthetic_beats(list(rng.uniform(0.45, 1.1, 40)), spec.fs)
    _, _, rr = beat_contexts(x, peaks, spec)
    assert np.median(rr[15:, MSD]) > 0.15 and np.median(rr[15:, CV]) > 0.15


@settings(max_examples=40, deadline=None)
@given(
    base=st.floats(0.4, 1.5),
    jitter=st.lists(st.floats(-0.2, 0.2), min_size=15, max_size=30),
    scale=st.sampled_from([0.5, 2.0]),
)
def test_msd_is_a_ratio_bounded_and_zero_for_a_regular_rhythm(base, jitter, scale):
    """Like the other features, a ratio (the same at another heart rate), in [0, 5]."""
    spec = BeatSpec()
    rr_s = [max(base + j, 0.25) for j in jitter]
    _, peaks = synthetic_beats(rr_s, spec.fs)
    x, scaled = synthetic_beats([r * scale for r in rr_s], spec.fs)
    rr = beat_contexts(x, scaled, spec)[2][:, MSD]
    plain = beat_contexts(synthetic_beats(rr_s, spec.fs)[0], peaks, spec)[2][:, MSD]
    assert np.all((rr >= 0) & (rr <= 5))
    # R peaks fall on whole samples (cumulative float sums rounded down): a few samples off
    np.testing.assert_allclose(rr, plain, atol=3 / (min(rr_s) * min(scale, 1.0) * spec.fs))
    regular = beat_contexts(*synthetic_beats([base] * 15, spec.fs), spec)[2][:, MSD]
    assert np.all(regular < 0.02)


def _rr_reader(bundle, names):
    """A real ONNX model that takes the beat and `names` RR features (and answers zeros), under
    the embedded contract naming them: what a bundle trained on those features looks like."""
    from onnx import TensorProto, helper

    length = bundle.contract.inputs["beat"][2]
    k = len(names)
    nodes = [
        helper.make_node("ReduceMean", ["beat"], ["b"], axes=[1, 2], keepdims=0),
        helper.make_node("ReduceMean", ["rr"], ["r"], axes=[1], keepdims=0),
        helper.make_node("Add", ["b", "r"], ["s"]),
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Add", ["base", "z"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "rr-reader",
        [
            helper.make_tensor_value_info("beat", TensorProto.FLOAT, [1, 2, length]),
            helper.make_tensor_value_info("rr", TensorProto.FLOAT, [1, k]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])],
        [
            helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]),
            helper.make_tensor("base", TensorProto.FLOAT, [1, 4], [0.0] * 4),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    c = bundle.contract
    contract = replace(
        c,
        inputs={"beat": [1, 2, length], "rr": [1, k]},
        input=replace(c.input, rr_features=tuple(names)),
    )
    return replace(bundle, contract=contract, model_bytes=model.SerializeToString())


def test_the_device_feeds_a_model_the_rr_features_its_contract_names(sample_record):
    from edge_monitor.bench import capture_feeds
    from edge_monitor.bundle import embedded_bundle, load_bundle

    embedded = load_bundle(embedded_bundle("arrhythmia"))
    assert embedded.contract.input.rr_features == RR_FEATURES[:6]  # trained before msd
    some = ("local_rr_msd", "pre_rr_local", "local_rr_cv")

    def fed(bundle):
        feeds = capture_feeds(bundle, sample_record, limit=200)
        return np.concatenate([f["rr"] for f in feeds])

    every = fed(_rr_reader(embedded, RR_FEATURES))
    assert every.shape == (200, len(RR_FEATURES)) and every[:, MSD].max() > 0
    np.testing.assert_array_equal(fed(embedded), every[:, :6])
    np.testing.assert_array_equal(
        fed(_rr_reader(embedded, some)), every[:, [RR_FEATURES.index(n) for n in some]]
    )
