"""The Pulumi program's components: storage, ingest, functions, API and monitoring (``__main__.py`` wires them)."""
