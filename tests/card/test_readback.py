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


def test_a_bold_number_in_a_table_cell_is_a_figure_named_by_its_row_and_column():
    body = ("| entity type | support | PyTorch F1 | OpenVINO IR F1 |\n|---|---|---|---|\n"
            "| person | 429 | **0.512** | **0.508** |\n| group | 165 | 0.100 | **0.2** |\n\n"
            "| not a table rule | **0.9** |\n| x | **0.9** |\n")
    figures = [(f.line, f.label, f.printed) for f in readback.card_figures(body)]
    # Three bold cells under a header row; the plain "0.100" and the rows of a table without a rule are not figures.
    assert figures == [(3, "person PyTorch F1", "0.512"), (3, "person OpenVINO IR F1", "0.508"),
                       (4, "group OpenVINO IR F1", "0.2")]


def test_a_per_type_table_cell_is_read_as_its_types_claim_and_a_wrong_one_is_unledgered():
    env = MeasurementEnvironment(versions={}, cpu="", isa=[], threads=1, inference_precision="")
    claims = [Claim(f"per_type.{t}.f1.{side}", Kind.FIGURE, "", v, f"{v:.3f}", "entities", "", ["ir"], Recheck.IR,
                    0.01, "", [Where.BODY]) for t, side, v in (("person", "torch", 0.512), ("person", "openvino", 0.508),
                                                              ("group", "openvino", 0.25))]
    ledger = ClaimsLedger(environment=env, inputs={}, claims=claims)
    body = ("| entity type | support | PyTorch F1 | OpenVINO IR F1 |\n|---|---|---|---|\n"
            "| person | 429 | **0.512** | **0.508** |\n| group | 165 | - | **0.250** |\n")
    read = [readback.figure_claim(f, ledger) for f in readback.card_figures(body)]
    assert [(c.id, fits) for c, fits in read] == [("per_type.person.f1.torch", True),
                                                 ("per_type.person.f1.openvino", True),
                                                 ("per_type.group.f1.openvino", True)]
    assert readback.unledgered(body.replace("**0.250**", "**0.750**"), ledger) == \
        ["line 4: 'group OpenVINO IR F1' shows 0.750"]
