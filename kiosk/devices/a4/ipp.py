"""A4 printer over IPP (`ipp://HOST:PORT/PATH`), e.g. a driverless office printer.

URI parameters: `timeout` (s, per HTTP request, default 10), `poll` (s, job polling
interval, default 0.5), `user` (requesting-user-name), `cancel_wait` (s, default 5).

`print_pdf` submits the PDF and follows the job to completed / aborted / canceled.
While the job runs it also watches the printer: if the printer stops for paper
out, a jam or an open door, the job is cancelled at once (so that loading paper
later cannot print a copy the citizen already gave up on) and the failure is
reported with the matching key. A job that does not finish within `timeout` of
`print_pdf` is cancelled too and reported as `device.a4.timeout`.
"""

from __future__ import annotations

import http.client
import logging
import re
import time
from typing import Any

from kiosk.devices.a4.ipp_client import IppClient, IppError
from kiosk.devices.a4.ipp_protocol import (
    GroupTag,
    IppMessage,
    JobState,
    Op,
    RequestAttribute,
    RequestGroup,
    Tag,
    operation_attributes,
)
from kiosk.devices.a4.ipp_status import error_key, job_failure_key, printer_status
from kiosk.devices.base import (
    Device,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DeviceUri,
    PrintOutcome,
)

log = logging.getLogger(__name__)

PRINTER_ATTRS = ["printer-state", "printer-state-reasons", "printer-state-message",
                 "printer-is-accepting-jobs", "printer-make-and-model",
                 "document-format-supported", "queued-job-count"]
JOB_ATTRS = ["job-state", "job-state-reasons", "job-state-message",
             "job-impressions-completed", "job-media-sheets-completed"]
# IPP status codes that mean "try later" rather than "this document is bad".
_DOC_ERRORS = {0x040A: "document-format-not-supported", 0x0410: "document-format-error",
               0x0411: "document-unprintable", 0x0408: "request-entity-too-large"}


def count_pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


