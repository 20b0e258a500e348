"""Image Analyzer core: plain functions on plain data, shared by the Lambda handlers and the local stack.

Nothing here knows whether it runs on Lambda or locally; AWS calls sit behind the small adapters in ``aws``.
"""

__version__ = "0.1.0"
