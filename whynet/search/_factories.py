"""Storages, samplers and pruners from their names in the config."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from whynet._imports import require
from whynet._urls import absolute_sqlite, mask_url
from whynet.exceptions import ConfigError, UserError
from whynet.spaces import SearchSpace

__all__ = [
    "check_storage",
    "check_writable_dir",
    "check_writable_file",
    "make_pruner",
    "make_sampler",
    "make_storage",
]


def _is_url(storage: str) -> bool:
    return "://" in storage


def check_storage(storage: str) -> None:
    """Fail early, before anything is written, if the storage cannot be used.

    Raises:
        UserError: If a storage file's folder is missing or not writable, or
            the URL's scheme is not one Optuna can use.
    """
    if _is_url(storage):
        scheme = storage.split("://", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres", "mysql"):
            raise UserError(
                f"storage {mask_url(storage)!r} has an unknown scheme {scheme!r}. Use a file path "
                "(Optuna journal file), sqlite:///PATH, or postgresql://USER@HOST/DB."
            )
        if scheme == "sqlite":
            path = storage.split(":///", 1)[-1]
            if path and path != ":memory:":
                check_writable_file(Path(path), "storage")
        return
    check_writable_file(Path(storage), "storage")


MIN_FREE_MB = 50


def check_writable_file(path: Path, what: str) -> None:
    """Fail, naming the fix, unless ``path`` can be created or written.

    Raises:
        UserError: If its folder is missing, not writable, read-only or full.
    """
    if path.exists():
        if path.is_dir():
            raise UserError(f"{what} {str(path)!r} is a folder; give a file path.")
        if not os.access(path, os.W_OK):
            raise UserError(
                f"{what} file {str(path)!r} is not writable. Fix its permissions or choose "
                "another path."
            )
        _check_free_space(path.parent, what)
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(
            f"the folder of the {what} {str(path)!r} does not exist. Create {str(folder)!r} "
            "or choose another path."
        )
    check_writable_dir(folder, what)


def check_writable_dir(path: Path, what: str) -> None:
    """Fail unless ``path`` (or the nearest folder above it that exists) is writable.

    Raises:
        UserError: If that folder is not writable, is on a read-only file
            system, or has less than 50 MiB free.
    """
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(
            f"cannot write the {what} {str(path)!r}: {str(probe)!r} is a file, not a folder. "
            "Choose another path."
        )
    if not os.access(probe, os.W_OK):
        raise UserError(
            f"cannot write the {what} {str(path)!r}: the folder {str(probe)!r} is not "
            "writable (or is on a read-only file system). Run from a writable working "
            "directory or choose another path."
        )
    _check_free_space(probe, what)


def _check_free_space(folder: Path, what: str) -> None:
    free_mb = shutil.disk_usage(folder).free / 2**20
    if free_mb < MIN_FREE_MB:
        raise UserError(
            f"cannot write the {what} in {str(folder)!r}: only {free_mb:.1f} MiB free there, "
            f"and whynet needs at least {MIN_FREE_MB} MiB. Free some space or choose another "
            "path."
        )


def make_storage(storage: str) -> Any:
    """An Optuna storage for a file path or a database URL.

    A plain path gives Optuna's journal file storage, which several
    processes on one host can share safely; a URL gives an RDB storage.
    """
    import optuna

    if _is_url(storage):
        kwargs: dict[str, Any] = {}
        if storage.startswith("sqlite"):
            # SQLite locks under concurrent writers; wait rather than fail.
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
        return optuna.storages.RDBStorage(absolute_sqlite(storage), **kwargs)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(Path(storage).resolve())))


def make_sampler(name: str, *, seed: int, space: SearchSpace) -> Any:
    """An Optuna sampler by name, seeded."""
    import optuna

    if name == "tpe":
        # Multivariate TPE with groups handles conditional parameters
        # (an MLP's widths, a CNN's filters) instead of sampling them blindly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # constant_liar: parallel workers do not all sample next to a
            # promising point another worker is still training.
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True
            )
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return _grid_sampler(space.grid_points(), seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if name == "gp":
        require("torch", extra="gp", purpose="the 'gp' sampler (Optuna's GPSampler)")
        return optuna.samplers.GPSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ConfigError(f"unknown sampler {name!r}")


def make_pruner(name: str, *, max_epochs: int) -> Any:
    """An Optuna pruner by name; steps are epochs."""
    import optuna

    if name == "hyperband":
        return _hyperband(max_epochs)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}")


def _hyperband(max_epochs: int) -> Any:
    """Hyperband's pruning, with one sampler model over all its brackets (as BOHB).

    Optuna's ``HyperbandPruner`` also splits the *sampler's* view of the study
    by bracket: each bracket's TPE sees only that bracket's trials and spends
    its first 10 on random start-up. With 20 epochs there are 3 brackets, so a
    30-trial search got about 6 model-guided trials instead of 20. Wrapping the
    pruner keeps its pruning decisions, made within each bracket exactly as
    before, while the sampler learns from every trial, as BOHB does (Falkner et
    al., 2018).
    """
    import optuna

    class SharedModelHyperband(optuna.pruners.BasePruner):
        def __init__(self) -> None:
            self.hyperband = optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=max_epochs, reduction_factor=3
            )

        def prune(self, study: Any, trial: Any) -> bool:
            return bool(self.hyperband.prune(study, trial))

    return SharedModelHyperband()


GRID_PARAM = "whynet_grid_point"


def _grid_sampler(points: list[dict[str, Any]], *, seed: int) -> Any:
    import optuna

    class DistinctGridSampler(optuna.samplers.GridSampler):
        """A grid over the distinct trials of a conditional space, for an ask/tell loop.

        Optuna's ``GridSampler`` takes the Cartesian product of every
        parameter, including the widths of layers that a network does not
        have, and so runs the same network several times. Here the grid has
        one dimension, the index of a point of
        :meth:`~whynet.spaces.SearchSpace.grid_points`, and each parameter a
        trial asks for is read from its point. Optuna's bookkeeping (which
        points are taken, seeded choice, ``is_exhausted``) is unchanged.

        ``GridSampler`` also calls ``study.stop()`` when the grid is used up,
        which only works inside ``study.optimize``. whynet owns its loop and
        asks :meth:`is_exhausted` before each trial instead.
        """

        def __init__(self) -> None:
            super().__init__({GRID_PARAM: list(range(len(points)))}, seed=seed)
            self.points = points

        def sample_independent(
            self, study: Any, trial: Any, param_name: str, param_distribution: Any
        ) -> Any:
            grid_id = trial.system_attrs.get("grid_id")
            if grid_id is None:
                raise ValueError(
                    "All parameters must be specified when using GridSampler with enqueue_trial."
                )
            point = self.points[grid_id]
            if param_name not in point:
                raise ValueError(f"parameter {param_name!r} is not in grid point {point}")
            return point[param_name]

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return DistinctGridSampler()
