"""Timeline, proofs and snapshots through the real client, and the checks after a restart."""

import re
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

from valoricore.exceptions import NotFoundError

from scenario_lib import Ctx, Runner, assert_search, check, eq, field
from scenario_records import collection_map

HEX64 = re.compile(r"^[0-9a-f]{64}$")
SNAPSHOT_NAME = "valoricore-scenario.snap"


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def events_of(tl: Any, what: str) -> List[Dict[str, Any]]:
    evs = field(tl, "events", what)
    check(isinstance(evs, list), f"{what}: events is not a list: {tl!r}")
    return evs


def collection_hash(ctx: Ctx, name: str) -> str:
    body = ctx.raw.ok("GET", "/v1/proof/state", f"proof of {name}", params={"collection": name})
    # With ?collection, final_state_hash is that collection's own hash, and the answer names it.
    eq(field(body, "collection", "proof"), name, f"/v1/proof/state?collection={name} names its collection")
    h = field(body, "final_state_hash", f"/v1/proof/state?collection={name}")
    check(isinstance(h, str) and HEX64.match(h) is not None, f"the hash of {name} is 64 hex: {h!r}")
    return h


def state_hash(ctx: Ctx) -> str:
    h = ctx.client.get_state_hash()
    check(isinstance(h, str) and HEX64.match(h) is not None, f"get_state_hash() is 64 hex: {h!r}")
    return h


def run(r: Runner, ctx: Ctx, started: datetime) -> None:
    c = ctx.client
    raw = ctx.raw

    def timeline() -> None:
        nodes_a = {x["node_id"] for x in c.list_nodes(collection="a")["nodes"]}
        per: Dict[str, List[int]] = {}
        for name in ("a", "b"):
            evs = events_of(c.timeline(collection=name), f"timeline(collection={name})")
            check(len(evs) > 0, f"timeline({name}) is empty")
            idx = [field(e, "log_index", "event") for e in evs]
            eq(idx, sorted(set(idx)), f"timeline({name}) log_index ascending, unique")
            for e in evs:
                eq(e.get("collection", name), name, f"timeline({name}) event names its collection")
                check(isinstance(field(e, "event_type", "event"), str) and e["event_type"] != "", f"event_type: {e!r}")
                check(isinstance(e.get("timestamp_unix"), (int, float)), f"timeline({name}) event has a commit time (timestamp_unix): {e!r}")
            per[name] = idx
            # Event types named as in the contract (the kernel's event names); retries that were
            # deduplicated and rejected writes must have logged nothing.
            want = {t: k for (cn, t), k in ctx.events.items() if cn == name}
            eq(dict(Counter(e["event_type"] for e in evs)), want, f"timeline({name}) event types and counts")
            if name == "a":
                seen = {e.get("node_id") for e in evs}
                check(nodes_a <= seen, f"timeline(a) names every node created in a: missing {sorted(nodes_a - seen)}")
                recs = {e.get("record_id") for e in evs}
                single = set(ctx.saved.get("single_a", []))
                check(single <= recs, f"timeline(a) names every record inserted one by one: missing {sorted(single - recs)}")
        check(not set(per["a"]) & set(per["b"]), "timeline(a) and timeline(b) share no event")
        full = c.timeline()
        all_idx = [field(e, "log_index", "event") for e in events_of(full, "timeline()")]
        check(set(per["a"]) | set(per["b"]) <= set(all_idx), "timeline() holds a's and b's events")
        check(field(full, "total", "timeline()") >= len(all_idx), f"timeline().total >= its events: {full.get('total')}")
        eq([e["log_index"] for e in events_of(c.get_timeline(), "get_timeline()")], all_idx, "get_timeline() equals timeline()")
        # 0.3.1's from/to are ISO-8601 times, matched against the leader's commit stamps.
        day = timedelta(days=1)
        eq(events_of(c.timeline(from_ts=iso(datetime.now(timezone.utc) + day), collection="a"), "from tomorrow"), [], "timeline(from=tomorrow)")
        eq(events_of(c.timeline(to_ts=iso(started - day), collection="a"), "to yesterday"), [], "timeline(to=yesterday)")
        got = events_of(c.timeline(from_ts=iso(started - day), to_ts=iso(datetime.now(timezone.utc) + day), collection="a"), "window")
        eq([e["log_index"] for e in got], per["a"], "timeline(from=yesterday, to=tomorrow, a)")

    def proofs() -> None:
        h = state_hash(ctx)
        eq(field(raw.ok("GET", "/v1/proof/state", "proof"), "final_state_hash", "proof"), h, "GET /v1/proof/state final_state_hash")
        eq(field(c.get_proof(), "final_state_hash", "get_proof"), h, "get_proof().final_state_hash")
        eq(field(c.event_log_proof(), "final_state_hash", "event_log_proof"), h, "event_log_proof().final_state_hash")
        eq(state_hash(ctx), h, "the hash is stable while nothing is written")
        ha, hb = collection_hash(ctx, "a"), collection_hash(ctx, "b")
        check(len({h, ha, hb}) == 3, "whole, a and b hashes differ")
        raw.error("GET", "/v1/proof/state?collection=nope", 404, "COLLECTION_NOT_FOUND", "proof of an unknown collection")
        rid = c.insert([0.75, 0, 0, 0], collection="b")
        ctx.live["b"][rid] = [0.75, 0, 0, 0]
        check(state_hash(ctx) != h, "a write to b changes the whole hash")
        eq(collection_hash(ctx, "a"), ha, "a write to b leaves a's hash unchanged")
        check(collection_hash(ctx, "b") != hb, "a write to b changes b's hash")

    r.step("timeline (per collection, from/to)", timeline)
    r.step("proofs (whole and per-collection hash)", proofs)


