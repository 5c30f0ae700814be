"""A device-neutral receipt: what the document layer produces and the encoder prints."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class PaperProfile:
    """Paper width: 58 mm rolls print 32 ASCII columns, 80 mm rolls 48 (font A)."""

    name: str = "80mm"
    columns: int = 48
    dots: int = 576
    native_qr: bool = True

    @classmethod
    def named(cls, name: str) -> PaperProfile:
        if name == "58mm":
            return cls("58mm", 32, 384, True)
        return cls()
