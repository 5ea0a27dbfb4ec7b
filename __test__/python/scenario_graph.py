"""Graph calls of the real client: nodes, edges, neighbors/walk/expand, list_nodes, subgraph,
graph_query, delete_node, and their isolation between collections."""

from typing import Any, Dict, List, Set, Tuple

import requests
from valoricore import kinds as K
from valoricore.exceptions import NotFoundError, ValidationError

from scenario_lib import Ctx, Runner, check, eq, field

Edge = Tuple[int, int, int]  # (from, to, kind)


class Graph:
    """What was created in one collection: node id → (kind, record id or None); edge id → (from, to, kind)."""

    def __init__(self) -> None:
        self.nodes: Dict[int, Tuple[int, Any]] = {}
        self.edges: Dict[int, Edge] = {}

    def out(self, node: int) -> Set[Tuple[int, int, int]]:
        """(edge_id, to_node, kind) of node's outgoing edges."""
        return {(eid, to, kind) for eid, (frm, to, kind) in self.edges.items() if frm == node}

    def bfs(self, start: int, depth: int, direction: str = "out", edge_kind: Any = None) -> List[Tuple[int, int]]:
        """(node, depth) reached from start, start excluded, ordered by depth then node id."""
        seen = {start: 0}
        frontier = [start]
        for d in range(1, depth + 1):
            nxt = []
            for n in frontier:
                for frm, to, kind in self.edges.values():
                    if edge_kind is not None and kind != edge_kind:
                        continue
                    cands = []
                    if direction in ("out", "both") and frm == n:
                        cands.append(to)
                    if direction in ("in", "both") and to == n:
                        cands.append(frm)
                    for m in cands:
                        if m not in seen:
                            seen[m] = d
                            nxt.append(m)
            frontier = nxt
        return sorted(((n, d) for n, d in seen.items() if n != start), key=lambda t: (t[1], t[0]))


