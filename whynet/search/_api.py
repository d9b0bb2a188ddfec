"""The ``whynet.search(...)`` function of the top-level API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from whynet.config import RunConfig, load_config

if TYPE_CHECKING:
    from whynet.search._result import SearchResult

_OVERRIDES = {
    "trials": "search.trials",
    "timeout": "search.timeout",
    "study": "study",
    "storage": "search.storage",
    "tracking_uri": "tracking.uri",
    "seed": "seed",
    "sampler": "search.sampler",
    "pruner": "search.pruner",
    "max_epochs": "training.max_epochs",
    "output_dir": "output_dir",
    "workers": "execution.workers",
    "backend": "training.backend",
}


def search(
    config: RunConfig | str | Path | dict[str, Any] | None = None,
    *,
    x: Any = None,
    y: Any = None,
    frame: Any = None,
    target: str | None = None,
    progress: bool = True,
    **overrides: Any,
) -> SearchResult:
    """Search for the network that works best on the data.

    Args:
        config: A :class:`RunConfig`, a path to a YAML config, a dict of
            config values, or ``None`` for the defaults (digits data).
        x: Features as a NumPy array, instead of ``config.data``.
        y: Targets for ``x``.
        frame: A pandas DataFrame, instead of ``config.data``; needs ``target``.
            With ``x`` or ``frame`` and no ``study``, the study (and MLflow
            experiment) is named after the data: ``whynet-frame-<fingerprint>``
            or ``whynet-arrays-<fingerprint>`` (its first 8 hex digits), and
            ``data.source`` is recorded as ``frame`` or ``arrays``.
        target: The target column of ``frame``.
        progress: Show progress on standard error.
        **overrides: Shortcuts for common keys: ``trials``, ``timeout``,
            ``study``, ``storage``, ``tracking_uri``, ``seed``, ``sampler``,
            ``pruner``, ``max_epochs``, ``output_dir``, ``workers``, ``backend``.

    Returns:
        The best parameters, the best model, test metrics and the trials table.

    Raises:
        ConfigError: If the config is invalid.
        DataError: If the data cannot be used.
        ResumeError: If an existing study of that name differs from this search.

    Example:
        >>> import whynet
        >>> result = whynet.search(trials=5, max_epochs=5)  # doctest: +SKIP
        >>> result.test_metrics["test_accuracy"]  # doctest: +SKIP
        0.96
    """
    from whynet.config import parse_config
    from whynet.exceptions import ConfigError
    from whynet.search._runner import run_search

    if isinstance(config, RunConfig):
        cfg = config
    elif config is None:
        cfg = RunConfig()
    elif isinstance(config, dict):
        cfg = parse_config(config)
    else:
        cfg = load_config(config)
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise ConfigError(
            f"unknown keyword argument(s) {unknown} for whynet.search; allowed: "
            f"{sorted(_OVERRIDES)}. Other keys go in the config."
        )
    cfg = cfg.with_overrides(**{_OVERRIDES[k]: v for k, v in overrides.items()})
    dataset = None
    if x is not None or frame is not None:
        from whynet import data as data_module

        common: dict[str, Any] = {
            "task": cfg.data.task,
            "val_fraction": cfg.data.val_fraction,
            "test_fraction": cfg.data.test_fraction,
            "seed": cfg.seed,
            "n_samples": cfg.data.n_samples,
            "missing": cfg.data.missing,
        }
        if frame is not None:
            if target is None:
                raise ConfigError("`frame` needs `target`, the name of the target column.")
            dataset = data_module.from_frame(frame, target=target, **common)
        else:
            if y is None:
                raise ConfigError("`x` needs `y`, the targets.")
            dataset = data_module.from_arrays(x, y, **common)
        # Named after the data, not after `config.data` (which they replace):
        # another frame in the same folder is another study, not a resume error.
        kind = "frame" if frame is not None else "arrays"
        named = {"data.source": kind}
        if cfg.study is None:
            named["study"] = f"whynet-{kind}-{dataset.spec.fingerprint[:8]}"
        cfg = cfg.with_overrides(**named)
    return run_search(cfg, dataset=dataset, progress=progress)
