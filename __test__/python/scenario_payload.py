"""Record payloads, metadata_filter and a cosine collection through the real client.

insert_batch with metadata (the client sends each item as a JSON-encoded string) and texts,
get_record with metadata and text, update_record_metadata, search with metadata_filter (0.3.1's
form and the $-operators), a cosine collection. Expected values come from what was written:
the filters below are evaluated here by hand-written Python predicates, cosine similarity is
computed here. The client's metadata helpers (get_metadata / set_metadata) send `key`/`value`
where every server wants `target_id`/`metadata`: their documented failure is asserted.
"""

import math
from typing import Any, Callable, Dict, List, Tuple

from valoricore.exceptions import ConnectionError as VcConnectionError
from valoricore.exceptions import NotFoundError, ValidationError

from scenario_lib import Ctx, Runner, close, eq, expected_search, field, raises

M_VECS = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5]]
M_META: List[Any] = [
    {"author": "Alice", "year": 2021, "tags": ["x", "y"], "src": {"kind": "web"}},
    {"author": "Bob", "year": 2019, "tags": ["y"]},
    {"author": "Alice", "year": 2024.0, "src": {"kind": "pdf"}},
    None,
    {"author": "Alice", "year": 2025, "tags": []},
    {"author": "Cy", "year": 2022, "src": {"kind": "web", "pages": 3}},
]
M_TEXTS = ["one", None, "three", "four", None, "six"]
COS_VECS = [[1, 0, 0, 0], [3, 4, 0, 0], [-1, 0, 0, 0], [0.25, 0.5, -1, 2], [3, 4, 0, 0]]
Pred = Callable[[Any], bool]


def _get(md: Any, path: str) -> Any:
    for seg in path.split("."):
        if not isinstance(md, dict) or seg not in md:
            return None
        md = md[seg]
    return md


# (filter sent, the same condition written out by hand)
FILTERS: List[Tuple[Dict[str, Any], Pred]] = [
    ({"author": "Alice", "year": {"gte": 2020, "lte": 2024}},
     lambda m: _get(m, "author") == "Alice" and isinstance(_get(m, "year"), (int, float)) and 2020 <= _get(m, "year") <= 2024),
    ({"year": {"$gt": 2020}, "src.kind": "web"}, lambda m: (_get(m, "year") or 0) > 2020 and _get(m, "src.kind") == "web"),
    ({"$or": [{"tags": "x"}, {"author": {"$in": ["Bob", "Cy"]}}]},
     lambda m: "x" in (_get(m, "tags") or []) or _get(m, "author") in ("Bob", "Cy")),
    ({"$not": {"src": {"$exists": True}}}, lambda m: _get(m, "src") is None),
]


