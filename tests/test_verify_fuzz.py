"""Property-based fuzzing of what ``publisher verify`` reads from a repo (slow suite).

Anyone can push anything to a repo, and verify reads it: every repo is hostile input. One tiny
release (a BERT classifier measured on 8 rows, so that a re-measurement takes a second) is
published to a local hub once; then each example branches off that release on the hub and commits
one to three changes to the branch:

- ``report.json``: a field anywhere in it set to a value of another type, a huge or non-finite
  number (``1e308``, ``1e999``, ``NaN``, ``Infinity`` written as JSON tokens), an odd string (an
  escaped lone surrogate, NUL, 100 000 characters, a deeply nested list), a key removed or added;
  the claims ledger in it (an entry with a non-numeric ``printed`` or ``value``, an unknown id or
  re-check rule, a field missing, an entry added or duplicated); the paths it names (a release
  file, the evaluation data, the training files) set to ``/etc/passwd``, a canary file outside the
  work folder, or ``../..`` paths to it; a huge declared size; the file replaced by bytes that are
  not JSON, not UTF-8, or nested too deeply;
- ``README.md``: the YAML front matter broken, of odd types (``model-index`` as a string, a list
  of numbers, results of the wrong shape), an alias bomb; body lines (figures with huge numbers,
  statements with huge versions or row counts, unclosed code fences, NUL, very long lines); the
  card not UTF-8, or removed;
- the file list: a file added (beside the IR, under ``training/``, a ``model.sig`` that is not a
  signature), removed (the IR's ``.xml`` or ``.bin``, a tokenizer file, ``config.json``,
  ``report.json``) or replaced by garbage.

Then ``publisher verify BRANCH`` runs in-process (the real CLI, ``publisher.cli.main``), and must
end in a verdict (exit 0, or 6 naming the claims that do not hold) or bad input (exit 2, with one
``Error:`` paragraph): never exit 1 (an internal error), never a traceback, never another code.
With ``--json`` (drawn), stdout holds exactly one JSON document. No example may open, list or stat
a file outside the work folder that a repo names (the canary files, ``/etc/passwd``): an audit
hook watches every ``open`` and directory listing while verify runs. Each example is bounded in
time (an alarm) and the process in memory (its peak resident size).

The default run is bounded (seed and example count fixed, about 2 to 3 minutes on 2 cores). A
longer one: ``FUZZ_EXAMPLES=1000 FUZZ_SEED=random .venv/bin/python -m pytest -m slow
tests/test_verify_fuzz.py -p no:cacheprovider``.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from publisher.cli.main import main
from publisher.errors import EXIT_BAD_INPUT, EXIT_CLAIM_FAILED, EXIT_OK
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Generating overly large repr"),
              pytest.mark.filterwarnings("ignore:Warnings while validating metadata")]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
SEED = os.environ.get("FUZZ_SEED", "20261202")
REPO = "tests/verify-fuzz"
# A random tiny model passes these gates; 8 rows keep every re-measurement to about a second.
PUBLISH_ARGS = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0", "--max-logit-diff", "1000",
                "--max-samples", "8", "--license", "apache-2.0"]
EXAMPLE_SECONDS = 90  # one verify of the tiny release takes a few seconds; a hang is a bug
PEAK_RSS_BYTES = 8 * 2 ** 30  # the whole test process, torch and OpenVINO included
OUTCOMES = (EXIT_OK, EXIT_BAD_INPUT, EXIT_CLAIM_FAILED)
CARD_UPLOAD = "fuzz-card.bin"  # a .bin goes through LFS; copied to README.md in a second commit


# --- what a hostile repo can hold -----------------------------------------------------------------

class Canaries:
    """Files outside the work folder that a mutation names: verify must never open one."""

    def __init__(self, base: Path, work: Path) -> None:
        self.dir = base / "outside"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "secret.tsv").write_text("sentence\tlabel\nsecret row\t1\n")
        (self.dir / "secret.txt").write_text("secret text " * 20)
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "data" / "train.csv").write_text("sentence,label\nsecret,1\n")
        depth = len(work.resolve().relative_to(base.resolve()).parts) + 3  # work/<repo>/<sha>/...
        up = "/".join([".."] * depth)
        self.paths = [str(self.dir / "secret.tsv"), str(self.dir / "data"), "/etc/passwd", "/etc/hostname",
                      f"{up}/outside/secret.tsv", f"{up}/outside/secret.txt", f"{up}/outside/data",
                      "../../outside/secret.tsv", "../secret.tsv", "~/.ssh/id_rsa", "file:///etc/passwd"]
        self.watched = [self.dir.resolve(), Path("/etc/passwd"), Path("/etc/hostname"),
                        Path("~/.ssh").expanduser()]

    def touched(self, path: str) -> bool:
        try:
            resolved = Path(path).expanduser().resolve()
        except (OSError, ValueError, RuntimeError):
            return False
        return any(resolved == w or w in resolved.parents for w in self.watched)


# Filled by the fixture: the canary paths a mutation may name.
CANARY_PATHS: list[str] = ["/etc/passwd"]

HUGE_NUMBERS = ["1e308", "-1e308", "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "123456789012345678901234567890",
                "-0", "0", "1", "2", "-1", "0.5", "1e-320"]
ODD_STRINGS = ['"\\ud800"', '"a\\udfffb"', '"\\u0000"', '"nul\\u0000in"', '""', '"  "', '"NaN"', '"1e999"',
               '"0.9128x"', '"%"', '"nan%"', '"\\n\\n"', '"\\u202e"', '"é"', '"hub:"', '"bundled:"',
               json.dumps("x" * 100_000), json.dumps("9" * 5000), '"ir"', '"machine"', '"record"',
               '"checkpoint"', '"figure"', '"statement"', '"model-index"', '"body"']


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# A JSON value as raw text, so that NaN, Infinity and 1e999 reach the parser as tokens.
raw_scalars = st.one_of(st.sampled_from(HUGE_NUMBERS), st.sampled_from(ODD_STRINGS),
                        st.sampled_from(["null", "true", "false", "[]", "{}", "[1, 2]", '{"a": 1}', '["x"]',
                                         '[{"path": "/etc/passwd"}]', '{"0": "a", "x": null}']),
                        st.integers(-3, 2 ** 70).map(str),
                        st.floats(allow_nan=False, allow_infinity=False).map(repr),
                        st.text(max_size=12).map(json.dumps))
raw_values = st.one_of(raw_scalars, raw_scalars, st.sampled_from([_deep(50), _deep(3000), _deep(200_000)]),
                       st.lists(raw_scalars, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"))


def canary_value() -> st.SearchStrategy[str]:
    return st.integers(0, 10 ** 6).map(lambda i: json.dumps(CANARY_PATHS[i % len(CANARY_PATHS)]))


def _placeholder(i: int) -> str:
    return f"@@RAW{i}@@"


def _render(data: Any, raw: dict[str, str]) -> str:
    """``data`` as JSON with each placeholder string replaced by its raw JSON text."""
    text = json.dumps(data, indent=1, allow_nan=True)
    for key, value in raw.items():
        text = text.replace(json.dumps(key), value)
    return text


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON tree (dict keys and list indexes), short lists cut to 3 items."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            out += _paths(v, prefix + (i,))
    return out


def _at(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


# Paths into report.json that verify turns into files, data or text: aimed at with canary paths.
PATH_FIELDS = [("export", "files", 0, "path"), ("export", "files", 1, "path"), ("export", "files", 2, "path"),
               ("export", "output_dir"), ("accuracy", "dataset", "source"), ("accuracy", "dataset", "type"),
               ("accuracy", "dataset", "name"), ("checkpoint", "path"), ("checkpoint", "files", 0, "path"),
               ("checkpoint", "training", "training_files"), ("claims", "inputs", "ir", "files"),
               ("card", "signing", "signature")]
SOURCE_PREFIXES = ["hub:", "bundled:", "", "file:", "hub:../", "hub:/", "bundled:../../"]
LEDGER_FIELDS = ["id", "kind", "text", "value", "printed", "stage", "field", "inputs", "recheck", "tolerance",
                 "tolerance_reason", "where"]


@dataclass(frozen=True)
class ReportEdit:
    action: str  # set | delete | add | ledger_set | ledger_delete | ledger_add | path | size | raw
    args: tuple

    def apply(self, data: Any, raw: dict[str, str]) -> Any:
        """The edited report (a copy); ``raw`` collects the placeholders' JSON text."""
        data = copy.deepcopy(data)
        key = _placeholder(len(raw))
        if self.action == "raw":
            return self.args[0]  # the whole file as bytes
        if self.action in ("set", "path", "size"):
            path, value = self.args
            raw[key] = value
            parent = data
            for p in path[:-1]:
                if isinstance(parent, dict) and not isinstance(parent.get(p), (dict, list)):
                    parent[p] = {}
                if isinstance(parent, list) and isinstance(p, int) and p >= len(parent):
                    parent.append({})
                    p = len(parent) - 1
                parent = parent[p]
            last = path[-1] if path else None
            if last is None:
                return key
            if isinstance(parent, list) and isinstance(last, int) and last >= len(parent):
                parent.append(key)
            else:
                parent[last] = key
            return data
        if self.action == "delete":
            (path,) = self.args
            if path:
                parent = _at(data, path[:-1])
                del parent[path[-1]]
            return data
        if self.action == "add":
            path, name, value = self.args
            raw[key] = value
            node = _at(data, path)
            if isinstance(node, dict):
                node[name] = key
            elif isinstance(node, list):
                node.append(key)
            return data
        claims = data.get("claims", {}).get("claims") if isinstance(data.get("claims"), dict) else None
        if not isinstance(claims, list) or not claims:
            return data
        index = self.args[0] % len(claims)
        if self.action == "ledger_set":
            _, name, value = self.args
            raw[key] = value
            claims[index][name] = key
        elif self.action == "ledger_delete":
            claims[index].pop(self.args[1], None)
        elif self.action == "ledger_add":
            _, new_id, duplicate = self.args
            entry = copy.deepcopy(claims[index])
            if not duplicate:
                entry["id"] = new_id
            claims.append(entry)
        return data


