"""Graph-learned taste: LightGCN over the people–items graph, and over the friendship graph too.

One graph holds every person and every item as a node. An edge joins a person to each item they
publicly liked (the same positives as collaborative filtering: a public interaction with a
positive signal) and, with `friends` on, a person to each friend: the social variant, in the
manner of SocialLGN's shared propagation, where a person's embedding also gathers their friends'
(and, two layers on, what their friends liked). PyTorch Geometric's `LightGCN` propagates the
embeddings and is trained with its BPR loss (a liked item must score above a random one).

Training reads top to bottom in `train_graph`: data, graph, model, optimizer, loop. The result
is a `GraphModel`: the final (propagated) embeddings of people and items, scored by a dot
product in NumPy, so ranking needs no torch. It is saved as a self-describing folder
(`graph.json`: what data, what parameters, when, which libraries; `embeddings.npz`), under
`<data dir>/graphs/<catalog>/` for the product (`kith train-graph`).

Privacy: only public activity is read (like collaborative filtering, the model serves everyone);
a friendship is an edge between two people, never a way for private activity to travel.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from retrieval.database import Database
from retrieval.schemas import Interaction

GRAPHS_FOLDER = "graphs"
INFO_FILE = "graph.json"
EMBEDDINGS_FILE = "embeddings.npz"
FORMAT = "kith-graph/1"


class GraphSettings(BaseModel):
    """Training parameters of the graph model (every artifact records them)."""

    model_config = ConfigDict(extra="forbid")

    # People–people edges (friendships) in the graph: the social variant.
    friends: bool = True
    embedding_dim: int = Field(64, ge=2, le=1024)
    layers: int = Field(3, ge=1, le=8)
    # 100 epochs of 8192 pairs at 0.01: Last.fm validation NDCG@10 0.169 (40 epochs: 0.161), on
    # a validation split of seed 0's training part (`kith eval social --validation`).
    epochs: int = Field(100, ge=1, le=10_000)
    batch_size: int = Field(8192, ge=16)
    learning_rate: float = Field(0.01, gt=0)
    # L2 strength of PyG's BPR loss, over the embeddings a batch touches.
    l2: float = Field(1e-4, ge=0)
    seed: int = 0
    # CPU threads for training (0: torch's default). One: the sparse products gain nothing from a
    # second thread on 2 cores (one thread ran a step 3x faster than two on a busy 2-core machine).
    threads: int = Field(1, ge=0)


@dataclass
class GraphModel:
    """Trained embeddings of people and items; rows follow `user_ids` and `item_ids`."""

    user_ids: list[str]
    item_ids: list[str]
    users: np.ndarray  # (people, dim) float32
    items: np.ndarray  # (items, dim) float32
    # The liked pairs it learned from, as rows: (pairs,) int32 each.
    liked_users: np.ndarray
    liked_items: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.user_index = {user_id: row for row, user_id in enumerate(self.user_ids)}
        self.item_index = {item_id: row for row, item_id in enumerate(self.item_ids)}
        order = np.argsort(self.liked_users, kind="stable")
        self._liked_items = self.liked_items[order]
        self._liked_bounds = np.searchsorted(self.liked_users[order], np.arange(len(self.user_ids) + 1))

    def learned_likes(self, user_id: str) -> list[str]:
        """The items the model learned the person liked."""
        row = self.user_index.get(user_id)
        if row is None:
            return []
        return [self.item_ids[n] for n in self._liked_items[self._liked_bounds[row] : self._liked_bounds[row + 1]]]

    @property
    def friends(self) -> bool:
        """Whether friendships were edges of the graph it learned from."""
        return bool(self.info.get("parameters", {}).get("friends", False))

    def user_vector(self, user_id: str | None, likes: Sequence[str] = ()) -> np.ndarray | None:
        """The person's learned vector; with `likes` (said in this conversation) the mean of
        the vectors of those it did not learn from is added, which is also all there is for
        someone the graph never saw. None when nothing is known."""
        parts = []
        known: set[str] = set()
        if user_id is not None and user_id in self.user_index:
            parts.append(self.users[self.user_index[user_id]])
            known = set(self.learned_likes(user_id))
        rows = [self.item_index[i] for i in dict.fromkeys(likes) if i in self.item_index and i not in known]
        if rows:
            parts.append(self.items[rows].mean(axis=0))
        return np.sum(parts, axis=0) if parts else None

    def scores(self, user_id: str | None, likes: Sequence[str] = ()) -> np.ndarray | None:
        """Every item's score for the person (rows of `item_ids`), or None when nothing is known."""
        vector = self.user_vector(user_id, likes)
        return None if vector is None else self.items @ vector

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside the old files, then moved over them: a reader never meets half a model.
        partial = folder / (EMBEDDINGS_FILE + ".partial")
        with partial.open("wb") as handle:
            np.savez(handle, user_ids=np.asarray(self.user_ids), item_ids=np.asarray(self.item_ids),
                     users=self.users, items=self.items, liked_users=self.liked_users, liked_items=self.liked_items)
        partial.replace(folder / EMBEDDINGS_FILE)
        info = folder / (INFO_FILE + ".partial")
        info.write_text(json.dumps(self.info, indent=2, sort_keys=True) + "\n")
        info.replace(folder / INFO_FILE)
        return folder

    @classmethod
    def load(cls, folder: Path) -> GraphModel:
        info = json.loads((folder / INFO_FILE).read_text())
        if info.get("format") != FORMAT:
            raise ValueError(f"{folder / INFO_FILE}: not a Kith graph model ({FORMAT}); train one with `kith train-graph`")
        with np.load(folder / EMBEDDINGS_FILE) as arrays:
            return cls([str(u) for u in arrays["user_ids"]], [str(i) for i in arrays["item_ids"]],
                       arrays["users"], arrays["items"], arrays["liked_users"], arrays["liked_items"], info)


