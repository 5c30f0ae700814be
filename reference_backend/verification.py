"""The public verification page of the reference platform (server-rendered, no login, no
script): where the QR code and the verification code on every certificate lead.

`GET /verify` asks for a code; `GET /verify/{code}` shows what the platform issued under
it: the document type, the issuing office, the issue date, the holder (masked), and the
SHA-256 digest of the content the office's e-seal signed (recorded by the signing
service, `reference_backend/seal.py`). `POST /verify/{code}` takes an uploaded PDF and
says whether it is that document: its seal must verify against the platform's root
(intact, whole file, timestamped, seal valid then; `kiosk.documents.verify`) and its
signed digest must be one the platform sealed for this code. `POST
/api/v1/verification/lookup {code}` (a signed terminal request) answers the same facts as
JSON, for the terminal's "verify a certificate" service.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reference_backend.app import ApiError, Platform
from reference_backend.seal import OFFICE_OF_KIND, SealAuthority, der

MAX_UPLOAD = 10 * 1024 * 1024


class LookupAsk(BaseModel):
    code: str = Field(min_length=4, max_length=32)
KIND_TITLES: dict[str, str] = {
    "participation": "社会保险参保证明", "payment_detail": "社会保险缴费明细",
    "ss_participation": "社会保险参保证明", "ss_payment_detail": "社会保险缴费明细",
    "tax_list": "纳税清单（完税证明）", "no_property": "无房产证明（不动产登记查询结果）",
    "fund_repayments": "住房公积金贷款还款明细",
}
PROBLEMS: dict[str, str] = {
    "not_signed": "文件没有电子印章", "modified": "文件在盖章后被修改过",
    "not_whole_file": "盖章后文件又被追加了内容", "untrusted": "电子印章不是本平台签发的",
    "expired": "盖章时电子印章已过期或尚未生效", "no_timestamp": "电子印章没有可信时间戳",
    "timestamp_invalid": "时间戳无法验证", "bad_signature": "电子印章的签名无效",
    "unreadable": "无法读取该文件（不是有效的 PDF）", "several_signatures": "文件带有多个签名",
    "other_document": "电子印章有效，但这不是该验证码对应的证明",
    "too_large": "文件过大（上限 10 MB）",
}

CSS = """
body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC",sans-serif;margin:0;background:#f4f6f8;
color:#1d2733}
main{max-width:44rem;margin:0 auto;padding:1.5rem 1rem}
header{background:#b71c1c;color:#fff;padding:1rem}
header h1{margin:0;font-size:1.4rem;max-width:44rem;margin:0 auto}
.card{background:#fff;border-radius:8px;padding:1.2rem;margin:1rem 0;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
dl{display:grid;grid-template-columns:9rem 1fr;gap:.5rem 1rem;margin:0}
dt{color:#5b6875}dd{margin:0;word-break:break-all}
.ok{border-left:6px solid #2e7d32}.bad{border-left:6px solid #c62828}
.warn{border-left:6px solid #ef6c00}
.digest{font-family:monospace;font-size:.9rem}
small{color:#5b6875}
button,input[type=submit]{font-size:1rem;padding:.5rem 1.2rem;margin-top:.6rem}
"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)} · 莞家政务 证明核验</title><style>{CSS}</style></head>"
        "<body><header><h1>莞家政务 证明核验 <small style='color:#fdd'>Certificate "
        f"verification</small></h1></header><main>{body}</main></body></html>",
        status_code=status)


def _code_form() -> str:
    return ("<form method='get' action='/verify' class='card'><label>验证码 Verification code"
            "<br><input name='code' required maxlength='32' placeholder='XXXX-XXXX-XXXX'>"
            "</label><br><input type='submit' value='查询 Look up'></form>")


def _facts(code: str, doc: dict[str, Any]) -> str:
    kind = str(doc.get("kind", ""))
    seals = doc.get("seals") or []
    office = OFFICE_OF_KIND.get(kind, "")
    rows = [("验证码", code), ("文件类型", KIND_TITLES.get(kind, kind)), ("出具单位", office),
            ("出具日期", str(doc.get("issued_at", ""))),
            ("持有人", f"{doc.get('masked_name', '')}（{doc.get('masked_id', '')}）")]
    if seals:
        last = seals[-1]
        rows += [("电子印章", f"{last['office']}（证书序列号 {last['serial']}）"),
                 ("盖章时间", last["at"])]
    cells = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    if seals:
        digests = "<br>".join(html.escape(s["digest"]) for s in seals)
        cells += f"<dt>文件摘要 SHA-256</dt><dd class='digest' id='digest'>{digests}</dd>"
        head = "<h2>核验通过：该证明由平台出具，并已加盖电子印章</h2>"
        cls = "ok"
    else:
        head = ("<h2>核验通过：该证明由平台出具，但尚未加盖电子印章</h2>"
                "<p>未加盖电子印章的打印件不具效力。</p>")
        cls = "warn"
    return (f"<section class='card {cls}' id='facts'>{head}<dl>{cells}</dl>"
            "<p><small>文件摘要是电子印章所签内容的 SHA-256 值；请与手中文件核对，"
            "或在下方上传 PDF 由平台比对。</small></p></section>")


def _upload_form(code: str) -> str:
    return (f"<form method='post' action='/verify/{html.escape(code)}' "
            "enctype='multipart/form-data' class='card'><h2>上传 PDF 比对 "
            "<small>Compare a PDF</small></h2><input type='file' name='file' "
            "accept='application/pdf' required><br><input type='submit' id='compare' "
            "value='比对 Compare'></form>")


def _result(problems: list[str], office: str, digest: str) -> str:
    if not problems:
        return ("<section class='card ok' id='result'><h2>比对一致：这就是该证明</h2>"
                f"<p>电子印章：{html.escape(office)}，完整有效，文件自盖章后未被修改。</p>"
                f"<p class='digest'>{html.escape(digest)}</p></section>")
    items = "".join(f"<li>{html.escape(PROBLEMS.get(p, p))}</li>" for p in problems)
    return ("<section class='card bad' id='result'><h2>比对不一致：不能作为该证明使用</h2>"
            f"<ul>{items}</ul></section>")


def compare(data: bytes, doc: dict[str, Any], authority: SealAuthority) -> tuple[list[str],
                                                                                 str, str]:
    """Problems with an uploaded PDF as the document `doc` (none: it is that document)."""
    from asn1crypto import x509 as asn1_x509

    from kiosk.documents.verify import verify_pdf

    verdict = verify_pdf(data, [asn1_x509.Certificate.load(der(authority.root.cert))])
    problems = list(verdict.problems)
    sealed = {s["digest"] for s in doc.get("seals") or []}
    if verdict.ok and verdict.digest not in sealed:
        problems.append("other_document")
    return problems, verdict.office, verdict.digest


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state

    def find(code: str) -> dict[str, Any] | None:
        with state.lock:
            doc = state.certificates.get(code.strip().upper())
            return dict(doc) if doc is not None else None

    def not_found(code: str) -> HTMLResponse:
        return page("未找到", f"<section class='card bad' id='facts'><h2>未找到该证明</h2>"
                    f"<p>验证码 {html.escape(code)} 不存在，请核对后重试。</p></section>"
                    + _code_form(), status=404)

    @app.post("/api/v1/verification/lookup", dependencies=[Depends(platform.terminal)])
    def lookup(ask: LookupAsk) -> dict[str, Any]:
        """What the page shows, for the terminal's 'verify a certificate' service."""
        doc = find(ask.code)
        if doc is None:
            raise ApiError(404, "unknown_document")
        kind = str(doc.get("kind", ""))
        seals = doc.get("seals") or []
        return {"code": ask.code.strip().upper(), "kind": kind,
                "title": KIND_TITLES.get(kind, kind), "office": OFFICE_OF_KIND.get(kind, ""),
                "issued_at": str(doc.get("issued_at", "")),
                "holder": f"{doc.get('masked_name', '')}（{doc.get('masked_id', '')}）",
                "sealed": bool(seals), "sealed_at": seals[-1]["at"] if seals else "",
                "digest": seals[-1]["digest"] if seals else ""}

    @app.get("/verify", response_class=HTMLResponse, include_in_schema=False)
    def verify_form(code: str = "") -> Any:
        if code.strip():
            return RedirectResponse(f"/verify/{code.strip().upper()}", status_code=303)
        return page("证明核验", "<p>输入证明上的验证码，或扫描证明上的二维码。</p>" + _code_form())

    @app.get("/verify/{code}", response_class=HTMLResponse, include_in_schema=False)
    def verify_code(code: str) -> HTMLResponse:
        doc = find(code)
        if doc is None:
            return not_found(code)
        return page("证明核验", _facts(code, doc) + _upload_form(code))

    @app.post("/verify/{code}", response_class=HTMLResponse, include_in_schema=False)
    async def verify_upload(code: str, request: Request) -> HTMLResponse:
        doc = find(code)
        if doc is None:
            return not_found(code)
        form = await request.form(max_files=1, max_fields=2)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return page("证明核验", _result(["unreadable"], "", "") + _facts(code, doc)
                        + _upload_form(code), status=400)
        data = await upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            problems, office, digest = ["too_large"], "", ""
        else:
            # pyHanko runs its own event loop: off this one, in a worker thread
            problems, office, digest = await run_in_threadpool(
                compare, data, doc, app.state.seal_authority)
        return page("证明核验", _result(problems, office, digest) + _facts(code, doc)
                    + _upload_form(code))
