"""Structured JSON logs and CloudWatch metrics (Powertools), configured the same way by every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from image_analyzer.config import setting
from image_analyzer.definitions import METRICS_NAMESPACE, PROJECT


def get_logger() -> Logger:
    return Logger(service=PROJECT, level=setting("LOG_LEVEL"))


def get_metrics() -> Metrics:
    return Metrics(namespace=METRICS_NAMESPACE, service=PROJECT)