class IppA4Printer(Device):
    kind = "a4"
    uri_params = frozenset({"timeout", "poll", "cancel_wait", "user"})

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        self.http_timeout = float(uri.param("timeout", "10"))
        self.poll = float(uri.param("poll", "0.5"))
        self.cancel_wait = float(uri.param("cancel_wait", "5"))
        self.user = uri.param("user", "kiosk")
        self.client = self._make_client(uri)
        self._opened = False
        self._model = ""

    def _make_client(self, uri: DeviceUri) -> IppClient:
        if not uri.host:
            raise DeviceError("device.unsupported_uri", f"{uri.raw}: no host", retryable=False)
        port = f":{uri.port}" if uri.port else ""
        return IppClient(f"ipp://{uri.host}{port}{uri.path or '/ipp/print'}", self.http_timeout)

    # -- lifecycle / status -----------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            try:
                msg = self._printer_attributes()
            except IppError as exc:
                raise IppError(peer_status(exc).message) from exc
            self._model = str(msg.first(GroupTag.PRINTER, "printer-make-and-model", ""))
            self._opened = True

    def close(self) -> None:
        self._opened = False

    def capabilities(self) -> dict[str, Any]:
        return {**super().capabilities(), "model": self._model,
                "printer_uri": self.client.printer_uri}

    def _ops(self, extra: list[RequestAttribute] | None = None) -> RequestGroup:
        return operation_attributes(self.client.printer_uri, self.user, extra)

    def _printer_attributes(self) -> IppMessage:
        msg = self.client.request(Op.GET_PRINTER_ATTRIBUTES, [self._ops(
            [(Tag.KEYWORD, "requested-attributes", PRINTER_ATTRS)])])
        if not msg.ok:
            raise IppError(f"Get-Printer-Attributes: status 0x{msg.code:04x} "
                           f"{msg.status_message}")
        return msg

    def status(self) -> DeviceStatus:
        with self.lock:
            try:
                msg = self._printer_attributes()
            except IppError as exc:
                return peer_status(exc)
            p = msg.group(GroupTag.PRINTER)
            return printer_status(
                (p.get("printer-state") or [None])[0], p.get("printer-state-reasons") or [],
                (p.get("printer-is-accepting-jobs") or [True])[0],
                str((p.get("printer-state-message") or [""])[0] or ""))

    # -- jobs -------------------------------------------------------------------------
    def _submit(self, pdf: bytes, title: str, timeout: float) -> int:
        """Send the PDF; return the job id (raises DeviceError)."""
        msg = self.client.request(Op.PRINT_JOB, [self._ops([
            (Tag.NAME, "job-name", title[:255] or "kiosk"),
            (Tag.MIME, "document-format", "application/pdf"),
        ])], data=pdf, timeout=max(self.http_timeout, min(timeout, 60.0)))
        if not msg.ok:
            if msg.code in _DOC_ERRORS:
                raise DeviceError("device.a4.bad_document", _DOC_ERRORS[msg.code],
                                  retryable=False)
            raise IppError(f"Print-Job: status 0x{msg.code:04x} {msg.status_message}")
        job_id = msg.first(GroupTag.JOB, "job-id")
        if not isinstance(job_id, int):
            raise IppError("Print-Job: no job-id in the answer")
        return job_id

    def _job(self, job_id: int) -> dict[str, list[Any]]:
        msg = self.client.request(Op.GET_JOB_ATTRIBUTES, [self._ops([
            (Tag.INTEGER, "job-id", job_id),
            (Tag.KEYWORD, "requested-attributes", JOB_ATTRS)])])
        if not msg.ok:
            raise IppError(f"Get-Job-Attributes {job_id}: status 0x{msg.code:04x}")
        return msg.group(GroupTag.JOB)

    def cancel_job(self, job_id: int) -> bool:
        try:
            msg = self.client.request(Op.CANCEL_JOB, [self._ops([(Tag.INTEGER, "job-id",
                                                                   job_id)])])
        except IppError as exc:
            log.warning("cancel of A4 job %s failed: %s", job_id, exc.detail)
            return False
        return msg.ok

    def print_pdf(self, pdf: bytes, title: str, timeout: float = 120.0) -> PrintOutcome:
        with self.lock:
            if not pdf.startswith(b"%PDF-"):
                return PrintOutcome(False, error_key="device.a4.bad_document",
                                    detail="not a PDF")
            before = self.status()
            key = error_key(before)
            if key:
                return PrintOutcome(False, error_key=key, detail=_describe(before))
            try:
                job_id = self._submit(pdf, title, timeout)
            except DeviceError as exc:
                return PrintOutcome(False, error_key=exc.key, detail=exc.detail)
            log.info("A4 job %s submitted (%d bytes)", job_id, len(pdf))
            try:
                return self._follow(job_id, pdf, time.monotonic() + timeout, timeout)
            except IppError as exc:
                return PrintOutcome(False, job_id=str(job_id), error_key="device.a4.offline",
                                    detail=f"lost the printer while following the job: "
                                           f"{exc.detail}")

    def _follow(self, job_id: int, pdf: bytes, deadline: float, timeout: float) -> PrintOutcome:
        jid = str(job_id)
        while True:
            job = self._job(job_id)
            try:
                state = JobState((job.get("job-state") or [JobState.PENDING])[0])
            except ValueError:
                state = JobState.PENDING
            reasons = [str(r) for r in job.get("job-state-reasons") or []]
            done = (job.get("job-impressions-completed") or [0])[0] or 0
            if state is JobState.COMPLETED:
                pages = done if isinstance(done, int) and done > 0 else count_pdf_pages(pdf)
                return PrintOutcome(True, pages=pages, job_id=jid)
            if state.terminal:
                printer = self.status()
                key = job_failure_key(reasons, printer, state is JobState.CANCELED)
                return PrintOutcome(False, pages=int(done or 0), job_id=jid, error_key=key,
                                    detail=f"job {state.name.lower()}: {' '.join(reasons)}; "
                                           f"printer {_describe(printer)}")
            printer = self.status()
            key = error_key(printer)
            if key and (key != "device.a4.offline" or state is JobState.PROCESSING_STOPPED):
                self._cancel_and_wait(job_id)
                return PrintOutcome(False, pages=int(done or 0), job_id=jid, error_key=key,
                                    detail=f"printer stopped mid-job ({_describe(printer)}); "
                                           f"job cancelled")
            if time.monotonic() >= deadline:
                self._cancel_and_wait(job_id)
                return PrintOutcome(False, pages=int(done or 0), job_id=jid,
                                    error_key="device.a4.timeout",
                                    detail=f"job not finished after {timeout:.0f}s "
                                           f"({state.name.lower()}); cancelled")
            time.sleep(self.poll)

    def _cancel_and_wait(self, job_id: int) -> None:
        if not self.cancel_job(job_id):
            return
        end = time.monotonic() + self.cancel_wait
        while time.monotonic() < end:
            try:
                state = (self._job(job_id).get("job-state") or [0])[0]
            except IppError:
                return
            if state in (JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED):
                return
            time.sleep(min(self.poll, 0.2))


def peer_status(exc: IppError) -> DeviceStatus:
    """Why Get-Printer-Attributes failed, as a status: nobody there (`offline`), or a peer
    that is no IPP printer (`no_device`, "not_ipp"): an HTTP server that refuses the
    POST or answers something else, a port that speaks no HTTP, or one that says nothing."""
    cause = exc.__cause__
    if isinstance(cause, OSError) and not isinstance(cause, (http.client.HTTPException,
                                                             TimeoutError)):
        return DeviceStatus(DeviceState.OFFLINE, frozenset(), exc.detail)
    return DeviceStatus(DeviceState.NO_DEVICE, frozenset({"not_ipp"}),
                        f"no IPP answer: {exc.detail}")


def _describe(st: DeviceStatus) -> str:
    return " ".join([st.state.value, *sorted(st.details), st.message]).strip()
