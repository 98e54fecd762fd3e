"""Everything a publish run is told, as frozen dataclasses (built by the CLI or the config file)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from publisher.stages.data import EvalDataSpec


@dataclass(frozen=True)
class Gates:
    """Quality gates, checked before anything is pushed. ``None`` switches a gate off."""

    min_ir_accuracy: float | None = 0.0
    max_accuracy_drop: float | None = 0.01  # torch accuracy - IR accuracy
    min_sparsity: float | None = 0.0  # of the IR, over the transformer-block linear layers
    min_argmax_agreement: float | None = 0.98
    max_logit_diff: float | None = 0.5


@dataclass(frozen=True)
class CardOptions:
    model_name: str | None = None  # card title; defaults to the repo name
    license: str | None = None
    language: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    base_model: str | None = None
    teacher_model: str | None = None
    nncf_config: Path | None = None
    training_command: Path | None = None
    template: Path | None = None
    sections_dir: Path | None = None


@dataclass(frozen=True)
class HubOptions:
    endpoint: str | None = None  # "local", a URL, or None (HF_ENDPOINT / real Hub / local hub)
    token: str | None = field(default=None, repr=False)
    revision: str = "main"
    create_pr: bool = False
    tag: str | None = None
    private: bool | None = None
    commit_message: str | None = None
    push: bool = True
    dry_run: bool = False


@dataclass(frozen=True)
class PublishSettings:
    checkpoint: Path
    repo_id: str | None
    output: Path | None = None  # default artifacts/<repo name or checkpoint name>
    weight_format: str = "int8"
    trust_pickle: bool = False
    eval: EvalDataSpec = field(default_factory=EvalDataSpec)
    batch_size: int = 32
    gates: Gates = field(default_factory=Gates)
    card: CardOptions = field(default_factory=CardOptions)
    hub: HubOptions = field(default_factory=HubOptions)
    use_cache: bool = True
    bench: bool = False  # measure IR latency/throughput for the card's Performance section

    @property
    def name(self) -> str:
        if self.repo_id:
            return self.repo_id.split("/")[-1]
        return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(self.checkpoint).resolve().name) or "model"

    @property
    def output_dir(self) -> Path:
        return Path(self.output) if self.output else Path("artifacts") / self.name
