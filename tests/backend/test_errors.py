"""`kiosk.backend.errors`: light to import, and every key the client raises can be shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.backend import client, errors
from kiosk.i18n import LOCALES, app_strings

CLIENT_SOURCE = Path(client.__file__).read_text(encoding="utf-8")


def test_errors_import_without_the_http_stack() -> None:
    code = ("import sys, kiosk.backend.errors; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'requests', 'urllib3', 'PySide6', 'kiosk.backend.client'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(client.__file__).parents[2])
    assert out.stdout.strip() == "[]"


def test_the_client_re_exports_the_same_error_class() -> None:
    assert client.BackendError is errors.BackendError
    assert client.parse_retry_after is errors.parse_retry_after


def test_every_key_the_client_raises_is_translated() -> None:
    keys = set(re.findall(r'BackendError\(\s*"(backend\.[a-z_]+)"', CLIENT_SOURCE))
    keys |= set(errors.CUT_SHORT)
    assert {"backend.timeout", "backend.redirect_refused", "backend.answer_too_large"} <= keys
    for locale in LOCALES:
        strings = app_strings(locale)
        missing = sorted(k for k in keys if not strings.get(k))
        assert missing == [], f"{locale} lacks {missing}"


@pytest.mark.parametrize("value,seconds", [("120", 120.0), ("-5", 0.0), ("soon", None),
                                           (None, None), ("Thu, 01 Jan 1970 00:02:00 GMT", 60.0)])
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert errors.parse_retry_after(value, now=60.0) == seconds
