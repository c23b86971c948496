"""The web app of ``simulator serve`` (Flask, SQLAlchemy): see docs/web.md."""
from __future__ import annotations

from simulator.web.app import create_app
from simulator.web.intake import Limits

__all__ = ["Limits", "create_app"]
