"""Sentence-pair text classification (`--text-pair-column`): data in a known pair layout is read as
pairs, tokenized with the tokenizer's own pair encoding, published, carded and re-checked as pairs;
a missing pair column, half a pair, and pairs against a model's training records are refused.

The refusal rule (publisher.stages.data.text_columns, publisher.tasks.classification):
- ``--text-pair-column`` names the second text and must be a column of the data;
- without it, data holding a known pair layout (sentence1/sentence2, question/sentence,
  question1/question2, premise/hypothesis) is read as that pair, and ``--text-column`` naming
  anything but the layout's first text is refused;
- a checkpoint whose records name a pair task (config.json ``finetuning_task``, training_metadata.json
  ``dataset``: MNLI, QNLI, ...) is refused single texts; one naming SST-2 or CoLA is refused pairs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publisher.errors import EXIT_BAD_INPUT, BadInputError
from publisher.stages.data import PAIR_LAYOUTS, EvalDataSpec, in_input_order, load_eval_data, tokenize
from tests.fixtures_hub import hub_env
from tests.fixtures_models import build_tiny, minilm_tokenizer_dir, run_cli

RELAXED = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0.3", "--max-logit-diff", "100"]
REPO = "tests/tiny-mnli-pairs-ov"
MNLI = {0: "entailment", 1: "neutral", 2: "contradiction"}  # as the model's config.json names them
SUBJECTS = ["A man", "A woman", "Two children", "The dog", "An old farmer", "A chef", "The orchestra", "A cyclist"]
ACTIONS = ["is playing a guitar", "is sleeping on a couch", "runs through the park", "cooks dinner",
           "reads the morning paper", "waits for the bus"]


def mnli_rows() -> list[dict]:
    """40 premise/hypothesis pairs labelled by name, the three MNLI labels in turn."""
    rows = []
    for i, subject in enumerate(SUBJECTS):
        for j, action in enumerate(ACTIONS[:5]):
            rows.append({"premise": f"{subject} {action}.",
                         "hypothesis": f"{SUBJECTS[(i + j) % 8]} {ACTIONS[(2 * j + i) % 6]}.",
                         "label": ["entailment", "neutral", "contradiction"][(i + j) % 3]})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build_pair_model(folder: Path, **config) -> Path:
    # A large initializer range: the random model's predictions then depend on its input, so
    # reading half of each pair changes them (a model that always says the same class could not tell).
    return build_tiny(folder, seed=0, num_labels=3, id2label=MNLI, label2id={v: k for k, v in MNLI.items()},
                      initializer_range=0.5, **config)


# --- the data: layouts, tokenization, refusals -----------------------------------------------------------


def test_pair_tokenization_is_the_tokenizers_own_pair_encoding():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir()))
    firsts = ["A man is playing a guitar.", "short", "word " * 40, "The dog sleeps."]
    seconds = ["A person plays an instrument.", "a much longer second sentence than the first one", "x",
               "tail " * 40]
    batches = tokenize(tok, firsts, pairs=seconds, max_length=24, batch_size=3)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        rows = in_input_order([b[key] for b in _padded_to(batches.batches, 24)], batches.order)
        for i, (a, b) in enumerate(zip(firsts, seconds)):
            own = tok(a, b, truncation=True, max_length=24)[key]  # the tokenizer's own pair encoding
            assert list(rows[i][: len(own)]) == own and not rows[i][len(own):].any(), (key, i)
    ids = in_input_order([b["input_ids"] for b in _padded_to(batches.batches, 24)], batches.order)
    assert all(list(r).count(tok.sep_token_id) == 2 for r in ids)  # [CLS] a [SEP] b [SEP]
    assert tok.unk_token_id not in ids[0]  # a real vocabulary, not the 5-token trap


def _padded_to(batches, width):
    import numpy as np

    return [{k: np.pad(v, ((0, 0), (0, width - v.shape[1]))) for k, v in b.items()} for b in batches]


@pytest.mark.parametrize("layout", PAIR_LAYOUTS, ids=lambda layout: "/".join(layout))
def test_a_known_pair_layout_is_read_as_pairs(tmp_path, layout):
    first, second = layout
    rows = [{first: f"first {i}", second: f"second {i}", "label": i % 2, "other": "x"} for i in range(5)]
    data = load_eval_data(EvalDataSpec(eval_file=str(write_jsonl(tmp_path / "d.jsonl", rows))))
    assert data.texts == [f"first {i}" for i in range(5)]
    assert data.pairs == [f"second {i}" for i in range(5)]
    assert (data.info.text_column, data.info.text_pair_column) == (first, second)


def test_single_sentence_data_stays_single():
    data = load_eval_data(EvalDataSpec())  # the bundled SST-2: one "sentence" column
    assert data.pairs is None and data.info.text_pair_column is None


def test_text_pair_column_names_any_second_column(tmp_path):
    rows = [{"left": "a", "right": "b", "label": 0}]
    data = load_eval_data(EvalDataSpec(eval_file=str(write_jsonl(tmp_path / "d.jsonl", rows)),
                                       text_column="left", text_pair_column="right"))
    assert (data.texts, data.pairs, data.info.text_pair_column) == (["a"], ["b"], "right")


def test_text_pair_column_alone_takes_its_layout_partner_as_the_first_text(tmp_path):
    rows = [{"question": "q?", "sentence": "s.", "label": 1}]
    data = load_eval_data(EvalDataSpec(eval_file=str(write_jsonl(tmp_path / "d.jsonl", rows)),
                                       text_pair_column="sentence"))
    assert (data.info.text_column, data.texts, data.pairs) == ("question", ["q?"], ["s."])


def test_a_pair_column_that_does_not_exist_is_refused_with_the_columns(tmp_path):
    rows = [{"premise": "p", "hypothesis": "h", "label": 0}]
    with pytest.raises(BadInputError) as caught:
        load_eval_data(EvalDataSpec(eval_file=str(write_jsonl(tmp_path / "d.jsonl", rows)),
                                    text_pair_column="sentence2"))
    message = str(caught.value)
    assert "no column 'sentence2' for --text-pair-column" in message
    assert "columns: premise, hypothesis, label" in message and "text_pair_column" in message


def test_one_text_of_a_pair_layout_alone_is_refused(tmp_path):
    rows = [{"question": "Where is it?", "sentence": "It is here.", "label": 0}]
    with pytest.raises(BadInputError, match=r"holds sentence pairs \('question', 'sentence'\).*--text-column "
                                             r"'sentence' would score the model on one text"):
        load_eval_data(EvalDataSpec(eval_file=str(write_jsonl(tmp_path / "d.jsonl", rows)), text_column="sentence"))


def test_a_pair_of_one_column_twice_is_refused(tmp_path):
    rows = [{"a": "x", "label": 0}]
    with pytest.raises(BadInputError, match="both name 'a'"):
        load_eval_data(EvalDataSpec(eval_file=str(write_jsonl(tmp_path / "d.jsonl", rows)),
                                    text_column="a", text_pair_column="a"))


# --- refusals through the CLI (before any export) ---------------------------------------------------------


@pytest.fixture(scope="module")
def pair_checkpoint(tmp_path_factory) -> Path:
    return build_pair_model(tmp_path_factory.mktemp("pairs") / "ckpt")


@pytest.fixture(scope="module")
def pair_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("pair-data") / "mnli_pairs.jsonl", mnli_rows())


def _accuracy_stage(checkpoint: Path, tmp_path: Path, *extra: str):
    return run_cli("accuracy", str(checkpoint), str(tmp_path), *extra)


def _with_record(source: Path, folder: Path, config: dict | None = None, metadata: dict | None = None) -> Path:
    import shutil

    shutil.copytree(source, folder)
    if config:
        cfg = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**cfg, **config}))
    if metadata:
        (folder / "training_metadata.json").write_text(json.dumps(metadata))
    return folder


def test_a_model_trained_on_mnli_is_refused_single_sentences(pair_checkpoint, tmp_path):
    checkpoint = _with_record(pair_checkpoint, tmp_path / "ckpt", config={"finetuning_task": "mnli"})
    result = _accuracy_stage(checkpoint, tmp_path)  # the bundled SST-2: single sentences
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "trained on sentence pairs (config.json has finetuning_task 'mnli')" in result.stderr
    assert "--text-pair-column" in result.stderr


def test_a_training_record_naming_a_pair_dataset_refuses_single_sentences(pair_checkpoint, tmp_path):
    checkpoint = _with_record(pair_checkpoint, tmp_path / "ckpt", metadata={"dataset": "nyu-mll/glue qnli"})
    result = _accuracy_stage(checkpoint, tmp_path)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "training_metadata.json names the training dataset 'nyu-mll/glue qnli'" in result.stderr


def test_a_model_trained_on_sst2_is_refused_pairs(pair_checkpoint, pair_file, tmp_path):
    checkpoint = _with_record(pair_checkpoint, tmp_path / "ckpt", config={"finetuning_task": "sst2"})
    result = _accuracy_stage(checkpoint, tmp_path, "--eval-file", str(pair_file))
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "trained on single sentences" in result.stderr and "'premise', 'hypothesis'" in result.stderr


def test_a_missing_pair_column_is_refused_by_the_cli(pair_checkpoint, pair_file, tmp_path):
    result = _accuracy_stage(pair_checkpoint, tmp_path, "--eval-file", str(pair_file),
                             "--text-pair-column", "sentence2")
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "no column 'sentence2'" in result.stderr and "premise, hypothesis, label" in result.stderr


# --- published, carded and verified as pairs ------------------------------------------------------------


@pytest.fixture(scope="module")
def released(hub_server, pair_checkpoint, pair_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs-release")
    result = run_cli("publish", str(pair_checkpoint), "--repo-id", REPO, "--endpoint", hub_server.endpoint,
                     "--output", str(out), "--json", "--license", "apache-2.0", "--eval-file", str(pair_file),
                     *RELAXED, env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out


def _predicted_names(run, rows, *, pairs: bool) -> list[str]:
    """The model's label name for each row, encoded one row at a time (no batching, no padding)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir()))
    out = []
    for r in rows:
        enc = tok(r["premise"], r["hypothesis"]) if pairs else tok(r["premise"])
        out.append(MNLI[int(run({k: [v] for k, v in enc.items()}).argmax())])
    return out


