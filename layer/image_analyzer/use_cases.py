"""The API's use cases: asking to upload, reading a job as its caller, showing a DICOM job in another window.

Plain functions over the adapters and the caller; the handlers parse the request, call one of these and shape the
response. Every rule of the API (who sees a job, when a view exists, what a view may cost) is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from image_analyzer.adapters import Adapters
from image_analyzer.callers import Caller
from image_analyzer.errors import ApiError, ErrorCode, ProcessingError
from image_analyzer.jobs import Job, JobStatus, NewJob, api_view, utc_now
from image_analyzer.keys import view_source_key
from image_analyzer.quota import DailyQuota
from image_analyzer.uploads import UploadRequest, is_job_id, new_job_id, upload_key
from image_analyzer.views import View, check_offered

# The frame copy a view is rendered from: written by the processor within its memory budget.
VIEW_SOURCE_MAX_BYTES = 512 * 2**20


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    url_expiry_s: int
    retention_days: int
    daily_quota: int


def request_upload(adapters: Adapters, request: UploadRequest, who: Caller, limits: UploadLimits) -> dict[str, Any]:
    """A pending job and the presigned URLs to upload its file to (the caller's daily quota counts it)."""
    now = utc_now()
    DailyQuota(adapters.table, limits.daily_quota, "uploads").take(who.quota_key, now)
    job_id = new_job_id()
    key = upload_key(job_id)
    new = NewJob(job_id, key, request.file_type, request.extension, who.subject, limits.retention_days)
    adapters.jobs.create(new, now)
    objects = adapters.objects
    return {
        "jobId": job_id,
        "uploadUrl": objects.presigned_put(key, request.file_type, limits.url_expiry_s, request.file_size),
        "uploadHeaders": {"Content-Type": request.file_type},
        "expiresIn": limits.url_expiry_s,
        "upload": objects.presigned_post(key, request.file_type, limits.max_bytes, limits.url_expiry_s),
    }


def check_job_id(job_id: str) -> None:
    if not is_job_id(job_id):
        raise ApiError(400, ErrorCode.INVALID_JOB_ID, "jobId must be the UUID returned by /request-upload.")


def job_as_caller(adapters: Adapters, job_id: str, who: Caller) -> Job:
    """The job, if ``who`` may read it: a malformed id is the caller's error; another owner's job does not exist."""
    check_job_id(job_id)
    job = adapters.jobs.get(job_id)
    if job is None or not job.readable_by(who.subject):
        raise ApiError(404, ErrorCode.JOB_NOT_FOUND, "No job with this id (it may have expired).")
    return job


def job_results(adapters: Adapters, job: Job, url_expiry_s: int) -> dict[str, Any]:
    """The job as the API shows it, with presigned URLs of its image (and crop) once it is complete."""
    image_url = crop_url = None
    if job.status is JobStatus.COMPLETE and job.image_key:
        image_url = adapters.objects.presigned_get(job.image_key, url_expiry_s)
        if job.crop_key:
            crop_url = adapters.objects.presigned_get(job.crop_key, url_expiry_s)
    return api_view(job, image_url, crop_url)


@dataclass(frozen=True)
class ViewLimits:
    max_custom_views: int  # custom windows one job keeps
    daily_render_quota: int  # views one caller may have rendered a day
    url_expiry_s: int


def _view_limit(max_custom: int) -> ApiError:
    return ApiError(
        429,
        ErrorCode.VIEW_LIMIT_REACHED,
        f"This job keeps {max_custom} custom windows already: use one of them or a preset.",
    )


def viewable_window(job: Job) -> dict[str, Any]:
    """The window the job was first shown in; only a completed greyscale DICOM job has one (409 otherwise)."""
    if job.status is not JobStatus.COMPLETE or not job.dicom:
        raise ApiError(409, ErrorCode.VIEW_NOT_AVAILABLE, "Only a completed DICOM job can be shown in another window.")
    window = job.dicom.get("window")
    if window is None:
        raise ApiError(409, ErrorCode.VIEW_NOT_AVAILABLE, "This DICOM image is in colour: colour is never windowed.")
    return window


def render_view(
    adapters: Adapters,
    job: Job,
    view: View,
    who: Caller,
    limits: ViewLimits,
    render: Callable[[bytes, View], bytes],
) -> dict[str, Any]:
    """The job's image in ``view``: rendered once from the frame copy (``render`` gives its PNG) and kept, then
    served as stored. Presets always; a few custom windows a job, counted atomically; renders count against the
    caller's daily quota, checked before it counts."""
    recorded = viewable_window(job)
    check_offered(view, job.dicom)
    objects = adapters.objects
    key = view.key(job.job_id)
    if not objects.exists(key):
        custom = view.preset is None
        if custom and job.custom_views >= limits.max_custom_views:
            raise _view_limit(limits.max_custom_views)
        DailyQuota(adapters.table, limits.daily_render_quota, "renders").take(who.quota_key, utc_now())
        if custom and not adapters.jobs.count_custom_view(job.job_id, limits.max_custom_views):
            raise _view_limit(limits.max_custom_views)
        # The upload itself is deleted: the frame's stored values were kept at processing time.
        stored = objects.read(view_source_key(job.job_id), VIEW_SOURCE_MAX_BYTES)
        if stored is None or stored.body is None:
            raise ApiError(410, ErrorCode.UPLOAD_GONE, "This job's image data is no longer stored.")
        try:
            png = render(stored.body, view)
        except ProcessingError as exc:
            raise ApiError(422, exc.code, exc.message) from None
        objects.write(key, png, "image/png")
    url = objects.presigned_get(key, limits.url_expiry_s)
    return {"jobId": job.job_id, "view": view.slug, "window": view.described(recorded), "imageUrl": url}
