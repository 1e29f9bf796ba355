"""Operators' endpoints: liveness, readiness (Kafka and Redis answer), Prometheus metrics."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from web.state import OPTIONS, REDIS, SCRAPE, SETTINGS
from welfare_watch import kafka


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers. Says nothing about Kafka or Redis (that is /readyz)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when Kafka and Redis both answer within the timeout; 503 names what is down."""
    timeout = request.app[OPTIONS].ready_timeout
    kafka_down, redis_down = await asyncio.gather(
        _kafka_problem(request.app, timeout), _redis_problem(request.app, timeout)
    )
    down = {name: why for name, why in (("kafka", kafka_down), ("redis", redis_down)) if why}
    if down:
        reason = "; ".join(f"{name}: {why}" for name, why in down.items())
        return web.json_response(
            {"status": "unavailable", "error": reason, "down": down}, status=503
        )
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition: the app's registry, or under `welfare-watch run` every
    process's, and what the store says (welfare_watch/exposition.py). Rendered in a thread:
    reading the store blocks."""
    body = await asyncio.to_thread(generate_latest, request.app[SCRAPE])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def kafka_unreachable(bootstrap: str, timeout: float) -> str:
    """Why no bootstrap address of Kafka accepts a connection, or "" when one does (blocking).

    Checked with a plain socket before any Kafka client is made: kafka-python takes its
    whole bootstrap timeout to give up on a closed port, and leaks a socket per attempt.
    """
    problems = []
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout).close()
        except (OSError, ValueError) as exc:
            problems.append(getattr(exc, "strerror", None) or type(exc).__name__)
            continue
        return ""
    return ", ".join(sorted(set(problems))).lower()


def _metadata(bootstrap: str, timeout: float) -> None:
    problem = kafka_unreachable(bootstrap, timeout)
    if problem:
        raise ConnectionError(problem)
    with kafka.admin(bootstrap) as client:
        client.list_topics()


async def _kafka_problem(app: web.Application, timeout: float) -> str:
    bootstrap = app[SETTINGS].env.kafka_bootstrap
    try:
        # kafka-python blocks; a thread that outlives the timeout ends by itself later.
        await asyncio.wait_for(asyncio.to_thread(_metadata, bootstrap, timeout), timeout)
    except TimeoutError:
        return f"no answer from {bootstrap} within {timeout:g}s"
    except ConnectionError as exc:
        return f"{bootstrap}: {exc}"
    except Exception as exc:  # any failure is "not ready"; the reply says which kind
        return f"{bootstrap}: {type(exc).__name__}"
    return ""


async def _redis_problem(app: web.Application, timeout: float) -> str:
    try:
        await asyncio.wait_for(app[REDIS].ping(), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except Exception as exc:  # connection refused, auth, loading: all "not ready"
        return type(exc).__name__
    return ""
