"""The claims ledger: every claim a card makes, figure or statement, with the measurement behind it.

``build_ledger`` turns a report's measurements into ``Claim`` entries (value, the value as the
default template prints it, the stage and the inputs by sha256, who can re-check it and within what
tolerance). The card context reads its figures from these entries, and rendering refuses
a card that shows a figure no entry stands behind (``readback.unledgered``); `publisher verify` re-checks the entries
from the repository alone.

Reading a card back (which claim a line states) is ``publisher.card.readback``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from publisher.card import claims as card_claims
from publisher.card import facts
from publisher.errors import BadInputError
from publisher.results import (
    RECHECK_CHECKPOINT,
    RECHECK_IR,
    RECHECK_MACHINE,
    RECHECK_RECORD,
    Claim,
    ClaimsLedger,
    FileDigest,
    LedgerInput,
    MeasurementEnvironment,
    Report,
)

FIGURE = "figure"
STATEMENT = "statement"
MODEL_INDEX = "model-index"
BODY = "body"

IR, DATA, CHECKPOINT = "ir", "evaluation_data", "checkpoint"


# Two samples of the evaluation set: a prediction at a decision boundary may flip between CPUs and
# inference precisions (bf16 on CPUs with AVX512-BF16, f32 elsewhere), not more.
ACCURACY_FLIP_SAMPLES = 2
# The IR's perplexity in bf16 and f32 differ by well under this share (README, "Re-checking a
# release": 0.086% measured on SmolLM2-135M INT4).
PERPLEXITY_RELATIVE_TOLERANCE = 0.01
EXACT = 1e-9


def fixed(value: float, digits: int) -> str:
    return f"{float(value):.{digits}f}"


def sig(value: float, digits: int) -> str:
    return f"{float(value):.{digits}g}"


def files_digest(files: list[FileDigest]) -> str:
    """One sha256 for a set of files: of their "sha256  path" lines, sorted (as ``sha256sum`` prints)."""
    lines = sorted(f"{f.sha256}  {f.path}\n" for f in files)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


# --- building ---------------------------------------------------------------------------------------


def build_ledger(report: Report, environment: MeasurementEnvironment | None = None) -> ClaimsLedger:
    """The ledger of ``report``'s card. ``environment`` is where the measurements were made (kept from
    the report's own ledger when the report has one)."""
    if environment is None:
        environment = report.claims.environment if report.claims is not None else _unknown_environment(report)
    inputs = _inputs(report)
    out: list[Claim] = []
    if facts.is_text_generation(report):
        out += _text_generation_claims(report)
        method = _text_generation_method(report)
    else:
        out += _classifier_claims(report)
        method = {"max_length": report.accuracy.max_length, "label_mapping": report.accuracy.label_mapping}
    out += _sparsity_claims(report)
    out += _performance_claims(report)
    out += _statements(report)
    return ClaimsLedger(environment=environment, inputs=inputs, claims=out, method=method)


def _unknown_environment(report: Report) -> MeasurementEnvironment:
    # A report written before the ledger: its versions are known, the machine is not.
    return MeasurementEnvironment(versions=dict(report.export.versions), cpu="not recorded", isa=[],
                                  threads=0, inference_precision="")


def _inputs(report: Report) -> dict[str, LedgerInput]:
    export_files = list(report.export.files)
    out = {IR: LedgerInput(IR, f"the release's model files ({len(export_files)} files: IR, config, tokenizer)",
                           files_digest(export_files), sorted(f.path for f in export_files))}
    dataset = facts.eval_dataset(report)
    if facts.is_text_generation(report):
        described = f"{dataset.name} ({dataset.num_characters} characters)"
    else:
        described = f"{dataset.name} {dataset.split} ({dataset.num_samples} rows)"
    out[DATA] = LedgerInput(DATA, f"{described}, from {dataset.source}", dataset.sha256 or "")
    checkpoint_files = list(report.checkpoint.files)
    out[CHECKPOINT] = LedgerInput(CHECKPOINT, f"the training checkpoint ({len(checkpoint_files)} files; "
                                  "not in the release)", files_digest(checkpoint_files),
                                  sorted(f.path for f in checkpoint_files))
    return out


def _figure(id: str, text: str, value: float, printed: str, stage: str, field: str, recheck: str,
            tolerance: float | None, reason: str, where: list[str], inputs: list[str] | None = None) -> Claim:
    if inputs is None:
        inputs = {RECHECK_IR: [IR, DATA], RECHECK_CHECKPOINT: [CHECKPOINT, DATA]}.get(recheck, [IR])
    return Claim(id=id, kind=FIGURE, text=text, value=float(value), printed=printed, stage=stage, field=field,
                 inputs=inputs, recheck=recheck, tolerance=tolerance, tolerance_reason=reason, where=where)


