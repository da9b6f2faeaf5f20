"""pareto-front against a brute-force Pareto front, on zoos built to trip a bucketed sweep.

The saved query compares each point only with the points of its own latency bucket, after
dropping the points that a faster bucket's best accuracy already beats. These zoos put
points on the bucket boundaries, in one crowded bucket, below a millisecond and above a
second, with tied latencies and tied accuracies, so that a wrong bucket edge or a wrong
tie rule changes the answer.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pyoxigraph as ox
import pytest
from servers import start_oxigraph, start_virtuoso, unavailable

from mlmeta import iri
from mlmeta.ingest import ingest
from mlmeta.push import push
from mlmeta.queries import get_saved_query
from mlmeta.records import EvaluationRecord, ModelRecord, SourceInfo
from mlmeta.remote import RemoteSettings, RemoteStore
from mlmeta.store import OxigraphStore, Rows, Store

RETRIEVED = datetime(2026, 11, 1, tzinfo=UTC)
SEEDS = [1, 2, 3, 4, 5, 6]
BOUNDARIES = [0.009, 0.01, 0.099, 0.1, 0.99, 0.999, 1.0, 1.001, 9.99, 10.0, 99.9, 99.99,
              100.0, 999.0, 999.99, 1000.0, 1000.01, 12345.6]
Point = tuple[str, int, float, float]  # model IRI, image size, accuracy, latency (ms)


def _latency(r: random.Random) -> float:
    pick = r.random()
    if pick < 0.25:
        return r.choice(BOUNDARIES)
    if pick < 0.5:
        return round(5 + r.random(), 3)  # crowded: 5 <= ms <= 6
    # five significant digits: Virtuoso keeps no more than six
    return float(f"{math.exp(r.uniform(math.log(0.005), math.log(20000))):.5g}")


def _accuracy(r: random.Random, latency: float) -> float:
    # slower tends to be better (so the front is long), two decimals (so ties happen)
    base = 0.55 + 0.04 * math.log(latency + 1) + r.uniform(-0.1, 0.1)
    return round(min(0.99, max(0.3, base)), 2)


def zoo(seed: int, n: int = 150) -> tuple[list[ModelRecord], list[Point]]:
    """Models with top-1 on ImageNet and CPU latencies at batch 1, and the points the
    query should compare (plus results it must leave out)."""
    r = random.Random(seed)
    records: list[ModelRecord] = []
    points: list[Point] = []
    for i in range(n):
        sid = f"pareto_{seed}_{i}"
        rec = ModelRecord(source_id=sid, name=sid, tasks=["image-classification"],
                          source=SourceInfo(system="timm", url=f"https://example.org/{sid}",
                                            version="1", retrieved=RETRIEVED))
        for size in r.sample([224, 256, 288], r.randrange(1, 3)):
            lat = _latency(r) if r.random() > 0.2 or not points else points[-1][3]
            acc = _accuracy(r, lat) if r.random() > 0.2 or not points else points[-1][2]
            rec.evaluations.append(EvaluationRecord("top1", acc, dataset="imagenet-1k",
                                                    image_size=size))
            rec.evaluations.append(EvaluationRecord(
                "latency", lat, unit="ms", hardware="i9-10940x", batch_size=1,
                precision="fp32", kind="measured", image_size=size))
            points.append((iri.model("timm", sid).value, size, acc, lat))
        # never compared: another batch size, another dataset, no image size
        rec.evaluations.append(EvaluationRecord(
            "latency", 0.001, unit="ms", hardware="i9-10940x", batch_size=32, image_size=224))
        rec.evaluations.append(EvaluationRecord("top1", 0.999, dataset="cifar10",
                                                image_size=224))
        rec.evaluations.append(EvaluationRecord("latency", 0.002, unit="ms",
                                                hardware="i9-10940x", batch_size=1))
        records.append(rec)
    return records, points


def brute_force_front(points: list[Point]) -> list[Point]:
    """The points that no other point is at least as fast and as accurate as, and
    strictly better than on one."""
    return [p for p in points
            if not any(q is not p and q[3] <= p[3] and q[2] >= p[2]
                       and (q[2] > p[2] or q[3] < p[3]) for q in points)]


def _value(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | None) -> object:
    """Numbers to six significant digits (what Virtuoso keeps), the rest as text."""
    assert isinstance(term, (ox.NamedNode, ox.Literal))
    if isinstance(term, ox.Literal) and term.datatype.value.endswith(("integer", "int")):
        return int(term.value)
    if isinstance(term, ox.Literal) and term.datatype.value.endswith(("double", "decimal")):
        return float(f"{float(term.value):.6g}")
    return term.value


def front_of(store: Store) -> list[tuple[object, ...]]:
    """pareto-front's rows on ``store`` (default parameters), as plain values."""
    answer = get_saved_query("pareto-front").run(store, {})
    assert isinstance(answer, Rows)
    return [tuple(_value(t) for t in row) for row in answer.rows]