def _torch_runner(checkpoint):
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(checkpoint)).eval()

    def run(enc):
        with torch.no_grad():
            return model(**{k: torch.tensor(v) for k, v in enc.items()}).logits[0]
    return run


def _ir_runner(release_dir):
    import numpy as np
    import openvino as ov

    compiled = ov.Core().compile_model(str(release_dir / "openvino_model.xml"), "CPU")
    names = {p.get_any_name() for p in compiled.inputs}

    def run(enc):
        return compiled({k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in names})[0][0]
    return run


def test_accuracy_is_counted_on_the_pairs_with_mnli_labels_mapped_by_name(released, pair_checkpoint):
    doc, out = released
    rows = mnli_rows()
    acc = doc["accuracy"]
    assert (acc["dataset"]["text_column"], acc["dataset"]["text_pair_column"]) == ("premise", "hypothesis")
    assert acc["dataset"]["num_samples"] == 40
    # The file's label names, sorted (contradiction, entailment, neutral), matched to id2label by name.
    assert {int(k): v for k, v in acc["label_mapping"].items()} == {0: 1, 1: 2, 2: 0}
    for side, run in (("torch", _torch_runner(pair_checkpoint)), ("openvino", _ir_runner(out))):
        predicted = _predicted_names(run, rows, pairs=True)
        correct = sum(p == r["label"] for p, r in zip(predicted, rows))
        assert acc[side] == pytest.approx(correct / 40, abs=1e-9), side
    ir = _predicted_names(_ir_runner(out), rows, pairs=True)
    names = ["contradiction", "entailment", "neutral"]
    assert [names[i] for i in acc["openvino_predictions"]] == ir
    # What reading the premise alone would have given differs: the figures above are of the pairs.
    assert ir != _predicted_names(_ir_runner(out), rows, pairs=False)


