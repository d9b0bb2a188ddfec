"""The command line: ``whynet run CONFIG.yaml``. Thin over the Python API."""

from __future__ import annotations

import shlex
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
        typer.Option(
            help="Worker processes (default auto: one per GPU slot; without a GPU one per core "
            "(at most 8, 2 GiB free memory each) when the search has at least 8 trials per "
            "worker and no time limit under 2 minutes, else one using all cores)."
        ),
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
        err.print(f"[bold red]error:[/] {escape(exc.cli_message)}", highlight=False, soft_wrap=True)
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
        err.print(f"[bold red]error:[/] {escape(exc.cli_message)}", highlight=False, soft_wrap=True)
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


@app.command()
def predict(
    model: Annotated[
        str,
        typer.Argument(
            help="The model: a saved folder (whynet-runs/<study>/best_model), "
            "runs:/<run id>/best_model, or models:/<name>/<version>."
        ),
    ],
    data: Annotated[
        Path,
        typer.Argument(
            help="Raw rows: a CSV or Parquet file with the original columns; an .npz file "
            "(array x), an image file or a folder of images for array and image models."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the predictions to this CSV file."),
    ] = None,
    tracking_uri: Annotated[
        str, typer.Option(help="MLflow tracking URI of a runs:/ or models:/ URI.")
    ] = DEFAULT_TRACKING_URI,
) -> None:
    """Predict raw data with a model a search saved or logged; writes CSV."""
    quiet_native_logs()
    from whynet.models import load_model

    try:
        if not data.exists():
            raise UserError(f"data file or folder {data} does not exist. Give the rows to predict.")
        loaded = load_model(model, tracking_uri=tracking_uri)
        frame = loaded.predict(data)
    except UserError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    if output is None:
        sys.stdout.write(frame.to_csv(index=False))
        return
    try:
        frame.to_csv(output, index=False)
    except OSError as exc:
        err.print(
            f"[bold red]error:[/] cannot write {output}: {exc.strerror or exc}. Give a "
            "writable --output path.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_USER_ERROR) from None
    err.print(f"Wrote {len(frame)} prediction(s) to {output}.", highlight=False)


@app.command()
def explain(
    config: Annotated[Path, typer.Argument(help="The YAML run config of the search.")],
    study: Annotated[
        str | None, typer.Option(help="The search study to explain (default: the config's).")
    ] = None,
    budget: Annotated[
        str, typer.Option(help="small (3 repeats), medium (5) or full (10, every level).")
    ] = "small",
    repeats: Annotated[
        int | None, typer.Option(help="Repeated splits per level and model (default: budget's).")
    ] = None,
    trials_per_model: Annotated[
        int | None,
        typer.Option(help="Optuna trials tuning each classical model (default: budget's)."),
    ] = None,
    factor: Annotated[
        list[str] | None,
        typer.Option(help="Ablate only this factor (repeat the option for several)."),
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage of the study: a file path or a database URL.")
    ] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder of the report (default: <output_dir>/<study>/explain)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Explain the selected network: ablations, classical baselines, importance, report."""
    quiet_native_logs()
    signal.signal(signal.SIGTERM, _terminate)
    import whynet
    from whynet.reports._explain import explain as run_explain

    overrides: dict[str, Any] = {"storage": storage, "tracking_uri": tracking_uri}
    try:
        cfg = whynet.load_config(config)
        why = run_explain(
            cfg,
            study=study,
            budget=budget,
            repeats=repeats,
            trials_per_model=trials_per_model,
            factors=factor or None,
            progress=not quiet,
            report_dir=output,
            **{k: v for k, v in overrides.items() if v is not None},
        )
    except UserError as exc:
        err.print(f"[bold red]error:[/] {exc.cli_message}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: run the same command again to resume the explanation.")
        raise typer.Exit(130) from None
    from whynet.reports._cli import print_explanation

    print_explanation(why, out)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


_SHOWN_ROWS = 15
_TABLE_COLUMNS = (
    "number",
    "score",
    "summary",
    "optimizer",
    "learning_rate",
    "batch_size",
    "n_params",
    "epochs_run",
    "train_seconds",
)


def _trial_table(title: str, rows: Any) -> Table:
    table = Table(title=title)
    for column in _TABLE_COLUMNS:
        table.add_column(column, justify="right" if column != "summary" else "left")
    for row in rows.itertuples(index=False):
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
    return table


def mlflow_ui_command(tracking_uri: str) -> str | None:
    """The command that opens a local MLflow store, as it can be run from anywhere.

    The program is this interpreter's ``mlflow`` script (a virtualenv's is
    not on ``PATH`` unless the environment is activated), else ``python -m
    mlflow``; the store is an absolute path. ``None`` for a tracking server.
    """
    from whynet._urls import absolute_sqlite

    if tracking_uri.startswith(("http://", "https://", "databricks")):
        return None
    if tracking_uri.startswith("sqlite:"):
        store = absolute_sqlite(tracking_uri)
    elif "://" not in tracking_uri or tracking_uri.startswith("file:"):
        path = tracking_uri[len("file:") :] if tracking_uri.startswith("file:") else tracking_uri
        store = str(Path(path.removeprefix("//")).resolve())
    else:
        store = tracking_uri
    return shlex.join([*_program("mlflow", "mlflow"), "ui", "--backend-store-uri", store])


def _program(script: str, module: str) -> list[str]:
    """This interpreter's ``script`` (a virtualenv's is not on ``PATH``), else ``python -m``."""
    exe = Path(sys.executable)
    path = exe.parent / (f"{script}.exe" if sys.platform == "win32" else script)
    return [str(path)] if path.is_file() else [str(exe), "-m", module]


def _print_results(result: Any, cfg: Any) -> None:
    frame = result.trials
    # The order the search selects in (one key, see whynet.search._selection):
    # the first row is the selected trial.
    ranking = result.ranking
    out.print(
        _trial_table(
            f"study {result.study_name}: trials by {result.score_name}, selected first",
            ranking.head(_SHOWN_ROWS),
        )
    )
    left_out = frame[frame["state"] != "complete"]["state"].value_counts().to_dict()
    parts = [f"{left_out.pop(state, 0)} {state}" for state in ("pruned", "failed")]
    parts += [f"{n} {state}" for state, n in left_out.items()]
    if len(ranking) > _SHOWN_ROWS:
        parts.insert(0, f"{len(ranking) - _SHOWN_ROWS} more complete")
    out.print(
        f"Not in the table: {', '.join(parts)} trial(s); every trial is in "
        f"{cfg.output_path / 'trials.csv'}.",
        highlight=False,
    )
    if len(cfg.search.objectives) > 1 and len(result.pareto_front):
        out.print(
            _trial_table(
                f"Pareto front, {result.score_name} against n_params: "
                f"{len(result.pareto_front)} trial(s); selected first (the smallest network "
                "within one standard error of the best score)",
                result.pareto_front,
            )
        )
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
    if result.model_path is not None:
        out.print(
            f"Predict raw rows with it: {shlex.join(_program('whynet', 'whynet'))} predict "
            f"{shlex.quote(str(result.model_path))} DATA "
            "[--output FILE]" + (f" (in MLflow: {result.model_uri})" if result.model_uri else ""),
            highlight=False,
        )
    if result.tracking_uri:
        command = mlflow_ui_command(result.tracking_uri)
        how = f" Open it with:\n  {command}" if command else ""
        out.print(
            f"MLflow: experiment {cfg.tracking.experiment or result.study_name!r} in "
            f"{result.tracking_uri}.{how}",
            highlight=False,
            soft_wrap=True,
        )


def main() -> None:
    """Entry point of the ``whynet`` command."""
    quiet_native_logs()  # before any framework is imported, on every command
    try:
        app()
    except WhynetError as exc:  # a last net: never a raw traceback for our own errors
        message = escape(str(getattr(exc, "cli_message", exc)))
        err.print(f"[bold red]error:[/] {message}", highlight=False)
        sys.exit(EXIT_USER_ERROR if isinstance(exc, UserError) else 1)


if __name__ == "__main__":
    main()
