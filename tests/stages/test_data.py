"""Evaluation data: bundled SST-2, local files, label mapping, one tokenization for both passes."""

import hashlib
import json
from pathlib import Path

import pytest

from publisher.errors import BadInputError
from publisher.stages.data import EvalData, EvalDataSpec, load_eval_data, map_labels, tokenize

TEST_DATA = Path(__file__).parent.parent / "data"


def test_bundled_sst2_is_the_glue_validation_split():
    data = load_eval_data(EvalDataSpec())
    reference = (TEST_DATA / "sst2_validation.tsv").read_bytes()
    assert data.info.sha256 == hashlib.sha256(reference).hexdigest()
    assert (data.info.name, data.info.type, data.info.config, data.info.split) == (
        "GLUE SST2", "glue", "sst2", "validation")
    assert data.info.num_samples == 872
    assert sum(data.labels) == 444  # positives, per the GLUE distribution


def test_local_tsv_file_with_sha(tmp_path):
    data = load_eval_data(EvalDataSpec(eval_file=str(TEST_DATA / "sst2_validation.tsv")))
    assert data.info.num_samples == 872 and data.info.type == "csv"


def test_labels_map_by_name():
    data = load_eval_data(EvalDataSpec(eval_file=str(TEST_DATA / "small_eval.jsonl"),
                                       text_column="text", label_column="sentiment"))
    assert data.label_names == ["negative", "positive"]
    assert map_labels({0: "POSITIVE", 1: "NEGATIVE"}, data) == {0: 1, 1: 0}


def _data(label_names, labels=(0, 1), names=False):
    from publisher.results import DatasetInfo

    info = DatasetInfo("x", "csv", None, "validation", len(labels), None, "x", "t", "l")
    return EvalData(info, ["a"] * len(labels), list(labels), label_names, labels_are_names=names)


def test_unmatched_label_name_is_an_error():
    with pytest.raises(BadInputError, match="matches none"):
        map_labels({0: "neg", 1: "pos"}, _data(["negative", "positive"]))


def test_ambiguous_label_names_are_an_error():
    with pytest.raises(BadInputError, match="ambiguously"):
        map_labels({0: "positive", 1: "Positive"}, _data(["negative", "positive"]))


def test_generic_model_labels_with_named_data_labels_are_an_error():
    with pytest.raises(BadInputError, match="generic"):
        map_labels({0: "LABEL_0", 1: "LABEL_1"}, _data(["neg", "pos"], names=True))


def test_labels_outside_the_models_classes_are_an_error():
    with pytest.raises(BadInputError, match="outside"):
        map_labels({0: "LABEL_0", 1: "LABEL_1"}, _data(None, labels=(0, 1, 2)))


def test_missing_text_column_is_an_error():
    with pytest.raises(BadInputError, match="--text-column"):
        load_eval_data(EvalDataSpec(eval_file=str(TEST_DATA / "small_eval.jsonl"),
                                    label_column="sentiment"))


def test_empty_eval_file_is_an_error(tmp_path):
    empty = tmp_path / "e.tsv"
    empty.write_text("")
    with pytest.raises(BadInputError, match="empty"):
        load_eval_data(EvalDataSpec(eval_file=str(empty)))


def test_tokenized_batches_are_length_sorted_and_cover_every_row(tiny_checkpoint):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    texts = ["short", "a much longer sentence with many words in it", "mid length one"] * 5
    batches = tokenize(tok, texts, max_length=128, batch_size=4)
    assert sorted(batches.order) == list(range(len(texts)))
    widths = [b["input_ids"].shape[1] for b in batches.batches]
    assert widths == sorted(widths)  # dynamic padding: each batch pads to its own longest row
    assert sum(len(b["input_ids"]) for b in batches.batches) == len(texts)


# --- found by the loader fuzzer (tests/test_loader_fuzz.py, issue 26) -----------------------------


@pytest.mark.parametrize("rows,message", [
    ("sentence\tlabel\na\t0.5\nb\t1.7\n", r"label column 'label' of .*e\.tsv holds non-integer values \(row 1: 0\.5\)"),
    ("sentence\tlabel\na\t1\nb\t\n", r"label column 'label' of .*e\.tsv holds non-integer values \(row 2: an empty"),
])
def test_fractional_or_empty_labels_are_refused(tmp_path, rows, message):
    # 0.5 and 1.7 were read as classes 0 and 1: a wrong accuracy, published.
    path = tmp_path / "e.tsv"
    path.write_text(rows)
    with pytest.raises(BadInputError, match=message):
        load_eval_data(EvalDataSpec(eval_file=str(path)))


