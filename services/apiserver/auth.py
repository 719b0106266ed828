"""Bearer-token authentication from kube-apiserver's `--token-auth-file` CSV.

Guarantees: each CSV line `token,user,uid[,"group1,group2"]` makes one user; `authenticate`
returns that user for `Authorization: Bearer <token>`, or None (the caller answers 401). Without a
token file every request is `system:anonymous` (handy for local runs; kubemu's launcher always
passes one). Every authenticated user is in `system:authenticated`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)


ANONYMOUS = UserInfo("system:anonymous", "", ("system:unauthenticated",))


def parse_token_file(text: str) -> dict[str, UserInfo]:
    """Tokens to users; blank lines and lines starting with '#' are skipped."""
    users: dict[str, UserInfo] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3:
            raise ValueError(f"token file line needs token,user,uid: {row!r}")
        token, name, uid = (c.strip() for c in row[:3])
        groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
        users[token] = UserInfo(name, uid, groups + ("system:authenticated",))
    return users


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, UserInfo] | None) -> None:
        # None: no token file, everyone is anonymous.
        self._tokens = tokens

    @classmethod
    def from_file(cls, path: Path | None) -> "TokenAuthenticator":
        return cls(parse_token_file(path.read_text()) if path else None)

    def authenticate(self, authorization: str | None) -> UserInfo | None:
        if self._tokens is None:
            return ANONYMOUS
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self._tokens.get(token.strip())
