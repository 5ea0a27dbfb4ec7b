"""Collections, records, search, deletes and idempotent writes through the real client."""

from typing import Any, Dict, List

from valoricore.exceptions import ConnectionError as VcConnectionError
from valoricore.exceptions import AuthenticationError, NotFoundError, ValidationError
from valoricore.remote import SyncRemoteClient

from scenario_lib import Ctx, Runner, assert_search, check, eq, field, raises

# Collections a and b share a dimension so equal ids can be compared; c has another one.
DIMS = {"a": 4, "b": 4, "c": 3}
A_VECS = [[0, 0, 0, 0], [1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 4.5], [1.25, 1.25, 0, 0]]
B_VECS = [[10, 10, 10, 10], [-1, -1, -1, -1], [0.5, 0.25, 0, 0], [7, 0, -7, 0.75]]
C_VECS = [[1, 2, 3], [-3, -2, -1], [0.25, 0.25, 0.25]]
IDEM_VEC = [2.5, -0.5, 0.25, 1]
BATCH_VECS = [[3, 3, 0, 0], [-2, 0, 1, 0], [0.75, 0.5, 0.25, 0]]
IDEM_BATCH_VECS = [[5, 5, 5, 5], [-5, 0, 5, 0]]
# The client's documented forms: 16 bytes for insert, 32 hex characters per batch item.
IDEM_KEY = bytes(range(100, 116))
BATCH_REQUEST_IDS = ["0f1e2d3c4b5a69788796a5b4c3d2e1f0", "00112233445566778899aabbccddeeff"]


def collection_map(ctx: Ctx) -> Dict[str, Dict[str, Any]]:
    rows = ctx.client.list_collections()
    check(isinstance(rows, list), f"list_collections: expected a list, got {rows!r}")
    return {field(r, "name", "list_collections"): r for r in rows}


def assert_counts(ctx: Ctx, what: str) -> None:
    """record_count per collection equals the live records written (call before any delete)."""
    rows = collection_map(ctx)
    for name, recs in ctx.live.items():
        eq(field(rows.get(name), "record_count", f"{what}: {name}"), len(recs), f"{what}: record_count of {name}")


