"""Remote commands in the console: buttons on a terminal's page, the commands list with
live states, one command (its result, screenshot, log bundle, audit entry), bulk commands
to a filtered set of terminals, and `/api/commands`.

Viewers read; operators (and admins) issue. Every form carries the session's CSRF token;
an API write on a browser session needs `X-CSRF-Token` (a bearer token needs none). A
bulk command runs only with `confirm` equal to the number of terminals it would reach,
counted again when it is sent (a fleet that changed in between is shown again).

The service that signs and publishes (`opscentre.commands.CommandService`) is
`app.state.commands`: set by the running centre, absent (commands refused with a reason)
when it has no signing key or no broker.
"""

from __future__ import annotations

import datetime as dt
import json
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kiosk.fleet import commands_protocol as cp
from opscentre import commands
from opscentre.auth import Principal
from opscentre.commands import CommandError, CommandQuery, CommandService
from opscentre.db import utcnow
from opscentre.web import queries
from opscentre.web.deps import (
    Denied,
    client_address,
    csrf_header_ok,
    db_session,
    language,
    render,
    require,
)
from opscentre.web.i18n import LANGS, normalise
from opscentre.web.models import AuditEntry
from opscentre.web.queries import MAX_ROWS, FleetQuery

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["commands"])
Db = Annotated[Session, Depends(db_session)]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
ActionName = Literal["screenshot", "selftest", "print_test", "logs", "restart",
                     "out_of_service", "in_service", "poll_packages", "set_volume",
                     "screen_schedule"]
StateFilter = Literal["open", "no_answer", "issued", "sent", "unsent", "received", "pending",
                      "running", "done", "refused", "failed", "expired"]
LIVE_EVERY_MS = 1500
INLINE_TYPES = ("image/png", "image/jpeg")

