"""Processing one uploaded object: claim the job, analyse the bytes, record labels or a specific error."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from image_analyzer import imaging, metadata
from image_analyzer.classifier import ClassifierError, ClassifierStage, StageState, open_for_classification
from image_analyzer.classifier import error_fields as classifier_error_fields
from image_analyzer.classifier import result_fields as classifier_fields
from image_analyzer.definitions import UPLOAD_PREFIX
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.imaging import ImageFormat
from image_analyzer.isolation import WorkDied, WorkTimedOut, run_isolated
from image_analyzer.jobs import utc_now
from image_analyzer.keys import converted_key, crop_key, job_objects, view_source_key
from image_analyzer.labels import LabelDetector
from image_analyzer.objects import ObjectStore
from image_analyzer.redaction import NOT_SEARCHED, Redaction, RedactMode, filled
from image_analyzer.redaction import required as redaction_required
from image_analyzer.store import ClaimOutcome, JobStore
from image_analyzer.text import TextDetectionUnavailable
from image_analyzer.text_search import FoundText, SearchViews, TextDetection, TextSearch
from image_analyzer.uploads import job_id_from_key


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"  # the job ended ``error`` with a specific code
    DUPLICATE = "duplicate"  # the job had already finished: nothing changed
    BUSY = "busy"  # another delivery is processing it now
    UNKNOWN_JOB = "unknown_job"  # not an upload this system handed out


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    job_id: str | None
    error_code: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Analysis:
    label_bytes: bytes
    rendered_png: bytes | None  # DICOM and converted photos: what the user sees (stored under converted/)
    image: dict[str, Any]
    dicom: dict[str, Any] | None
    # The decoded picture behind rendered_png, kept for the classifier stage so that it does not decode the PNG
    # it was just given; None for JPEG and PNG photos (their bytes are served as uploaded).
    picture: Any = None
    rendering: Any = None  # DICOM: the dicom.Rendering, whose frame copy /render draws other windows from
    redaction: Redaction = NOT_SEARCHED
    redacted: Any = None  # the mask of what was filled (numpy, the picture's size), None when nothing was
    # A JPEG or PNG photo served as uploaded: its bytes less every metadata segment.
    served_as_uploaded: bytes | None = None


@contextlib.contextmanager
def content_failures(data: bytes) -> Iterator[None]:
    """Work on the file's content raises ProcessingError, and only that: a failure in it is caused by the content
    and retrying cannot help (decoders, parsers and writers raise anything on hostile input: RecursionError,
    zlib.error, ValueError…)."""
    try:
        yield
    except ProcessingError:
        raise
    except MemoryError as exc:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_LARGE, "The image needs more memory than can be used safely."
        ) from exc
    except Exception as exc:
        dicom = imaging.sniff_format(data[:132]) is ImageFormat.DICOM
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM if dicom else ErrorCode.CORRUPT_IMAGE,
            f"The {'DICOM file' if dicom else 'image'} could not be processed: it is damaged or malformed.",
        ) from exc


def analyse(data: bytes, declared_type: str) -> Analysis:
    """Bytes of an upload → what to send for labels and what to record. Pure computation on the file's content:
    raises ProcessingError only."""
    with content_failures(data):
        return _analyse(data, declared_type)


def analyse_within(data: bytes, declared_type: str, time_limit_s: float | None) -> Analysis:
    """``analyse`` in a forked child stopped after ``time_limit_s`` (None: in this process, unbounded). A decode
    past the limit ends DECODE_TIMED_OUT, one whose process was killed (the kernel's or the runtime's answer to
    memory) IMAGE_TOO_LARGE, one that crashed as damaged: all permanent, so the worker is free on the first
    delivery instead of holding it to the function's timeout on every retry."""
    if time_limit_s is None:
        return analyse(data, declared_type)
    _load_decoders(data)
    try:
        return run_isolated(lambda: analyse(data, declared_type), time_limit_s)
    except WorkTimedOut as exc:
        raise ProcessingError(
            ErrorCode.DECODE_TIMED_OUT,
            f"Decoding the image took longer than the limit of {time_limit_s:g} s and was stopped.",
        ) from exc
    except WorkDied as exc:
        if exc.killed:
            raise ProcessingError(
                ErrorCode.IMAGE_TOO_LARGE, "The image needs more memory than can be used safely."
            ) from exc
        with content_failures(data):
            raise


