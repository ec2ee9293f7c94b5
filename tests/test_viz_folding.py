"""Lesson 15's folding explorer shows what qlearn.networks.convnet computes."""
import numpy as np

from qlearn.networks import convnet
from qlearn.viz.networks import folding


def test_explorer_shows_the_ranges_levels_and_accuracy_qlearn_computes():
    ex = folding.folding_explorer()
    net = convnet.pretrained()
    for folded in (False, True):
        for pc in (False, True):
            ex.controls["folded"].value, ex.controls["per_channel"].value = folded, pc
            ex.controls["bits"].value, ex.controls["layer"].value = 4, 2
            W = (net.fold() if folded else net).quant_layers()[2].W
            np.testing.assert_array_equal(ex.fig.data[0].y, convnet.channel_ranges(W))
            np.testing.assert_array_equal(ex.fig.data[2].y, convnet.levels_used(W, bits=4, per_channel=pc))
            acc = folding.shipped_table()[folded, pc, 4]
            assert f"<b>{acc:.1%}</b>" in ex.readout.value
    assert ex.last_error is None
