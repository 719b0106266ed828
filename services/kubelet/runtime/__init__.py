"""Container runtimes behind one CRI-shaped interface (`cri.Runtime`): `process` and `fake`."""

from __future__ import annotations

from pathlib import Path

from services.kubelet.runtime.cri import Runtime


def create_runtime(kind: str, *, root: Path, start_delay: float = 0.0) -> Runtime:
    if kind == "process":
        from services.kubelet.runtime.process import ProcessRuntime

        return ProcessRuntime(root)
    if kind == "fake":
        from services.kubelet.runtime.fake import FakeRuntime

        return FakeRuntime(start_delay=start_delay)
    raise ValueError(f"unknown container runtime {kind!r} (process or fake)")
