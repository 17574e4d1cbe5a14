"""Figure 12 — tenants: many Slack workspaces, each linked to its own RingCentral account, on replicas.

    .venv/bin/python -m bench.tenants [--tenants 200] [--resources 5] [--replicas 3] [--burst 2000]
                                      [--rate 2] [--phase 60] [--poll-interval 30]
                                      [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

One stack, in its own processes: a fresh PostgreSQL database (created on `--postgres`'s server, dropped
afterwards), the RingCentral emulator holding `--tenants` + 1 accounts (copies of one account: Ana, the
service user, `--resources` call queues with one open thread each; the first is the deployment's own,
RINGCENTRAL_JWT, which `serve` requires, linked to no workspace), the Slack stand-in with a workspace per
tenant (the bot installed in each), and `--replicas` `thread-note-bot serve` processes (many-workspace mode,
webhooks on, each its own public URL). Each workspace is linked to its
account through the store (`save_tenant_account`, a JWT link, as `/thread-note setup` saves it), and each of
its resources is subscribed into a channel of its own (tenants x resources subscriptions).

Phases, one after the other:

- **warm**: one note per tenant, all delivered (every account's feed is claimed and polling);
- **idle**: nothing happens for two poll intervals (30 s at least); the emulator counts each account's
  requests by its service user (every request that reached it, OAuth and webhook renewals included), and
  PostgreSQL's statistics (`pg_stat_database`, `pg_stat_user_tables`) count transactions and table scans;
  requests per idle poll = an account's requests ÷ its sync calls (one sync call per poll);
- **quiet**: `--rate` notes a second, each to a random resource of a random tenant other than the noisy one,
  for `--phase` seconds;
- **noisy**: the same steady notes, while the noisy tenant's Ana writes `--burst` notes as fast as 8
  writers go, round robin over its threads;
- **kill**: the same steady notes; a third of the way in, the replica holding the noisy tenant's feed is
  SIGKILLed (mid-burst: its backlog is still draining at one message a second per channel);
- **drain**: until every note written is in Slack (or the deadline).

Figures: per note id, how many `chat.postMessage` calls carried it (0 lost, 0 duplicated); the other tenants'
note → Slack latency (the stand-in's time of the post minus the moment the note's creation returned), p50 and
p99, quiet vs noisy (target: noisy p99 ≤ 2 x quiet p99), with the latency beyond Slack's one message a second
per channel beside it (`note_latency.beyond_pacing`); requests per idle poll per account; the database's
transactions per poll; the noisy account's peak requests a minute against its budget; and, per phase, the
cores each process used (the emulator, the Slack stand-in, each replica, PostgreSQL's processes, the
bench's own writers): where the time of a noisy phase goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench._kit import (
    JSON,
    MT,
    RESULTS,
    RcControl,
    cpu_seconds,
    percentile,
    quiet,
    scratch_database,
    sql,
    start_rc,
    start_slack,
    table,
    write_result,
)
from bench._tenantkit import (
    ADMIN_URL,
    LIFTED,
    Tenant,
    link_and_subscribe,
    seed,
    start_replicas,
    tenants_of,
)
from bench.note_latency import beyond_pacing
from bot.sandbox.ringcentral.clock import iso_ms

SYNC = "/message-threads/entries/sync"
MEDIUM_PER_MINUTE = 40  # RingCentral's default per user (shared/ringcentral/NOTES.md §3)
STEPS = ("total", "webhook", "to_sync", "sync", "to_queue", "to_post", "to_mark")  # `steps`, as reported


# --- notes written, notes seen -------------------------------------------------------------------------


@dataclass
class Written:
    """Every note written: when its creation returned, whose it is, which channel shows it."""

    created: dict[str, float] = field(default_factory=dict)
    tenant: dict[str, int] = field(default_factory=dict)
    channel: dict[str, int] = field(default_factory=dict)  # a global channel index, for the pacing model
    phase: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, http: httpx.Client, t: Tenant, r: int, phase: str, resources: int) -> str:
        response = http.post(
            f"{MT}/notes", json={"threadId": t.threads[r], "text": f"{phase} note"},
            headers={"Authorization": f"Bearer {t.ana_token}"},
        )  # fmt: skip
        response.raise_for_status()
        note = str(response.json()["id"])
        with self.lock:
            self.created[note] = time.time()
            self.tenant[note], self.channel[note], self.phase[note] = t.index, t.index * resources + r, phase
        return note

    def of(self, phase: str, tenants: set[int] | None = None) -> dict[str, float]:
        return {
            n: at
            for n, at in self.created.items()
            if self.phase[n] == phase and (tenants is None or self.tenant[n] in tenants)
        }


def posts(slack_url: str) -> dict[str, list[float]]:
    """note id → the times of the `chat.postMessage` calls that carried it and succeeded."""
    calls = httpx.get(
        f"{slack_url}/sandbox/slack/calls", params={"method": "chat.postMessage"}, timeout=120
    ).json()["calls"]
    out: dict[str, list[float]] = {}
    for call in calls:
        meta = call["args"].get("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        note = ((meta or {}).get("event_payload") or {}).get("note_id")
        if note and call.get("ok"):
            out.setdefault(str(note), []).append(float(call["time"]))
    return out


def wait_delivered(slack_url: str, wanted: set[str], seconds: float, every: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    seen = posts(slack_url)
    while time.monotonic() < deadline and not wanted <= set(seen):
        time.sleep(every)
        seen = posts(slack_url)
    return seen


def steady(
    rc_url: str, tenants: list[Tenant], written: Written, phase: str, rate: float, seconds: float,
    rng: random.Random, resources: int,
) -> None:  # fmt: skip
    """`rate` notes a second for `seconds`, each to a random resource of a random tenant of `tenants`; each
    write is started on time by a pool of 8, so a slow emulator does not thin the load out."""
    with httpx.Client(base_url=rc_url, timeout=60) as http, ThreadPoolExecutor(8) as pool:
        start, n, pending = time.monotonic(), 0, []
        while (now := time.monotonic()) - start < seconds:
            due = start + n / rate
            if due > now:
                time.sleep(due - now)
            t, r = rng.choice(tenants), rng.randrange(resources)
            pending.append(pool.submit(written.write, http, t, r, phase, resources))
            n += 1
        for future in pending:
            future.result()


def burst(rc_url: str, t: Tenant, written: Written, count: int, resources: int) -> None:
    """`count` notes round robin over the noisy tenant's threads, as fast as 8 writers go."""
    clients = [httpx.Client(base_url=rc_url, timeout=60) for _ in range(8)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            list(pool.map(lambda i: written.write(clients[i % 8], t, i % resources, "burst", resources),
                          range(count)))  # fmt: skip
    finally:
        for c in clients:
            c.close()


# --- what it cost: RingCentral requests by account, database work ------------------------------------------


def by_user(rc: RcControl) -> dict[str, Counter[str]]:
    """extension id → route → requests that reached the emulator since its last reset."""
    out: dict[str, Counter[str]] = {}
    for route, users in rc.requests()["byRouteAndUser"].items():
        for user, n in users.items():
            out.setdefault(str(user), Counter())[route] += n
    return out


async def db_counters(dsn: str) -> dict[str, int]:
    """PostgreSQL's own statistics for the bench database: transactions, rows, table scans."""
    db = (
        await sql(
            dsn,
            "SELECT xact_commit + xact_rollback AS x, tup_returned, tup_fetched, tup_inserted, "
            "tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()",
        )
    )[0]
    scans = (await sql(dsn, "SELECT coalesce(sum(seq_scan), 0) + coalesce(sum(idx_scan), 0) AS s "
                       "FROM pg_stat_user_tables"))[0]  # fmt: skip
    return {
        "transactions": int(db["x"]), "rows_returned": int(db["tup_returned"]),
        "rows_fetched": int(db["tup_fetched"]),
        "rows_written": int(db["tup_inserted"] + db["tup_updated"] + db["tup_deleted"]),
        "table_scans": int(scans["s"]),
    }  # fmt: skip


def idle_cost(rc: RcControl, dsn: str, tenants: list[Tenant], seconds: float, pids: list[int]) -> JSON:
    """Nothing written for `seconds`: each account's requests per poll, the database's and the replicas'
    work per poll."""
    rc.reset_requests()
    before, cpu = asyncio.run(db_counters(dsn)), sum(cpu_seconds(p) for p in pids)
    time.sleep(seconds)
    after, cpu = asyncio.run(db_counters(dsn)), sum(cpu_seconds(p) for p in pids) - cpu
    users = by_user(rc)
    per_account, polls, requests, routes = [], 0, 0, Counter[str]()
    for t in tenants:
        mine = users.get(t.service_ext, Counter())
        syncs = sum(n for route, n in mine.items() if SYNC in route)
        total = sum(mine.values())
        polls, requests = polls + syncs, requests + total
        routes.update(mine)
        per_account.append({"syncs": syncs, "requests": total})
    db = {k: after[k] - before[k] for k in after}
    ratios = [a["requests"] / a["syncs"] for a in per_account if a["syncs"]]
    return {
        "seconds": seconds,
        "polls": polls,
        "requests": requests,
        "requests_per_poll": requests / polls if polls else float("nan"),
        "requests_per_poll_worst_account": max(ratios, default=float("nan")),
        "accounts_not_polled": sum(1 for a in per_account if not a["syncs"]),
        "polls_per_account": {
            "min": min(a["syncs"] for a in per_account),
            "max": max(a["syncs"] for a in per_account),
        },
        "routes": dict(routes),
        "database": db,
        "replicas_cpu_s": cpu,
        "replicas_cpu_ms_per_poll": 1000 * cpu / polls if polls else float("nan"),
        "database_per_second": {k: v / seconds for k, v in db.items()},
        "database_per_poll": {k: v / polls for k, v in db.items()} if polls else {},
    }


class Sampler(threading.Thread):
    """Every 5 s, the noisy account's requests so far: its busiest minute against its budget."""

    def __init__(self, rc: RcControl, ext: str) -> None:
        super().__init__(daemon=True)
        self.rc, self.ext = RcControl(rc.url), ext
        self.samples = [(time.monotonic(), self.count(rc))]
        self.done = threading.Event()

    def count(self, rc: RcControl) -> int:
        return sum(n for users in rc.requests()["byRouteAndUser"].values() for u, n in users.items()
                   if str(u) == self.ext)  # fmt: skip

    def run(self) -> None:
        while not self.done.wait(5.0):
            try:
                self.samples.append((time.monotonic(), self.count(self.rc)))
            except httpx.HTTPError:  # the emulator too busy to answer in 30 s: the next sample
                continue

    def busiest_minute(self) -> int:
        return max(
            (
                b - a
                for i, (t0, a) in enumerate(self.samples)
                for t1, b in self.samples[i:]
                if t1 - t0 <= 60.5
            ),
            default=0,
        )


def holder_pid(dsn: str, lease: str) -> int | None:
    rows = asyncio.run(sql(dsn, "SELECT holder FROM leases WHERE name = $1 AND expires_at > now()", lease))
    return int(rows[0]["holder"].split(":")[1]) if rows else None


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process on this machine (the server is local; the bench's database is
    the only busy one on a quiet machine)."""
    out = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip().startswith("postgres"):
                out[int(proc.name)] = cpu_seconds(int(proc.name))
        except (OSError, ValueError):  # gone meanwhile
            continue
    return out


class CpuMeter:
    """Cores used per phase by each of the stack's processes (CPU seconds ÷ the phase's wall time). A process
    gone by the phase's end (the SIGKILLed replica, its database connections) is not counted."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.phases: dict[str, dict[str, float]] = {}

    def _now(self) -> dict[str, dict[int, float]]:
        out = {"bench (writers)": {os.getpid(): cpu_seconds(os.getpid())}, "postgresql": postgres_cpu()}
        for name, pid in self.pids.items():
            try:
                out[name] = {pid: cpu_seconds(pid)}
            except OSError:  # killed
                out[name] = {}
        return out

    def measure(self, name: str, run: Any) -> None:
        start, t0 = self._now(), time.monotonic()
        run()
        end, wall = self._now(), time.monotonic() - t0
        self.phases[name] = {
            k: round(sum(cpu - start[k].get(pid, 0.0) for pid, cpu in end[k].items()) / wall, 3)
            if end[k]
            else float("nan")
            for k in start
        }