def _load_decoders(data: bytes) -> None:
    """Import in this process what decoding the file will import, once per warm container, so that every
    forked child shares it instead of importing it again (numpy, pydicom and its codecs take a second)."""
    import numpy  # noqa: F401
    from PIL import Image

    Image.init()  # every format plugin (Pillow imports them on first need)
    if imaging.sniff_format(data[:132]) is ImageFormat.DICOM:
        from image_analyzer import dicom  # noqa: F401 - with pydicom's decoders and their codecs


def frame_copy(analysis: Analysis, data: bytes) -> bytes | None:
    """Greyscale DICOM: the frame copy that /render draws other windows from, redacted as the picture is. Made
    once, after redaction; like analyse, it raises ProcessingError only."""
    if analysis.rendering is None:
        return None
    with content_failures(data):
        return analysis.rendering.frame_copy(analysis.redacted)


def _analyse(data: bytes, declared_type: str) -> Analysis:
    if not data:
        raise ProcessingError(ErrorCode.EMPTY_OBJECT, "The uploaded file is empty.")
    fmt = imaging.sniff_format(data[:132])
    if fmt is None:
        raise ProcessingError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "The file is not a JPEG, PNG, GIF, WebP, BMP, TIFF or DICOM image (checked by its content).",
        )
    imaging.check_declared_type(declared_type, fmt)
    if fmt is ImageFormat.DICOM:
        # Imported on first use: numpy and pydicom are a third of the processor's cold start, and photos need neither.
        from image_analyzer import dicom

        rendering = dicom.render(data, keep_view_source=True)
        image = rendering.to_image()  # square pixels: what is served and labelled
        png = rendering.to_png()
        rows, columns = image.height, image.width
        return Analysis(
            label_bytes=imaging.prepare_rendering(png, image),
            rendered_png=png,
            image={"format": fmt.value, "width": columns, "height": rows},
            dicom=rendering.metadata,
            picture=image,
            rendering=rendering,
        )
    if fmt not in imaging.LABEL_READY or not imaging.is_upright(data):
        # GIF, WebP, BMP, TIFF, and a JPEG or PNG that its EXIF orientation turns: labelled and served as the
        # upright PNG they become
        converted = imaging.convert_photo(data)
        size = {"format": fmt.value, "width": converted.width, "height": converted.height}
        label_bytes = imaging.prepare_rendering(converted.png, converted.image)
        return Analysis(label_bytes, converted.png, size, None, picture=converted.image)
    served = metadata.strip(data, fmt is ImageFormat.JPEG)  # the pixels as uploaded, bit for bit: no metadata
    photo = imaging.prepare_photo(served, fmt)
    size = {"format": fmt.value, "width": photo.width, "height": photo.height}
    return Analysis(photo.data, None, size, None, served_as_uploaded=served)


def search_views(analysis: Analysis, original: bytes) -> SearchViews:
    """The picture the user will see and the view revealing what any window of it could show, as arrays."""
    import numpy as np

    # DICOM is searched on its stored grid, where the frame copy's values are (what is served may be scaled to
    # square pixels; the fill is scaled with it). A JPEG or PNG photo is served as uploaded (less its metadata):
    # searched, it is decoded at full size.
    if analysis.rendering is not None:
        served = analysis.rendering.pixels
    elif analysis.picture is not None:
        served = np.asarray(analysis.picture)
    else:
        served = np.asarray(imaging.convert_photo(analysis.served_as_uploaded or original).image)
    frame = analysis.rendering.frame if analysis.rendering is not None else None
    values = frame.modality_values() if frame is not None else served
    return SearchViews(served, values, analysis.label_bytes, greyscale_frame=frame is not None)


def redact_text(analysis: Analysis, text: TextSearch, original: bytes) -> Analysis:
    """Search the picture the user will see, in every view of it, for text and fill every region found, in the
    picture, the bytes sent for labels and the frame copy. Raises ProcessingError (the service refused the image,
    or the file's content failed) or TextDetectionUnavailable (a retry may succeed); a failure of the in-function
    detector fails the delivery too: either way nothing unredacted is returned."""
    with content_failures(original):
        views = search_views(analysis, original)
    found = text.find(views)
    if not found.mask.any():
        return replace(analysis, redaction=Redaction(text.mode.value, 0, 0.0))
    with content_failures(original):
        return _fill_text(analysis, views, found, text.mode)


