"""The label service answers boto3's own rekognition.detect_labels and rejects what Rekognition rejects."""

from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from tests.harness.files import photo_bytes


def test_detect_labels_from_bytes(rekognition) -> None:
    response = rekognition.detect_labels(Image={"Bytes": photo_bytes("chelsea")}, MaxLabels=4, MinConfidence=60)
    labels = response["Labels"]
    assert 0 < len(labels) <= 4 and all(label["Confidence"] >= 60 for label in labels)
    assert "Cat" in {label["Name"] for label in labels}
    assert all(
        {"Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"} <= set(label) for label in labels
    )
    assert response["LabelModelVersion"]


def test_detect_labels_from_s3(stack, rekognition) -> None:
    s3 = stack.client("s3")
    s3.put_object(Bucket=stack.resources.bucket, Key="converted/test.png", Body=photo_bytes("coffee", "PNG"))
    response = rekognition.detect_labels(
        Image={"S3Object": {"Bucket": stack.resources.bucket, "Name": "converted/test.png"}}
    )
    assert {"Espresso", "Cup", "Beverage"} & {label["Name"] for label in response["Labels"]}


def test_min_confidence_and_max_labels_change_the_answer(rekognition) -> None:
    loose = rekognition.detect_labels(Image={"Bytes": photo_bytes("chelsea")}, MaxLabels=50, MinConfidence=1)["Labels"]
    strict = rekognition.detect_labels(Image={"Bytes": photo_bytes("chelsea")}, MaxLabels=50, MinConfidence=90)[
        "Labels"
    ]
    assert len(loose) > len(strict) > 0
    confidences = [label["Confidence"] for label in loose]
    assert confidences == sorted(confidences, reverse=True)


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("image", "error"),
    [
        ({"Bytes": b"%PDF-1.7 not an image"}, "InvalidImageFormatException"),
        ({"Bytes": b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024 + 10)}, "ImageTooLargeException"),
        ({"Bytes": tiny_png()}, "InvalidParameterException"),
        ({"Bytes": b"\xff\xd8\xff\xe0 truncated"}, "InvalidImageFormatException"),
        ({"S3Object": {"Bucket": "no-such-bucket", "Name": "x.png"}}, "InvalidS3ObjectException"),
    ],
)
def test_bad_input_is_rejected_as_rekognition_does(rekognition, image, error) -> None:
    with pytest.raises(ClientError) as info:
        rekognition.detect_labels(Image=image)
    assert info.value.response["Error"]["Code"] == error
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_out_of_range_parameters(rekognition) -> None:
    with pytest.raises(ClientError) as info:
        rekognition.detect_labels(Image={"Bytes": photo_bytes()}, MinConfidence=150)
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
