"""The HTTP API (`kith serve`): Kith as an embeddable customer-service and recommendation bot.

FastAPI documents every route at /docs (OpenAPI at /openapi.json). Every /v1 request carries
`Authorization: Bearer KEY`; the key names the calling tenant and app. A tenant sees only its own
catalogs (stored apart, see retrieval.schemas.stored_catalog), so another tenant's catalogs,
users, profiles and sessions are 404 to it, as if they did not exist. Apps of one tenant share
its profiles; sessions belong to the app that started them.
Errors are JSON `{"error": {"status", "code", "message", "details"}}` with a 4xx status that
says what was wrong; nothing is written by a request that fails. A store that is down gets 503
with Retry-After: the Chroma server unreachable (`store_unavailable`), the data folder unable
to take writes (`storage_unavailable`; reads still work). An LLM endpoint that is down costs
no status: the reply is written from the ranking and marked `degraded` (bot.reply).

Threads: FastAPI runs these handlers in a thread pool. SQLite is shared behind a lock, ranking
reads shared arrays, and the LLM generates one reply at a time (bot.runtimes.base.SerialRuntime).
"""

from __future__ import annotations

import hmac
import itertools
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
from bot.context import ClientContext
from bot.feedback import Signal
from bot.kith import Kith, KithInputError, Turn, UnknownItem, ensure_catalog
from bot.profile import Profile
from bot.runtimes.factory import Runtimes
from bot.sentiment import Sentiment
from bot.sessions import UnknownSession, expire_sessions
from bot.handoff import Handoff
from bot.helpdesk import HelpAnswer
from retrieval.database import StorageUnavailable
from retrieval.datafiles import DataError, read_records
from retrieval.embeddings import shared_embedder
from retrieval.ingest import ingest_dataset
from retrieval.ranking import FriendActivity, Recommendation
from retrieval.schemas import DEFAULT_TENANT, Visibility, stored_catalog, tenant_catalogs
from retrieval.store import Stores
from retrieval.vectors import StoreUnavailable

log = logging.getLogger("kith.api")

USER_ID = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$"
SESSION_ID = r"^[A-Za-z0-9_-]{1,64}$"
INGEST_PREFIX = "/v1/catalogs/"
# Retry-After of the 503s: a Chroma server restarts in seconds; a data folder that cannot be
# written waits for a person to free or remount it.
STORE_RETRY_AFTER_S = 5
STORAGE_RETRY_AFTER_S = 60
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


def _unavailable(error: StoreUnavailable | StorageUnavailable) -> tuple[str, str, int]:
    """Code, message and Retry-After seconds of the 503 for a store that is down: a response's,
    or a streamed `error` event's."""
    if isinstance(error, StoreUnavailable):
        return ("store_unavailable", f"{error}: Kith cannot search the catalog now; nothing was changed, "
                f"retry in {STORE_RETRY_AFTER_S} s", STORE_RETRY_AFTER_S)
    return "storage_unavailable", f"{error}; reads still work", STORAGE_RETRY_AFTER_S


# --- request and response bodies -----------------------------------------------------------

class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="What the person wrote.")
    session_id: str | None = Field(None, pattern=SESSION_ID, description="Continue this session; omit to start one.")
    catalog: str | None = Field(None, description="Catalog to recommend from; the server's default when omitted.")
    context: ClientContext | None = Field(None, description="The moment: the person's local time (ISO-8601 with "
                                          "offset) and optionally place, weather, occasion, device. It lifts what "
                                          "fits (\"fits a rainy evening\") without overriding what they asked for.")


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
    degraded: str | None = Field(None, description="Set when the reply was written without the LLM: "
                                 "\"llm_unavailable\" (its endpoint is down). The picks and their reasons are "
                                 "the ranking's as always.")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=200, description="The recommended item the feedback is about.")
    signal: Signal = Field(description="\"up\": more like this; \"down\": not for me (never recommended again); "
                           "\"owned\": already have it (never recommended again).")
    session_id: str | None = Field(None, pattern=SESSION_ID, description="The conversation whose card it was.")
    visibility: Visibility = Field("private", description="Who may see it as the person's activity: private "
                                   "(default), friends or public.")
    catalog: str | None = Field(None, description="The item's catalog; the server's default when omitted.")


