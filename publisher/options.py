"""Every option a command takes, declared once.

From this table come the settings dataclasses' defaults (``publisher.settings``), the click options
(``publisher.cli.options``), the validation of ``publish.toml`` (``publisher.config``) and the
README's CLI and config references (``scripts/update_readme.py``). Changing a default is a one-line
change here; ``tests/test_options.py`` proves the CLI, the config file and the README agree.

This module is plain data: it imports nothing from publisher, so any layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Commands that take options from the table. "publish" takes every option that names it.
PUBLISH = "publish"
EXPORT = "export"
INSPECT = "inspect"
PARITY = "parity"  # stage 3; `publisher verify` re-checks a published release
ACCURACY = "accuracy"
SPARSITY = "sparsity"
VERIFY = "verify"  # re-check a published release (publisher.recheck)

_MEASURE = frozenset({PUBLISH, PARITY, ACCURACY})


@dataclass(frozen=True)
class Option:
    """One option: its config key, its flag, its type, its default and which commands take it."""

    key: str  # config key and Python name, e.g. "batch_size"
    type: str  # "str" | "int" | "float" | "bool" | "list" | "file" | "dir" | "choice"
    default: Any
    help: str  # one sentence, no trailing default (added where shown)
    commands: frozenset[str] = frozenset({PUBLISH})
    flag: str | None = None  # e.g. "--model-tag"; default: "--" + key with "-"
    short: str | None = None  # e.g. "-o"
    choices: tuple[str, ...] = ()
    negatable: bool = False  # "--push/--no-push" instead of a plain "--flag"
    off_flag: str | None = None  # the "--no-..." half of a negatable option, when not "--no-" + name
    config: bool = True  # settable in publish.toml
    show_default: str | None = None  # how the default reads in help, when not str(default)
    gate: str | None = None  # a quality gate: ">=" (a minimum) or "<=" (a maximum); None switches it off
    help_for: tuple[tuple[str, str], ...] = ()  # (command, help) where a command reads it otherwise

    def help_in(self, command: str | None) -> str:
        return dict(self.help_for).get(command or "", self.help)

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")

    @property
    def config_type(self) -> type:
        return {"str": str, "file": str, "dir": str, "choice": str, "int": int, "float": float,
                "bool": bool, "list": list}[self.type]

    @property
    def is_path(self) -> bool:
        """Relative to the config file when read from publish.toml."""
        return self.type in ("file", "dir")

    @property
    def default_text(self) -> str | None:
        if self.show_default is not None:
            return self.show_default
        if self.default is None or self.type == "bool":
            return None
        return str(self.default)


WEIGHT_FORMATS = ("int8", "int4", "fp16", "fp32")
TASKS = ("text-classification", "text-generation", "token-classification", "feature-extraction", "text-ranking",
         "question-answering")
BASE_MODEL_RELATIONS = ("finetune", "quantized", "adapter", "merge")

OPTIONS: tuple[Option, ...] = (
    # What to release and how to export it.
    Option("checkpoint", "dir", None, "Hugging Face model folder to release", config=True,
           commands=frozenset({VERIFY}),
           help_for=(("verify", 'The training checkpoint the release was made from: re-measures the torch-side claims too'),)),  # the CHECKPOINT argument on the command line
    Option("repo_id", "str", None, "Target repo NAMESPACE/NAME"),
    Option("output", "dir", None, "Output folder", short="-o", show_default="artifacts/<name>"),
    Option("task", "choice", None, "Task of the release", choices=TASKS,
           show_default="inferred from the checkpoint's architectures"),
    Option("weight_format", "choice", "int8", "IR weight format", choices=WEIGHT_FORMATS,
           commands=frozenset({PUBLISH, EXPORT})),
    Option("group_size", "int", None, "INT4: weights per quantization group (-1: per channel)",
           commands=frozenset({PUBLISH, EXPORT}), show_default="128, or the largest of 64/32/16 that divides every layer's input size, else -1"),
    Option("ratio", "float", 1.0, "INT4: share of the linear layers in INT4 (the rest INT8)",
           commands=frozenset({PUBLISH, EXPORT})),
    Option("sym", "bool", False, "INT4/INT8: symmetric weight quantization (no zero point)",
           commands=frozenset({PUBLISH, EXPORT})),
    Option("awq", "bool", False, "INT4: data-aware AWQ on the evaluation text",
           commands=frozenset({PUBLISH, EXPORT})),
    Option("scale_estimation", "bool", False, "INT4: data-aware scale estimation on the evaluation text",
           commands=frozenset({PUBLISH, EXPORT})),
    Option("int4_search", "bool", False, "Language model: try INT4 settings from the most compressed (ratio 1.0, "
           "data-free) toward less compressed ones (lower ratio, AWQ + scale estimation, smaller groups) and "
           "publish the first that passes every gate; each trial is cached (publisher/pipeline/int4_search.py)"),
    Option("search_budget", "int", 8, "--int4-search: the most INT4 settings (trials) to export and measure"),
    Option("static_int8", "bool", False, "Embedding model: static INT8, weights and activations quantized by NNCF "
           "post-training quantization calibrated on the first 300 evaluation sentences (the IR is "
           "openvino/openvino_model_qint8_quantized.xml, sentence-transformers' name)",
           commands=frozenset({PUBLISH, EXPORT})),
    Option("trust_pickle", "bool", False, "Allow loading pytorch_model.bin (pickle)",
           commands=frozenset({PUBLISH, EXPORT, INSPECT, PARITY, ACCURACY, SPARSITY, VERIFY}),
           help_for=(("verify", "Let the checkpoint's pytorch_model.bin be unpickled"),)),
    # Evaluation data.
    Option("eval_file", "file", None, "Local evaluation file: .tsv/.csv/.jsonl for a classifier, "
           ".txt/.jsonl (a text field) for a language model, CoNLL-style token/tag lines or .jsonl (tokens, "
           "ner_tags) for a token classifier, .csv/.tsv/.jsonl sentence pairs with a score (sentence1, "
           "sentence2, score) for an embedding model, .jsonl queries (query, positive, negative) for a reranker, "
           "SQuAD .json or .jsonl (id, question, context, answers) for question answering",
           commands=_MEASURE | {VERIFY},
           show_default="the bundled GLUE SST-2 validation split, the bundled WikiText-2 (raw) test split for a "
           "language model, the "
           "bundled STS Benchmark test split for an embedding model, the bundled WNUT-17 test split for a token "
           "classifier, the bundled SQuAD v1.1 dev split (10,570 questions) for question answering; "
           "a reranker has no default and needs it",
           help_for=(("verify", 'The evaluation data, when the file the release names is not on this machine'),)),
    Option("dataset", "str", None, "datasets id of the evaluation data (needs network or a local copy)",
           commands=_MEASURE | {VERIFY},
           help_for=(("verify", 'Hub dataset id of the evaluation data, when the release names a Hub dataset'),)),
    Option("dataset_config", "str", None, "Dataset config name", commands=_MEASURE),
    Option("split", "str", None, "Evaluation split", commands=_MEASURE,
           show_default="the task's: validation for a classifier (GLUE's test labels are hidden), test for a "
           "language model (held-out text) and a token classifier (NER benchmarks report test), validation for "
           "question answering (SQuAD's test split is hidden)"),
    Option("text_column", "str", None, "Text column", commands=_MEASURE,
           show_default="sentence; text for a language model"),
    Option("label_column", "str", "label", "Label column", commands=_MEASURE),
    Option("text_pair_column", "str", None, "Classifier: the second text column of sentence pairs, tokenized "
           "with the text column as one pair (as at training)", commands=_MEASURE,
           show_default="the second column of a known pair layout the data holds (sentence1/sentence2, "
           "question/sentence, question1/question2, premise/hypothesis), else single texts"),
    Option("max_samples", "int", None, "Evaluate on the first N rows only (classifier, token classifier; pairs "
           "for an embedding model, queries for a reranker and question answering)", commands=_MEASURE | {VERIFY},
           help_for=(("verify", 'A quick partial check: the first N rows (classifier) or windows (language model), compared one by one with the recorded ones'),)),
    Option("max_length", "int", 128, "Tokenizer max length (classifier, token classifier; on the bundled "
           "WNUT-17 data a token classifier uses its position limit, as no sentence is truncated)", commands=_MEASURE),
    Option("batch_size", "int", 32, "Evaluation batch size (classifier, token classifier)", commands=_MEASURE),
    Option("window", "int", 512, "Perplexity window in tokens (language model)", commands=_MEASURE),
    Option("stride", "int", 256, "Perplexity stride in tokens (language model)", commands=_MEASURE),
    Option("max_windows", "int", 32, "Perplexity: score the first N windows of the text, 0 for all of "
           "it (language model; 32 windows of 512 every 256 cover 8,448 tokens)", commands=_MEASURE),
    Option("similarity_model", "str", None, "Answer similarity (language model): the sentence-transformers model "
           "that embeds the torch and IR answers, a local folder or a Hub model id (who_what_benchmark's default "
           "is sentence-transformers/all-mpnet-base-v2, which needs the Hub)", commands=_MEASURE | {VERIFY},
           show_default="the packaged sentence-transformers/all-MiniLM-L6-v2, offline",
           help_for=(("verify", "The similarity model, when the release's was a local folder (its weights' "
                                "sha256 must be the recorded one)"),)),
    Option("pooling", "choice", None, "Sentence embeddings of a bare encoder (*Model): how token embeddings "
           "are pooled (a sentence-transformers folder says it itself)", choices=("mean", "cls", "max"),
           commands=_MEASURE | {EXPORT}, show_default="mean"),
    Option("normalize", "bool", None, "Sentence embeddings of a bare encoder: L2-normalize each embedding",
           commands=_MEASURE | {EXPORT}, negatable=True),
    Option("max_seq_length", "int", 384, "Question answering: tokens per window (question + context); a longer "
           "context is split into several windows", commands=_MEASURE),
    Option("doc_stride", "int", 128, "Question answering: tokens by which the windows of a long context overlap",
           commands=_MEASURE),
    Option("max_answer_length", "int", 30, "Question answering: longest answer span, in tokens", commands=_MEASURE),
    # Quality gates: None switches a gate off.
    Option("min_ir_accuracy", "float", 0.0, "Gate: minimum IR accuracy (classifier)", gate=">="),
    Option("max_accuracy_drop", "float", 0.01, "Gate: maximum torch - IR accuracy drop (classifier)", gate="<="),
    Option("min_sparsity", "float", 0.0, "Gate: minimum IR sparsity", gate=">="),
    Option("min_argmax_agreement", "float", 0.98, "Gate: minimum torch/IR argmax agreement (classifier)",
           commands=_MEASURE, gate=">="),
    Option("max_logit_diff", "float", 0.5, "Gate: maximum |torch - IR| logit (classifier)",
           commands=_MEASURE, gate="<="),
    Option("min_ir_f1", "float", 0.0, "Gate: minimum IR entity-level F1 (token classifier), or SQuAD F1 as a "
           "fraction, F1 / 100 (question answering)", gate=">="),
    Option("max_f1_drop", "float", 0.01, "Gate: maximum torch - IR entity-level F1 drop (token classifier), or "
           "SQuAD F1 drop as a fraction, points / 100 (question answering)", gate="<="),
    Option("min_cosine", "float", 0.99, "Gate: minimum mean cosine similarity of IR and torch sentence "
           "embeddings (embedding model)", gate=">="),
    Option("min_p1_cosine", "float", 0.98, "Gate: minimum 1st percentile of the per-sentence IR/torch cosine "
           "similarity (embedding model)", gate=">="),
    Option("max_spearman_drop", "float", 0.01, "Gate: maximum torch - IR Spearman correlation drop on the "
           "sentence pairs, as a fraction (embedding model)", gate="<="),
    Option("min_rank_agreement", "float", 0.95, "Gate: minimum share of queries whose best passage is the same "
           "under the IR and torch (reranker)", gate=">="),
    Option("max_ndcg_drop", "float", 0.01, "Gate: maximum torch - IR NDCG@10 drop (reranker)", gate="<="),
    Option("max_perplexity_increase", "float", 0.10,
           "Gate: maximum relative IR perplexity increase over torch (language model)", gate="<="),
    Option("min_top1_agreement", "float", 0.80,
           "Gate: minimum teacher-forced top-1 next-token agreement (language model)", gate=">="),
    Option("min_generation_match", "float", 0.0,
           "Gate: minimum share of prompts whose greedy IR output equals torch's (language model)", gate=">="),
    # 0.75 from benchmarks/answer_similarity_by_format.py on SmolLM2-135M (README, "Causal language models"):
    # INT8 weights measure 0.88 and the INT4 setting that passes the perplexity gates 0.80, plain INT4 0.72;
    # who_what_benchmark's 0.9 is read on larger models with 128 new tokens and all-mpnet-base-v2.
    Option("min_similarity", "float", 0.75,
           "Gate: minimum answer similarity, the mean cosine similarity of the embedded torch and IR greedy "
           "answers (language model)", gate=">="),
    # The card.
    Option("model_name", "str", None, "Card title", show_default="the repo name"),
    Option("license", "str", None, "License id for the card (e.g. apache-2.0)"),
    Option("language", "list", None, "Card language", show_default="en"),
    Option("tags", "list", None, "Extra card tag", flag="--model-tag"),
    Option("base_model", "str", None, "Hub id of the original model"),
    Option("base_model_relation", "choice", None, "How the release relates to --base-model",
           choices=BASE_MODEL_RELATIONS, show_default="derived from the evidence"),
    Option("teacher_model", "str", None, "Hub id of the distillation teacher"),
    Option("nncf_config", "file", None, "nncf_config.json", show_default="the checkpoint's"),
    Option("training_command", "file", None, "File holding the training command"),
    Option("template", "file", None, "Card template (Jinja2)", show_default="the bundled card of the task"),
    Option("sections_dir", "dir", None, "Folder of card sections to add or override"),
    # The Hub.
    Option("endpoint", "str", None, "'local', a URL, or unset: HF_ENDPOINT, else the real Hub when a "
           "token is found, else the local hub", commands=frozenset({PUBLISH, VERIFY})),
    Option("token_file", "file", None, "File holding the Hub token",
           show_default="HF_TOKEN or the huggingface_hub login", commands=frozenset({PUBLISH, VERIFY})),
    Option("revision", "str", "main", "Branch to commit to", commands=frozenset({PUBLISH, VERIFY}),
           help_for=(("verify", 'Branch, tag or commit to check'),)),
    Option("create_pr", "bool", False, "Open a pull request instead of committing", negatable=True),
    Option("add_to", "str", None, "Embedding model: open a pull request adding the IR (openvino/) and an OpenVINO "
           "section of the card to this existing model repo, whose model.safetensors must be the checkpoint's; "
           "nothing else in it changes"),
    Option("tag", "str", None, "Hub tag to create on the new commit (e.g. v1.0)"),
    Option("private", "bool", None, "Visibility when the repo is created", negatable=True,
           off_flag="--public"),
    Option("commit_message", "str", None, "Commit message", show_default="states the key figures"),
    Option("push", "bool", True, "Push to the Hub", negatable=True),
    Option("dry_run", "bool", False, "Show the files and card diff against the remote; push nothing"),
    Option("cache", "bool", True, "Re-use cached stage results", negatable=True),
    Option("bench", "bool", False, "Measure IR performance on this CPU for the card's Performance "
           "section (cached with the measurements)"),
    Option("openvino", "list", None, "Also run the IR on these OpenVINO releases (e.g. 2025.3, or "
           "2025.3,2025.4), each installed once into a cached environment of its own; the card then "
           "states the lowest release from which all passed", show_default="only the release publish runs", commands=frozenset({PUBLISH, VERIFY}),
           help_for=(("verify", 'Also run the IR on these OpenVINO releases (e.g. 2025.0,2025.4), each installed once into a cached environment of its own'),)),

    # Signing (issue 25): the release set signed with model_signing, shipped as model.sig.
    Option("sign_key", "file", None, "Sign the release set with this PEM elliptic-curve private key "
           "(P-256/384/521); the signature ships as model.sig in the same commit",
           show_default="not signed"),
    Option("sign_key_password_env", "str", None, "Name of the environment variable holding --sign-key's "
           "password (never the password itself)"),
    Option("sign_key_password_file", "file", None, "File holding --sign-key's password"),
    Option("sign", "choice", None, "How to sign: key (with --sign-key) or sigstore (keyless, needs "
           "Sigstore's public services; refused where they cannot be reached)", choices=("key", "sigstore"),
           show_default="key when --sign-key is given"),

    # publisher verify only.
    Option("accept_other_data", "bool", False, "Re-measure even on data whose sha256 differs from the one the "
           "ledger names", commands=frozenset({VERIFY}), config=False),
    Option("namespace", "str", None, "Verify every model of NAMESPACE", flag="--all", commands=frozenset({VERIFY}),
           config=False),
    Option("repos_file", "file", None, "Verify the repos listed in FILE (one namespace/name per line)",
           flag="--repos", commands=frozenset({VERIFY}), config=False),
    Option("work_dir", "dir", "artifacts/verify", "Where releases are downloaded while they are checked",
           commands=frozenset({VERIFY}), config=False),
    Option("public_key", "file", None, "Check the release's model.sig with this PEM public key first: a file "
           "changed, added or removed after signing, another key or a malformed signature does not hold",
           commands=frozenset({VERIFY}), config=False,
           show_default="a signed release is reported as signed, not checked"),
    Option("keep", "bool", False, "Keep the downloaded release files after the check", commands=frozenset({VERIFY}),
           config=False),
)

BY_KEY: dict[str, Option] = {o.key: o for o in OPTIONS}


def default(key: str) -> Any:
    """The default of option ``key`` (for dataclass fields and the stages)."""
    return BY_KEY[key].default


GATES: tuple[Option, ...] = tuple(o for o in OPTIONS if o.gate)


def for_command(command: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands]
