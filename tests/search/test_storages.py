"""Optuna storages other than the default journal file, used for real."""

from __future__ import annotations

import io
from pathlib import Path

import optuna

from whynet.config import parse_config
from whynet.search import run_search
from whynet.testing import tiny_config, written_files


def test_search_on_sqlite_storage_then_resume_it(workdir: Path) -> None:
    db = workdir / "db" / "study.db"
    db.parent.mkdir()
    url = f"sqlite:///{db}"
    cfg = tiny_config(search__storage=url, search__trials=2, tracking__enabled=False)
    first = run_search(parse_config(cfg), stream=io.StringIO())
    assert not first.resumed
    assert first.counts == {"complete": 2, "pruned": 0, "failed": 0}
    # The study is in the SQLite file, and nowhere else.
    assert db.is_file()
    assert not (workdir / "whynet.journal").exists()
    assert not [name for name in written_files(workdir) if name.endswith(".journal")]
    study = optuna.load_study(study_name="tiny", storage=url)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert study.user_attrs["data_fingerprint"]
    before = [(t.number, t.params, t.values) for t in study.trials]

    # The same config resumes the study in that file and adds its trials.
    stream = io.StringIO()
    second = run_search(
        parse_config({**cfg, "search": {**cfg["search"], "trials": 1}}), stream=stream
    )
    assert second.resumed
    assert "Resuming study 'tiny' (2 earlier trials)" in stream.getvalue()
    study = optuna.load_study(study_name="tiny", storage=url)
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert [(t.number, t.params, t.values) for t in study.trials[:2]] == before
    assert study.trials[2].state == optuna.trial.TrialState.COMPLETE
    assert list(second.trials["number"]) == [0, 1, 2]
