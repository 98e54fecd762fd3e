"""Reading questions: the bundled SQuAD v1.1 dev split against counts made here from its own JSON,
both local layouts, and the rows that are refused (an answer not in its context, SQuAD 2.0)."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from publisher.errors import BadInputError
from publisher.stages.squad_data import bundled_path, load_questions
from tests.fixtures_qa import QUESTIONS, write_squad, write_squad_jsonl


def test_the_bundled_dev_split_is_the_official_file_with_the_published_counts():
    raw = gzip.decompress(bundled_path().read_bytes())
    document = json.loads(raw)
    articles = document["data"]
    paragraphs = [p for a in articles for p in a["paragraphs"]]
    qas = [q for p in paragraphs for q in p["qas"]]
    # The official dev-v1.1.json (PROVENANCE.md): its sha256, version, and 48 / 2,067 / 10,570.
    assert hashlib.sha256(raw).hexdigest() == "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"
    assert document["version"] == "1.1" and len(raw) == 4_854_279
    assert (len(articles), len(paragraphs), len(qas)) == (48, 2067, 10570)
    data = load_questions(None)
    ds = data.info
    assert ds.num_samples == 10570 and ds.num_answers == sum(len(q["answers"]) for q in qas) == 34726
    assert ds.num_contexts == len({p["context"] for p in paragraphs}) == 2067
    assert ds.bundled and ds.type == "squad" and ds.split == "validation" and ds.name == "SQuAD v1.1"
    assert ds.articles == [a["title"] for a in articles] and ds.articles[0] == "Super_Bowl_50"
    assert data.questions[0].id == "56be4db0acb8001400a502ec" and data.questions[0].answers[0] == "Denver Broncos"
    assert load_questions(None, max_samples=7).info.name == "SQuAD v1.1 (first 7 questions)"


def test_squad_json_and_jsonl_read_the_same_questions(tmp_path):
    a = load_questions(write_squad(tmp_path / "q.json"), split="dev")
    b = load_questions(write_squad_jsonl(tmp_path / "q.jsonl"), split="dev")
    assert [q.id for q in a.questions] == [q.id for q in b.questions] == [q[0] for q in QUESTIONS]
    assert [q.answers for q in a.questions] == [q.answers for q in b.questions] == [q[3] for q in QUESTIONS]
    assert a.info.num_contexts == 2 and a.info.num_answers == sum(len(q[3]) for q in QUESTIONS)
    assert (a.info.format, b.info.format) == ("squad-json", "jsonl") and a.info.split == "dev"


def test_an_answer_that_is_not_in_its_context_at_its_offset_is_refused_naming_the_question(tmp_path):
    path = write_squad_jsonl(tmp_path / "q.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["answers"]["answer_start"][0] += 3
    rows[3]["answers"] = {"text": ["Microsoft"], "answer_start": [0]}
    path.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n")
    with pytest.raises(BadInputError, match=r"'q2'.*not the text of its context at answer_start .*occurs at"):
        load_questions(path)
    path.write_text(json.dumps(rows[3]) + "\n")
    with pytest.raises(BadInputError, match=r"'Microsoft' of question 'q4'.*nowhere in the context"):
        load_questions(path)


def test_unanswerable_questions_of_the_squad_2_layout_are_refused(tmp_path):
    path = write_squad(tmp_path / "q.json")
    document = json.loads(path.read_text())
    document["data"][0]["paragraphs"][0]["qas"][0].update(is_impossible=True, answers=[])
    path.write_text(json.dumps(document))
    with pytest.raises(BadInputError, match="unanswerable question .*SQuAD 2.0.*null-answer rule") as err:
        load_questions(path)
    assert "answerable questions only" in err.value.fix


@pytest.mark.parametrize("content, problem", [
    ("[1, 2]", "no \"data\" list"),
    ('{"data": [{"paragraphs": [{"context": "x"}]}]}', "without a qas list"),
    ("not json", "not UTF-8 JSON"),
])
def test_malformed_squad_json_is_refused(tmp_path, content, problem):
    path = tmp_path / "q.json"
    path.write_text(content)
    with pytest.raises(BadInputError, match=problem):
        load_questions(path)


def test_a_gzipped_squad_json_reads_as_the_plain_file_with_the_plain_files_sha256(tmp_path):
    plain = write_squad(tmp_path / "q.json")
    packed = tmp_path / "q.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = load_questions(plain), load_questions(packed)
    assert [q.answers for q in a.questions] == [q.answers for q in b.questions]
    assert a.info.sha256 == b.info.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()


def test_a_datasets_folder_in_the_squad_layout_reads_as_the_jsonl_file(tmp_path):
    from publisher.stages.squad_data import load_dataset_questions

    folder = tmp_path / "squad-copy"
    folder.mkdir()
    write_squad_jsonl(folder / "validation.jsonl")
    data = load_dataset_questions(str(folder), None, split="validation", max_samples=4)
    assert [q.id for q in data.questions] == [q[0] for q in QUESTIONS[:4]]
    assert [q.answers for q in data.questions] == [q[3] for q in QUESTIONS[:4]]
    assert data.info.source == f"hub:{folder}" and data.info.format == "datasets" and data.info.num_samples == 4
    with pytest.raises(BadInputError, match="cannot be loaded"):
        load_dataset_questions(str(folder), None, split="test")
