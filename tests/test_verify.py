"""`publisher verify REPO_ID`: a release re-checked from the repository alone, against a local hub.

A fresh release holds; then one thing at a time is tampered with on the hub (a figure on the card, a
figure in report.json, the IR's weights, the evaluation data) and verify must name exactly the claim
that broke, with exit code 6 (or refuse other data with exit code 2).
"""

import json

import pytest

from publisher.errors import EXIT_BAD_INPUT, EXIT_CLAIM_FAILED
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli

RELAXED = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5", "--max-logit-diff", "10"]
REPO = "tests/verify-classifier"


def api_for(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token)


def verify(hub, repo, *extra, work_dir):
    return run_cli("verify", repo, "--endpoint", hub.endpoint, "--work-dir", str(work_dir), *extra,
                   env=hub_env(hub))


def verify_json(hub, repo, *extra, work_dir):
    result = verify(hub, repo, "--json", *extra, work_dir=work_dir)
    return result, json.loads(result.stdout) if result.stdout.strip() else None


def rows(document):
    return {c["claim"]: c for c in document["checks"]}


def failing(document):
    return sorted(c["claim"] for c in document["checks"] if c["verdict"] == "does not hold")


@pytest.fixture(scope="module")
def release(hub_server, nncf_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("verify-release")
    result = run_cli("publish", str(nncf_checkpoint), "--repo-id", REPO, "--endpoint", hub_server.endpoint,
                     "--output", str(out), "--json", "--license", "apache-2.0", *RELAXED, env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out


@pytest.fixture()
def copy_of_release(hub_server, release, request):
    """A repo of its own holding the release's files, to tamper with."""
    _, out = release
    api = api_for(hub_server)
    repo = f"tests/verify-tamper-{request.node.name[-40:].replace('_', '-').strip('-')}"
    api.create_repo(repo, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=str(out), ignore_patterns=[".publisher/*", "training/*"])
    return repo


def test_the_ledger_lists_every_figure_on_the_card_with_its_evidence(release):
    doc, out = release
    ledger = doc["claims"]
    ids = {c["id"] for c in ledger["claims"]}
    assert {"accuracy.openvino", "accuracy.torch", "sparsity.openvino", "sparsity.torch",
            "verification.argmax_agreement", "compression.weights", "compatibility.openvino"} <= ids
    by_id = {c["id"]: c for c in ledger["claims"]}
    assert by_id["accuracy.openvino"]["value"] == doc["accuracy"]["openvino"]
    assert by_id["accuracy.openvino"]["printed"] == f"{doc['accuracy']['openvino']:.4f}"
    assert by_id["accuracy.openvino"]["recheck"] == "ir" and by_id["accuracy.torch"]["recheck"] == "checkpoint"
    assert ledger["inputs"]["evaluation_data"]["sha256"] == doc["accuracy"]["dataset"]["sha256"]
    env = ledger["environment"]
    assert env["versions"]["openvino"] and env["cpu"] and env["threads"] >= 1
    card = (out / "README.md").read_text()
    for claim in ledger["claims"]:
        if claim["kind"] == "figure" and "body" in claim["where"]:
            assert f"**{claim['printed']}" in card, claim["id"]


def test_a_fresh_release_holds(hub_server, release, tmp_path):
    result, document = verify_json(hub_server, REPO, work_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert document["holds"] is True and document["ledger"] is True and document["partial"] is None
    by_claim = rows(document)
    assert by_claim["accuracy.openvino"]["verdict"] == "holds"
    assert by_claim["accuracy.openvino"]["remeasured"] == by_claim["accuracy.openvino"]["ledger"]
    assert by_claim["sparsity.openvino"]["verdict"] == "holds"
    files = [c for c in document["checks"] if c["claim"].startswith("files (")]
    assert files[0]["verdict"] == "holds" and "openvino_model.bin" in files[0]["reason"]
    assert by_claim["accuracy.torch"]["verdict"] == "not re-checkable"
    assert "checkpoint" in by_claim["accuracy.torch"]["reason"]
    assert by_claim["compression.weights"]["verdict"] == "holds"
    # The card's statements were found on it and matched to their entries.
    assert by_claim["compression.weights"]["card"] == "stated"
    assert by_claim["compatibility.openvino"]["card"] == "stated"
    # Nothing was left behind in the work folder.
    assert not any(tmp_path.rglob("*.bin"))


def test_the_table_names_claim_card_ledger_remeasured_tolerance_and_verdict(hub_server, release, tmp_path):
    result = verify(hub_server, REPO, work_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    for column in ("claim", "on the card", "ledger", "re-measured", "tolerance", "verdict"):
        assert column in result.stdout
    assert "accuracy.openvino" in result.stdout and "All claims that can be re-checked hold" in result.stdout


def test_a_partial_check_says_it_is_partial(hub_server, release, tmp_path):
    result, document = verify_json(hub_server, REPO, "--max-samples", "100", work_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert document["partial"] == "100 of 872 samples"
    row = rows(document)["accuracy.openvino"]
    assert row["verdict"] == "holds (partial)" and "100 of 100 predictions as recorded" in row["reason"]


def _edit(api, repo, path, change):
    from huggingface_hub import hf_hub_download

    text = open(hf_hub_download(repo, path, endpoint=api.endpoint, token=api.token)).read()
    changed = change(text)
    assert changed != text
    api.upload_file(path_or_fileobj=changed.encode(), path_in_repo=path, repo_id=repo)


def test_a_figure_changed_on_the_card_is_named(hub_server, release, copy_of_release, tmp_path):
    doc, _ = release
    printed = f"{doc['sparsity']['openvino']['overall']:.2f}"
    wrong = f"{min(float(printed) + 0.05, 0.99):.2f}"
    _edit(api_for(hub_server), copy_of_release, "README.md",
          lambda t: t.replace(f"OpenVINO IR: **{printed}**", f"OpenVINO IR: **{wrong}**"))
    result, document = verify_json(hub_server, copy_of_release, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED, result.stderr
    assert failing(document) == ["sparsity.openvino"]
    assert f"shows {wrong}" in rows(document)["sparsity.openvino"]["reason"]


def test_a_model_index_value_changed_on_the_card_is_named(hub_server, release, copy_of_release, tmp_path):
    doc, _ = release
    value = round(doc["accuracy"]["openvino"], 5)
    _edit(api_for(hub_server), copy_of_release, "README.md",
          lambda t: t.replace(f"value: {value}", f"value: {round(value + 0.01, 5)}", 1))
    result, document = verify_json(hub_server, copy_of_release, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED
    assert failing(document) == ["accuracy.openvino"]
    assert "model-index" in rows(document)["accuracy.openvino"]["reason"]


def test_a_figure_changed_in_report_json_is_named(hub_server, release, copy_of_release, tmp_path):
    def bump(text):
        data = json.loads(text)
        data["sparsity"]["torch"]["overall"] += 0.1
        return json.dumps(data, indent=2)

    _edit(api_for(hub_server), copy_of_release, "report.json", bump)
    result, document = verify_json(hub_server, copy_of_release, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED
    assert failing(document) == ["sparsity.torch"]
    assert "report.json's measurement" in rows(document)["sparsity.torch"]["reason"]


def test_changed_ir_weights_are_named(hub_server, release, copy_of_release, tmp_path):
    _, out = release
    data = bytearray((out / "openvino_model.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of one weight
    api_for(hub_server).upload_file(path_or_fileobj=bytes(data), path_in_repo="openvino_model.bin",
                                    repo_id=copy_of_release)
    result, document = verify_json(hub_server, copy_of_release, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED
    assert "file openvino_model.bin" in failing(document)
    (others,) = [c for c in document["checks"] if c["claim"].startswith("files (")]
    assert others["verdict"] == "holds" and "openvino_model.xml" in others["reason"]
    assert "openvino_model.bin" not in others["reason"]


def test_other_evaluation_data_is_refused_unless_accepted(hub_server, release, tmp_path):
    from publisher.stages.data import bundled_sst2_path

    lines = bundled_sst2_path().read_text().splitlines()
    tampered = tmp_path / "sst2.tsv"
    tampered.write_text("\n".join(lines[:1] + lines[2:] + lines[1:2]) + "\n")  # one row moved to the end
    result, document = verify_json(hub_server, REPO, "--eval-file", str(tampered), work_dir=tmp_path / "w1")
    assert result.returncode == EXIT_BAD_INPUT
    assert "sha256" in result.stderr and "--accept-other-data" in result.stderr
    result, document = verify_json(hub_server, REPO, "--eval-file", str(tampered), "--accept-other-data",
                                   work_dir=tmp_path / "w2")
    assert "differs from the ledger's" in rows(document)["accuracy.openvino"]["reason"]


def test_a_repo_that_does_not_exist_is_a_hub_error(hub_server, tmp_path):
    result = verify(hub_server, "tests/no-such-release", work_dir=tmp_path)
    assert result.returncode == 5, result.stderr
    assert "Error:" in result.stderr


def test_verify_with_two_local_folders_still_runs_the_parity_stage(release, nncf_checkpoint):
    _, out = release
    result = run_cli("verify", str(nncf_checkpoint), str(out), "--max-samples", "16", *RELAXED[2:], "--json")
    assert result.returncode == 0, result.stderr
    assert "publisher parity" in result.stderr
    assert json.loads(result.stdout)["compiled"] is True


def test_a_statement_added_to_the_card_without_evidence_is_named(hub_server, release, copy_of_release, tmp_path):
    _edit(api_for(hub_server), copy_of_release, "README.md",
          lambda t: t.replace("## Description\n", "## Description\n\nTrained with quantization-aware training.\n", 1))
    result, document = verify_json(hub_server, copy_of_release, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED
    (stray,) = [c for c in document["checks"] if c["verdict"] == "does not hold"]
    assert stray["text"] == "quantization-aware training" and stray["claim"].startswith("card line")


# --- a repo publisher did not publish: the seed card's wording over a small IR ---------------------

SEED_CARD = __import__("pathlib").Path(__file__).parent / "data" / "seed-model-card.md"


def _foreign_repo(hub, release, repo, *, index_value=None, sparsity=None):
    """The release's IR and tokenizer under a card written like the seed card (no report.json)."""
    doc, out = release
    ir_accuracy = doc["accuracy"]["openvino"]
    card = SEED_CARD.read_text()
    card = card.replace("value: 0.91284", f"value: {index_value if index_value is not None else round(ir_accuracy, 5)}")
    card = card.replace("OpenVINO IR accuracy: **0.9128**", f"OpenVINO IR accuracy: **{ir_accuracy:.4f}**")
    shown = sparsity if sparsity is not None else f"{doc['sparsity']['openvino']['overall']:.2f}"
    card = card.replace("linear layers: **0.80**", f"linear layers: **{shown}**")
    api = api_for(hub)
    api.create_repo(repo, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=str(out), allow_patterns=[
        "openvino_model.*", "config.json", "tokenizer*.json", "openvino_config.json"])
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo)
    return repo


def test_a_seed_style_card_is_checked_where_its_ir_can_show_it(hub_server, release, tmp_path):
    repo = _foreign_repo(hub_server, release, "tests/verify-foreign-seed")
    result, document = verify_json(hub_server, repo, work_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert document["ledger"] is False
    by_text = {c["text"]: c for c in document["checks"]}
    index = [c for c in document["checks"] if c["claim"].startswith("model-index accuracy (glue/sst2 validation")]
    assert [c["verdict"] for c in index] == ["holds"]
    assert by_text["OpenVINO IR accuracy"]["verdict"] == "holds"
    assert by_text["Sparsity in transformer block linear layers"]["verdict"] == "holds"
    assert by_text["Torch accuracy"]["verdict"] == "not re-checkable"
    statements = {c["text"]: c["verdict"] for c in document["checks"] if c["claim"].startswith("statement")}
    assert statements["compressed to INT8"] == "holds"
    assert statements["unstructured magnitude pruning"] == "holds"
    assert statements["distillation"] == "not re-checkable"
    assert statements["OpenVINO version 2024.3.0 and higher"] == "not re-checkable"


def test_a_seed_style_card_whose_figures_the_ir_does_not_bear_out_fails(hub_server, release, tmp_path):
    repo = _foreign_repo(hub_server, release, "tests/verify-foreign-seed-wrong", index_value=0.91284, sparsity="0.80")
    result, document = verify_json(hub_server, repo, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED, result.stderr
    failed = {c["text"] for c in document["checks"] if c["verdict"] == "does not hold"}
    assert failed == {"Accuracy", "Sparsity in transformer block linear layers"}


# --- many releases ------------------------------------------------------------------------------------


def test_a_namespace_is_verified_release_by_release_with_one_summary(hub_server, release, tmp_path):
    api = api_for(hub_server)
    api.create_repo("fleet/good", exist_ok=True)
    api.upload_folder(repo_id="fleet/good", folder_path=str(release[1]), ignore_patterns=[".publisher/*", "training/*"])
    api.create_repo("fleet/no-ir", exist_ok=True)
    api.upload_file(path_or_fileobj=b"# A card\n", path_in_repo="README.md", repo_id="fleet/no-ir")
    result = run_cli("verify", "--all", "fleet", "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path),
                     "--json", env=hub_env(hub_server))
    document = json.loads(result.stdout)
    status = {r["repo_id"]: r["status"] for r in document["releases"]}
    assert status == {"fleet/good": "holds", "fleet/no-ir": "skipped"}
    assert result.returncode == 0, result.stderr
    listing = tmp_path / "repos.txt"
    listing.write_text("# releases to check\nfleet/good\ntests/no-such-release\n")
    result = run_cli("verify", "--repos", str(listing), "--endpoint", hub_server.endpoint, "--work-dir",
                     str(tmp_path), env=hub_env(hub_server))
    assert result.returncode == 5, result.stderr  # the Hub's 404 for the unknown repo: its usual code
    assert "fleet/good" in result.stdout and "tests/no-such-release" in result.stdout


def test_verify_needs_exactly_one_target(hub_server, tmp_path):
    result = verify(hub_server, "a/b", "--all", "fleet", work_dir=tmp_path)
    assert result.returncode == EXIT_BAD_INPUT and "exactly one of" in result.stderr


def test_with_the_checkpoint_the_torch_side_claims_are_re_measured(hub_server, release, nncf_checkpoint,
                                                                   tiny_checkpoint, tmp_path):
    result, document = verify_json(hub_server, REPO, "--checkpoint", str(nncf_checkpoint), work_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    by_claim = rows(document)
    for claim in ("accuracy.torch", "sparsity.torch", "verification.argmax_agreement",
                  "verification.max_abs_logit_diff"):
        assert by_claim[claim]["verdict"] == "holds", by_claim[claim]
    assert by_claim["accuracy.torch"]["remeasured"] == by_claim["accuracy.torch"]["ledger"]
    other = verify(hub_server, REPO, "--checkpoint", str(tiny_checkpoint), work_dir=tmp_path)
    assert other.returncode == EXIT_BAD_INPUT and "not the one the release was measured from" in other.stderr


def test_a_rule_loosened_in_the_stored_ledger_is_named(hub_server, release, copy_of_release, tmp_path):
    """The ledger cannot exempt a claim from re-measurement: the rules come from publisher itself."""
    def exempt(text):
        data = json.loads(text)
        for claim in data["claims"]["claims"]:
            if claim["id"] == "accuracy.openvino":
                claim["recheck"], claim["value"], claim["printed"] = "machine", 0.99, "0.9900"
        return json.dumps(data, indent=2)

    _edit(api_for(hub_server), copy_of_release, "report.json", exempt)
    result, document = verify_json(hub_server, copy_of_release, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED
    assert "accuracy.openvino" in failing(document)
    assert "re-check rule" in rows(document)["accuracy.openvino"]["reason"]


def test_a_model_index_result_without_a_ledger_entry_is_named(hub_server, release, copy_of_release, tmp_path):
    doc, _ = release
    value = round(doc["accuracy"]["openvino"], 5)
    _edit(api_for(hub_server), copy_of_release, "README.md",
          lambda t: t.replace(f"      value: {value}\n      config: openvino", "      value: 0.99", 1)
          if f"      value: {value}\n      config: openvino" in t else t.replace("config: openvino", "config: fast", 1))
    result, document = verify_json(hub_server, copy_of_release, work_dir=tmp_path)
    assert result.returncode == EXIT_CLAIM_FAILED
    assert any(c.startswith("model-index result") for c in failing(document))
