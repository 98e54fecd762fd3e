"""Reading a card back against a ledger that a repo's author may have edited by hand (hostile input):
whatever the ledger holds, read-back answers whether a line matches, and never raises."""

from publisher.card import readback
from publisher.results import Claim, ClaimsLedger, Kind, MeasurementEnvironment, Recheck, Where


def _ledger(value, printed):
    claim = Claim("accuracy.openvino", Kind.FIGURE, "OpenVINO IR accuracy", value, printed, "accuracy",
                  "accuracy.openvino", ["ir"], Recheck.IR, 0.002, "", [Where.BODY])
    env = MeasurementEnvironment(versions={}, cpu="", isa=[], threads=1, inference_precision="")
    return ClaimsLedger(environment=env, inputs={}, claims=[claim])


def test_a_non_numeric_printed_value_is_a_mismatch_not_a_crash():
    # Found by trying as an attacker would: decimal.InvalidOperation from _decimals, exit 1 in verify.
    # Unreadable digits in the ledger ask for none: the card's own number is then judged by value.
    assert readback.printed_matches("0.9128", 0.9128, ledger_printed="not a number") is True
    assert readback.printed_matches("0.9128", 0.9128, ledger_printed="nan%") is True
    assert readback.printed_matches("0.5000", 0.9128, ledger_printed="not a number") is False


def test_a_non_numeric_ledger_value_never_matches_a_figure():
    body = "- OpenVINO IR accuracy: **0.9128**\n"
    for value in ("0.9128x", None, True, [0.9128], {"v": 1}):
        ledger = _ledger(value, "0.9128")
        figure = readback.card_figures(body)[0]
        claim, fits = readback.figure_claim(figure, ledger)
        assert claim is not None and claim.id == "accuracy.openvino" and not fits
        assert readback.unledgered(body, ledger) == ["line 1: 'OpenVINO IR accuracy' shows 0.9128"]


def test_a_numeric_ledger_value_matches_at_the_printed_precision():
    ledger = _ledger(0.91284, "0.9128")
    assert readback.unledgered("- OpenVINO IR accuracy: **0.9128**\n", ledger) == []
    assert readback.unledgered("- OpenVINO IR accuracy: **0.9**\n", ledger) != []  # too coarse


def test_a_rows_statement_against_a_non_integer_ledger_value_does_not_match():
    claim = Claim("evaluation.rows", Kind.STATEMENT, "872 samples", "many", "872 samples", "accuracy",
                  "accuracy.dataset.num_samples", [], Recheck.IR, None, "", [Where.BODY])
    (statement,) = [s for s in readback.card_statements("Measured on 872 samples.\n") if s.claim_id == "evaluation.rows"]
    assert statement.value == 872
    assert not readback.statement_matches(statement, claim)


def test_a_non_finite_ledger_value_is_a_mismatch_not_a_crash():
    # Found by tests/test_verify_fuzz.py: a ledger value NaN raised decimal.InvalidOperation (exit 1 in verify).
    body = "- OpenVINO IR accuracy: **0.9128**\n"
    for value in (float("nan"), float("inf"), float("-inf")):
        assert readback.printed_matches("0.9128", value, ledger_printed="0.9128") is False
        ledger = _ledger(value, "0.9128")
        assert readback.unledgered(body, ledger) == ["line 1: 'OpenVINO IR accuracy' shows 0.9128"]
