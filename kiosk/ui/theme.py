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


@dataclass(frozen=True)
class Metrics:
    u: float

    def px(self, v: float) -> int:
        return max(1, round(v * self.u))

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


def metrics_for(width: int, height: int) -> Metrics:
    return Metrics(min(width, height) / 1080.0)


def stylesheet(m: Metrics) -> str:
    fam = ", ".join(f'"{f}"' if " " in f else f for f in FONT_FAMILIES)
    return f"""
    * {{ font-family: {fam}; color: {INK}; }}
    QMainWindow, #root {{ background: {BACKGROUND}; }}
    #header {{ background: {PRIMARY}; }}
    #header QLabel {{ color: white; }}
    #appTitle {{ font-size: {m.px(40)}px; font-weight: bold; }}
    #appSubtitle {{ font-size: {m.small}px; }}
    #clock {{ font-size: {m.px(30)}px; }}
    #footer {{ background: #DDE6EF; }}
    #footer QLabel {{ font-size: {m.small}px; color: {MUTED}; }}
    #offlineBanner {{ background: {WARN}; color: white; font-size: {m.small}px;
                      padding: {m.px(8)}px; }}
    #attractTitle {{ font-size: {m.px(84)}px; font-weight: bold; color: {PRIMARY}; }}
    #attractSub {{ font-size: {m.px(40)}px; color: {MUTED}; }}
    #attractTouch {{ font-size: {m.px(44)}px; color: white; background: {PRIMARY};
                     border-radius: {m.px(16)}px; padding: {m.px(24)}px {m.px(60)}px; }}
    #attractHint {{ font-size: {m.body}px; color: {MUTED}; }}
    #homeTitle {{ font-size: {m.title}px; font-weight: bold; }}
    QPushButton#tile {{ background: {SURFACE}; border: {m.px(2)}px solid #C9D6E3;
                        border-radius: {m.px(18)}px; padding: {m.px(24)}px; text-align: left; }}
    QPushButton#tile:pressed {{ background: #DCE9F7; }}
    QPushButton#tile:disabled {{ background: #E4E7EB; }}
    #tileTitle {{ font-size: {m.px(38)}px; font-weight: bold; color: {PRIMARY_DARK}; }}
    #tileSub {{ font-size: {m.small}px; color: {MUTED}; }}
    #tilePaused {{ font-size: {m.small}px; color: {WARN}; }}
    #stepTitle {{ font-size: {m.title}px; font-weight: bold; }}
    #stepPosition {{ font-size: {m.small}px; color: {MUTED}; }}
    #stepText {{ font-size: {m.body}px; }}
    #stepLead {{ font-size: {m.px(42)}px; font-weight: bold; color: {PRIMARY_DARK}; }}
    #stepHint {{ font-size: {m.small}px; color: {MUTED}; }}
    #stepStatus {{ font-size: {m.body}px; color: {WARN}; font-weight: bold; }}
    #card {{ background: {SURFACE}; border-radius: {m.px(20)}px; }}
    QPushButton {{ font-size: {m.button}px; min-height: {m.px(88)}px;
                   padding: 0 {m.px(36)}px; border-radius: {m.px(14)}px;
                   background: {SURFACE}; border: {m.px(2)}px solid {PRIMARY}; color: {PRIMARY}; }}
    QPushButton[primary="true"] {{ background: {PRIMARY}; color: white; border: none; }}
    QPushButton[primary="true"]:pressed {{ background: {PRIMARY_DARK}; }}
    QPushButton:pressed {{ background: #DCE9F7; }}
    QPushButton#star {{ font-size: {m.px(64)}px; min-width: {m.px(100)}px;
                        min-height: {m.px(100)}px; border: none; background: transparent;
                        color: #B8C2CC; padding: 0; }}
    QPushButton#star[on="true"] {{ color: {ACCENT}; }}
    QPushButton#tag {{ font-size: {m.small}px; min-height: {m.px(64)}px;
                       border-radius: {m.px(32)}px; }}
    QPushButton#tag[on="true"] {{ background: {PRIMARY}; color: white; }}
    #idleOverlay {{ background: rgba(0, 0, 0, 150); }}
    #idleBox {{ background: {SURFACE}; border-radius: {m.px(20)}px; }}
    #idleText {{ font-size: {m.px(34)}px; }}
    """
