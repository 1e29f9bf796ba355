"""The web app: department pushes (ingest), operators' probes and metrics; later the inbox."""

from web.app import create_app, run_web

__all__ = ["create_app", "run_web"]
