"""The job queue: an in-process worker pool over job rows in the store (see runner.py)."""

from pixelforge.jobs.engine import EngineHolder
from pixelforge.jobs.runner import JobRunner

__all__ = ["EngineHolder", "JobRunner"]
