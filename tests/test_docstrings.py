"""Every docstring example in the package runs, and shows what it says."""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import whynet

REPO = Path(__file__).resolve().parent.parent

# walk_packages imports the packages only, and they import no framework.
MODULES = sorted(
    [
        "whynet",
        *(
            info.name
            for info in pkgutil.walk_packages(whynet.__path__, "whynet.")
            if not info.name.endswith("__main__")  # running it is the CLI
        ),
    ]
)


def _examples_in_source(path: Path) -> int:
    return len(re.findall(r"^\s*>>> ", path.read_text(encoding="utf-8"), flags=re.MULTILINE))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Examples that write (an MLflow store) write in an empty folder; those
    # that read the example configs find them where a user of the repo would.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    # Every example in the file is one doctest sees: none hides where it does
    # not look (doctest only reads what the module itself defines).
    assert sum(len(t.examples) for t in tests) == _examples_in_source(Path(module.__file__ or ""))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_most_docstring_examples_are_run_not_skipped() -> None:
    parser = doctest.DocTestParser()
    examples = [
        example
        for name in MODULES
        for test in doctest.DocTestFinder().find(importlib.import_module(name), name)
        for example in parser.get_examples(test.docstring or "")
    ]
    skipped = [e for e in examples if e.options.get(doctest.SKIP)]
    assert len(examples) >= 25 and len(skipped) <= 3, [e.source for e in skipped]


def test_importing_every_module_imports_no_framework() -> None:
    # What collecting these tests imports: the docstring tests stay fast, and
    # any module can be imported (e.g. by doctest) without TensorFlow.
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "names = ('tensorflow', 'keras', 'jax', 'torch', 'mlflow')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
