"""`kiosk device print-test URI`: a test receipt (or A4 test page) and its real outcome.

A technician command: it composes the test documents (a receipt with Chinese text,
full-width punctuation, rare characters, styles, a QR code and a cut; an A4 page through
the document layer) and hands them to the printer through its contract
(`print_receipt`, `print_pdf`). It lives with the commands, not with the drivers, so
that `kiosk.devices` never needs the document layer or the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from kiosk.devices.receipt.model import Align, Cut, QrCode, Receipt, Rule, TextLine


def sample_receipt(uri: str) -> Receipt:
    """Chinese text with full-width punctuation and rare characters, styles, a QR, a cut."""
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return Receipt((
        TextLine("打印测试", Align.CENTER, bold=True, double_width=True,
                 double_height=True),
        TextLine("莞家政务 凭条打印机自检", Align.CENTER, bold=True),
        Rule(),
        TextLine("中文：东莞市民服务中心，欢迎您！"),
        TextLine("标点：，。、；：？！“”‘’（）《》【】…￥"),  # noqa: RUF001 - every mark, on purpose
        TextLine("生僻字：㐀䶮 喆堃 𠀀（扩展区）"),
        TextLine("ASCII: 0123456789 ABC abc"),
        TextLine("右对齐 Right", Align.RIGHT),
        TextLine("倍宽", double_width=True),
        TextLine("倍高", double_height=True),
        Rule("="),
        TextLine(f"时间：{now}"),
        TextLine(f"设备：{uri.split('?')[0]}"),
        TextLine("扫码测试：", Align.CENTER),
        QrCode("https://www.gdzwfw.gov.cn/test/打印测试", 6),
        Cut(),
    ))


TEST_PAGE: dict[str, Any] = {
    "kind": "a4",
    "title": "A4 打印测试页",
    "page": {"header": "莞家政务自助服务终端  打印测试", "footer": "第 {page} 页 / 共 {pages} 页",
             "watermark": "测试页 仅供检测"},
    "blocks": [
        {"type": "title", "text": "A4 打印机测试页"},
        {"type": "subtitle", "text": "（技术人员自检用，不作证明使用）"},
        {"type": "fields", "columns": 2, "fields": [
            {"label": "设备", "value": "{device}"},
            {"label": "时间", "value": "{time}"},
            {"label": "标点", "value": "，。、；：？！“”（）《》￥"},
            {"label": "生僻字", "value": "㐀䶮 喆堃"}]},
        {"type": "paragraph", "text": "本页用于检查中文字体、表格线、二维码与分页是否正常。"
                                      "如果文字清晰、没有缺字或乱码，说明打印通道正常。"},
        {"type": "table", "rows": "rows", "columns": [
            {"title": "序号", "value": "{n}", "width": 0.6, "align": "center"},
            {"title": "项目", "value": "{item}", "width": 2},
            {"title": "结果", "value": "{result}", "width": 1, "align": "center"}]},
        {"type": "qr", "value": "https://www.gdzwfw.gov.cn/test/a4", "caption": "扫码测试"},
    ],
}


def sample_page_pdf(uri: str) -> bytes:
    from kiosk.documents.a4 import render_a4

    data = {"device": uri.split("?")[0], "time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "rows": [{"n": i, "item": f"检测项目 {i}", "result": "正常"} for i in range(1, 9)]}

    def no_assets(rel: str) -> Path:
        raise FileNotFoundError(rel)

    return render_a4(TEST_PAGE, data, no_assets).pdf


def _opened(kind: str, uri: str) -> Any:
    """The device, opened; or a result dict saying why it could not be."""
    from kiosk.devices.base import DeviceError
    from kiosk.devices.registry import create_device

    dev = create_device(kind, uri)  # a URI it cannot serve: kiosk.cli explains, exit 2
    try:
        dev.open()
    except DeviceError as err:
        return {"ok": False, "error_key": err.key, "detail": err.detail}
    return dev


def run_receipt_test(args: argparse.Namespace) -> dict[str, Any]:
    from kiosk.devices.receipt.api import ReceiptPrinter

    dev = _opened("receipt", args.uri)
    if isinstance(dev, dict):
        return dev
    printer = cast(ReceiptPrinter, dev)  # create_device holds drivers to the contract
    try:
        receipt = sample_receipt(args.uri)
        if args.out:  # what print_receipt sends, for the technician's records
            Path(args.out).write_bytes(printer.encode(receipt))
        outcome = printer.print_receipt(receipt)
        status = printer.status()
    finally:
        printer.close()
    return {"ok": outcome.ok, "error_key": outcome.error_key, "detail": outcome.detail,
            "status": status.to_dict()}


def run_a4_test(args: argparse.Namespace) -> dict[str, Any]:
    from kiosk.devices.a4.api import A4Printer

    dev = _opened("a4", args.uri)
    if isinstance(dev, dict):
        return dev
    printer = cast(A4Printer, dev)  # create_device holds drivers to the contract
    try:
        pdf = sample_page_pdf(args.uri)
        if getattr(args, "out", None):
            Path(args.out).write_bytes(pdf)
        outcome = printer.print_pdf(pdf, "kiosk-test-page",
                                    timeout=getattr(args, "timeout", 120.0))
        status = printer.status()
    finally:
        printer.close()
    return {"ok": outcome.ok, "error_key": outcome.error_key, "detail": outcome.detail,
            "pages": outcome.pages, "job_id": outcome.job_id, "status": status.to_dict()}


def cmd_print_test(args: argparse.Namespace) -> int:
    from kiosk.commands.device import guess_kind
    from kiosk.devices.base import DeviceError
    from kiosk.i18n import Translator
    from kiosk.maintenance.messages import cli_locale, device_name, explain

    t = Translator(cli_locale(getattr(args, "lang", None)))
    kind = args.kind = args.kind or guess_kind(args.uri)
    if kind not in ("a4", "receipt"):
        print(f"kiosk device: {t('technician.print_test.kind', uri=args.uri)}",
              file=sys.stderr)
        return 2
    out = run_a4_test(args) if kind == "a4" else run_receipt_test(args)
    out = {"kind": kind, "uri": args.uri, **out}
    if not out["ok"]:
        info = explain(DeviceError(out["error_key"] or "maintenance.result.failed",
                                   out.get("detail", "")), t, kind=kind, uri=args.uri)
        out["message"] = info.message
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    elif out["ok"]:
        print(f"{device_name(t, kind)}{t('technician.colon')}{t('maintenance.result.printed')}"
              f" {out.get('detail', '')}".rstrip())
    else:
        print(f"{device_name(t, kind)}{t('technician.colon')}{info.render()}")
    return 0 if out["ok"] else 1


def register(dsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = dsub.add_parser("print-test", help="print a test receipt / A4 test page and report")
    p.add_argument("uri")
    p.add_argument("--kind", choices=("receipt", "a4"), default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also save what was sent (ESC/POS bytes or PDF)")
    p.add_argument("--timeout", type=float, default=120.0, help="A4: seconds to wait")
    p.set_defaults(func=cmd_print_test)
