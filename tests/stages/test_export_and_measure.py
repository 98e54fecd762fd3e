"""Stages 2-5 on a tiny NNCF-pruned BERT: export, verification, sparsity and accuracy.

Every figure is compared with an independent count made here, not with publisher's own code.
"""

from pathlib import Path

import numpy as np
import pytest

from publisher.stages import data as data_stage
from publisher.stages.accuracy import measure_accuracy
from publisher.stages.export import export_ir
from publisher.stages.inference import compile_ir, run_openvino, run_torch
from publisher.stages.load import load_checkpoint
from publisher.stages.sparsity import measure_sparsity
from publisher.stages.parity import VerifyThresholds, verify
from tests.fixtures_models import count_scope_zeros

TEST_DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def exported(nncf_checkpoint, tmp_path_factory):
    loaded = load_checkpoint(nncf_checkpoint)
    out = tmp_path_factory.mktemp("ir")
    result = export_ir(loaded.model, loaded.tokenizer, out, weight_format="int8",
                       staging_dir=out / ".publisher" / "staging")
    return loaded, out, result


@pytest.fixture(scope="module")
def passes(exported):
    loaded, out, _ = exported
    data = data_stage.load_eval_data(data_stage.EvalDataSpec(eval_file=str(TEST_DATA / "sst2_validation.tsv")))
    tokenized = data_stage.tokenize(loaded.tokenizer, data.texts, max_length=128, batch_size=32)
    compiled = compile_ir(out / "openvino_model.xml")
    return data, run_torch(loaded.model, tokenized), run_openvino(compiled, tokenized)


def test_export_writes_a_folder_optimum_intel_can_load(exported):
    from optimum.intel import OVModelForSequenceClassification

    _, out, result = exported
    names = {f.path for f in result.files}
    assert {"openvino_model.xml", "openvino_model.bin", "config.json", "tokenizer.json"} <= names
    assert not (out / ".publisher" / "staging").exists()
    model = OVModelForSequenceClassification.from_pretrained(out, compile=False)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert result.versions["openvino"] and result.versions["optimum-intel"]


def test_int8_export_stores_u8_weights(exported):
    import openvino as ov

    _, out, _ = exported
    ir = ov.Core().read_model(str(out / "openvino_model.xml"))
    types = {op.get_output_element_type(0).get_type_name() for op in ir.get_ordered_ops()
             if op.get_type_name() == "Constant" and ".encoder.layer." in op.get_friendly_name()}
    assert "u8" in types


def test_sparsity_in_torch_and_ir_equals_an_independent_count(exported):
    import openvino as ov

    loaded, out, _ = exported
    zeros, elements = count_scope_zeros(loaded.model)
    result = measure_sparsity(loaded.model, ov.Core().read_model(str(out / "openvino_model.xml")))
    assert result.torch.zeros == zeros and result.torch.elements == elements
    assert result.torch.overall == pytest.approx(0.6, abs=0.002)
    # INT8 rounding may add zeros of its own, never remove the exact ones.
    assert result.openvino.zeros >= zeros
    assert result.openvino.overall == pytest.approx(result.torch.overall, abs=0.01)
    assert set(result.openvino.layers) == set(result.torch.layers)
    assert len(result.torch.layers) == 12  # 2 blocks x (q, k, v, attn out, intermediate, output)


def test_verification_compares_the_same_logits_the_accuracy_uses(passes):
    _, torch_logits, ir_logits = passes
    v = verify(torch_logits, ir_logits, VerifyThresholds(max_abs_logit_diff=0.5, min_argmax_agreement=0.9))
    expected_diff = float(np.abs(torch_logits.values - ir_logits.values).max())
    assert v.max_abs_logit_diff == pytest.approx(expected_diff)
    assert v.samples == 872 and v.compiled


def test_nan_logits_are_refused(passes):
    from publisher.errors import BadInputError
    from publisher.stages.inference import Logits

    _, torch_logits, ir_logits = passes
    broken = torch_logits.values.copy()
    broken[3, 0] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        verify(Logits(broken, 1.0), ir_logits, VerifyThresholds())


def test_accuracy_equals_an_independent_count_on_sst2(passes):
    data, torch_logits, ir_logits = passes
    labels = [int(l.split("\t")[1]) for l in
              (TEST_DATA / "sst2_validation.tsv").read_text().splitlines()[1:]]
    result = measure_accuracy(data, {0: 0, 1: 1}, torch_logits, ir_logits, 0.0)
    assert result.torch == pytest.approx(np.mean(torch_logits.values.argmax(1) == np.array(labels)))
    assert result.openvino == pytest.approx(np.mean(ir_logits.values.argmax(1) == np.array(labels)))
    assert result.dataset.num_samples == 872


def test_accuracy_on_a_small_named_label_file(exported):
    loaded, out, _ = exported
    data = data_stage.load_eval_data(data_stage.EvalDataSpec(
        eval_file=str(TEST_DATA / "small_eval.jsonl"), text_column="text", label_column="sentiment"))
    mapping = data_stage.map_labels(loaded.info.id2label, data)
    tokenized = data_stage.tokenize(loaded.tokenizer, data.texts, max_length=64, batch_size=5)
    t = run_torch(loaded.model, tokenized)
    o = run_openvino(compile_ir(out / "openvino_model.xml"), tokenized)
    result = measure_accuracy(data, mapping, t, o, 0.0)
    names = ["negative", "positive"]
    expected = np.mean([names[p] == ("positive" if lab == 1 else "negative")
                        for p, lab in zip(t.values.argmax(1), data.labels)])
    assert result.torch == pytest.approx(expected)


def test_ir_without_its_bin_is_refused(tmp_path, exported):
    import shutil

    from publisher.errors import BadInputError

    _, out, _ = exported
    shutil.copy(out / "openvino_model.xml", tmp_path / "openvino_model.xml")
    with pytest.raises(BadInputError, match="no weights file"):
        compile_ir(tmp_path / "openvino_model.xml")