FLOAT_TOKENS = ["NaN", "Infinity", "-Infinity", "1e308", "-1e308", "1e999", "-0.0", "0.0", "1e-320", "0.5",
                "1.0000000000000002", "2.0", "-1.0", "100.0"]
INT_TOKENS = ["0", "-1", "1", "2", "7", "872", "9007199254740993", "123456789012345678901234567890", "-9" * 1,
              "10" + "0" * 400]
STR_TOKENS = ODD_STRINGS + ['"/etc/passwd"', '"bundled:glue-sst2-validation"', '"hub:glue"', '"accuracy.openvino"',
                            '"openvino_model.xml"', '"0.9128"', '"int8"', '"int4"', '"fp16"', '"text-generation"',
                            '"token-classification"', '"made-up-task"', '"released"', '"sha256:00"', '"' + "0" * 64 + '"']


def same_type_values(current: Any) -> st.SearchStrategy[str]:
    """A hostile value of the type the field holds: what a type check lets through."""
    if isinstance(current, bool):
        return st.sampled_from(["true", "false"])
    if isinstance(current, int):
        return st.sampled_from(INT_TOKENS)
    if isinstance(current, float):
        return st.sampled_from(FLOAT_TOKENS + INT_TOKENS[:3])
    if isinstance(current, str):
        return st.one_of(st.sampled_from(STR_TOKENS), canary_value(), st.text(max_size=12).map(json.dumps))
    if isinstance(current, list):
        return st.sampled_from(["[]", "[1]", '[""]', "[null]", "[[]]", "[{}]", '["0", "1"]',
                                "[" + ", ".join(["0"] * 5000) + "]"])
    if isinstance(current, dict):
        return st.sampled_from(["{}", '{"": 1}', '{"0": "x"}', '{"x": []}'])
    return raw_values


