"""Importing whynet stays light: no TensorFlow, Keras or MLflow until needed."""

from __future__ import annotations

import subprocess
import sys


def test_import_whynet_imports_no_framework() -> None:
    code = (
        "import sys, whynet, whynet.config, whynet.spaces, whynet.data\n"
        "names = ('tensorflow', 'keras', 'jax', 'torch', 'mlflow')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(heavy)\n"
        "assert not heavy, heavy\n"
        "assert callable(whynet.search)\n"
        "assert callable(whynet.predict) and callable(whynet.load_model)\n"
        "import whynet.models\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