class FeedbackOut(BaseModel):
    user_id: str
    catalog: str
    item_id: str
    signal: Signal
    visibility: Visibility
    session_id: str | None
    profile: Profile = Field(description="The profile after the feedback, which the next reply ranks with.")
    summary: list[str]


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
    llm_loaded: bool


class CatalogsOut(BaseModel):
    catalogs: list[str] = Field(description="The calling tenant's catalogs.")
    default: str | None = Field(description="The catalog used when a request names none.")


# --- callers: keys and rate limits ------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    tenant: str
    app: str
    admin: bool

    @property
    def session_owner(self) -> str:
        """How this app's sessions are marked: the app's name for the default tenant (as before
        tenants existed), "tenant/app" for the others."""
        return self.app if self.tenant == DEFAULT_TENANT else f"{self.tenant}/{self.app}"


class Keys:
    def __init__(self, entries: list[str]):
        self._keys: list[tuple[bytes, Caller]] = []
        for entry in entries:
            owner, key, *role = entry.split(":")
            tenant, _, app = owner.rpartition("/")
            self._keys.append((key.encode(), Caller(tenant or DEFAULT_TENANT, app, role == ["admin"])))

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
        self.stores = Stores.open(config.data_dir, config.chroma_url, config.embedding_batch_size, config.chroma_timeout_s,
                                  config.cache_dir)
        ensure_catalog(self.stores, config.catalog, config.embedding_batch_size, config.cache_dir)
        self.keys = Keys(config.service.api_keys)
        self.limiter = RateLimiter(config.service.rate_limit_per_minute)
        self._kiths: dict[str, Kith] = {}
        self._kiths_lock = threading.Lock()
        self.runtimes = Runtimes(config.llm, config.cache_dir)
        self._stop = threading.Event()
        self._cleaner: threading.Thread | None = None

    def catalogs(self, tenant: str) -> list[str]:
        return tenant_catalogs(self.stores.database.catalogs(), tenant)

    def default_catalog(self, tenant: str) -> str | None:
        """The server's default catalog where the tenant has it, else the tenant's only one."""
        own = self.catalogs(tenant)
        if self.config.catalog in own:
            return self.config.catalog
        return own[0] if len(own) == 1 else None

    def kith(self, catalog: str | None, who: Caller) -> Kith:
        """The Kith of the caller's catalog `catalog` (or its default). Another tenant's catalog
        is answered exactly as a missing one."""
        name = catalog or self.default_catalog(who.tenant)
        if name is None:
            own = self.catalogs(who.tenant)
            problem = f"name a catalog: tenant {who.tenant!r} has {', '.join(own) if own else 'none yet'}"
            raise ApiError(422, "no_catalog", problem, [{"where": "catalog", "problem": problem}])
        try:
            stored = stored_catalog(who.tenant, name)
        except ValueError as error:
            raise ApiError(422, "invalid_catalog", str(error), [{"where": "catalog", "problem": str(error)}])
        with self._kiths_lock:
            if stored not in self._kiths:
                if not self.stores.database.has_catalog(stored):
                    known = ", ".join(self.catalogs(who.tenant)) or "none"
                    raise ApiError(404, "unknown_catalog", f"no catalog {name!r}; catalogs: {known}")
                settings = self.config.model_copy(update={"catalog": stored})
                self._kiths[stored] = Kith(settings, self.stores, self.runtimes)
            return self._kiths[stored]

    def user_known(self, kith: Kith, user_id: str) -> bool:
        """Whether the catalog knows this person: one of its users, or someone who has a profile
        or a session in it (of any app: the catalog is its tenant's alone)."""
        database = self.stores.database
        return (
            user_id in database.ids(kith.catalog, "users")
            or bool(database.query("SELECT 1 FROM profiles WHERE catalog = ? AND user_id = ?", (kith.catalog, user_id)))
            or bool(database.query("SELECT 1 FROM sessions WHERE catalog = ? AND user_id = ?", (kith.catalog, user_id)))
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
    request.state.app = found.session_owner
    wait = service.limiter.take(found.session_owner)
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
        kith = service.kith(body.catalog, who)
        try:
            text = kith.check_message(user_id, body.text)
        except KithInputError as error:
            raise ApiError(422, "invalid_message", str(error), [{"where": "body.text", "problem": str(error)}])
        try:  # checked before a reply streams, so the status can still say it; writes nothing
            kith.sessions.open_session(user_id, body.session_id, who.session_owner)
        except UnknownSession as error:
            raise ApiError(404, "unknown_session", str(error))
        known_user(kith, user_id, new_allowed=config.service.allow_new_users)
        return kith, text

    def known_user(kith: Kith, user_id: str, new_allowed: bool = False) -> None:
        if not new_allowed and not service.user_known(kith, user_id):
            raise ApiError(404, "unknown_user", f"no user {user_id!r} in catalog {catalog_name(kith)!r}")

    def catalog_name(kith: Kith) -> str:
        """The catalog's name as its tenant knows it."""
        return kith.catalog.rpartition(".")[2]

    def turn_out(kith: Kith, turn: Turn) -> TurnOut:
        return TurnOut(
            text=turn.text, session_id=turn.session_id, recommendations=turn.recommendations, profile=turn.profile,
            profile_summary=kith.describe_profile(turn.profile), handoff=turn.handoff, help=turn.help,
            refused=turn.refused, sentiment=turn.sentiment, tone=turn.tone, asked_clarifying=turn.asked_clarifying,
            friends_activity=turn.friends_activity, timings=turn.timings, degraded=turn.degraded,
        )

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Liveness; needs no key, so it names nothing a tenant owns."""
        return Health(status="ok", llm_loaded=service.runtimes.loaded)

    @app.get("/v1/catalogs", response_model=CatalogsOut, tags=["service"])
    def list_catalogs(who: Authorized) -> CatalogsOut:
        """The calling tenant's catalogs, and the one a request naming none gets."""
        return CatalogsOut(catalogs=service.catalogs(who.tenant), default=service.default_catalog(who.tenant))

    @app.post("/v1/users/{user_id}/messages", response_model=TurnOut, tags=["conversation"])
    def send_message(user_id: UserId, body: MessageIn, who: Authorized) -> TurnOut:
        """Send the user's message; get the whole reply with recommendations, profile and hand-off."""
        kith, text = checked_turn_input(user_id, body, who)
        try:
            turn = kith.reply(user_id, text, body.session_id, app=who.session_owner, context=body.context)
        except UnknownSession as error:
            raise ApiError(404, "unknown_session", str(error))
        return turn_out(kith, turn)

    @app.post("/v1/users/{user_id}/messages/stream", tags=["conversation"],
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "Server-sent events: `delta` events with `{\"text\"}` pieces, "
                                              "then one `turn` event with the same body as the non-streamed reply; "
                                              "a turn that fails once streaming began ends with an `error` event "
                                              "`{\"code\", \"message\", \"retry_after\"}` instead."}})
    def stream_message(user_id: UserId, body: MessageIn, who: Authorized) -> StreamingResponse:
        """Send the user's message; the reply streams as server-sent events."""
        kith, text = checked_turn_input(user_id, body, who)
        pieces = kith.stream(user_id, text, body.session_id, app=who.session_owner, context=body.context)
        # The first piece comes after the turn's retrieval and ranking: taken before the status
        # line is sent, a failure there (a vector store that is down) still gets its status.
        try:
            first = next(pieces)
        except UnknownSession as error:
            raise ApiError(404, "unknown_session", str(error))

        def events() -> Iterator[bytes]:
            try:
                for piece in itertools.chain([first], pieces):
                    if isinstance(piece, Turn):
                        data = turn_out(kith, piece).model_dump_json()
                        yield format_sse_event(data_str=data, event="turn")
                    else:
                        yield format_sse_event(data_str=json.dumps({"text": piece}), event="delta")
            except (StoreUnavailable, StorageUnavailable) as error:  # the status line is sent: say it here
                code, message, retry_after = _unavailable(error)
                log.warning("streamed turn failed: %s", error)
                payload = {"code": code, "message": message, "retry_after": retry_after}
                yield format_sse_event(data_str=json.dumps(payload), event="error")
            except Exception as error:
                log.exception("streamed turn failed")
                yield format_sse_event(data_str=json.dumps({"code": "internal_error",
                                                            "message": f"the turn failed: {type(error).__name__}"}),
                                       event="error")

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/v1/users/{user_id}/sessions", response_model=list[SessionOut], tags=["sessions"])
    def list_sessions(user_id: UserId, who: Authorized, catalog: Catalog = None) -> list[SessionOut]:
        """This user's sessions started by the calling app, newest first."""
        kith = service.kith(catalog, who)
        return [SessionOut(**row) for row in kith.sessions.sessions(user_id, who.session_owner)]

    @app.get("/v1/users/{user_id}/sessions/{session_id}", response_model=SessionDetail, tags=["sessions"])
    def read_session(user_id: UserId, session_id: SessionId, who: Authorized,
                     catalog: Catalog = None) -> SessionDetail:
        kith = service.kith(catalog, who)
        listed = {row["id"]: row for row in kith.sessions.sessions(user_id, who.session_owner)}
        if session_id not in listed:
            raise ApiError(404, "unknown_session", f"no session {session_id!r} for user {user_id!r}")
        transcript = [
            StoredMessageOut(role=m.role, text=m.text, recommendations=m.record.picks(),
                             handoff=m.record.handoff.model_dump() if m.record.handoff else None)
            for m in kith.sessions.messages(session_id)
        ]
        return SessionDetail(**listed[session_id], transcript=transcript)

    @app.delete("/v1/users/{user_id}/sessions/{session_id}", status_code=204, tags=["sessions"])
    def delete_session(user_id: UserId, session_id: SessionId, who: Authorized,
                       catalog: Catalog = None) -> None:
        kith = service.kith(catalog, who)
        if not kith.sessions.delete_session(user_id, session_id, who.session_owner):
            raise ApiError(404, "unknown_session", f"no session {session_id!r} for user {user_id!r}")

    @app.get("/v1/users/{user_id}/profile", response_model=ProfileOut, tags=["profile"])
    def read_profile(user_id: UserId, who: Authorized, catalog: Catalog = None) -> ProfileOut:
        kith = service.kith(catalog, who)
        known_user(kith, user_id)
        profile = kith.profile(user_id)
        return ProfileOut(user_id=user_id, catalog=catalog_name(kith), profile=profile,
                          summary=kith.describe_profile(profile))

    @app.post("/v1/users/{user_id}/feedback", response_model=FeedbackOut, tags=["profile"])
    def give_feedback(user_id: UserId, body: FeedbackIn, who: Authorized) -> FeedbackOut:
        """The user's feedback on a recommendation card, used from their next reply on: "up" (more
        like this) pulls alike items up, "down" (not for me) and "owned" (already have it) remove the
        item for good (and "down" pushes alike items down). Stored as the user's interaction
        (private unless `visibility` says otherwise) and in their profile; the latest signal on an
        item replaces an earlier one. The user must be known to the catalog (they have seen cards)."""
        kith = service.kith(body.catalog, who)
        known_user(kith, user_id)
        try:
            feedback = kith.feedback(user_id, body.item_id, body.signal, body.session_id, body.visibility,
                                     app=who.session_owner)
        except UnknownItem as error:
            raise ApiError(404, "unknown_item", str(error), [{"where": "body.item_id", "problem": str(error)}])
        except UnknownSession as error:
            raise ApiError(404, "unknown_session", str(error))
        except KithInputError as error:
            raise ApiError(422, "invalid_feedback", str(error), [{"where": "body", "problem": str(error)}])
        return FeedbackOut(user_id=user_id, catalog=catalog_name(kith), item_id=feedback.item_id,
                           signal=feedback.signal, visibility=feedback.visibility, session_id=feedback.session_id,
                           profile=feedback.profile, summary=kith.describe_profile(feedback.profile))

    @app.put("/v1/users/{user_id}/profile", response_model=ProfileOut, tags=["profile"])
    def correct_profile(user_id: UserId, profile: Profile, who: Authorized, catalog: Catalog = None) -> ProfileOut:
        """Replace the user's profile (the person corrected it); items must exist in the catalog.
        A user the catalog does not know gets one only where new users may start
        (`service.allow_new_users`), as a first message would."""
        kith = service.kith(catalog, who)
        known_user(kith, user_id, new_allowed=config.service.allow_new_users)
        try:
            kith.set_profile(user_id, profile)
        except KithInputError as error:
            raise ApiError(422, "invalid_profile", str(error), [{"where": "body", "problem": str(error)}])
        return ProfileOut(user_id=user_id, catalog=catalog_name(kith), profile=profile,
                          summary=kith.describe_profile(profile))

    @app.post(INGEST_PREFIX + "{catalog}/{kind}", response_model=IngestOut, tags=["ingest"])
    def ingest(catalog: str, kind: IngestKind, body: RecordsIn, who: Authorized) -> IngestOut:
        """Add or update records (upsert by id) of one kind; admin keys only. All problems of a
        request are reported at once and nothing is written unless every record is valid."""
        if not who.admin:
            raise ApiError(403, "not_admin", f"app {who.app!r} may not change catalogs: use a key marked ':admin'")
        try:
            stored = stored_catalog(who.tenant, catalog)
        except ValueError as error:
            raise ApiError(422, "invalid_catalog", str(error))
        database = service.stores.database
        if kind != "items" and not database.has_catalog(stored):
            raise ApiError(404, "unknown_catalog", f"no catalog {catalog!r}: send its items first")
        started = time.perf_counter()
        try:
            dataset = read_records(kind.replace("-", "_"), body.records, "body.records",
                                   database.ids(stored, "users"), database.ids(stored, "items"))
        except DataError as error:
            details = [{"where": f"{i.path}[{i.line}]" + (f".{i.field}" if i.field else ""), "problem": i.message}
                       for i in error.issues]
            raise ApiError(422, "invalid_records", f"{len(error.issues)} problem(s) in the records; nothing was written",
                           details)
        ingest_dataset(dataset, stored, f"HTTP API ({who.session_owner})", database, service.stores.vectors,
                       shared_embedder(config.embedding_batch_size, config.cache_dir))
        if stored in service._kiths:
            service._kiths[stored].refresh()
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

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(StorageUnavailable)
    async def store_down(request: Request, error: StoreUnavailable | StorageUnavailable) -> JSONResponse:
        code, message, retry_after = _unavailable(error)
        # One line, no traceback: every request meets the same outage.
        log.warning("%s %s -> 503: %s", request.method, request.url.path, error)
        return _error_response(503, code, message, headers={"Retry-After": str(retry_after)})

    @app.exception_handler(UnicodeDecodeError)
    async def not_utf8(_: Request, error: UnicodeDecodeError) -> JSONResponse:
        return _error_response(400, "invalid_json", f"the body is not valid UTF-8 (byte {error.start})")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("request failed")
        return _error_response(500, "internal_error", f"the server failed ({type(error).__name__}); nothing was changed")