def phase(
    name: str, rc_url: str, others: list[Tenant], written: Written, args: argparse.Namespace,
    during: Any = None,
) -> None:  # fmt: skip
    """The steady notes for `--phase` seconds; `during()` runs beside them."""
    rng = random.Random(f"{args.seed}:{name}")
    writer = threading.Thread(
        target=steady, args=(rc_url, others, written, name, args.rate, args.phase, rng, args.resources)
    )
    writer.start()
    if during is not None:
        during()
    writer.join()
    print(
        f"  {name}: {len(written.of(name))} steady notes written (load {os.getloadavg()[0]:.1f})", flush=True
    )


def latency(written: Written, name: str, tenants: set[int], seen: dict[str, list[float]]) -> JSON:
    created = written.of(name, tenants)
    first = {n: min(times) for n, times in seen.items()}
    lat = [first[n] - at for n, at in created.items() if n in first]
    excess = beyond_pacing(created, written.channel, first)
    return {
        "notes": len(created), "delivered": len(lat), "p50_s": percentile(lat, 50),
        "p99_s": percentile(lat, 99), "max_s": max(lat, default=float("nan")),
        "beyond_pacing_p99_s": percentile(excess, 99),
    }  # fmt: skip


def steps(
    rc_url: str, dsn: str, written: Written, tenants: list[Tenant], phases: tuple[str, ...],
    seen: dict[str, list[float]], noisy_account: str, burst_window: tuple[float, float],
) -> JSON:  # fmt: skip
    """Where each of the other tenants' notes spent its time, from the stand-ins' records (as a proxy in front
    of RingCentral would see it) and the outbox row's `created_at`: created → the webhook delivery answered →
    the account's next sync arrived → that sync answered → its outbox row queued → posted. Per phase the p50
    and p99 of each step, and the steps of the slowest 1 % of notes; the noisy phase's notes split by whether
    they were written while the burst was."""
    state = httpx.get(f"{rc_url}/sandbox/state", timeout=300).json()
    timeline = httpx.get(f"{rc_url}/sandbox/requests", params={"timeline": 1}, timeout=300).json()["timeline"]
    made = {n["id"]: int(n["created_ms"]) for n in state["notes"]}
    query = "SELECT note_id, min(created_at) AS at, min(attempted_at) AS marked FROM outbox GROUP BY note_id"
    rows = asyncio.run(sql(dsn, query))
    queued = {r["note_id"]: r["at"].timestamp() for r in rows}
    marked = {r["note_id"]: r["marked"].timestamp() for r in rows if r["marked"] is not None}
    address = {x["id"]: x["deliveryMode"]["address"] for x in state["subscriptions"]}
    answered: dict[tuple[str, str], tuple[float, str]] = {}
    for d in state["deliveries"]:
        key = (d["accountId"], d["body"]["body"]["lastModifiedTime"])
        if d.get("answered_ms") and key not in answered:
            answered[key] = (d["answered_ms"] / 1000, address.get(d["subscription_id"], ""))
    # The replica that received the noisy tenant's deliveries (each account's webhook points at the replica
    # that held its feed when it was made): the others' deliveries to it against those to the other replicas.
    noisy_at = Counter(address.get(d["subscription_id"], "") for d in state["deliveries"]
                       if d["accountId"] == noisy_account).most_common(1)  # fmt: skip
    noisy_receiver = noisy_at[0][0] if noisy_at else None
    syncs: dict[str, list[tuple[float, float]]] = {}
    for arrived, done, route, user, status in timeline:
        if route.endswith(SYNC) and status == 200:
            syncs.setdefault(user, []).append((arrived / 1000, done / 1000))
    for times in syncs.values():
        times.sort()
    by_index = {t.index: t for t in tenants}
    table: dict[str, list[JSON]] = {}
    for note, phase_name in written.phase.items():
        t = by_index.get(written.tenant[note])
        if phase_name not in phases or t is None or note not in seen or note not in made:
            continue
        at = made[note] / 1000
        hook, receiver = answered.get((t.account_id, iso_ms(made[note])), (None, None))
        sync = next((s for s in syncs.get(t.service_ext, []) if s[0] >= at), None)
        posted = min(seen[note])
        row = {
            "total": posted - written.created[note],
            "webhook": hook - at if hook else None,
            "to_sync": sync[0] - (hook or at) if sync else None,
            "sync": sync[1] - sync[0] if sync else None,
            "to_queue": queued[note] - sync[1] if sync and note in queued else None,
            "to_post": posted - queued[note] if note in queued else None,
            "to_mark": marked[note] - queued[note] if note in queued and note in marked else None,
            "during_burst": burst_window[0] <= written.created[note] <= burst_window[1],
        }
        table.setdefault(phase_name, []).append(row)
        if phase_name == "noisy":
            table.setdefault("noisy, written during the burst" if row["during_burst"] else "noisy, after it",
                             []).append(row)  # fmt: skip
            if row["during_burst"] and receiver is not None:
                same = "the noisy tenant's" if receiver == noisy_receiver else "another"
                table.setdefault(f"  of those, delivered to {same} replica", []).append(row)
    out: JSON = {"burst_written_s": burst_window[1] - burst_window[0]}
    for name, rows in table.items():
        slowest = sorted(rows, key=lambda r: -r["total"])[: max(1, len(rows) // 100)]
        out[name] = {
            "notes": len(rows),
            **{f"{k}_p50_p99_s": [percentile([r[k] for r in rows if r[k] is not None], q) for q in (50, 99)]
               for k in STEPS},
            "slowest": [{k: r[k] for k in (*STEPS, "during_burst")} for r in slowest],
        }  # fmt: skip
    return out


def exactly_once(written: Written, seen: dict[str, list[float]]) -> JSON:
    counts = Counter(len(seen.get(n, [])) for n in written.created)
    return {
        "notes": len(written.created),
        "delivered_once": counts.get(1, 0),
        "lost": counts.get(0, 0),
        "duplicated": sum(v for k, v in counts.items() if k > 1),
        "by_phase": dict(Counter(written.phase.values())),
    }


# --- the run ---------------------------------------------------------------------------------------------


def measure(
    args: argparse.Namespace, rc: RcControl, slack_url: str, dsn: str, key: str, standins: dict[str, int]
) -> JSON:
    """Warm, idle, quiet, noisy, kill, drain (the module's docstring), on a world already set up."""
    t0 = time.monotonic()
    tenants = tenants_of(rc, slack_url, args.tenants)
    asyncio.run(link_and_subscribe(dsn, key, tenants))
    setup_s = time.monotonic() - t0
    print(f"  {len(tenants)} tenants linked, {len(tenants) * args.resources} subscriptions ({setup_s:.0f} s)")
    replicas = start_replicas(
        args.replicas, rc, slack_url, dsn, key, args.poll_interval, args.logs, [t.team_id for t in tenants]
    )
    written, noisy, others = Written(), tenants[0], tenants[1:]
    cpu = CpuMeter(standins | {f"replica {i + 1}": p.pid for i, p in enumerate(replicas)})
    try:
        time.sleep(3.0)  # the subscriptions start from "now"; webhooks are made a moment after start
        with httpx.Client(base_url=rc.url, timeout=60) as http:
            warm = {written.write(http, t, 0, "warm", args.resources) for t in tenants}
        warmed = wait_delivered(slack_url, warm, 3 * args.poll_interval + 120)
        warm_s = time.monotonic() - t0 - setup_s
        print(f"  warm: {len(warm & set(warmed))}/{len(warm)} delivered ({warm_s:.0f} s)", flush=True)
        idle = idle_cost(rc, dsn, tenants, max(2 * args.poll_interval, 30.0), [p.pid for p in replicas])
        print(f"  idle: {idle['requests_per_poll']:.3f} requests per poll over {idle['polls']} polls")
        cpu.measure("quiet", lambda: phase("quiet", rc.url, others, written, args))
        sampler = Sampler(rc, noisy.service_ext)
        sampler.start()
        window: list[float] = []

        def bursting() -> None:
            window.append(time.time())
            cpu.measure("burst written", lambda: burst(rc.url, noisy, written, args.burst, args.resources))
            window.append(time.time())

        burster = threading.Thread(target=bursting)
        cpu.measure("noisy", lambda: phase("noisy", rc.url, others, written, args, during=burster.start))
        killed: JSON = {}

        def kill() -> None:
            time.sleep(args.phase / 3)
            pid = holder_pid(dsn, f"notify:feed:{noisy.account_id}")
            victim = next((p for p in replicas if p.pid == pid), replicas[0])
            killed.update(pid=victim.pid, held_noisy_feed=victim.pid == pid, at=time.time())
            victim.popen.kill()  # SIGKILL: no goodbye, its leases expire
            victim.popen.wait(10)

        cpu.measure("kill", lambda: phase("kill", rc.url, others, written, args, during=kill))
        burster.join()
        lease_ttl = max(3 * args.poll_interval, 10.0)
        backlog = args.burst / args.resources  # the noisy channels' pace: one message a second each
        seen = wait_delivered(slack_url, set(written.created), backlog + lease_ttl + 180, every=10.0)
        sampler.done.set()
    finally:
        for proc in replicas:
            proc.stop()
    quiet_ids, rest = {t.index for t in others}, {noisy.index}
    return {
        "tenants": len(tenants), "resources_per_tenant": args.resources, "replicas": args.replicas,
        "subscriptions": len(tenants) * args.resources, "poll_interval_s": args.poll_interval,
        "burst": args.burst, "steady_rate_per_s": args.rate, "phase_s": args.phase, "setup_s": setup_s,
        "warm_delivered": len(warm & set(warmed)), "idle": idle, "exactly_once": exactly_once(written, seen),
        "killed": killed,
        "latency": {n: latency(written, n, quiet_ids, seen) for n in ("warm", "quiet", "noisy", "kill")}
        | {"noisy_tenant_burst": latency(written, "burst", rest, seen)},
        "noisy_account_busiest_minute_requests": sampler.busiest_minute(),
        "cores_by_phase": cpu.phases,
        "steps": steps(
            rc.url, dsn, written, others, ("quiet", "noisy"), seen, noisy.account_id, (window[0], window[1])
        ),
    }  # fmt: skip


def report(f: JSON) -> None:
    once, lat, idle = f["exactly_once"], f["latency"], f["idle"]
    ratio = lat["noisy"]["p99_s"] / lat["quiet"]["p99_s"]
    f["noisy_vs_quiet_p99"] = ratio
    table(
        f"{f['tenants']} tenants x {f['resources_per_tenant']} resources, {f['replicas']} replicas",
        ["figure", "measured", "target"],
        [
            ("notes delivered exactly once", f"{once['delivered_once']:,} of {once['notes']:,}", "all"),
            ("lost / duplicated (SIGKILL mid-run)", f"{once['lost']} / {once['duplicated']}", "0 / 0"),
            (
                "RingCentral requests per idle poll",
                f"{idle['requests_per_poll']:.3f} "
                f"(worst account {idle['requests_per_poll_worst_account']:.2f})",
                "1",
            ),
            ("accounts not polled in 2 intervals", idle["accounts_not_polled"], "0"),
            ("DB transactions per idle poll", f"{idle['database_per_poll'].get('transactions', 0):.1f}", "-"),
            ("replicas' CPU per idle poll", f"{idle['replicas_cpu_ms_per_poll']:.1f} ms", "-"),
            ("other tenants' p99, quiet", f"{lat['quiet']['p99_s']:.2f} s", "-"),
            (
                f"other tenants' p99, noisy ({f['burst']:,}-note burst)",
                f"{lat['noisy']['p99_s']:.2f} s",
                "≤ 2 x quiet",
            ),
            ("noisy / quiet p99", f"{ratio:.2f}x", "≤ 2x"),
            ("other tenants' p99 around the SIGKILL", f"{lat['kill']['p99_s']:.2f} s", "-"),
            (
                "noisy account's busiest minute",
                f"{f['noisy_account_busiest_minute_requests']} requests",
                f"≤ {MEDIUM_PER_MINUTE} (Medium)",
            ),
        ],
    )
    st = f["steps"]
    table(
        "where the other tenants' notes spent their time, p50 / p99 "
        f"(the burst written in {st['burst_written_s']:.1f} s)",
        [
            "notes",
            "n",
            "created → posted",
            "→ webhook answered",
            "→ next sync",
            "sync",
            "→ queued",
            "→ posted",
            "(of which → marked)",
        ],
        [
            (
                name,
                row["notes"],
                *(f"{a:.2f} / {b:.2f}" for a, b in (row[f"{k}_p50_p99_s"] for k in STEPS)),
            )
            for name, row in st.items()
            if isinstance(row, dict)
        ],
    )
    phases = f["cores_by_phase"]
    names = list(next(iter(phases.values()), {}))
    table(
        "cores used per phase",
        ["process", *phases],
        [(name, *(f"{phases[p].get(name, float('nan')):.2f}" for p in phases)) for name in names],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=200, help="workspaces, each with its own account")
    parser.add_argument("--resources", type=int, default=5, help="call queues per account, a channel each")
    parser.add_argument("--replicas", type=int, default=3, help="`serve` processes")
    parser.add_argument("--burst", type=int, default=2000, help="the noisy tenant's notes")
    parser.add_argument("--rate", type=float, default=2.0, help="the other tenants' notes a second")
    parser.add_argument("--phase", type=float, default=60.0, help="seconds of each of quiet, noisy, kill")
    parser.add_argument("--poll-interval", type=float, default=30.0, help="THREAD_NOTE_POLL_INTERVAL")
    parser.add_argument("--postgres", default=ADMIN_URL, help="a server where a database may be created")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--logs", type=Path, default=RESULTS.parent / ".tmp", help="the replicas' stderr")
    args = parser.parse_args(argv)
    quiet()
    from bot.store import TokenCipher

    load, started = os.getloadavg(), time.monotonic()
    key = TokenCipher.generate_key()
    args.logs.mkdir(parents=True, exist_ok=True)
    with scratch_database(args.postgres, "tnb_bench_tenants") as dsn:
        rc_proc = start_rc(seed(args.resources), accounts=args.tenants + 1, rateLimits=LIFTED)
        slack_proc = start_slack()
        rc = RcControl(rc_proc.url)
        try:
            standins = {"RingCentral emulator": rc_proc.pid, "Slack stand-in": slack_proc.pid}
            figures = measure(args, rc, slack_proc.url, dsn, key, standins)
        finally:
            rc.close()
            rc_proc.stop()
            slack_proc.stop()
    report(figures)
    write_result("tenants", figures, started=started, load_before=load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