def _classifier_claims(report: Report) -> list[Claim]:
    acc, ver = report.accuracy, report.verification
    n = max(int(acc.dataset.num_samples), 1)
    flip = ACCURACY_FLIP_SAMPLES / n
    flip_reason = (f"{ACCURACY_FLIP_SAMPLES} of {n} samples: a prediction at a decision boundary may "
                   "flip between CPUs and inference precisions")
    both = [MODEL_INDEX, BODY]
    return [
        _figure(f"{acc.metric}.openvino", f"OpenVINO IR {acc.metric}", acc.openvino, fixed(acc.openvino, 4),
                "accuracy", "accuracy.openvino", RECHECK_IR, flip, flip_reason, both),
        _figure(f"{acc.metric}.torch", f"PyTorch {acc.metric}", acc.torch, fixed(acc.torch, 4),
                "accuracy", "accuracy.torch", RECHECK_CHECKPOINT, flip, flip_reason, both),
        _figure("verification.argmax_agreement", "Top-1 agreement with PyTorch", ver.argmax_agreement,
                fixed(ver.argmax_agreement, 4), "verify", "verification.argmax_agreement",
                RECHECK_CHECKPOINT, flip, flip_reason, [BODY], [IR, CHECKPOINT, DATA]),
        _figure("verification.max_abs_logit_diff", "Largest absolute logit difference from PyTorch",
                ver.max_abs_logit_diff, sig(ver.max_abs_logit_diff, 3), "verify",
                "verification.max_abs_logit_diff", RECHECK_CHECKPOINT, float(ver.max_abs_logit_diff),
                "a worst case over all samples: it moves with the CPU's inference precision",
                [BODY], [IR, CHECKPOINT, DATA]),
    ]


def _text_generation_method(report: Report) -> dict[str, Any]:
    ppl = report.text_generation.perplexity
    return {"window": ppl.window, "stride": ppl.stride, "windows": ppl.windows, "max_windows": ppl.max_windows,
            "tokens_scored": ppl.tokens_scored, "inference_precision": ppl.inference_precision}


