"""Offline storage: the durable SQLite outbox, its replay worker, and the read cache.

Qt-free and flow-free: the runtime wires these to the backend client and the UI.
"""

from offline_cache.crypto import PayloadKey, PayloadKeyError
from offline_cache.db import Incident, StorageError
from offline_cache.outbox import Item, Outbox, OutboxFull, OutboxPolicy, OutboxStatus, StreamClass

__all__ = ["Incident", "Item", "Outbox", "OutboxFull", "OutboxPolicy", "OutboxStatus",
           "PayloadKey", "PayloadKeyError", "StorageError", "StreamClass"]