def run_snapshots(r: Runner, ctx: Ctx) -> None:
    """Snapshot download/upload and named save/restore; the idempotency table comes back with them."""
    c = ctx.client
    raw = ctx.raw

    def snapshots() -> None:
        h0 = state_hash(ctx)
        snap = c.snapshot()
        check(isinstance(snap, bytes) and len(snap) > 0, "snapshot() returns bytes")
        x = c.insert([3, 2, 1, 0], collection="b")
        check(state_hash(ctx) != h0, "a write after the snapshot changes the hash")
        c.restore(snap)
        eq(state_hash(ctx), h0, "restore(snapshot()) gives back the snapshot's hash")
        try:
            got = c.get_record(x, collection="b")
            check(False, f"the record written after the snapshot survived restore: {got!r}")
        except NotFoundError:
            pass
        eq(sorted(collection_map(ctx)), sorted(ctx.dims), "collections after restore")
        q = [0.25, 0.5, 0, 0]
        assert_search(c.search(q, 50, collection="a"), ctx.live["a"], q, 50, "search(a) after restore")
        idem = ctx.saved["idem"]
        eq(c.insert(idem["vector"], tag=5, collection="a", idempotency_key=bytes(idem["key"])), idem["id"], "idempotent retry after restore")
        eq(state_hash(ctx), h0, "a deduplicated retry writes nothing")
        raw.error("POST", "/v1/records", 409, "IDEMPOTENCY_KEY_REUSED", "key reused with another body after restore",
                  json={"values": [9, 9, 9, 9], "collection": "a", "request_id": idem["key"]})
        saved = c.save_snapshot(SNAPSHOT_NAME)
        eq(field(saved, "success", "save_snapshot"), True, "save_snapshot success")
        y = c.insert([1, 2, 3, 4], collection="a")
        check(state_hash(ctx) != h0, "a write after save_snapshot changes the hash")
        eq(field(c.restore_snapshot(SNAPSHOT_NAME), "success", "restore_snapshot"), True, "restore_snapshot success")
        eq(state_hash(ctx), h0, "restore_snapshot(name) gives back the saved hash")
        try:
            c.get_record(y, collection="a")
            check(False, "the record written after save_snapshot survived restore_snapshot")
        except NotFoundError:
            pass

    r.step("snapshot / restore / save_snapshot / restore_snapshot", snapshots)


