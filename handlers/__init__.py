"""Lambda entry points: parse the event, call the core (``image_analyzer``), shape the response."""