def cosine(a: List[float], b: List[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def check_filters(ctx: Ctx, meta: Dict[int, Any], what: str) -> None:
    c = ctx.client
    q = [0.25, 0.5, 0.125, 0]
    for f, pred in FILTERS:
        recs = {rid: v for rid, v in ctx.live["m"].items() if pred(meta.get(rid))}
        want = [rid for rid, _ in expected_search(recs, q, 50)]
        hits = c.search(q, 50, collection="m", metadata_filter=f)
        eq([field(h, "id", "search") for h in hits], want, f"{what}: search(metadata_filter={f})")


def check_records(ctx: Ctx, meta: Dict[int, Any], texts: Dict[int, Any], what: str) -> None:
    for rid, v in ctx.live["m"].items():
        got = ctx.client.get_record(rid, collection="m")
        eq((field(got, "vector", "get_record"), field(got, "metadata", "get_record"), field(got, "text", "get_record")),
           (v, meta.get(rid), texts.get(rid)), f"{what}: get_record({rid}, m) vector, metadata, text")


def check_cosine(ctx: Ctx, vecs: Dict[int, List[float]], what: str) -> None:
    q = [1, 0, 0, 0]
    hits = ctx.client.search(q, 10, collection="cos")
    want = sorted(vecs, key=lambda rid: (-round(cosine(vecs[rid], q), 6), rid))
    eq([field(h, "id", "search") for h in hits], want, f"{what}: cosine order (similarity descending, ties by id)")
    for h in hits:
        close(h["score"], cosine(vecs[h["id"]], q), f"{what}: cosine score of {h['id']}", tol=1e-4)


def run(r: Runner, ctx: Ctx) -> None:
    c = ctx.client
    meta: Dict[int, Any] = {}
    texts: Dict[int, Any] = {}
    cos_vecs: Dict[int, List[float]] = {}

    def collections() -> None:
        eq(field(c.create_collection("m", 4, index="hnsw"), "created", "create m"), True, "create_collection(m)")
        resp = c.create_collection("cos", 4, metric="cosine")
        eq(field(resp, "metric", "create cos"), "cosine", "create_collection(cos, metric=cosine).metric")
        ctx.dims.update({"m": 4, "cos": 4})
        ctx.live["m"] = {}
        rows = {x["name"]: x for x in c.list_collections()}
        eq(field(rows["cos"], "metric", "cos"), "cosine", "list_collections: cos's metric")

    def batch_with_metadata() -> None:
        ids = c.insert_batch(M_VECS, collection="m", metadata=M_META, texts=M_TEXTS)
        eq(ids, list(range(len(M_VECS))), "insert_batch(metadata, texts) ids in a fresh collection")
        for rid, v, m, t in zip(ids, M_VECS, M_META, M_TEXTS):
            ctx.live["m"][rid] = v
            meta[rid] = m
            texts[rid] = t
        rid = c.insert([2, 0, 0, 2], collection="m", text="single")
        ctx.live["m"][rid] = [2, 0, 0, 2]
        meta[rid], texts[rid] = None, "single"
        # 2024.0 comes back as 2024 (the canonical form writes an integral number as an integer).
        check_records(ctx, meta, texts, "after insert_batch")
        raises((ValidationError,), lambda: c.insert_batch([[1, 1, 1, 1]], collection="m", metadata=[{"a": 1}, {"b": 2}]),
               "metadata of another length than the batch", ["400"])

    def update_metadata() -> None:
        c.update_record_metadata(1, {"author": "Alice", "year": 2023, "tags": ["x"]}, collection="m")
        meta[1] = {"author": "Alice", "year": 2023, "tags": ["x"]}
        c.update_record_metadata(3, {"src": {"kind": "web"}, "year": 2030}, collection="m")
        meta[3] = {"src": {"kind": "web"}, "year": 2030}
        check_records(ctx, meta, texts, "after update_record_metadata")
        raises((NotFoundError,), lambda: c.update_record_metadata(999, {"a": 1}, collection="m"), "update_record_metadata of an unknown id")

    def filtered_search() -> None:
        check_filters(ctx, meta, "filters")
        raises((ValidationError,), lambda: c.search([0, 0, 0, 1], 3, collection="m", metadata_filter={"year": {"$regex": "20"}}),
               "an unknown operator", ["400", "$regex"])
        raises((ValidationError,), lambda: c.search([0, 0, 0, 1], 3, collection="m", metadata_filter={"year": {"gt": "2020"}}),
               "a range on a string", ["400", "year"])

    def cosine_collection() -> None:
        for v in COS_VECS:
            cos_vecs[c.insert(v, collection="cos")] = v
        check_cosine(ctx, cos_vecs, "cosine")
        top = c.search([3, 4, 0, 0], 1, collection="cos")
        close(field(top[0], "score", "self"), 1.0, "cosine of a vector with itself", tol=1e-6)
        raises((ValidationError,), lambda: c.insert([0, 0, 0, 0], collection="cos"), "a zero vector in a cosine collection", ["400"])

    def client_metadata_defects() -> None:
        # get_metadata sends ?key= (the server wants target_id: 400 → the client's ConnectionError);
        # set_metadata posts {key, value} (400 → ValidationError). Neither changes anything.
        before = c.get_state_hash()
        raises((VcConnectionError,), lambda: c.get_metadata(0), "get_metadata (client defect)", ["400"])
        raises((ValidationError,), lambda: c.set_metadata(0, {"a": 1}), "set_metadata (client defect)", ["400"])
        eq(c.get_state_hash(), before, "the client's failed metadata calls wrote nothing")

    def save() -> None:
        ctx.saved["payload"] = {"meta": {str(k): v for k, v in meta.items()}, "texts": {str(k): v for k, v in texts.items()},
                                "cos": {str(k): v for k, v in cos_vecs.items()}}

    r.step("payload: create m (hnsw) and cos (metric cosine)", collections)
    r.step("payload: insert_batch with metadata and texts, get_record", batch_with_metadata)
    r.step("payload: update_record_metadata", update_metadata)
    r.step("payload: search with metadata_filter", filtered_search)
    r.step("payload: cosine collection", cosine_collection)
    r.step("payload: get_metadata / set_metadata fail as documented", client_metadata_defects)
    r.step("payload: remember for the reopen phase", save)


def reopen(r: Runner, ctx: Ctx, saved: Dict[str, Any]) -> None:
    p = saved["payload"]
    meta = {int(k): v for k, v in p["meta"].items()}
    texts = {int(k): v for k, v in p["texts"].items()}
    ctx.live["m"] = {int(k): v for k, v in saved["live"]["m"].items()}

    def same_payload() -> None:
        check_records(ctx, meta, texts, "after a restart")
        check_filters(ctx, meta, "after a restart")
        check_cosine(ctx, {int(k): v for k, v in p["cos"].items()}, "after a restart")

    r.step("reopen: payloads, filtered search and the cosine collection", same_payload)