def reopen(r: Runner, ctx: Ctx, saved: Dict[str, Any]) -> None:
    """After a restart of the same node (same event log): everything written is still there."""
    c = ctx.client
    raw = ctx.raw

    def same_hash() -> None:
        eq(state_hash(ctx), saved["hash"], "the state hash after a restart")
        for name, h in saved["collection_hashes"].items():
            eq(collection_hash(ctx, name), h, f"{name}'s hash after a restart")

    def same_data() -> None:
        rows = collection_map(ctx)
        eq(sorted(rows), sorted(saved["dims"]), "collections after a restart")
        for name, dim in saved["dims"].items():
            eq(field(rows[name], "dimension", name), dim, f"dimension of {name} after a restart")
        for name, recs in saved["live"].items():
            for rid, v in recs.items():
                eq(field(c.get_record(int(rid), collection=name), "vector", "get_record"), v, f"record {rid} of {name} after a restart")
            live = {int(k): v for k, v in recs.items()}
            q = [0.25] * saved["dims"][name]
            assert_search(c.search(q, 50, collection=name), live, q, 50, f"search({name}) after a restart")
        g = saved["graph_a"]
        want = {(eid, t, k) for eid, f, t, k in g["edges"] if f == g["n0"]}
        eq({(e["edge_id"], e["to_node"], e["kind"]) for e in c.get_edges(g["n0"], collection="a")}, want, "a's edges after a restart")
        eq([e["log_index"] for e in events_of(c.timeline(collection="a"), "timeline(a)")], saved["timeline_a"], "timeline(a) after a restart")

    def retries() -> None:
        idem = saved["idem"]
        eq(c.insert(idem["vector"], tag=5, collection="a", idempotency_key=bytes(idem["key"])), idem["id"], "insert retried after a restart: same id")
        body = raw.ok("POST", "/v1/records", "replay", json={"values": idem["vector"], "tag": 5, "collection": "a", "request_id": idem["key"]})
        eq((body.get("id"), body.get("deduplicated")), (idem["id"], True), "raw replay after a restart")
        raw.error("POST", "/v1/records", 409, "IDEMPOTENCY_KEY_REUSED", "key reused with another body after a restart",
                  json={"values": [9, 9, 9, 9], "collection": "a", "request_id": idem["key"]})
        b = saved["batch"]
        eq(c.insert_batch(b["vectors"], collection="b", request_ids=b["request_ids"]), b["ids"], "batch retried after a restart: same ids")
        eq(state_hash(ctx), saved["hash"], "deduplicated retries after a restart write nothing")

    r.step("reopen: same state hash and collection hashes", same_hash)
    r.step("reopen: same collections, records, search, graph, timeline", same_data)
    r.step("reopen: idempotent retries still recognised", retries)


def restore_ctx(ctx: Ctx, saved: Dict[str, Any]) -> None:
    """Takes up a previous phase's expectations (after a restart) to continue writing."""
    ctx.saved = {k: v for k, v in saved.items() if k not in ("hash", "collection_hashes", "dims", "live", "written_at")}
    ctx.dims = dict(saved["dims"])
    ctx.live = {name: {int(k): v for k, v in recs.items()} for name, recs in saved["live"].items()}


def summary(ctx: Ctx, live: Dict[str, Dict[str, List[float]]]) -> Dict[str, Any]:
    out = dict(ctx.saved)
    out["hash"] = state_hash(ctx)
    out["collection_hashes"] = {n: collection_hash(ctx, n) for n in ("a", "b", "c")}
    out["dims"] = ctx.dims
    out["timeline_a"] = [e["log_index"] for e in events_of(ctx.client.timeline(collection="a"), "timeline(a)")]
    out["live"] = live
    out["written_at"] = time.time()
    return out