def weighted(table: list[tuple[int, st.SearchStrategy]]) -> st.SearchStrategy:
    """One of the strategies, each drawn about as often as its weight says."""
    return st.sampled_from([s for weight, s in table for _ in range(weight)]).flatmap(lambda s: s)


def report_edits(report: dict[str, Any]) -> st.SearchStrategy[ReportEdit]:
    paths = [p for p in _paths(report) if p]
    dict_paths = [p for p in _paths(report) if isinstance(_at(report, p), dict)]
    claims = report["claims"]["claims"]
    index = st.integers(0, len(claims) - 1)
    not_json = st.sampled_from([b"", b"{", b"{\"schema_version\": 1,", b"\xff\xfe{}", b"\xed\xa0\x80",
                                b"[]", b"null", b"\"report\"", b"7", b"NaN", b"{\"schema_version\": NaN}",
                                b"{\"schema_version\": 1e999}", b"{\"schema_version\": \"x\"}",
                                b"{\"schema_version\": 99}", b"{\"schema_version\": [1]}",
                                _deep(100_000).encode(), b"{\"a\": " * 5000 + b"1" + b"}" * 5000])
    source = st.builds(lambda p, c: json.dumps(p + json.loads(c)), st.sampled_from(SOURCE_PREFIXES), canary_value())

    def typed(path: tuple) -> st.SearchStrategy[ReportEdit]:
        return same_type_values(_at(report, path)).map(lambda v: ReportEdit("set", (path, v)))

    def ledger_typed(i: int, name: str) -> st.SearchStrategy[ReportEdit]:
        return same_type_values(claims[i].get(name)).map(lambda v: ReportEdit("ledger_set", (i, name, v)))

    return weighted([
        (6, st.sampled_from(paths).flatmap(typed)),
        (2, st.builds(lambda p, v: ReportEdit("set", (p, v)), st.sampled_from(paths), raw_values)),
        (1, st.builds(lambda p: ReportEdit("delete", (p,)), st.sampled_from(paths))),
        (1, st.builds(lambda p, n, v: ReportEdit("add", (p, n, v)), st.sampled_from(dict_paths),
                      st.sampled_from(["extra", "__class__", "", "\x00", "schema_version", "claims"]), raw_values)),
        (4, st.tuples(index, st.sampled_from(LEDGER_FIELDS)).flatmap(lambda t: ledger_typed(*t))),
        (1, st.builds(lambda i, f, v: ReportEdit("ledger_set", (i, f, v)), index, st.sampled_from(LEDGER_FIELDS),
                      raw_values)),
        (1, st.builds(lambda i, f: ReportEdit("ledger_delete", (i, f)), index, st.sampled_from(LEDGER_FIELDS))),
        (2, st.builds(lambda i, n, d: ReportEdit("ledger_add", (i, n, d)), index,
                      st.sampled_from(["made.up", "accuracy.openvino", "", "../x", "signature.key",
                                       "compatibility.openvino"]), st.booleans())),
        (4, st.builds(lambda p, v: ReportEdit("path", (p, v)), st.sampled_from(PATH_FIELDS),
                      st.one_of(canary_value(), source))),
        (1, st.builds(lambda i, v: ReportEdit("size", (("export", "files", i, "size"), v)), st.integers(0, 4),
                      st.sampled_from(["1e999", "123456789012345678901234567890", "-1", "NaN", '"big"', "1e18"]))),
        (1, st.builds(lambda b: ReportEdit("raw", (b,)), not_json)),
    ])