def run(r: Runner, ctx: Ctx) -> None:
    c = ctx.client
    raw = ctx.raw

    def version() -> None:
        eq(c.get_version(), ctx.version, "get_version() (package.json version)")
        eq(c.health(), "ok", "health() (/health status)")

    def initial_collections() -> None:
        rows = collection_map(ctx)
        eq(sorted(rows), ["default"], "list_collections() on a fresh node")
        eq(field(rows["default"], "dimension", "default"), ctx.default_dim, "default's dimension (VALORI_DIM)")

    def create() -> None:
        seen_ids = set()
        for name, dim in DIMS.items():
            index = {"b": "brute", "c": "hnsw"}.get(name)
            resp = c.create_collection(name, dim, index=index)
            eq(field(resp, "name", "create_collection"), name, f"create_collection({name}).name")
            eq(field(resp, "created", "create_collection"), True, f"create_collection({name}).created")
            cid = field(resp, "id", "create_collection")
            check(isinstance(cid, int) and cid not in seen_ids and cid != 0, f"create_collection({name}).id is a new id: {cid!r}")
            seen_ids.add(cid)
            ctx.dims[name] = dim
            ctx.live[name] = {}
            ctx.events[(name, "CreateCollection")] += 1

    def create_rejects() -> None:
        raises((ValidationError,), lambda: c.create_collection("a", 4), "duplicate name", ["409"])
        raw.error("POST", "/v1/namespaces", 409, "COLLECTION_EXISTS", "duplicate name", json={"name": "a", "dimension": 4})
        for bad in ["bad name", "-lead", "_lead", "x" * 65, ""]:
            raises((ValidationError,), lambda: c.create_collection(bad, 4), f"bad name {bad!r}", ["400"])
        raw.error("POST", "/v1/namespaces", 400, "INVALID_ARGUMENT", "bad name", json={"name": "a/b", "dimension": 4})
        e = raw.error("POST", "/v1/namespaces", 400, "INVALID_ARGUMENT", "metric manhattan", json={"name": "m", "dimension": 4, "metric": "manhattan"})
        check("squared_l2" in e["error"] and "cosine" in e["error"], f"the metric error names the accepted values: {e!r}")
        for alias in ["l2", "l2sq"]:
            resp = c.create_collection(f"alias-{alias}", 2, metric=alias)
            eq(field(resp, "created", "alias"), True, f"metric alias {alias} accepted")
            c.drop_collection(f"alias-{alias}")
        eq(sorted(collection_map(ctx)), ["a", "b", "c", "default"], "collections after the rejected creations")

    def listed() -> None:
        rows = collection_map(ctx)
        eq(sorted(rows), ["a", "b", "c", "default"], "list_collections() names")
        for name, dim in ctx.dims.items():
            eq(field(rows[name], "dimension", name), dim, f"dimension of {name}")
            eq(field(rows[name], "metric", name), "squared_l2", f"metric of {name}")
            eq(field(rows[name], "record_count", name), 0, f"record_count of {name}")
        eq(field(rows["c"], "index", "c"), "hnsw", "index of c")
        eq(field(rows["b"], "index", "b"), "brute", "index of b")

    def drop() -> None:
        c.create_collection("tmp", 2)
        c.insert([1, 1], collection="tmp")
        c.drop_collection("tmp")
        eq(sorted(collection_map(ctx)), ["a", "b", "c", "default"], "collections after drop_collection(tmp)")
        # The client turns every non-400 error of drop_collection into its ConnectionError.
        raises((VcConnectionError,), lambda: c.drop_collection("tmp"), "drop of an unknown collection", ["404"])
        raw.error("DELETE", "/v1/namespaces/tmp", 404, "COLLECTION_NOT_FOUND", "drop unknown")
        raises((VcConnectionError,), lambda: c.drop_collection("default"), "drop default", ["409"])
        raw.error("DELETE", "/v1/namespaces/default", 409, "COLLECTION_PROTECTED", "drop default")
        raises((NotFoundError,), lambda: c.insert([1, 1], collection="tmp"), "insert into a dropped collection")

    def insert() -> None:
        for name, vecs in (("a", A_VECS), ("b", B_VECS), ("c", C_VECS)):
            for i, v in enumerate(vecs):
                rid = c.insert(v, tag=100 * (i + 1), collection=name)
                check(isinstance(rid, int) and rid not in ctx.live[name], f"insert into {name}: a new id, got {rid!r}")
                ctx.live[name][rid] = v
                ctx.tags[(name, rid)] = 100 * (i + 1)
                ctx.events[(name, "InsertRecord")] += 1
                if name == "a":
                    ctx.saved.setdefault("single_a", []).append(rid)
        shared = set(ctx.live["a"]) & set(ctx.live["b"])
        check(len(shared) > 0, f"ids are per collection: a {sorted(ctx.live['a'])} and b {sorted(ctx.live['b'])} share none")
        v = [0.5] * ctx.default_dim
        rid = c.insert(v, tag=7)  # no collection: `default`, as for a v0.1.0 user
        ctx.live["default"][rid] = v
        ctx.tags[("default", rid)] = 7
        assert_counts(ctx, "after insert")

    def get_record() -> None:
        for name, recs in ctx.live.items():
            for rid, v in recs.items():
                got = c.get_record(rid, collection=None if name == "default" else name)
                eq(field(got, "id", "get_record"), rid, f"get_record({rid}, {name}).id")
                eq(field(got, "vector", "get_record"), v, f"get_record({rid}, {name}).vector")
                eq(field(got, "tag", "get_record"), ctx.tags[(name, rid)], f"get_record({rid}, {name}).tag")
        for rid in set(ctx.live["a"]) & set(ctx.live["b"]):
            check(ctx.live["a"][rid] != ctx.live["b"][rid], "test data: shared ids hold different vectors")
        raises((NotFoundError,), lambda: c.get_record(999, collection="a"), "get_record of an unknown id")
        raises((NotFoundError,), lambda: c.get_record(0, collection="nope"), "get_record in an unknown collection")
        raw.error("GET", "/v1/records/0?collection=nope", 404, "COLLECTION_NOT_FOUND", "get_record unknown collection")

    def insert_rejects() -> None:
        raises((ValidationError,), lambda: c.insert([1, 2, 3, 4], collection="c"), "a vector of a's dimension into c", ["400"])
        raw.error("POST", "/v1/records", 400, "DIMENSION_MISMATCH", "dimension of c", json={"values": [1, 2, 3, 4], "collection": "c"})
        raises((NotFoundError,), lambda: c.insert([1, 2, 3, 4], collection="nope"), "insert into an unknown collection")
        raw.error("POST", "/v1/records", 404, "COLLECTION_NOT_FOUND", "insert unknown collection", json={"values": [1, 2, 3, 4], "collection": "nope"})
        raises((ValidationError,), lambda: c.insert_batch([[1, 2, 3]], collection="a"), "batch of c's dimension into a", ["400"])
        assert_counts(ctx, "after rejected inserts")

    def idempotent_insert() -> None:
        first = c.insert(IDEM_VEC, tag=5, collection="a", idempotency_key=IDEM_KEY)
        again = c.insert(IDEM_VEC, tag=5, collection="a", idempotency_key=IDEM_KEY)
        eq(again, first, "insert retried with the same idempotency_key: same id")
        ctx.live["a"][first] = IDEM_VEC
        ctx.tags[("a", first)] = 5
        ctx.events[("a", "InsertRecord")] += 1  # one write for the insert and its retry
        assert_counts(ctx, "after the retried insert (one write)")
        body = raw.ok("POST", "/v1/records", "raw replay", json={"values": IDEM_VEC, "tag": 5, "collection": "a", "request_id": list(IDEM_KEY)})
        eq((field(body, "id", "replay"), field(body, "deduplicated", "replay")), (first, True), "replayed request_id: id and deduplicated")
        fresh = raw.ok("POST", "/v1/records", "fresh write", json={"values": [0.25] * 4, "collection": "b"})
        eq(field(fresh, "deduplicated", "fresh"), False, "a first write answers deduplicated: false")
        ctx.live["b"][fresh["id"]] = [0.25] * 4
        ctx.tags[("b", fresh["id"])] = 0
        ctx.events[("b", "InsertRecord")] += 1
        raises((ValidationError,), lambda: c.insert([9, 9, 9, 9], tag=5, collection="a", idempotency_key=IDEM_KEY),
               "same key, another vector", ["409"])
        raw.error("POST", "/v1/records", 409, "IDEMPOTENCY_KEY_REUSED", "same key, another body",
                  json={"values": IDEM_VEC, "tag": 6, "collection": "a", "request_id": list(IDEM_KEY)})
        # The same 16 bytes as 32 hex characters are the same key.
        body = raw.ok("POST", "/v1/records", "hex key", json={"values": IDEM_VEC, "tag": 5, "collection": "a", "request_id": IDEM_KEY.hex()})
        eq((body.get("id"), body.get("deduplicated")), (first, True), "request_id as 32 hex characters")
        assert_counts(ctx, "after the rejected reuse")
        ctx.saved["idem"] = {"id": first, "key": list(IDEM_KEY), "vector": IDEM_VEC}

    def batch() -> None:
        ids = c.insert_batch(BATCH_VECS, collection="a")
        check(isinstance(ids, list) and len(ids) == len(BATCH_VECS), f"insert_batch ids: {ids!r}")
        check(len(set(ids)) == len(ids) and not set(ids) & set(ctx.live["a"]), f"insert_batch: new distinct ids, got {ids}")
        for rid, v in zip(ids, BATCH_VECS):
            ctx.live["a"][rid] = v
            ctx.tags[("a", rid)] = 0
        ctx.events[("a", "InsertBatch")] += 1
        first = c.insert_batch(IDEM_BATCH_VECS, collection="b", request_ids=BATCH_REQUEST_IDS)
        again = c.insert_batch(IDEM_BATCH_VECS, collection="b", request_ids=BATCH_REQUEST_IDS)
        eq(again, first, "insert_batch retried with the same request_ids: same ids")
        for rid, v in zip(first, IDEM_BATCH_VECS):
            ctx.live["b"][rid] = v
            ctx.tags[("b", rid)] = 0
        ctx.events[("b", "InsertBatch")] += 1  # one write for the batch and its retries
        body = raw.ok("POST", "/v1/vectors/batch-insert", "raw batch replay",
                      json={"batch": IDEM_BATCH_VECS, "collection": "b", "request_ids": BATCH_REQUEST_IDS})
        eq((body.get("ids"), body.get("deduplicated")), (first, True), "replayed batch: ids and deduplicated")
        raises((ValidationError,), lambda: c.insert_batch([[1, 1, 1, 1], [2, 2, 2, 2]], collection="b", request_ids=BATCH_REQUEST_IDS),
               "batch keys reused with other vectors", ["409"])
        assert_counts(ctx, "after batches (one write per batch)")
        eq(c.record_count(), sum(len(v) for v in ctx.live.values()), "record_count() (/health records.live, node-wide)")
        ctx.saved["batch"] = {"ids": first, "request_ids": BATCH_REQUEST_IDS, "vectors": IDEM_BATCH_VECS}

    def search() -> None:
        queries = {"a": [0.25, 0.5, 0, 0], "b": [1, 0, 0, 0], "c": [0, 0, 0.5]}
        for name, q in queries.items():
            for k in (1, 3, 50):
                assert_search(c.search(q, k, collection=name), ctx.live[name], q, k, f"search({name}, k={k})")
        # An exact copy of an a-only vector scores 0 in a and is absent from b.
        q = A_VECS[4]
        assert_search(c.search(q, 5, collection="a"), ctx.live["a"], q, 5, "search(a) for a's own vector")
        assert_search(c.search(q, 50, collection="b"), ctx.live["b"], q, 50, "search(b) for a's vector (isolation)")
        assert_search(c.search([0.5] * ctx.default_dim, 5), ctx.live["default"], [0.5] * ctx.default_dim, 5, "search() in default")
        raises((ValidationError,), lambda: c.search([1, 2, 3, 4], 3, collection="c"), "search c with a 4-vector", ["400"])
        raises((NotFoundError,), lambda: c.search([1, 2, 3, 4], 3, collection="nope"), "search an unknown collection")

    def deletes() -> None:
        ids_a = sorted(ctx.live["a"])
        hard, soft = ids_a[2], ids_a[3]
        check(hard in ctx.live["b"], "test data: the deleted id exists in b too")
        c.delete(hard, collection="a")
        del ctx.live["a"][hard]
        ctx.events[("a", "DeleteRecord")] += 1
        raises((NotFoundError,), lambda: c.get_record(hard, collection="a"), "get_record after delete")
        eq(field(c.get_record(hard, collection="b"), "vector", "b"), ctx.live["b"][hard], "b's record with the same id survives a's delete")
        c.soft_delete(soft, collection="a")
        del ctx.live["a"][soft]
        ctx.events[("a", "SoftDeleteRecord")] += 1
        raises((NotFoundError,), lambda: c.delete(hard, collection="a"), "delete of a deleted id")
        raises((NotFoundError,), lambda: c.delete(999, collection="b"), "delete of an unknown id")
        raises((NotFoundError,), lambda: c.soft_delete(0, collection="nope"), "soft_delete in an unknown collection")
        for name in ("a", "b"):
            q = [0.25, 0.5, 0, 0]
            assert_search(c.search(q, 50, collection=name), ctx.live[name], q, 50, f"search({name}) after a's deletes")

    def scoped_key() -> None:
        key = c.create_key(scope="read_write", collection="a", description="valoricore scenario")
        eq((field(key, "scope", "create_key"), field(key, "collection", "create_key")), ("write", "a"), "create_key scope (0.3.1's read_write) and collection")
        token = field(key, "token", "create_key")
        listed = [k for k in c.list_keys() if k.get("id") == key["id"]]
        check(len(listed) == 1 and "token" not in listed[0], f"list_keys() shows the key, masked: {listed!r}")
        scoped = SyncRemoteClient(ctx.client.base_url, max_retries=0, token=token)
        try:
            v = [0.5, -0.25, 0, 2]
            rid = scoped.insert(v, tag=3, collection="a")
            ctx.live["a"][rid] = v
            ctx.tags[("a", rid)] = 3
            ctx.events[("a", "InsertRecord")] += 1
            assert_search(scoped.search(v, 50, collection="a"), ctx.live["a"], v, 50, "search(a) with the key restricted to a")
            raises((AuthenticationError,), lambda: scoped.insert(v, collection="b"), "insert into b with a key restricted to a", ["403"])
            raises((AuthenticationError,), lambda: scoped.get_record(0, collection="b"), "get_record in b with a key restricted to a", ["403"])
            raises((AuthenticationError,), lambda: scoped.create_collection("d", 2), "create_collection with a key restricted to a", ["403"])
            raises((AuthenticationError,), scoped.snapshot, "snapshot (node-wide) with a key restricted to a", ["403"])
            c.revoke_key(key["id"])
            raises((AuthenticationError,), lambda: scoped.insert(v, collection="a"), "insert with a revoked key", ["401"])
        finally:
            scoped.close()
        assert_counts(ctx, "after the scoped key's writes")

    r.step("get_version / health", version)
    r.step("list_collections (fresh node)", initial_collections)
    r.step("create_collection a, b, c", create)
    r.step("create_collection rejects duplicates, bad names, bad metric", create_rejects)
    r.step("list_collections", listed)
    r.step("drop_collection", drop)
    r.step("insert (a, b, c, default)", insert)
    r.step("get_record", get_record)
    r.step("insert rejects dimension / unknown collection", insert_rejects)
    r.step("insert with idempotency_key (retry, reuse)", idempotent_insert)
    r.step("insert_batch (plain, request_ids retry, reuse)", batch)
    r.step("search (order and scores per collection)", search)
    r.step("create_key scoped to a collection / list_keys / revoke_key", scoped_key)
    r.step("delete / soft_delete", deletes)


def live_snapshot(ctx: Ctx) -> Dict[str, Dict[str, List[float]]]:
    """JSON-friendly copy of the live records (keys become strings)."""
    return {name: {str(k): v for k, v in recs.items()} for name, recs in ctx.live.items()}
