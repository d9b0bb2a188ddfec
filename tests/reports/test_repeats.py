"""Repeats share a split per seed, and the split id tells splits apart."""

from __future__ import annotations

import numpy as np
import pytest

from whynet.config import RunConfig
from whynet.data import load_dataset
from whynet.reports._repeats import repeat_dataset, repeat_seed, split_id


def test_repeat_uses_base_seed_plus_repeat() -> None:
    config = RunConfig(seed=7, data={"source": "wine"})
    dataset, sid = repeat_dataset(config, 2)
    expected = load_dataset(config.data, seed=9)
    np.testing.assert_array_equal(dataset.test.x, expected.test.x)
    np.testing.assert_array_equal(dataset.train.y, expected.train.y)
    assert sid == split_id(expected.test)
    assert repeat_seed(config, 2) == 9


def test_split_id_is_stable_and_differs_between_repeats() -> None:
    config = RunConfig(data={"source": "iris"})
    ids = [repeat_dataset(config, r)[1] for r in (0, 0, 1, 2)]
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert len(ids[0]) == 12


def test_negative_repeat_is_refused() -> None:
    with pytest.raises(ValueError, match="`repeat` must be 0 or more"):
        repeat_dataset(RunConfig(data={"source": "iris"}), -1)
