//! Graph and record reads over one collection: node pages, breadth-first
//! queries, subgraphs and records by id. Expected answers are worked out by
//! hand from the graphs built here.

use valori_kernel::graph::{Graph, CHUNK_SLOTS};
use valori_kernel::graph_query::{
    graph_query, list_nodes, subgraph, Direction, GraphQuery, NodeEntry, SubgraphEdge,
};

/// Nodes 0..n with the given kinds, then the edges (kind, from, to) in order
/// (edge ids 0.. in that order).
fn graph(kinds: &[u8], edges: &[(u8, u32, u32)]) -> Graph {
    let mut g = Graph::default();
    for (i, &k) in kinds.iter().enumerate() {
        g.push_node(k, (k == 9).then_some(100 + i as u32));
    }
    for &(k, f, t) in edges {
        g.push_edge(k, f, t);
    }
    g
}

fn q(direction: Direction, depth: u32, limit: usize) -> GraphQuery {
    GraphQuery {
        direction,
        depth,
        limit,
        edge_kind: None,
        node_kind: None,
    }
}

/// (node id, depth) of each hit, in answer order.
fn hits(g: &Graph, start: u32, query: &GraphQuery) -> Vec<(u32, u32)> {
    graph_query(g, start, query)
        .expect("start exists")
        .iter()
        .map(|h| (h.node.id, h.depth))
        .collect()
}

/// 0 → 3, 0 → 1, 1 → 2, 3 → 2, 2 → 4, 5 → 0 (edge kinds 1, 1, 2, 1, 1, 3).
/// Node kinds: 0:7 1:7 2:8 3:9 4:8 5:7.
fn diamond() -> Graph {
    graph(
        &[7, 7, 8, 9, 8, 7],
        &[
            (1, 0, 3),
            (1, 0, 1),
            (2, 1, 2),
            (1, 3, 2),
            (1, 2, 4),
            (3, 5, 0),
        ],
    )
}

#[test]
fn when_querying_outgoing_then_hits_come_by_depth_then_id_each_once() {
    let g = diamond();
    // 1 and 3 at depth 1 (ids ascending although 3's edge is older), 2 once
    // at depth 2 although two paths reach it, 4 at depth 3; 5 is upstream.
    assert_eq!(
        hits(&g, 0, &q(Direction::Out, 5, 100)),
        vec![(1, 1), (3, 1), (2, 2), (4, 3)]
    );
    assert_eq!(
        hits(&g, 0, &q(Direction::Out, 2, 100)),
        vec![(1, 1), (3, 1), (2, 2)]
    );
    assert_eq!(hits(&g, 0, &q(Direction::Out, 0, 100)), vec![]);
    let first = graph_query(&g, 0, &q(Direction::Out, 1, 100)).unwrap();
    assert_eq!(
        first[1].node,
        NodeEntry {
            id: 3,
            kind: 9,
            record: Some(103)
        }
    );
}

#[test]
fn when_querying_incoming_or_both_then_edges_are_walked_backwards_too() {
    let g = diamond();
    assert_eq!(
        hits(&g, 2, &q(Direction::In, 5, 100)),
        vec![(1, 1), (3, 1), (0, 2), (5, 3)]
    );
    assert_eq!(
        hits(&g, 4, &q(Direction::Out, 5, 100)),
        vec![],
        "4 has no outgoing edges"
    );
    assert_eq!(
        hits(&g, 1, &q(Direction::Both, 1, 100)),
        vec![(0, 1), (2, 1)]
    );
    assert_eq!(
        hits(&g, 1, &q(Direction::Both, 9, 100)),
        vec![(0, 1), (2, 1), (3, 2), (4, 2), (5, 2)]
    );
}

