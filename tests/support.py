"""Test helpers: real AWS event shapes, a Lambda context, and DICOM files generated with pydicom."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

# Re-exported: the tests take sample files from the one lookup the project has.
from local.samples import sample_bytes as sample_bytes
from local.samples import sample_path as sample_path

CANARY = "CANARY^ZEBRA-7Q3"


@dataclass
class FakeContext:
    function_name: str = "process_image"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:process_image"
    aws_request_id: str = "req-1"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(
    method: str,
    path: str,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event."""
    raw_query = "&".join(f"{k}={quote_plus(v)}" for k, v in (query or {}).items())
    hdrs = {"content-type": "application/json", "origin": "http://localhost:3000", **(headers or {})}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "28/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
    return event


def s3_record(bucket: str, key: str, size: int = 1) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-28T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "uploads",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            # S3 URL-encodes keys in events (spaces become '+').
            "object": {"key": quote_plus(key, safe="/"), "size": size, "sequencer": "0A1B2C"},
        },
    }


def sqs_event(bodies: list[dict[str, Any]], receive_count: int = 1) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"msg-{i}",
                "receiptHandle": f"rh-{i}",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "1795000000000",
                    "SenderId": "s3",
                    "ApproximateFirstReceiveTimestamp": "1795000000000",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def make_dicom(
    pixels: np.ndarray,
    *,
    modality: str = "DX",
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    patient_name: str = "Anonymous",
    patient_id: str = "ID0",
    transfer_syntax: str = ExplicitVRLittleEndian,
    mutate: Callable[[FileDataset], None] | None = None,
) -> bytes:
    """A valid single-frame grayscale DICOM Part 10 file (e.g. MG or DX, for which no public sample exists)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # test files carry out-of-range values on purpose (a 20-character canary)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = transfer_syntax
        ds = FileDataset("generated.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = "19700101"
        ds.AccessionNumber = "ACC-" + patient_id
        ds.InstitutionName = "General Hospital " + patient_id
        ds.Modality = modality
        ds.BodyPartExamined = "CHEST" if modality == "DX" else "BREAST"
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 16
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
        if rescale is not None:
            ds.RescaleSlope, ds.RescaleIntercept = rescale
        ds.PixelData = pixels.astype(np.int16 if ds.PixelRepresentation else np.uint16).tobytes()
        if mutate is not None:
            mutate(ds)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()


def gradient(rows: int = 256, columns: int = 256, high: int = 4095) -> np.ndarray:
    """Stored values rising left to right: a property-test friendly image."""
    return np.tile(np.linspace(0, high, columns).round().astype(np.uint16), (rows, 1))


def photo_bytes(name: str = "chelsea", fmt: str = "JPEG") -> bytes:
    """One of scikit-image's offline sample photos, encoded as JPEG or PNG."""
    from PIL import Image
    from skimage import data

    image = Image.fromarray(getattr(data, name)())
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def env_snapshot() -> dict[str, str]:
    return dict(os.environ)


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of huge dimensions that is only a few kilobytes on disk."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def unknown_syntax_dicom() -> bytes:
    """A valid file whose transfer syntax no decoder knows (a private, unregistered UID of the same length)."""
    explicit_le = make_dicom(gradient())
    unknown = explicit_le.replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.9\x00")
    assert unknown != explicit_le
    return unknown


def photo_as(fmt: str, name: str = "chelsea") -> bytes:
    """A sample photo in another format: GIF (palette), WebP, BMP, TIFF (RGB) or TIFF16 (16-bit greyscale, as lab
    and scanner software write it, using only the low 12 bits)."""
    from PIL import Image
    from skimage import data

    pixels = getattr(data, name)()
    buffer = io.BytesIO()
    if fmt == "TIFF16":
        grey = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.uint16) * 16  # 0…4080 of 65535
        Image.fromarray(grey).save(buffer, format="TIFF")
    else:
        Image.fromarray(pixels).save(buffer, format=fmt)
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


def _identifying(item: Dataset, private_group: int = 0x0009) -> Dataset:
    """``item`` with a canary where attackers and careless consoles put one: identifying attributes, free-text
    explanations, and a private block."""
    item.PatientName, item.PatientID = CANARY, CANARY
    item.private_block(private_group, "ACME CONSOLE", create=True).add_new(0x10, "LO", CANARY)
    return item


def _lut_item(descriptor: list[int], data: list[int], **explanations: str) -> Dataset:
    item = Dataset()
    item.add_new("LUTDescriptor", "US", descriptor)
    item.add_new("LUTData", "US", data)
    for keyword, text in explanations.items():
        setattr(item, keyword, text)
    return _identifying(item)


def _with_functional_groups(ds: FileDataset) -> None:
    pixel_values = _identifying(Dataset())
    pixel_values.RescaleSlope, pixel_values.RescaleIntercept, pixel_values.RescaleType = 1, -1024, "HU"
    frame_voi = _identifying(Dataset())
    frame_voi.WindowCenter, frame_voi.WindowWidth = 1000, 3000
    frame_voi.WindowCenterWidthExplanation = CANARY
    shared = _identifying(Dataset())
    shared.PixelValueTransformationSequence = Sequence([pixel_values])
    shared.FrameVOILUTSequence = Sequence([frame_voi])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = _identifying(Dataset())
    per_frame.FrameVOILUTSequence = Sequence([_identifying(Dataset())])
    ds.PerFrameFunctionalGroupsSequence = Sequence([per_frame])
    _identifying(ds, 0x0011)


def _with_lookup_tables(ds: FileDataset) -> None:
    ramp = [min(4095, 2 * value) for value in range(0, 4096, 16)]
    ds.ModalityLUTSequence = Sequence([_lut_item([256, 0, 16], ramp, LUTExplanation=CANARY, ModalityLUTType="US")])
    voi = [value * 16 for value in range(256)]
    ds.VOILUTSequence = Sequence([_lut_item([256, 0, 16], voi, LUTExplanation=CANARY)])
    ds.WindowCenterWidthExplanation = CANARY


_NESTED_CANARIES = {"macros": _with_functional_groups, "luts": _with_lookup_tables}
NESTED_CANARY_PLACES = tuple(_NESTED_CANARIES)


def nested_canary_dicom(where: str) -> bytes:
    """A greyscale file with the canary inside functional-group macro items ("macros") or LUT items and window
    explanations ("luts"), and in private blocks at every level."""
    return make_dicom(gradient(), mutate=_NESTED_CANARIES[where])
