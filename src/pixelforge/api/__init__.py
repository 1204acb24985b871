"""HTTP only: FastAPI routers in RD's wire shapes, auth dependencies, error envelopes."""

from pixelforge.api.app import create_app

__all__ = ["create_app"]