#[test]
fn when_a_limit_or_kind_filters_are_given_then_they_cut_and_filter_the_hits() {
    let g = diamond();
    assert_eq!(
        hits(&g, 0, &q(Direction::Out, 5, 3)),
        vec![(1, 1), (3, 1), (2, 2)]
    );
    assert_eq!(hits(&g, 0, &q(Direction::Out, 5, 0)), vec![]);
    // Edge kind 1 only: 0 → 3 → 2 → 4, and 0 → 1 (the 1 → 2 edge is kind 2),
    // so 2 is now at depth 2 through 3 only and 4 at depth 3.
    let mut by_edge = q(Direction::Out, 5, 100);
    by_edge.edge_kind = Some(1);
    assert_eq!(hits(&g, 0, &by_edge), vec![(1, 1), (3, 1), (2, 2), (4, 3)]);
    by_edge.edge_kind = Some(2);
    assert_eq!(hits(&g, 0, &by_edge), vec![], "no kind-2 edge leaves 0");
    assert_eq!(hits(&g, 1, &by_edge), vec![(2, 1)]);
    // Node kind 8 reports 2 and 4 only, reached through 1 and 3 (kinds 7, 9),
    // which are walked although not reported.
    let mut by_node = q(Direction::Out, 5, 100);
    by_node.node_kind = Some(8);
    assert_eq!(hits(&g, 0, &by_node), vec![(2, 2), (4, 3)]);
    by_node.limit = 1;
    assert_eq!(hits(&g, 0, &by_node), vec![(2, 2)]);
}

#[test]
fn when_the_start_is_unknown_or_deleted_then_the_query_is_not_found() {
    let mut g = diamond();
    let e = graph_query(&g, 6, &q(Direction::Out, 1, 10)).unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND");
    // Node 4 deleted (its one edge, 4, first): a hole.
    g.remove_edge(4);
    g.remove_node(4);
    let e = graph_query(&g, 4, &q(Direction::Out, 1, 10)).unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND");
    assert_eq!(
        hits(&g, 0, &q(Direction::Out, 5, 100)),
        vec![(1, 1), (3, 1), (2, 2)]
    );
    assert_eq!(subgraph(&g, 4, 1, 10).unwrap_err().code(), "NOT_FOUND");
    assert!(Direction::parse("sideways").is_err());
    assert_eq!(Direction::parse("in").unwrap(), Direction::In);
}

#[test]
fn when_taking_a_subgraph_then_it_holds_the_reached_nodes_and_the_edges_among_them() {
    let g = diamond();
    let s = subgraph(&g, 0, 1, 100).unwrap();
    let ids: Vec<u32> = s.nodes.iter().map(|n| n.id).collect();
    assert_eq!(ids, vec![0, 1, 3]);
    assert_eq!(
        s.edges,
        vec![
            SubgraphEdge {
                id: 0,
                from: 0,
                to: 3,
                kind: 1
            },
            SubgraphEdge {
                id: 1,
                from: 0,
                to: 1,
                kind: 1
            },
        ]
    );
    // Depth 2 adds 2 and both edges into it; 2 → 4 leaves the subgraph.
    let s = subgraph(&g, 0, 2, 100).unwrap();
    let ids: Vec<u32> = s.nodes.iter().map(|n| n.id).collect();
    let edges: Vec<u32> = s.edges.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![0, 1, 2, 3]);
    assert_eq!(edges, vec![0, 1, 2, 3]);
    // A limit of 3 keeps the root and depth 1 only (2 is farther).
    let s = subgraph(&g, 0, 5, 3).unwrap();
    let ids: Vec<u32> = s.nodes.iter().map(|n| n.id).collect();
    assert_eq!(ids, vec![0, 1, 3]);
    // A limit of 2 keeps the root and the lowest id at depth 1.
    let s = subgraph(&g, 0, 5, 2).unwrap();
    let ids: Vec<u32> = s.nodes.iter().map(|n| n.id).collect();
    let edges: Vec<u32> = s.edges.iter().map(|e| e.id).collect();
    assert_eq!((ids, edges), (vec![0, 1], vec![1]));
    // Depth 0: the root alone.
    let s = subgraph(&g, 5, 0, 10).unwrap();
    assert_eq!(s.nodes.len(), 1);
    assert!(s.edges.is_empty());
}

#[test]
fn when_a_cycle_loops_back_then_each_node_is_reported_once() {
    // 0 → 1 → 2 → 0 and a self loop on 1.
    let g = graph(&[1, 1, 1], &[(0, 0, 1), (0, 1, 2), (0, 2, 0), (0, 1, 1)]);
    assert_eq!(
        hits(&g, 0, &q(Direction::Out, 10, 100)),
        vec![(1, 1), (2, 2)]
    );
    let s = subgraph(&g, 0, 10, 100).unwrap();
    let edges: Vec<u32> = s.edges.iter().map(|e| e.id).collect();
    assert_eq!(edges, vec![0, 1, 2, 3]);
}

