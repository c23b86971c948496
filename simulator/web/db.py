"""The web app's database: runs and their result tables (SQLAlchemy 2; SQLite by default,
any database SQLAlchemy reaches by URL).

Tables
------
``runs``
    One row per run: id (32 hex digits, unguessable), created, status
    (``queued|running|done|failed``), progress (0..1), source (``example:NAME`` or
    ``upload``), name, the scenario's YAML text as sent, the overrides and replications
    asked for (JSON), the problems (JSON list of ``LINE: key: message``) or error of a
    failed run, started and finished (UTC).
``run_tables``
    One row per run and table (``metrics``, ``summary``, ``warnings``,
    ``customer_metrics``, ``supplier_metrics``): the pandas DataFrame as JSON
    (``orient="table"``: a JSON Table Schema, so column order and dtypes survive), and ``info``
    (the run's provenance, ``run.json``).

JSON rather than Parquet blobs: readable in any SQL client, no binary column types to
differ between databases, and the tables of a web-sized run are small (caps on
replications and horizon).
"""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

STATUSES = ("queued", "running", "done", "failed")


class Base(DeclarativeBase):
    pass


class Run(Base):
    """One run asked for through the web app."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    source: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    scenario: Mapped[str] = mapped_column(Text)
    overrides: Mapped[str] = mapped_column(Text, default="{}")
    replications: Mapped[int | None] = mapped_column(Integer, nullable=True)
    problems: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str] = mapped_column(Text, default="")
    started: Mapped[str | None] = mapped_column(String(32), nullable=True)
    finished: Mapped[str | None] = mapped_column(String(32), nullable=True)

    def status_record(self) -> dict[str, Any]:
        """``{"id", "status", "progress"}`` (SPEC 10) plus name, times and problems."""
        return {"id": self.id, "status": self.status, "progress": round(self.progress, 4),
                "name": self.name, "source": self.source, "created": self.created,
                "started": self.started, "finished": self.finished,
                "replications": self.replications, "overrides": json.loads(self.overrides),
                "problems": json.loads(self.problems),
                "error": self.error}


class RunTable(Base):
    """One result table of a run, as JSON."""

    __tablename__ = "run_tables"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[str] = mapped_column(Text)


def now() -> str:
    """The current UTC time, ISO 8601 to the microsecond (runs are listed in this order)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _engine(url: str) -> Engine:
    """An engine for ``url``; SQLite shared across threads (one connection in memory, WAL
    and a busy timeout for a file)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                        poolclass=StaticPool if memory else None)
    if not memory:
        @event.listens_for(eng, "connect")
        def _wal(conn: Any, _record: Any) -> None:
            conn.execute("PRAGMA journal_mode=WAL")
    return eng


class Store:
    """Runs and result tables in one database, safe to use from several threads.

    Parameters
    ----------
    url : str
        A SQLAlchemy database URL (``sqlite:///runs.db``, ``postgresql://...``).
    """

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer; one lock in this process avoids "database is locked"
        self._lock = threading.RLock() if url.startswith("sqlite") else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end (rolled back on an error)."""
        if self._lock is not None:
            self._lock.acquire()
        try:
            with self._sessions.begin() as s:
                yield s
        finally:
            if self._lock is not None:
                self._lock.release()

    def add(self, source: str, text: str, overrides: dict[str, Any],
            replications: int | None, name: str) -> Run:
        """A new queued run."""
        run = Run(id=uuid.uuid4().hex, created=now(), status="queued", progress=0.0,
                  source=source, name=name, scenario=text, overrides=json.dumps(overrides),
                  replications=replications, problems="[]", error="")
        with self.session() as s:
            s.add(run)
        return run

    def get(self, run_id: str) -> Run | None:
        with self.session() as s:
            return s.get(Run, run_id)

    def recent(self, limit: int = 50) -> list[Run]:
        """The latest runs, newest first."""
        with self.session() as s:
            return list(s.scalars(select(Run).order_by(Run.created.desc()).limit(limit)))

    def set(self, run_id: str, **values: Any) -> None:
        """Change columns of one run."""
        with self.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(**values))

    def put_tables(self, run_id: str, tables: dict[str, str]) -> None:
        """Store a run's tables (name -> JSON text)."""
        with self.session() as s:
            for name, data in tables.items():
                s.merge(RunTable(run_id=run_id, name=name, data=data))

    def table(self, run_id: str, name: str) -> str | None:
        with self.session() as s:
            row = s.get(RunTable, (run_id, name))
            return None if row is None else row.data

    def abandon_unfinished(self) -> int:
        """Mark runs left queued or running by a server that stopped as failed; how many."""
        with self.session() as s:
            res = s.execute(update(Run).where(Run.status.in_(("queued", "running")))
                            .values(status="failed", finished=now(),
                                    error="the server stopped before this run finished"))
            return int(getattr(res, "rowcount", 0) or 0)