def _text_generation_claims(report: Report) -> list[Claim]:
    tg = report.text_generation
    ppl, parity, gen = tg.perplexity, tg.parity, tg.generation
    rel = PERPLEXITY_RELATIVE_TOLERANCE
    rel_reason = (f"{rel:.0%} of the value: the IR's perplexity moves this little between CPUs and "
                  "inference precisions (bf16, f32)")
    both = [MODEL_INDEX, BODY]
    out = [
        _figure("perplexity.openvino", "OpenVINO IR perplexity", ppl.openvino, fixed(ppl.openvino, 2),
                "perplexity", "text_generation.perplexity.openvino", RECHECK_IR, rel * float(ppl.openvino),
                rel_reason, both),
        _figure("perplexity.torch", "PyTorch perplexity", ppl.torch, fixed(ppl.torch, 2), "perplexity",
                "text_generation.perplexity.torch", RECHECK_CHECKPOINT, rel * float(ppl.torch), rel_reason, both),
    ]
    increase = facts.perplexity_increase(report)
    if increase is not None:
        out.append(_figure("perplexity.increase", "Perplexity of the IR relative to PyTorch", increase,
                           f"{increase * 100:+.2f}%", "perplexity", "text_generation.perplexity (derived)",
                           RECHECK_CHECKPOINT, 2 * rel, "both perplexities' tolerances", [BODY],
                           [IR, CHECKPOINT, DATA]))
    parity_reason = "compares the IR with the checkpoint's logits; moves with the CPU's inference precision"
    positions = max(int(parity.positions), 1)
    out += [
        _figure("parity.top1_agreement", "Top-1 agreement with PyTorch", parity.top1_agreement,
                fixed(parity.top1_agreement, 4), "perplexity", "text_generation.parity.top1_agreement",
                RECHECK_CHECKPOINT, max(0.01, 2 / positions), parity_reason, [BODY], [IR, CHECKPOINT, DATA]),
        _figure("parity.max_abs_logit_diff", "Largest absolute logit difference from PyTorch",
                parity.max_abs_logit_diff, sig(parity.max_abs_logit_diff, 3), "perplexity",
                "text_generation.parity.max_abs_logit_diff", RECHECK_CHECKPOINT, float(parity.max_abs_logit_diff),
                parity_reason, [BODY], [IR, CHECKPOINT, DATA]),
        _figure("parity.mean_abs_logit_diff", "Mean absolute logit difference from PyTorch",
                parity.mean_abs_logit_diff, sig(parity.mean_abs_logit_diff, 3), "perplexity",
                "text_generation.parity.mean_abs_logit_diff", RECHECK_CHECKPOINT,
                float(parity.mean_abs_logit_diff), parity_reason, [BODY], [IR, CHECKPOINT, DATA]),
        _figure("generation.exact_match_rate", "Exact-match rate of greedy generation with PyTorch",
                gen.exact_match_rate, fixed(gen.exact_match_rate, 2), "generation",
                "text_generation.generation.exact_match_rate", RECHECK_CHECKPOINT, None,
                "each prompt's tokens either match or not; a different CPU may change where they diverge",
                [BODY], [IR, CHECKPOINT]),
    ]
    wp = tg.weight_precision
    for key, title in (("int4", "INT4"), ("int8", "INT8"), ("float", "Float")):
        if key in wp.shares and int(wp.counts.get(key, 0)) > 0:
            share = float(wp.shares[key])
            out.append(_figure(f"weight_precision.{key}", f"{title} weights (share of linear-layer weights)",
                               share, f"{share * 100:.1f}%", "weight_precision",
                               f"text_generation.weight_precision.shares.{key}", RECHECK_IR, EXACT,
                               "exact: a count of the IR's weight constants", [BODY], [IR]))
    q = tg.compression
    if q.mode in card_claims.COMPRESSED_WEIGHT_FORMATS:
        group = q.group_size if q.mode == "int4" else _int(q.applied.get("group_size"))
        if group is not None:
            out.append(Claim("quantization.group_size", FIGURE, "Weight compression group size", float(group),
                             str(group), "export", "text_generation.compression.group_size", [IR], RECHECK_IR,
                             EXACT, "exact: NNCF's own record in the IR (rt_info)", [BODY]))
        if q.mode == "int4" and q.ratio is not None:
            out.append(Claim("quantization.ratio", FIGURE, "INT4 ratio", float(q.ratio), str(q.ratio), "export",
                             "text_generation.compression.ratio", [IR], RECHECK_IR, EXACT,
                             "exact: NNCF's own record in the IR (rt_info)", [BODY]))
    return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _sparsity_claims(report: Report) -> list[Claim]:
    s = report.sparsity
    # A language model's card shows sparsity only when the weights are sparse.
    if s is None or (facts.is_text_generation(report) and not facts.is_sparse(report)):
        return []
    where = [BODY]
    return [
        _figure("sparsity.openvino", f"Sparsity in {s.scope}, OpenVINO IR", s.openvino.overall,
                fixed(s.openvino.overall, 2), "sparsity", "sparsity.openvino.overall", RECHECK_IR, EXACT,
                "exact: a count of the IR's zero weights", where, [IR]),
        _figure("sparsity.torch", f"Sparsity in {s.scope}, PyTorch", s.torch.overall, fixed(s.torch.overall, 2),
                "sparsity", "sparsity.torch.overall", RECHECK_CHECKPOINT, EXACT,
                "exact: a count of the checkpoint's zero weights", where, [CHECKPOINT]),
    ]


def _evaluation_rows(report: Report) -> Claim:
    """How much data the figures were measured on: the card says it, and a re-check re-runs it all."""
    if facts.is_text_generation(report):
        ppl = report.text_generation.perplexity
        printed = f"{ppl.tokens_scored} tokens scored in {ppl.windows} windows"
        return Claim("evaluation.rows", STATEMENT, printed, int(ppl.tokens_scored), printed, "perplexity",
                     "text_generation.perplexity.tokens_scored", [DATA], RECHECK_IR, None,
                     "the windows re-scored from the evaluation text", [BODY])
    n = int(report.accuracy.dataset.num_samples)
    return Claim("evaluation.rows", STATEMENT, f"{n} samples", n, f"{n} samples", "accuracy",
                 "accuracy.dataset.num_samples", [DATA], RECHECK_IR, None,
                 "the rows re-run from the evaluation data", [BODY])