_STRINGS: dict[str, tuple[str, str]] = {
    "nav": ("远程命令", "Commands"),
    "title": ("远程命令", "Remote commands"),
    "panel": ("远程命令", "Remote commands"),
    "recent": ("最近的命令", "Recent commands"),
    "all": ("全部命令", "All commands"),
    "bulk": ("批量命令", "Bulk command"),
    "col.issued": ("发出", "Issued"),
    "col.terminal": ("终端", "Terminal"),
    "col.action": ("命令", "Action"),
    "col.args": ("参数", "Arguments"),
    "col.operator": ("操作者", "Operator"),
    "col.state": ("状态", "State"),
    "col.limit": ("时限", "Time limit"),
    "col.limit_or_end": ("时限 / 结束", "Time limit / ended"),
    "col.result": ("结果", "Result"),
    "none": ("没有命令。", "No commands."),
    "send": ("发送", "Send"),
    "ttl": ("时限（秒）", "Time limit (s)"),
    "left": ("剩余 {t}", "{t} left"),
    "until": ("至 {t}", "until {t}"),
    "viewer_only": ("查看者只能阅读命令；发送命令需要操作员角色。",
                    "Viewers only read commands; sending one needs the operator role."),
    "offline_note": ("终端当前离线：命令不会送达，过期后显示为无应答。",
                     ("The terminal is offline: the command will not reach it and will show "
                     "no answer after its time limit.")),
    "unavailable": ("此运维中心不能发送命令：", "This centre cannot send commands: "),
    "action.screenshot": ("截屏", "Screenshot"),
    "action.selftest": ("自检", "Self-test"),
    "action.print_test": ("打印测试页", "Print a test page"),
    "action.logs": ("收集日志", "Collect logs"),
    "action.restart": ("重启应用", "Restart the app"),
    "action.out_of_service": ("暂停服务", "Out of service"),
    "action.in_service": ("恢复服务", "Back in service"),
    "action.poll_packages": ("立即检查业务包", "Poll packages now"),
    "action.set_volume": ("设置音量", "Set the volume"),
    "action.screen_schedule": ("熄屏时段", "Screen-off hours"),
    "arg.device": ("设备", "Device"),
    "arg.all_devices": ("全部设备", "all devices"),
    "arg.printer": ("打印机", "Printer"),
    "arg.level": ("音量 (0–100)", "Level (0–100)"),
    "arg.off": ("熄屏", "Screen off"),
    "arg.on": ("亮屏", "Screen on"),
    "arg.clear": ("清除熄屏时段", "Clear the schedule"),
    "arg.message": ("向市民显示的说明", "Message shown to citizens"),
    "arg.printer.receipt": ("凭条打印机", "receipt printer"),
    "arg.printer.a4": ("A4 打印机", "A4 printer"),
    "msg.zh_CN": ("简体中文", "Simplified Chinese"),
    "msg.zh_HK": ("繁體中文", "Traditional Chinese"),
    "msg.en": ("English", "English"),
    "msg.default.zh_CN": ("本终端暂停服务，请使用其他终端或前往服务窗口。", ""),
    "msg.default.zh_HK": ("本終端暫停服務，請使用其他終端或前往服務窗口。", ""),
    "msg.default.en": (("This terminal is out of service; please use another terminal or a "
                       "service counter."), ""),
    "confirm.restart": ("终端会在当前市民办理结束后重启应用。确定？",
                        "The app restarts once the current citizen is done. Send?"),
    "confirm.out_of_service": ("终端会在当前市民办理结束后暂停服务。确定？",
                               ("The terminal goes out of service once the current citizen is "
                               "done. Send?")),
    "state.issued": ("正在发送", "sending"),
    "state.sent": ("已发送，等待终端", "sent, awaiting the terminal"),
    "state.unsent": ("未发出", "not sent"),
    "state.received": ("终端已收到", "received"),
    "state.pending": ("等待中 — 等待市民办理结束", ("pending — waiting for the citizen's "
                      "session to end")),
    "state.running": ("执行中", "running"),
    "state.done": ("完成", "done"),
    "state.refused": ("终端拒绝", "refused"),
    "state.failed": ("失败", "failed"),
    "state.expired": ("已过期", "expired"),
    "state.no_answer": ("无应答", "no answer"),
    "state.open": ("未结束", "not finished"),
    "reason.malformed": ("格式错误", "malformed"),
    "reason.unsigned": ("未签名", "unsigned"),
    "reason.unknown_key": ("签名密钥不是终端信任的密钥", ("signed by a key the terminal does not "
                           "pin")),
    "reason.bad_signature": ("签名无效", "bad signature"),
    "reason.wrong_terminal": ("发给了其他终端", "addressed to another terminal"),
    "reason.not_yet_valid": ("尚未生效（时钟偏差）", "not yet valid (clock skew)"),
    "reason.expired": ("已过期", "expired"),
    "reason.lifetime_too_long": ("有效期过长", "lifetime too long"),
    "reason.replayed": ("重放（已执行过）", "replayed (seen before)"),
    "reason.unknown_action": ("终端不认识此命令", "unknown action"),
    "reason.bad_args": ("参数无效", "bad arguments"),
    "reason.too_many": ("终端待办命令过多", "too many commands held by the terminal"),
    "reason.session_active": ("市民正在办理", "a citizen is at the terminal"),
    "reason.superseded": ("已被后来的命令取代", "superseded by a later command"),
    "reason.command.restart.no_supervisor": ("应用不由 systemd 管理，无法重启",
                                             "not run by systemd: nobody would restart it"),
    "reason.command.poll_packages.no_repository": ("终端未配置业务包仓库",
                                                   "no package repository configured"),
    "reason.broker_unavailable": ("消息服务器不可用", "broker unavailable"),
    "reason.refused": ("消息服务器拒绝", "refused by the broker"),
    "command.no_key": ("没有签名密钥（kiosk-ops keys init，serve --command-key）。",
                       "no signing key (kiosk-ops keys init, serve --command-key)."),
    "command.no_broker": ("没有连接消息服务器。", "no broker connection."),
    "command.no_terminals": ("没有选中终端。", "No terminal selected."),
    "command.too_many": ("终端过多。", "Too many terminals."),
    "command.bad_terminal": ("终端编号无效。", "Not a terminal id."),
    "command.bad_ttl": ("时限无效。", "Invalid time limit."),
    "command.bad_args": ("参数无效：", "Invalid arguments: "),
    "command.unknown_action": ("未知命令。", "Unknown action."),
    "command.confirm": ("请确认终端数量后再发送。", "Confirm the number of terminals to send."),
    "command.changed": ("匹配的终端已变化，请重新确认。",
                        "The matching terminals changed; review and confirm again."),
    "command.not_found": ("没有该命令。", "No such command."),
    "bulk.filters": ("选择终端", "Choose terminals"),
    "bulk.preview": ("预览", "Preview"),
    "bulk.matches": ("将发送给 {n} 台终端：", "Goes to {n} terminals:"),
    "bulk.more": ("以及另外 {n} 台", "and {n} more"),
    "bulk.confirm": ("确认发送给 {n} 台终端", "Send to {n} terminals"),
    "bulk.sent": ("批次", "Batch"),
    "detail.title": ("命令", "Command"),
    "detail.history": ("终端应答", "Answers"),
    "detail.at": ("终端时间", "Terminal time"),
    "detail.received": ("中心收到", "Received"),
    "detail.ignored": ("（已忽略：晚到或重复）", "(ignored: late or repeated)"),
    "detail.screenshot": ("截屏", "Screenshot"),
    "detail.attachment": ("附件", "Attachment"),
    "detail.download": ("下载", "Download"),
    "detail.partial": ("正在接收 {k}/{n} 块", "receiving {k} of {n} chunks"),
    "detail.audit": ("审计记录", "Audit entry"),
    "detail.audit_link": ("在审计日志中查看", "in the audit log"),
    "detail.reason": ("原因", "Reason"),
    "detail.key": ("签名密钥", "Signing key"),
    "detail.sent_at": ("消息服务器确认", "Broker acknowledged"),
    "detail.finished_at": ("结束", "Finished"),
}


