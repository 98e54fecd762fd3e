"""``publish --add-to REPO_ID`` (publisher.pipeline.add_to): a pull request that adds the IR under
``openvino/`` and one OpenVINO section of the card to an existing model repo, every other file and the
front matter left as they were; refused before any work for a repo of other weights."""

from __future__ import annotations

import json

import pytest

from publisher.errors import EXIT_BAD_INPUT
from tests.fixtures_embeddings import build_tiny_sentence_transformer, write_pairs
from tests.fixtures_hub import hub_env
from tests.fixtures_models import build_tiny, run_cli

BASE_CARD = "---\nlicense: apache-2.0\ntags:\n- sentence-transformers\n---\n# A tiny encoder\n\nThe owner's own text.\n"


def _api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token)


@pytest.fixture(scope="module")
def base_repo(hub_server, tmp_path_factory):
    """The model's own repo, as its owner pushed it: the sentence-transformers folder and a card."""
    folder = build_tiny_sentence_transformer(tmp_path_factory.mktemp("base") / "st")
    (folder / "README.md").write_text(BASE_CARD)
    api = _api(hub_server)
    repo = "tests/tiny-st-base"
    api.create_repo(repo, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="the owner's model")
    return repo, folder


def _files(api, repo, revision):
    return {f.path: (f.lfs.sha256 if f.lfs else f.blob_id) for f in api.list_repo_tree(repo, revision=revision,
                                                                                      recursive=True)
            if hasattr(f, "blob_id")}


def test_add_to_opens_a_pull_request_adding_only_the_ir_and_a_card_section(base_repo, hub_server, tmp_path):
    repo, folder = base_repo
    api = _api(hub_server)
    before = _files(api, repo, "main")
    result = run_cli("publish", str(folder), "--add-to", repo, "--endpoint", hub_server.endpoint, "--output",
                     str(tmp_path / "out"), "--eval-file", str(write_pairs(tmp_path / "pairs.csv")), "--json",
                     env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["hub"]["pr_url"] and doc["hub"]["repo_id"] == repo
    assert _files(api, repo, "main") == before  # main is untouched until the owner merges
    pr = _files(api, repo, "refs/pr/1")
    added = sorted(set(pr) - set(before))
    assert added and all(p.startswith("openvino/") for p in added)
    assert "openvino/openvino_model.xml" in added and "openvino/report.json" in added
    assert {p: pr[p] for p in before if p != "README.md"} == {p: v for p, v in before.items() if p != "README.md"}
    readme = api.hf_hub_download(repo, "README.md", revision="refs/pr/1", local_dir=tmp_path / "dl")
    text = open(readme, encoding="utf-8").read()
    assert text.startswith(BASE_CARD.rstrip("\n"))  # front matter and the owner's text as they were
    assert "<!-- publisher:begin openvino -->" in text and "### Evaluation results" in text
    assert 'SentenceTransformer("tests/tiny-st-base", backend="openvino")' in text


def test_add_to_a_repo_of_other_weights_is_refused_before_any_work(base_repo, hub_server, tmp_path):
    repo, _ = base_repo
    other = build_tiny_sentence_transformer(tmp_path / "other", seed=99)
    out = tmp_path / "out"
    result = run_cli("publish", str(other), "--add-to", repo, "--endpoint", hub_server.endpoint, "--output",
                     str(out), "--eval-file", str(write_pairs(tmp_path / "pairs.csv")), env=hub_env(hub_server))
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "model.safetensors" in result.stderr and "Traceback" not in result.stderr
    assert not (out / "openvino").exists()


def test_add_to_is_refused_for_a_classifier_and_for_a_missing_repo(hub_server, tmp_path):
    classifier = build_tiny(tmp_path / "clf")
    result = run_cli("publish", str(classifier), "--add-to", "tests/anything", "--endpoint", hub_server.endpoint,
                     "--output", str(tmp_path / "o1"), env=hub_env(hub_server))
    assert result.returncode == EXIT_BAD_INPUT and "sentence-embedding" in result.stderr, result.stderr
    st = build_tiny_sentence_transformer(tmp_path / "st")
    result = run_cli("publish", str(st), "--add-to", "tests/no-such-repo", "--endpoint", hub_server.endpoint,
                     "--output", str(tmp_path / "o2"), env=hub_env(hub_server))
    assert result.returncode == EXIT_BAD_INPUT and "does not exist" in result.stderr, result.stderr


def test_add_to_with_a_token_that_cannot_write_is_refused_before_any_work(base_repo, hub_server, tmp_path):
    from publisher.errors import EXIT_AUTH

    repo, folder = base_repo
    out = tmp_path / "out"
    env = {**hub_env(hub_server), "HF_TOKEN": hub_server.read_token}
    result = run_cli("publish", str(folder), "--add-to", repo, "--endpoint", hub_server.endpoint, "--output",
                     str(out), "--eval-file", str(write_pairs(tmp_path / "pairs.csv")), env=env)
    assert result.returncode == EXIT_AUTH and "read-only" in result.stderr, result.stderr
    assert hub_server.read_token not in result.stderr + result.stdout
    assert not (out / "openvino").exists()  # refused before the export


def test_a_re_run_updates_the_pull_request_it_opened_instead_of_opening_another(hub_server, tmp_path):
    """The second run (here on fewer pairs) commits its measurements to the pull request's ref: still one
    pull request, holding the second run's report."""
    from tests.fixtures_embeddings import PAIRS

    folder = build_tiny_sentence_transformer(tmp_path / "st", seed=7)
    (folder / "README.md").write_text(BASE_CARD)
    api, repo = _api(hub_server), "tests/tiny-st-rerun"
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="the owner's model")

    def add(pairs_file, out):
        result = run_cli("publish", str(folder), "--add-to", repo, "--endpoint", hub_server.endpoint,
                         "--output", str(tmp_path / out), "--eval-file", str(pairs_file), "--json",
                         env=hub_env(hub_server))
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first = add(write_pairs(tmp_path / "all.csv"), "o1")
    assert first["hub"]["pr_url"].endswith("/discussions/1")
    head = api.list_repo_refs(repo, include_pull_requests=True).pull_requests[0].target_commit
    fewer = add(write_pairs(tmp_path / "fewer.csv", PAIRS[:-2]), "o2")
    assert fewer["status"] == "released" and fewer["hub"]["revision"] == "refs/pr/1"
    assert fewer["hub"]["pr_url"].endswith("/discussions/1") and "openvino/report.json" in fewer["hub"]["files_changed"]
    prs = api.get_repo_discussions(repo, discussion_type="pull_request")
    assert [d.num for d in prs] == [1]
    refs = api.list_repo_refs(repo, include_pull_requests=True).pull_requests
    assert [r.ref for r in refs] == ["refs/pr/1"] and refs[0].target_commit != head
    report = api.hf_hub_download(repo, "openvino/report.json", revision="refs/pr/1", local_dir=tmp_path / "dl")
    rows = json.load(open(report))["task_results"]["dataset"]["num_samples"]
    assert rows == len(PAIRS) - 2