def run(r: Runner, ctx: Ctx) -> None:
    c = ctx.client
    raw = ctx.raw
    ga, gb = Graph(), Graph()
    n: List[int] = []
    m: List[int] = []

    def need() -> None:
        check(len(n) == 5 and len(m) == 2, "needs the nodes of create_node / create_edge, which failed")

    def create() -> None:
        rec_a = sorted(ctx.live["a"])
        rec_b = sorted(ctx.live["b"])
        specs = [(K.NODE_DOCUMENT, rec_a[0]), (K.NODE_CHUNK, rec_a[1]), (K.NODE_CHUNK, None), (K.NODE_CONCEPT, None), (K.NODE_AGENT, rec_a[4])]
        for kind, rec in specs:
            nid = c.create_node(kind, record_id=rec, collection="a")
            check(isinstance(nid, int) and nid not in ga.nodes, f"create_node in a: a new id, got {nid!r}")
            ga.nodes[nid] = (kind, rec)
            n.append(nid)
            ctx.events[("a", "CreateNode")] += 1
        for frm, to, kind in [(0, 1, K.EDGE_PARENT_OF), (0, 2, K.EDGE_PARENT_OF), (1, 3, K.EDGE_FOLLOWS), (3, 4, K.EDGE_MENTIONS), (2, 3, K.EDGE_REFERS_TO)]:
            eid = c.create_edge(n[frm], n[to], kind, collection="a")
            check(isinstance(eid, int) and eid not in ga.edges, f"create_edge in a: a new id, got {eid!r}")
            ga.edges[eid] = (n[frm], n[to], kind)
            ctx.events[("a", "CreateEdge")] += 1
        for kind, rec in [(K.NODE_USER, rec_b[0]), (K.NODE_TOOL, None)]:
            nid = c.create_node(kind, record_id=rec, collection="b")
            gb.nodes[nid] = (kind, rec)
            m.append(nid)
            ctx.events[("b", "CreateNode")] += 1
        eid = c.create_edge(m[0], m[1], K.EDGE_RELATION, collection="b")
        gb.edges[eid] = (m[0], m[1], K.EDGE_RELATION)
        ctx.events[("b", "CreateEdge")] += 1
        check(m[0] in ga.nodes, f"node ids are per collection: b's first node {m[0]} should also be an id in a {sorted(ga.nodes)}")

    def get_node() -> None:
        need()
        for g, name in ((ga, "a"), (gb, "b")):
            for nid, (kind, rec) in g.nodes.items():
                got = c.get_node(nid, collection=name)
                check(got is not None, f"get_node({nid}, {name}) returned None (a 404) for an existing node")
                eq((field(got, "kind", "get_node"), field(got, "record_id", "get_node")), (kind, rec), f"get_node({nid}, {name}) kind, record_id")
        eq(c.get_node(999, collection="a"), None, "get_node of an unknown id")
        eq(c.get_node(n[4], collection="b"), None, "get_node in b of an id only a has")

    def edges() -> None:
        need()
        for g, name in ((ga, "a"), (gb, "b")):
            for nid in g.nodes:
                got = c.get_edges(nid, collection=name)
                have = {(field(e, "edge_id", "edge"), field(e, "to_node", "edge"), field(e, "kind", "edge")) for e in got}
                eq(have, g.out(nid), f"get_edges({nid}, {name})")
                eq(len(got), len(have), f"get_edges({nid}, {name}): no duplicates")
                eq(sorted(c.neighbors(nid, collection=name)), sorted(to for _, to, _ in g.out(nid)), f"neighbors({nid}, {name})")

    def walk_expand() -> None:
        need()
        for depth in (1, 2, 3):
            got = c.walk(n[0], max_depth=depth, collection="a")
            want = {n[0]} | {x for x, _ in ga.bfs(n[0], depth)}
            eq(got[0], n[0], "walk starts at its start node")
            eq((sorted(got), len(got)), (sorted(want), len(want)), f"walk(n0, max_depth={depth})")
        want_recs = {ga.nodes[x][1] for x in [n[0]] + [x for x, _ in ga.bfs(n[0], 3)] if ga.nodes[x][1] is not None}
        eq(sorted(c.expand(n[0], max_depth=3, collection="a")), sorted(want_recs), "expand(n0, 3): record ids reached")
        eq(sorted(c.walk(m[0], max_depth=3, collection="b")), sorted(m), "walk in b stays in b")

    def list_nodes() -> None:
        need()
        for g, name in ((ga, "a"), (gb, "b")):
            got = c.list_nodes(collection=name)
            rows = field(got, "nodes", "list_nodes")
            have = [(field(x, "node_id", "list_nodes"), field(x, "kind", "list_nodes"), field(x, "record_id", "list_nodes")) for x in rows]
            eq(have, sorted((nid, k, rec) for nid, (k, rec) in g.nodes.items()), f"list_nodes({name}) in id order")
        order = sorted(ga.nodes)
        for offset, limit in ((0, 2), (2, 2), (4, 2), (5, 2)):
            page = raw.ok("GET", "/v1/graph/nodes", "paging", params={"collection": "a", "offset": offset, "limit": limit})
            eq([x.get("node_id") for x in field(page, "nodes", "page")], order[offset:offset + limit], f"list_nodes page offset={offset} limit={limit}")
        chunks = raw.ok("GET", "/v1/graph/nodes", "kind filter", params={"collection": "a", "kind": K.NODE_CHUNK})
        eq([x.get("node_id") for x in field(chunks, "nodes", "kind")], sorted(x for x, (k, _) in ga.nodes.items() if k == K.NODE_CHUNK), "list_nodes kind=CHUNK")

    def subgraph() -> None:
        need()
        for depth in (1, 2, 3):
            got = c.subgraph(n[0], depth=depth, collection="a")
            reached = {n[0]} | {x for x, _ in ga.bfs(n[0], depth)}
            nodes = {(field(x, "id", "subgraph node"), field(x, "kind", "subgraph node")) for x in field(got, "nodes", "subgraph")}
            eq(nodes, {(x, ga.nodes[x][0]) for x in reached}, f"subgraph(n0, {depth}) nodes")
            es = {(field(e, "id", "subgraph edge"), field(e, "from", "e"), field(e, "to", "e"), field(e, "kind", "e")) for e in field(got, "edges", "subgraph")}
            eq(es, {(eid, f, t, k) for eid, (f, t, k) in ga.edges.items() if f in reached and t in reached}, f"subgraph(n0, {depth}) edges")

    def query() -> None:
        need()
        def hits(res: Any, what: str) -> List[Tuple[int, int]]:
            check(res is not None, f"{what}: graph_query returned None (a 404) for an existing start")
            return [(field(h, "node_id", what), field(h, "depth", what)) for h in field(res, "hits", what)]

        eq(hits(c.graph_query(n[0], depth=3, collection="a"), "outgoing"), ga.bfs(n[0], 3), "graph_query(n0) default direction 'outgoing', depth 3")
        eq(hits(c.graph_query(n[0], depth=3, limit=2, collection="a"), "limit"), ga.bfs(n[0], 3)[:2], "graph_query limit=2")
        eq(hits(c.graph_query(n[3], direction="incoming", depth=2, collection="a"), "incoming"), ga.bfs(n[3], 2, "in"), "graph_query(n3, incoming)")
        eq(hits(c.graph_query(n[1], direction="both", depth=1, collection="a"), "both"), ga.bfs(n[1], 1, "both"), "graph_query(n1, both)")
        eq(hits(c.graph_query(n[0], depth=3, edge_kind=K.EDGE_PARENT_OF, collection="a"), "edge_kind"),
           ga.bfs(n[0], 3, edge_kind=K.EDGE_PARENT_OF), "graph_query edge_kind=PARENT_OF")
        eq(hits(c.graph_query(n[0], depth=1, node_kind=K.NODE_CHUNK, collection="a"), "node_kind"),
           [(x, d) for x, d in ga.bfs(n[0], 1) if ga.nodes[x][0] == K.NODE_CHUNK], "graph_query node_kind=CHUNK")
        first = c.graph_query(n[0], depth=1, collection="a")["hits"][0]
        eq((first.get("kind"), first.get("record_id")), ga.nodes[first["node_id"]], "graph_query hit kind and record_id")
        eq(hits(c.graph_query(m[0], depth=3, collection="b"), "b"), gb.bfs(m[0], 3), "graph_query in b stays in b")
        eq(c.graph_query(999, collection="a"), None, "graph_query from an unknown start")

    def rejects() -> None:
        need()
        missing_in_b = max(ga.nodes)
        check(max(ctx.live["a"]) not in ctx.live["b"], "test data: a record id a has and b does not")
        check(missing_in_b not in gb.nodes, "test data: a node id a has and b does not")
        for fn, what in [
            (lambda: c.create_edge(m[0], missing_in_b, K.EDGE_RELATION, collection="b"), "edge to a node only a has"),
            (lambda: c.create_edge(m[0], m[1], K.EDGE_RELATION, collection="nope"), "edge in an unknown collection"),
            (lambda: c.create_node(K.NODE_RECORD, record_id=max(ctx.live["a"]), collection="b"), "node linked to a record only a has"),
        ]:
            try:
                fn()
                check(False, f"{what}: accepted")
            except (NotFoundError, ValidationError):
                pass
        eq({(e["edge_id"], e["to_node"], e["kind"]) for e in c.get_edges(m[0], collection="b")}, gb.out(m[0]), "b's edges unchanged")
        eq(len(c.list_nodes(collection="b")["nodes"]), len(gb.nodes), "b's nodes unchanged")

    def delete_node() -> None:
        need()
        gone = n[2]
        c.delete_node(gone, collection="a")
        del ga.nodes[gone]
        ctx.events[("a", "DeleteNode")] += 1
        ga.edges = {eid: e for eid, e in ga.edges.items() if gone not in (e[0], e[1])}
        eq(c.get_node(gone, collection="a"), None, "get_node after delete_node")
        eq({(e["edge_id"], e["to_node"], e["kind"]) for e in c.get_edges(n[0], collection="a")}, ga.out(n[0]), "incident edges removed")
        eq([x["node_id"] for x in c.list_nodes(collection="a")["nodes"]], sorted(ga.nodes), "list_nodes after delete_node")
        eq([(h["node_id"], h["depth"]) for h in c.graph_query(n[3], direction="incoming", depth=2, collection="a")["hits"]],
           ga.bfs(n[3], 2, "in"), "graph_query after delete_node")
        try:
            c.delete_node(gone, collection="a")
            check(False, "delete_node of a deleted node succeeded")
        except requests.HTTPError as e:  # the client does not wrap delete_node's errors
            eq(e.response.status_code, 404, "delete_node of a deleted node")
        if gone in gb.nodes:
            check(c.get_node(gone, collection="b") is not None, "b's node with the same id survives")

    r.step("create_node / create_edge (a, b)", create)
    r.step("get_node", get_node)
    r.step("get_edges / neighbors", edges)
    r.step("walk / expand", walk_expand)
    r.step("list_nodes (+ paging, kind)", list_nodes)
    r.step("subgraph", subgraph)
    r.step("graph_query", query)
    r.step("graph rejects cross-collection edges", rejects)
    r.step("delete_node", delete_node)
    ctx.saved["graph_a"] = {"n0": n[0] if n else None, "edges": [[eid, f, t, k] for eid, (f, t, k) in ga.edges.items()]}