def test_the_card_and_the_ledger_name_both_columns(released):
    doc, out = released
    card = (out / "README.md").read_text()
    assert "(40 samples, each a pair of texts `premise` and `hypothesis` tokenized together as one input)" in card
    assert '"text_pair": ' in card  # the usage example feeds a pair
    ledger = doc["claims"]
    assert ledger["inputs"]["evaluation_data"]["description"].startswith(
        "mnli_pairs validation (40 rows; text pairs premise + hypothesis)")
    assert ledger["method"]["text_columns"] == ["premise", "hypothesis"]
    stored = json.loads((out / "report.json").read_text())
    assert stored["accuracy"]["dataset"]["text_pair_column"] == "hypothesis"


def test_verify_re_measures_the_ir_on_the_pairs(released, hub_server, pair_file, tmp_path):
    for extra, verdict in (((), "holds"), (("--max-samples", "20"), "holds (partial)")):
        result = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path / verdict),
                         "--eval-file", str(pair_file), "--json", *extra, env=hub_env(hub_server))
        assert result.returncode == 0, result.stderr + result.stdout
        row = {c["claim"]: c for c in json.loads(result.stdout)["checks"]}["accuracy.openvino"]
        assert row["verdict"] == verdict, row
        if extra:  # sample by sample: each re-measured prediction is the recorded one
            assert "20 of 20 predictions as recorded" in row["reason"]
        else:
            assert row["remeasured"] == row["ledger"]


def test_card_regenerate_reproduces_the_pair_card_from_the_stored_report(released, hub_server):
    result = run_cli("card", "regenerate", REPO, "--endpoint", hub_server.endpoint, "--dry-run",
                     env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    assert "unchanged" in result.stdout and "each a pair of texts" not in result.stdout  # no diff
