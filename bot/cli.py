"""The `kith` command line. Every command's --help is its documentation; the README quotes it."""

from __future__ import annotations

import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.config import ConfigError, KithConfig, load_config
from retrieval.database import Database
from retrieval.datafiles import DataError
from retrieval.ingest import DEMO_CATALOG, demo_data_dir, ingest_dataset, read_source
from retrieval.schemas import check_catalog_name
from retrieval.store import DATABASE_FILE, Stores

app = typer.Typer(
    help="Kith: a conversational recommender. Chat, ingest catalogs, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# How many problems of one file the terminal shows; the count of the rest follows.
PROBLEMS_SHOWN_PER_FILE = 50


class SourceFormatOption(str, Enum):
    kith = "kith"
    redial = "redial"
    lastfm = "lastfm"


def _quiet_libraries() -> None:
    """Keep the terminal for Kith's own messages: libraries' load chatter hides what matters."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    # bitsandbytes warns that an optional hub-downloaded kernel is absent; its built-in one runs.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Folder holding everything Kith stores [env: KITH_DATA_DIR].")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML config file [env: KITH_CONFIG].")] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Converted model weights [env: KITH_CACHE_DIR].")
    ] = None,
    chroma_url: Annotated[
        str | None, typer.Option("--chroma-url", help="Use a Chroma server, e.g. http://127.0.0.1:8000 [env: KITH_CHROMA_URL].")
    ] = None,
) -> None:
    _quiet_libraries()
    try:
        ctx.obj = load_config(config, {"data_dir": data_dir, "cache_dir": cache_dir, "chroma_url": chroma_url})
    except ConfigError as error:
        _fail(str(error))


def _stores(config: KithConfig) -> Stores:
    return Stores.open(config.data_dir, config.chroma_url, config.embedding_batch_size, config.chroma_timeout_s,
                       config.cache_dir)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders to load.", show_default=False)] = None,
    catalog: Annotated[str | None, typer.Option(help="Catalog to load into (created if new).")] = None,
    source_format: Annotated[
        SourceFormatOption, typer.Option("--format", help="kith: Kith's JSONL/CSV; redial or lastfm: that data set's folder.")
    ] = SourceFormatOption.kith,
    movielens: Annotated[
        Path | None, typer.Option(help="MovieLens folder to enrich ReDial movies with genres and tags.")
    ] = None,
    dialogues: Annotated[
        list[Path] | None, typer.Option(
            "--dialogues", help="ReDial: conversation files (ReDial JSONL) to learn from, repeat for several; "
                                "default: the folder's train.jsonl (name it too to keep it).", show_default=False)
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the bundled demo data into the catalog 'demo'.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Validate data, then load it into a catalog (SQLite rows + Chroma vectors).

    Everything is checked before anything is written: on any problem, every problem of every
    file is listed (file:line: field: message) and nothing is stored. Loading the same data
    again updates records by id instead of duplicating them. A ReDial catalog learns from the
    conversations of --dialogues (default: the folder's train.jsonl); `kith eval redial`
    refuses to evaluate on conversations a catalog learnt from.
    """
    config: KithConfig = ctx.obj
    if demo:
        if paths:
            _fail("--demo loads the bundled demo data; give no paths with it")
        paths, catalog = [demo_data_dir()], catalog or DEMO_CATALOG
    if not paths:
        _fail("give files or folders to ingest, or --demo")
    if catalog is None:
        _fail("--catalog NAME is required: the catalog to load into (e.g. --catalog shop)")
    try:
        check_catalog_name(catalog)
    except ValueError as error:
        _fail(str(error))
    if movielens is not None and source_format is not SourceFormatOption.redial:
        _fail("--movielens only applies to --format redial")
    if dialogues and source_format is not SourceFormatOption.redial:
        _fail("--dialogues only applies to --format redial")
    assert paths is not None and catalog is not None
    source = ", ".join(map(str, paths)) + (f" (dialogues: {', '.join(map(str, dialogues))})" if dialogues else "")
    stores = _stores(config)
    try:
        typer.echo(f"reading {source} ...", err=True)
        dataset, summary = read_source(paths, source_format.value, stores, catalog, movielens, dialogues or None)
        if dataset.is_empty():
            _fail("the input holds no records")
        from retrieval.embeddings import shared_embedder

        report = ingest_dataset(
            dataset,
            catalog,
            source,
            stores.database,
            stores.vectors,
            shared_embedder(config.embedding_batch_size, config.cache_dir),
            progress=progress and sys.stderr.isatty(),
        )
    except DataError as error:
        typer.echo(error.summary(limit_per_file=PROBLEMS_SHOWN_PER_FILE), err=True)
        raise typer.Exit(2) from None
    finally:
        stores.close()
    typer.echo(report.describe())
    for note in summary.notes:
        typer.echo(note)


@app.command()
def items(
    ctx: typer.Context,
    catalog: Annotated[str, typer.Option(help="Catalog to read.")] = DEMO_CATALOG,
    query: Annotated[str | None, typer.Option(help="Describe what you want; items are found by meaning.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many items to show.")] = 10,
) -> None:
    """List a catalog's items: by meaning with --query, else the most popular."""
    config: KithConfig = ctx.obj
    stores = _stores(config)
    try:
        if not stores.database.has_catalog(catalog):
            known = ", ".join(stores.database.catalogs()) or "none yet"
            _fail(f"no catalog {catalog!r} in {config.data_dir} (catalogs: {known}); load one with `kith ingest`")
        if query:
            hits = stores.vectors.query(catalog, "items", text=query, limit=limit)
            scores = {hit.id: hit.similarity for hit in hits}
            found = stores.database.items(catalog, [hit.id for hit in hits])
        else:
            scores = {item_id: float(n) for item_id, n in stores.database.most_interacted(catalog, limit)}
            found = stores.database.items(catalog, list(scores))
        label = "similarity" if query else "interactions"
        for item in found:
            price = f"  {item.price:.2f}" if item.price is not None else ""
            typer.echo(f"{scores[item.id]:>8.3g} {label}  [{item.category}] {item.title}{price}  ({item.id})")
    finally:
        stores.close()


@app.command("train-graph")
def train_graph(
    ctx: typer.Context,
    catalog: Annotated[str, typer.Option(help="Catalog to learn from (see `kith ingest`).")] = "lastfm",
    friends: Annotated[bool, typer.Option(help="Friendships as edges of the graph (the social variant).")] = True,
    epochs: Annotated[int | None, typer.Option(min=1, help="Training epochs [default: GraphSettings'].")] = None,
    threads: Annotated[int | None, typer.Option(min=0, help="CPU threads (0: torch's default) [default: GraphSettings'].")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train the catalog's graph model (LightGCN over people, items and friendships) and save it
    in the data folder (graphs/CATALOG/: graph.json says what data, what parameters, when).

    Rankings read it from the next start (or refresh) on, as the `graph` component; a catalog's
    `graph` weight turns it on (shipped on for `lastfm`). Last.fm: about 3 CPU-minutes (one thread)."""
    from retrieval.graph import GraphSettings, graph_folder, train_catalog

    config: KithConfig = ctx.obj
    given = {name: value for name, value in (("epochs", epochs), ("threads", threads)) if value is not None}
    settings = GraphSettings(friends=friends, **given)
    stores = _stores(config)
    try:
        if not stores.database.has_catalog(catalog):
            known = ", ".join(stores.database.catalogs()) or "none yet"
            _fail(f"no catalog {catalog!r} in {config.data_dir} (catalogs: {known}); load one with `kith ingest`")
        try:
            model = train_catalog(stores.database, catalog, settings, progress=progress and sys.stderr.isatty())
        except ValueError as error:
            _fail(f"catalog {catalog!r}: {error}")
    finally:
        stores.close()
    folder = model.save(graph_folder(config.data_dir, catalog))
    data = model.info["data"]
    typer.echo(f"graph of {catalog!r}: {data['people']} people, {data['items']} items, {data['liked_pairs']} liked pairs, "
               f"{data['friendships']} friendships as edges; trained in {model.info['training_seconds']:.0f} s "
               f"(final loss {model.info['loss_by_epoch'][-1]:.4f}); saved in {folder}")


def _given(config: KithConfig) -> dict[str, Any]:
    """The settings a file, a variable or a flag gave, as `Kith.open` keyword arguments. Only
    those: a ranking weight nobody set must stay unset, so that the catalog's shipped weights
    (`ranking_by_catalog`) apply rather than the general default."""
    return config.model_dump(exclude={"data_dir", "catalog"}, exclude_unset=True)


def _open_kith(config: KithConfig, catalog: str):  # -> bot.kith.Kith
    from bot.kith import Kith, KithInputError

    try:
        return Kith.open(config.data_dir, catalog, **_given(config))
    except KithInputError as error:
        _fail(str(error))


@app.command()
def chat(
    ctx: typer.Context,
    user: Annotated[str, typer.Option(help="Who is chatting (a user id of the catalog, or any new id).")] = "guest",
    catalog: Annotated[str, typer.Option(help="Catalog to recommend from.")] = DEMO_CATALOG,
    session: Annotated[str | None, typer.Option(help="Continue this session id.")] = None,
) -> None:
    """Chat with Kith in the terminal (the same conversation as the web UI). Ctrl-D ends it."""
    from bot.kith import KithInputError, Turn

    kith = _open_kith(ctx.obj, catalog)
    typer.echo(f"Kith ({catalog}), chatting as {user}. Empty line or Ctrl-D to stop.")
    try:
        while True:
            try:
                message = input("\nyou> ")
            except EOFError:
                break
            if not message.strip():
                break
            typer.echo("kith> ", nl=False)
            try:
                for piece in kith.stream(user, message, session):
                    if isinstance(piece, Turn):
                        session = piece.session_id
                        # What streamed is the final text: only checked sentences stream (bot/reply.py).
                        profile = kith.describe_profile(piece.profile)
                        if profile:
                            typer.echo("\n  [profile] " + " | ".join(profile))
                    else:
                        typer.echo(piece, nl=False)
            except KithInputError as error:
                typer.echo(f"\n  [error] {error}")
    finally:
        kith.close()
    if session:
        typer.echo(f"\nsession: {session} (continue with --session {session})")


HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on.")]
AdapterOption = Annotated[Path | None, typer.Option(help="LoRA adapter folder (PEFT format) for the LLM.")]


def _with_adapter(config: KithConfig, adapter: Path | None) -> KithConfig:
    if adapter is None:
        return config
    return config.model_copy(update={"llm": config.llm.model_copy(update={"adapter": adapter})})


@app.command()
def ui(
    ctx: typer.Context,
    catalog: Annotated[str, typer.Option(help="Catalog to open first.")] = DEMO_CATALOG,
    host: HostOption = "127.0.0.1",
    port: PortOption = 7860,
    adapter: AdapterOption = None,
) -> None:
    """Open the web UI: chat with streaming replies, recommendation cards, profile, friends."""
    from bot.ui import launch

    config = _with_adapter(ctx.obj, adapter)
    kith = _open_kith(config, catalog)
    typer.echo(f"Kith web UI on http://{host}:{port} (catalog {catalog!r}, data in {config.data_dir})")
    try:
        launch(kith, host, port)
    finally:
        kith.close()


@app.command()
def serve(
    ctx: typer.Context,
    catalog: Annotated[str, typer.Option(help="Default catalog for requests that name none.")] = DEMO_CATALOG,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    adapter: AdapterOption = None,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs). API keys: KITH_API_KEYS="app:key,ops:key2:admin"."""
    import uvicorn

    from bot.api import create_app
    from bot.kith import KithInputError

    config = _with_adapter(ctx.obj, adapter).model_copy(update={"catalog": check_catalog_name(catalog)})
    if not config.service.api_keys:
        typer.echo("warning: no API keys configured (KITH_API_KEYS): every /v1 request will get 401", err=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        application = create_app(config)
    except KithInputError as error:
        _fail(str(error))
    typer.echo(f"Kith API on http://{host}:{port} (docs at /docs, catalog {catalog!r}, data in {config.data_dir})")
    uvicorn.run(application, host=host, port=port, log_level="warning")


class PrecisionOption(str, Enum):
    nf4 = "nf4"
    fp32 = "fp32"
    bf16 = "bf16"


@app.command()
def finetune(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Adapter folder to write (PEFT format + kith-adapter.json); an interrupted run there continues.")],
    data: Annotated[list[Path] | None, typer.Option("--data", help="Training data: ReDial conversations (.jsonl) and/or Kith files or folders (dialogues*, items*, interactions*, users*, friendships*). Repeat for several.", show_default=False)] = None,
    catalog: Annotated[list[str] | None, typer.Option("--catalog", help="A catalog of the data folder (--data-dir) to learn from: its dialogues and its public and friends-visible interactions, card feedback included; private rows never. Alone or beside --data; repeat for several.", show_default=False)] = None,
    kinds: Annotated[list[str] | None, typer.Option("--kinds", help="Learn only these kinds of example (dialogue: reply sentences from a pick's facts; interaction; understanding); repeat for several. Default: all.", show_default=False)] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Optimizer steps [default: 56, ~2.5 min on 2 idle CPU cores].")] = None,
    precision: Annotated[PrecisionOption, typer.Option(help="Base model precision: nf4 (QLoRA, 4-bit), fp32 or bf16.")] = PrecisionOption.nf4,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Examples per step [default: 8].")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Peak learning rate [default: 2e-4].")] = None,
    max_length: Annotated[int | None, typer.Option(min=16, help="Tokens per example, prompt + reply [default: 224].")] = None,
    lora_rank: Annotated[int | None, typer.Option(min=1, help="LoRA rank [default: 16].")] = None,
    lora_layers: Annotated[int | None, typer.Option(min=1, help="LoRA on the top N decoder layers [default: 10].")] = None,
    eval_every: Annotated[int | None, typer.Option(min=1, help="Held-out evaluation every N steps [default: 28].")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(min=1, help="Checkpoint every N steps [default: 10].")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the held-out split, batches and LoRA init [default: 0].")] = None,
) -> None:
    """Fine-tune the LLM: a LoRA adapter on the 4-bit base (QLoRA), from dialogues and interactions.

    Dialogue examples use the bot's own reply prompt (message, tone, top and next picks) with
    the recommender's turn as the target; interaction examples put a person's history (and
    friends' activity) before the item they chose next. Reads --data files, catalogs of the
    data folder (--catalog), or both; only public and friends-visible activity becomes an
    example, never private activity. Uses the GPU when present. Progress
    bar with loss and tokens/s, held-out evaluation, checkpoints; run the same command again
    after an interruption and it continues. Use the result with `kith ui --adapter DIR` or
    `Kith.open(adapter=DIR)`; measure it with `kith eval finetune --adapter DIR`.
    """
    from finetune.examples import load_examples
    from finetune.train import TrainingError, TrainSettings, train, with_overrides

    config: KithConfig = ctx.obj
    if not data and not catalog:
        _fail("give training data: --data PATH (files or folders) and/or --catalog NAME (a catalog of --data-dir)")
    database = None
    if catalog:
        if not (config.data_dir / DATABASE_FILE).is_file():
            _fail(f"--catalog: {config.data_dir} holds no Kith data (no {DATABASE_FILE}); give the --data-dir "
                  "that holds the catalog, before the command")
        database = Database(config.data_dir / DATABASE_FILE)
    try:
        training_data = load_examples(data or [], database=database, catalogs=catalog or [])
    except DataError as error:
        typer.echo(error.summary(limit_per_file=PROBLEMS_SHOWN_PER_FILE), err=True)
        raise typer.Exit(2) from None
    finally:
        if database is not None:
            database.close()
    if kinds:
        try:
            training_data = training_data.only(kinds)
        except ValueError as error:
            _fail(f"--kinds: {error}")
    settings = with_overrides(
        TrainSettings(model=config.llm.model, precision=precision.value),
        max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate, max_length=max_length,
        lora_rank=lora_rank, lora_layers=lora_layers, eval_every=eval_every, checkpoint_every=checkpoint_every, seed=seed,
    )
    try:
        metadata = train(training_data, out, settings, config.cache_dir, progress_bar=True,
                         report=lambda line: typer.echo(line, err=True))
    except TrainingError as error:
        _fail(str(error))
    metrics = metadata["metrics"]
    held_out = metrics["held_out"]
    typer.echo(
        f"adapter: {out} ({metrics['steps']} steps, {metrics['tokens']:,} tokens in {metrics['training_seconds']:.0f} s, "
        f"{metrics['tokens_per_second']:.1f} tokens/s on {metadata['device']}; last train loss {metrics['train_loss_last_10']:.3f}"
        + (f", held-out perplexity {held_out['perplexity']:.2f}" if held_out else "") + ")"
    )
    typer.echo(f"use it: kith ui --adapter {out}   |   measure it: kith eval finetune --adapter {out} --out DIR")


eval_app = typer.Typer(help="Evaluate: scripted dialogues, the ReDial benchmark, the Last.fm social benchmark.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("dialogues")
def eval_dialogues(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Scripted dialogue YAML files or folders of them.")],
    out: Annotated[Path | None, typer.Option(help="Write report.json into this folder.")] = None,
    readers: Annotated[str | None, typer.Option(
        help="Run the files once per understanding reader and compare them per field group, e.g. "
             "`rules,llm` (rules: the LLM reads no field; llm: it reads all five).")] = None,
) -> None:
    """Run scripted conversations and check each turn's expectations.

    Exits 1 if any expectation fails (so it can gate a deployment), 2 on invalid files."""
    from evaluation.reports import plot_latency, write_report
    from evaluation.scripted import ScriptedError, load_dialogues, parse_readers, run_dialogues, run_readers

    config: KithConfig = ctx.obj
    files = [p for path in paths for p in (sorted(path.glob("*.yaml")) if path.is_dir() else [path])]
    chosen: list[str] = []
    if readers is not None:
        try:
            chosen = parse_readers(readers)
        except ValueError as error:
            _fail(f"--readers: {error}")
    try:
        dialogues = load_dialogues(files, config.data_dir)
    except ScriptedError as error:
        _fail(str(error))
    if chosen:
        comparison = run_readers(dialogues, config.data_dir, chosen, **_given(config))
        typer.echo(comparison.summary())
        if out is not None:
            path = write_report(out, "dialogues", comparison.to_json(), files)
            plots = [plot_latency(out / f"latency-{reader}.png", f"Scripted dialogues ({reader} reader): latency per turn, by stage",
                                  report.timings()) for reader, report in comparison.reports.items()]
            typer.echo(f"report: {path}, plots: {', '.join(str(p) for p in plots)}")
        raise typer.Exit(0 if comparison.passed else 1)
    report = run_dialogues(dialogues, config.data_dir, **_given(config))
    typer.echo(report.summary())
    if out is not None:
        path = write_report(out, "dialogues", report.to_json(), files)
        plot = plot_latency(out / "latency.png", "Scripted dialogues: latency per turn, by stage", report.timings())
        typer.echo(f"report: {path}, plot: {plot}")
    raise typer.Exit(0 if report.passed else 1)


@eval_app.command("redial")
def eval_redial(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="ReDial conversations (JSONL), e.g. ../shared/data/redial/dev.jsonl.")],
    out: Annotated[Path, typer.Option(help="Folder for report.json and plots.")],
    catalog: Annotated[str, typer.Option(help="The ReDial catalog (see `kith ingest --format redial`).")] = "redial",
    limit: Annotated[int | None, typer.Option(help="Only the first N recommender turns (quick checks).")] = None,
) -> None:
    """ReDial: Recall@1/10/50, NDCG@10, MRR (raw and repeats removed) with baselines and
    ablations, and item-sentiment accuracy, in one run."""
    from evaluation.redial import evaluate, summary_text

    config: KithConfig = ctx.obj
    if not data.is_file():
        _fail(f"{data} is not a file: give a ReDial JSONL file such as ../shared/data/redial/dev.jsonl")
    kith = _open_kith(config, catalog)
    try:
        payload = evaluate(data, out, kith, config.data_dir, limit)
    except DataError as error:
        typer.echo(error.summary(limit_per_file=PROBLEMS_SHOWN_PER_FILE), err=True)
        raise typer.Exit(2) from None
    finally:
        kith.close()
    typer.echo(summary_text(payload))
    typer.echo(f"\nreport: {out / 'report.json'}, plots: {out / 'recall_at_k.png'}, {out / 'latency.png'}")


@eval_app.command("finetune")
def eval_finetune(
    ctx: typer.Context,
    adapter: Annotated[Path, typer.Option(help="Adapter folder written by `kith finetune`.")],
    out: Annotated[Path, typer.Option(help="Folder for report.json and plots.")],
    redial: Annotated[Path, typer.Option(help="ReDial folder (valid.jsonl, dev.jsonl, movies_with_mentions.csv).")] = Path("../shared/data/redial"),
    catalog: Annotated[str, typer.Option(help="The ReDial catalog, for re-ranking Kith's top 50 (see `kith ingest --format redial`).")] = "redial",
    perplexity_examples: Annotated[int, typer.Option(min=1, help="Recommender turns of valid.jsonl for perplexity.")] = 40,
    replies: Annotated[int, typer.Option(min=1, help="Replies generated per model for grounding and Distinct-2.")] = 12,
    rerank_turns: Annotated[int, typer.Option(min=0, help="dev.jsonl turns to re-rank (0: skip re-ranking).")] = 10,
    precision: Annotated[PrecisionOption | None, typer.Option(help="Base precision [default: fp32 on the CPU, the adapter's training precision on a GPU].")] = None,
) -> None:
    """Base vs adapter in one run: perplexity of ReDial recommender turns (valid), grounding and
    Distinct-2 of generated replies, and Recall@10 on dev (repeats removed) with and without
    LLM re-ranking of Kith's top 50. Writes report.json, loss.png, before_after.png, perplexity.png."""
    from evaluation.finetune_effect import measure, summary_text

    config: KithConfig = ctx.obj
    if not (adapter / "adapter_config.json").is_file():
        _fail(f"{adapter} is not an adapter folder (no adapter_config.json): train one with `kith finetune`")
    missing = [name for name in ("valid.jsonl", "dev.jsonl", "movies_with_mentions.csv") if not (redial / name).is_file()]
    if missing:
        _fail(f"{redial} lacks {', '.join(missing)}: point --redial at the ReDial folder")
    kith = _open_kith(config, catalog) if rerank_turns else None
    try:
        payload = measure(adapter, out, redial, config.cache_dir, kith, perplexity_examples, replies, rerank_turns,
                          precision.value if precision else None)
    except DataError as error:
        typer.echo(error.summary(limit_per_file=PROBLEMS_SHOWN_PER_FILE), err=True)
        raise typer.Exit(2) from None
    finally:
        if kith is not None:
            kith.close()
    typer.echo(summary_text(payload))
    typer.echo(f"\nreport: {out / 'report.json'}, plots: {out / 'loss.png'}, {out / 'before_after.png'}, {out / 'perplexity.png'}")


@eval_app.command("social")
def eval_social(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder for report.json and the plot.")],
    catalog: Annotated[str, typer.Option(help="The Last.fm catalog (see `kith ingest --format lastfm`).")] = "lastfm",
    seeds: Annotated[str, typer.Option(help="Seeds of the held-out splits, comma-separated; the table gives mean and spread.")] = "0,1,2",
    users: Annotated[int | None, typer.Option(help="Only the first N eligible users (quick checks).")] = None,
    validation: Annotated[bool, typer.Option(
        help="Score on a validation split of each seed's training part, never on its held-out part (for tuning).")] = False,
    epochs: Annotated[int | None, typer.Option(min=1, help="Graph training epochs [default: GraphSettings'].")] = None,
) -> None:
    """Last.fm: Recall@10 and NDCG@10 of popularity, item-kNN, LightGCN (with and without the
    friendships as edges), Kith without friends and Kith with friends, each fitted on the same
    seeded training part through one interface, over several seeds (mean, min..max), with the
    graph models' training time."""
    from evaluation.social import evaluate, summary_text
    from retrieval.graph import GraphSettings

    config: KithConfig = ctx.obj
    try:
        chosen = [int(seed) for seed in seeds.split(",") if seed.strip()]
    except ValueError:
        _fail(f"--seeds: give whole numbers separated by commas, e.g. 0,1,2 (got {seeds!r})")
    if not chosen:
        _fail("--seeds: give at least one seed")
    graph = GraphSettings(**({"epochs": epochs} if epochs is not None else {}))
    kith = _open_kith(config, catalog)
    try:
        payload = evaluate(kith, out, chosen, users, graph, validation, progress=sys.stderr.isatty())
    finally:
        kith.close()
    typer.echo(summary_text(payload))
    typer.echo(f"\nreport: {out / 'report.json'}, plots: {out / 'social.png'}, {out / 'recall_at_k.png'}, {out / 'latency.png'}")
