"""The training section names only what a reader can get (issue 15, item 5); training metadata reading."""

from __future__ import annotations

import json
import os

import pytest

from publisher.card import render_card, training_files
from publisher.card.metadata import split_front_matter
from publisher.errors import BadInputError
from publisher.stages.training_metadata import read_training_metadata
from tests.card.seed import replace_training, seed_report


@pytest.fixture
def project(tmp_path):
    """A project with a recipe, and a checkpoint it wrote under artifacts/ with its records."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "train.py").write_text("print('training')\n")
    ckpt = tmp_path / "artifacts" / "checkpoints" / "ck"
    ckpt.mkdir(parents=True)
    (ckpt / "training_command.txt").write_text("python recipes/train.py --epochs 1 --out artifacts/x\n")
    (ckpt / "training_metadata.json").write_text(json.dumps({
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "dataset": {"name": "GLUE SST2", "type": "glue", "config": "sst2"},
        "base_model_relation": "finetune",
    }))
    (ckpt / "recipe_record.json").write_text(json.dumps({"int8": "weight-only at export"}))
    return ckpt


def test_the_reader_finds_the_records_and_the_script_the_command_runs(project, monkeypatch):
    monkeypatch.chdir(project.parent)  # not the project root: found from the checkpoint's parents
    training, _ = read_training_metadata(project)
    assert training.training_dataset == "GLUE SST2"
    assert training.base_model_relation == "finetune"
    assert training.sources["base_model_relation"] == "training_metadata.json"
    assert training.recipe_record == {"int8": "weight-only at export"}
    files = training_files(training)
    assert {k: v.read_text() for k, v in files.items()} == {
        "training/recipe_record.json": '{"int8": "weight-only at export"}',
        "training/train.py": "print('training')\n",
    }


def test_the_card_lists_the_shipped_files_and_runs_the_shipped_script(project):
    training, _ = read_training_metadata(project)
    report = replace_training(seed_report(training_details_url=None), training_command=training.training_command,
                              training_files=training.training_files)
    body = split_front_matter(render_card(report))[1]
    assert "   python training/train.py --epochs 1 --out artifacts/x\n" in body
    assert "recipes/train.py" not in body
    assert "- [training/train.py](training/train.py)\n" in body
    assert "- [training/recipe_record.json](training/recipe_record.json): the recipe's own record" in body
    assert training_files(report) == {k: v for k, v in training_files(training).items()}


def test_numbered_steps_stay_one_list_so_the_hub_numbers_them_1_2(project):
    body = split_front_matter(render_card(seed_report()))[1]
    section = body.split("## Running model training", 1)[1].split("<!-- publisher:end training -->")[0]
    lines = section.split("\n")
    steps = [line for line in lines if line[:1].isdigit()]
    assert [s[:2] for s in steps] == ["1.", "2."]
    start, end = lines.index(steps[0]), lines.index(steps[1])
    # Everything between the two steps is indented into step 1 (or blank): a column-0 fence would
    # end the list and the Hub would render the second step as "1." again.
    assert all(line == "" or line.startswith("   ") for line in lines[start + 1:end])


def test_a_script_the_release_does_not_ship_is_said_so_without_a_link(seed):
    report = replace_training(seed_report(training_details_url=None))
    body = split_front_matter(render_card(report))[1]
    assert "`run_glue.py` is not part of this repository." in body
    assert "not part of this repository" not in split_front_matter(render_card(seed))[1]


def test_a_training_file_gone_since_loading_is_an_error(project):
    training, _ = read_training_metadata(project)
    os.remove(project / "recipe_record.json")
    with pytest.raises(BadInputError, match="recipe_record.json"):
        training_files(training)


def test_a_command_given_by_flag_ships_its_own_script_and_keeps_the_record(project):
    from publisher.stages.training_metadata import refresh_training_files

    training, _ = read_training_metadata(project)
    (project.parent / "other.py").write_text("print('other')\n")
    given = refresh_training_files(replace_training(seed_report(), training_command="python other.py",
                                                    training_files=training.training_files
                                                    ).checkpoint.training, project)
    assert sorted(given.training_files) == ["training/other.py", "training/recipe_record.json"]


def test_the_recipes_record_names_the_packages_and_what_the_script_still_reads():
    record = {"requirements": ["torch==2.9.1", "nncf==3.4.0"],
              "reads": [{"path": "data/sst2_train.tsv.gz", "where": "beside the script", "what": "SST-2 train"}]}
    body = split_front_matter(render_card(replace_training(seed_report(), recipe_record=record)))[1]
    assert "   pip install torch==2.9.1 nncf==3.4.0\n" in body
    assert "datasets evaluate scipy" not in body  # the generic line is for scripts without a record
    assert ("the script reads SST-2 train (`data/sst2_train.tsv.gz`, beside the script); these are not in "
            "this repository.") in body
