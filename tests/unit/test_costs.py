"""What a run costs, priced from what the local stack counted: each count lands on its service's price."""

from __future__ import annotations

from collections import Counter

import pytest

from local import costs


def test_each_count_is_priced_by_its_service() -> None:
    usage = costs.Usage(
        images=1000,
        calls=Counter(
            {
                ("rekognition", "DetectLabels"): 1000,
                ("rekognition", "DetectText"): 200,
                ("s3", "GetObject"): 1000,
                ("s3", "PutObject"): 1000,
                ("s3", "DeleteObject"): 1000,  # free
                ("dynamodb", "UpdateItem"): 3000,
                ("dynamodb", "GetItem"): 4000,
            }
        ),
        billed_gb_s=250.0,
        invocations=1500,
        api_requests=5000,
        client_s3_puts=1000,
        client_s3_gets=1000,
        sqs_requests=1400,
        log_bytes=2_000_000_000,
    )
    cost = costs.cost_by_service(usage)
    assert cost["Rekognition"] == pytest.approx(1.2)
    assert cost["S3"] == pytest.approx(2000 * 0.005 / 1000 + 2000 * 0.0004 / 1000)
    assert cost["DynamoDB"] == pytest.approx(3000 * 0.625 / 1e6 + 4000 * 0.125 / 1e6)
    assert cost["Lambda"] == pytest.approx(250 * 0.0000133334 + 1500 * 0.2 / 1e6)
    assert cost["CloudWatch Logs"] == pytest.approx(1.0) and cost["API Gateway"] == pytest.approx(0.005)
    assert costs.per_thousand_images(usage) == pytest.approx(cost)  # 1,000 images: the same figures
