"""A device-neutral receipt: what the document layer produces and the encoder prints."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class Align(str, Enum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True)
class TextLine:
    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double_width: bool = False
    double_height: bool = False


@dataclass(frozen=True)
class QrCode:
    data: str
    size: int = 6  # module size in dots (1..16)


@dataclass(frozen=True)
class Rule:
    char: str = "-"


@dataclass(frozen=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True)
class Cut:
    partial: bool = False


ReceiptItem = TextLine | QrCode | Rule | Feed | Cut


@dataclass(frozen=True)
class Receipt:
    items: tuple[ReceiptItem, ...]

    def plain_text(self) -> str:
        """The text lines only (for logs in tests and the on-screen summary)."""
        return "\n".join(i.text for i in self.items if isinstance(i, TextLine))


class QrMode(str, Enum):
    NATIVE = "native"  # GS ( k function 165..181: the printer draws the code
    IMAGE = "image"  # rendered here and sent as a GS v 0 raster image


class SizeCommand(str, Enum):
    """How double width/height is selected; Chinese printers differ here."""

    GS = "gs"  # GS ! n (character size, applies to ANK and Kanji on most printers)
    FS = "fs"  # FS ! n (Kanji print mode) plus ESC ! n for ASCII
    BOTH = "both"  # GS ! n and FS ! n with the same meaning


@dataclass(frozen=True)
class PaperProfile:
    """A printer model as data: paper width, QR support, commands it understands.

    58 mm rolls print 32 ASCII columns (384 dots), 80 mm rolls 48 columns (576 dots)
    with font A (12x24). A Chinese character takes two columns.
    """

    name: str = "80mm"
    columns: int = 48
    dots: int = 576
    qr: QrMode = QrMode.NATIVE
    size_command: SizeCommand = SizeCommand.BOTH
    # GS r 1 after the job: answered only once everything before it was printed.
    end_marker: bool = True
    # Real-time "clear buffers" (DLE DC4 8) after a failed job so that the rest of
    # a half-printed receipt does not come out later, after paper is reloaded.
    clear_on_error: bool = True
    cut_feed_lines: int = 4

    @property
    def native_qr(self) -> bool:
        return self.qr is QrMode.NATIVE

    @classmethod
    def named(cls, name: str) -> PaperProfile:
        try:
            return PROFILES[name]
        except KeyError:
            raise ValueError(f"unknown receipt paper profile {name!r} "
                             f"(known: {', '.join(sorted(PROFILES))})") from None

    def with_options(self, **kw: object) -> PaperProfile:
        return replace(self, **kw)  # type: ignore[arg-type]


PROFILES: dict[str, PaperProfile] = {
    "80mm": PaperProfile(),
    "58mm": PaperProfile("58mm", 32, 384),
    # Cheap 58 mm modules without a QR engine and without GS r.
    "58mm-basic": PaperProfile("58mm-basic", 32, 384, QrMode.IMAGE, SizeCommand.GS,
                               end_marker=False, clear_on_error=False),
}