def check_front(got: list[tuple[object, ...]], points: list[Point]) -> None:
    assert {row[0] for row in got} == {"i9-10940x"}
    want = brute_force_front(points)
    # a front this long has points in several buckets
    assert len(want) >= 3
    assert sorted((m, s, a, lat) for _, m, _, s, a, lat in got) == sorted(want)
    # ordered by latency
    assert [row[5] for row in got] == sorted(p[3] for p in want)


@pytest.fixture(scope="module", params=SEEDS)
def seeded(request: pytest.FixtureRequest) -> Iterator[tuple[OxigraphStore, list[Point]]]:
    records, points = zoo(request.param)
    store = OxigraphStore()
    report = ingest(store, records, source="pareto test zoo", retrieved=RETRIEVED)
    assert len(report.stored) == len(records) and not report.rejected, report.rejected
    yield store, points
    store.close()


def test_pareto_front_matches_brute_force(
        seeded: tuple[OxigraphStore, list[Point]]) -> None:
    store, points = seeded
    check_front(front_of(store), points)


# Virtuoso 7.2 drops rows of an OPTIONAL whose filter reads variables of both sides once
# there are a few hundred points (the query before the sweep did the same): a known
# wrong answer, recorded so that a Virtuoso that gets it right shows up (strict).
VIRTUOSO_DROPS_ROWS = pytest.mark.xfail(
    strict=True, raises=AssertionError,
    reason="Virtuoso 7.2 loses left-hand rows of OPTIONAL { sub-select FILTER(...) } "
           "on this zoo (see docs/triplestores.md)")


@pytest.mark.parametrize("server", ["oxigraph", pytest.param("virtuoso",
                                                             marks=VIRTUOSO_DROPS_ROWS)])
def test_pareto_front_on_servers(server: str) -> None:
    """The same sweep on a real Oxigraph server and a real Virtuoso (its FLOOR, IF and
    double arithmetic decide the buckets there). Each gets a server of its own: this zoo
    changes Virtuoso's statistics, and with them its plan for the example zoo's query in
    the shared server (which then drops rows too)."""
    try:
        running = start_oxigraph() if server == "oxigraph" else start_virtuoso()
    except RuntimeError as e:
        unavailable(f"cannot start {server}: {e}")
        raise  # unreachable: unavailable() skips or fails
    records, points = zoo(7)
    local = OxigraphStore()
    remote = RemoteStore(running.query_url,
                         RemoteSettings.from_env(running.query_url, running.env()))
    try:
        ingest(local, records, source="pareto test zoo", retrieved=RETRIEVED)
        assert push(local, remote).ok
        check_front(front_of(remote), points)
    finally:
        remote.close()
        local.close()
        running.stop()


def test_the_zoo_exercises_the_edges() -> None:
    """The generated points do what the module docstring says (else the test above
    would pass without testing the sweep)."""
    points = [p for seed in SEEDS for p in zoo(seed)[1]]
    lats = [p[3] for p in points]
    assert sum(5 <= x <= 6 for x in lats) >= 100
    assert {1.0, 10.0, 100.0, 1000.0} <= set(lats) and min(lats) < 0.01
    assert max(lats) > 1000
    front = [p for seed in SEEDS for p in brute_force_front(zoo(seed)[1])]
    assert len({p[3] for p in front}) < len(front) or len({p[2] for p in front}) < len(front)
