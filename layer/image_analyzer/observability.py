"""Structured JSON logs, CloudWatch metrics and X-Ray traces (Powertools), configured the same way by every
function. Tracing is active on AWS; the local stack turns it off (POWERTOOLS_TRACE_DISABLED)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from image_analyzer.config import setting
from image_analyzer.definitions import METRICS_NAMESPACE, PROJECT


def get_logger() -> Logger:
    return Logger(service=PROJECT, level=setting("LOG_LEVEL"))


def get_metrics() -> Metrics:
    return Metrics(namespace=METRICS_NAMESPACE, service=PROJECT)


def get_tracer() -> Tracer:
    return Tracer(service=PROJECT)
