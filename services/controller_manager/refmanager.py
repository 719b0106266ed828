"""ControllerRefManager (k8s pkg/controller/controller_ref_manager.go): claim, adopt and release.

`claim(...)` returns the objects an owner controls after it has adopted matching orphans and
released controlled objects that stopped matching. An owner being deleted neither adopts nor
releases. Before the first adoption the owner is re-read from the API server (`can_adopt`), so a
stale cache never makes a deleted or recreated owner adopt anything. An owner's `finalizers` (the
Job's `batch.kubernetes.io/job-tracking`) are added to what it adopts and removed from what it
releases, as PodControllerRefManager does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from shared.client import Invalid, NotFound

from services.controller_manager.objects import (
    controller_ref,
    is_being_deleted,
    meta,
    namespace_of,
    new_controller_ref,
    uid_of,
)


class ClaimError(Exception):
    """The owner may not adopt: it changed or is being deleted."""


def adopt_patch(obj: Mapping, owner_ref: dict, finalizers: tuple[str, ...] = ()) -> dict:
    """A merge patch adding the controller ownerReference (and the owner's finalizers); the uid and
    resourceVersion make it apply only to the object as we saw it (a changed object gets a 409 and
    a retry)."""
    refs = [r for r in meta(obj).get("ownerReferences") or [] if r.get("uid") != owner_ref["uid"]]
    refs.append(owner_ref)
    patch = {"metadata": {"ownerReferences": refs, "uid": uid_of(obj),
                          "resourceVersion": meta(obj).get("resourceVersion")}}
    current = list(meta(obj).get("finalizers") or [])
    if any(f not in current for f in finalizers):
        patch["metadata"]["finalizers"] = current + [f for f in finalizers if f not in current]
    return patch


def release_patch(obj: Mapping, owner_uid: str, finalizers: tuple[str, ...] = ()) -> dict:
    refs = [r for r in meta(obj).get("ownerReferences") or [] if r.get("uid") != owner_uid]
    patch = {"metadata": {"ownerReferences": refs or None, "uid": uid_of(obj),
                          "resourceVersion": meta(obj).get("resourceVersion")}}
    current = list(meta(obj).get("finalizers") or [])
    if any(f in current for f in finalizers):
        patch["metadata"]["finalizers"] = [f for f in current if f not in finalizers] or None
    return patch


class RefManager:
    def __init__(self, client, *, ref, owner: Mapping, api_version: str, kind: str,
                 matches: Callable[[Mapping], bool], can_adopt: Callable[[], Awaitable[None]],
                 finalizers: tuple[str, ...] = ()) -> None:
        self.client, self.ref, self.owner = client, ref, owner
        self.finalizers = finalizers
        self.owner_ref = new_controller_ref(owner, api_version=api_version, kind=kind)
        self.matches, self._can_adopt = matches, can_adopt
        self._adopt_checked = False

    async def claim(self, objects: list[dict]) -> list[dict]:
        claimed = []
        for obj in objects:
            kept = await self._claim_one(obj)
            if kept is not None:
                claimed.append(kept)
        return claimed

    async def _claim_one(self, obj: dict) -> dict | None:
        ref = controller_ref(obj)
        owner_uid = uid_of(self.owner)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                return None  # someone else's
            if self.matches(obj) or is_being_deleted(self.owner):
                return obj
            await self._release(obj)
            return None
        if is_being_deleted(self.owner) or not self.matches(obj) or is_being_deleted(obj):
            return None
        if namespace_of(obj) != namespace_of(self.owner):
            return None
        return await self._adopt(obj)

    async def _adopt(self, obj: dict) -> dict | None:
        if not self._adopt_checked:
            await self._can_adopt()
            self._adopt_checked = True
        try:
            patch = adopt_patch(obj, self.owner_ref, self.finalizers)
            return await self.client.patch(self.ref, meta(obj)["name"], patch, namespace=namespace_of(obj))
        except NotFound:
            return None  # gone: nothing to adopt

    async def _release(self, obj: dict) -> None:
        try:
            patch = release_patch(obj, uid_of(self.owner), self.finalizers)
            await self.client.patch(self.ref, meta(obj)["name"], patch, namespace=namespace_of(obj))
        except (NotFound, Invalid):
            pass  # gone, or no longer ours: already released


def recheck_owner(client, ref, owner: Mapping) -> Callable[[], Awaitable[None]]:
    """RecheckDeletionTimestamp: a quorum read of the owner; raises ClaimError if it changed."""

    async def check() -> None:
        fresh = await client.get(ref, meta(owner)["name"], namespace=namespace_of(owner) or None)
        if uid_of(fresh) != uid_of(owner):
            raise ClaimError(f"original {meta(owner)['name']} is gone: got uid {uid_of(fresh)}, wanted {uid_of(owner)}")
        if is_being_deleted(fresh):
            raise ClaimError(f"{meta(owner)['name']} has just been deleted at {meta(fresh)['deletionTimestamp']}")

    return check
