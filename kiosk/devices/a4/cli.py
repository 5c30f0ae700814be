"""A4 test page for `kiosk device print-test cups://… | ipp://…`."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

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


def test_page_pdf(uri: str) -> bytes:
    from kiosk.documents.a4 import render_a4

    data = {"device": uri.split("?")[0], "time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "rows": [{"n": i, "item": f"检测项目 {i}", "result": "正常"} for i in range(1, 9)]}

    def no_assets(rel: str) -> Path:
        raise FileNotFoundError(rel)

    return render_a4(TEST_PAGE, data, no_assets).pdf


def run_a4_test(args: argparse.Namespace) -> dict:
    from kiosk.devices.base import DeviceError
    from kiosk.devices.registry import create_device

    dev = create_device("a4", args.uri)
    try:
        dev.open()
    except DeviceError as err:
        return {"ok": False, "error_key": err.key, "detail": err.detail}
    try:
        pdf = test_page_pdf(args.uri)
        if getattr(args, "out", None):
            Path(args.out).write_bytes(pdf)
        outcome = dev.print_pdf(pdf, "kiosk-test-page",  # type: ignore[attr-defined]
                                timeout=getattr(args, "timeout", 120.0))
        status = dev.status()
    finally:
        dev.close()
    return {"ok": outcome.ok, "error_key": outcome.error_key, "detail": outcome.detail,
            "pages": outcome.pages, "job_id": outcome.job_id, "status": status.to_dict()}


def register(dsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from kiosk.devices.receipt.cli import register as register_print_test

    register_print_test(dsub)  # one `print-test` for both printer kinds
