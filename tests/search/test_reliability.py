"""Trial errors, unusable locations and secrets: each caused for real."""

from __future__ import annotations

import importlib.abc
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import optuna
import pytest
from mlflow import MlflowClient

import whynet
from whynet._urls import mask_url
from whynet.config import parse_config
from whynet.exceptions import UserError
from whynet.testing import tiny_config, written_files


def raising_trainer(config, slot):
    """A Keras trainer whose second trial raises an error of its own."""
    from whynet.trainers import KerasTrainer

    class Trainer(KerasTrainer):
        def fit(self, params, data, *, report, seed):
            if seed == config.seed + 1:
                raise ValueError("this combination cannot be built: widths 0x0")
            return super().fit(params, data, report=report, seed=seed)

    return Trainer(early_stopping_patience=0, device=slot.label)


def test_a_trial_that_raises_fails_alone_with_its_error_and_traceback(workdir: Path) -> None:
    from whynet.search import run_search

    result = run_search(
        parse_config(tiny_config(search__trials=3)),
        progress=False,
        trainer_factory=raising_trainer,
    )
    assert result.counts == {"complete": 2, "pruned": 0, "failed": 1}
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    [failed] = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'FAILED'")
    assert failed.data.tags["whynet.trial_number"] == "1"
    assert failed.data.tags["whynet.fail_reason"] == "error"
    assert failed.data.tags["whynet.error"] == (
        "ValueError: this combination cannot be built: widths 0x0"
    )
    traceback_file = client.download_artifacts(failed.info.run_id, "traceback.txt", str(workdir))
    text = Path(traceback_file).read_text()
    assert "Traceback (most recent call last)" in text and "in fit" in text


@pytest.fixture
def small_mount(tmp_path: Path):
    """Mount a tiny tmpfs (needs root); yields a function taking mount options."""
    mounts: list[Path] = []

    def make(options: str) -> Path:
        target = tmp_path / f"mnt{len(mounts)}"
        target.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
        mounts.append(target)
        return target

    yield make
    for target in mounts:
        subprocess.run(["umount", str(target)], capture_output=True)


def test_read_only_working_directory_fails_before_training(small_mount, monkeypatch) -> None:
    readonly = small_mount("ro,size=1m")
    monkeypatch.chdir(readonly)
    with pytest.raises(UserError, match=r"not writable \(or is on a read-only file system\)"):
        whynet.search(tiny_config(), progress=False)


def test_full_disk_fails_before_training(small_mount, monkeypatch) -> None:
    full = small_mount("size=1m")
    monkeypatch.chdir(full)
    with pytest.raises(UserError, match="MiB free there, and whynet needs at least 50 MiB"):
        whynet.search(tiny_config(), progress=False)
    assert written_files(full) == []


def test_unusable_paths_fail_before_anything_is_written(workdir: Path) -> None:
    (workdir / "afile").write_text("x")
    cases = [
        ({"output_dir": "afile/runs"}, "is a file, not a folder"),
        ({"search": {**tiny_config()["search"], "storage": "nowhere/study.log"}}, "does not exist"),
        ({"tracking": {"uri": "sqlite:///afile/mlflow.db"}}, "does not exist"),
        (
            {"search": {**tiny_config()["search"], "storage": "redis://localhost/0"}},
            "unknown scheme 'redis'",
        ),
    ]
    for change, needle in cases:
        with pytest.raises(UserError, match=needle):
            whynet.search({**tiny_config(), **change}, progress=False)
    assert written_files(workdir) == ["afile"]


def _postgres_url() -> str:
    """The test server's URL; skip only when none is set or it refuses the connection.

    A missing driver or any other error fails the test: it is a bug, not a
    missing server.
    """
    url = os.environ.get("WHYNET_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set WHYNET_TEST_POSTGRES_URL to a PostgreSQL server to run this test")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {mask_url(url)} refuses the connection: {exc}")
    return url


class _Without(importlib.abc.MetaPathFinder):
    """An import finder for which one package is not installed."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == self.package or name.startswith(self.package + "."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def test_postgres_tests_skip_only_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 1: the server refuses, and that alone skips.
    monkeypatch.setenv("WHYNET_TEST_POSTGRES_URL", "postgresql://postgres:pw@127.0.0.1:1/test")
    with pytest.raises(pytest.skip.Exception, match=r"postgres:\*\*\*@127.0.0.1:1/test refuses"):
        _postgres_url()
    # A missing driver is a broken install, not a missing server: it fails.
    monkeypatch.delitem(sys.modules, "psycopg", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_Without("psycopg"), *sys.meta_path])
    with pytest.raises(ModuleNotFoundError, match="psycopg"):
        _postgres_url()


@pytest.mark.postgres
def test_passwords_in_storage_urls_never_reach_mlflow_logs_or_output(workdir: Path) -> None:
    base = _postgres_url()
    secret = "s3cr3t-" + uuid.uuid4().hex[:8]
    # Trust authentication ignores the password, so the URL works as given.
    user_part, host_part = base.split("://", 1)[1].split("@", 1)
    url = f"postgresql://{user_part.split(':')[0]}:{secret}@{host_part}"
    study = f"secret-{uuid.uuid4().hex[:8]}"
    stream = io.StringIO()
    from whynet.search import run_search

    try:
        run_search(
            parse_config(tiny_config(study=study, search__trials=2, search__storage=url)),
            stream=stream,
        )
        assert secret not in stream.getvalue()
        assert "***" in stream.getvalue()
        client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
        exp = client.get_experiment_by_name(study)
        for run in client.search_runs([exp.experiment_id]):
            blob = repr(run.data.params) + repr(run.data.tags)
            assert secret not in blob
            for artifact in ("config.yaml", "results/trials.csv"):
                try:
                    path = client.download_artifacts(run.info.run_id, artifact, str(workdir))
                except Exception:
                    continue
                assert secret not in Path(path).read_text()
        for name in written_files(workdir):
            if name.endswith((".csv", ".yaml", ".txt", ".md")):
                assert secret not in (workdir / name).read_text()
    finally:
        from whynet.search import make_storage

        optuna.delete_study(study_name=study, storage=make_storage(url))
