"""Serial samples to blocks: millivolts, leads-off rows, filler rows for lost samples."""

import numpy as np

from edge_monitor.recorder import INVALID
from edge_monitor.serial_feed import SampleAssembler
from edge_monitor.wire import Sample


def test_counter_gaps_become_invalid_rows_and_mv_is_scaled():
    asm = SampleAssembler(1, adc_gain=200.0, baseline=1024)
    block = asm.assemble(
        [Sample((1224,), 7), Sample((1024,), 8), Sample(None, 9), Sample((824,), 12)]
    )
    assert block.filled == 2 and asm.filled == 2
    assert block.adc[:, 0].tolist() == [1224, 1024, INVALID, INVALID, INVALID, 824]
    assert block.leads_off.tolist() == [False, False, True, True, True, False]
    assert np.allclose(block.mv[[0, 1, 5], 0], [1.0, 0.0, -1.0])
    assert np.isnan(block.mv[2:5, 0]).all()
    # the counter wraps without a false gap
    asm2 = SampleAssembler(1, 200.0, 1024, counter_modulo=16)
    assert asm2.assemble([Sample((1,), 15), Sample((1,), 0)]).filled == 0
