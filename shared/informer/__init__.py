"""Informers: a watched, indexed local cache of one resource, shared by every controller in a process.

See store.py (cache, lister, tombstone), reflector.py (list+watch), informer.py (handlers, factory).
"""

from shared.informer.store import DeletedFinalStateUnknown, Lister, Store

__all__ = ["DeletedFinalStateUnknown", "Lister", "Store"]
