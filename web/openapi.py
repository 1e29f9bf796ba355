"""The OpenAPI description of the HTTP API, served at `/api/openapi.json`.

Written once here; a test checks that every route of the app is described and that every
described route exists, so the page, the tests and a client read the same contract.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

_JSON = "application/json"
ACTIONS = ("ack", "resolve", "dismiss", "reassign")


def _reply(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description}
    if schema is not None:
        body["content"] = {_JSON: {"schema": schema}}
    return body


_ERROR = {"$ref": "#/components/schemas/Error"}
_ALERT = {"$ref": "#/components/schemas/Alert"}
_REFUSALS = {
    "401": _reply("no token, or a bad, expired or revoked one (audited)", _ERROR),
    "403": _reply("outside the token's role or scope (audited)", _ERROR),
}
_ALERT_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}, "description": description}


def _action(action: str) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "ack": {"type": "object", "properties": {"note": {"type": "string"}}},
        "resolve": {
            "type": "object",
            "required": ["resolution"],
            "properties": {
                "resolution": {"$ref": "#/components/schemas/Resolution"},
                "note": {"type": "string", "description": "required for false_match"},
            },
        },
        "dismiss": {
            "type": "object",
            "required": ["note"],
            "properties": {"note": {"type": "string"}},
        },
        "reassign": {
            "type": "object",
            "required": ["queue"],
            "properties": {"queue": {"type": "string"}, "note": {"type": "string"}},
        },
    }
    who = "a supervisor within their district" if action == "reassign" else "caseworker, supervisor"
    return {
        "post": {
            "summary": f"{action} an alert ({who}); applied by the worker that owns the person",
            "parameters": [_ALERT_ID],
            "requestBody": {
                "required": action != "ack",
                "content": {_JSON: {"schema": bodies[action]}},
            },
            "responses": {
                "200": _reply("applied: the alert's new version", _ALERT),
                "202": _reply("queued: the worker has not applied it yet"),
                **_REFUSALS,
                "404": _reply("no such alert", _ERROR),
                "409": _reply("not allowed from the alert's status", _ERROR),
                "422": _reply("a required note or a valid resolution code is missing", _ERROR),
            },
        }
    }


def description() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/alerts": {
            "get": {
                "summary": "alerts visible to the caller, filtered and paged",
                "parameters": [
                    _query("status", "open, acknowledged, resolved, dismissed, withdrawn"),
                    _query("type", "an alert type, e.g. DECEASED_BENEFICIARY"),
                    _query("severity", "critical, high, medium, low"),
                    _query("program", "a program code"),
                    _query("district", "a district code"),
                    _query("q", "free text: alert id, type, reason, community, name, queue"),
                    _query("page", "from 1", "integer"),
                    _query("per_page", "1 to 200, default 50", "integer"),
                ],
                "responses": {
                    "200": _reply("a page of alerts", {"$ref": "#/components/schemas/Page"}),
                    **_REFUSALS,
                },
            }
        },
        "/api/alerts/stream": {
            "get": {
                "summary": "server-sent events: every new or changed alert visible to the caller; "
                "resumes after Last-Event-ID",
                "parameters": [
                    {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "text/event-stream of `alert` events"},
                    **_REFUSALS,
                },
            }
        },
        "/api/alerts/{alert_id}": {
            "get": {
                "summary": "one alert in full (audited)",
                "parameters": [_ALERT_ID],
                "responses": {
                    "200": _reply("the alert", _ALERT),
                    **_REFUSALS,
                    "404": _reply("no such alert", _ERROR),
                },
            }
        },
        **{f"/api/alerts/{{alert_id}}/{a}": _action(a) for a in ACTIONS},
        "/api/checks": {
            "post": {
                "summary": "pre-approval check: findings that would alert, nothing written",
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["program", "ids"],
                                "properties": {
                                    "program": {"type": "string"},
                                    "ids": {"type": "array", "items": {"type": "string"}},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _reply("findings per applicant"),
                    **_REFUSALS,
                    "422": _reply("bad program or ID number", _ERROR),
                },
            }
        },
        "/api/audit": {
            "get": {
                "summary": "the audit log (auditors)",
                "parameters": [
                    _query("chain", "one chain"),
                    _query("target", "an alert id or path"),
                    _query("page", "from 1", "integer"),
                    _query("per_page", "entries per page", "integer"),
                ],
                "responses": {
                    "200": _reply("audit entries, newest first"),
                    "400": _reply("a bad page or per_page", _ERROR),
                    **_REFUSALS,
                    "503": _reply("Redis is down", _ERROR),
                },
            }
        },
        "/api/ingest/{feed}": {
            "post": {
                "summary": "a department's CSV or JSON-lines body through its connector",
                "parameters": [
                    {"name": "feed", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"text/csv": {}, "application/x-ndjson": {}},
                },
                "responses": {"200": _reply("received, accepted and rejected counts"), **_REFUSALS},
            }
        },
        "/api/session": {
            "post": {
                "summary": "sign in: the token is kept in an HttpOnly cookie for the inbox",
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {"token": {"type": "string"}},
                            }
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"token": {"type": "string"}},
                            }
                        },
                    },
                },
                "responses": {
                    "200": _reply("signed in (JSON body)"),
                    "303": {"description": "signed in (form body): to the inbox"},
                    "400": _reply("no token given", _ERROR),
                    "401": _reply("a bad, expired or revoked token", _ERROR),
                    "403": _reply("a department token, or a sign-in from another site", _ERROR),
                },
            }
        },
        "/api/session/logout": {
            "post": {
                "summary": "sign out: the cookie is cleared",
                "responses": {"200": _reply("signed out")},
            }
        },
        "/api/openapi.json": {
            "get": {"summary": "this description", "responses": {"200": _reply("OpenAPI 3.1")}}
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text exposition"}},
            }
        },
        "/healthz": {"get": {"summary": "liveness", "responses": {"200": _reply("alive")}}},
        "/readyz": {
            "get": {
                "summary": "readiness: Kafka and Redis answer",
                "responses": {"200": _reply("ready"), "503": _reply("what is down")},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "welfare-watch", "version": "1"},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "ww_token"},
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
                "Resolution": {
                    "type": "string",
                    "enum": ["confirmed_suspended", "confirmed_recalculated", "confirmed_recovered",
                             "transferred", "false_match", "no_action_needed"],
                },
                "Alert": {"type": "object", "description": "the alert record of alerts.md"},
                "Page": {
                    "type": "object",
                    "properties": {
                        "total": {"type": "integer"}, "page": {"type": "integer"},
                        "per_page": {"type": "integer"}, "counts": {"type": "object"},
                        "alerts": {"type": "array", "items": _ALERT},
                    },
                },
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
    }  # fmt: skip


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(description())
