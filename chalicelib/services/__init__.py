"""Use cases: each class is one part of the system's work, callable without HTTP or AWS."""
