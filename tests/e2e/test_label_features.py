"""DetectLabels' Features and Settings through boto3's own client, on Image.Bytes and Image.S3Object: the label
filters as Rekognition applies them, ImageProperties from the pixels on pictures whose answer is known, and every
range, enum and length of botocore's service model refused as Rekognition refuses it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image, ImageFilter

from tests.harness.files import photo_bytes


def png(pixels: np.ndarray | Image.Image) -> bytes:
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


FLAT_GREY = np.full((200, 200, 3), 128, dtype=np.uint8)
SPLIT = np.zeros((200, 300, 3), dtype=np.uint8)
SPLIT[:, :150] = (255, 0, 0)
SPLIT[:, 150:] = (0, 0, 255)


@pytest.fixture(params=["Bytes", "S3Object"])
def image_of(request, stack):
    """``image_of(data)``: the Image parameter for these bytes, given inline or as an object in the stack's bucket."""
    s3 = stack.client("s3")

    def image(data: bytes) -> dict:
        if request.param == "Bytes":
            return {"Bytes": data}
        key = f"converted/features-{abs(hash(data))}.png"
        s3.put_object(Bucket=stack.resources.bucket, Key=key, Body=data)
        return {"S3Object": {"Bucket": stack.resources.bucket, "Name": key}}

    return image


def test_an_inclusion_filter_returns_only_the_labels_it_names(rekognition, image_of) -> None:
    cat = image_of(photo_bytes("chelsea"))
    everything = {label["Name"] for label in rekognition.detect_labels(Image=cat, MinConfidence=1)["Labels"]}
    assert {"Cat", "Animal", "Mammal"} <= everything
    only = rekognition.detect_labels(
        Image=cat, MinConfidence=1, Settings={"GeneralLabels": {"LabelInclusionFilters": ["Cat"]}}
    )
    assert [label["Name"] for label in only["Labels"]] == ["Cat"]


def test_exclusions_drop_a_label_and_everything_under_it_and_categories_filter(rekognition, image_of) -> None:
    cat = image_of(photo_bytes("chelsea"))
    labels = rekognition.detect_labels(
        Image=cat, MinConfidence=1, Settings={"GeneralLabels": {"LabelExclusionFilters": ["Mammal"]}}
    )["Labels"]
    assert all(label["Name"] != "Mammal" and "Mammal" not in {p["Name"] for p in label["Parents"]} for label in labels)
    by_category = rekognition.detect_labels(
        Image=cat, MinConfidence=1, Settings={"GeneralLabels": {"LabelCategoryInclusionFilters": ["Animals and Pets"]}}
    )["Labels"]
    assert by_category and all(
        {c["Name"] for c in label["Categories"]} == {"Animals and Pets"} for label in by_category
    )
    none = rekognition.detect_labels(
        Image=cat, MinConfidence=1, Settings={"GeneralLabels": {"LabelCategoryExclusionFilters": ["Animals and Pets"]}}
    )["Labels"]
    assert not {"Cat", "Animal"} & {label["Name"] for label in none}


def test_image_properties_alone_gives_no_labels(rekognition, image_of) -> None:
    response = rekognition.detect_labels(Image=image_of(photo_bytes("chelsea")), Features=["IMAGE_PROPERTIES"])
    assert response["Labels"] == [] and set(response["ImageProperties"]) == {
        "Quality", "DominantColors", "Foreground", "Background",
    }  # fmt: skip
    both = rekognition.detect_labels(
        Image=image_of(photo_bytes("chelsea")), Features=["GENERAL_LABELS", "IMAGE_PROPERTIES"]
    )
    assert both["Labels"] and both["ImageProperties"]["DominantColors"]
    assert "ImageProperties" not in rekognition.detect_labels(Image=image_of(photo_bytes("chelsea"))), "not asked for"


