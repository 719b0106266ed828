"""Informers: a watched, indexed local cache of one resource, shared by every controller in a process.

See store.py (cache, lister, tombstone), reflector.py (list+watch), informer.py (handlers, factory),
selectors.py (label selectors for listers).
"""

from shared.informer.informer import HandlerRegistration, SharedIndexInformer, SharedInformerFactory
from shared.informer.reflector import Reflector
from shared.informer.store import DeletedFinalStateUnknown, Lister, Store

__all__ = [
    "DeletedFinalStateUnknown", "HandlerRegistration", "Lister", "Reflector", "SharedIndexInformer",
    "SharedInformerFactory", "Store",
]
