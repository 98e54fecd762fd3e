"""Property-based fuzzing of what ``publisher publish`` reads from the user (slow suite).

Two tiny checkpoints are built for the run (a BERT classifier, with its tokenizer as tokenizer.json
and as vocab.txt, and a Llama causal LM), and hypothesis damages one file per example:
``config.json`` (a field set to a value of another type, a huge number, a key removed, the file
truncated, re-encoded, not UTF-8, not an object, nested too deeply), the tokenizer files
(``tokenizer.json``, ``tokenizer_config.json``, ``vocab.txt``, the chat template), the LLM's
``generation_config.json``, the training records the loader reads (``training_metadata.json``,
``training_command.txt``, ``training_args.json``, ``nncf_config.json``, ``recipe_record.json``,
``eval_log.json``), or writes an evaluation file for ``--eval-file`` (tsv/csv/jsonl/json for the
classifier, txt/jsonl for the LLM: missing columns, non-numeric, fractional, empty and mixed
labels, wrong encodings, huge lines, truncated or deep JSON lines). Then ``publisher publish CKPT
--no-push`` runs in-process and must end in one of two ways:

- exit 0: the damage was harmless (the tiny publish then runs to the end);
- exit 2 with exactly one ``Error:`` line (one paragraph, no traceback) that names the damaged
  file (for a tokenizer file: the tokenizer).

Never exit 1 (an internal error), never a traceback, never another code. Damage that no loader
can accept (bytes that are not UTF-8 in a JSON file, a truncated object) must be refused.

Examples are weighted toward damage that should be refused (about 0.1 s each); one that passes
the checks runs a whole tiny publish (3 to 8 s; an evaluation file alone re-uses the cached export).
The default run is bounded (seed and example count fixed, about 2 minutes on 2 cores). A longer one:
``FUZZ_EXAMPLES=2000 FUZZ_SEED=random .venv/bin/python -m pytest -m slow tests/test_loader_fuzz.py -p no:cacheprovider``
(``FUZZ_EXAMPLES`` is the classifier's count; the LLM gets half).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from publisher.cli.main import main
from publisher.errors import EXIT_BAD_INPUT, EXIT_OK
from tests.fixtures_llm import build_tiny_lm
from tests.fixtures_models import build_tiny

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SEED = os.environ.get("FUZZ_SEED", "20261202")
# A random tiny model passes these gates, so that a refusal is about the damaged file.
CLASSIFIER_ARGS = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0", "--max-logit-diff", "1000",
                   "--max-samples", "8"]
LLM_ARGS = ["--max-perplexity-increase", "1000", "--min-top1-agreement", "0", "--min-generation-match", "0",
            "--window", "32", "--stride", "16", "--max-windows", "2", "--min-similarity", "0"]
# Refusals about the model as a whole, whatever file made it so: they name no file.
MODEL_REFUSALS = ("produced NaN or infinite logits",)


# --- the damage ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Damage:
    """One change to one file: ``action`` with ``args``; ``names`` are what the refusal must say
    (any one of them); ``refuse``: no loader may accept it."""

    file: str  # relative to the checkpoint, or "eval:NAME" for an --eval-file
    action: str  # set, delete_key, delete, write, truncate, insert, reencode, deep
    args: tuple = ()
    refuse: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        name = self.file.removeprefix("eval:")
        if name in TOKENIZER_FILES:
            return ("tokenizer", name)
        if name == "config.json":  # the task is inferred from its architectures (publisher.tasks says so)
            return (name, "without an architecture", "which publisher does not release")
        return (name,)

    def apply(self, ckpt: Path, work: Path) -> list[str]:
        if self.file.startswith("eval:"):
            path = work / self.file.removeprefix("eval:")
            path.write_bytes(self.args[0])
            for step in self.args[1:]:
                _damage_bytes(path, *step)
            return ["--eval-file", str(path)]
        path = ckpt / self.file
        if self.action == "set":  # data[key] = value, or data[key][sub] = value
            keys, value = self.args
            data = _json_object(path)
            node = data
            if len(keys) == 2:
                if not isinstance(data.get(keys[0]), dict):
                    data[keys[0]] = {}
                node = data[keys[0]]
            node[keys[-1]] = value
            path.write_text(json.dumps(data, allow_nan=True))
        elif self.action == "delete_key":
            data = _json_object(path)
            data.pop(self.args[0], None)
            path.write_text(json.dumps(data))
        elif self.action == "delete":
            path.unlink(missing_ok=True)
        elif self.action == "write":
            path.write_bytes(self.args[0])
        else:
            _damage_bytes(path, self.action, *self.args)
        return []


def _json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _damage_bytes(path: Path, action: str, *args: Any) -> None:
    data = path.read_bytes() if path.exists() else b""
    if action == "truncate":
        data = data[: int(len(data) * args[0])]
    elif action == "insert":
        at = int(len(data) * args[0])
        data = data[:at] + args[1] + data[at:]
    elif action == "reencode":
        data = data.decode("utf-8", "replace").encode(args[0], "replace")
    elif action == "deep":
        data = b"[" * args[0] + b"]" * args[0]
    path.write_bytes(data)


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "chat_template.jinja",
                   "special_tokens_map.json")
HUGE = [2 ** 31, 2 ** 53 + 1, 2 ** 63, 2 ** 64, 10 ** 30, -(2 ** 63), -1, 0, 10 ** 400]
WORDS = ["", "bogus", "relu", "silu", "float16", "int8", "bert", "llama", "gpt2", "[PAD]", "<|im_end|>",
         "BertForSequenceClassification", "LlamaForCausalLM", "BertForMaskedLM", "apache-2.0", "en",
         "org/base", "python train.py", "default", "linear", "dynamic", "left", "middle", "\x00", "é" * 3]
scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(HUGE), st.integers(-3, 600),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(WORDS),
                    st.text(max_size=10))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)
non_objects = st.one_of(scalars, st.lists(scalars, max_size=3)).map(lambda v: json.dumps(v).encode())
bad_bytes = st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\x00", b"\xed\xa0\x80", b"\xfe\xff", b"\x80abc"])


def json_file_damage(name: str, keys: list[str], *, object_only: bool = True, fields: bool = True,
                     required: list[str] | None = None, subkeys: list[str] | None = None
                     ) -> st.SearchStrategy[Damage]:
    """Damage to a JSON file the loader reads: ``keys`` are its fields worth aiming at (``subkeys``
    inside those that hold objects; ``required``: those worth deleting). Whatever is not JSON is
    refused; ``object_only``: so is JSON that is not an object. ``fields``: aim at fields too (else
    only at the file's bytes: a file whose fields nothing checks is accepted whatever they hold,
    and each acceptance costs a whole publish)."""
    field = st.sampled_from(keys)
    value = json_values.filter(lambda v: v is not None)  # null is mostly "not given": harmless
    broken = [
        st.builds(lambda f: Damage(name, "truncate", (f,), refuse=True), st.floats(0.0, 0.9)),
        st.builds(lambda f, b: Damage(name, "insert", (f, b), refuse=True), st.floats(0, 1), bad_bytes),
        st.builds(lambda c: Damage(name, "reencode", (c,), refuse=True),
                  st.sampled_from(["utf-16", "utf-32", "utf-16-le"])),
        st.builds(lambda d: Damage(name, "deep", (d,), refuse=True), st.sampled_from([5000, 100_000])),
        st.builds(lambda b: Damage(name, "write", (b,), refuse=object_only), non_objects),
    ]
    if not fields:
        return st.one_of(*broken)
    aimed = [
        # A field of another type, or a huge number: the most common damage.
        st.builds(lambda k, v: Damage(name, "set", ((k,), v)), field, value),
        st.builds(lambda k, v: Damage(name, "set", ((k,), v)), field, st.sampled_from(HUGE)),
    ]
    if required != []:  # [] : no field whose removal is worth a whole publish
        aimed.append(st.builds(lambda k: Damage(name, "delete_key", (k,)), st.sampled_from(required or keys)))
    if subkeys:
        aimed.append(st.builds(lambda k, s, v: Damage(name, "set", ((k, s), v)), field,
                               st.sampled_from(subkeys), value))
    return st.sampled_from([*aimed, *aimed, *broken]).flatmap(lambda strategy: strategy)


def weighted(table: dict[str, tuple[int, st.SearchStrategy]]) -> st.SearchStrategy:
    """One of the table's strategies, each drawn about as often as its weight says."""
    names = [name for name, (weight, _) in table.items() for _ in range(weight)]
    return st.sampled_from(names).flatmap(lambda name: table[name][1])


