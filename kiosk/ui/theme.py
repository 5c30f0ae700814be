"""Colours, type scale and the application style sheet, scaled to the panel size.

The unit `u` is the shorter screen side / 1080, so a 1920x1080 landscape and a
1080x1920 portrait panel get the same type size; 1280x1024 gets ~0.95. Body text is
30 px at u=1, readable at arm's length on a 21-32" panel.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIMARY = "#0A5CAD"
PRIMARY_DARK = "#084A8C"
ACCENT = "#E8A317"
OK = "#1E8E3E"
WARN = "#D9822B"
DANGER = "#C62828"
INK = "#1B1F24"
MUTED = "#4A5560"
SURFACE = "#FFFFFF"
BACKGROUND = "#EEF3F8"

FONT_FAMILIES = ["WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC",
                 "Microsoft YaHei", "sans-serif"]


# Elder-friendly mode (适老化): everything 1.4x (type and touch targets), darker ink,
# no grey-on-grey. See docs/accessibility.md for the numbers and where they come from.
ELDER_SCALE = 1.4
ELDER_INK = "#000000"
ELDER_MUTED = "#1F2A33"
ELDER_PRIMARY = "#003F7F"
ELDER_BACKGROUND = "#FFFFFF"


@dataclass(frozen=True)
class Metrics:
    u: float
    elder: bool = False

    def px(self, v: float) -> int:
        """Type and touch-target sizes (1.4x larger in elder mode)."""
        return max(1, round(v * self.u))

    def space(self, v: float) -> int:
        """Whitespace and pictures: not enlarged in elder mode, so the text has room."""
        return max(1, round(v * self.u / (ELDER_SCALE if self.elder else 1.0)))

    @property
    def body(self) -> int:
        return self.px(30)

    @property
    def title(self) -> int:
        return self.px(46)

    @property
    def button(self) -> int:
        return self.px(32)

    @property
    def small(self) -> int:
        return self.px(24)


# Minimum touch targets (width, height) at u = 1, as docs/accessibility.md promises;
# `px` makes them 1.4x larger in elder mode. Keys keep their width in elder mode (a row of
# ten keys must fit across a 1080 px portrait panel) and grow in height.
TARGETS: dict[str, tuple[int, int]] = {
    "button": (88, 88),  # anything touched
    "action": (240, 88),  # a step's way back / way forward
    "tile": (240, 190),  # a service tile on the home screen
    "key": (80, 88),  # on-screen keyboard keys
}


def target_minimum(name: str, m: Metrics) -> tuple[int, int]:
    """The smallest (width, height) allowed for a touch target named `name`."""
    if name == "key":
        w, h = TARGETS["key"]
        return m.space(w), m.px(h)
    kind = "action" if name.startswith("action-") else "tile" if name == "tile" else "button"
    w, h = TARGETS[kind]
    return m.px(w), m.px(h)


def metrics_for(width: int, height: int, elder: bool = False) -> Metrics:
    u = min(width, height) / 1080.0
    return Metrics(u * ELDER_SCALE if elder else u, elder)


def palette(elder: bool) -> dict[str, str]:
    if elder:
        return {"ink": ELDER_INK, "muted": ELDER_MUTED, "primary": ELDER_PRIMARY,
                "primary_dark": "#002B57", "background": ELDER_BACKGROUND, "surface": SURFACE,
                "footer": "#E6ECF2", "warn": "#743C00"}
    return {"ink": INK, "muted": MUTED, "primary": PRIMARY, "primary_dark": PRIMARY_DARK,
            "background": BACKGROUND, "surface": SURFACE, "footer": "#DDE6EF", "warn": "#9A4F00"}


def stylesheet(m: Metrics) -> str:
    fam = ", ".join(f'"{f}"' if " " in f else f for f in FONT_FAMILIES)
    c = palette(m.elder)
    # Upper case: the names read as the constants they were in the stylesheet below.
    INK, MUTED, PRIMARY, PRIMARY_DARK, BACKGROUND, SURFACE = (  # noqa: N806
        c["ink"], c["muted"], c["primary"], c["primary_dark"], c["background"], c["surface"])
    WARN = c["warn"]  # noqa: N806
    FOOTER = c["footer"]  # noqa: N806
    return f"""
    * {{ font-family: {fam}; color: {INK}; }}
    QMainWindow, #root {{ background: {BACKGROUND}; }}
    #header {{ background: {PRIMARY}; }}
    #header QLabel {{ color: white; }}
    #appTitle {{ font-size: {m.px(40)}px; font-weight: bold; }}
    #appSubtitle {{ font-size: {m.small}px; }}
    #clock {{ font-size: {m.px(26)}px; }}
    #footer {{ background: {FOOTER}; }}
    #footer QLabel {{ font-size: {m.small}px; color: {MUTED}; }}
    QPushButton#chrome {{ font-size: {m.small}px; min-height: {m.px(88) - 2 * m.px(2)}px;
                          min-width: {m.px(88) - 2 * m.px(12) - 2 * m.px(2)}px;
                          padding: 0 {m.px(12)}px; border-radius: {m.px(10)}px;
                          background: transparent; color: white;
                          border: {m.px(2)}px solid rgba(255, 255, 255, 170); }}
    QPushButton#chrome[on="true"] {{ background: white; color: {PRIMARY}; }}
    #offlineBanner {{ background: {WARN}; color: white; font-size: {m.small}px;
                      padding: {m.px(8)}px; }}
    #cardBanner {{ background: {WARN}; color: white; font-size: {m.body}px; font-weight: bold;
                   padding: {m.px(16)}px; }}
    #attractTitle {{ font-size: {m.px(84 / (ELDER_SCALE if m.elder else 1))}px;
                     font-weight: bold; color: {PRIMARY}; }}
    #attractSub {{ font-size: {m.px(40 / (ELDER_SCALE if m.elder else 1))}px; color: {MUTED}; }}
    #attractTouch {{ font-size: {m.px(44)}px; color: white; background: {PRIMARY};
                     border-radius: {m.px(16)}px; padding: {m.px(24)}px {m.px(60)}px; }}
    #attractHint {{ font-size: {m.body}px; color: {MUTED}; }}
    #homeTitle {{ font-size: {m.title}px; font-weight: bold; }}
    #homePage {{ font-size: {m.body}px; color: {MUTED}; }}
    #tile {{ background: {SURFACE}; border: {m.px(2)}px solid #C9D6E3;
             border-radius: {m.px(18)}px; }}
    #tile[pressed="true"] {{ background: #DCE9F7; }}
    #tile:disabled {{ background: #E4E7EB; }}
    #tileTitle {{ font-size: {m.px(38)}px; font-weight: bold; color: {PRIMARY_DARK}; }}
    #tileSub {{ font-size: {m.small}px; color: {MUTED}; }}
    #tilePaused {{ font-size: {m.small}px; color: {WARN}; }}
    #stepTitle {{ font-size: {m.title}px; font-weight: bold; }}
    #stepPosition {{ font-size: {m.small}px; color: {MUTED}; }}
    #stepText {{ font-size: {m.body}px; }}
    #stepLead {{ font-size: {m.px(42)}px; font-weight: bold; color: {PRIMARY_DARK}; }}
    #stepHint {{ font-size: {m.small}px; color: {MUTED}; }}
    #previewPage, #previewZoom {{ font-size: {m.small}px; color: {MUTED}; }}
    #stepStatus {{ font-size: {m.body}px; color: {WARN}; font-weight: bold; }}
    #card {{ background: {SURFACE}; border-radius: {m.px(20)}px; }}
    QPushButton {{ font-size: {m.button}px; min-height: {m.px(88)}px;
                   padding: 0 {m.px(36)}px; border-radius: {m.px(14)}px;
                   background: {SURFACE}; border: {m.px(2)}px solid {PRIMARY}; color: {PRIMARY}; }}
    QPushButton[primary="true"] {{ background: {PRIMARY}; color: white; border: none; }}
    QLabel#buttonText {{ font-size: {m.button}px; color: {PRIMARY}; background: transparent; }}
    QLabel#buttonText[primary="true"] {{ color: white; }}
    QPushButton[primary="true"]:pressed {{ background: {PRIMARY_DARK}; }}
    QPushButton:pressed {{ background: #DCE9F7; }}
    QPushButton#star {{ font-size: {m.px(64)}px; min-width: {m.px(100)}px;
                        min-height: {m.px(100)}px; border: none; background: transparent;
                        color: #B8C2CC; padding: 0; }}
    QPushButton#star[on="true"] {{ color: {ACCENT}; }}
    QPushButton#tag {{ font-size: {m.small}px; min-height: {m.px(88)}px;
                       border-radius: {m.px(44)}px; }}
    QPushButton#tag[on="true"] {{ background: {PRIMARY}; color: white; }}
    QPushButton#key {{ font-size: {m.px(36)}px; min-height: 0; min-width: 0; padding: 0;
                       border-radius: {m.px(10)}px; }}
    QPushButton#candidate {{ font-size: {m.px(38)}px; padding: 0 {m.px(18)}px; min-height: 0;
                             border-radius: {m.px(10)}px; background: #FFF7E0;
                             border: {m.px(2)}px solid {ACCENT}; color: {INK}; }}
    #kbEntry {{ font-size: {m.px(40)}px; background: white; border: {m.px(3)}px solid {PRIMARY};
                border-radius: {m.px(10)}px; padding: 0 {m.px(16)}px; }}
    QScrollArea#bodyScroll, #bodyHolder {{ background: transparent; }}
    QScrollBar:vertical {{ width: {m.px(22)}px; background: #E4E9EE; border-radius: {m.px(11)}px; }}
    QScrollBar::handle:vertical {{ background: {PRIMARY}; border-radius: {m.px(11)}px;
                                   min-height: {m.px(80)}px; }}
    QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; }}
    #idleOverlay {{ background: rgba(0, 0, 0, 150); }}
    #idleBox {{ background: {SURFACE}; border-radius: {m.px(20)}px; }}
    #idleText {{ font-size: {m.px(34)}px; }}
    """
