"""Storage under load: 8 worker processes x 25 short trials on one host's default storage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from whynet.testing import tiny_config


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_eight_workers_two_hundred_trials_on_the_journal_file(tmp_path: Path) -> None:
    config = tiny_config(search__trials=200, data__n_samples=200, tracking__enabled=False)
    config["space"]["mlp_units"] = [8, 16]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "whynet", "run", "c.yaml", "--workers", "8"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1500,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for word in ("Traceback", "locked", "StorageInternalError", "could not"):
        assert word not in proc.stderr, proc.stderr[-3000:]

    from whynet.search import make_storage

    study = optuna.load_study(
        study_name="tiny", storage=make_storage(str(tmp_path / "whynet.journal"))
    )
    trials = study.trials
    assert len(trials) == 200
    assert sorted(t.number for t in trials) == list(range(200))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["worker"].split(".")[0] for t in trials}) == 8
    for t in trials:
        stored = t.user_attrs["whynet_params"]
        assert t.params["mlp_units_0"] == stored["units"][0]
        assert t.params["learning_rate"] == stored["learning_rate"]
        assert sorted(t.intermediate_values) == [1, 2]
        assert t.value == max(t.intermediate_values.values())
        assert [h["val_accuracy"] for h in t.user_attrs["history"]] == pytest.approx(
            [t.intermediate_values[1], t.intermediate_values[2]], abs=1e-5
        )