def _performance_claims(report: Report) -> list[Claim]:
    perf = report.performance
    if perf is None:
        return []
    why = f"a timing on {perf.cpu}: another machine measures another figure"
    if hasattr(perf, "ttft_ms"):
        pairs = [("performance.ttft_ms", "Time to first token (ms)", perf.ttft_ms["median"], 1),
                 ("performance.tokens_per_second", "Generation speed (tokens/s)", perf.tokens_per_second["median"], 1)]
    else:
        pairs = [("performance.latency_ms", "Latency, batch 1 (ms)", perf.latency_ms["median"], 2),
                 ("performance.throughput", "Throughput (samples/s)", perf.throughput["samples_per_second"], 1)]
        sparse = perf.sparse_decompression
        if sparse.get("supported"):
            pairs.append(("performance.sparse_throughput", "Throughput with sparse-weight decompression",
                          sparse["samples_per_second"], 1))
    return [_figure(cid, text, value, fixed(value, digits), "bench", cid, RECHECK_MACHINE, None, why, [BODY], [IR])
            for cid, text, value, digits in pairs]


def _statements(report: Report) -> list[Claim]:
    """What the card says about how the model was made and measured, each from its own evidence."""
    out: list[Claim] = [_evaluation_rows(report)]
    fmt = report.export.weight_format
    title = fmt.upper()
    if fmt in card_claims.COMPRESSED_WEIGHT_FORMATS:
        text, printed = f"weights compressed to {title} by NNCF", f"compressed to {title}"
    else:
        text, printed = f"{title} weights", f"{title} weights"
    out.append(Claim("compression.weights", STATEMENT, text, fmt, printed, "export", "export.weight_format", [IR],
                     RECHECK_IR, None, "the IR's weight constants show the precision", [BODY]))
    evidence = card_claims.report_compression(report)
    for phrase in evidence.methods:
        if phrase == card_claims.QAT:
            ops = sum(report.export.quantizer_ops.values())
            if ops:  # the quantizers are in the IR itself: anyone can count them
                out.append(Claim("compression.quantization_aware_training", STATEMENT, phrase, ops, phrase,
                                 "export", "export.quantizer_ops", [IR], RECHECK_IR, None,
                                 f"{ops} FakeQuantize/FakeConvert ops in the IR", [BODY]))
            else:
                out.append(Claim("compression.quantization_aware_training", STATEMENT, phrase, True, phrase,
                                 "load", "checkpoint.nncf_state", [CHECKPOINT], RECHECK_CHECKPOINT, None,
                                 "NNCF quantizer state in the checkpoint", [BODY]))
        elif phrase == card_claims.DISTILLATION:
            out.append(Claim("compression.distillation", STATEMENT, phrase, report.checkpoint.training.teacher_model,
                             phrase, "training_metadata", "checkpoint.training.teacher_model", [], RECHECK_RECORD,
                             None, "a teacher named by the training records; not a measurement", [BODY]))
        else:
            out.append(Claim("compression.pruning", STATEMENT, phrase, True, phrase, "sparsity",
                             "sparsity.torch.overall", [IR], RECHECK_IR, facts.SPARSE_THRESHOLD,
                             f"the IR's linear weights are at least {facts.SPARSE_THRESHOLD:.0%} zeros", [BODY]))
    versions = facts.compatibility(report)
    compat = report.compatibility
    if versions.get("openvino"):
        value = versions["openvino"]
        if compat is not None:
            tested = "; ".join(f"{r.version or r.requested} {'passed' if r.passed else 'failed'}" for r in compat.runs)
            reason = f"the IR was run on OpenVINO {tested} (and {compat.reference}, the reference)"
        else:
            reason = f"the IR was exported and measured with OpenVINO {report.export.versions.get('openvino')}"
        printed = f"OpenVINO {value} and higher" if facts.and_higher(report) else f"OpenVINO {value}"
        out.append(Claim("compatibility.openvino", STATEMENT, f"works with {printed}", value, printed,
                         "compatibility" if compat is not None else "export",
                         "compatibility" if compat is not None else "export.versions.openvino", [IR], RECHECK_IR,
                         None, reason, [BODY]))
    relation = card_claims.report_relation(report)
    if relation.value:
        out.append(Claim("lineage.base_model_relation", STATEMENT, f"base_model_relation: {relation.value}",
                         relation.value, relation.value, "training_metadata", "checkpoint.training", [],
                         RECHECK_RECORD, None, relation.reason, [MODEL_INDEX]))
    return out


# --- reading ------------------------------------------------------------------------------------------


def ledger_of(report: Report) -> ClaimsLedger:
    """The report's own ledger, else one built from its measurements (reports before the ledger)."""
    return report.claims if report.claims is not None else build_ledger(report)


def value(ledger: ClaimsLedger, claim_id: str) -> Any:
    """The value of a claim for the card; a card cannot show a figure the ledger lacks."""
    claim = ledger.get(claim_id)
    if claim is None:
        raise BadInputError(f"The card asks for {claim_id!r}, which the claims ledger has no entry for",
                            "Re-run `publisher publish`: the ledger is written from the run's measurements")
    return claim.value
