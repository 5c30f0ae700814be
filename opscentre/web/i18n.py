"""The console's words in Simplified Chinese and English (ops use either)."""

from __future__ import annotations

from collections.abc import Mapping

LANGS = ("zh_CN", "en")
DEFAULT = "zh_CN"

_STRINGS: dict[str, tuple[str, str]] = {
    # key: (zh_CN, en)
    "app.title": ("莞家政务 运维中心", "莞家政务 Operations Centre"),
    "nav.fleet": ("终端", "Fleet"),
    "nav.alerts": ("告警", "Alerts"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.users": ("用户与令牌", "Users and tokens"),
    "nav.api": ("API", "API"),
    "nav.logout": ("退出", "Log out"),
    "nav.signed_in_as": ("当前用户", "Signed in as"),
    "nav.language": ("English", "中文"),
    "login.title": ("登录", "Log in"),
    "login.name": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "auth.login_failed": ("用户名或密码错误。", "Wrong user name or password."),
    "auth.rate_limited": ("失败次数过多，请稍后再试。",
                          "Too many failed attempts; try again later."),
    "auth.bad_name": ("用户名只能包含字母、数字和 . _ @ -，最长 64 个字符。",
                      "A name is letters, digits and . _ @ - (at most 64)."),
    "auth.bad_role": ("未知角色。", "Unknown role."),
    "auth.password_short": ("密码至少 10 个字符。", "A password has at least 10 characters."),
    "auth.password_long": ("密码过长。", "The password is too long."),
    "auth.user_exists": ("该用户已存在。", "That user exists already."),
    "auth.token_exists": ("该名称的令牌已存在。", "A token of that name exists already."),
    "auth.no_such_user": ("没有该用户。", "No such user."),
    "auth.no_such_token": ("没有该令牌。", "No such token."),
    "auth.self_change": ("不能修改或停用自己的账户。",
                         "You cannot change the role of, or disable, your own account."),
    "error.forbidden": ("没有权限：此页面需要更高的角色。",
                        "Forbidden: this page needs a higher role."),
    "error.csrf": ("表单已过期或来源不明，请返回后重试。",
                   "The form expired or did not come from this console; go back and retry."),
    "error.not_found": ("未找到。", "Not found."),
    "error.bad_request": ("请求参数无效：", "Invalid request: "),
    "error.conflict": ("该告警已关闭，无法确认。",
                       "That alert is closed and cannot be acknowledged."),
    "error.title": ("出错了", "Something went wrong"),
    "error.back": ("返回", "Back"),
    "fleet.title": ("终端总览", "Fleet"),
    "fleet.total": ("终端", "terminals"),
    "fleet.shown": ("显示", "Shown"),
    "fleet.online": ("在线", "online"),
    "fleet.offline": ("离线", "offline"),
    "fleet.with_faults": ("有故障", "with faults"),
    "fleet.paper_low": ("缺纸", "paper low"),
    "fleet.paper_out": ("无纸", "paper out"),
    "filter.status": ("状态", "Status"),
    "filter.any": ("全部", "any"),
    "filter.fault": ("故障", "Fault"),
    "filter.fault_any": ("有故障", "any fault"),
    "filter.fault_none": ("无故障", "no fault"),
    "filter.paper": ("纸张", "Paper"),
    "filter.paper_problem": ("缺纸或无纸", "low or out"),
    "filter.app_version": ("应用版本", "App version"),
    "filter.package": ("业务包", "Package"),
    "filter.site": ("站点", "Site"),
    "filter.search": ("终端编号", "Terminal id"),
    "filter.apply": ("筛选", "Filter"),
    "filter.clear": ("清除", "Clear"),
    "col.id": ("终端", "Terminal"),
    "col.site": ("站点", "Site"),
    "col.status": ("状态", "Status"),
    "col.last_seen": ("最后联系", "Last seen"),
    "col.app_version": ("应用版本", "App"),
    "col.packages": ("业务包", "Packages"),
    "col.faults": ("故障", "Faults"),
    "col.paper": ("纸张", "Paper"),
    "col.outbox": ("待发队列", "Outbox"),
    "col.alerts": ("告警", "Alerts"),
    "status.online": ("在线", "online"),
    "status.offline": ("离线", "offline"),
    "paper.ok": ("正常", "ok"),
    "paper.low": ("缺纸", "low"),
    "paper.out": ("无纸", "out"),
    "page.prev": ("上一页", "Previous"),
    "page.next": ("下一页", "Next"),
    "terminal.title": ("终端", "Terminal"),
    "terminal.overview": ("概况", "Overview"),
    "terminal.since": ("自 {t} 起", "since {t}"),
    "terminal.free": ("可用", "free"),
    "terminal.days_n": ("{n} 天", "{n} d"),
    "package.active": ("已启用业务包", "Active packages"),
    "package.staged": ("待启用", "Staged"),
    "package.last_check": ("上次检查", "Last check"),
    "package.last_error": ("最近错误", "Last error"),
    "consumable.paper": ("纸张", "paper"),
    "consumable.toner": ("碳粉", "toner"),
    "terminal.offline_reason": ("离线原因", "Offline reason"),
    "terminal.uptime": ("运行时间", "Uptime"),
    "terminal.clock_skew": ("时钟偏差", "Clock skew"),
    "terminal.disk": ("磁盘", "Disk"),
    "terminal.maintenance": ("维护模式", "Maintenance mode"),
    "terminal.package_problem": ("业务包问题", "Package problem"),
    "terminal.devices": ("设备", "Devices"),
    "terminal.device": ("设备", "Device"),
    "terminal.state": ("状态", "State"),
    "terminal.details": ("详情", "Details"),
    "terminal.consumables": ("耗材", "Consumables"),
    "terminal.outbox": ("待发队列", "Outbox"),
    "terminal.outbox_depth": ("条数", "Items"),
    "terminal.outbox_oldest": ("最早一条等待", "Oldest waiting"),
    "terminal.versions": ("版本", "Versions"),
    "terminal.timeline": ("时间线", "Timeline"),
    "terminal.events": ("事件", "Events"),
    "terminal.alerts": ("告警", "Alerts"),
    "terminal.none": ("无", "none"),
    "terminal.chart_online": ("在线", "Online"),
    "terminal.chart_faults": ("故障数", "Faults"),
    "terminal.chart_paper": ("纸张", "Paper"),
    "terminal.chart_outbox": ("待发队列", "Outbox"),
    "terminal.chart_no_data": ("此时间段没有健康数据。", "No health data in this period."),
    "event.at": ("时间", "At"),
    "event.type": ("类型", "Type"),
    "event.device": ("设备", "Device"),
    "event.detail": ("内容", "Detail"),
    "alerts.title": ("告警", "Alerts"),
    "alerts.state": ("状态", "State"),
    "alerts.live": ("未关闭", "not closed"),
    "alerts.all": ("全部", "all"),
    "alert.open": ("待处理", "open"),
    "alert.acked": ("已确认", "acknowledged"),
    "alert.closed": ("已关闭", "closed"),
    "alerts.rule": ("规则", "Rule"),
    "alerts.severity": ("级别", "Severity"),
    "alerts.terminal": ("终端", "Terminal"),
    "alerts.message": ("说明", "Message"),
    "alerts.opened": ("开始", "Opened"),
    "alerts.acked_by": ("确认人", "Acknowledged by"),
    "alerts.closed_at": ("关闭", "Closed"),
    "alerts.ack": ("确认", "Acknowledge"),
    "alerts.none": ("没有符合条件的告警。", "No alerts match."),
    "audit.title": ("审计日志", "Audit log"),
    "audit.at": ("时间", "At"),
    "audit.actor": ("操作者", "Who"),
    "audit.action": ("操作", "Action"),
    "audit.target": ("对象", "Target"),
    "audit.address": ("地址", "Address"),
    "audit.detail": ("详情", "Detail"),
    "users.title": ("用户", "Users"),
    "users.name": ("用户名", "Name"),
    "users.role": ("角色", "Role"),
    "users.created": ("创建", "Created"),
    "users.last_login": ("最近登录", "Last login"),
    "users.disabled": ("已停用", "disabled"),
    "users.add": ("添加用户", "Add a user"),
    "users.change_role": ("修改角色", "Change role"),
    "users.disable": ("停用", "Disable"),
    "users.enable": ("启用", "Enable"),
    "users.added": ("已添加用户", "User added"),
    "role.viewer": ("查看者", "viewer"),
    "role.operator": ("操作员", "operator"),
    "role.admin": ("管理员", "admin"),
    "tokens.title": ("API 令牌", "API tokens"),
    "tokens.name": ("名称", "Name"),
    "tokens.role": ("角色", "Role"),
    "tokens.created": ("创建", "Created"),
    "tokens.created_by": ("创建人", "Created by"),
    "tokens.last_used": ("最近使用", "Last used"),
    "tokens.revoked": ("已吊销", "revoked"),
    "tokens.create": ("创建令牌", "Create a token"),
    "tokens.revoke": ("吊销", "Revoke"),
    "tokens.shown_once": ("请立即复制此令牌：它只显示这一次。",
                          "Copy this token now: it is shown only this once."),
    "api.title": ("JSON API", "JSON API"),
    "api.intro": ("以下接口使用 Authorization: Bearer 令牌或登录会话；完整说明见 OpenAPI 文档：",
                  ("These endpoints take an Authorization: Bearer token or a signed-in "
                   "session; the full description is the OpenAPI document:")),
    "time.ago_s": ("{n} 秒前", "{n} s ago"),
    "time.ago_m": ("{n} 分钟前", "{n} min ago"),
    "time.ago_h": ("{n} 小时前", "{n} h ago"),
    "time.ago_d": ("{n} 天前", "{n} d ago"),
    "time.never": ("从未", "never"),
    # device kinds, states, details and event types as the terminals report them
    "dev.idcard": ("身份证读卡器", "ID card reader"),
    "dev.sscard": ("社保卡读卡器", "Social security card reader"),
    "dev.receipt": ("凭条打印机", "Receipt printer"),
    "dev.a4": ("A4 打印机", "A4 printer"),
    "dev.scanner": ("扫码器", "QR scanner"),
    "dev.camera": ("摄像头", "Camera"),
    "state.online": ("正常", "online"),
    "state.offline": ("离线", "offline"),
    "state.busy": ("忙碌", "busy"),
    "state.no_device": ("未连接", "not connected"),
    "state.hardware_error": ("硬件故障", "hardware error"),
    "state.user_error": ("需人工处理", "needs attention"),
    "detail.paper_low": ("纸将用尽", "paper low"),
    "detail.paper_out": ("缺纸", "paper out"),
    "detail.cover_open": ("机盖打开", "cover open"),
    "detail.media_jam": ("卡纸", "paper jam"),
    "detail.paper_jam": ("卡纸", "paper jam"),
    "detail.cutter_jam": ("切刀卡住", "cutter jammed"),
    "detail.cutter_error": ("切刀故障", "cutter fault"),
    "detail.head_overheat": ("打印头过热", "print head hot"),
    "detail.toner_low": ("墨粉不足", "toner low"),
    "detail.card_present": ("卡在读卡口", "card in the slot"),
    "detail.no_camera": ("无摄像头", "no camera"),
    "detail.status_unknown": ("状态未知", "status unknown"),
    "detail.status_timeout": ("状态查询超时", "status timed out"),
    "evtype.fault": ("故障", "fault"),
    "evtype.warning": ("警告", "warning"),
    "evtype.recovered": ("恢复", "recovered"),
    "evtype.package": ("业务包", "package"),
}


def word(lang: str, prefix: str, value: object) -> str:
    """A reported code (device kind, state, detail, event type) in words; an unknown code
    is shown as it came, so nothing a terminal says is hidden."""
    key = f"{prefix}.{value}"
    return translate(lang, key) if key in _STRINGS else str(value)


def normalise(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT


def from_accept_language(header: str) -> str:
    """The first of our languages in an Accept-Language header (zh-* → zh_CN)."""
    for part in header.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh_CN"
    return DEFAULT


def strings(lang: str) -> Mapping[str, str]:
    i = LANGS.index(normalise(lang))
    return {k: v[i] for k, v in _STRINGS.items()}


def translate(lang: str, key: str, **kw: object) -> str:
    pair = _STRINGS.get(key)
    if pair is None:
        return key  # a missing key shows itself instead of hiding the text
    text = pair[LANGS.index(normalise(lang))]
    return text.format(**kw) if kw else text
