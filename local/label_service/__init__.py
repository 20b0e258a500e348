"""A Rekognition-compatible DetectLabels service that computes real labels offline (EfficientNet-Lite0, ONNX)."""
