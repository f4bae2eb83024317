"""The media pipeline: each step a plain function; task-queue wiring lives in ``queue``."""
