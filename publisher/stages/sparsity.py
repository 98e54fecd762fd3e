"""Stage 4: sparsity of the transformer-block linear layers, in torch and read back from the IR.

Scope: the weight matrices (not biases) of every ``nn.Linear`` (and transformers' ``Conv1D``, GPT-2's
linear layer) inside the transformer blocks: encoder blocks of a classifier (attention
query/key/value, attention output, intermediate, output) and decoder blocks of a causal LM (q/k/v/o
projections, MLP). Embeddings, norms, the pooler, the classifier and the LM head are outside it. A weight counts as zero when it is exactly 0.0, and the
overall figure is zeros / elements over the whole scope, not a mean of per-layer ratios.

In the IR, weights may be stored compressed (u8/i8 with zero point and scale, fp16 + Convert), so
each MatMul's weight input is evaluated back to float values before counting: a raw u8 zero is not
a zero weight, ``q == zero_point`` is.
"""

from __future__ import annotations

import re
from typing import Any

from publisher.errors import BadInputError
from publisher.results import SPARSITY_SCOPE, SparsityMeasurement, SparsityResult

# A module path inside a stack of blocks: "...encoder.layer.3....", "...transformer.layer.0....",
# "...layers.11....". The index segment marks "inside a transformer block".
_IN_BLOCK = re.compile(r"(^|\.)(layer|layers|block|blocks|h)\.\d+\.")
# Linear layers trace to aten::linear; GPT-2's Conv1D (x @ W + b) traces to aten::addmm.
_IR_LAYER = re.compile(r"^__module\.(?P<name>.+?)/aten::(linear|addmm)/")


def in_scope(module_name: str) -> bool:
    return bool(_IN_BLOCK.search(module_name)) and "pooler" not in module_name


def is_linear(module: Any) -> bool:
    import torch

    if isinstance(module, torch.nn.Linear):
        return True
    from transformers.pytorch_utils import Conv1D

    return isinstance(module, Conv1D)


def _measurement(counts: dict[str, tuple[int, int]]) -> SparsityMeasurement:
    zeros = sum(z for z, _ in counts.values())
    elements = sum(n for _, n in counts.values())
    return SparsityMeasurement(
        overall=zeros / elements if elements else 0.0,
        zeros=zeros,
        elements=elements,
        layers={name: z / n for name, (z, n) in sorted(counts.items(), key=lambda kv: _natural(kv[0]))},
    )


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def torch_layer_counts(model: Any) -> dict[str, tuple[int, int]]:
    counts = {}
    for name, module in model.named_modules():
        if in_scope(name) and is_linear(module):
            w = module.weight.detach()
            counts[name] = (int((w == 0).sum()), int(w.numel()))
    if not counts:
        raise BadInputError(
            "The model has no linear layers inside transformer blocks, so its sparsity cannot be "
            "measured",
            "Publish a transformer model (BERT-like encoder classifier, or Llama/Qwen2/GPT-2-like "
            "causal LM)",
        )
    return counts


def unpack_4bit(packed: Any, *, signed: bool, shape: tuple[int, ...]) -> Any:
    """u4/i4 constants are stored two per byte, low nibble first. Unpacked by hand because
    ``Constant.get_vector()`` refuses i4 ("Unsupported data type!"), which NNCF writes for ``--sym``."""
    import numpy as np

    raw = np.asarray(packed).view(np.uint8).reshape(-1)
    nibbles = np.empty(raw.size * 2, dtype=np.int16)
    nibbles[0::2], nibbles[1::2] = raw & 0x0F, raw >> 4
    if signed:
        nibbles = np.where(nibbles >= 8, nibbles - 16, nibbles)
    return nibbles[: int(np.prod(shape))].reshape(shape)


def _evaluate_constant(output: Any) -> Any:
    """Numeric value of a weight subgraph made only of constants and elementwise decompression."""
    import numpy as np

    node = output.get_node()
    kind = node.get_type_name()
    args = [node.input_value(i) for i in range(node.get_input_size())]
    if kind == "Constant":
        element_type = node.get_output_element_type(0)
        if element_type.bitwidth < 8:
            shape = tuple(node.get_output_shape(0))
            if element_type.get_type_name() in ("u4", "i4"):
                return unpack_4bit(node.get_data(), signed=element_type.get_type_name() == "i4", shape=shape)
            return np.array(node.get_vector()).reshape(shape)
        return np.array(node.get_data())
    if kind == "Convert":
        return _evaluate_constant(args[0]).astype(np.float32)
    if kind == "Subtract":
        return _evaluate_constant(args[0]).astype(np.float32) - _evaluate_constant(args[1])
    if kind == "Multiply":
        return _evaluate_constant(args[0]).astype(np.float32) * _evaluate_constant(args[1])
    if kind == "Reshape":
        shape = tuple(node.get_output_partial_shape(0).to_shape())
        return _evaluate_constant(args[0]).reshape(shape)
    if kind == "Transpose":
        return np.transpose(_evaluate_constant(args[0]), _evaluate_constant(args[1]).astype(int))
    if kind == "FakeQuantize":
        x, il, ih, ol, oh = (_evaluate_constant(a).astype(np.float32) for a in args)
        levels = node.get_attributes()["levels"]
        q = np.round((np.clip(x, il, ih) - il) / (ih - il) * (levels - 1))
        return q / (levels - 1) * (oh - ol) + ol
    raise ValueError(f"unsupported op {kind} in a weight subgraph")


def ir_layer_counts(ov_model: Any) -> dict[str, tuple[int, int]]:
    """Map each MatMul whose friendly name comes from a torch Linear to its zero count."""
    import numpy as np

    counts = {}
    for op in ov_model.get_ordered_ops():
        if op.get_type_name() != "MatMul":
            continue
        m = _IR_LAYER.match(op.get_friendly_name())
        if not m or not in_scope(m["name"]):
            continue
        try:
            weight = _evaluate_constant(op.input_value(1))
        except ValueError:
            continue  # an activation x activation MatMul (attention scores), not a weight
        counts[m["name"]] = (int(np.count_nonzero(weight == 0)), int(weight.size))
    return counts


def measure_sparsity(model: Any, ov_model: Any) -> SparsityResult:
    torch_counts = torch_layer_counts(model)
    ir_counts = ir_layer_counts(ov_model)
    missing = sorted(set(torch_counts) - set(ir_counts))
    if missing:
        raise BadInputError(
            f"{len(missing)} linear layers of the torch model were not found in the IR "
            f"(first: {missing[0]}); the IR does not belong to this checkpoint",
            "Export the IR again from this checkpoint",
        )
    return SparsityResult(
        scope=SPARSITY_SCOPE,
        torch=_measurement(torch_counts),
        openvino=_measurement({k: ir_counts[k] for k in torch_counts}),
    )
