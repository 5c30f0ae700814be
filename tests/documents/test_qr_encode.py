"""The QR encoder scores the eight mask candidates with numpy instead of laying each out
and scoring it in pure Python: it must pick the mask reportlab's encoder picks and give
the very same modules, for any value, level and version (version 7+ has extra blocks)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from reportlab.graphics.barcode import qrencoder

from kiosk.documents.qr import encode_qr, lost_points

TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=260)
LEVEL = st.sampled_from("LMQH")


def reportlab_modules(value: str, level: str) -> tuple[np.ndarray, qrencoder.QRCode]:
    code = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, level))
    code.addData(value)
    code.make()
    return np.array(code.modules, np.int8), code


def our_modules(value: str, level: str) -> np.ndarray:
    m = encode_qr(value, level)
    out = np.zeros((m.size, m.size), np.int8)
    for r, c, n in m.runs:
        out[r, c:c + n] = 1
    return out


@settings(max_examples=120, deadline=None)
@given(TEXT, LEVEL)
def test_same_symbol_as_reportlabs_encoder(value: str, level: str) -> None:
    expected, _ = reportlab_modules(value, level)
    assert np.array_equal(our_modules(value, level), expected)


@settings(max_examples=60, deadline=None)
@given(TEXT, LEVEL)
def test_every_mask_scores_as_reportlab_scores_it(value: str, level: str) -> None:
    _, code = reportlab_modules(value, level)
    for mask in range(8):
        code.makeImpl(True, mask)
        assert lost_points(np.array(code.modules, np.int8)) == \
            qrencoder.QRUtil.getLostPoint(code), mask


def test_a_long_verification_address_needs_version_7_and_still_matches() -> None:
    value = "https://verify.example.gov.cn/v/" + "AB12-CD34-EF56/" * 8
    expected, code = reportlab_modules(value, "M")
    assert code.version >= 7
    assert np.array_equal(our_modules(value, "M"), expected)