# --- the card -------------------------------------------------------------------------------------

FRONT_MATTERS = [
    "license: [unclosed", "model-index: just a string", "model-index: [1, 2, 3]", "model-index: {}",
    "model-index:\n- name: x\n  results: 7", "model-index:\n- name: x\n  results:\n  - task: 1\n    metrics: [1]",
    "model-index:\n- results:\n  - task: {type: text-classification}\n    dataset: {type: glue, name: g, split: "
    "validation, config: sst2}\n    metrics:\n    - {type: accuracy, value: .nan, config: openvino}",
    "model-index:\n- results:\n  - task: {type: text-classification}\n    dataset: {type: glue, name: g}\n"
    "    metrics:\n    - {type: accuracy, value: 1e999, config: [1]}",
    "model-index:\n- results:\n  - task: {type: text-classification}\n    dataset: {type: [1], name: {a: 1}}\n"
    "    metrics:\n    - {type: {x: 1}, value: [0.9]}",
    "base_model_relation: [quantized, 7]", "base_model_relation: {a: b}", "base_model_relation: .inf",
    "base_model: [../../etc/passwd]", "- just\n- a list", "42", "~", "!!python/object/apply:os.system ['true']",
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, "
    "*b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
    "license: apache-2.0\n\x00", "tags: \"\\ud800\"", "base_model_relation: \"\\ud800\"",
    "model-index:\n- name: \"\\ud800\"\n  results:\n  - task: {type: text-classification}\n    dataset: {type: glue, "
    "name: \"\\ud800\", config: sst2, split: validation}\n    metrics:\n    - {type: \"\\ud800\", value: 0.5, name: "
    "\"\\udfff\", config: \"\\ud800\"}", "pipeline_tag: 7\nlibrary_name: [openvino]",
]
BODY_LINES = [
    "- OpenVINO IR accuracy: **1e999**", "- OpenVINO IR accuracy: **99999999999999999999999999999.5**",
    "- OpenVINO IR accuracy: **0.5%**", "- OpenVINO IR accuracy: **1e99999999999**",
    "- Sparsity in transformer block linear layers (OpenVINO IR): **1e-99999999999**", "- Sparsity: **-0**", "- INT8 weights: **1e-999%**",
    "- group size: **123456789012345678901234567890**", "- Latency: **0.1 ms**", "- Torch accuracy: **.5**",
    "Works with OpenVINO 99999999999999999999.1 and higher.", "Works with OpenVINO 2024.3.0 and higher.",
    "Measured on 99999999999999999999999999 samples.", "Weights compressed to INT4 by NNCF.",
    "Trained with quantization-aware training and distillation.", "public key fingerprint sha256:" + "0" * 64,
    "```", "~~~~", "\x00\x00", "x" * 200_000, "[" * 10_000, "| a | b |\n|---|---|\n| 1 | 2 |",
    "- " + "label: " * 2000 + "**0.5**", "<!-- unclosed comment", "\ud800".encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"),
]


