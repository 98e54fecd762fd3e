#!/usr/bin/env bash
# The demo: build (or reuse) the MiniLM SST-2 80%-sparse checkpoint with the recipe, then publish it
# to the local hub (started if none is running) and print where to look at it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
CHECKPOINT=$(python recipes/sst2_minilm.py "$@" | tail -n 1)
publisher publish "$CHECKPOINT" --repo-id demo/minilm-sst2-unstructured80-int8-ov --endpoint local \
  --min-sparsity 0.795 --min-ir-accuracy 0.84
