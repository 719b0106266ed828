"""The curl commands of examples/README.md, run as printed against a real API server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.apiserver import ApiServerHandle

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def _commands() -> list[str]:
    """Each `curl ...` command (with its continuation lines) from the README's curl block."""
    text = (REPO / "examples" / "README.md").read_text()
    block = text.split("## curl", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", "", block)
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip().startswith("curl")]


def test_readme_curl_examples_work(apiserver: ApiServerHandle) -> None:
    env = {**os.environ, "APISERVER": apiserver.url, "TOKEN": apiserver.token, "CA": str(apiserver.ca_file)}
    commands = _commands()
    assert len(commands) >= 8
    for command in commands:
        if "watch=true" in command:
            command = command.replace("allowWatchBookmarks=true", "allowWatchBookmarks=true&timeoutSeconds=1")
        if "|" in command:
            proc = subprocess.run(["bash", "-c", command.replace("curl ", "curl -s ", 1)], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=30)
            assert proc.returncode == 0 and proc.stdout.strip(), (command, proc.stderr[-500:])
            continue
        proc = subprocess.run(["bash", "-c", f"{command} -s -w '\\n%{{http_code}}'"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=30)
        code = proc.stdout.strip().rsplit("\n", 1)[-1]
        assert proc.returncode == 0 and code in ("200", "201", "202"), (command, proc.stdout[-500:])
    listed = json.loads(subprocess.run(
        ["curl", "-s", "--cacert", str(apiserver.ca_file), "-H", f"Authorization: Bearer {apiserver.token}",
         f"{apiserver.url}/apis/apps/v1/namespaces/default/deployments/nginx"], capture_output=True,
        text=True).stdout)
    assert listed["spec"]["replicas"] == 5