def text_file_damage(name: str, texts: st.SearchStrategy[str], *, utf8: bool = False,
                     delete: bool = True) -> st.SearchStrategy[Damage]:
    """Damage to a text file: new text, truncation, bytes inserted, removal. ``utf8``: the loader
    reads it as UTF-8 text, so bytes that are not UTF-8 must be refused. ``delete``: removing it
    is worth a whole publish."""
    not_utf8 = st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80", b"\x80abc"])
    return st.one_of(
        st.builds(lambda t: Damage(name, "write", (t.encode("utf-8", "surrogatepass"),)), texts),
        st.builds(lambda f: Damage(name, "truncate", (f,)), st.floats(0.05, 0.9)),
        st.builds(lambda f, b: Damage(name, "insert", (f, b), refuse=utf8), st.floats(0, 1), not_utf8),
        *([st.just(Damage(name, "delete"))] if delete else []),
    )


# Fields worth aiming at, besides those the file holds.
BERT_KEYS = ["architectures", "model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
             "intermediate_size", "vocab_size", "max_position_embeddings", "type_vocab_size", "id2label",
             "label2id", "num_labels", "hidden_act", "layer_norm_eps", "pad_token_id", "dtype",
             "problem_type", "position_embedding_type", "hidden_dropout_prob", "tie_word_embeddings"]
