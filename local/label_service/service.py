"""Rekognition's DetectLabels and DetectText over the real wire protocol (JSON 1.1), answered offline: labels by
a small ImageNet classifier, text by an OCR model that a package ships.

Point boto3 at it with ``AWS_ENDPOINT_URL_REKOGNITION``. It accepts ``Image.Bytes`` and ``Image.S3Object``,
honours ``MaxLabels``/``MinConfidence``, DetectText's ``Filters`` (``WordFilter``, ``RegionsOfInterest``) and its
100-word limit, and rejects what Rekognition rejects, with Rekognition's error types. For fault tests,
``POST /_local/faults`` {sha256, error?, delay?, times?, operation?, bloat_mb?} makes chosen images fail, answer
slowly or answer with a response of that many megabytes (in every operation, or only in the one named);
``GET /_local/stats`` counts requests per image.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from PIL import Image, UnidentifiedImageError

from local.emulators import local_client
from local.label_service.detections import text_detections, text_filters
from local.label_service.errors import RekognitionError
from local.label_service.image_properties import image_properties
from local.label_service.label_model import LABEL_MODEL_VERSION, Classifier, to_labels
from local.label_service.label_request import LabelFilters, label_request
from local.label_service.text import TEXT_MODEL_VERSION, TextReader
from local.services import BackgroundHTTPServer, ChildService, exit_with_parent

MAX_BYTES = 5 * 1024 * 1024
MAX_S3_BYTES = 15 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 80, 10_000
TARGET_PREFIX = "RekognitionService."


@dataclass
class ServiceState:
    classifier: Classifier
    s3_client: Any | None = None
    # sha256 of image bytes → {error, delay, times, operation}
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    by_image: dict[str, int] = field(default_factory=dict)
    text_calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _text_reader: TextReader | None = None

    def text_reader(self) -> TextReader:
        """The OCR engine, loaded on the first DetectText (the label service starts without it)."""
        with self.lock:
            if self._text_reader is None:
                self._text_reader = TextReader()
            return self._text_reader


def _image_bytes(state: ServiceState, image: Any) -> bytes:
    if not isinstance(image, dict) or ("Bytes" in image) == ("S3Object" in image):
        raise RekognitionError("InvalidParameterException", "Image must have exactly one of Bytes or S3Object.")
    if "Bytes" in image:
        try:
            data = base64.b64decode(image["Bytes"], validate=True)
        except (binascii.Error, TypeError) as exc:
            raise RekognitionError("InvalidParameterException", "Image.Bytes is not valid base64.") from exc
        if len(data) > MAX_BYTES:
            raise RekognitionError("ImageTooLargeException", "Image size is too large.")
        return data
    s3_object = image["S3Object"]
    if state.s3_client is None:
        raise RekognitionError("InvalidS3ObjectException", "S3 is not reachable from the label service.")
    try:
        response = state.s3_client.get_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"])
    except Exception as exc:
        raise RekognitionError("InvalidS3ObjectException", "Unable to get object metadata from S3.") from exc
    if int(response["ContentLength"]) > MAX_S3_BYTES:
        raise RekognitionError("ImageTooLargeException", "Image size is too large.")
    return response["Body"].read()


_FAULT_FIELDS = ("error", "delay", "times", "operation", "bloat_mb")


class BloatedAnswer(Exception):
    """An injected fault: the answer is ``megabytes`` of labels (to test a caller's memory limit)."""

    def __init__(self, megabytes: int) -> None:
        super().__init__(f"{megabytes} MB answer")
        self.megabytes = megabytes


def _received_image(state: ServiceState, request: dict[str, Any], operation: str) -> Image.Image:
    """The request's image, counted, with any injected fault applied, and checked as Rekognition checks it."""
    data = _image_bytes(state, request.get("Image"))
    digest = hashlib.sha256(data).hexdigest()
    with state.lock:
        if operation == "DetectLabels":
            state.calls += 1
            state.by_image[digest] = state.by_image.get(digest, 0) + 1
        else:
            state.text_calls += 1
        fault = state.faults.get(digest)
        if fault is not None and fault.get("operation") not in (None, operation):
            fault = None
        if fault is not None and fault.get("times") is not None:
            fault["times"] -= 1
            if fault["times"] <= 0:
                del state.faults[digest]
    if fault:
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))  # simulates a slow dependency, to test timeouts and kills
        if fault.get("error"):
            raise RekognitionError(str(fault["error"]), "Injected fault for this image.")
        if fault.get("bloat_mb"):
            raise BloatedAnswer(int(fault["bloat_mb"]))
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
        raise RekognitionError("InvalidImageFormatException", "Request has unsupported image format")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise RekognitionError("InvalidParameterException", "Request has invalid parameters")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise RekognitionError("InvalidImageFormatException", "Request has invalid image format") from exc
    return image


def detect_labels(state: ServiceState, request: dict[str, Any]) -> dict[str, Any]:
    """Labels (GENERAL_LABELS, the default) and ImageProperties (IMAGE_PROPERTIES), as the request's Features ask."""
    asked = label_request(request)
    image = _received_image(state, request, "DetectLabels")
    response: dict[str, Any] = {"Labels": [], "LabelModelVersion": LABEL_MODEL_VERSION}
    if asked.labels:
        prediction = state.classifier.predict(image)
        keep = asked.filters.keeps if asked.filters != LabelFilters() else None
        response["Labels"] = to_labels(prediction, asked.max_labels, asked.min_confidence, keep)
    if asked.image_properties:
        response["ImageProperties"] = image_properties(image, asked.max_dominant_colors)
    return response


