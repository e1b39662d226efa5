"""The HTTP API (`kith serve`): Kith as an embeddable customer-service and recommendation bot.

FastAPI documents every route at /docs (OpenAPI at /openapi.json). Every /v1 request carries
`Authorization: Bearer KEY`; the key names the calling app (tenant). An end user's data is
reached only under that user's path, and sessions belong to the app that started them.
Errors are JSON `{"error": {"status", "code", "message", "details"}}` with a 4xx status that
says what was wrong; nothing is written by a request that fails.

Threads: FastAPI runs these handlers in a thread pool. SQLite is shared behind a lock, ranking
reads shared arrays, and the LLM generates one reply at a time (bot.llm.SerialRuntime).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.sse import format_sse_event
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import KithConfig
from bot.kith import Kith, KithInputError, Turn, ensure_catalog
from bot.llm import LLMRuntime, SerialRuntime, open_runtime
from bot.profile import Profile
from bot.sentiment import Sentiment
from bot.sessions import UnknownSession, expire_sessions
from bot.support import Handoff, HelpAnswer
from retrieval.datafiles import DataError, read_records
from retrieval.embeddings import shared_embedder
from retrieval.ingest import ingest_dataset
from retrieval.ranking import FriendActivity, Recommendation
from retrieval.schemas import check_catalog_name
from retrieval.store import Stores

log = logging.getLogger("kith.api")

USER_ID = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$"
SESSION_ID = r"^[A-Za-z0-9_-]{1,64}$"
INGEST_PREFIX = "/v1/catalogs/"
IngestKind = Literal["items", "users", "friendships", "interactions", "help-articles", "dialogues"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers


def _error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                    headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"status": status, "code": code, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


# --- request and response bodies -----------------------------------------------------------

class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="What the person wrote.")
    session_id: str | None = Field(None, pattern=SESSION_ID, description="Continue this session; omit to start one.")
    catalog: str | None = Field(None, description="Catalog to recommend from; the server's default when omitted.")


class TurnOut(BaseModel):
    text: str
    session_id: str
    recommendations: list[Recommendation]
    profile: Profile
    profile_summary: list[str]
    handoff: Handoff | None = Field(description="Set when this turn hands the conversation to a person.")
    help: HelpAnswer | None = Field(description="The help article that answered a problem, if one did.")
    refused: str | None = Field(description="Why the message was refused: instructions or private.")
    sentiment: Sentiment
    tone: str
    asked_clarifying: bool
    friends_activity: list[FriendActivity]
    timings: dict[str, float]


class ProfileOut(BaseModel):
    user_id: str
    catalog: str
    profile: Profile
    summary: list[str]


class SessionOut(BaseModel):
    id: str
    created_at: str
    updated_at: str
    messages: int


class StoredMessageOut(BaseModel):
    role: str
    text: str
    recommendations: list[str] = Field(description="Item ids recommended in this message (assistant only).")
    handoff: dict[str, Any] | None = None


class SessionDetail(SessionOut):
    transcript: list[StoredMessageOut]


class RecordsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(min_length=1, description="Records in the format of the README's data files.")


class IngestOut(BaseModel):
    catalog: str
    written: dict[str, int]
    seconds: float


class Health(BaseModel):
    status: str
    catalogs: list[str]
    default_catalog: str
    llm_loaded: bool


# --- callers: keys and rate limits ------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    app: str
    admin: bool


class Keys:
    def __init__(self, entries: list[str]):
        self._keys: list[tuple[bytes, Caller]] = []
        for entry in entries:
            app, key, *role = entry.split(":")
            self._keys.append((key.encode(), Caller(app, role == ["admin"])))

    def caller(self, authorization: str | None) -> Caller:
        if not self._keys:
            raise ApiError(401, "no_keys_configured", "this server has no API keys: set KITH_API_KEYS")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "missing_key", "send your API key as the header 'Authorization: Bearer KEY'",
                           headers={"WWW-Authenticate": "Bearer"})
        given = token.strip().encode()
        found = None
        for key, caller in self._keys:  # compare with every key: timing tells nothing
            if hmac.compare_digest(key, given):
                found = caller
        if found is None:
            raise ApiError(401, "invalid_key", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
        return found


class RateLimiter:
    """A token bucket per app: `per_minute` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, app: str) -> float | None:
        """None when allowed; otherwise seconds until the next request would be."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(app, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self._buckets[app] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[app] = (tokens - 1.0, now)
            return None


# --- the service: catalogs, the shared LLM, housekeeping -----------------------------------

class Service:
    def __init__(self, config: KithConfig):
        self.config = config
        self.stores = Stores.open(config.data_dir, config.chroma_url, config.embedding_batch_size)
        ensure_catalog(self.stores, config.catalog, config.embedding_batch_size, config.cache_dir)
        self.keys = Keys(config.service.api_keys)
        self.limiter = RateLimiter(config.service.rate_limit_per_minute)
        self._kiths: dict[str, Kith] = {}
        self._kiths_lock = threading.Lock()
        self._llm: LLMRuntime | None = None
        self._llm_lock = threading.Lock()
        self._stop = threading.Event()
        self._cleaner: threading.Thread | None = None

    def llm(self) -> LLMRuntime:
        with self._llm_lock:
            if self._llm is None:
                self._llm = SerialRuntime(open_runtime(self.config.llm, self.config.cache_dir))
            return self._llm

    def kith(self, catalog: str | None) -> Kith:
        name = catalog or self.config.catalog
        with self._kiths_lock:
            if name not in self._kiths:
                try:
                    check_catalog_name(name)
                except ValueError as error:
                    raise ApiError(422, "invalid_catalog", str(error), [{"where": "catalog", "problem": str(error)}])
                if not self.stores.database.has_catalog(name):
                    known = self.stores.database.catalogs()
                    raise ApiError(404, "unknown_catalog", f"no catalog {name!r}; catalogs: {', '.join(known) or 'none'}")
                settings = self.config.model_copy(update={"catalog": name})
                self._kiths[name] = Kith(settings, self.stores, llm=self.llm)
            return self._kiths[name]

    def user_known(self, kith: Kith, user_id: str, app: str) -> bool:
        database = self.stores.database
        return (
            user_id in database.ids(kith.catalog, "users")
            or bool(database.query("SELECT 1 FROM profiles WHERE catalog = ? AND user_id = ?", (kith.catalog, user_id)))
            or bool(kith.sessions.sessions(user_id, app))
        )

    def start(self) -> None:
        self._cleaner = threading.Thread(target=self._clean_periodically, name="kith-session-cleanup", daemon=True)
        self._cleaner.start()

    def expire_now(self) -> int:
        ttl = timedelta(hours=self.config.service.session_ttl_hours)
        removed = expire_sessions(self.stores.database, datetime.now(UTC) - ttl)
        if removed:
            log.info("expired %d session(s) idle for over %s", removed, ttl)
        return removed

    def _clean_periodically(self) -> None:
        interval = self.config.service.cleanup_minutes * 60
        while not self._stop.is_set():
            try:
                self.expire_now()
            except Exception:  # a failed sweep must not end the schedule; the next one retries
                log.exception("session cleanup failed")
            self._stop.wait(interval)

    def close(self) -> None:
        self._stop.set()
        if self._cleaner is not None:
            self._cleaner.join(timeout=5)
        for kith in self._kiths.values():
            kith.writer.wait()
        self.stores.close()


# --- the app -------------------------------------------------------------------------------

def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    """The calling app, from its key; also where each app's rate limit is applied."""
    service: Service = request.app.state.service
    found = service.keys.caller(authorization)
    request.state.app = found.app
    wait = service.limiter.take(found.app)
    if wait is not None:
        limit = service.config.service.rate_limit_per_minute
        raise ApiError(429, "rate_limited", f"app {found.app!r} sent more than {limit} requests a minute; "
                       f"retry in {wait:.1f} s", headers={"Retry-After": str(max(1, round(wait)))})
    return found


