"""How the IR stores its linear-layer weights: INT4, INT8 or float, read from the IR's constants.

Each MatMul that comes from a linear layer (``aten::linear`` / GPT-2's ``aten::addmm``, decoder
blocks and LM head alike) is followed back from its weight input through the decompression
subgraph (Convert, Subtract zero point, Multiply scale, Reshape of groups, Transpose) to the
Constant that holds the stored values; that constant's element type is the precision the weight
ships in. Shares are of weight elements, not of layers: one INT8 LM head can outweigh many INT4
projections in a small model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import WeightPrecisionResult

PRECISIONS = ("int4", "int8", "float")
_THROUGH = {"Convert", "Subtract", "Multiply", "Reshape", "Transpose"}
_LAYER = ("/aten::linear/", "/aten::addmm/")


def _stored_constant(output: Any) -> Any | None:
    """The Constant a weight input is decompressed from, or None for an activation input."""
    node = output.get_node()
    for _ in range(16):
        kind = node.get_type_name()
        if kind == "Constant":
            return node
        if kind not in _THROUGH or node.get_input_size() == 0:
            return None
        node = node.input_value(0).get_node()
    return None


def precision_of(element_type: str) -> str:
    et = element_type.lower()
    if et in ("u4", "i4", "nf4", "f4e2m1"):
        return "int4"
    if et in ("u8", "i8"):
        return "int8"
    if et.startswith(("f", "bf")):
        return "float"
    raise ValueError(f"unexpected weight element type {element_type}")


def measure_weight_precision(ov_model: Any) -> WeightPrecisionResult:
    from publisher.stages.sparsity import _natural

    layers: dict[str, str] = {}
    types: dict[str, str] = {}
    elements = dict.fromkeys(PRECISIONS, 0)
    counts = dict.fromkeys(PRECISIONS, 0)
    for op in ov_model.get_ordered_ops():
        name = op.get_friendly_name()
        if op.get_type_name() != "MatMul" or not any(tag in name for tag in _LAYER):
            continue
        const = _stored_constant(op.input_value(1))
        if const is None:
            continue
        et = const.get_output_element_type(0).get_type_name()
        precision = precision_of(et)
        layer = name.split("/", 1)[0].removeprefix("__module.")
        n = 1
        for d in const.get_output_shape(0):
            n *= int(d)
        layers[layer], types[layer] = precision, et
        elements[precision] += n
        counts[precision] += 1
    total = sum(elements.values())
    if not total:
        raise BadInputError("The IR has no linear-layer weights that publisher can read back",
                            "Export the IR again with publisher (or optimum-intel)")
    order = sorted(layers, key=_natural)
    return WeightPrecisionResult(
        shares={p: elements[p] / total for p in PRECISIONS},
        elements=elements,
        layers={k: layers[k] for k in order},
        counts=counts,
        element_types={k: types[k] for k in order},
    )


def weight_precision_of_dir(ir_dir: str | Path) -> WeightPrecisionResult:
    import openvino as ov

    return measure_weight_precision(ov.Core().read_model(str(Path(ir_dir) / "openvino_model.xml")))
