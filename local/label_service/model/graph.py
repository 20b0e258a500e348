"""Edits of the exported ONNX graph, shared by the one-off conversion (convert.py). Needs only `onnx`."""

from __future__ import annotations

from pathlib import Path

FEATURES = "features"
# The pooled, flattened penultimate activations (1280 values) that the final Gemm turns into logits.
_POOLED = "/Reshape_output_0_DequantizeLinear_Output"


def strip_unused_initializers(path: Path) -> None:
    """The export leaves constants of the unused Swish modules behind; drop them (smaller, no load warnings)."""
    import onnx

    model = onnx.load(str(path))
    used = {name for node in model.graph.node for name in node.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.save(model, str(path))


def expose_features(path: Path) -> None:
    """Add the penultimate features as a second output, `features`: the label service's out-of-distribution
    score compares them with each class's weight vector (local/label_service/calibration.py). Computation is unchanged."""
    import onnx

    model = onnx.load(str(path))
    if any(output.name == FEATURES for output in model.graph.output):
        return
    model.graph.node.append(onnx.helper.make_node("Identity", [_POOLED], [FEATURES], name="features_output"))
    model.graph.output.append(onnx.helper.make_tensor_value_info(FEATURES, onnx.TensorProto.FLOAT, ["batch", 1280]))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