LLAMA_KEYS = ["architectures", "model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "head_dim", "intermediate_size", "vocab_size", "max_position_embeddings",
              "rope_parameters", "rms_norm_eps", "hidden_act", "bos_token_id", "eos_token_id", "pad_token_id",
              "tie_word_embeddings", "attention_bias", "mlp_bias", "dtype", "use_cache", "pretraining_tp"]
TOKENIZER_CONFIG_KEYS = ["model_max_length", "tokenizer_class", "padding_side", "truncation_side", "pad_token",
                         "unk_token", "cls_token", "sep_token", "eos_token", "bos_token", "do_lower_case",
                         "chat_template", "added_tokens_decoder", "backend", "clean_up_tokenization_spaces"]
TOKENIZER_JSON_KEYS = ["model", "normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens",
                       "truncation", "padding", "version"]
TOKENIZER_SUBKEYS = ["type", "vocab", "merges", "unk_token", "continuing_subword_prefix", "lowercase",
                     "add_prefix_space", "sep", "cls", "pretokenizers", "max_input_chars_per_word"]
# Keys whose removal is not a harmless default (each harmless example costs a whole publish).
BERT_REQUIRED = ["architectures", "model_type", "hidden_size", "num_attention_heads", "intermediate_size",
                 "id2label", "max_position_embeddings"]
LLAMA_REQUIRED = ["architectures", "model_type", "hidden_size", "num_key_value_heads", "intermediate_size",
                  "vocab_size", "head_dim"]
GENERATION_KEYS = ["eos_token_id", "bos_token_id", "pad_token_id", "max_new_tokens", "max_length", "do_sample",
                   "temperature", "top_k", "top_p", "num_beams", "repetition_penalty", "cache_implementation",
                   "use_cache", "transformers_version"]
METADATA_KEYS = ["base_model", "teacher_model", "seed", "license", "language", "model_creator",
                 "base_model_relation"]
jinja_pieces = st.sampled_from(["{%", "%}", "{{", "}}", "for m in messages", "endfor", "if", "endif",
                                "m['content']", "m.role", "raise_exception('no')", "add_generation_prompt",
                                "nothing.here", "|upper", "bos_token", " ", "\n", "x", "'", '"', "(", ")"])
commands = st.one_of(st.text(max_size=40), st.lists(st.sampled_from(
    ["python", "train.py", "'", '"', "\\\n", "--x", "../../../x.py", "/etc/passwd", "$(rm -rf /)", "é"]),
    max_size=8).map(" ".join))


