"""Text input without a physical keyboard (Qt-free): a pinyin input method."""