def detect_text(state: ServiceState, request: dict[str, Any]) -> dict[str, Any]:
    word_filter, regions = text_filters(request.get("Filters"))
    image = _received_image(state, request, "DetectText")
    lines = state.text_reader().read(image)
    return {
        "TextDetections": text_detections(lines, image.size, word_filter, regions),
        "TextModelVersion": TEXT_MODEL_VERSION,
    }


class _Handler(BaseHTTPRequestHandler):
    server: LabelServer
    protocol_version = "HTTP/1.1"
    # The headers and the body go out as two writes: with Nagle's algorithm the body waited for the client's
    # delayed ACK of the headers, 40 ms on every keep-alive answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any], content_type: str = "application/x-amz-json-1.1") -> None:
        self._send_raw(status, json.dumps(body).encode(), content_type)

    def _send_raw(self, status: int, payload: bytes, content_type: str = "application/x-amz-json-1.1") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/_local/stats":
            with state.lock:
                stats = {
                    "calls": state.calls,
                    "byImage": dict(state.by_image),
                    "textCalls": state.text_calls,
                    "inferenceMs": _summary(self.server.inference_seconds),
                    "textMs": _summary(self.server.text_seconds),
                }
            self._send(200, stats, "application/json")
        elif self.path == "/_local/health":
            self._send(200, {"ok": True}, "application/json")
        else:
            self._send(404, {"message": "Not Found"}, "application/json")

    def do_POST(self) -> None:
        state = self.server.state
        raw = self._body()
        if self.path == "/_local/faults":
            spec = json.loads(raw or b"{}")
            with state.lock:
                state.faults[spec["sha256"]] = {k: spec.get(k) for k in _FAULT_FIELDS}
            self._send(200, {"ok": True}, "application/json")
            return
        target = self.headers.get("X-Amz-Target", "")
        try:
            operation = (
                _OPERATIONS.get(target.removeprefix(TARGET_PREFIX)) if target.startswith(TARGET_PREFIX) else None
            )
            if operation is None:
                raise RekognitionError("UnknownOperationException", f"Operation {target or '(none)'} is not supported.")
            try:
                request = json.loads(raw or b"{}")
            except json.JSONDecodeError as exc:
                raise RekognitionError("SerializationException", "Request body is not valid JSON.") from exc
            if not isinstance(request, dict):
                raise RekognitionError("SerializationException", "Request body is not a JSON object.")
            started = time.perf_counter()
            response = operation(state, request)
            timings = self.server.inference_seconds if operation is detect_labels else self.server.text_seconds
            timings.append(time.perf_counter() - started)
            self._send(200, response)
        except RekognitionError as exc:
            self._send(exc.status, {"__type": exc.error_type, "Message": exc.message})
        except BloatedAnswer as exc:  # valid JSON of tiny labels: its reader needs ~15× the bytes to parse it
            label = b'{"Name": "a"}'
            count = (exc.megabytes << 20) // (len(label) + 1)
            self._send_raw(200, b'{"Labels": [' + b",".join([label] * count) + b"]}")


_OPERATIONS = {"DetectLabels": detect_labels, "DetectText": detect_text}


def _summary(seconds: deque[float]) -> dict[str, Any]:
    timings = sorted(seconds)
    return {
        "count": len(timings),
        "p50": 1000 * timings[len(timings) // 2] if timings else None,
        "mean": 1000 * sum(timings) / len(timings) if timings else None,
    }


class LabelServer(BackgroundHTTPServer):
    thread_name = "label-service"

    def __init__(self, state: ServiceState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_Handler, host, port)
        self.state = state
        # The latest timings only: `image-analyzer up` may run for days.
        self.inference_seconds: deque[float] = deque(maxlen=10_000)
        self.text_seconds: deque[float] = deque(maxlen=10_000)


class LabelServiceProcess(ChildService):
    """The label service in a process of its own, as a remote service would be (inference needs its own core)."""

    description = "label service"

    def __init__(
        self, s3_endpoint_url: str | None = None, host: str = "127.0.0.1", port: int = 0, wait: bool = True
    ) -> None:
        from local.emulators import free_port

        port = port or free_port(host)
        self.url = f"http://{host}:{port}"
        command = [sys.executable, "-m", "local.label_service.service", "--host", host, "--port", str(port)]
        if s3_endpoint_url:
            command += ["--s3-endpoint-url", s3_endpoint_url]
        super().__init__(command)
        if wait:
            self.await_ready()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Rekognition-compatible DetectLabels and DetectText (offline).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--s3-endpoint-url", help="where Image.S3Object is read from")
    args = parser.parse_args(argv)
    s3 = None
    exit_with_parent()
    if args.s3_endpoint_url:
        s3 = local_client("s3", args.s3_endpoint_url)
    server = LabelServer(ServiceState(Classifier(), s3_client=s3), args.host, args.port)
    print(f"READY {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
