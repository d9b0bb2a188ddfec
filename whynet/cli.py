"""The command line: ``whynet run CONFIG.yaml``. Thin over the Python API."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from whynet import __version__
from whynet.config import DEFAULT_STORAGE, DEFAULT_TRACKING_URI
from whynet.exceptions import FatalSearchError, TrackingError, UserError, WhynetError
from whynet.trainers._backend import quiet_native_logs

app = typer.Typer(
    name="whynet",
    help="Search Keras networks with Optuna, track every trial in MLflow, and explain the winner.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
# Piped output keeps whole table rows rather than Rich's 80-column default.
out = Console() if Console().is_terminal else Console(width=200)

EXIT_USER_ERROR = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"whynet {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """whynet: which network works on your data, why, and does it beat a simpler model."""


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="The YAML run config.")],
    trials: Annotated[
        int | None, typer.Option("--trials", "-n", help="Trials to add in this run.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop starting trials after this many seconds.")
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name; the same name resumes the study.")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage: a file path or a database URL.")
    ] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the split, sampler and training.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default: one per GPU, else one using all cores)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Run (or resume) the search a config describes, then print the results."""
    quiet_native_logs()
    # SIGTERM (a scheduler, `kill`) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _terminate)
    import whynet

    overrides: dict[str, Any] = {
        "trials": trials,
        "timeout": timeout,
        "study": study,
        "storage": storage,
        "tracking_uri": tracking_uri,
        "seed": seed,
        "workers": workers,
    }
    try:
        cfg = whynet.load_config(config)
        result = whynet.search(
            cfg, progress=not quiet, **{k: v for k, v in overrides.items() if v is not None}
        )
    except UserError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except FatalSearchError as exc:
        err.print(
            f"[bold red]search stopped:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: run the same command again to resume the study.")
        raise typer.Exit(130) from None
    _print_results(result, cfg)


@app.command()
def sync(
    study: Annotated[str, typer.Argument(help="The study to mirror into MLflow.")],
    storage: Annotated[
        str, typer.Option(help="Optuna storage of the study: a file path or a database URL.")
    ] = DEFAULT_STORAGE,
    tracking_uri: Annotated[str, typer.Option(help="MLflow tracking URI.")] = DEFAULT_TRACKING_URI,
    experiment: Annotated[
        str | None, typer.Option(help="MLflow experiment (default: the study name).")
    ] = None,
) -> None:
    """Rebuild the MLflow mirror of a study from the study (its source of truth)."""
    from whynet.search import sync_study

    try:
        report = sync_study(
            study, storage=storage, tracking_uri=tracking_uri, experiment=experiment
        )
    except UserError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except TrackingError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(
        f"Synced study {study!r}: {report.created} run(s) created, {report.ended} run(s) "
        f"completed; {report.behind} not mirrored.",
        highlight=False,
    )
    if report.behind:
        raise typer.Exit(1)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _print_results(result: Any, cfg: Any) -> None:
    table = Table(title=f"study {result.study_name}: trials by {result.score_name}")
    frame = result.trials
    # The order the search selects in: best score, then fewer parameters.
    shown = frame[frame["state"] == "complete"].sort_values(
        ["score", "n_params", "number"],
        ascending=[result.score_name == "val_rmse", True, True],
        kind="stable",
    )
    for column in (
        "number",
        "score",
        "summary",
        "optimizer",
        "learning_rate",
        "batch_size",
        "n_params",
        "epochs_run",
        "train_seconds",
    ):
        table.add_column(column, justify="right" if column != "summary" else "left")
    for row in shown.head(15).itertuples(index=False):
        table.add_row(
            str(row.number),
            f"{row.score:.4f}",
            str(row.summary),
            str(row.optimizer),
            f"{row.learning_rate:.2g}",
            str(row.batch_size),
            str(row.n_params),
            str(row.epochs_run),
            f"{row.train_seconds:.1f}",
        )
    out.print(table)
    states = frame["state"].value_counts().to_dict()
    out.print(
        f"This run: {result.counts.get('complete', 0)} complete, "
        f"{result.counts.get('pruned', 0)} pruned, {result.counts.get('failed', 0)} failed. "
        f"Study total: {len(frame)} trials ({', '.join(f'{v} {k}' for k, v in states.items())}).",
        highlight=False,
    )
    if result.best_trial is None:
        out.print("No trial completed, so there is no best model yet.")
        return
    tests = ", ".join(f"{k}={v:.4f}" for k, v in result.test_metrics.items())
    out.print(
        f"Best: trial {result.best_trial} ({result.best_params.short_name()}), "
        f"{result.score_name}={result.best_score:.4f}; selected on validation, then tested once: "
        f"{tests}.",
        highlight=False,
    )
    out.print(f"Best model: {result.best_model_path}", highlight=False)
    if result.tracking_uri:
        out.print(
            f"MLflow: experiment {cfg.tracking.experiment or result.study_name!r} in "
            f"{result.tracking_uri}. Open it with:\n  mlflow ui --backend-store-uri "
            f"{result.tracking_uri}",
            highlight=False,
        )


def main() -> None:
    """Entry point of the ``whynet`` command."""
    quiet_native_logs()  # before any framework is imported, on every command
    try:
        app()
    except WhynetError as exc:  # a last net: never a raw traceback for our own errors
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_USER_ERROR if isinstance(exc, UserError) else 1)


if __name__ == "__main__":
    main()
