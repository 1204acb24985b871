"""The in-process worker pool: threads that claim pending job rows and run them.

The store is the source of truth: a job is a row, claimed ``pending → running`` atomically
(``store.jobs.claim_next``), so several workers — or several processes on one database — never run
one job twice. Each run gets a :class:`CancelToken` that a timer cancels after
``Settings.job_timeout_s``; the engine checks it at every step. A job that fails for any reason is
marked failed with an RD-style error (``{"status_code", "detail"}``) and refunded.

On start-up, jobs left ``running`` by a crash are failed and refunded; jobs left ``pending`` are
simply picked up. Nothing is lost.

Waiting: :meth:`JobRunner.expect` returns a ``concurrent.futures.Future`` that resolves when this
process finishes the job, so a synchronous HTTP request can await it without polling.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import Future
from typing import Any

from pixelforge.config import Settings
from pixelforge.engines import (
    CancelToken,
    EngineCapabilities,
    EngineOutOfMemory,
    EngineUnavailable,
    GenerationCancelled,
    UnsupportedFeature,
)
from pixelforge.jobs import postprocess as _post
from pixelforge.jobs.engine import EngineHolder
from pixelforge.jobs.images import ImageError, encode_png
from pixelforge.jobs.pipeline import render

log = logging.getLogger("pixelforge.jobs")

POLL_INTERVAL_S = 0.5
PURGE_INTERVAL_S = 600.0
GENERIC_ERROR = "Unable to run inference."


def _store() -> Any:
    from pixelforge.store import files, jobs, ledger

    return jobs, ledger, files


class JobRunner:
    def __init__(
        self, settings: Settings, db: Any, engines: EngineHolder, workers: int | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.engines = engines
        self.workers = workers or settings.job_workers
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._futures: dict[str, Future] = {}
        self._tokens: dict[str, CancelToken] = {}
        self._progress: dict[str, float] = {}
        self._last_purge = 0.0

    # ------------------------------------------------------------------ lifecycle
    def recover(self) -> list[str]:
        """Fail and refund jobs a previous process left running (it crashed mid-generation)."""
        jobs, _, _ = _store()
        interrupted = list(jobs.fail_interrupted(self.db, refund=True))
        for job_id in interrupted:
            log.warning("job %s was interrupted by a restart: failed and refunded", job_id)
        return interrupted

    def start(self, recover: bool = True) -> None:
        if self._threads:
            return
        if recover:
            self.recover()
        self._stop.clear()
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"pixelforge-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            for token in self._tokens.values():
                token.cancel("server shutting down")
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    # ------------------------------------------------------------------ submitting and waiting
    def expect(self, job_id: str) -> Future:
        """A future resolved (with the final status) when this process finishes ``job_id``.
        Call it BEFORE the job row is committed so a fast worker cannot finish it unseen."""
        with self._lock:
            fut = self._futures.get(job_id)
            if fut is None:
                fut = self._futures[job_id] = Future()
            return fut

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def notify(self) -> None:
        """A job was queued: wake an idle worker now instead of at its next poll."""
        self._wake.set()

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        with self._lock:
            token = self._tokens.get(job_id)
        if token is None:
            return False
        token.cancel(reason)
        return True

    def progress(self, job_id: str) -> float | None:
        return self._progress.get(job_id)

    # ------------------------------------------------------------------ capabilities
    def engine_capabilities(self) -> EngineCapabilities:
        return self.engines.capabilities()

    @staticmethod
    def supports_background_removal() -> bool:
        return _post.supports_background_removal()

    # ------------------------------------------------------------------ the worker
    def _loop(self) -> None:
        jobs, _, _ = _store()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                job = jobs.claim_next(self.db, self._worker_name())
            except Exception:
                log.exception("could not claim a job")
                self._stop.wait(POLL_INTERVAL_S)
                continue
            if job is None:
                self._maybe_purge()
                self._wake.wait(POLL_INTERVAL_S)
                continue
            self.run_job(job)

    def run_job(self, job: Any) -> str:
        """Run one claimed (running) job to its end; returns the final status."""
        jobs, _, files = _store()
        token = CancelToken()
        with self._lock:
            self._tokens[job.id] = token
        self._progress[job.id] = 0.0
        timer = threading.Timer(self.settings.job_timeout_s, token.cancel, args=("timed out",))
        timer.daemon = True
        timer.start()
        status = "failed"
        error: dict[str, Any] | None = None
        try:
            engine = self.engines.get()
            images = render(engine, job.request, self.settings, token, self._progress_cb(job.id))
            token.raise_if_cancelled()
            file_ids = []
            for img in images:
                stored = files.save_file(
                    self.db,
                    self.settings.data_dir,
                    job.account_id,
                    job.id,
                    encode_png(img),
                    "image/png",
                    self.settings.output_ttl_s,
                )
                file_ids.append(stored.id)
            if jobs.finish_job(self.db, job.id, {"file_ids": file_ids, "finished_at": time.time()}) is None:
                # Failed meanwhile (restart recovery by another process): never deliver it as a success.
                status = "failed"
            else:
                status = "succeeded"
        except GenerationCancelled as exc:
            reason = str(exc) or token.reason
            error = {"status_code": 500, "detail": f"Generation {reason}; the charge was refunded."}
        except UnsupportedFeature as exc:
            error = {"status_code": 400, "detail": str(exc)}
        except (ImageError, ValueError) as exc:
            error = {"status_code": 400, "detail": str(exc)}
        except EngineOutOfMemory:
            error = {"status_code": 500, "detail": "The engine ran out of memory; try a smaller request."}
        except EngineUnavailable as exc:
            error = {"status_code": 503, "detail": f"The image engine is unavailable: {exc}"}
        except Exception:
            log.exception("job %s failed", job.id)
            error = {"status_code": 500, "detail": GENERIC_ERROR}
        finally:
            timer.cancel()
        if error is not None:
            try:
                jobs.fail_job(self.db, job.id, error, refund=True)  # failed + refunded, one transaction
            except Exception:
                log.exception("could not fail and refund job %s", job.id)
        with self._lock:
            self._tokens.pop(job.id, None)
            fut = self._futures.pop(job.id, None)
        self._progress.pop(job.id, None)
        if fut is not None and not fut.done():
            fut.set_result(status)
        return status

    @staticmethod
    def _worker_name() -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:200]

    def _progress_cb(self, job_id: str) -> Any:
        def cb(fraction: float) -> None:
            self._progress[job_id] = max(0.0, min(1.0, float(fraction)))

        return cb

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < PURGE_INTERVAL_S:
            return
        self._last_purge = now
        try:
            _, _, files = _store()
            files.purge_expired(self.db, self.settings.data_dir)
        except Exception:
            log.exception("could not purge expired files")