def strings(lang: str) -> Mapping[str, str]:
    """This module's words in `lang` (English where a text has no English form)."""
    i = LANGS.index(normalise(lang))
    return {k: (v[i] or v[0]) for k, v in _STRINGS.items()}


def _service(request: Request) -> CommandService:
    svc = getattr(request.app.state, "commands", None)
    if svc is None:
        raise CommandError("command.no_broker", status=503)
    if svc.ready:
        raise CommandError(svc.ready, status=503)
    return svc


def _page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> Any:
    return render(request, name, status_code=status_code, C=strings(language(request)),
                  live_every_ms=LIVE_EVERY_MS, **ctx)


def _error_page(request: Request, exc: CommandError) -> Any:
    c = strings(language(request))
    return render(request, "error.html", status_code=exc.status,
                  error=c.get(exc.key, exc.key), error_detail=exc.detail)


def _check_csrf(who: Principal, given: str) -> None:
    from opscentre import auth

    if not auth.csrf_ok(who, given):
        raise Denied("error.csrf")


# -- arguments from a form ---------------------------------------------------------------------
def form_args(action: str, form: Mapping[str, str | None]) -> dict[str, Any]:
    """The command's arguments from the fields of its form (blank fields left out)."""
    def given(name: str) -> str | None:
        v = form.get(name)
        return v.strip() if isinstance(v, str) and v.strip() else None

    args: dict[str, Any] = {}
    if action == "selftest" and given("device"):
        args["device"] = given("device")
    elif action == "print_test":
        args["printer"] = given("printer") or ""
    elif action == "out_of_service":
        args["message"] = {lang: form.get(f"msg_{lang.lower()}") or "" for lang in cp.LANGUAGES}
    elif action == "set_volume":
        level = given("level") or ""
        args["level"] = int(level) if level.isdigit() else level
    elif action == "screen_schedule" and not given("clear"):
        args.update(off=given("off") or "", on=given("on") or "")
    problem = cp.check_args(action, args)
    if problem is not None:
        raise CommandError(f"command.{problem[0]}", problem[1])
    return args


FormText = Annotated[str | None, Form(max_length=cp.MAX_MESSAGE_CHARS * 4)]


class ArgFields:
    """The argument fields every command form may carry."""

    def __init__(self, device: FormText = None, printer: FormText = None,
                 level: FormText = None, off: FormText = None, on: FormText = None,
                 clear: FormText = None, msg_zh_cn: FormText = None,
                 msg_zh_hk: FormText = None, msg_en: FormText = None,
                 ttl_s: FormText = None) -> None:
        self.fields = {"device": device, "printer": printer, "level": level, "off": off,
                       "on": on, "clear": clear, "msg_zh_cn": msg_zh_cn,
                       "msg_zh_hk": msg_zh_hk, "msg_en": msg_en}
        self.ttl_s = ttl_s

    def ttl(self) -> float | None:
        if not self.ttl_s or not self.ttl_s.strip():
            return None
        try:
            return float(self.ttl_s)
        except ValueError:
            raise CommandError("command.bad_ttl") from None


