"""--json answers every outcome with exactly one JSON document on stdout (the rest of the codes are
checked case by case in test_bad_inputs.py, test_publish.py and test_release_workflow.py)."""

import json

import pytest

from publisher.cli.main import main
from publisher.errors import EXIT_BAD_INPUT, EXIT_INTERNAL


def _run(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, json.loads(captured.out), captured.err


def test_an_internal_error_is_one_document_with_exit_1(capsys, monkeypatch, tiny_checkpoint, tmp_path):
    from publisher.pipeline import runner

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(runner, "measure", broken)
    code, doc, err = _run(capsys, ["publish", str(tiny_checkpoint), "--no-push", "-o", str(tmp_path / "o"),
                                   "--json"])
    assert code == EXIT_INTERNAL
    assert doc == {"status": "error", "error": {
        "exit_code": 1, "kind": "internal",
        "message": "RuntimeError: a bug. This is a bug in publisher; re-run with PUBLISHER_DEBUG=1 "
                   "for the traceback and report it."}}
    assert err.startswith("Internal error: RuntimeError: a bug.")


def test_a_bad_flag_value_after_parsing_is_one_document(capsys, tiny_checkpoint, tmp_path):
    code, doc, _ = _run(capsys, ["publish", str(tiny_checkpoint), "--no-push", "--batch-size", "0",
                                 "--json"])
    assert code == EXIT_BAD_INPUT and doc["status"] == "error"
    assert doc["error"]["kind"] == "bad_input" and "--batch-size" in doc["error"]["message"]


def test_a_stage_command_answers_in_json_too(capsys, tmp_path):
    code, doc, _ = _run(capsys, ["inspect", str(tmp_path / "missing"), "--json"])
    assert code == EXIT_BAD_INPUT and doc["error"]["kind"] == "bad_input"
