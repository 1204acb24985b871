"""What a request means, independent of HTTP: validation, pricing, money, jobs (see inference.py)."""

from pixelforge.service.errors import (
    EngineUnavailable,
    InsufficientBalance,
    InvalidImage,
    InvalidRequest,
    NotSupported,
    ServiceError,
    StyleNotFound,
    TaskNotFound,
)
from pixelforge.service.inference import (
    InferenceInput,
    InferenceService,
    Outcome,
    PreparedJob,
    Submission,
    TaskView,
)

__all__ = [
    "EngineUnavailable",
    "InferenceInput",
    "InferenceService",
    "InsufficientBalance",
    "InvalidImage",
    "InvalidRequest",
    "NotSupported",
    "Outcome",
    "PreparedJob",
    "ServiceError",
    "StyleNotFound",
    "Submission",
    "TaskNotFound",
    "TaskView",
]