UserId = Annotated[str, Path(pattern=USER_ID, description="The end user this request is for.")]
SessionId = Annotated[str, Path(pattern=SESSION_ID)]
Catalog = Annotated[str | None, Query(description="Catalog; the server's default when omitted.")]
Authorized = Annotated[Caller, Depends(caller)]


def create_app(config: KithConfig) -> FastAPI:
    service = Service(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        service.start()
        yield
        service.close()

    app = FastAPI(
        title="Kith",
        version="1",
        summary="Conversational recommendations and customer-service answers over your catalog.",
        lifespan=lifespan,
    )
    app.state.service = service
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, config=config)

    @app.middleware("http")
    async def access_log(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        # The app name, never the key: keys do not appear in any log.
        log.info("%s %s -> %d app=%s %.0f ms", request.method, request.url.path, response.status_code,
                 getattr(request.state, "app", "-"), (time.perf_counter() - started) * 1000)
        return response

    def checked_turn_input(user_id: str, body: MessageIn, who: Caller) -> tuple[Kith, str]:
        kith = service.kith(body.catalog)
        try:
            text = kith.check_message(user_id, body.text)
        except KithInputError as error:
            raise ApiError(422, "invalid_message", str(error), [{"where": "body.text", "problem": str(error)}])
        try:  # checked before a reply streams, so the status can still say it; writes nothing
            kith.sessions.open_session(user_id, body.session_id, who.app)
        except UnknownSession as error:
            raise ApiError(404, "unknown_session", str(error))
        if not config.service.allow_new_users and not service.user_known(kith, user_id, who.app):
            raise ApiError(404, "unknown_user", f"no user {user_id!r} in catalog {kith.catalog!r}")
        return kith, text

    def turn_out(kith: Kith, turn: Turn) -> TurnOut:
        return TurnOut(
            text=turn.text, session_id=turn.session_id, recommendations=turn.recommendations, profile=turn.profile,
            profile_summary=kith.describe_profile(turn.profile), handoff=turn.handoff, help=turn.help,
            refused=turn.refused, sentiment=turn.sentiment, tone=turn.tone, asked_clarifying=turn.asked_clarifying,
            friends_activity=turn.friends_activity, timings=turn.timings,
        )

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Liveness and what the server holds; needs no key."""
        return Health(status="ok", catalogs=service.stores.database.catalogs(), default_catalog=config.catalog,
                      llm_loaded=service._llm is not None)

    @app.post("/v1/users/{user_id}/messages", response_model=TurnOut, tags=["conversation"])
    def send_message(user_id: UserId, body: MessageIn, who: Authorized) -> TurnOut:
        """Send the user's message; get the whole reply with recommendations, profile and hand-off."""
        kith, text = checked_turn_input(user_id, body, who)
        try:
            turn = kith.reply(user_id, text, body.session_id, app=who.app)
        except UnknownSession as error:
            raise ApiError(404, "unknown_session", str(error))
        return turn_out(kith, turn)

    @app.post("/v1/users/{user_id}/messages/stream", tags=["conversation"],
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "Server-sent events: `delta` events with `{\"text\"}` pieces, "
                                              "then one `turn` event with the same body as the non-streamed reply."}})
    def stream_message(user_id: UserId, body: MessageIn, who: Authorized) -> StreamingResponse:
        """Send the user's message; the reply streams as server-sent events."""
        kith, text = checked_turn_input(user_id, body, who)

        def events() -> Iterator[bytes]:
            try:
                for piece in kith.stream(user_id, text, body.session_id, app=who.app):
                    if isinstance(piece, Turn):
                        data = turn_out(kith, piece).model_dump_json()
                        yield format_sse_event(data_str=data, event="turn")
                    else:
                        yield format_sse_event(data_str=json.dumps({"text": piece}), event="delta")
            except Exception as error:  # the status line is sent; report in the stream
                log.exception("streamed turn failed")
                yield format_sse_event(data_str=json.dumps({"message": f"the turn failed: {type(error).__name__}"}),
                                       event="error")

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/v1/users/{user_id}/sessions", response_model=list[SessionOut], tags=["sessions"])
    def list_sessions(user_id: UserId, who: Authorized, catalog: Catalog = None) -> list[SessionOut]:
        """This user's sessions started by the calling app, newest first."""
        kith = service.kith(catalog)
        return [SessionOut(**row) for row in kith.sessions.sessions(user_id, who.app)]

    @app.get("/v1/users/{user_id}/sessions/{session_id}", response_model=SessionDetail, tags=["sessions"])
    def read_session(user_id: UserId, session_id: SessionId, who: Authorized,
                     catalog: Catalog = None) -> SessionDetail:
        kith = service.kith(catalog)
        listed = {row["id"]: row for row in kith.sessions.sessions(user_id, who.app)}
        if session_id not in listed:
            raise ApiError(404, "unknown_session", f"no session {session_id!r} for user {user_id!r}")
        transcript = [
            StoredMessageOut(role=m.role, text=m.text, recommendations=[r["item_id"] for r in m.data.get("recommendations", [])],
                             handoff=m.data.get("handoff"))
            for m in kith.sessions.messages(session_id)
        ]
        return SessionDetail(**listed[session_id], transcript=transcript)

    @app.delete("/v1/users/{user_id}/sessions/{session_id}", status_code=204, tags=["sessions"])
    def delete_session(user_id: UserId, session_id: SessionId, who: Authorized,
                       catalog: Catalog = None) -> None:
        kith = service.kith(catalog)
        if not kith.sessions.delete_session(user_id, session_id, who.app):
            raise ApiError(404, "unknown_session", f"no session {session_id!r} for user {user_id!r}")

    @app.get("/v1/users/{user_id}/profile", response_model=ProfileOut, tags=["profile"])
    def read_profile(user_id: UserId, who: Authorized, catalog: Catalog = None) -> ProfileOut:
        kith = service.kith(catalog)
        if not service.user_known(kith, user_id, who.app):
            raise ApiError(404, "unknown_user", f"no user {user_id!r} in catalog {kith.catalog!r}")
        profile = kith.profile(user_id)
        return ProfileOut(user_id=user_id, catalog=kith.catalog, profile=profile, summary=kith.describe_profile(profile))

    @app.put("/v1/users/{user_id}/profile", response_model=ProfileOut, tags=["profile"])
    def correct_profile(user_id: UserId, profile: Profile, who: Authorized, catalog: Catalog = None) -> ProfileOut:
        """Replace the user's profile (the person corrected it); items must exist in the catalog."""
        kith = service.kith(catalog)
        try:
            kith.set_profile(user_id, profile)
        except KithInputError as error:
            raise ApiError(422, "invalid_profile", str(error), [{"where": "body", "problem": str(error)}])
        return ProfileOut(user_id=user_id, catalog=kith.catalog, profile=profile, summary=kith.describe_profile(profile))

    @app.post(INGEST_PREFIX + "{catalog}/{kind}", response_model=IngestOut, tags=["ingest"])
    def ingest(catalog: str, kind: IngestKind, body: RecordsIn, who: Authorized) -> IngestOut:
        """Add or update records (upsert by id) of one kind; admin keys only. All problems of a
        request are reported at once and nothing is written unless every record is valid."""
        if not who.admin:
            raise ApiError(403, "not_admin", f"app {who.app!r} may not change catalogs: use a key marked ':admin'")
        try:
            check_catalog_name(catalog)
        except ValueError as error:
            raise ApiError(422, "invalid_catalog", str(error))
        database = service.stores.database
        if kind != "items" and not database.has_catalog(catalog):
            raise ApiError(404, "unknown_catalog", f"no catalog {catalog!r}: send its items first")
        started = time.perf_counter()
        try:
            dataset = read_records(kind.replace("-", "_"), body.records, "body.records",
                                   database.ids(catalog, "users"), database.ids(catalog, "items"))
        except DataError as error:
            details = [{"where": f"{i.path}[{i.line}]" + (f".{i.field}" if i.field else ""), "problem": i.message}
                       for i in error.issues]
            raise ApiError(422, "invalid_records", f"{len(error.issues)} problem(s) in the records; nothing was written",
                           details)
        ingest_dataset(dataset, catalog, f"HTTP API ({who.app})", database, service.stores.vectors,
                       shared_embedder(config.embedding_batch_size, config.cache_dir))
        if catalog in service._kiths:
            service._kiths[catalog].refresh()
        return IngestOut(catalog=catalog, written={k: v for k, v in dataset.counts().items() if v},
                         seconds=round(time.perf_counter() - started, 3))

    return app


