"""A client of the Image Analyzer API (local or deployed): request an upload, upload, wait for the result."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

FINISHED = ("complete", "error")
_TYPES = {
    ".dcm": "application/dicom",
    ".dicom": "application/dicom",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: not sent by this API
        return None


class ApiError(RuntimeError):
    def __init__(self, status: int, body: dict[str, Any], retry_after: float | None = None) -> None:
        super().__init__(f"{status} {body.get('error', '')}: {body.get('message', body)}")
        self.status = status
        self.body = body
        self.retry_after = retry_after  # seconds, from the answer's Retry-After (429, 503)


@dataclass
class JobResult:
    name: str
    job_id: str
    status: str
    record: dict[str, Any]
    seconds: float

    @property
    def labels(self) -> list[dict[str, Any]]:
        return ((self.record.get("results") or {}).get("Labels")) or []

    @property
    def ok(self) -> bool:
        return self.status == "complete"


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class ApiClient:
    def __init__(
        self, api_url: str, timeout_s: float = 30.0, token: str | None = None, poll_s: float | None = None
    ) -> None:
        """``poll_s``: how often ``wait`` asks for a job's results. None (the default) backs off from 50 ms to
        1 s, which is kind to a deployed API; a benchmark sets a short fixed interval, so that what it measures is
        the job and not where in the back-off the job happened to finish (a job done at 1.05 s was seen at 1.6 s)."""
        self.api_url = api_url.rstrip("/")
        self.http = requests.Session()
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        # Sent to the API only: a presigned S3 URL carries its own signature and S3 refuses a second one.
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A raw request to the API (``path`` like "/render"), with the client's token: for callers that check
        statuses and headers themselves."""
        headers = {**self._auth, **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.api_url}{path}", headers=headers, timeout=self.timeout_s, **kwargs)

    def _json(self, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200]}
        if response.status_code >= 400:
            raise ApiError(response.status_code, body, _seconds(response.headers.get("Retry-After")))
        return body

    def request_upload(self, name: str, file_type: str, size: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"fileName": name, "fileType": file_type}
        if size is not None:
            payload["fileSize"] = size
        return self._json(
            self.http.post(f"{self.api_url}/request-upload", json=payload, headers=self._auth, timeout=self.timeout_s)
        )

    def upload(self, grant: dict[str, Any], data: bytes) -> None:
        response = self.http.put(grant["uploadUrl"], data=data, headers=grant["uploadHeaders"], timeout=self.timeout_s)
        if response.status_code >= 300:
            raise ApiError(response.status_code, {"error": "UPLOAD_FAILED", "message": response.text[:200]})

    def results(self, job_id: str) -> dict[str, Any]:
        return self._json(
            self.http.get(
                f"{self.api_url}/get-results", params={"jobId": job_id}, headers=self._auth, timeout=self.timeout_s
            )
        )

    def wait(
        self, job_id: str, timeout_s: float = 120.0, on_status: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """Poll until the job finishes (the API is the only way a client can observe it)."""
        deadline = time.monotonic() + timeout_s
        interval = self.poll_s or 0.05
        last = None
        while True:
            record = self.results(job_id)
            if record["status"] != last and on_status:
                on_status(record["status"])
            last = record["status"]
            if record["status"] in FINISHED:
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {record['status']} after {timeout_s:.0f} s")
            time.sleep(interval)  # a poll's interval: the API is the only way a client sees the job
            if self.poll_s is None:
                interval = min(interval * 1.5, 1.0)

    def render(self, job_id: str, window: str) -> dict[str, Any]:
        """A completed DICOM job in another window: a preset name, or "CENTRE,WIDTH"."""
        params: dict[str, str] = {"jobId": job_id}
        if "," in window:
            params["center"], params["width"] = (part.strip() for part in window.split(",", 1))
        else:
            params["window"] = window
        return self._json(
            self.http.get(f"{self.api_url}/render", params=params, headers=self._auth, timeout=self.timeout_s)
        )

    def submit(self, name: str, data: bytes, file_type: str | None = None) -> str:
        grant = self.request_upload(name, file_type or content_type(name), len(data) or None)
        self.upload(grant, data)
        return grant["jobId"]

    def analyze(
        self,
        name: str,
        data: bytes,
        file_type: str | None = None,
        timeout_s: float = 120.0,
        on_status: Callable[[str], None] | None = None,
    ) -> JobResult:
        started = time.perf_counter()
        job_id = self.submit(name, data, file_type)
        if on_status:
            on_status("uploaded")
        record = self.wait(job_id, timeout_s, on_status)
        return JobResult(name, job_id, record["status"], record, time.perf_counter() - started)

    def analyze_file(self, path: Path, **kwargs: Any) -> JobResult:
        return self.analyze(path.name, path.read_bytes(), **kwargs)

    def download(self, url: str) -> bytes:
        response = self.http.get(url, timeout=self.timeout_s)
        response.raise_for_status()
        return response.content
