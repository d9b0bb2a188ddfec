"""whynet: which network works on your data, why, and whether it beats a simpler model.

The top level holds the workflow nouns only::

    import whynet
    result = whynet.search("examples/quickstart.yaml", trials=10)
    result.best_params, result.test_metrics, result.trials
    whynet.predict(result.model_path, "new_rows.csv")  # raw rows in, labels out
    why = whynet.explain("examples/quickstart.yaml")     # ablations, baselines, report

Importing whynet does not import TensorFlow, Keras or MLflow.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from whynet.config import RunConfig, load_config
from whynet.exceptions import WhynetError

if TYPE_CHECKING:
    from whynet.models import load_model, predict
    from whynet.reports import Explanation, explain
    from whynet.search import SearchResult
    from whynet.search._api import search

__all__ = [
    "Explanation",
    "RunConfig",
    "SearchResult",
    "WhynetError",
    "__version__",
    "explain",
    "load_config",
    "load_model",
    "predict",
    "search",
]


def __getattr__(name: str) -> Any:
    # `whynet.search` is both the subpackage and the function people call:
    # the subpackage is a callable module (see whynet/search/__init__.py),
    # imported on first use so that `import whynet` stays light.
    if name in ("search", "SearchResult"):
        import whynet.search as package

        return package if name == "search" else package.SearchResult
    if name in ("load_model", "predict"):
        from whynet.models import _predict

        return getattr(_predict, name)
    if name in ("explain", "Explanation"):
        from whynet.reports import _explain

        return getattr(_explain, name)
    raise AttributeError(f"module 'whynet' has no attribute {name!r}")