def graph_folder(data_dir: Path, catalog: str) -> Path:
    """Where the product's graph model of a catalog lives."""
    return data_dir / GRAPHS_FOLDER / catalog


def load_graph(folder: Path | None) -> GraphModel | None:
    """The model saved in `folder`, or None when there is none."""
    if folder is None or not (folder / INFO_FILE).is_file():
        return None
    return GraphModel.load(folder)


def catalog_friendships(database: Database, catalog: str) -> list[tuple[str, str]]:
    """Every friendship of a catalog as (person, friend) pairs, both directions."""
    return [(user.id, friend) for user in database.users(catalog) for friend in database.friends(catalog, user.id)]


def train_catalog(database: Database, catalog: str, settings: GraphSettings, progress: bool = False) -> GraphModel:
    """The graph model of a catalog's stored interactions and friendships."""
    counts = database.counts(catalog)
    data = {"catalog": catalog, "database": str(database.path), "catalog_counts": counts}
    return train_graph(database.interactions(catalog), catalog_friendships(database, catalog), settings, data, progress)


def liked_pairs(interactions: Sequence[Interaction]) -> list[tuple[str, str]]:
    """(person, item) pairs the graph learns from: public activity with a positive signal."""
    # "Liked" as the ranker reads it, from the same function (imported here: ranking imports this module).
    from retrieval.ranking import interaction_signal

    return sorted({(x.user_id, x.item_id) for x in interactions if x.visibility == "public" and interaction_signal(x) > 0})


