"""What the service layer raises on purpose. The API maps each class to a status and an envelope.

ServiceError              base; ``code`` is the machine-readable error code
 ├── InvalidRequest       the request breaks a rule of the catalog or of the wire format
 ├── InvalidImage         an image field is not valid base64, not an image, or too large
 ├── NotSupported         a documented field/style whose capability this server does not have yet
 ├── StyleNotFound        prompt_style names no style this key can use
 ├── InsufficientBalance  the account cannot pay; nothing was charged
 ├── TaskNotFound         no such task for this key (other keys' tasks are "not found" too)
 └── EngineUnavailable    the image generator could not be loaded
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(ServiceError):
    code = "invalid_request"


class InvalidImage(InvalidRequest):
    code = "invalid_image"


class NotSupported(ServiceError):
    code = "not_supported"


class StyleNotFound(ServiceError):
    code = "style_not_found"


class InsufficientBalance(ServiceError):
    code = "insufficient_balance"

    def __init__(self, needed_micros: int, balance_micros: int) -> None:
        super().__init__("Not enough balance.")
        self.needed_micros = needed_micros
        self.balance_micros = balance_micros


class TaskNotFound(ServiceError):
    code = "task_not_found"


class EngineUnavailable(ServiceError):
    code = "engine_unavailable"