# -- the terminal page's panel and the commands list -----------------------------------------------
def terminal_commands(request: Request, tid: str, limit: int = 10) -> dict[str, Any]:
    """What the terminal page's panel shows (called from its template)."""
    with request.app.state.sessionmaker() as db:
        rows, total = commands.list_commands(db, CommandQuery(terminal=tid, limit=limit))
    svc = getattr(request.app.state, "commands", None)
    problem = "command.no_broker" if svc is None else svc.ready
    return {"rows": rows, "total": total, "unavailable": problem,
            "open": any(not r["final"] for r in rows), "actions": cp.ACTIONS,
            "devices": cp.DEVICES, "printers": cp.PRINTERS, "languages": cp.LANGUAGES,
            "C": strings(language(request)), "live_every_ms": LIVE_EVERY_MS}


def _query(terminal: str | None, state: str | None, action: str | None, batch: str | None,
           limit: int = 100, offset: int = 0) -> CommandQuery:
    return CommandQuery(terminal=terminal or None, state=state or None, action=action or None,
                        batch=batch or None, limit=limit, offset=offset)


TerminalQ = Annotated[str | None, Query(max_length=64)]
BatchQ = Annotated[str | None, Query(max_length=32)]


@pages.get("/commands")
def commands_page(request: Request, db: Db, who: Viewer, terminal: TerminalQ = None,
                  state: StateFilter | None = None, action: ActionName | None = None,
                  batch: BatchQ = None, offset: Annotated[int, Query(ge=0)] = 0) -> Any:
    q = _query(terminal, state, action, batch, 100, offset)
    rows, total = commands.list_commands(db, q)
    return _page(request, "commands.html", rows=rows, total=total, q=q,
                 actions=cp.ACTIONS, states=typing.get_args(StateFilter),
                 live_url=str(request.url.path).replace("/commands", "/commands/rows", 1)
                 + ("?" + request.url.query if request.url.query else ""),
                 open=any(not r["final"] for r in rows))


@pages.get("/commands/rows")
def command_rows(request: Request, db: Db, who: Viewer, terminal: TerminalQ = None,
                 state: StateFilter | None = None, action: ActionName | None = None,
                 batch: BatchQ = None, offset: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=100)] = 100,
                 panel: Annotated[int, Query(ge=0, le=1)] = 0) -> Any:
    """The rows of a list, for the page's live refresh (X-Open says if any is not final)."""
    rows, _ = commands.list_commands(db, _query(terminal, state, action, batch, limit, offset))
    resp = _page(request, "command_rows.html", rows=rows, panel=bool(panel))
    resp.headers["X-Open"] = "1" if any(not r["final"] for r in rows) else "0"
    return resp


@pages.get("/commands/bulk")
def bulk_page(request: Request, db: Db, who: Operator) -> Any:
    return _page(request, "commands_bulk.html", choices=queries.fleet_choices(db),
                 form={}, matched=None, actions=cp.ACTIONS, devices=cp.DEVICES,
                 printers=cp.PRINTERS, languages=cp.LANGUAGES)


def _fleet_ids(db: Session, fq: FleetQuery) -> list[str]:
    rows, total = queries.fleet(db, fq)
    if total > commands.MAX_BULK:
        raise CommandError("command.too_many", str(commands.MAX_BULK))
    return [r["id"] for r in rows]


FilterText = Annotated[str | None, Form(max_length=128)]


@pages.post("/commands/bulk")
def bulk_send(request: Request, db: Db, who: Operator, csrf: Annotated[str, Form(max_length=128)],
              action: Annotated[ActionName, Form()], argf: Annotated[ArgFields, Depends()],
              status: FilterText = None, fault: FilterText = None, paper: FilterText = None,
              app_version: FilterText = None, package: FilterText = None,
              site: FilterText = None, q: FilterText = None,
              confirm: Annotated[int | None, Form()] = None) -> Any:
    _check_csrf(who, csrf)
    form = {"status": status, "fault": fault, "paper": paper, "app_version": app_version,
            "package": package, "site": site, "q": q}
    try:
        fq = _fleet_query(form)
        ids = _fleet_ids(db, fq)
        args = form_args(action, argf.fields)
        if confirm is None or confirm != len(ids):
            status_code = 409 if confirm is not None else 200
            return _page(request, "commands_bulk.html", status_code=status_code,
                         choices=queries.fleet_choices(db), form={**form, **argf.fields,
                                                                  "ttl_s": argf.ttl_s},
                         action=action, matched=ids, args=args, actions=cp.ACTIONS,
                         devices=cp.DEVICES, printers=cp.PRINTERS, languages=cp.LANGUAGES,
                         error="command.changed" if confirm is not None else None)
        issued = _service(request).issue(db, commands.Request(tuple(ids), action, args,
                                                              argf.ttl()),
                                         who.actor, address=client_address(request))
    except CommandError as exc:
        return _error_page(request, exc)
    batch = issued[0].batch if issued else ""
    return RedirectResponse(f"/commands?batch={batch}" if batch else
                            f"/commands/{issued[0].id}", status_code=303)


