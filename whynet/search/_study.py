"""Create a study, or resume one after checking that it is the same search."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from whynet import __version__
from whynet.data import DatasetSpec
from whynet.exceptions import ResumeError
from whynet.spaces import SearchSpace
from whynet.trainers import score_metric

__all__ = ["OpenedStudy", "open_study", "study_directions"]


def study_directions(
    spec: DatasetSpec, objectives: tuple[str, ...]
) -> list[Literal["maximize", "minimize"]]:
    """Optuna directions of the objectives: the score's, then smaller models."""
    _, direction = score_metric(spec.task)
    smaller: list[Literal["maximize", "minimize"]] = ["minimize" for _ in objectives[1:]]
    return [direction, *smaller]


@dataclass(frozen=True)
class OpenedStudy:
    """A study ready for trials, and whether it existed before."""

    study: Any
    resumed: bool
    existing_trials: int


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    out = []
    if added:
        out.append(f"parameters added: {', '.join(added)}")
    if removed:
        out.append(f"parameters removed: {', '.join(removed)}")
    for key in changed:
        out.append(f"{key} changed from {json.dumps(old[key])} to {json.dumps(new[key])}")
    return out


def open_study(
    *,
    storage: Any,
    study_name: str,
    spec: DatasetSpec,
    space: SearchSpace,
    objectives: tuple[str, ...],
    sampler: Any,
    pruner: Any,
) -> OpenedStudy:
    """Load the study if it exists, else create it.

    A resumed study must search the same space on the same data with the same
    objectives; otherwise nothing is written and the error says what differs.

    Raises:
        ResumeError: If the existing study differs from this search.
    """
    import optuna

    directions = study_directions(spec, objectives)
    names = [s.study_name for s in storage.get_all_studies()]
    space_desc = json.loads(json.dumps(space.describe()))
    if study_name in names:
        study = optuna.load_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
        )
        attrs = study.user_attrs
        problems = []
        old_fp = attrs.get("data_fingerprint")
        if old_fp is not None and old_fp != spec.fingerprint:
            problems.append(
                f"data fingerprint changed from {old_fp} to {spec.fingerprint} "
                "(different data, seed or split fractions)"
            )
        old_dirs = [d.name.lower() for d in study.directions]
        if old_dirs != directions:
            problems.append(f"objectives changed from {old_dirs} to {directions}")
        old_space = attrs.get("space")
        if old_space is not None:
            problems += [f"space: {d}" for d in _differences(old_space, space_desc)]
        if problems:
            problem = (
                f"study {study_name!r} exists and differs from this search: "
                + "; ".join(problems)
                + ". Use the same config to resume it, or start a new study with "
            )
            raise ResumeError(
                problem + "study='NEW_NAME' (or `study:` in the config).",
                cli_message=problem + "--study NEW_NAME (or `study:` in the config).",
            )
        return OpenedStudy(study=study, resumed=True, existing_trials=len(study.trials))
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        sampler=sampler,
        pruner=pruner,
        directions=directions,
        load_if_exists=True,
    )
    study.set_user_attr("whynet_version", __version__)
    study.set_user_attr("data_fingerprint", spec.fingerprint)
    study.set_user_attr("data_name", spec.name)
    study.set_user_attr("task", spec.task)
    # The noise of a validation score, for the two-objective selection rule.
    study.set_user_attr("n_val", spec.n_val)
    study.set_user_attr("objectives", list(objectives))
    study.set_user_attr("space", space_desc)
    return OpenedStudy(study=study, resumed=False, existing_trials=0)
