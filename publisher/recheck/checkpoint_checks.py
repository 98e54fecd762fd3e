"""`publisher verify --checkpoint`: the torch-side claims re-measured, when the reader has the checkpoint.

The checkpoint must be the one the release was measured from (its files' sha256 digest is in the
ledger), so that a figure re-measured from another model is never taken for a re-check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.card import facts
from publisher.card import ledger as ledger_module
from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.results import Report


def check_identity(report: Report, checkpoint: Path, accept_other: bool) -> str | None:
    """None when ``checkpoint`` is the one measured; a note when it is not and that was accepted."""
    from publisher.stages.load import digest_folder

    if not checkpoint.is_dir():
        raise BadInputError(f"The checkpoint {checkpoint} is not a folder", "Pass the checkpoint folder")
    recorded = report.claims.inputs.get(ledger_module.CHECKPOINT)
    actual = ledger_module.files_digest(digest_folder(checkpoint))
    if recorded is None or recorded.sha256 == actual:
        return None
    if not accept_other:
        raise BadInputError(
            f"The checkpoint {checkpoint} is not the one the release was measured from (its files' digest "
            f"is {actual[:12]}, the ledger's {recorded.sha256[:12]})",
            "Pass the checkpoint folder the release was published from, or --accept-other-data to compare anyway")
    return f"on a checkpoint whose files differ from the ledger's ({actual[:12]} vs {recorded.sha256[:12]})"


def remeasure_classifier(report: Report, release_dir: Path, checkpoint: Path, eval_spec: Any, *,
                         batch_size: int, trust_pickle: bool, progress: Progress) -> dict[str, tuple[Any, str]]:
    """accuracy, sparsity and logit parity of torch against the release's IR, as publish measured them."""
    from publisher.recheck.remeasure import ir_xml
    from publisher.settings import PublishSettings
    from publisher.tasks import classification
    from publisher.tasks.run import StageTimer

    settings = PublishSettings(checkpoint=checkpoint, repo_id=None, eval=eval_spec, batch_size=batch_size,
                               trust_pickle=trust_pickle)
    timer = StageTimer()
    prepared = classification.prepare(checkpoint, settings, progress, timer)
    torch_logits = classification.torch_pass(prepared, progress, timer)
    verification, sparsity, accuracy = classification.measure_against_ir(
        prepared, torch_logits, ir_xml(release_dir), settings.gates, progress, timer)
    metric = report.accuracy.metric
    return {
        f"{metric}.torch": (accuracy.torch, ledger_module.fixed(accuracy.torch, 4)),
        "sparsity.torch": (sparsity.torch.overall, ledger_module.fixed(sparsity.torch.overall, 2)),
        "verification.argmax_agreement": (verification.argmax_agreement,
                                          ledger_module.fixed(verification.argmax_agreement, 4)),
        "verification.max_abs_logit_diff": (verification.max_abs_logit_diff,
                                            ledger_module.sig(verification.max_abs_logit_diff, 3)),
    }


def remeasure_text_generation(report: Report, release_dir: Path, checkpoint: Path, eval_text: Any, *,
                              trust_pickle: bool, progress: Progress) -> dict[str, tuple[Any, str]]:
    """Perplexity, logit parity and greedy generation of torch against the release's IR."""
    from publisher.stages.load import load_checkpoint
    from publisher.stages.text_generation import DEFAULT_PROMPTS, measure_text_generation

    tg = report.text_generation
    ppl = tg.perplexity
    with progress.stage(f"Loading {checkpoint}"):
        loaded = load_checkpoint(checkpoint, trust_pickle=trust_pickle)
    measured = measure_text_generation(
        loaded, release_dir, eval_text, window=ppl.window, stride=ppl.stride,
        max_windows=ppl.max_windows if ppl.max_windows else ppl.windows, prompts=DEFAULT_PROMPTS,
        max_new_tokens=tg.generation.max_new_tokens, compression=tg.compression, progress=progress,
        inference_precision=ppl.inference_precision or None)
    m_ppl, parity, gen = measured.perplexity, measured.parity, measured.generation
    increase = (m_ppl.openvino - m_ppl.torch) / m_ppl.torch if m_ppl.torch else None
    out = {
        "perplexity.torch": (m_ppl.torch, ledger_module.fixed(m_ppl.torch, 2)),
        "parity.top1_agreement": (parity.top1_agreement, ledger_module.fixed(parity.top1_agreement, 4)),
        "parity.max_abs_logit_diff": (parity.max_abs_logit_diff, ledger_module.sig(parity.max_abs_logit_diff, 3)),
        "parity.mean_abs_logit_diff": (parity.mean_abs_logit_diff,
                                       ledger_module.sig(parity.mean_abs_logit_diff, 3)),
        "generation.exact_match_rate": (gen.exact_match_rate, ledger_module.fixed(gen.exact_match_rate, 2)),
        "sparsity.torch": (measured.sparsity.torch.overall, ledger_module.fixed(measured.sparsity.torch.overall, 2)),
    }
    if increase is not None and facts.perplexity_increase(report) is not None:
        out["perplexity.increase"] = (increase, f"{increase * 100:+.2f}%")
    return out
