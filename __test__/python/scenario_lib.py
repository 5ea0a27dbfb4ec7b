"""Plumbing for the valoricore 0.3.1 scenario: steps, assertions, raw HTTP, expected values.

Expected values are computed here from what the scenario wrote (never read back from the server
and reused as the expectation). Vector components are multiples of 1/4, exact in the kernel's
Q16.16 fixed point, so stored vectors and squared-L2 scores compare exactly.
"""

import sys
import traceback
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type

import requests


class ScenarioFailure(AssertionError):
    pass


def fail(msg: str) -> None:
    raise ScenarioFailure(msg)


def check(cond: bool, msg: str) -> None:
    if not cond:
        fail(msg)


def eq(got: Any, want: Any, what: str) -> None:
    if got != want:
        fail(f"{what}: expected {want!r}, got {got!r}")


def close(got: float, want: float, what: str, tol: float = 1e-9) -> None:
    if not isinstance(got, (int, float)) or abs(float(got) - want) > tol:
        fail(f"{what}: expected {want!r}, got {got!r}")


def field(obj: Any, key: str, what: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        fail(f"{what}: response has no field {key!r}: {obj!r}")
    return obj[key]


def raises(kinds: Tuple[Type[BaseException], ...], fn: Callable[[], Any], what: str,
           contains: Sequence[str] = ()) -> BaseException:
    """Runs fn, which must raise one of `kinds` whose message contains every string of `contains`."""
    try:
        got = fn()
    except kinds as e:  # noqa: PERF203 - the exception is the expected outcome
        text = str(e)
        for c in contains:
            check(c in text, f"{what}: the {type(e).__name__} should mention {c!r}: {text!r}")
        return e
    fail(f"{what}: expected {' or '.join(k.__name__ for k in kinds)}, got the value {got!r}")
    raise AssertionError("unreachable")


def sq_l2(a: Sequence[float], b: Sequence[float]) -> float:
    return sum((x - y) * (x - y) for x, y in zip(a, b))


def expected_search(records: Dict[int, List[float]], query: Sequence[float], k: int) -> List[Tuple[int, float]]:
    """The k nearest of `records` (id → vector) by squared L2, ties by id: the documented order."""
    ranked = sorted(((sq_l2(v, query), rid) for rid, v in records.items()), key=lambda t: (t[0], t[1]))
    return [(rid, d) for d, rid in ranked[:k]]


def assert_search(hits: Any, records: Dict[int, List[float]], query: Sequence[float], k: int, what: str) -> None:
    check(isinstance(hits, list), f"{what}: expected a list of hits, got {hits!r}")
    want = expected_search(records, query, k)
    got_ids = [field(h, "id", what) for h in hits]
    eq(got_ids, [rid for rid, _ in want], f"{what}: hit ids in order")
    for h, (rid, d) in zip(hits, want):
        close(field(h, "score", what), d, f"{what}: score of id {rid}")


class Raw:
    """Requests with the client's own session (same auth), for what the client does not expose:
    `deduplicated`, error codes, paging parameters and the per-collection hash."""

    def __init__(self, session: requests.Session, base: str) -> None:
        self.session = session
        self.base = base

    def call(self, method: str, path: str, **kw: Any) -> Tuple[int, Any]:
        kw.setdefault("timeout", 10)
        r = self.session.request(method, self.base + path, **kw)
        try:
            body = r.json()
        except ValueError:
            body = r.text
        return r.status_code, body

    def ok(self, method: str, path: str, what: str, **kw: Any) -> Any:
        status, body = self.call(method, path, **kw)
        check(200 <= status < 300, f"{what}: {method} {path} answered {status} {body!r}")
        return body

    def error(self, method: str, path: str, status: int, code: str, what: str, **kw: Any) -> Dict[str, Any]:
        got, body = self.call(method, path, **kw)
        eq((got, body.get("code") if isinstance(body, dict) else body), (status, code),
           f"{what}: {method} {path} status and code (body {body!r})")
        check(isinstance(body.get("error"), str) and body["error"] != "", f"{what}: the error names the problem: {body!r}")
        return body


class Runner:
    """Runs named steps in order. Stops at the first failure unless keep_going (diagnosis mode:
    later steps may then fail because an earlier one did)."""

    def __init__(self, keep_going: bool) -> None:
        self.keep_going = keep_going
        self.passed: List[str] = []
        self.failed: List[Tuple[str, str]] = []

    def step(self, name: str, fn: Callable[[], None]) -> bool:
        try:
            fn()
        except Exception as e:  # every failure, the client's own exceptions included
            detail = f"{type(e).__name__}: {e}"
            if not isinstance(e, ScenarioFailure):
                detail += "\n" + "".join(traceback.format_exception(e)[-3:])
            print(f"FAIL {name}: {detail}", flush=True)
            self.failed.append((name, detail))
            if not self.keep_going:
                self.finish()
            return False
        print(f"ok   {name}", flush=True)
        self.passed.append(name)
        return True

    def finish(self) -> None:
        print(f"--- {len(self.passed)} steps passed, {len(self.failed)} failed", flush=True)
        if self.failed:
            print("failed steps: " + ", ".join(n for n, _ in self.failed), flush=True)
            sys.exit(1)
        sys.exit(0)


def ids_of(items: Iterable[Dict[str, Any]], key: str, what: str) -> List[int]:
    return [field(x, key, what) for x in items]


def optional_int(v: Optional[Any]) -> Optional[int]:
    return None if v is None else int(v)


class Ctx:
    """What the scenario wrote so far: the source of every expected value."""

    def __init__(self, client: Any, raw: Raw, default_dim: int, version: str) -> None:
        self.client = client
        self.raw = raw
        self.default_dim = default_dim
        self.version = version
        self.dims: Dict[str, int] = {"default": default_dim}
        # collection → record id → vector, for live (not deleted) records only
        self.live: Dict[str, Dict[int, List[float]]] = {"default": {}}
        self.tags: Dict[Tuple[str, int], int] = {}
        self.saved: Dict[str, Any] = {}  # what the reopen phase checks after a restart
        # (collection, event type) → events the scenario's writes should have logged
        self.events: Counter = Counter()

    def count(self, name: str) -> int:
        return len(self.live[name])
