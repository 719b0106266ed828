"""kubectl 1.27 and 1.28 validate `create`/`apply` against /openapi/v2 (as protobuf): both work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures.apiserver import REPO

SDK = Path("/usr/lib/google-cloud-sdk/bin")


@pytest.mark.parametrize("version", ["1.27", "1.28"])
def test_create_and_apply_with_old_kubectl(apiserver, tmp_path: Path, version: str) -> None:
    kubectl = SDK / f"kubectl.{version}"
    if not kubectl.exists():
        pytest.skip(f"kubectl {version} is not installed here")

    def run(*args: str) -> str:
        result = subprocess.run([str(kubectl), "--kubeconfig", str(apiserver.kubeconfig), "--cache-dir",
                                 str(tmp_path / "cache"), *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    deployment = str(REPO / "examples" / "nginx-deployment.yaml")
    assert run("apply", "-f", deployment).strip() == "deployment.apps/nginx created"
    assert run("apply", "-f", deployment).strip() == "deployment.apps/nginx unchanged"
    assert run("create", "-f", str(REPO / "examples" / "pod.yaml")).strip() == "pod/hello created"
    typo = tmp_path / "typo.yaml"
    typo.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndatta: {a: b}\n")
    bad = subprocess.run([str(kubectl), "--kubeconfig", str(apiserver.kubeconfig), "--cache-dir", str(tmp_path / "cache"),
                          "create", "-f", str(typo)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "datta" in bad.stderr
