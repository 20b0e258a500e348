"""The local stack: the very same handlers on emulated AWS, with no account and no Docker."""
