"""What `publisher verify` reads from a repo is hostile input: regression tests for what
tests/test_verify_fuzz.py found (fast: no hub, no model).

Each case was an internal error (exit 1) or a read outside the work folder before it was fixed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from publisher.card import remote
from publisher.card.ledger import build_ledger
from publisher.errors import BadInputError
from publisher.recheck import ledger_checks
from publisher.recheck.release import release_files
from publisher.results import FAILS, FileDigest, Report, from_dict
from tests.card.seed import seed_report


def _document() -> dict:
    report = seed_report()
    report = report.replace(export=dataclasses.replace(report.export, files=[
        FileDigest("openvino_model.xml", "a" * 64, 10), FileDigest("openvino_model.bin", "b" * 64, 20)]))
    return report.replace(claims=build_ledger(report)).to_dict()


def _parse(document) -> Report:
    return remote.parse_report(document if isinstance(document, str) else json.dumps(document), "org/x/report.json")


def test_the_seed_report_still_reads_back_as_written():
    report = _parse(_document())
    assert Report.from_dict(report.to_dict()) == report


@pytest.mark.parametrize("path, value, named", [
    (("export", "files", 0, "path"), 1e308, "export.files[0].path"),  # AttributeError: 'float' ... 'rsplit'
    (("checkpoint",), None, "checkpoint"),  # AttributeError: 'NoneType' object has no attribute 'training'
    (("claims", "claims", 0, "printed"), 0.9, "claims.claims[0].printed"),
    (("accuracy", "dataset"), "glue", "accuracy.dataset"),
    (("export", "files"), {"a": 1}, "export.files"),
    (("export", "files", 0, "size"), "big", "export.files[0].size"),
    (("accuracy", "openvino"), "0.9", "accuracy.openvino"),
    (("checkpoint", "nncf_compressed"), 1, "checkpoint.nncf_compressed"),
])
def test_a_field_of_the_wrong_type_is_bad_input_naming_the_field(path, value, named):
    document = _document()
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(BadInputError) as exc:
        _parse(document)
    assert named in exc.value.paragraph() and "report.json" in exc.value.paragraph()


def test_a_required_field_left_out_is_named():
    document = _document()
    del document["claims"]["claims"][2]["kind"]
    with pytest.raises(BadInputError, match=r"claims\.claims\[2\]\.kind: missing"):
        _parse(document)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 5000 + "1" + "}" * 5000])
def test_json_nested_too_deeply_is_bad_input(text):
    # RecursionError from json.loads: exit 1 before.
    with pytest.raises(BadInputError, match="not a JSON object"):
        _parse(text)


def test_non_finite_and_huge_numbers_keep_their_type_or_are_refused():
    document = _document()
    document["accuracy"]["openvino"] = float("nan")
    document["checkpoint"]["num_parameters"] = 10 ** 400
    report = _parse(json.dumps(document, allow_nan=True))
    assert report.checkpoint.num_parameters == 10 ** 400
    document["checkpoint"]["num_parameters"] = float("inf")
    with pytest.raises(BadInputError, match="checkpoint.num_parameters"):
        _parse(json.dumps(document, allow_nan=True))


def test_from_dict_still_converts_what_publisher_writes():
    assert from_dict(FileDigest, {"path": "a", "sha256": "0" * 64, "size": "12"}).size == 12
    assert from_dict(FileDigest, {"path": "a", "sha256": "0" * 64, "size": 12.0}).size == 12


class _Client:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def revision_sha(self, repo_id, revision):
        return "c" * 40

    def download_text(self, repo_id, filename, revision):
        data = self.files.get(filename)
        return None if data is None else data.decode("utf-8")


@pytest.mark.parametrize("name", ["README.md", "report.json"])
def test_a_card_file_that_is_not_utf8_is_bad_input(name):
    # UnicodeDecodeError from the download: exit 1 before.
    files = {"README.md": b"# card\n", "report.json": json.dumps(_document()).encode()}
    files[name] = b"\xff\xfe" + files[name]
    with pytest.raises(BadInputError) as exc:
        remote.fetch_card(_Client(files), "org/x")
    assert f"{name} of org/x" in exc.value.paragraph() and "not UTF-8" in exc.value.paragraph()


# --- paths a report names are never opened -------------------------------------------------------

@pytest.mark.parametrize("name", ["/etc/passwd", "../outside/secret", "a/../../secret", "a\\..\\b", "x\x00y", ""])
def test_a_path_outside_the_release_is_not_inside(tmp_path, name):
    assert ledger_checks.inside(tmp_path / "release", name) is None


def test_a_link_out_of_the_release_is_not_inside(tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    (tmp_path / "secret").write_text("x")
    (release / "link").symlink_to(tmp_path / "secret")
    assert ledger_checks.inside(release, "link") is None
    assert ledger_checks.inside(release, "sub/config.json") == release / "sub" / "config.json"


def test_a_release_file_named_outside_the_release_fails_without_being_opened(tmp_path, monkeypatch):
    outside = tmp_path / "secret.tsv"
    outside.write_text("secret\n")
    report = _parse(_document())
    files = [FileDigest(str(outside), "0" * 64, 7), FileDigest("../secret.tsv", "0" * 64, 7),
             *report.export.files]
    report = report.replace(export=dataclasses.replace(report.export, files=files))
    opened = []
    monkeypatch.setattr(ledger_checks, "sha256_file", lambda path: opened.append(Path(path)) or "0" * 64)
    rows = {r.claim: r for r in ledger_checks._file_rows(report, tmp_path / "release", {})}
    for name in (str(outside), "../secret.tsv"):
        row = rows[f"file {name}"]
        assert row.verdict == FAILS and "outside the release" in row.reason
    assert not any("secret" in str(p) for p in opened)
    # Nor is such a path ever downloaded.
    wanted = release_files({str(outside): None, "../secret.tsv": None, "openvino_model.xml": None}, report)
    assert str(outside) not in wanted and "../secret.tsv" not in wanted


@pytest.mark.parametrize("source", ["hub:/etc", "hub:../../outside/data", "hub:csv", "hub:json", "hub:~/.ssh",
                                    "hub:" + "a" * 300, "hub:a/b/c"])
def test_evaluation_data_named_by_a_path_is_refused(source):
    # datasets.load_dataset reads a local folder (or, for a builder name, files of the working folder).
    with pytest.raises(BadInputError, match="not a Hub dataset id"):
        ledger_checks._refuse_local_dataset(source)


def test_a_local_folder_of_the_datasets_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ledger_checks._refuse_local_dataset("hub:org/data")  # a Hub id: loaded by name
    (tmp_path / "org" / "data").mkdir(parents=True)
    with pytest.raises(BadInputError):
        ledger_checks._refuse_local_dataset("hub:org/data")
    for source in ("hub:glue", "bundled:glue-sst2-validation", None, 7):
        ledger_checks._refuse_local_dataset(source)


def test_a_lone_surrogate_in_report_json_is_bad_input():
    # json.loads accepts "\ud800"; printing the claim id was a UnicodeEncodeError (exit 1).
    document = _document()
    document["claims"]["claims"][0]["id"] = "@@"
    with pytest.raises(BadInputError, match="no UTF-8 form"):
        _parse(json.dumps(document).replace('"@@"', '"\\ud800"'))


def test_ledger_values_that_are_not_numbers_fail_their_row_not_verify():
    from publisher.recheck.ledger_checks import Remeasurement, _same, _within
    from publisher.results import Claim, Kind, Recheck

    # OverflowError / ValueError from float() before: exit 1.
    assert _same(10 ** 400, 0.5) is False and _same(10 ** 400, 10 ** 400) is True
    claim = Claim("compression.pruning", Kind.FIGURE, "pruned", "lots", "lots", "sparsity", "x", [], Recheck.IR)
    ok, why = _within(claim, Remeasurement(0.5, "0.50"))
    assert ok is False and "is not a number" in why


def test_card_figures_with_huge_exponents_get_no_slack():
    from publisher.recheck.foreign import _tolerance_of

    assert _tolerance_of("1e999") == 0.0  # OverflowError before: exit 1 on a foreign card
    assert _tolerance_of("0.80") == pytest.approx(0.005)


@pytest.mark.parametrize("config", [b"[" * 100_000, b"[1, 2]", b'{"id2label": [1]}', b'{"id2label": {"x": "a"}}',
                                    b"\xff"])
def test_a_foreign_repos_config_json_that_cannot_be_read_is_bad_input(tmp_path, config):
    # RecursionError from json.loads was exit 1 (a repo without report.json whose config.json is damaged).
    from publisher.recheck import foreign

    (tmp_path / "config.json").write_bytes(config)
    with pytest.raises(BadInputError, match="no readable config.json"):
        foreign._ir_accuracy(tmp_path, None, ledger_checks.CheckOptions(), None)


@pytest.mark.parametrize("tokenizer", [b'{"mediaType": "x"}', b"[" * 100_000, b"[]"])
def test_tokenizer_files_that_do_not_load_are_bad_input(tmp_path, tokenizer):
    # KeyError: 'added_tokens' from transformers was exit 1; as bad input the task fails the IR's
    # run-based claims (ledger_checks.ir_failed) instead.
    from publisher.recheck import remeasure

    (tmp_path / "tokenizer.json").write_bytes(tokenizer)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizerFast"}')
    with pytest.raises(BadInputError, match="tokenizer"):
        remeasure.tokenizer_of(tmp_path)
