"""Exact match and F1 by the official SQuAD v1.1 rules, each figure against a count written out here."""

from __future__ import annotations

import pytest

from publisher.stages import squad_metric as m


def test_normalisation_drops_case_punctuation_articles_and_extra_spaces():
    assert m.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert m.normalize_answer("Levi's Stadium, in Santa Clara") == "levis stadium in santa clara"
    # Articles go as whole words only: "theatre" and "Anna" keep their letters.
    assert m.normalize_answer("An apple at the theatre with Anna") == "apple at theatre with anna"


def test_exact_match_is_equality_after_normalisation():
    assert m.exact_match("the Denver Broncos", "Denver Broncos") == 1.0
    assert m.exact_match("Broncos", "Denver Broncos") == 0.0
    # The official script's edge: a gold answer that normalises to nothing matches an empty prediction
    # exactly, yet shares no token with it, so its F1 is 0.
    assert m.exact_match("", "The") == 1.0 and m.f1("", "The") == 0.0


def test_f1_counts_shared_tokens_as_a_bag_of_words():
    # "broncos" against "denver broncos": 1 shared token, precision 1/1, recall 1/2 -> 2/3.
    assert m.f1("Broncos", "Denver Broncos") == pytest.approx(2 / 3)
    # "go go go" against "go": one shared token (counted once), precision 1/3, recall 1 -> 0.5.
    assert m.f1("go go go", "go") == pytest.approx(0.5)
    assert m.f1("Carolina Panthers", "Denver Broncos") == 0.0


def test_a_question_scores_its_best_gold_answer_and_the_figures_are_percent_means():
    predictions = ["Denver Broncos", "Stadium", "", "Santa Clara California"]
    golds = [["The Denver Broncos", "Broncos"],                      # EM 1, F1 1
             ["Levi's Stadium"],                                     # EM 0, F1 2/3 (1 of 2 gold tokens)
             ["2016"],                                               # EM 0, F1 0
             ["Levi's Stadium in Santa Clara, California", "Santa Clara, California"]]  # EM 1, F1 1
    s = m.score(predictions, golds)
    assert s.questions == 4
    assert s.exact_match == pytest.approx(100 * 2 / 4)
    assert s.f1 == pytest.approx(100 * (1 + 2 / 3 + 0 + 1) / 4)


def test_scoring_needs_one_prediction_per_question():
    with pytest.raises(ValueError):
        m.score(["a"], [["a"], ["b"]])
