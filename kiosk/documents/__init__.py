"""Documents from declarative templates: A4 PDFs (reportlab) and receipts (ESC/POS)."""