def train_graph(
    interactions: Sequence[Interaction],
    friendships: Sequence[tuple[str, str]],
    settings: GraphSettings,
    data: dict[str, Any] | None = None,
    progress: bool = False,
) -> GraphModel:
    """Train LightGCN on the people–items graph (and the friendships, with `settings.friends`).

    `friendships`: (person, friend) pairs, in either or both directions. `data`: what the data
    was (catalog, source...), recorded in the model's info."""
    import torch
    import torch_geometric
    from torch_geometric.nn import LightGCN
    from tqdm import tqdm

    started = time.perf_counter()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)

    # Data: people first, then items, as node numbers.
    pairs = liked_pairs(interactions)
    if not pairs:
        raise ValueError("no public positive interactions to learn a graph from")
    social = sorted({(a, b) for a, b in ((str(x), str(y)) for x, y in friendships) if a != b}) if settings.friends else []
    user_ids = sorted({u for u, _ in pairs} | {u for pair in social for u in pair})
    item_ids = sorted({i for _, i in pairs})
    users = {user_id: n for n, user_id in enumerate(user_ids)}
    items = {item_id: len(user_ids) + n for n, item_id in enumerate(item_ids)}
    nodes = len(user_ids) + len(item_ids)
    liked = torch.tensor([[users[u] for u, _ in pairs], [items[i] for _, i in pairs]], dtype=torch.long)  # (2, E)
    friend_edges = {(users[a], users[b]) for a, b in social} | {(users[b], users[a]) for a, b in social}
    befriended = torch.tensor(sorted(friend_edges), dtype=torch.long).reshape(-1, 2).T  # (2, F)

    # Graph: both directions of every edge, normalized once (1 / sqrt(deg(i) deg(j))) into one
    # sparse matrix that every layer of every step multiplies by.
    edges = torch.cat([liked, liked.flip(0), befriended], dim=1)
    degree = torch.bincount(edges[0], minlength=nodes).clamp(min=1).float()
    values = (degree[edges[0]] * degree[edges[1]]).rsqrt()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product it serves is stable
        warnings.simplefilter("ignore", UserWarning)
        adjacency = torch.sparse_coo_tensor(edges.flip(0), values, (nodes, nodes)).coalesce().to_sparse_csr()

    # Model and optimizer.
    model = LightGCN(nodes, settings.embedding_dim, settings.layers, normalize=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)

    # Loop: each epoch visits every liked pair once, each against one random item.
    losses: list[float] = []
    first_item, last_item = len(user_ids), nodes
    epochs = tqdm(range(settings.epochs), desc="training the graph", unit="epoch", disable=not progress)
    for _ in epochs:
        total, count = 0.0, 0
        for batch in torch.randperm(liked.size(1), generator=generator).split(settings.batch_size):
            positive = liked[:, batch]
            negative = torch.stack([positive[0], torch.randint(first_item, last_item, (batch.numel(),), generator=generator)])
            label_index = torch.cat([positive, negative], dim=1)
            embedding = model.get_embedding(adjacency)
            ranks = (embedding[label_index[0]] * embedding[label_index[1]]).sum(dim=-1)
            positive_rank, negative_rank = ranks.chunk(2)
            loss = model.recommendation_loss(positive_rank, negative_rank, node_id=label_index.unique(), lambda_reg=settings.l2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.numel()
            count += batch.numel()
        losses.append(total / count)
        epochs.set_postfix(loss=f"{losses[-1]:.4f}")

    with torch.no_grad():
        final = model.get_embedding(adjacency).numpy().astype(np.float32)
    fingerprint = hashlib.sha256("\n".join(f"{u}\t{i}" for u, i in pairs).encode())
    fingerprint.update(b"\x00" + "\n".join(f"{a}\t{b}" for a, b in social).encode())
    info = {
        "format": FORMAT,
        "model": "LightGCN (torch_geometric.nn.LightGCN), BPR loss" + (", friendships as edges" if settings.friends else ""),
        "data": {
            **(data or {}),
            "people": len(user_ids),
            "items": len(item_ids),
            "liked_pairs": len(pairs),
            "friendships": len(friend_edges) // 2,
            "sha256": fingerprint.hexdigest(),
        },
        "parameters": settings.model_dump(),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(time.perf_counter() - started, 1),
        "loss_by_epoch": [round(value, 5) for value in losses],
        "libraries": {"torch": torch.__version__, "torch_geometric": torch_geometric.__version__},
    }
    if not all(math.isfinite(value) for value in losses):
        raise ValueError(f"graph training diverged (loss {losses[-1]}): lower the learning rate")
    return GraphModel(user_ids, item_ids, final[: len(user_ids)], final[len(user_ids):],
                      liked[0].numpy().astype(np.int32), (liked[1] - len(user_ids)).numpy().astype(np.int32), info)
