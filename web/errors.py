"""Error replies as JSON `{"error": reason}`, raised from handlers as aiohttp HTTP exceptions."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web


def fail(
    status: type[web.HTTPException],
    reason: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> web.HTTPException:
    """The exception to raise for a JSON error reply: this status, a one-line reason."""
    body = json.dumps({"error": reason, **(extra or {})}, ensure_ascii=False)
    return status(text=body, content_type="application/json", headers=headers)


def too_large(limit: int, size: int) -> web.HTTPException:
    """413 with a JSON reason (this exception class wants the sizes besides)."""
    reason = f"the body is larger than the limit of {limit} bytes: split the file"
    body = json.dumps({"error": reason})
    return web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=size, text=body, content_type="application/json"
    )