def training_damage() -> st.SearchStrategy[Damage]:
    """The training records: training_metadata.json's fields are checked (the card states them);
    the other files are aimed at where the loader can refuse them (their bytes; an accepted
    nncf_config.json or eval_log.json of any shape is harmless, and costs a whole publish)."""
    not_utf8 = st.builds(lambda f, b: Damage("training_command.txt", "insert", (f, b), refuse=True),
                         st.floats(0, 1), st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80"]))
    return weighted({
        "metadata": (4, json_file_damage("training_metadata.json", METADATA_KEYS)),
        "seed": (1, st.builds(lambda v: Damage("training_args.json", "set", (("seed",), v)),
                              json_values.filter(lambda v: v is not None and not isinstance(v, int)))),
        "args": (1, json_file_damage("training_args.json", [], fields=False)),
        "nncf": (1, json_file_damage("nncf_config.json", [], object_only=False, fields=False)),
        "record": (1, json_file_damage("recipe_record.json", [], object_only=False, fields=False)),
        "log": (1, json_file_damage("eval_log.json", [], object_only=False, fields=False)),
        "command": (2, not_utf8),
        "command text": (1, text_file_damage("training_command.txt", commands, utf8=True)),
    })


# --- evaluation files ----------------------------------------------------------------------------

label_values = st.one_of(st.sampled_from([0, 1]), st.sampled_from([0, 1]), st.integers(-2, 5),
                         st.sampled_from(["positive", "negative", "neutral", "", "1", "x"]),
                         st.floats(allow_nan=True), st.none(), st.booleans(), st.sampled_from(HUGE),
                         st.lists(st.integers(0, 1), max_size=2))
sentences = st.one_of(st.sampled_from(["a charming and affecting journey", "dull", "", "x" * 200_000]),
                      st.text(max_size=30))


@st.composite
def classifier_eval_files(draw) -> Damage:
    kind = draw(st.sampled_from(["tsv", "csv", "jsonl", "jsonl", "json"]))
    columns = draw(st.sampled_from([["sentence", "label"], ["sentence", "label"], ["text", "label"],
                                    ["sentence"], ["label", "sentence", "idx"], ["sentence", "sentiment"]]))
    rows = draw(st.lists(st.tuples(sentences, label_values), min_size=0, max_size=6))
    if kind in ("tsv", "csv"):
        sep = "\t" if kind == "tsv" else ","
        cells = {"sentence": 0, "text": 0, "label": 1, "sentiment": 1, "idx": None}

        def cell(row, col):
            i = cells[col]
            value = "7" if i is None else row[i]
            return "" if value is None else str(value)
        text = sep.join(columns) + "\n" + "".join(sep.join(cell(r, c) for c in columns) + "\n" for r in rows)
        data = text.encode("utf-8", "surrogatepass")
    else:
        objs = [{c: (r[0] if c in ("sentence", "text") else 7 if c == "idx" else r[1]) for c in columns}
                for r in rows]
        if draw(st.booleans()):
            objs.append(draw(json_values))  # a line that is not a row
        if kind == "json" and draw(st.booleans()):
            text = json.dumps(objs)
        else:
            text = "".join(json.dumps(o, allow_nan=True) + "\n" for o in objs)
        data = text.encode("utf-8", "surrogatepass")
    steps = draw(st.lists(st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.3, 0.99)),
        st.tuples(st.just("insert"), st.floats(0, 1), bad_bytes),
        st.tuples(st.just("reencode"), st.sampled_from(["utf-16", "latin-1"]))), max_size=1))
    return Damage(f"eval:eval.{kind}", "eval", (data, *steps))


llm_texts = st.one_of(st.sampled_from(["hi", "", "   \n", "<|im_end|>" * 40, "\x00" * 64, "\ufeff" + "word " * 60,
                                       "The quick brown fox jumps over the lazy dog. " * 8, "x" * 300_000]),
                      st.text(min_size=0, max_size=400))


@st.composite
def llm_eval_files(draw) -> Damage:
    kind = draw(st.sampled_from(["txt", "jsonl", "jsonl"]))
    if kind == "txt":
        data = draw(llm_texts).encode("utf-8", "surrogatepass")
    else:
        lines = []
        for _ in range(draw(st.integers(0, 4))):
            choice = draw(st.integers(0, 9))
            if choice < 5:
                lines.append(json.dumps({"text": draw(llm_texts)}))
            elif choice == 5:
                lines.append(json.dumps({"body": draw(llm_texts)}))
            elif choice == 6:
                lines.append(json.dumps({"text": draw(json_values)}, allow_nan=True))
            elif choice == 7:
                lines.append('{"text": "\\ud800 lone surrogate"}')
            elif choice == 8:
                lines.append("[" * 50_000)
            else:
                lines.append(json.dumps({"text": draw(llm_texts)})[: draw(st.integers(0, 12))])
        data = "\n".join(lines).encode("utf-8", "surrogatepass")
    steps = draw(st.lists(st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.3, 0.99)),
        st.tuples(st.just("insert"), st.floats(0, 1), bad_bytes),
        st.tuples(st.just("reencode"), st.sampled_from(["utf-16", "latin-1"]))), max_size=1))
    return Damage(f"eval:eval.{kind}", "eval", (data, *steps))


