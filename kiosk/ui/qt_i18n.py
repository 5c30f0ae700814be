"""Qt's translation system backed by the same catalogs the flows use.

UI chrome asks `tr("home.title")` (QCoreApplication.translate in the "kiosk"
context); a `CatalogTranslator` installed on the application answers from
`kiosk/locale/*.json` plus the active flow package's strings. Flows are Qt-free and
use `kiosk.i18n.Translator` on the very same catalogs, so there is one source of
truth and switching language is installing another translator.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QTranslator

from kiosk.i18n import Translator

CONTEXT = "kiosk"


class CatalogTranslator(QTranslator):
    def __init__(self, catalog: Translator) -> None:
        super().__init__()
        self.catalog = catalog

    def translate(self, context: str, source: str, disambiguation: str | None = None,
                  n: int = -1) -> str:
        if context != CONTEXT or not self.catalog.has(source):
            return None  # type: ignore[return-value]  # Qt falls back to the source text
        return self.catalog(source)

    def isEmpty(self) -> bool:
        return False


_installed: CatalogTranslator | None = None


def install(catalog: Translator) -> None:
    """Make `catalog` the application's translator (replacing the previous one)."""
    global _installed
    app = QCoreApplication.instance()
    if app is None:
        return
    if _installed is not None:
        app.removeTranslator(_installed)
    _installed = CatalogTranslator(catalog)
    app.installTranslator(_installed)


def tr(key: str, **kwargs: object) -> str:
    text = QCoreApplication.translate(CONTEXT, key)
    return text.format(**kwargs) if kwargs else text
