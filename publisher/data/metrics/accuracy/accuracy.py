"""Accuracy, as an `evaluate` metric module that loads offline.

Same semantics as the Hub's `evaluate-metric/accuracy` module: the fraction of predictions equal
to their reference (optionally weighted, optionally the raw count with normalize=False), computed
with scikit-learn's `accuracy_score`. publisher uses the Hub module when it can reach it and this
copy otherwise, and records which one it used in report.json.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score

_DESCRIPTION = "Accuracy: the proportion of correct predictions among all predictions."
_CITATION = """@article{scikit-learn, title={Scikit-learn: Machine Learning in Python},
author={Pedregosa, F. and others}, journal={Journal of Machine Learning Research}, volume={12},
pages={2825--2830}, year={2011}}"""
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): ground-truth labels.
    normalize (bool): return the fraction (default) or the number of correct predictions.
    sample_weight (list of float): optional weights.
Returns:
    accuracy (float or int).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.accuracy_score.html"],
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        score = accuracy_score(references, predictions, normalize=normalize, sample_weight=sample_weight)
        return {"accuracy": float(score) if normalize else int(score)}
