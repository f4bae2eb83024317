"""The case workflow as data: procedures, transitions and recording rules (issue #6)."""