def classifier_damage(keys: list[str]) -> st.SearchStrategy[tuple[str, Damage]]:
    """(which checkpoint, damage): "bert" has tokenizer.json, "bert-vocab" only vocab.txt."""
    vocab = st.lists(st.sampled_from(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "##s", "", " ",
                                      "é", "\t"]), max_size=8).map("\n".join)
    on = lambda which, strategy: strategy.map(lambda d: (which, d))  # noqa: E731
    return weighted({
        "config": (30, on("bert", json_file_damage("config.json", keys, required=BERT_REQUIRED,
                                                   subkeys=["0", "1", "2", "LABEL_0", "negative"]))),
        "tokenizer_config": (8, on("bert", json_file_damage("tokenizer_config.json", TOKENIZER_CONFIG_KEYS,
                                                            required=["tokenizer_class", "backend"]))),
        "tokenizer": (8, on("bert", json_file_damage("tokenizer.json", TOKENIZER_JSON_KEYS, required=["model"],
                                                     subkeys=TOKENIZER_SUBKEYS))),
        "vocab": (6, on("bert-vocab", text_file_damage("vocab.txt", vocab, utf8=True))),
        "training": (10, on("bert", training_damage())),
        "eval": (30, on("bert", classifier_eval_files())),
    })


def llm_damage(keys: list[str]) -> st.SearchStrategy[tuple[str, Damage]]:
    chat = st.lists(jinja_pieces, min_size=1, max_size=12).map("".join)
    on = lambda strategy: strategy.map(lambda d: ("llama", d))  # noqa: E731
    return weighted({
        "config": (26, on(json_file_damage("config.json", keys, required=LLAMA_REQUIRED,
                                           subkeys=["rope_type", "rope_theta", "factor"]))),
        "generation_config": (14, on(json_file_damage("generation_config.json", GENERATION_KEYS, required=[]))),
        "tokenizer_config": (6, on(json_file_damage("tokenizer_config.json", TOKENIZER_CONFIG_KEYS,
                                                    required=["tokenizer_class", "backend"]))),
        "tokenizer": (6, on(json_file_damage("tokenizer.json", TOKENIZER_JSON_KEYS, required=["model"],
                                             subkeys=TOKENIZER_SUBKEYS))),
        "chat_template": (10, on(text_file_damage("chat_template.jinja", chat, utf8=True, delete=False))),
        "training": (6, on(training_damage())),
        "eval": (30, on(llm_eval_files())),
    })


# --- the run -------------------------------------------------------------------------------------

# The training records a trainer leaves (what the loader reads, nothing unpickled), so that damage
# has something to damage.
TRAINING_FILES = {
    "training_metadata.json": {"base_model": "org/base", "license": "apache-2.0", "language": ["en"], "seed": 7},
    "training_args.json": {"seed": 7, "learning_rate": 5e-05, "num_train_epochs": 3.0, "output_dir": "out"},
    "nncf_config.json": {"input_info": {"sample_size": [1, 128]}, "compression": []},
    "recipe_record.json": {"recipe": "fuzz", "seed": 7},
    "eval_log.json": [{"epoch": 1.0, "eval_accuracy": 0.5}],
    "training_command.txt": "python train.py --seed 7",
}


def _with_training_files(folder: Path) -> Path:
    for name, content in TRAINING_FILES.items():
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("fuzz-checkpoints")
    bert = _with_training_files(build_tiny(base / "bert"))
    vocab = Path(shutil.copytree(bert, base / "bert-vocab"))
    tokenizer = json.loads((bert / "tokenizer.json").read_text())
    ids = tokenizer["model"]["vocab"]
    (vocab / "vocab.txt").write_text("".join(t + "\n" for t, _ in sorted(ids.items(), key=lambda kv: kv[1])))
    (vocab / "tokenizer.json").unlink()
    return {"bert": bert, "bert-vocab": vocab, "llama": _with_training_files(build_tiny_lm(base / "llama"))}