def _fill_text(analysis: Analysis, views: SearchViews, found: FoundText, mode: TextDetection) -> Analysis:
    from PIL import Image

    from image_analyzer import png

    redacted = filled(views.served, found.mask, 0)
    if analysis.rendering is not None:  # filled on the stored grid, served with square pixels (no palette colour
        redacted = analysis.rendering.served(redacted, found.mask)  # where it was filled)
    image = Image.fromarray(redacted)
    encoded = png.encode(redacted)
    return replace(
        analysis,
        label_bytes=imaging.prepare_rendering(encoded, image),
        rendered_png=encoded,
        picture=image,
        redaction=Redaction(mode.value, found.regions, float(found.mask.mean())),
        redacted=found.mask,
    )


DEAD_LETTER_MESSAGE = "Processing failed on every attempt (the processor stopped, ran out of time or crashed)."
REDACTION_UNAVAILABLE_MESSAGE = (
    "Text in the image could not be looked for on any attempt (the text detection service failed), "
    "so it cannot be redacted; nothing of it was stored."
)


def discard_job_objects(objects: ObjectStore, job_id: str) -> None:
    """A job that ends in error keeps nothing under converted/: whatever it wrote before failing is never served."""
    for key in job_objects(job_id):
        objects.delete(key)


def end_dead_lettered(store: JobStore, objects: ObjectStore, key: str, keep_originals: bool) -> Result:
    """A message reached the dead-letter queue: its job, if still pending or processing, ends PROCESSING_FAILED.
    A job that already finished is left as it is (nothing ever moves backwards). The upload is not kept."""
    job_id = job_id_from_key(key)
    if job_id is None:
        return Result(Outcome.UNKNOWN_JOB, None)
    ended = store.fail(job_id, ErrorCode.PROCESSING_FAILED.value, DEAD_LETTER_MESSAGE, utc_now())
    if not keep_originals:
        objects.delete(key)
    if ended:  # an attempt killed after writing its picture left it behind: a failed job serves nothing
        discard_job_objects(objects, job_id)
        return Result(Outcome.FAILED, job_id, ErrorCode.PROCESSING_FAILED.value)
    return Result(Outcome.DUPLICATE, job_id)


# A photo is copied under converted/ as well: a second PUT to the upload URL must not change what a finished
# job shows, and the upload itself is deleted.
_SERVED_EXTENSIONS = {ImageFormat.JPEG: "jpg", ImageFormat.PNG: "png"}


