"""The informer's local cache: objects by `ns/name` key, with indexes, and the lister that reads it.

Guarantees (client-go's ThreadSafeStore + Indexer + listers):
- `Store` keeps the latest object per key; every index is updated with each add/update/delete,
  so `by_index` always agrees with the items. The `namespace` index is always there.
- `replace(objs)` swaps in a whole new set of items at once (after a relist) and rebuilds indexes.
- Objects are stored and returned as given, not copied: they are read-only for everyone (copy
  with `copy.deepcopy` before changing one), which keeps reads cheap.
- `Lister.list(namespace, label_selector)` uses the namespace index, then filters by labels
  (selector: string, matchLabels dict or LabelSelector object; see selectors.py).
- Changes run on the event loop's thread and never await, so no reader on the loop sees a
  half-applied change. Reads (`get`, `items`, `by_index`) copy with single C-level calls, so a
  reader on another thread (a runtime worker) gets a consistent-enough snapshot and no error.
- `DeletedFinalStateUnknown` is what a delete handler receives when the object was deleted while
  the watch was down: the last state the cache knew, which may be stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shared.controller import meta_namespace_key
from shared.informer.selectors import selector as to_selector

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
NAMESPACE_INDEX = "namespace"


@dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown:
    """A delete the informer inferred on relist; `obj` is the last state it had seen."""

    key: str
    obj: Obj


def namespace_index(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


class Store:
    """Objects by key, with named indexes (index name -> value -> keys)."""

    def __init__(self) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self.add_indexer(NAMESPACE_INDEX, namespace_index)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Add an index; existing items are indexed at once. Re-adding a name replaces it."""
        self._indexers[name] = fn
        self._indices[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, fn, key, obj)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[Obj]:
        return list(self._items.values())

    def upsert(self, obj: Obj) -> Obj | None:
        """Store `obj` under its key; returns the object it replaced, if any."""
        key = meta_namespace_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def delete(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objs: Iterable[Obj]) -> None:
        self._items = {meta_namespace_key(o): o for o in objs}
        self._indices = {name: {} for name in self._indexers}
        for key, obj in self._items.items():
            self._index(key, obj)

    def by_index(self, index: str, value: str) -> list[Obj]:
        if index not in self._indices:
            raise KeyError(f"no index named {index!r}")
        keys = list(self._indices[index].get(value, ()))  # one C-level copy: safe to read from a thread
        items = self._items
        return [obj for obj in map(items.get, keys) if obj is not None]

    def index_values(self, index: str) -> list[str]:
        return list(self._indices[index])

    def _index(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            self._index_one(name, fn, key, obj)

    def _index_one(self, name: str, fn: IndexFunc, key: str, obj: Obj) -> None:
        index = self._indices[name]
        for value in set(fn(obj)):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in set(fn(obj)):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


class Lister:
    """Read-only queries on an informer's cache (client-go's generated listers, for any kind)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        return self._store.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None, label_selector: Any = None) -> list[Obj]:
        objs = self._store.by_index(NAMESPACE_INDEX, namespace) if namespace else self._store.items()
        if label_selector is None:
            return objs
        sel = to_selector(label_selector)
        return [o for o in objs if sel.matches((o.get("metadata") or {}).get("labels"))]

    def by_index(self, index: str, value: str) -> list[Obj]:
        return self._store.by_index(index, value)

    def keys(self) -> list[str]:
        return self._store.keys()
