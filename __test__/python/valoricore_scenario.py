"""The real valoricore 0.3.1 SyncRemoteClient against a running valori node (collections, and
record payloads with metadata_filter and a cosine collection: scenario_payload.py).

Run by __test__/valoricore.test.ts with the pinned venv (.venv-valoricore, scripts/setup-python.sh):

  valoricore_scenario.py --base URL --token T --version V --default-dim N --state FILE --phase write
      the whole scenario on a fresh node; writes what it expects to FILE
  valoricore_scenario.py ... --phase reopen
      after the node restarted on the same event log: the same hash, data and idempotency keys
  valoricore_scenario.py ... --phase snapshots
      snapshot download/upload and named save/restore on top of the saved state; rewrites FILE

Every call's result is checked against what the scenario wrote; expected search orders come
from squared L2 computed here. Exits 1 at the first failing step (--keep-going runs every step,
for diagnosis; later steps may then fail because of an earlier one).

Client calls deliberately NOT made, because they are the client's own defects and fail against
upstream valori-node 0.3.1 too (see valori-0.3-api.md, "Client defects"):
- meta_get / meta_set: send {key, value} / ?key=, while every server version wants target_id
  (get_metadata / set_metadata have the same defect; scenario_payload asserts their 400).
- search(filter_tag=...): raises ValidationError in the client without a request.
- insert_with_proof / insert_batch_with_proof: only add a client-side FFI proof to insert.
- AsyncRemoteClient insert/insert_batch/delete/search/...: sync stubs shadow the coroutines;
  async subgraph drops root/depth. This scenario uses SyncRemoteClient only.
- get_timeline() is typed as a list of strings but returns the {events, total} object (as
  upstream 0.3.1 does); the scenario treats it as the object.
Client quirks the scenario accounts for: drop_collection raises ConnectionError for every
non-400 error (404, 409); delete_node lets requests.HTTPError through; get_node/graph_query
return None and get_edges [] on a 404.
"""

import argparse
import json
from datetime import datetime, timezone

from valoricore.remote import SyncRemoteClient

import scenario_graph
import scenario_payload
import scenario_records
import scenario_state
from scenario_lib import Ctx, Raw, Runner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", default=None)
    ap.add_argument("--version", required=True, help="the server's package.json version")
    ap.add_argument("--default-dim", type=int, required=True, help="the server's VALORI_DIM")
    ap.add_argument("--state", required=True, help="JSON file the write phase fills and reopen reads")
    ap.add_argument("--phase", choices=["write", "reopen", "snapshots"], required=True)
    ap.add_argument("--keep-going", action="store_true")
    args = ap.parse_args()

    # No retries: a 503 or a dropped connection must fail the step, not be papered over.
    client = SyncRemoteClient(args.base, max_retries=0, token=args.token)
    ctx = Ctx(client, Raw(client.session, client.base_url), args.default_dim, args.version)
    r = Runner(args.keep_going)
    started = datetime.now(timezone.utc)

    def save() -> None:
        with open(args.state, "w", encoding="utf-8") as f:
            json.dump(scenario_state.summary(ctx, scenario_records.live_snapshot(ctx)), f)

    if args.phase == "write":
        scenario_records.run(r, ctx)
        scenario_graph.run(r, ctx)
        scenario_state.run(r, ctx, started)
        scenario_payload.run(r, ctx)
        r.step("save the expected state for the next phase", save)
    else:
        with open(args.state, encoding="utf-8") as f:
            saved = json.load(f)
        if args.phase == "reopen":
            scenario_state.reopen(r, ctx, saved)
            scenario_payload.reopen(r, ctx, saved)
        else:
            scenario_state.restore_ctx(ctx, saved)
            scenario_state.run_snapshots(r, ctx)
            r.step("save the expected state for the next phase", save)
    client.close()
    r.finish()


if __name__ == "__main__":
    main()
