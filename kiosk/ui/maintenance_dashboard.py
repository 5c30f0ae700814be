"""The maintenance dashboard: live device status, self-tests, test actions, log export.

Status is polled on a worker thread every couple of seconds while the dashboard is open;
every button runs its device call on a worker thread and the answer comes back as a
queued signal, so a device that hangs never freezes the screen.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.i18n import Translator
from kiosk.maintenance import actions, selftest
from kiosk.maintenance.access import AccessResult, MaintenanceAccess
from kiosk.maintenance.actions import ActionResult
from kiosk.maintenance.health import DeviceHealth, HealthSnapshot, StatusProber, collect
from kiosk.maintenance.messages import message_text, metric_text, phrase
from kiosk.runtime import Runtime
from kiosk.ui import theme
from kiosk.ui.widgets import button, label, set_flag
from kiosk.ui.workers import Relay, emit, run_async

log = logging.getLogger(__name__)

POLL_S = 2.0
READ_TIMEOUT_S = 20.0
# Extra buttons per device kind: (action, label key).
KIND_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "receipt": (("test_receipt", "maintenance.btn.test_receipt"),),
    "a4": (("test_page", "maintenance.btn.test_page"),),
    "idcard": (("card_read", "maintenance.btn.card_read"),),
    "sscard": (("card_read", "maintenance.btn.card_read"),),
    "scanner": (("scan", "maintenance.btn.scan"),),
    "camera": (("camera", "maintenance.btn.camera"),),
}


class DeviceRow(QWidget):
    def __init__(self, kind: str, m: theme.Metrics, t: Translator, on_action: Any) -> None:
        super().__init__()
        self.setObjectName("deviceRow")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.kind = kind
        self.setProperty("kind", kind)
        h = QHBoxLayout(self)
        h.setContentsMargins(m.px(16), m.px(10), m.px(16), m.px(10))
        name = t(f"maintenance.device.{kind}") if t.has(f"maintenance.device.{kind}") else kind
        self.name = label(name, "deviceName")  # wraps: "Social security card reader"
        self.name.setMinimumWidth(m.px(220))
        h.addWidget(self.name)
        self.state = label("…", "deviceState", wrap=False)
        h.addWidget(self.state)
        self.details = label("", "deviceDetails")
        h.addWidget(self.details, 1)
        self.buttons: dict[str, QPushButton] = {}
        for action, key in (("selftest", "maintenance.btn.selftest"),
                            *KIND_ACTIONS.get(kind, ()), ("restart", "maintenance.btn.restart")):
            b = button(t(key), "devAction")
            # Never narrower than its label: the details beside it wrap instead.
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            b.setProperty("action", action)
            b.clicked.connect(lambda _=False, a=action: on_action(kind, a))
            h.addWidget(b)
            self.buttons[action] = b

    def show_health(self, d: DeviceHealth, t: Translator) -> None:
        level = "none" if not d.fitted else ("fault" if d.fault else
                                             "warning" if d.warning else "ok")
        self.state.setText(_tr(t, "maintenance.state.", d.state))
        self.state.setProperty("level", level)
        set_flag(self.state, "fault", d.fault)
        parts = [_tr(t, "maintenance.detail.", x) for x in d.details]
        parts += [metric_text(t, k, v) for k, v in sorted(d.metrics.items())]
        if d.message:
            parts.append(message_text(t, d.message))
        self.details.setText("  ·  ".join(parts))

    def set_busy(self, busy: bool, fitted: bool = True) -> None:
        for b in self.buttons.values():
            b.setEnabled(not busy and fitted)


class Dashboard(QWidget):
    leaveRequested = Signal()
    restartAppRequested = Signal()
    trainingRequested = Signal()

    def __init__(self, runtime: Runtime, m: theme.Metrics, t: Translator,
                 access: MaintenanceAccess, training: bool = False) -> None:
        super().__init__()

        self.setObjectName("maintDashboard")
        self.runtime, self.m, self.t, self.access = runtime, m, t, access
        self.relay = Relay()
        self.relay.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self.prober = StatusProber()
        self.snapshot: HealthSnapshot | None = None
        self.results: dict[str, Any] = {}  # last result per action tag (tests read it)
        self._busy: set[str] = set()
        self._fitted: dict[str, bool] = {}
        self._poll_stop = threading.Event()
        self._read_cancel = threading.Event()

        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.px(10))
        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(label(t("maintenance.dashboard.title"), "maintTitle"))
        self.who = label("", "maintHint", wrap=False)
        titles.addWidget(self.who)
        top.addLayout(titles, 1)
        actions = [("selftestAll", "maintenance.btn.selftest_all", self.selftest_all),
                   ("exportLogs", "maintenance.btn.export", self.show_export)]
        if training:  # only on simulated devices (kiosk/maintenance/training.py)
            actions.append(("training", "technician.training.open",
                            self.trainingRequested.emit))
        for name, key, slot in (*actions,
                                ("restartApp", "maintenance.btn.restart_app",
                                 self.restartAppRequested.emit),
                                ("leave", "maintenance.btn.leave", self.leaveRequested.emit)):
            b = button(t(key), "maintAction", primary=name == "leave")
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            b.setProperty("action", name)
            b.clicked.connect(slot)
            top.addWidget(b)
        v.addLayout(top)
        self.info = label("", "maintInfo")
        v.addWidget(self.info)

        self.rows: dict[str, DeviceRow] = {}
        box = QWidget()
        rows = QVBoxLayout(box)
        rows.setSpacing(m.px(8))
        for kind in runtime.devices.devices:
            row = DeviceRow(kind, m, t, self.run_action)
            self.rows[kind] = row
            rows.addWidget(row)
        rows.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(box)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumHeight(m.px(2 * theme.TARGETS["button"][1]))
        # Landscape: the device list beside the reports, so that every row (88 px touch
        # targets) fits without scrolling; portrait: one above the other.
        self.body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.body.setSpacing(m.px(12))
        self.body.addWidget(scroll, 2)
        side = QVBoxLayout()
        side.setSpacing(m.px(8))
        self.body.addLayout(side, 1)
        v.addLayout(self.body, 1)

        self.export_panel = QWidget()
        self.export_grid = QGridLayout(self.export_panel)
        self.export_panel.hide()
        side.addWidget(self.export_panel)
        self.camera = QWidget()
        self.camera.setObjectName("cameraPreview")
        self.camera.setFixedHeight(m.px(260))
        self.camera_lay = QHBoxLayout(self.camera)
        self.camera_lay.setContentsMargins(0, 0, 0, 0)
        self.camera_view: Any = None
        self.camera.hide()
        side.addWidget(self.camera)
        self.camera_msg = label("", "maintHint")
        side.addWidget(self.camera_msg)
        self.report = label("", "maintReport")
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.report.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        report_box = QScrollArea()
        report_box.setWidgetResizable(True)
        report_box.setWidget(self.report)
        report_box.setFrameShape(QScrollArea.Shape.NoFrame)
        report_box.setMinimumHeight(m.px(190))
        self.report_box = report_box
        side.addWidget(report_box, 1)
        self._landscape: bool | None = None
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._render_info)

    def resizeEvent(self, event: Any) -> None:  # Qt API name
        super().resizeEvent(event)
        self._arrange(self.width() >= self.height())

    def _arrange(self, landscape: bool) -> None:
        if landscape == self._landscape:
            return
        self._landscape = landscape
        if landscape:
            self.body.setDirection(QBoxLayout.Direction.LeftToRight)
            self.body.setStretch(0, 3)
            self.body.setStretch(1, 1)
            self.report_box.setMaximumHeight(16777215)
        else:
            self.body.setDirection(QBoxLayout.Direction.TopToBottom)
            self.body.setStretch(0, 1)
            self.body.setStretch(1, 0)
            self.report_box.setMaximumHeight(self.m.px(190))

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, res: AccessResult) -> None:
        self.who.setText(self.t("maintenance.dashboard.who", method=self.t(
            f"maintenance.method.{res.method}"), who=res.who if res.method == "card" else ""))
        self.report.setText("")
        self.export_panel.hide()
        self._poll_stop = threading.Event()
        self._read_cancel = threading.Event()
        threading.Thread(target=self._poll, args=(self._poll_stop,), daemon=True,
                         name="maint-health").start()
        self._clock.start()

    def stop(self) -> None:
        self._poll_stop.set()
        self._read_cancel.set()
        self._clock.stop()
        self._close_camera()
        self.camera_msg.setText("")
        self.prober.close()

    def _poll(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                snap = collect(self.runtime, self.prober, device_timeout_s=POLL_S)
            except Exception:
                log.exception("health snapshot failed")
            else:
                if not stop.is_set():
                    emit(self.relay, "health", snap)
            stop.wait(POLL_S)

    # -- actions -----------------------------------------------------------------------
    def run_action(self, kind: str, action: str) -> None:
        dev = self.runtime.devices.get(kind)
        if dev is None or kind in self._busy:
            return
        if action == "camera":
            self._toggle_camera(dev)
            return
        tid = self.runtime.config.terminal.id
        cancel = self._read_cancel
        jobs = {
            "selftest": lambda: selftest.check_device(kind, dev),
            "restart": lambda: actions.restart(dev),
            "test_receipt": lambda: actions.print_test_receipt(dev, tid),
            "test_page": lambda: actions.print_test_page(dev, tid),
            "card_read": lambda: actions.try_card_read(dev, READ_TIMEOUT_S, cancel),
            "scan": lambda: actions.try_scan(dev, READ_TIMEOUT_S, cancel),
        }
        if action not in jobs:
            return
        self._set_busy(kind, True)
        prompt = {"card_read": "maintenance.report.present_card",
                  "scan": "maintenance.report.present_code"}.get(action,
                                                                  "maintenance.report.running")
        self.report.setText(self.t(prompt, device=self.rows[kind].name.text()))
        run_async(self.relay, f"{action}:{kind}", jobs[action])

    def selftest_all(self) -> None:
        if "*" in self._busy:
            return
        self._set_busy("*", True)
        self.report.setText(self.t("maintenance.report.running", device="*"))
        devices = dict(self.runtime.devices.devices)
        run_async(self.relay, "selftest:*", lambda: selftest.run_all(devices))

    def show_export(self) -> None:
        from kiosk.maintenance.logexport import export_targets

        while self.export_grid.count():
            item = self.export_grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        targets = export_targets([self.runtime.config.data_dir / "exports"])
        self.export_grid.addWidget(label(self.t("maintenance.export.choose"), "maintHint"),
                                   0, 0, 1, 3)
        for i, path in enumerate(targets):
            b = button(str(path), "exportTarget")
            b.setProperty("path", str(path))
            b.clicked.connect(lambda _=False, p=path: self.export_to(p))
            self.export_grid.addWidget(b, 1 + i // 3, i % 3)
        self.export_panel.show()

    def export_to(self, dest: Path) -> None:
        from kiosk.logs import log_file
        from kiosk.maintenance.logexport import export_logs
        self.export_panel.hide()
        self.report.setText(self.t("maintenance.report.exporting"))
        snap = self.snapshot.to_dict() if self.snapshot else None
        cfg = self.runtime.config
        run_async(self.relay, "export:-", lambda: export_logs(log_file(cfg), dest,
                                                              cfg.terminal.id, snapshot=snap))

    # -- results -------------------------------------------------------------------------
    def _on_done(self, tag: str, result: Any) -> None:
        if tag == "health":
            self._show_health(result)
            return
        action, _, kind = tag.partition(":")
        self.results[tag] = result
        self._set_busy(kind, False)
        self.report.setText(self._describe(action, kind, result))
        ok = _ok(result)
        self.access.action(action, device=kind, ok=ok)

    def _describe(self, action: str, kind: str, result: Any) -> str:
        t = self.t
        if isinstance(result, Exception):
            return f"✘ {t('maintenance.result.error')}: {type(result).__name__}"
        if isinstance(result, selftest.SelftestRun):
            lines = [("✔ " if result.passed else "✘ ") + t(
                "maintenance.report.selftest_all_ok" if result.passed
                else "maintenance.report.selftest_all_failed")]
            lines += [self._selftest_line(r) for r in result.results]
            return "\n".join(lines)
        if isinstance(result, selftest.DeviceResult):
            return self._selftest_line(result, checks=True)
        if isinstance(result, ActionResult):
            head = ("✔ " if result.ok else "✘ ") + _tr(t, "", result.key)
            name = self.rows[kind].name.text() if kind in self.rows else kind
            detail = _action_detail(t, result)
            return f"{head} — {name}" + (f"\n{detail}" if detail else "")
        from kiosk.maintenance.logexport import ExportResult

        if isinstance(result, ExportResult):
            return "✔ " + t("maintenance.report.exported", path=str(result.path),
                            files=len(result.files))
        key = getattr(result, "key", "")
        return "✘ " + (_tr(t, "", key) if key else str(result))

    def _selftest_line(self, r: selftest.DeviceResult, checks: bool = False) -> str:
        name = self.rows[r.kind].name.text() if r.kind in self.rows else r.kind
        mark = {"pass": "✔", "fail": "✘", "not_fitted": "–"}[r.verdict.value]
        line = f"{mark} {name}{self.t('technician.colon')}" \
               f"{self.t('maintenance.verdict.' + r.verdict.value)}"
        shown = [c for c in r.checks if checks or not c.passed]
        if shown:
            sep = self.t("technician.list_sep")
            line += "  (" + sep.join(
                f"{'✔' if c.passed else '✘'} {_tr(self.t, 'maintenance.check.', c.name)} "
                f"{phrase(self.t, c.detail)}".strip() for c in shown) + ")"
        return line

    def _show_health(self, snap: HealthSnapshot) -> None:
        if not self.isVisible() and self._poll_stop.is_set():
            return
        self.snapshot = snap
        for d in snap.devices:
            row = self.rows.get(d.kind)
            if row is not None:
                row.show_health(d, self.t)
                self._fitted[d.kind] = d.fitted
                row.set_busy(d.kind in self._busy, d.fitted)
        self._render_info()

    def _render_info(self) -> None:
        s = self.snapshot
        if s is None:
            return
        t = self.t
        pk = s.packages.get("active") or []
        ob = s.outbox
        outbox = (t("maintenance.info.outbox", depth=ob.get("total", 0), dead=ob.get("dead", 0))
                  if ob.get("available") else t("maintenance.info.no_outbox"))
        parts = [t("maintenance.info.version", version=s.app_version),
                 t("maintenance.info.uptime", uptime=_duration(s.uptime_s)),
                 t("maintenance.info.disk", free=s.disk.get("free_mb", "?"),
                   pct=s.disk.get("used_pct", "?")),
                 t("maintenance.info.network", state=_tr(t, "maintenance.net.",
                                                         str(s.network.get("state", "?")))),
                 outbox, t("maintenance.info.packages", packages=", ".join(map(str, pk)))]
        if s.last_error:
            when = datetime.fromtimestamp(s.last_error["at"]).strftime("%m-%d %H:%M")
            parts.append(t("maintenance.info.last_error", at=when,
                           message=s.last_error["message"][:80]))
        self.info.setText("   ·   ".join(parts))

    def _set_busy(self, kind: str, busy: bool) -> None:
        (self._busy.add if busy else self._busy.discard)(kind)
        for k, row in self.rows.items():
            row.set_busy(k in self._busy or "*" in self._busy, self._fitted.get(k, True))

    # -- camera preview (kiosk/ui/camera_view.py; frames stay in memory) ------------------
    def _toggle_camera(self, dev: Any) -> None:
        if self.camera.isVisible():
            self._close_camera()
            return
        self.camera_msg.setText("")
        if not callable(getattr(dev, "subscribe", None)):
            self.camera_msg.setText(self.t("maintenance.camera.unavailable"))
            return
        try:
            from kiosk.ui.camera_view import CameraView

            self.camera_view = CameraView(dev, guide="center", max_width=640)
        except Exception as exc:  # noqa: BLE001 - the panel names the error
            self.camera_msg.setText(f"✘ {type(exc).__name__}")
            return
        self.camera_lay.addWidget(self.camera_view)
        self.camera.show()
        self.access.action("camera_preview", device="camera", ok=True)

    def _close_camera(self) -> None:
        view, self.camera_view = self.camera_view, None
        if view is not None:
            view.stop()
            view.hide()
            view.setParent(None)
            view.deleteLater()
        self.camera.hide()


def _ok(result: Any) -> bool:
    if isinstance(result, Exception):
        return False
    for attr in ("ok", "passed"):
        if hasattr(result, attr):
            return bool(getattr(result, attr))
    if isinstance(result, selftest.DeviceResult):
        return result.verdict is not selftest.Verdict.FAIL
    return True


def _tr(t: Translator, prefix: str, value: str) -> str:
    key = prefix + value
    return t(key) if t.has(key) else value


def _action_detail(t: Translator, result: ActionResult) -> str:
    """What an action found, in the technician's language (masked values stay masked)."""
    data = result.data
    if result.action == "scan" and result.ok:
        return t("maintenance.report.scan_detail", length=data.get("length", 0),
                 masked=data.get("masked", ""))
    if result.action == "card_read" and result.ok:
        # The masked ID number only: a name is in the citizen's script, not the screen's.
        return t("maintenance.report.card_detail", id_number=data.get("id_number", ""),
                 card=_tr(t, "maintenance.card_kind.", str(data.get("card_kind", ""))))
    if result.action == "restart" and isinstance(data.get("status"), dict):
        st = data["status"]
        return " · ".join([_tr(t, "maintenance.state.", st.get("state", "")),
                           *(_tr(t, "maintenance.detail.", d) for d in st.get("details", ()))])
    if result.ok and data.get("pages"):
        return t("maintenance.report.pages", pages=data["pages"])
    return phrase(t, result.detail)


def _duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    return (f"{d}d " if d else "") + f"{h:02d}:{s // 60:02d}"
