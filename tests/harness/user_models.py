"""Tiny ONNX models whose answers are known, and the spec beside them: a user's own classifier, for tests."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from PIL import Image

# The original project's crop: the upper-middle 512² of a 1024² chest X-ray.
UPPER_MIDDLE = {"left": 0.25, "top": 0.0, "width": 0.5, "height": 0.5}


def bright_upper_middle(size: int = 1024) -> Image.Image:
    """Black, except the upper-middle quarter, which is white: the crop decides the answer."""
    pixels = np.zeros((size, size), np.uint8)
    pixels[: size // 2, size // 4 : 3 * size // 4] = 255
    return Image.fromarray(pixels)


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def brightness_model(height: int = 8, width: int = 8, channels: int = 1) -> bytes:
    """A tiny ONNX model whose answer is known: scores [1 − m, m], m the mean of its (0…1-scaled) input."""
    import onnx
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, channels, height, width])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1, 1], [1.0])
    axes = helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3])
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["mean4"], keepdims=1),
        helper.make_node("Flatten", ["mean4"], ["mean"], axis=1),
        helper.make_node("Sub", ["one", "mean"], ["rest"]),
        helper.make_node("Concat", ["rest", "mean"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(nodes, "brightness", [image], [scores], initializer=[one, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def linear_model(weights: np.ndarray, bias: np.ndarray, height: int, width: int, channels: int = 3) -> bytes:
    """A tiny ONNX model computing logits = flatten(input) · weights + bias (NCHW input)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    classes = weights.shape[1]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, channels, height, width])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "weights"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["logits"]),
    ]
    initializers = [
        numpy_helper.from_array(weights.astype(np.float32), "weights"),
        numpy_helper.from_array(bias.astype(np.float32).reshape(1, classes), "bias"),
    ]
    graph = helper.make_graph(nodes, "linear", [image], [logits], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_classifier(folder: Any, model: bytes, **spec: Any) -> Any:
    """spec.json and model.onnx in ``folder``; returns the spec's path."""
    import pathlib

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(model)
    document = {"name": "test-model", "version": "1", "model": "model.onnx", **spec}
    (folder / "spec.json").write_text(json.dumps(document))
    return folder / "spec.json"
