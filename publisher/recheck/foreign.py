"""Re-checking a repo publisher did not publish: what its card states that its IR can show.

Such a card has no ledger, so there is nothing to compare figure by figure with a record. What can
be checked is checked against the IR itself:

- model-index results, when the dataset they name is available here (the bundled GLUE SST-2
  validation split, or ``--eval-file``) and the metric is accuracy;
- body figures of sparsity, weight precision and IR accuracy;
- statements of the description: INT8/INT4 weights, pruning;

and every other figure or statement is listed as not re-checkable, with the reason.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from publisher.card import facts
from publisher.card import readback
from publisher.card.schema import FRONT_MATTER
from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.recheck import remeasure
from publisher.recheck.ledger_checks import CheckOptions
from publisher.stages.export import quantizer_ops
from publisher.results import FAILS, HOLDS, PARTIAL, UNVERIFIABLE, ClaimCheck
from publisher.tasks.common import FLIP_SAMPLES
from publisher.tasks.contract import EVALUATION_ROWS

# Hub ids under which GLUE's SST-2 is published; its validation split is bundled with publisher.
SST2_DATASETS = {"glue", "nyu-mll/glue", "sst2", "stanfordnlp/sst2", "gpt3mix/sst2"}
ACCURACY_FLIP_SAMPLES = FLIP_SAMPLES  # the rule publisher's own ledger applies
# INT8 rounding turns a few tiny weights into zeros: an IR reads a little sparser than its checkpoint.
IR_SPARSITY_SLACK = 0.01



def _tolerance_of(printed: str) -> float:
    """Half a unit of the last digit shown: 0.80 covers 0.795 to 0.805."""
    try:
        exponent = Decimal(printed).as_tuple().exponent
    except InvalidOperation:
        return 0.0
    if not isinstance(exponent, int) or exponent > 300:  # "1e999" on a hand-written card: no slack
        return 0.0
    return 0.5 * 10 ** exponent


def check_foreign(readme: str, folder: Path, options: CheckOptions,
                  progress: Progress) -> tuple[list[ClaimCheck], str | None]:
    remeasure.ir_xml(folder)  # a repo without an IR is refused with the reason
    match = FRONT_MATTER.search(readme)
    body, first = (readme[match.end():], readme[: match.end()].count("\n") + 1) if match else (readme, 1)
    rows: list[ClaimCheck] = []
    accuracy, partial, samples = _model_index_rows(readme, folder, options, progress, rows)
    with progress.stage("Counting the IR's weights"):
        try:
            sparsity = remeasure.ir_sparsity(folder)
            shares, _ = remeasure.weight_shares(folder)
            ops = sum(quantizer_ops(remeasure.ir_xml(folder)).values())
        except (BadInputError, RuntimeError, OSError, SyntaxError) as exc:
            rows.append(ClaimCheck("the IR's weights", "sparsity and weight precision", None, None, None, None,
                                   FAILS, f"the IR cannot be read: {str(exc).splitlines()[0]}"))
            sparsity, shares, ops = None, {}, 0
    rows += _figure_rows(body, first, accuracy, samples, sparsity, shares)
    rows += _statement_rows(body, first, sparsity, shares, ops, samples if accuracy is not None else None)
    return rows, partial


# --- model-index ---------------------------------------------------------------------------------------


def _model_index_rows(readme: str, folder: Path, options: CheckOptions, progress: Progress,
                      rows: list[ClaimCheck]) -> tuple[float | None, str | None, int]:
    """One row per model-index result; the IR's accuracy when it was measured (for the body's figures)."""
    from huggingface_hub import ModelCard

    try:
        results = ModelCard(readme, ignore_metadata_errors=True).data.eval_results or []
    except Exception:  # metadata huggingface_hub cannot parse: there is no model-index to check
        results = []
    measured: float | None = None
    partial: str | None = None
    n = 0
    for result in results:
        name = (f"model-index {result.metric_type} ({result.dataset_type}"
                f"{'/' + result.dataset_config if result.dataset_config else ''} {result.dataset_split or ''})")
        card = str(result.metric_value)
        if result.metric_type != "accuracy" or result.task_type != "text-classification":
            rows.append(ClaimCheck(name, result.metric_name or result.metric_type, card, None, None, None,
                                   UNVERIFIABLE, "verify re-computes accuracy of text classifiers only"))
            continue
        data = _foreign_data(result, options)
        if data is None:
            rows.append(ClaimCheck(name, result.metric_name or "accuracy", card, None, None, None, UNVERIFIABLE,
                                   f"the dataset {result.dataset_type} is not available here: pass --eval-file "
                                   "with its rows"))
            continue
        if measured is None:
            measured, partial, n = _ir_accuracy(folder, data, options, progress)
        else:
            n = len(data.texts)
        flip = ACCURACY_FLIP_SAMPLES / max(n, 1)
        tolerance = _tolerance_of(card) + flip
        value = readback._number(result.metric_value)  # None for text, a boolean, or an int past float's range
        if value is not None and value > 1:  # written as a percentage (91.3), as many cards do
            value, tolerance = value / 100, tolerance / 100 + flip
        ok = value is not None and abs(measured - value) <= tolerance
        reason = (f"the IR in this repo, on {data.info.name} ({n} rows; the card does not name the data's "
                  "sha256, so the data is identified by name only)")
        verdict = (PARTIAL if partial else HOLDS) if ok else FAILS
        if not ok:
            reason = f"the IR measures {measured:.4f} on {data.info.name} ({n} rows), not {card}"
        rows.append(ClaimCheck(name, result.metric_name or "accuracy", card, None, f"{measured:.4f}",
                               f"±{tolerance:.3g} (the digits shown, and {ACCURACY_FLIP_SAMPLES} samples)",
                               verdict, reason))
    return measured, partial, n


def _foreign_data(result: Any, options: CheckOptions) -> Any:
    from publisher.stages.data import EvalDataSpec, load_eval_data
    from publisher.tasks.classification import TextClassification

    if options.eval_file:
        return load_eval_data(EvalDataSpec(eval_file=str(options.eval_file), split=TextClassification.default_split))
    dataset = (result.dataset_type or "").lower()
    config = (result.dataset_config or result.dataset_args or "sst2") if dataset in ("glue", "nyu-mll/glue") else None
    if dataset in SST2_DATASETS and (config in (None, "sst2")) and (result.dataset_split or "validation") == "validation":
        return load_eval_data(EvalDataSpec())
    return None


def _ir_accuracy(folder: Path, data: Any, options: CheckOptions, progress: Progress) -> tuple[float, str | None, int]:
    from publisher.stages.data import map_labels

    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
    except (OSError, ValueError, RecursionError, AttributeError, TypeError) as exc:
        # Missing, not UTF-8, not JSON, nested too deeply, not an object, or an id2label of the wrong shape.
        raise BadInputError("The repo's IR has no readable config.json (a JSON object with an id2label of "
                            "class ids), so its classes cannot be matched to the dataset's labels",
                            "Only repos exported with optimum-intel can be re-measured") from exc
    mapping = map_labels(id2label, data)
    rows = len(data.texts)
    limit = min(options.max_samples, rows) if options.max_samples else rows
    run = remeasure.classifier_accuracy(folder, data.texts[:limit], data.labels[:limit], mapping,
                                        max_length=128, batch_size=options.batch_size, progress=progress)
    partial = f"{limit} of {rows} samples" if limit < rows else None
    return run.metric, partial, limit


# --- the body ------------------------------------------------------------------------------------------


def _figure_rows(body: str, first: int, accuracy: float | None, samples: int, sparsity: float | None,
                 shares: dict[str, float]) -> list[ClaimCheck]:
    rows = []
    for figure in readback.card_figures(body, first):
        label = figure.label.lower()
        name = f"{figure.label} (line {figure.line})"
        ir_side = "openvino" in label or re.search(r"\bir\b", label) is not None
        torch_side = "torch" in label and not ir_side
        value: float | None = None
        what = ""
        slack = 0.0
        if "sparsity" in label and not torch_side and sparsity is not None:
            value, what, slack = sparsity, "re-counted from the IR's linear-layer weights", IR_SPARSITY_SLACK
        elif "weight" in label and shares and any(re.search(rf"\b{k}\b", label) for k in ("int8", "int4")):
            key = "int8" if "int8" in label else "int4"
            value, what = shares.get(key, 0.0), f"the IR's {key.upper()} share of linear-layer weights"
        elif "accuracy" in label and ir_side and accuracy is not None:
            value, what = accuracy, "the IR's accuracy on the model-index data, measured above"
            slack = ACCURACY_FLIP_SAMPLES / max(samples, 1)
        if value is None:
            why = ("needs the checkpoint, which is not in the repo" if torch_side
                   else "verify has no measurement for this figure")
            rows.append(ClaimCheck(name, figure.label, figure.shown, None, None, None, UNVERIFIABLE, why))
            continue
        shown_value = value * 100 if figure.percent else value
        tolerance = _tolerance_of(figure.printed) + slack * (100 if figure.percent else 1)
        ok = abs(float(figure.printed) - shown_value) <= tolerance + 1e-12
        rows.append(ClaimCheck(name, figure.label, figure.shown, None,
                               f"{shown_value:.4g}{'%' if figure.percent else ''}", f"±{tolerance:.3g}",
                               HOLDS if ok else FAILS, what if ok else f"{what}: {shown_value:.4g}"))
    return rows


def _statement_rows(body: str, first: int, sparsity: float | None, shares: dict[str, float], ops: int,
                    rows_run: int | None) -> list[ClaimCheck]:
    """Sentences that claim how the model was made or measured: checked where the IR shows it,
    listed otherwise (the statements publisher's own cards make, in ``readback``'s words)."""
    import openvino as ov

    out = []
    current = facts.release_version(ov.get_version())
    for st in readback.card_statements(body, first):
        name = f"statement (line {st.line})"
        measured, check, why = None, None, ""
        if st.claim_id == "compression.weights" and shares:
            share = shares.get(st.value, 0.0)
            measured, check = f"{share:.1%} of linear-layer weights are {st.value.upper()}", share > 0
            why = "" if check else f"the IR holds no {st.value.upper()} weights"
        elif st.claim_id == "compression.pruning" and sparsity is not None:
            measured, check = f"{sparsity:.2%} zeros", sparsity >= facts.SPARSE_THRESHOLD
            why = "" if check else "the IR's linear-layer weights are not sparse"
        elif st.claim_id == "compression.quantization_aware_training" and ops:
            measured, check = f"{ops} FakeQuantize/FakeConvert ops", True
        elif st.claim_id == EVALUATION_ROWS and rows_run is not None:
            measured, check = f"{rows_run} samples", st.value == rows_run
            why = "" if check else f"the model-index data has {rows_run} rows"
        else:
            why = {
                "compression.distillation": "a training method leaves no trace in the IR",
                "compression.quantization_aware_training": "needs the checkpoint (the IR holds no quantizer ops)",
                "compatibility.openvino": f"the IR ran here on OpenVINO {current}; the stated release itself was "
                                          "not run (pass --openvino)",
            }.get(st.claim_id, "verify has no measurement for this statement")
        verdict = UNVERIFIABLE if check is None else (HOLDS if check else FAILS)
        out.append(ClaimCheck(name, st.phrase, st.phrase, None, measured, None, verdict, why))
    return out