def _fleet_query(form: Mapping[str, str | None]) -> FleetQuery:
    v = {k: (x.strip() if isinstance(x, str) and x.strip() else None) for k, x in form.items()}
    if v["status"] not in (None, "online", "offline") or v["paper"] not in (
            None, "ok", "low", "out", "problem"):
        raise CommandError("command.bad_filter")
    return FleetQuery(status=v["status"], fault=v["fault"], paper=v["paper"],  # type: ignore[arg-type]
                      app_version=v["app_version"], package=v["package"], site=v["site"],
                      q=v["q"], limit=MAX_ROWS)


@pages.post("/terminals/{tid}/commands")
def terminal_command(request: Request, tid: str, db: Db, who: Operator,
                     csrf: Annotated[str, Form(max_length=128)],
                     action: Annotated[ActionName, Form()],
                     argf: Annotated[ArgFields, Depends()]) -> Any:
    _check_csrf(who, csrf)
    try:
        args = form_args(action, argf.fields)
        [cmd] = _service(request).issue(db, commands.Request((tid,), action, args, argf.ttl()),
                                        who.actor, address=client_address(request))
    except CommandError as exc:
        return _error_page(request, exc)
    return RedirectResponse(f"/commands/{cmd.id}", status_code=303)


def _audit(db: Session, audit_id: int | None) -> dict[str, Any] | None:
    e = db.get(AuditEntry, audit_id) if audit_id is not None else None
    if e is None:
        return None
    return {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "target": e.target, "address": e.address, "detail": dict(e.detail or {})}


def _one(db: Session, cid: str) -> dict[str, Any]:
    row = commands.get_command(db, cid)
    if row is None:
        raise HTTPException(404, detail="error.not_found")
    row["audit"] = _audit(db, row["audit_id"])
    return row


@pages.get("/commands/{cid}")
def command_page(request: Request, cid: str, db: Db, who: Viewer) -> Any:
    c = _one(db, cid)
    online = commands.known_terminals(db, [c["terminal"]]).get(c["terminal"])
    return _page(request, "command.html", c=c, terminal_online=online)


@pages.get("/commands/{cid}/live")
def command_live(request: Request, cid: str, db: Db, who: Viewer) -> Any:
    c = _one(db, cid)
    resp = _page(request, "command_live.html", c=c)
    resp.headers["X-Open"] = "0" if c["final"] and (
        c["attachment"] is None or c["attachment"]["complete"] or c["attachment"]["problem"]
    ) else "1"
    return resp


def _attachment_response(db: Session, cid: str) -> Response:
    f = commands.attachment(db, cid)
    if f is None or f.data is None:
        raise HTTPException(404, detail="error.not_found")
    inline = f.media_type in INLINE_TYPES
    name = "".join(ch for ch in f.name if ch.isalnum() or ch in "._-")[:80] or "attachment"
    return Response(f.data, media_type=f.media_type if inline else "application/octet-stream",
                    headers={"Content-Disposition": f'{"inline" if inline else "attachment"}; '
                             f'filename="{cid[:12]}-{name}"',
                             "X-Content-SHA256": f.sha256})


@pages.get("/commands/{cid}/attachment")
def attachment_page(cid: str, db: Db, who: Viewer) -> Response:
    return _attachment_response(db, cid)