def test_whole_float_labels_are_class_ids(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"sentence": "a", "label": 1.0}\n{"sentence": "b", "label": 0.0}\n')
    assert load_eval_data(EvalDataSpec(eval_file=str(path))).labels == [1, 0]


def test_labels_that_mix_names_and_numbers_are_refused(tmp_path):
    # A name first, then a number: sorting the names raised TypeError (exit 1).
    path = tmp_path / "e.jsonl"
    path.write_text('{"sentence": "a", "label": "positive"}\n{"sentence": "b", "label": 1}\n')
    with pytest.raises(BadInputError, match=r"of .*e\.jsonl holds both names and numbers \(row 1: 'positive', "
                                            r"row 2: 1\)"):
        load_eval_data(EvalDataSpec(eval_file=str(path)))


def test_refusals_of_the_evaluation_data_name_the_file(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("sentence;label\na;1\n")
    with pytest.raises(BadInputError, match=r"evaluation data in .*e\.csv has no column 'sentence'"):
        load_eval_data(EvalDataSpec(eval_file=str(path)))
    path.write_text("sentence,label\na,0\nb,7\n")
    data = load_eval_data(EvalDataSpec(eval_file=str(path)))
    with pytest.raises(BadInputError, match=r"\[7\] are outside the model's 2 classes \(0\.\.1\): column 'label' "
                                            r"of .*e\.csv"):
        map_labels({0: "LABEL_0", 1: "LABEL_1"}, data)


def test_unparsable_eval_file_says_what_the_parser_said(tmp_path):
    # datasets' own words were "An error occurred while generating the dataset".
    path = tmp_path / "e.tsv"
    path.write_bytes(b"sentence\tlabel\ncaf\xe9\t1\n")
    with pytest.raises(BadInputError, match=r"e\.tsv cannot be parsed \(\w+: .*UTF.?8"):
        load_eval_data(EvalDataSpec(eval_file=str(path)))


def test_a_tokenizer_that_cannot_encode_the_text_is_bad_input():
    class Broken:
        pad_token_id = 0

        def __call__(self, *args, **kwargs):
            raise Exception("WordPiece error: Missing [UNK] token from the vocabulary")

    with pytest.raises(BadInputError, match=r"tokenizer cannot encode the evaluation text .*\[UNK\]"):
        tokenize(Broken(), ["a"], max_length=8, batch_size=2)


PYARROW_CRASHERS = {
    # Lines that are not objects: pyarrow's JSON reader segfaults on a line "null".
    "nulls.jsonl": "null\n",
    "array.json": "[null]\n",
    # A column whose type changes (a number, then true) after a long line: a segfault when
    # pyarrow reads the file in several blocks.
    "blocks.jsonl": "".join(json.dumps(row) + "\n" for row in [
        {"sentence": "a", "label": 0}, {"sentence": "x" * 200_000, "label": 1},
        {"sentence": "x" * 200_000, "label": True}]),
}
CRASH_CHECK = """
import sys
from publisher.errors import BadInputError
from publisher.stages.data import EvalDataSpec, load_eval_data
for path in sys.argv[1:]:
    try:
        data = load_eval_data(EvalDataSpec(eval_file=path))
        print("read", len(data.labels))
    except BadInputError as exc:
        print("refused", exc)
"""


def test_json_rows_that_crashed_pyarrow_are_refused_or_read(tmp_path):
    # Each took the whole process down with a segmentation fault (found by the loader fuzzer);
    # checked in a child process, so that a regression fails this test and not the test run.
    import subprocess
    import sys

    paths = []
    for name, text in PYARROW_CRASHERS.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    done = subprocess.run([sys.executable, "-c", CRASH_CHECK, *paths], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).parent.parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused") and "nulls.jsonl line 1 is 'null', not a JSON object" in lines[0]
    assert lines[1].startswith("refused") and "array.json holds a JSON array, not rows" in lines[1]
    assert lines[2] == "read 3"  # true is class 1: the rows are read as datasets reads them