def properties(rekognition, image: dict, colours: int = 10) -> dict:
    return rekognition.detect_labels(
        Image=image, Features=["IMAGE_PROPERTIES"], Settings={"ImageProperties": {"MaxDominantColors": colours}}
    )["ImageProperties"]


def test_a_flat_grey_is_one_grey_of_no_contrast_or_sharpness(rekognition, image_of) -> None:
    answer = properties(rekognition, image_of(png(FLAT_GREY)))
    assert answer["Quality"] == {"Brightness": pytest.approx(50.196, abs=0.01), "Sharpness": 0.0, "Contrast": 0.0}
    assert [
        (c["HexCode"], c["CSSColor"], c["SimplifiedColor"], c["PixelPercent"]) for c in answer["DominantColors"]
    ] == [("#808080", "gray", "grey", 100.0)]


def test_a_two_colour_split_is_two_colours_half_each(rekognition, image_of) -> None:
    answer = properties(rekognition, image_of(png(SPLIT)), colours=2)
    colours = sorted(
        (c["Red"], c["Green"], c["Blue"], c["CSSColor"], c["SimplifiedColor"], c["PixelPercent"])
        for c in answer["DominantColors"]
    )
    assert colours == [(0, 0, 255, "blue", "blue", 50.0), (255, 0, 0, "red", "red", 50.0)]
    assert len(properties(rekognition, image_of(png(SPLIT)), 0)["DominantColors"]) == 0, "MaxDominantColors 0"
    black_white = np.zeros((200, 300, 3), dtype=np.uint8)
    black_white[:, 150:] = 255
    assert properties(rekognition, image_of(png(black_white)))["Quality"]["Contrast"] == 100.0


def test_a_blurred_copy_is_less_sharp_and_the_foreground_is_the_object(rekognition, image_of) -> None:
    photo = Image.open(io.BytesIO(photo_bytes("chelsea")))
    sharp = properties(rekognition, image_of(png(photo)))["Quality"]["Sharpness"]
    blurred = properties(rekognition, image_of(png(photo.filter(ImageFilter.GaussianBlur(4)))))["Quality"]["Sharpness"]
    assert sharp > 50 > 10 > blurred, (sharp, blurred)
    # A white disc on black: the foreground is white, the background black.
    yy, xx = np.mgrid[0:240, 0:240]
    disc = np.where(((yy - 120) ** 2 + (xx - 120) ** 2 < 60**2)[..., None], 255, 0).astype(np.uint8).repeat(3, axis=2)
    answer = properties(rekognition, image_of(png(disc)), colours=1)
    assert answer["Foreground"]["DominantColors"][0]["SimplifiedColor"] == "white"
    assert answer["Background"]["DominantColors"][0]["SimplifiedColor"] == "black"
    assert answer["Foreground"]["Quality"]["Brightness"] > 95 and answer["Background"]["Quality"]["Brightness"] < 5


@pytest.mark.parametrize(
    "parameters",
    [
        {"Features": ["NOT_A_FEATURE"]},
        {"Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES", "GENERAL_LABELS"]},  # at most 2 (botocore lets it by)
        {"Settings": {"ImageProperties": {"MaxDominantColors": 21}}},
        {"Settings": {"GeneralLabels": {"LabelInclusionFilters": ["x" * 51]}}},
        {"Settings": {"GeneralLabels": {"LabelExclusionFilters": ["Cat"] * 101}}},
        {
            "Settings": {"GeneralLabels": {"LabelCategoryInclusionFilters": ["Animals & Pets"]}}
        },  # & is outside the pattern
        {"MinConfidence": 101},
    ],
    ids=lambda p: next(iter(p)),
)
def test_values_outside_the_service_model_are_refused(rekognition, image_of, parameters) -> None:
    with pytest.raises(ClientError) as info:
        rekognition.detect_labels(Image=image_of(photo_bytes("chelsea")), **parameters)
    assert info.value.response["Error"]["Code"] == "InvalidParameterException", info.value.response
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