# -- the JSON API --------------------------------------------------------------------------------
class NewCommand(BaseModel):
    """A command for one terminal (`terminal`), a list (`terminals`) or the terminals a
    fleet filter matches (`filter`, the keys of `GET /api/terminals`). More than one
    terminal needs `confirm` = their number (409 tells the number otherwise)."""

    terminal: str | None = Field(default=None, max_length=64)
    terminals: list[str] | None = Field(default=None, max_length=commands.MAX_BULK)
    filter: dict[str, str] | None = None
    action: ActionName
    args: dict[str, Any] = Field(default_factory=dict)
    ttl_s: float | None = Field(default=None, description="time limit, seconds")
    confirm: int | None = Field(default=None, description="bulk: the number of terminals")


def _csrf_api(request: Request, who: Principal) -> None:
    if not csrf_header_ok(request, who):
        raise HTTPException(403, detail="error.csrf")


def _targets(db: Session, body: NewCommand) -> list[str]:
    given = [x for x in (body.terminal, body.terminals, body.filter) if x is not None]
    if len(given) != 1:
        raise CommandError("command.no_terminals", "give one of terminal, terminals, filter")
    if body.terminal is not None:
        return [body.terminal]
    if body.terminals is not None:
        return list(dict.fromkeys(body.terminals))
    f = body.filter or {}
    unknown = set(f) - {"status", "fault", "paper", "app_version", "package", "site", "q"}
    if unknown:
        raise CommandError("command.bad_filter", ", ".join(sorted(unknown)))
    return _fleet_ids(db, _fleet_query({k: f.get(k) for k in (
        "status", "fault", "paper", "app_version", "package", "site", "q")}))


@api.post("/commands", status_code=201,
          summary="Issue a command to a terminal or, with confirm, to several (operator)")
def create_command(body: NewCommand, request: Request, db: Db, who: Operator) -> Any:
    _csrf_api(request, who)
    try:
        ids = _targets(db, body)
        if len(ids) > 1 and body.confirm != len(ids):
            return Response(json.dumps({"detail": "command.confirm", "terminals": len(ids),
                                        "ids": ids[:100]}), status_code=409,
                            media_type="application/json")
        issued = _service(request).issue(db, commands.Request(tuple(ids), body.action,
                                                              body.args, body.ttl_s),
                                         who.actor, address=client_address(request))
    except CommandError as exc:
        raise HTTPException(exc.status, detail={"key": exc.key, "detail": exc.detail}) \
            from None
    online = commands.known_terminals(db, ids)
    rows = [{**commands.command_row(c), "terminal_online": online.get(c.terminal_id)}
            for c in issued]
    if body.terminal is not None:
        return rows[0]
    return {"batch": issued[0].batch or None, "commands": rows}


@api.get("/commands", summary="Commands, newest first (X-Total-Count)")
def list_api(db: Db, who: Viewer, response: Response, terminal: TerminalQ = None,
             state: StateFilter | None = None, action: ActionName | None = None,
             batch: BatchQ = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
             offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    rows, total = commands.list_commands(db, _query(terminal, state, action, batch, limit,
                                                    offset))
    response.headers["X-Total-Count"] = str(total)
    return rows


@api.get("/commands/{cid}", summary="One command: state, answers, result, audit entry")
def get_api(cid: str, db: Db, who: Viewer) -> dict[str, Any]:
    return _one(db, cid)


@api.get("/commands/{cid}/attachment", summary="A command's screenshot or log bundle")
def attachment_api(cid: str, db: Db, who: Viewer) -> Response:
    return _attachment_response(db, cid)


# -- wiring ---------------------------------------------------------------------------------------
def _left(expires_at: str | None, now: dt.datetime | None = None) -> int:
    if not expires_at:
        return 0
    now = now or utcnow()
    return max(0, int((dt.datetime.fromisoformat(expires_at) - now).total_seconds()))


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def register(app: FastAPI) -> None:
    """Add the command pages and API to the console (called by `create_app`)."""
    app.include_router(api)
    app.include_router(pages)
    if not hasattr(app.state, "commands"):
        app.state.commands = None
    env = app.state.templates.env
    env.globals.update(terminal_commands=terminal_commands, command_strings=strings,
                       seconds_left=_left)
    env.filters.update(pretty=_pretty)

    @app.exception_handler(CommandError)
    def command_error(request: Request, exc: CommandError) -> Response:
        if request.url.path.startswith("/api/"):
            return Response(json.dumps({"detail": {"key": exc.key, "detail": exc.detail}}),
                            status_code=exc.status, media_type="application/json")
        result: Response = _error_page(request, exc)
        return result