class BodyLimit:
    """Refuse bodies over the configured size with 413, before reading them whole: by the
    declared Content-Length, or by counting when the body comes in chunks."""

    def __init__(self, app: ASGIApp, config: KithConfig):
        self.app = app
        self.config = config.service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ingest = scope["path"].startswith(INGEST_PREFIX)
        limit = self.config.max_ingest_bytes if ingest else self.config.max_request_bytes
        too_large = _error_response(413, "body_too_large", f"the request body is larger than the {limit} bytes this "
                                    f"server accepts for {'ingest' if ingest else 'this'} request")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _BodyTooLarge:
            if not started:
                await too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error_response(error.status, error.code, error.message, error.details, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error_response(400, "invalid_json", "the body is not valid JSON (UTF-8)")
        details = [{"where": ".".join(str(part) for part in p["loc"]), "problem": str(p["msg"])} for p in problems]
        summary = "; ".join(f"{d['where']}: {d['problem']}" for d in details)
        return _error_response(422, "invalid_request", f"the request is not valid: {summary}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            return _error_response(400, "invalid_json", "the body could not be read: send UTF-8 JSON")
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return _error_response(error.status_code, code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(UnicodeDecodeError)
    async def not_utf8(_: Request, error: UnicodeDecodeError) -> JSONResponse:
        return _error_response(400, "invalid_json", f"the body is not valid UTF-8 (byte {error.start})")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("request failed")
        return _error_response(500, "internal_error", f"the server failed ({type(error).__name__}); nothing was changed")
