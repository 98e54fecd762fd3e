"""Reading packed 4-bit weight constants back, as the IR sparsity count does: the values must be the
ones OpenVINO itself computes when it converts the constant (an independent decoder)."""

import numpy as np
import pytest


def _openvino_converts(constant):
    import openvino as ov
    from openvino import opset13 as ops

    compiled = ov.compile_model(ov.Model([ops.convert(constant, "f32")], []), "CPU")
    return next(iter(compiled({}).values()))


@pytest.mark.parametrize("type_name, low, high", [("u4", 0, 15), ("i4", -8, 7)])
def test_packed_4bit_constants_unpack_to_the_values_openvino_converts_them_to(type_name, low, high):
    import openvino as ov

    from publisher.stages.sparsity import unpack_4bit

    values = np.random.default_rng(0).integers(low, high + 1, size=(6, 10))
    values[0, :3] = 0  # zeros are what the sparsity count looks for
    constant = ov.op.Constant(getattr(ov.Type, type_name), ov.Shape([6, 10]), values.flatten().tolist())
    unpacked = unpack_4bit(constant.get_data(), signed=type_name == "i4", shape=(6, 10))
    assert np.array_equal(unpacked, values)
    assert np.array_equal(unpacked, _openvino_converts(constant))


def test_an_odd_number_of_4bit_values_drops_the_padding_nibble():
    import openvino as ov

    from publisher.stages.sparsity import unpack_4bit

    values = [-8, 7, 0, -1, 3]
    constant = ov.op.Constant(ov.Type.i4, ov.Shape([5]), values)
    assert unpack_4bit(constant.get_data(), signed=True, shape=(5,)).tolist() == values
