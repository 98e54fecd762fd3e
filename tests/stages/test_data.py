"""Evaluation data: bundled SST-2, local files, label mapping, one tokenization for both passes."""

import hashlib
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