fn page(g: &Graph, offset: u64, limit: usize, kind: Option<u8>) -> (Vec<u32>, u64) {
    let p = list_nodes(g, offset, limit, kind);
    (p.nodes.iter().map(|n| n.id).collect(), p.total)
}

#[test]
fn when_listing_nodes_then_pages_follow_id_order_and_skip_deleted_nodes() {
    // Three chunks' worth: kind = id % 3; delete every id divisible by 5 and
    // the whole second chunk except its last slot.
    let n = 2 * CHUNK_SLOTS as u32 + 10;
    let mut g = Graph::default();
    for i in 0..n {
        g.push_node((i % 3) as u8, None);
    }
    let gone = |i: u32| i.is_multiple_of(5) || (256..511).contains(&i);
    for i in 0..n {
        if gone(i) {
            g.remove_node(i);
        }
    }
    let live: Vec<u32> = (0..n).filter(|&i| !gone(i)).collect();
    let total = live.len() as u64;
    assert_eq!(page(&g, 0, 5, None), (vec![1, 2, 3, 4, 6], total));
    // Page across the emptied chunk: the last two of chunk 0 (255 is
    // deleted), 511 (all chunk 1 has left), then 512 and 513.
    let last0 = live.iter().position(|&i| i == 254).unwrap() as u64;
    assert_eq!(
        page(&g, last0 - 1, 5, None),
        (vec![253, 254, 511, 512, 513], total)
    );
    // Every page of 7 concatenated is the live list.
    let mut all = Vec::new();
    let mut off = 0;
    loop {
        let (ids, t) = page(&g, off, 7, None);
        assert_eq!(t, total);
        assert!(ids.len() <= 7);
        if ids.is_empty() {
            break;
        }
        off += ids.len() as u64;
        all.extend(ids);
    }
    assert_eq!(all, live);
    assert_eq!(page(&g, total, 5, None), (vec![], total));
    assert_eq!(page(&g, 0, 0, None), (vec![], total));
    // Kind 2 = ids 2, 8, 11, 14, 17, 23, ... (20 is deleted).
    let twos: Vec<u32> = live.iter().copied().filter(|i| i % 3 == 2).collect();
    assert_eq!(
        page(&g, 0, 4, Some(2)),
        (vec![2, 8, 11, 14], twos.len() as u64)
    );
    assert_eq!(page(&g, 3, 2, Some(2)), (vec![14, 17], twos.len() as u64));
    assert_eq!(page(&g, 0, 10, Some(200)), (vec![], 0));
}

#[test]
fn when_the_graph_is_empty_then_pages_are_empty() {
    let g = Graph::default();
    assert_eq!(page(&g, 0, 10, None), (vec![], 0));
}

#[test]
fn when_a_traversal_would_reach_more_than_the_cap_then_it_stops_at_the_cap() {
    use valori_kernel::graph_query::{MAX_SUBGRAPH_EDGES, MAX_VISITED};
    // A star: 0 → 1..=n, plus n self loops on 0.
    let n = MAX_VISITED as u32 + 5;
    let mut g = Graph::default();
    for _ in 0..=n {
        g.push_node(0, None);
    }
    for i in 1..=n {
        g.push_edge(0, 0, i);
    }
    let all = hits(&g, 0, &q(Direction::Out, 3, usize::MAX));
    // The start counts as visited; the rest are the lowest ids (edges by id).
    assert_eq!(all.len(), MAX_VISITED - 1);
    assert_eq!(all.last(), Some(&(MAX_VISITED as u32 - 1, 1)));
    for _ in 0..MAX_SUBGRAPH_EDGES + 5 {
        g.push_edge(0, 0, 0);
    }
    let s = subgraph(&g, 0, 0, 10).unwrap();
    assert_eq!(s.nodes.len(), 1);
    assert_eq!(s.edges.len(), MAX_SUBGRAPH_EDGES);
    // The self loops come after the star's n edges, first ones kept.
    assert_eq!(s.edges[0].id, n);
}