@dataclass(frozen=True)
class CardEdit:
    action: str  # front_matter | body | raw | delete
    args: tuple

    def apply(self, text: str) -> bytes | None:
        if self.action == "delete":
            return None
        if self.action == "raw":
            return self.args[0]
        parts = text.split("---\n", 2)
        if len(parts) < 3:  # a card without front matter (an earlier edit replaced it)
            parts = ["", "", text]
        if self.action == "front_matter":
            replace, extra = self.args
            meta = extra if replace else parts[1] + extra + "\n"
            return f"---\n{meta}\n---\n{parts[2]}".encode("utf-8", "surrogatepass")
        lines = text.split("\n")
        at, line = self.args
        lines.insert(int(len(lines) * at), line)
        return "\n".join(lines).encode("utf-8", "surrogatepass")


card_edits = st.one_of(
    st.builds(lambda r, m: CardEdit("front_matter", (r, m)), st.booleans(), st.sampled_from(FRONT_MATTERS)),
    st.builds(lambda a, line: CardEdit("body", (a, line)), st.floats(0.05, 1.0), st.sampled_from(BODY_LINES)),
    st.builds(lambda a, line: CardEdit("body", (a, line)), st.floats(0.05, 1.0), st.text(max_size=60)),
    st.builds(lambda b: CardEdit("raw", (b,)), st.sampled_from([b"", b"\xff\xfe# card", b"---\n", b"---\n---\n",
                                                               b"# card\n\xed\xa0\x80\n", b"\x00" * 100])),
    st.just(CardEdit("delete", ())),
)


# --- the file list --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileEdit:
    action: str  # add | delete | replace
    path: str
    data: bytes = b""


added_paths = st.sampled_from(["extra.txt", "notes/extra.json", "openvino_model2.xml", "training/args.json",
                               "training_args.bin", "model.sig", "weights.safetensors", "tokenizer.model",
                               "sub/openvino_model.xml", "a b.txt", "é.json", ".hidden.json"])
garbage = st.sampled_from([b"", b"\x00" * 64, b"{", b"<?xml version='1.0'?><net>", b"<net/>", b"\xff" * 16,
                           b"not a signature", b'{"mediaType": "x"}', _deep(100_000).encode(),
                           b'{"dsseEnvelope": {"payload": "!!", "signatures": []}}'])
file_edits = st.one_of(
    st.builds(lambda p, d: FileEdit("add", p, d), added_paths, garbage),
    st.builds(lambda p: FileEdit("delete", p), st.sampled_from(
        ["openvino_model.xml", "openvino_model.bin", "config.json", "tokenizer.json", "tokenizer_config.json",
         "vocab.txt", "special_tokens_map.json", "openvino_config.json", "report.json", "README.md"])),
    st.builds(lambda p, d: FileEdit("replace", p, d), st.sampled_from(
        ["openvino_model.xml", "config.json", "tokenizer.json", "tokenizer_config.json", "openvino_config.json",
         "vocab.txt"]), garbage),
)


