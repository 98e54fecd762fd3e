"""Stage 3, parity (``publisher parity``): does the IR agree with the torch model? Uses the logits
of the accuracy pass. (``publisher verify``, in ``publisher.recheck``, re-checks a published release.)"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from publisher.errors import BadInputError
from publisher.options import default
from publisher.results import VerificationResult
from publisher.stages.inference import Logits


@dataclass(frozen=True)
class VerifyThresholds:
    max_abs_logit_diff: float = default("max_logit_diff")  # INT8 weights move logits by 0.01 to 0.1
    min_argmax_agreement: float = default("min_argmax_agreement")


def check_finite(name: str, values) -> None:
    """Refuse NaN or infinite logits: any accuracy computed from them would be meaningless."""
    import numpy as np

    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).any(axis=1).sum())
        raise BadInputError(
            f"The {name} produced NaN or infinite logits on {bad} of {len(values)} samples; "
            "its accuracy would be meaningless",
            "Check the checkpoint's weights (a diverged training run, or a broken conversion)",
        )


def verify(torch_logits: Logits, ir_logits: Logits, thresholds: VerifyThresholds) -> VerificationResult:
    import numpy as np

    a, b = torch_logits.values, ir_logits.values
    if a.shape != b.shape:
        raise BadInputError(
            f"The IR returns logits of shape {b.shape}, the torch model {a.shape}",
            "Export the IR again from this checkpoint",
        )
    check_finite("torch model", a)
    check_finite("OpenVINO IR", b)
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    agreement = float((a.argmax(axis=1) == b.argmax(axis=1)).mean()) if len(a) else 1.0
    passed = diff <= thresholds.max_abs_logit_diff and agreement >= thresholds.min_argmax_agreement
    return VerificationResult(
        compiled=True,
        device=ir_logits.device,
        samples=int(len(a)),
        max_abs_logit_diff=diff,
        argmax_agreement=agreement,
        max_abs_logit_diff_threshold=thresholds.max_abs_logit_diff,
        argmax_agreement_threshold=thresholds.min_argmax_agreement,
        passed=passed,
    )


def thresholds_from(gates: Any) -> VerifyThresholds:
    """The verification thresholds are the two agreement gates (a switched-off gate never fails)."""
    return VerifyThresholds(
        max_abs_logit_diff=gates.max_logit_diff if gates.max_logit_diff is not None else float("inf"),
        min_argmax_agreement=gates.min_argmax_agreement or 0.0,
    )


def rejudge(result: VerificationResult, thresholds: VerifyThresholds) -> VerificationResult:
    """A (cached) verification judged against the current thresholds."""
    return dataclasses.replace(
        result,
        max_abs_logit_diff_threshold=thresholds.max_abs_logit_diff,
        argmax_agreement_threshold=thresholds.min_argmax_agreement,
        passed=result.max_abs_logit_diff <= thresholds.max_abs_logit_diff
        and result.argmax_agreement >= thresholds.min_argmax_agreement,
    )
