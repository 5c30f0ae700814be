"""The vendor photo-decoder plugin, loaded with ctypes from a configured path.

The vendor library is the peer here: a small C library with the vendor ABI is built
with the system compiler and loaded exactly as a real `libwlt.so` would be.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from emulators.sam_emulator import SamEmulator, photo_of
from kiosk.devices.idcard.wlt import BMP_SIZE, CtypesWltDecoder, PhotoDecodeError, load_decoder
from synthetic.cards import CARDS

SRC = Path(__file__).with_name("fake_wlt.c")


@pytest.fixture(scope="module")
def vendor_lib(tmp_path_factory: pytest.TempPathFactory) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (scripts/setup installs gcc)")
    out = tmp_path_factory.mktemp("wlt") / "libfakewlt.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out), str(SRC)], check=True)
    return str(out)


def check_bmp(bmp: bytes, wlt: bytes) -> None:
    assert bmp[:2] == b"BM" and len(bmp) == BMP_SIZE == 38862
    assert int.from_bytes(bmp[18:22], "little") == 102
    assert int.from_bytes(bmp[22:26], "little") == 126
    assert bmp[54:54 + 300] == wlt[:300]  # the first row came from our bytes


@pytest.mark.parametrize("api", ["unpack", "file"])
def test_decodes_through_both_vendor_apis(vendor_lib: str, api: str) -> None:
    wlt = photo_of(CARDS["chen"])
    check_bmp(CtypesWltDecoder(vendor_lib, api).decode(wlt), wlt)


@pytest.mark.parametrize("api", ["unpack", "file"])
def test_vendor_refusal_is_a_typed_error(vendor_lib: str, api: str) -> None:
    dec = CtypesWltDecoder(vendor_lib, api)
    with pytest.raises(PhotoDecodeError):
        dec.decode(b"XX" + bytes(1022))  # not a WLT photo: the library returns failure
    with pytest.raises(PhotoDecodeError):
        dec.decode(b"WL" + bytes(100))  # wrong size: never reaches the library


def test_missing_library_symbol_or_api(vendor_lib: str, tmp_path: Path) -> None:
    with pytest.raises(PhotoDecodeError, match="cannot load"):
        load_decoder(str(tmp_path / "libnothere.so"))
    with pytest.raises(PhotoDecodeError, match="no function"):
        load_decoder(vendor_lib, "unpack", "GetBmp")
    with pytest.raises(PhotoDecodeError, match="wlt_api"):
        load_decoder(vendor_lib, "dll")
    assert load_decoder("") is None


def test_symbol_override(vendor_lib: str) -> None:
    wlt = photo_of(CARDS["li"])
    check_bmp(CtypesWltDecoder(vendor_lib, "file", "Wlt2Bmp").decode(wlt), wlt)


def test_reader_returns_a_bmp_photo_with_the_plugin(sam: SamEmulator, make_reader,  # type: ignore[no-untyped-def]
                                                    vendor_lib: str) -> None:
    reader = make_reader(sam.port, f"&wlt={vendor_lib}&wlt_api=unpack")
    sam.place("tanaka")
    ident = reader.read_identity(2, threading.Event())
    assert ident.photo_format == "bmp"
    check_bmp(ident.photo, photo_of(CARDS["tanaka"]))
    assert ident.extra["photo_wlt"] == photo_of(CARDS["tanaka"])
    assert reader.capabilities()["photo_decoder"] is True
    assert "BM" not in repr(ident)


def test_reader_works_without_a_usable_plugin(sam: SamEmulator, make_reader,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    reader = make_reader(sam.port, f"&wlt={tmp_path}/libmissing.so")
    sam.place("chen")
    ident = reader.read_identity(2, threading.Event())
    assert ident.photo_format == "wlt" and ident.photo == photo_of(CARDS["chen"])
    check = {c.name: c for c in reader.self_test().checks}["photo_decoder"]
    assert "cannot load" in check.detail
    assert reader.capabilities()["photo_decoder"] is False