@dataclass
class Processor:
    store: JobStore
    objects: ObjectStore
    labels: LabelDetector
    max_upload_bytes: int
    text: TextSearch
    classifier: ClassifierStage = field(default_factory=ClassifierStage.off)
    redact_mode: RedactMode = RedactMode.DICOM
    # Seconds a file's decode may take (in a forked child) before the job ends DECODE_TIMED_OUT; None: no limit,
    # decoded in this process.
    decode_time_limit_s: float | None = None
    # False (the default): the upload is deleted once its job has ended, whatever the outcome; only what the job
    # shows (under converted/) stays, until the retention expires.
    keep_originals: bool = False

    def process(self, key: str, lease_seconds: float, final_attempt: bool = False) -> Result:
        """Process one object. Transient failures raise (the delivery is retried); on the final attempt the job
        is first marked ``error`` so that nothing is left pending when the message goes to the dead-letter queue."""
        result = self._process(key, lease_seconds, final_attempt)
        # A finished job's upload goes, also on a duplicate delivery (an earlier delete may have failed) and for an
        # object no job asked for. BUSY: another delivery is still reading it. Nothing outside uploads/ is ever
        # deleted, whatever a message names.
        if result.outcome is not Outcome.BUSY and not self.keep_originals and key.startswith(UPLOAD_PREFIX):
            self.objects.delete(key)
        return result

    def _process(self, key: str, lease_seconds: float, final_attempt: bool) -> Result:
        started = time.perf_counter()
        job_id = job_id_from_key(key)
        if job_id is None:
            return Result(Outcome.UNKNOWN_JOB, None)
        claim = self.store.claim(job_id, utc_now(), lease_seconds)
        if claim.outcome is ClaimOutcome.UNKNOWN:
            return Result(Outcome.UNKNOWN_JOB, job_id)
        if claim.outcome is ClaimOutcome.FINISHED:
            return Result(Outcome.DUPLICATE, job_id)
        if claim.outcome is ClaimOutcome.BUSY:
            return Result(Outcome.BUSY, job_id)
        assert claim.job is not None
        try:
            try:
                results, image_key, crop = self._analyse_and_label(job_id, key, claim.job.file_type or "")
            except ProcessingError as exc:  # e.g. LABELS_REJECTED, after the picture was written
                return self._fail(job_id, exc.code, exc.message, started)
        except Exception as exc:
            if final_attempt:
                if isinstance(exc, TextDetectionUnavailable):  # fail closed: nothing of it was stored
                    code, message = ErrorCode.REDACTION_FAILED, REDACTION_UNAVAILABLE_MESSAGE
                else:
                    code, message = ErrorCode.PROCESSING_FAILED, "Processing failed on every attempt."
                self._fail(job_id, code, message, started)
            raise
        try:
            self.store.complete(job_id, results, image_key, utc_now(), crop_key=crop)
        except ProcessingError as exc:  # the record was refused for its content: every retry would be too
            return self._fail(job_id, exc.code, exc.message, started)
        return Result(Outcome.COMPLETED, job_id, None, time.perf_counter() - started)

    def _fail(self, job_id: str, code: ErrorCode, message: str, started: float) -> Result:
        """The job ends in error, and what it wrote so far goes: an error leaves nothing under converted/."""
        self.store.fail(job_id, code.value, message, utc_now())
        discard_job_objects(self.objects, job_id)
        return Result(Outcome.FAILED, job_id, code.value, time.perf_counter() - started)

    def _analyse_and_label(self, job_id: str, key: str, declared_type: str) -> tuple[dict[str, Any], str, str | None]:
        stored = self.objects.read(key, self.max_upload_bytes)
        if stored is None:
            raise ProcessingError(ErrorCode.EMPTY_OBJECT, "The uploaded file is no longer in storage.")
        if stored.body is None:
            raise ProcessingError(
                ErrorCode.OBJECT_TOO_LARGE,
                f"The file is {stored.size} bytes, more than the limit of {self.max_upload_bytes}.",
            )
        analysis = analyse_within(stored.body, declared_type, self.decode_time_limit_s)
        # Before anything is stored or labelled: what follows only ever sees the redacted picture.
        if redaction_required(self.redact_mode, analysis.dicom is not None):
            analysis = redact_text(analysis, self.text, stored.body)
        if analysis.rendered_png is not None:
            image_key = converted_key(job_id)
            self.objects.write(image_key, analysis.rendered_png, "image/png")
        else:  # a JPEG or PNG photo, served as uploaded: the bytes analysed, not a server-side copy of the key,
            # which a later PUT may already have replaced
            fmt = ImageFormat(analysis.image["format"])
            image_key = converted_key(job_id, _SERVED_EXTENSIONS[fmt])
            self.objects.write(image_key, analysis.served_as_uploaded or stored.body, imaging.mime_type(fmt))
        view_source = frame_copy(analysis, stored.body)
        if view_source is not None:
            self.objects.write(view_source_key(job_id), view_source, "application/dicom")
        results = self.labels.detect(analysis.label_bytes)
        results["image"] = analysis.image
        results["redaction"] = analysis.redaction.to_record()
        if analysis.dicom is not None:
            results["dicom"] = analysis.dicom
        crop = None
        if self.classifier.state is not StageState.OFF:
            picture = analysis.picture if analysis.picture is not None else (analysis.served_as_uploaded or stored.body)
            results["classifier"], crop = self._classify(job_id, self.classifier, picture)
        return results, image_key, crop

    def _classify(self, job_id: str, stage: ClassifierStage, picture: Any) -> tuple[dict[str, Any], str | None]:
        """The second stage, on the pixels the user sees. Whatever goes wrong in it is recorded in
        ``classifier.error``; the job still completes with its labels."""
        loaded = stage.model
        if loaded is None:
            return classifier_error_fields(None, str(stage.reason)), None
        try:
            image = picture if not isinstance(picture, bytes) else open_for_classification(picture)
            classification = loaded.classify(image)
        except (ClassifierError, ProcessingError) as exc:
            return classifier_error_fields(loaded.spec, str(exc)), None
        except Exception as exc:  # a model is third-party code: nothing it does may fail the job
            return classifier_error_fields(loaded.spec, f"the classifier failed: {type(exc).__name__}"), None
        key = crop_key(job_id)
        self.objects.write(key, classification.crop_png, "image/png")
        return classifier_fields(loaded.spec, classification), key