@pytest.fixture
def quiet_env(monkeypatch, tmp_path):
    import logging
    import sys

    monkeypatch.chdir(tmp_path)
    for name in ("PUBLISHER_DEBUG", "HF_TOKEN", "HF_ENDPOINT", "CI"):
        monkeypatch.delenv(name, raising=False)
    # A library logger imported during an earlier test (NNCF's) holds that test's captured stdout,
    # closed since: its next table would print "--- Logging error ---" and a traceback into this
    # test's stderr. A process that runs publisher once has no such stream; point them at this one.
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.stdout  # not setStream(): it flushes the closed one


def _seeded(test):
    return test if SEED == "random" else seed(int(SEED))(test)


class Publisher:
    """Runs ``publisher publish`` in-process on a damaged copy of a checkpoint and judges the end."""

    def __init__(self, checkpoints: dict[str, Path], tmp: Path, capsys, args: list[str]) -> None:
        self.checkpoints, self.tmp, self.capsys, self.args = checkpoints, tmp, capsys, args
        self.seen = {"examples": 0, "refused": 0, "published": 0}

    def check(self, which: str, damage: Damage) -> None:
        work = self.tmp / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        # The same checkpoint path every time: an evaluation file alone re-uses the cached export.
        ckpt = self.tmp / "ckpt" / which
        shutil.rmtree(ckpt, ignore_errors=True)
        shutil.copytree(self.checkpoints[which], ckpt)
        extra = damage.apply(ckpt, work)
        # Evaluation files have an output folder of their own, whose export of the intact checkpoint stays cached.
        out = self.tmp / (f"out-{which}-eval" if extra else f"out-{which}")
        args = ["publish", str(ckpt), "--no-push", "--output", str(out), *self.args, *extra]
        self.capsys.readouterr()
        started = time.monotonic()
        with pytest.raises(SystemExit) as exc:
            main(args)
        captured = self.capsys.readouterr()
        code, err = exc.value.code, captured.err
        self.seen["examples"] += 1
        where = f"{damage!r}"[:600]
        if os.environ.get("FUZZ_LOG"):  # one line per example: what the weighting costs
            with open(os.environ["FUZZ_LOG"], "a") as log:
                first = next((line for line in err.splitlines() if line.startswith("Error: ")), "")
                log.write(f"{code} {time.monotonic() - started:5.1f}s {which} {where[:200]!r} {first[:200]}\n")
        assert "Traceback" not in err, f"{where}\n{err[-3000:]}"
        assert code in (EXIT_OK, EXIT_BAD_INPUT), f"exit {code} for {where}\n{err[-3000:]}"
        if code == EXIT_OK:
            assert not damage.refuse, f"{where} was accepted"
            self.seen["published"] += 1
            return
        self.seen["refused"] += 1
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, f"{where}\n{err[-3000:]}"  # one paragraph, one line
        message = errors[0]
        assert any(name in message for name in damage.names) or any(m in message for m in MODEL_REFUSALS), \
            f"the refusal of {where} does not name {damage.names}: {message}"


def _keys(folder: Path, extra: list[str]) -> list[str]:
    return sorted(set(json.loads((folder / "config.json").read_text())) | set(extra))


def test_classifier_loader_refuses_damage_cleanly(checkpoints, quiet_env, tmp_path, capsys):
    run = Publisher(checkpoints, tmp_path, capsys, CLASSIFIER_ARGS)
    started = time.monotonic()

    @_seeded
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(case=classifier_damage(_keys(checkpoints["bert"], BERT_KEYS)))
    def one(case) -> None:
        run.check(*case)

    one()
    with capsys.disabled():
        print(f"\nloader fuzz (classifier): {run.seen} in {time.monotonic() - started:.0f} s (seed {SEED})")
    assert run.seen["refused"] >= run.seen["examples"] // 2  # the weighting holds: most damage is refused


def test_causal_lm_loader_refuses_damage_cleanly(checkpoints, quiet_env, tmp_path, capsys):
    run = Publisher(checkpoints, tmp_path, capsys, LLM_ARGS)
    started = time.monotonic()

    @_seeded
    @settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(case=llm_damage(_keys(checkpoints["llama"], LLAMA_KEYS)))
    def one(case) -> None:
        run.check(*case)

    one()
    with capsys.disabled():
        print(f"\nloader fuzz (causal LM): {run.seen} in {time.monotonic() - started:.0f} s (seed {SEED})")
    assert run.seen["refused"] >= run.seen["examples"] // 2