@dataclass(frozen=True)
class Case:
    report: tuple[ReportEdit, ...]
    card: tuple[CardEdit, ...]
    files: tuple[FileEdit, ...]
    as_json: bool
    max_samples: int | None


def cases(report: dict[str, Any]) -> st.SearchStrategy[Case]:
    edits = report_edits(report)
    return st.builds(
        Case,
        st.lists(edits, min_size=0, max_size=3).map(tuple),
        st.lists(card_edits, min_size=0, max_size=2).map(tuple),
        st.lists(file_edits, min_size=0, max_size=2).map(tuple),
        st.booleans(),
        st.sampled_from([None, None, 1, 3]),
    ).filter(lambda c: c.report or c.card or c.files)


# --- the run ------------------------------------------------------------------------------------

class ExampleTimedOut(BaseException):
    """Raised by the alarm: a BaseException, so that the CLI cannot report it as its own error."""


@pytest.fixture(scope="module")
def release(hub_server, tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("verify-fuzz-release")
    result = run_cli("publish", str(tiny_checkpoint), "--repo-id", REPO, "--endpoint", hub_server.endpoint,
                     "--output", str(out), "--json", *PUBLISH_ARGS, env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    base = api.repo_info(REPO).sha
    report = json.loads((out / "report.json").read_text())
    card = (out / "README.md").read_text()
    return api, base, report, card


class Verifier:
    """Commits a case to a branch of the release and runs ``publisher verify`` on it in-process."""

    def __init__(self, hub, api, base: str, report: dict, card: str, tmp: Path, capsys) -> None:
        self.hub, self.api, self.base, self.report, self.card = hub, api, base, report, card
        self.tmp, self.capsys = tmp, capsys
        self.work = tmp / "work"
        self.canaries = Canaries(tmp, self.work)
        CANARY_PATHS[:] = self.canaries.paths
        self.seen = {"examples": 0, "holds": 0, "does not hold": 0, "bad input": 0, "hub refused": 0}
        self.slowest = 0.0
        self.watching = False
        self.touched: list[str] = []
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple) -> None:
        if not self.watching or event not in ("open", "os.listdir", "os.scandir", "os.stat"):
            return
        path = args[0] if args else None
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if isinstance(path, (str, os.PathLike)) and self.canaries.touched(os.fspath(path)):
            self.touched.append(f"{event} {os.fspath(path)}")

    def commit(self, case: Case) -> str | None:
        """The case as one commit on a branch of its own; None when the hub refuses it."""
        from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete
        from huggingface_hub.errors import HfHubHTTPError

        operations: dict[str, Any] = {}
        if case.report:
            data: Any = self.report
            raw: dict[str, str] = {}
            for edit in case.report:
                if isinstance(data, bytes):
                    break  # the file was replaced as a whole
                try:
                    data = edit.apply(data, raw)
                except (KeyError, IndexError, TypeError):
                    continue  # an earlier edit removed what this one aims at
            body = data if isinstance(data, bytes) else _render(data, raw).encode("utf-8", "surrogatepass")
            operations["report.json"] = CommitOperationAdd("report.json", body)
        text = self.card
        for edit in case.card:
            written = edit.apply(text)
            if written is None:
                operations["README.md"] = CommitOperationDelete("README.md")
                break
            # Through LFS and a copy (below): the Hub checks a README's metadata when it is committed as
            # a file, but a hostile repo need not have been pushed there.
            operations["README.md"] = CommitOperationAdd(CARD_UPLOAD, written)
            text = written.decode("utf-8", "replace")
        for edit in case.files:
            if edit.action == "delete":
                operations[edit.path] = CommitOperationDelete(edit.path)
            else:
                operations[edit.path] = CommitOperationAdd(edit.path, edit.data)
        branch = f"fuzz-{uuid.uuid4().hex[:12]}"
        self.api.create_branch(REPO, branch=branch, revision=self.base)
        try:
            self.api.create_commit(REPO, operations=list(operations.values()), commit_message="fuzz",
                                   revision=branch)
            card = operations.get("README.md")
            if isinstance(card, CommitOperationAdd):
                self.api.create_commit(REPO, operations=[
                    CommitOperationCopy(CARD_UPLOAD, "README.md"), CommitOperationDelete(CARD_UPLOAD)],
                    commit_message="fuzz card", revision=branch)
        except (HfHubHTTPError, ValueError, OSError) as exc:
            response = getattr(exc, "response", None)
            if response is not None and response.status_code >= 500:
                raise
            if os.environ.get("FUZZ_LOG"):
                with open(os.environ["FUZZ_LOG"], "a") as log:
                    log.write(f"hub refused: {str(exc)[:300]!r}\n")
            return None  # a commit the hub refuses cannot reach verify
        return branch

    def check(self, case: Case) -> None:
        branch = self.commit(case)
        self.seen["examples"] += 1
        if branch is None:
            self.seen["hub refused"] += 1
            return
        work = self.work / branch
        args = ["verify", REPO, "--revision", branch, "--endpoint", self.hub.endpoint, "--work-dir", str(work)]
        if case.as_json:
            args.append("--json")
        if case.max_samples:
            args += ["--max-samples", str(case.max_samples)]
        self.capsys.readouterr()
        started = time.monotonic()
        self.touched.clear()

        def alarm(signum, frame):
            raise ExampleTimedOut(f"verify ran over {EXAMPLE_SECONDS} s")

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.alarm(EXAMPLE_SECONDS)
        self.watching = True
        try:
            with pytest.raises(SystemExit) as exc:
                main(args)
        finally:
            self.watching = False
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        seconds = time.monotonic() - started
        self.slowest = max(self.slowest, seconds)
        captured = self.capsys.readouterr()
        code, err, out = exc.value.code, captured.err, captured.out
        where = repr(case)[:1500]
        if os.environ.get("FUZZ_LOG"):
            with open(os.environ["FUZZ_LOG"], "a") as log:
                first = next((line for line in err.splitlines() if line.startswith("Error: ")), "")
                log.write(f"{code} {seconds:5.1f}s {where[:300]!r} {first[:300]}\n")
        assert not self.touched, f"{where}\nverify touched files outside its work folder: {self.touched}"
        assert "Traceback" not in err, f"{where}\n{err[-3000:]}"
        assert code in OUTCOMES, f"exit {code} for {where}\n{err[-3000:]}"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        assert peak < PEAK_RSS_BYTES, f"{where}: the process peaked at {peak / 2 ** 30:.1f} GiB"
        if case.as_json:
            document = json.loads(out)  # exactly one document, whatever the outcome
            assert isinstance(document, dict), where
        if code == EXIT_BAD_INPUT:
            errors = [line for line in err.splitlines() if line.startswith("Error: ")]
            assert len(errors) == 1, f"{where}\n{err[-3000:]}"  # one paragraph, one line
            self.seen["bad input"] += 1
        elif code == EXIT_CLAIM_FAILED:
            self.seen["does not hold"] += 1
            if not case.as_json:
                assert "does not hold" in out, f"{where}\n{out[-3000:]}"
        else:
            self.seen["holds"] += 1
        # Nothing downloaded is left behind (no --keep).
        left = [p for p in work.rglob("*") if p.is_file() and ".cache" not in p.parts] if work.exists() else []
        assert not left, f"{where}: verify left {left[:5]} in its work folder"


def _seeded(test):
    return test if SEED == "random" else seed(int(SEED))(test)


@pytest.fixture
def quiet_env(monkeypatch, tmp_path, hub_server):
    import logging

    monkeypatch.chdir(tmp_path)
    for name in ("PUBLISHER_DEBUG", "HF_ENDPOINT", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.stdout


def test_verify_treats_every_repo_as_hostile_input(hub_server, release, quiet_env, tmp_path, capsys):
    api, base, report, card = release
    run = Verifier(hub_server, api, base, report, card, tmp_path, capsys)
    started = time.monotonic()

    @_seeded
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(case=cases(report))
    def one(case) -> None:
        run.check(case)

    one()
    with capsys.disabled():
        print(f"\nverify fuzz: {run.seen} in {time.monotonic() - started:.0f} s, slowest example "
              f"{run.slowest:.1f} s (seed {SEED})")
    assert run.seen["examples"] >= min(EXAMPLES, 10)
