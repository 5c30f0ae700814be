"""`kiosk device print-test URI`: a test receipt (or A4 test page) and its real outcome."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from kiosk.devices.receipt.model import Align, Cut, QrCode, Receipt, Rule, TextLine


def test_receipt(uri: str) -> Receipt:
    """Chinese text with full-width punctuation and rare characters, styles, a QR, a cut."""
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return Receipt((
        TextLine("打印测试", Align.CENTER, bold=True, double_width=True,
                 double_height=True),
        TextLine("莞家政务 凭条打印机自检", Align.CENTER, bold=True),
        Rule(),
        TextLine("中文：东莞市民服务中心，欢迎您！"),
        TextLine("标点：，。、；：？！“”‘’（）《》【】…￥"),
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


def run_receipt_test(args: argparse.Namespace) -> dict:
    from kiosk.devices.base import DeviceError
    from kiosk.devices.receipt.escpos_protocol import encode_receipt
    from kiosk.devices.registry import create_device

    dev = create_device("receipt", args.uri)
    try:
        dev.open()
    except DeviceError as err:
        return {"ok": False, "error_key": err.key, "detail": err.detail}
    try:
        data = encode_receipt(test_receipt(args.uri), getattr(dev, "profile", None))
        if args.out:
            with open(args.out, "wb") as f:
                f.write(data)
        outcome = dev.print_raw(data)  # type: ignore[attr-defined]
        status = dev.status()
    finally:
        dev.close()
    return {"ok": outcome.ok, "error_key": outcome.error_key, "detail": outcome.detail,
            "bytes": len(data), "status": status.to_dict()}


def cmd_print_test(args: argparse.Namespace) -> int:
    from kiosk.commands.device import guess_kind

    kind = args.kind or guess_kind(args.uri)
    if kind == "a4":
        from kiosk.devices.a4.cli import run_a4_test

        out = run_a4_test(args)
    elif kind == "receipt":
        out = run_receipt_test(args)
    else:
        out = {"ok": False, "error_key": "device.unsupported_uri",
               "detail": f"print-test needs a receipt or a4 printer, not {kind}"}
    out = {"kind": kind, "uri": args.uri, **out}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        verdict = "printed" if out["ok"] else f"FAILED {out['error_key']}"
        print(f"{kind} {args.uri}: {verdict} {out.get('detail', '')}".rstrip())
    return 0 if out["ok"] else 1


def register(dsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    if "print-test" in dsub.choices:
        return
    p = dsub.add_parser("print-test", help="print a test receipt / A4 test page and report")
    p.add_argument("uri")
    p.add_argument("--kind", choices=("receipt", "a4"), default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also save what was sent (ESC/POS bytes or PDF)")
    p.add_argument("--timeout", type=float, default=120.0, help="A4: seconds to wait")
    p.set_defaults(func=cmd_print_test)
