"""Everything a publish run is told, as frozen dataclasses.

Defaults come from the options table (``publisher.options``); ``settings_from_mapping`` builds the
settings from a flat mapping of option keys (a config file's model merged with the CLI flags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.options import BY_KEY, GATES, default
from publisher.stages.data import EvalDataSpec


# Quality gates, checked before anything is pushed: one field per gate option of the options table
# (publisher.options, ``gate=``), its default the table's; ``None`` switches a gate off. Each task
# judges the gates it declares (publisher.tasks); the others are ignored.
Gates = make_dataclass(
    "Gates", [(o.key, float | None, field(default=o.default)) for o in GATES], frozen=True,
    namespace={"__module__": __name__})


@dataclass(frozen=True)
class CardOptions:
    model_name: str | None = None  # card title; defaults to the repo name
    license: str | None = None
    language: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    base_model: str | None = None
    base_model_relation: str | None = None
    teacher_model: str | None = None
    nncf_config: Path | None = None
    training_command: Path | None = None
    template: Path | None = None
    sections_dir: Path | None = None


@dataclass(frozen=True)
class HubOptions:
    endpoint: str | None = None  # "local", a URL, or None (HF_ENDPOINT / real Hub / local hub)
    token: str | None = field(default=None, repr=False)
    revision: str = default("revision")
    create_pr: bool = default("create_pr")
    add_to: str | None = None  # an existing model repo to add the IR to, by pull request
    tag: str | None = None
    private: bool | None = None
    commit_message: str | None = None
    push: bool = default("push")
    dry_run: bool = default("dry_run")


@dataclass(frozen=True)
class CompressionOptions:
    """How the IR's weights are compressed (``--weight-format`` and NNCF's INT4 options)."""

    weight_format: str = default("weight_format")
    group_size: int | None = None  # None: NNCF's default, or a size that divides every layer
    ratio: float = default("ratio")
    sym: bool = default("sym")
    awq: bool = default("awq")
    scale_estimation: bool = default("scale_estimation")
    static_int8: bool = default("static_int8")  # weights and activations, calibrated (embedding models)

    @property
    def data_aware(self) -> bool:
        return self.awq or self.scale_estimation


@dataclass(frozen=True)
class TextEvalOptions:
    """Language-model evaluation: the perplexity windows (the text itself is ``PublishSettings.eval``)."""

    window: int = default("window")
    stride: int = default("stride")
    max_windows: int = default("max_windows")  # 0: the whole text
    similarity_model: str | None = None  # None: the packaged all-MiniLM-L6-v2


@dataclass(frozen=True)
class EmbeddingOptions:
    """How a bare encoder's token embeddings become a sentence embedding (a sentence-transformers
    folder says it itself; these are then refused)."""

    pooling: str | None = None  # "mean" | "cls" | "max"; None: the folder's own, else mean
    normalize: bool | None = None  # None: the folder's own, else not normalized


@dataclass(frozen=True)
class QuestionAnsweringOptions:
    """Extractive question answering: the windows a long context is split into, the longest answer."""

    max_seq_length: int = default("max_seq_length")
    doc_stride: int = default("doc_stride")
    max_answer_length: int = default("max_answer_length")


@dataclass(frozen=True)
class SigningOptions:
    """How the release set is signed (issue 25); the password is read from a variable or a file."""

    sign: str | None = None  # "key" | "sigstore" | None (key when ``sign_key`` is given)
    sign_key: Path | None = None
    sign_key_password_env: str | None = None  # the variable's name, never the password
    sign_key_password_file: Path | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.sign or self.sign_key or self.sign_key_password_env or self.sign_key_password_file)


@dataclass(frozen=True)
class PublishSettings:
    checkpoint: Path
    repo_id: str | None
    output: Path | None = None  # default artifacts/<repo name or checkpoint name>
    task: str | None = None  # None: inferred from the checkpoint's architectures
    compression: CompressionOptions = field(default_factory=CompressionOptions)
    trust_pickle: bool = default("trust_pickle")
    eval: EvalDataSpec = field(default_factory=EvalDataSpec)
    text_eval: TextEvalOptions = field(default_factory=TextEvalOptions)
    embedding: EmbeddingOptions = field(default_factory=EmbeddingOptions)
    qa: QuestionAnsweringOptions = field(default_factory=QuestionAnsweringOptions)
    batch_size: int = default("batch_size")
    gates: Gates = field(default_factory=Gates)
    card: CardOptions = field(default_factory=CardOptions)
    hub: HubOptions = field(default_factory=HubOptions)
    use_cache: bool = default("cache")
    bench: bool = default("bench")  # measure IR performance for the card's Performance section
    openvino: tuple[str, ...] = ()  # OpenVINO releases to run the IR on (--openvino)
    signing: SigningOptions = field(default_factory=SigningOptions)
    int4_search: bool = default("int4_search")  # search INT4 settings (publisher.pipeline.int4_search)
    search_budget: int = default("search_budget")

    @property
    def weight_format(self) -> str:
        return self.compression.weight_format

    @property
    def name(self) -> str:
        if self.repo_id:
            return self.repo_id.split("/")[-1]
        return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(self.checkpoint).resolve().name) or "model"

    @property
    def output_dir(self) -> Path:
        return Path(self.output) if self.output else Path("artifacts") / self.name


def _read_token(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError as exc:
        raise BadInputError(f"The token file {path} cannot be read ({exc.strerror})",
                            "Check --token-file") from exc


def _check_ranges(m: dict[str, Any]) -> None:
    for key in ("batch_size", "window", "stride", "max_samples", "search_budget", "max_seq_length", "doc_stride",
                "max_answer_length"):
        if m.get(key) is not None and m[key] < 1:
            raise BadInputError(f"{BY_KEY[key].cli_flag} must be at least 1, not {m[key]}",
                                f"Fix {BY_KEY[key].cli_flag}")
    if m.get("window") and m.get("stride") and m["stride"] > m["window"]:
        raise BadInputError(f"--stride {m['stride']} is larger than --window {m['window']}, so some "
                            "tokens would never be scored", "Use a stride no larger than the window")
    if m.get("max_windows") is not None and m["max_windows"] < 0:
        raise BadInputError(f"--max-windows must be 0 (the whole text) or more, not {m['max_windows']}",
                            "Fix --max-windows")
    ratio = m.get("ratio")
    if ratio is not None and not 0.0 < ratio <= 1.0:
        raise BadInputError(f"--ratio must be in (0, 1], not {ratio}",
                            "Pass the share of layers to compress to INT4, e.g. --ratio 0.8")


def settings_from_mapping(m: dict[str, Any]) -> PublishSettings:
    """Build settings from a flat mapping of option keys (config file merged with CLI flags).

    A key that is absent or None takes the option's default.
    """
    if not m.get("checkpoint"):
        raise BadInputError("No checkpoint was given", "Pass CHECKPOINT, or set checkpoint in the config")
    _check_ranges(m)
    given = {k: v for k, v in m.items() if v is not None}

    def pick(cls: type, keys: tuple[str, ...], **extra: Any) -> Any:
        return cls(**{k: given[k] for k in keys if k in given}, **extra)

    def path(key: str) -> Path | None:
        return Path(given[key]) if given.get(key) else None

    token = given.get("token") or (_read_token(given["token_file"]) if given.get("token_file") else None)
    return PublishSettings(
        checkpoint=Path(given["checkpoint"]),
        repo_id=given.get("repo_id") or given.get("add_to"),
        output=path("output"),
        task=given.get("task"),
        compression=pick(CompressionOptions, ("weight_format", "group_size", "ratio", "sym", "awq",
                                              "scale_estimation", "static_int8")),
        trust_pickle=bool(given.get("trust_pickle", default("trust_pickle"))),
        eval=pick(EvalDataSpec, ("eval_file", "dataset", "dataset_config", "split", "text_column",
                                 "label_column", "max_samples", "max_length", "text_pair_column")),
        text_eval=pick(TextEvalOptions, ("window", "stride", "max_windows", "similarity_model")),
        embedding=pick(EmbeddingOptions, ("pooling", "normalize")),
        qa=pick(QuestionAnsweringOptions, ("max_seq_length", "doc_stride", "max_answer_length")),
        batch_size=given.get("batch_size", default("batch_size")),
        gates=pick(Gates, tuple(o.key for o in GATES)),
        card=CardOptions(
            model_name=given.get("model_name"), license=given.get("license"),
            language=tuple(given.get("language") or ()), tags=tuple(given.get("tags") or ()),
            base_model=given.get("base_model"), base_model_relation=given.get("base_model_relation"),
            teacher_model=given.get("teacher_model"), nncf_config=path("nncf_config"),
            training_command=path("training_command"), template=path("template"),
            sections_dir=path("sections_dir"),
        ),
        hub=pick(HubOptions, ("endpoint", "revision", "create_pr", "add_to", "tag", "private", "commit_message",
                              "push", "dry_run"), token=token),
        use_cache=bool(given.get("cache", default("cache"))),
        bench=bool(given.get("bench", default("bench"))),
        openvino=_openvino_versions(given.get("openvino")),
        signing=SigningOptions(sign=given.get("sign"), sign_key=path("sign_key"),
                               sign_key_password_env=given.get("sign_key_password_env"),
                               sign_key_password_file=path("sign_key_password_file")),
        int4_search=bool(given.get("int4_search", default("int4_search"))),
        search_budget=given.get("search_budget", default("search_budget")),
    )


def _openvino_versions(given: Any) -> tuple[str, ...]:
    """``--openvino`` given once with commas, repeated, or as a config list."""
    if not given:
        return ()
    from publisher.compat import parse_versions

    items = [given] if isinstance(given, str) else list(given)
    return tuple(dict.fromkeys(v for item in items for v in parse_versions(str(item))))
