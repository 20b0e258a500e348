"""The DICOM renderer against pydicom's bundled files, pydicom-data and generated MG/DX images."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut, apply_voi, pixel_array

from image_analyzer import dicom
from image_analyzer.errors import ErrorCode, ProcessingError
from local.reference_render import naive_render
from tests.harness.files import CANARY, gradient, make_dicom, sample_bytes, sample_path, unknown_syntax_dicom


def render(name: str, **kwargs) -> dicom.Rendering:
    return dicom.render(sample_bytes(name), **kwargs)


def stored(name: str, index: int | None = None) -> np.ndarray:
    return pixel_array(str(sample_path(name)), index=index)


def assert_monotone(key: np.ndarray, rendered: np.ndarray, increasing: bool = True) -> None:
    """``rendered`` is a function of ``key`` that never goes the wrong way as ``key`` grows."""
    key, rendered = key.ravel(), rendered.ravel().astype(np.int64)
    order = np.argsort(key, kind="stable")
    k, r = key[order], rendered[order]
    boundaries = np.flatnonzero(np.diff(k)) + 1
    groups = np.split(r, boundaries)
    assert all(g.min() == g.max() for g in groups), "equal inputs must render equally"
    steps = np.diff([g[0] for g in groups])
    assert (steps >= 0).all() if increasing else (steps <= 0).all()
    assert np.abs(steps).sum() > 0, "the rendering must not be flat"


@pytest.mark.parametrize(
    "variant",
    [
        "MR_small_RLE.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_implicit.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_every_encoding_of_mr_small_renders_the_same_image(variant: str) -> None:
    reference = render("MR_small.dcm")
    other = render(variant)
    assert reference.pixels.std() > 10
    np.testing.assert_array_equal(other.pixels, reference.pixels)
    assert (
        other.metadata["window"] == reference.metadata["window"] == {"center": 600.0, "width": 1600.0, "source": "file"}
    )


@pytest.mark.parametrize(
    ("uncompressed", "compressed"),
    [
        ("RG1_UNCR.dcm", "RG1_J2KR.dcm"),
        ("MR2_UNCR.dcm", "MR2_J2KR.dcm"),
        ("693_UNCR.dcm", "693_J2KR.dcm"),
        ("emri_small.dcm", "emri_small_RLE.dcm"),
        ("emri_small.dcm", "emri_small_jpeg_ls_lossless.dcm"),
        ("US1_UNCR.dcm", "US1_J2KR.dcm"),
        ("OBXXXX1A.dcm", "OBXXXX1A_rle.dcm"),
    ],
)
def test_lossless_compression_renders_identically(uncompressed: str, compressed: str) -> None:
    np.testing.assert_array_equal(render(compressed).pixels, render(uncompressed).pixels)


@pytest.mark.parametrize("name", ["RG1_UNCR.dcm", "RG3_UNCR.dcm", "RG1_J2KI.dcm"])
def test_monochrome1_renders_higher_stored_values_darker(name: str) -> None:
    rendering = render(name)
    assert rendering.metadata["photometric"] == "MONOCHROME1"
    assert_monotone(stored(name), rendering.pixels, increasing=False)


def test_monochrome1_is_the_inverse_of_the_same_data_read_as_monochrome2() -> None:
    ds = dicom.read_dataset(sample_bytes("RG3_UNCR.dcm"))
    as_mono1 = dicom.render_dataset(ds).pixels
    ds.PhotometricInterpretation = "MONOCHROME2"
    as_mono2 = dicom.render_dataset(ds).pixels
    np.testing.assert_array_equal(as_mono1.astype(int), 255 - as_mono2.astype(int))


def test_ct_window_maps_hounsfield_units_not_image_min_max() -> None:
    ds = pydicom.dcmread(str(sample_path("CT_small.dcm")))
    hu = apply_modality_lut(ds.pixel_array, ds)
    rendering = render("CT_small.dcm", window="soft_tissue")
    px = rendering.pixels
    assert rendering.metadata["window"] == {"center": 40.0, "width": 400.0, "source": "preset:soft_tissue"}
    assert (px[hu <= 40 - 200] == 0).all()
    assert (px[hu >= 40 + 200] == 255).all()
    inside = (hu > -150) & (hu < 230)
    expected = ((hu[inside] - 39.5) / 399 + 0.5) * 255  # DICOM LINEAR window over an 8-bit output
    assert np.abs(px[inside] - expected).max() <= 1.0
    # Another preset shows other tissue: a different picture from the same data.
    assert not np.array_equal(render("CT_small.dcm", window="lung").pixels, px)


def test_voi_lut_sequence_is_used() -> None:
    name = "vlut_04.dcm"
    rendering = render(name)
    assert rendering.metadata["window"]["source"] == "voi_lut"
    ds = pydicom.dcmread(str(sample_path(name)))
    lut_output = apply_voi(apply_modality_lut(ds.pixel_array, ds), ds)
    assert_monotone(lut_output, rendering.pixels)
    # Reversing the LUT's entries must reverse the picture: the output comes from the LUT, not from a window.
    item = ds.VOILUTSequence[0]
    item.LUTData = list(reversed(item.LUTData))
    reversed_rendering = dicom.render_dataset(ds).pixels.astype(int)
    assert np.abs(reversed_rendering - (255 - rendering.pixels.astype(int))).max() <= 1


@pytest.mark.parametrize(("bits", "top_entry", "expected_top"), [(8, 127, 127), (16, 4095, 16)])
def test_voi_lut_output_range_follows_its_descriptor(bits: int, top_entry: int, expected_top: int) -> None:
    """The LUT's output spans 0…2ⁿ−1 (n from its descriptor), as DCMTK and the standard render it: entries 0…127
    of an 8-bit LUT reach half grey, 0…4095 of a 16-bit LUT stay dark. Stretching min…max would make both white."""

    def voi_lut(ds) -> None:
        item = pydicom.Dataset()
        item.add_new(0x00283002, "US", [256, 0, bits])  # LUT Descriptor: 256 entries from 0, n bits each
        item.add_new(0x00283006, "US", [round(v * top_entry / 255) for v in range(256)])  # LUT Data
        ds.VOILUTSequence = [item]

    data = make_dicom(gradient(16, 256, high=255), bits_stored=8, mutate=voi_lut)
    rendering = dicom.render(data)
    assert rendering.metadata["window"]["source"] == "voi_lut"
    assert abs(int(rendering.pixels.max()) - expected_top) <= 1 and rendering.pixels.min() == 0


def test_modality_lut_sequence_is_used() -> None:
    name = "mlut_18.dcm"
    rendering = render(name)
    ds = pydicom.dcmread(str(sample_path(name)))
    assert "ModalityLUTSequence" in ds
    assert_monotone(apply_modality_lut(ds.pixel_array, ds), rendering.pixels)


def test_per_frame_functional_groups_drive_the_window() -> None:
    rendering = render("eCT_Supplemental.dcm", frame=0)
    ds = pydicom.dcmread(str(sample_path("eCT_Supplemental.dcm")))
    assert "WindowCenter" not in ds  # only the functional groups carry the window
    voi = ds.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence[0]
    assert rendering.metadata["window"]["center"] == float(voi.WindowCenter)
    assert rendering.metadata["window"]["width"] == float(voi.WindowWidth)


@pytest.mark.parametrize("index", [0, 3, 9])
def test_multiframe_renders_the_chosen_frame(index: int) -> None:
    rendering = render("emri_small.dcm", frame=index)
    assert rendering.metadata["frameRendered"] == index + 1  # 1-based in results
    assert rendering.metadata["frames"] == 10
    assert_monotone(stored("emri_small.dcm", index=index), rendering.pixels)
    other = render("emri_small.dcm", frame=(index + 1) % 10)
    assert not np.array_equal(other.pixels, rendering.pixels)


def test_multiframe_decodes_one_frame_only() -> None:
    data = sample_bytes("color3d_jpeg_baseline.dcm")  # 120 frames of 640×480 RGB: 110 MB decoded
    all_frames_bytes = 120 * 480 * 640 * 3
    tracemalloc.start()
    try:
        rendering = dicom.render(data, frame=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rendering.pixels.shape == (480, 640, 3)
    assert rendering.metadata["frameRendered"] == 61
    assert peak < all_frames_bytes / 5, f"peak {peak / 1e6:.1f} MB suggests more than one frame was decoded"


def test_default_frame_is_the_middle_one() -> None:
    assert render("emri_small.dcm").metadata["frameRendered"] == 6  # frame 6 of 10, 1-based


@pytest.mark.parametrize(
    "name",
    [
        "OBXXXX1A.dcm",
        "examples_palette.dcm",
        "US1_J2KR.dcm",
        "SC_ybr_full_uncompressed.dcm",
        "SC_rgb_16bit.dcm",
        "SC_rgb_32bit.dcm",
        "examples_ybr_color.dcm",
        "gdcm-US-ALOKA-16.dcm",
    ],
)
def test_colour_and_palette_come_out_as_rgb(name: str) -> None:
    rendering = render(name)
    assert rendering.pixels.dtype == np.uint8 and rendering.pixels.ndim == 3 and rendering.pixels.shape[2] == 3
    assert rendering.metadata["window"] is None
    channels = rendering.pixels.reshape(-1, 3).astype(int)
    assert (channels[:, 0] != channels[:, 1]).any() or (channels[:, 1] != channels[:, 2]).any(), "not grayscale"


def test_ybr_is_converted_to_rgb() -> None:
    rgb = render("SC_rgb.dcm").pixels.astype(int)
    ybr = render("SC_ybr_full_uncompressed.dcm").pixels.astype(int)
    assert np.abs(rgb - ybr).max() <= 8  # YBR_FULL → RGB rounding
    bits16 = render("SC_rgb_16bit.dcm").pixels.astype(int)
    assert np.abs(rgb - bits16).max() <= 1


def test_generated_mammogram_monochrome1_with_window() -> None:
    data = make_dicom(
        gradient(high=16383), modality="MG", photometric="MONOCHROME1", bits_stored=14, window=(8192, 8192)
    )
    rendering = dicom.render(data)
    assert rendering.metadata["modality"] == "MG" and rendering.metadata["bitsStored"] == 14
    row = rendering.pixels[0].astype(int)
    assert row[0] == 255 and row[-1] == 0  # MONOCHROME1: lowest stored value white
    assert (np.diff(row) <= 0).all()
    mid = np.argmin(np.abs(gradient(high=16383)[0].astype(float) - 8192))
    assert abs(row[mid] - 128) <= 2


def test_generated_dx_with_rescale_and_automatic_window() -> None:
    pixels = gradient(high=4095)
    pixels[:, :8] = 0  # a collimator border that must not dominate
    data = make_dicom(pixels, modality="DX", rescale=(2.0, -1024.0))
    rendering = dicom.render(data)
    assert rendering.metadata["window"]["source"] == "auto"
    row = rendering.pixels[0].astype(int)
    assert (np.diff(row) >= 0).all() and row[-1] == 255
    assert rendering.pixels.std() > 50


def test_unusable_window_in_the_file_falls_back_to_automatic() -> None:
    rendering = dicom.render(make_dicom(gradient(), window=(100, 0)))
    assert rendering.metadata["window"]["source"] == "auto"


def test_metadata_is_an_allow_list_without_phi() -> None:
    rendering = dicom.render(make_dicom(gradient(), patient_name=CANARY, patient_id=CANARY))
    assert CANARY not in repr(rendering.metadata)
    assert set(rendering.metadata) == {
        "modality",
        "bodyPart",
        "rows",
        "columns",
        "frames",
        "frameRendered",
        "photometric",
        "bitsStored",
        "transferSyntax",
        "window",
        "views",
    }


def expect_error(data: bytes, code: ErrorCode) -> ProcessingError:
    with pytest.raises(ProcessingError) as info:
        dicom.render(data)
    assert info.value.code is code
    assert info.value.message
    return info.value


def test_truncated_pixel_data_is_corrupt() -> None:
    expect_error(sample_bytes("MR_truncated.dcm"), ErrorCode.CORRUPT_DICOM)
    expect_error(sample_bytes("CT_small.dcm")[:20000], ErrorCode.CORRUPT_DICOM)


def test_unsupported_transfer_syntaxes() -> None:
    error = expect_error(unknown_syntax_dicom(), ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX)
    assert "1.2.840.10008.1.2.9" in error.message


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "JPEG-lossy.dcm"])
def test_twelve_bit_jpeg_extended_decodes_without_gpl_code(name: str) -> None:
    # GDCM's build refuses it; imagecodecs (BSD, libjpeg-turbo 3) decodes it as a plugin after pydicom's own.
    from pydicom import dcmread
    from pydicom.pixels.decoders import JPEGExtended12BitDecoder

    assert "imagecodecs" in JPEGExtended12BitDecoder.available_plugins
    rendering = dicom.render(sample_bytes(name))
    reference = dcmread(sample_path(name)).BitsStored
    assert rendering.metadata["transferSyntax"] == "JPEG Extended (Process 2 and 4)" and reference == 12
    assert rendering.pixels.shape == (1024, 256) and rendering.pixels.max() > rendering.pixels.min()


def test_decompression_bomb_is_refused_before_decoding() -> None:
    def huge(ds):
        ds.Rows, ds.Columns = 50_000, 50_000

    expect_error(make_dicom(gradient(8, 8), mutate=huge), ErrorCode.IMAGE_TOO_LARGE)


def test_no_pixel_data() -> None:
    def no_pixels(ds):
        del ds.PixelData

    expect_error(make_dicom(gradient(8, 8), mutate=no_pixels), ErrorCode.DICOM_NO_PIXEL_DATA)


@pytest.mark.parametrize(
    ("sample", "named"),
    [
        ("liver.dcm", "Segmentation Storage"),  # pixel data: masks, which rendered as a white blob
        ("rtstruct.dcm", "RT Structure Set Storage"),
        ("rtplan.dcm", "RT Plan Storage"),
        ("reportsi.dcm", "Basic Text SR Storage"),
        ("test-SR.dcm", "Comprehensive SR Storage"),
        ("waveform_ecg.dcm", "12-lead ECG Waveform Storage"),
    ],
)
def test_objects_that_are_not_pictures_are_refused_naming_their_class(sample, named) -> None:
    error = expect_error(sample_bytes(sample), ErrorCode.DICOM_NOT_AN_IMAGE)
    assert named in error.message and "Only images" in error.message, error.message


@pytest.mark.parametrize(
    ("sop_class", "named"),
    [
        ("1.2.840.10008.5.1.4.1.1.88.59", "Key Object Selection Document Storage"),
        ("1.2.840.10008.5.1.4.1.1.11.1", "Grayscale Softcopy Presentation State Storage"),
        ("1.2.840.10008.5.1.4.1.1.104.1", "Encapsulated PDF Storage"),
    ],
)
def test_a_non_image_class_is_refused_even_with_pixel_data(sop_class, named) -> None:
    def relabel(ds):
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class

    error = expect_error(make_dicom(gradient(16, 16), mutate=relabel), ErrorCode.DICOM_NOT_AN_IMAGE)
    assert named in error.message, error.message


def test_image_classes_with_pixel_data_are_not_mistaken_for_objects() -> None:
    for sample in ("CT_small.dcm", "rtdose.dcm", "SC_rgb.dcm", "emri_small.dcm", "US1_J2KR.dcm"):
        assert dicom.render(sample_bytes(sample)).pixels.size


def test_png_output_round_trips() -> None:
    from io import BytesIO

    from PIL import Image

    rendering = render("CT_small.dcm")
    image = Image.open(BytesIO(rendering.to_png()))
    assert image.format == "PNG" and image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), rendering.pixels)


def test_the_naive_reference_rendering_is_measurably_wrong() -> None:
    """What the reference projects do, against ours: inverted MONOCHROME1, and CT contrast spent on padding."""
    cr = sample_bytes("RG3_UNCR.dcm")
    ours, naive = dicom.render(cr).pixels.astype(float), naive_render(cr).astype(float)
    assert np.corrcoef(ours.ravel(), naive.ravel())[0, 1] < -0.9, "naive MONOCHROME1 is a negative"

    ct = sample_bytes("693_UNCR.dcm")
    hu = dicom.modality_values(ct)
    brain = (hu > 0) & (hu < 80)
    ours_ct, naive_ct = dicom.render(ct).pixels, naive_render(ct)
    # Grey levels available to brain tissue: the file's window spreads it, min/max squeezes it into a few.
    assert len(np.unique(ours_ct[brain])) > 5 * len(np.unique(naive_ct[brain]))


def test_modality_values_are_hounsfield_units() -> None:
    ds = pydicom.dcmread(str(sample_path("CT_small.dcm")))
    np.testing.assert_allclose(
        dicom.modality_values(sample_bytes("CT_small.dcm")), apply_modality_lut(ds.pixel_array, ds)
    )


def test_a_dataset_without_the_part10_header_is_accepted() -> None:
    # Older PACS exports: no preamble, no file meta; the encoding is inferred from the first element.
    from io import BytesIO

    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ImplicitVRLittleEndian

    data = sample_bytes("OT-PAL-8-face.dcm")
    assert data[128:132] != b"DICM"
    rendering = dicom.render(data)
    assert rendering.pixels.shape == (480, 640, 3) and rendering.metadata["photometric"] == "PALETTE COLOR"
    # The same dataset wrapped as a Part-10 file renders identically.
    ds = pydicom.dcmread(BytesIO(data), force=True)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.preamble = b"\0" * 128
    wrapped = BytesIO()
    ds.save_as(wrapped, enforce_file_format=True)
    assert np.array_equal(dicom.render(wrapped.getvalue()).pixels, rendering.pixels)


def test_text_that_merely_starts_like_a_dataset_is_not_one() -> None:
    expect_error(b"\x08\x00\x05\x00" + b"\xff" * 200, ErrorCode.CORRUPT_DICOM)


def test_item_tags_are_counted_at_every_offset_and_across_the_search_chunks() -> None:
    from image_analyzer.dicom.reading import _COUNT_CHUNK, _ITEM_TAGS, count_item_tags

    little, big = _ITEM_TAGS
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, 3 * _COUNT_CHUNK, dtype=np.uint8).tobytes()
    cases = [
        b"",
        little[:3],
        little,
        b"x" + big + b"yz" + little,  # odd offsets count too: a hostile file need not keep elements even
        b"\xfe" * 5000 + little * 3,  # the first byte everywhere, the rest rarely
        b"a" * (_COUNT_CHUNK - 2) + little + b"b" * (_COUNT_CHUNK - 1) + big,  # both straddle a chunk boundary
        noise + little * 17 + noise[:999] + big * 4,
    ]
    for data in cases:
        assert count_item_tags(data) == data.count(little) + data.count(big)
    assert count_item_tags(cases[-2]) == 2 and count_item_tags(cases[-1]) >= 21


def test_a_supplemental_palette_colours_its_range_and_leaves_the_rest_grey() -> None:
    # eCT_Supplemental.dcm: an enhanced CT (Pixel Presentation COLOR) whose stored values 1024…1123 are a perfusion
    # map; shown without its palette they are speckled grey.
    data = sample_bytes("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(sample_path("eCT_Supplemental.dcm"))
    entries, first, bits = (int(v) for v in ds.RedPaletteColorLookupTableDescriptor)
    tables = [
        np.frombuffer(bytes(ds[f"{c}PaletteColorLookupTableData"].value), "<u2")[:entries] >> (bits - 8)
        for c in ("Red", "Green", "Blue")
    ]
    rendering = dicom.render(data, keep_view_source=True)
    stored = pixel_array(ds, index=1)  # the middle of two frames, as rendered
    served = rendering.served()
    inside = (stored >= first) & (stored < first + entries)
    body = rendering.pixels > 0
    assert served.shape == (*rendering.pixels.shape, 3) and (inside & body).sum() / body.sum() > 0.95
    expected = np.stack([table[stored[inside] - first] for table in tables], axis=-1)
    assert np.array_equal(served[inside], expected), "the palette's colours where it applies"
    assert np.array_equal(served[~inside], np.repeat(rendering.pixels[~inside][:, None], 3, axis=1)), "grey elsewhere"
    assert np.mean(served[..., 0] != served[..., 2]) > 0.2, "in colour"
    # Other windows are drawn from the frame copy: it keeps the palette, so they are in colour too.
    assert np.array_equal(dicom.render(rendering.frame_copy()).served(), served)
    # A redacted region shows no palette colour (its colours would show what was filled).
    filled = np.zeros(stored.shape, dtype=bool)
    filled[200:300, 200:300] = True
    redacted = rendering.pixels.copy()
    redacted[filled] = 0
    assert not rendering.served(redacted, filled)[filled].any()
