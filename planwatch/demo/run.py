"""`planwatch demo`: the platform up on this machine, the demo feed through it, the result.

Order: infrastructure (the manager), topics, the local alert receivers, the three services
(each ready before the feed starts), the feed with a live view, then a summary. Stopping
(the end, Ctrl-C or a failure) stops the services (SIGTERM, then SIGKILL) and the receivers;
Kafka and FerretDB stay up unless `down` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.live import Live
from rich.table import Table

from planwatch.demo.fresh import reset_groups_to_latest
from planwatch.demo.observe import (
    DLT_REASON_HEADER,
    RECEIVER_HEADER,
    ScoringPoller,
    TopicCounter,
    count_documents,
)
from planwatch.demo.problems import coordinator_line, open_at_end, raised_at_coordinator
from planwatch.demo.receivers import SmtpSink, WebhookReceiver, new_webhook_secret
from planwatch.demo.supervisor import (
    MANAGEMENT_PORT_OFFSET,
    ServiceSpec,
    ServiceStartError,
    Supervisor,
    log_tail,
)
from planwatch.demo.view import STATUS_ORDER, DemoView, plain_line, render, status_counts_text
from planwatch.infra.manager import Endpoints, down, ensure_up
from planwatch.infra.settings import InfraSettings
from planwatch.simulate.agencies import demo_keys, write_keys_file
from planwatch.simulate.feed import (
    FeedProgress,
    HttpTransport,
    KafkaTransport,
    Transport,
    run_feed,
    write_jsonl,
)
from planwatch.simulate.keys import DEMO_DATABASE_PREFIX
from planwatch.simulate.scenario import Outcome, Scenario, build_scenario
from shared import topics
from shared.catalog import load_catalog
from shared.contract.keys import generate_private_key, public_key_text
from shared.kafka_admin import ensure_topics
from shared.runtime.settings import KafkaSettings

ROUTING_FILE: Final = Path(__file__).with_name("routing.demo.yaml")
DEFAULT_PLAN: Final = "qingyuan-digital-economy-2021"
MAX_REPLICAS: Final = topics.PARTITIONS[topics.ACCEPTED]
PLAIN_EVERY_S: Final = 5.0
REFRESH_S: Final = 0.5


class DemoError(RuntimeError):
    """The demo could not run (a service did not start, a port is taken, ...)."""


@dataclass(frozen=True)
class DemoConfig:
    seed: int
    speed: float
    via: str = "kafka"  # kafka | http
    feed: bool = True
    keep_running: bool = False
    down: bool = False
    plan: str = DEFAULT_PLAN
    base_port: int = 8001  # ingest; scoring +1, notify +2
    database: str = DEMO_DATABASE_PREFIX
    state_dir: Path | None = None  # default: <infra state dir>/demo
    # "" for the platform's own topic names and consumer groups; tests isolate with a suffix.
    namespace: str = ""
    settle_s: float = 30.0  # after the feed: how long to wait for the pipeline to drain
    ready_timeout_s: float = 90.0
    live: bool | None = None  # None: a live view when stdout is a terminal
    # Processes of each service (one consumer group per service; ports after the first three).
    replicas: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise DemoError(
                f"replicas {self.replicas}: 1 to {MAX_REPLICAS} (the topics' partitions)"
            )
        if not self.database.startswith(DEMO_DATABASE_PREFIX):
            raise DemoError(
                f"database {self.database!r}: the demo resets its database, so its name must "
                f"start with {DEMO_DATABASE_PREFIX!r}"
            )
        if self.via not in ("kafka", "http"):
            raise DemoError(f"via {self.via!r}: kafka or http")

    def topic(self, name: str) -> str:
        return f"{name}.{self.namespace}" if self.namespace else name

    def group(self, name: str) -> str:
        return f"{name}-{self.namespace}" if self.namespace else name


@dataclass
class DemoResult:
    scenario: Scenario | None
    progress: FeedProgress | None
    reports_stored: int | None
    dead_letters: Counter[str]
    view: DemoView
    statuses: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    webhook_secret: str = ""  # the Standard Webhooks secret shared with notify for this run

    @property
    def alerts_delivered(self) -> int:
        return sum(len(p.alerts) for p in self.view.posts if p.verified)


def demo_routing(notifications_topic: str) -> str:
    """The demo's routing file, its Kafka receiver on this run's notifications topic."""
    text = ROUTING_FILE.read_text(encoding="utf-8")
    default = f"topic: {topics.NOTIFICATIONS}\n"
    if default not in text:
        raise DemoError(f"{ROUTING_FILE}: no Kafka receiver on {topics.NOTIFICATIONS}")
    return text.replace(default, f"topic: {notifications_topic}\n")


def service_specs(
    config: DemoConfig,
    endpoints: Endpoints,
    *,
    keys_file: Path,
    routing_file: Path,
    clock_public_key: str,
    webhook: WebhookReceiver | None,
    smtp: SmtpSink | None,
) -> list[ServiceSpec]:
    """The services' environments: the demo's servers, database, ports and topics. The first
    three are the primary ingest, scoring and notify (ports base, +1, +2); with `replicas` > 1
    the others follow (ports base+3, ...), each in its service's consumer group. Replica n of
    a service is Kafka client `planwatch-<service>-<n>`. Without `webhook` and `smtp` (a
    cluster without the demo's receivers) the routing file must not name them."""
    primaries = _primary_specs(
        config,
        endpoints,
        keys_file=keys_file,
        routing_file=routing_file,
        clock_public_key=clock_public_key,
        webhook=webhook,
        smtp=smtp,
    )
    extra: list[ServiceSpec] = []
    port = config.base_port + len(primaries)
    for n in range(2, config.replicas + 1):
        for spec in primaries:
            prefix = spec.name.upper()
            env = {
                **spec.env,
                f"{prefix}_HTTP__PORT": str(port),
                f"{prefix}_MANAGEMENT_PORT": str(port + MANAGEMENT_PORT_OFFSET),
                "KAFKA_CLIENT_ID": f"planwatch-{spec.name}-{n}",
            }
            if spec.name == "scoring":
                env["SCORING_PUBLIC_URL"] = spec.url  # alerts link to the primary's dashboard
            extra.append(ServiceSpec(f"{spec.name}-{n}", spec.module, port, env))
            port += 1
    return [*primaries, *extra]


def _primary_specs(
    config: DemoConfig,
    endpoints: Endpoints,
    *,
    keys_file: Path,
    routing_file: Path,
    clock_public_key: str,
    webhook: WebhookReceiver | None,
    smtp: SmtpSink | None,
) -> list[ServiceSpec]:
    ingest, scoring, notify = config.base_port, config.base_port + 1, config.base_port + 2
    common = {
        # The demo runs without authentication (loopback only; the services say so loudly).
        "PLANWATCH_AUTH_MODE": "dev",
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
        "MONGODB_URI": endpoints.mongodb_uri,
        "MONGODB_DATABASE": config.database,
    }
    t = config.topic
    return [
        ServiceSpec(
            "ingest",
            "services.ingest.main",
            ingest,
            {
                **common,
                "KAFKA_CLIENT_ID": "planwatch-ingest-1",
                "INGEST_HTTP__PORT": str(ingest),
                "INGEST_MANAGEMENT_PORT": str(ingest + MANAGEMENT_PORT_OFFSET),
                "INGEST_KEYS_FILE": str(keys_file),
                "INGEST_GROUP_ID": config.group("planwatch-ingest"),
                "INGEST_INPUT_TOPIC": t(topics.PROGRESS),
                "INGEST_ACCEPTED_TOPIC": t(topics.ACCEPTED),
                "INGEST_DEAD_LETTER_TOPIC": t(topics.PROGRESS_DLT),
            },
        ),
        ServiceSpec(
            "scoring",
            "services.scoring.main",
            scoring,
            {
                **common,
                "KAFKA_CLIENT_ID": "planwatch-scoring-1",
                "SCORING_HTTP__PORT": str(scoring),
                "SCORING_MANAGEMENT_PORT": str(scoring + MANAGEMENT_PORT_OFFSET),
                "SCORING_PUBLIC_URL": f"http://127.0.0.1:{scoring}",
                # the dashboard's acknowledgements, relayed to notify (dev mode: no tokens)
                "SCORING_NOTIFY_URL": f"http://127.0.0.1:{notify}",
                "SCORING_GROUP_ID": config.group("planwatch-scoring"),
                "SCORING_INPUT_TOPIC": t(topics.ACCEPTED),
                "SCORING_CLOCK_TOPIC": t(topics.CLOCK),
                "SCORING_SYNC_TOPIC": t(topics.SCORING_CLOCK),
                "SCORING_SCORES_TOPIC": t(topics.SCORES),
                "SCORING_ALERTS_TOPIC": t(topics.ALERTS),
                "SCORING_DLT_TOPIC": t(topics.SCORING_DLT),
                # The feed's ticks are signed with this run's clock key, as in production.
                "SCORING_CLOCK_PUBLIC_KEYS": json.dumps([clock_public_key]),
            },
        ),
        ServiceSpec(
            "notify",
            "services.notify.main",
            notify,
            {
                **common,
                "KAFKA_CLIENT_ID": "planwatch-notify-1",
                "NOTIFY_HTTP__PORT": str(notify),
                "NOTIFY_MANAGEMENT_PORT": str(notify + MANAGEMENT_PORT_OFFSET),
                "NOTIFY_ROUTING_FILE": str(routing_file),
                "NOTIFY_EXTERNAL_URL": f"http://127.0.0.1:{scoring}",
                "NOTIFY_GROUP_ID": config.group("planwatch-notify"),
                "NOTIFY_INPUT_TOPIC": t(topics.ALERTS),
                "NOTIFY_GROUPS_TOPIC": t(topics.NOTIFY_GROUPS),
                "NOTIFY_NOTIFICATIONS_TOPIC": t(topics.NOTIFICATIONS),
                "NOTIFY_DLT_TOPIC": t(topics.NOTIFICATIONS_DLT),
                **_receiver_env(webhook, smtp),
            },
        ),
    ]


def _receiver_env(webhook: WebhookReceiver | None, smtp: SmtpSink | None) -> dict[str, str]:
    """Where notify reaches the demo's local receivers (its routing file names them)."""
    env: dict[str, str] = {}
    if smtp is not None:
        env |= {"NOTIFY_SMTP__HOST": smtp.host, "NOTIFY_SMTP__PORT": str(smtp.port)}
    if webhook is not None:
        env |= {
            "PLANWATCH_DEMO_WEBHOOK_URL": webhook.url,
            "PLANWATCH_DEMO_WEBHOOK_SECRET": webhook.secret,
        }
    return env


def consumer_groups(config: DemoConfig) -> dict[str, dict[str, int]]:
    """The services' consumer groups and the topics (with partition counts) they consume."""
    t, n = config.topic, topics.PARTITIONS
    return {
        config.group("planwatch-ingest"): {t(topics.PROGRESS): n[topics.PROGRESS]},
        config.group("planwatch-scoring"): {
            t(topics.ACCEPTED): n[topics.ACCEPTED],
            t(topics.CLOCK): n[topics.CLOCK],
        },
        config.group("planwatch-notify"): {t(topics.ALERTS): n[topics.ALERTS]},
    }


async def _reset_database(endpoints: Endpoints, database: str) -> None:
    from pymongo import AsyncMongoClient  # noqa: PLC0415 (only when the feed runs)

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        endpoints.mongodb_uri, serverSelectionTimeoutMS=10_000
    )
    try:
        await client.drop_database(database)
    finally:
        await client.close()


def _parse_instant(text: str | None) -> datetime | None:
    """An ISO instant as scoring serves it; a naive one is UTC (as MongoDB stores times)."""
    if not text:
        return None
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


class _Screen:
    """A rich Live panel, or plain lines every few seconds."""

    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self._live = Live(console=console, refresh_per_second=4) if live else None
        self._last_plain = 0.0

    def __enter__(self) -> _Screen:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def show(self, view: DemoView, force: bool = False) -> None:
        if self._live is not None:
            self._live.update(render(view))
        elif force or time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            self.console.print(plain_line(view), highlight=False, soft_wrap=True)


class _DemoRun:
    """One run's parts, set up in order and torn down in reverse."""

    def __init__(self, config: DemoConfig, console: Console, stop: asyncio.Event) -> None:
        self.config = config
        self.console = console
        self.stop = stop
        self.infra = InfraSettings()
        self.state_dir = config.state_dir or self.infra.state_dir / "demo"
        self.view = DemoView(phase="infrastructure")
        self.live = config.live if config.live is not None else console.is_terminal
        self.webhook = WebhookReceiver(new_webhook_secret())
        self.smtp = SmtpSink()
        plan = load_catalog().plan(config.plan)
        self.scenario = build_scenario(plan, config.seed) if config.feed else None
        self.keys = self.scenario.keys if self.scenario else demo_keys(plan, config.seed)
        self.clock_key = generate_private_key()  # this run's platform clock
        self.specs: list[ServiceSpec] = []
        self.supervisor = Supervisor([], self.state_dir)
        self.dlt: TopicCounter | None = None
        self.notifications: TopicCounter | None = None
        self.poller: ScoringPoller | None = None
        self.endpoints: Endpoints | None = None

    @property
    def kafka(self) -> KafkaSettings:
        """The demo's own Kafka clients (topics, group reset, counters, feed): the local broker,
        with whatever KAFKA_* security settings the environment gives."""
        assert self.endpoints is not None
        return KafkaSettings(bootstrap_servers=self.endpoints.kafka_bootstrap)

    def say(self, message: str) -> None:
        self.console.print(f"[demo] {message}", highlight=False, markup=False, soft_wrap=True)

    async def setup(self) -> dict[str, str]:
        """Infrastructure, topics, receivers, services; returns the endpoints once ready."""
        config = self.config
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.endpoints = endpoints = await ensure_up(self.infra, report=self.say)
        keys_file = write_keys_file(self.state_dir / "agency-keys.jsonl", self.keys)
        routing_file = self.state_dir / "routing.yaml"
        routing_file.write_text(demo_routing(config.topic(topics.NOTIFICATIONS)), "utf-8")
        if self.scenario is not None:
            write_jsonl(self.state_dir / "feed.jsonl", self.scenario)
            await _reset_database(endpoints, config.database)
            self.say(f"database {config.database} reset; feed in {self.state_dir / 'feed.jsonl'}")
        names = {config.topic(name): count for name, count in topics.PARTITIONS.items()}
        kafka = self.kafka
        configs = {config.topic(name): c for name, c in topics.CONFIGS.items()}
        await ensure_topics(kafka, names, configs=configs)
        if self.scenario is not None:
            skipped = await reset_groups_to_latest(kafka, consumer_groups(config))
            if any(skipped.values()):
                self.say(f"skipped events an earlier run left unconsumed: {skipped}")
        self.webhook.start()
        self.smtp.start()
        self.say(
            f"webhook receiver {self.webhook.url}; SMTP sink {self.smtp.host}:{self.smtp.port}"
        )
        self.specs = service_specs(
            config,
            endpoints,
            keys_file=keys_file,
            routing_file=routing_file,
            clock_public_key=public_key_text(self.clock_key),
            webhook=self.webhook,
            smtp=self.smtp,
        )
        self.supervisor = Supervisor(self.specs, self.state_dir)
        self.view.phase = "services"
        self.say(f"starting ingest, scoring, notify (logs in {self.state_dir})")
        try:
            await self.supervisor.start_all(config.ready_timeout_s)
        except ServiceStartError as exc:
            raise DemoError(str(exc)) from None
        urls = {spec.name: spec.url for spec in self.specs}
        self.say("ready: " + ", ".join(f"{name} {url}" for name, url in urls.items()))
        self.dlt = TopicCounter(
            kafka,
            config.topic(topics.PROGRESS_DLT),
            topics.PARTITIONS[topics.PROGRESS_DLT],
            by_header=DLT_REASON_HEADER,
        )
        self.notifications = TopicCounter(
            kafka,
            config.topic(topics.NOTIFICATIONS),
            topics.PARTITIONS[topics.NOTIFICATIONS],
            by_header=RECEIVER_HEADER,
        )
        await self.dlt.start()
        await self.notifications.start()
        self.poller = ScoringPoller(self.specs[1].url, config.plan)
        return {**urls, "webhook": self.webhook.url, "smtp": f"{self.smtp.host}:{self.smtp.port}"}

    def refresh(self) -> None:
        assert self.poller is not None and self.dlt is not None and self.notifications is not None
        self.view.scoring = self.poller.latest
        self.view.posts = self.webhook.snapshot()
        self.view.mails = self.smtp.snapshot()
        self.view.dead_letters = Counter(self.dlt.counts)
        self.view.published = self.notifications.total

    async def feed_and_watch(self, scenario: Scenario) -> bool:
        """Send the feed while showing the view, then wait for the pipeline to settle.
        Returns True when interrupted."""
        config, view = self.config, self.view
        assert self.endpoints is not None and self.poller is not None
        renames = {name: config.topic(name) for name in topics.PARTITIONS}
        kafka = KafkaTransport(self.kafka, topic_names=renames, clock_key=self.clock_key)
        transport: Transport = (
            kafka if config.via == "kafka" else HttpTransport(self.specs[0].url, kafka)
        )
        view.progress = progress = FeedProgress(total=len(scenario.items))
        view.phase = "feeding"
        await transport.start()
        feed = asyncio.create_task(
            run_feed(scenario.items, transport, speed=config.speed, progress=progress)
        )
        settle = _Settling(scenario.items[-1].at, config.settle_s, open_at_end(scenario))
        interrupted = False
        with _Screen(self.console, self.live) as screen:
            try:
                while True:
                    await self.poller.poll()
                    self.refresh()
                    screen.show(view)
                    if self.stop.is_set():
                        interrupted = True
                        break
                    if self.supervisor.dead():
                        names = ", ".join(p.spec.name for p in self.supervisor.dead())
                        raise DemoError(f"{names} stopped during the demo (see its log)")
                    if feed.done():
                        feed.result()  # raises the feed's error, if any
                        view.phase = "settling"
                        if settle.over(view):
                            break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), REFRESH_S)
            finally:
                if not feed.done():
                    feed.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await feed
                with contextlib.suppress(Exception):
                    await transport.stop()
                view.phase = "interrupted" if interrupted else "done"
                screen.show(view, force=True)
        return interrupted

    async def keep_running(self) -> None:
        self.say("the platform keeps running; Ctrl-C stops the services")
        while not self.stop.is_set():
            if self.supervisor.dead():
                for process in self.supervisor.dead():
                    self.say(
                        f"{process.spec.name} exited with code {process.exit_code()}; the end "
                        f"of {process.log_path}:\n{log_tail(process.log_path)}"
                    )
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 1.0)

    async def teardown(self) -> None:
        self.view.phase = "stopping"
        self.say("stopping the services (SIGTERM, then SIGKILL after 15 s)")
        for counter in (self.dlt, self.notifications):
            if counter is not None:
                await counter.stop()
        if self.poller is not None:
            await self.poller.close()
        await self.supervisor.stop_all()
        self.webhook.stop()
        self.smtp.stop()
        if self.config.down:
            stopped = await asyncio.to_thread(down, self.infra)
            self.say(f"infrastructure stopped: {', '.join(stopped) or 'nothing of ours ran'}")
        else:
            self.say("Kafka and FerretDB stay up (`planwatch infra down` stops them)")


class _Settling:
    """After the feed: done when scoring's clock reached the last tick and nothing new reached
    any receiver (webhook, e-mail, notifications topic) for a few seconds, or when the wait is
    over."""

    QUIET_S: Final = 5.0

    def __init__(
        self, last_tick: datetime, wait_s: float, open_problems: frozenset[str] = frozenset()
    ) -> None:
        self.last_tick = last_tick
        # The problems the feed leaves open: their problem_raised must reach the coordinator.
        self.open_problems = open_problems
        self.wait_s = wait_s
        self.deadline: float | None = None
        self.posts = -1
        self.quiet_since = time.monotonic()

    def over(self, view: DemoView) -> bool:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.wait_s
        # Quiet means nothing new at any receiver: webhook posts, e-mails, published notifications
        # (each receiver has its own aggregation groups, flushed on their own timers).
        delivered = len(view.posts) + len(view.mails) + view.published
        if delivered != self.posts:
            self.posts, self.quiet_since = delivered, now
        clock = _parse_instant(view.scoring.clock)
        caught_up = clock is not None and clock >= self.last_tick
        if self.open_problems:  # scoring's problem desk and notify may lag the clock
            caught_up = caught_up and self.open_problems <= raised_at_coordinator(view.posts)
        if caught_up and now - self.quiet_since >= self.QUIET_S:
            return True
        if now >= self.deadline:
            if not caught_up:
                view.notes.append("scoring had not caught up with the feed when the wait ended")
            return True
        return False


async def run_demo(
    config: DemoConfig,
    console: Console,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[Mapping[str, str]], None] | None = None,
) -> DemoResult:
    """Run the demo until the feed is done (and `stop` is set when keep_running), or `stop`.
    `on_ready` receives the endpoints once every service is ready (tests use it)."""
    run = _DemoRun(config, console, stop)
    result = DemoResult(run.scenario, None, None, Counter(), run.view)
    result.webhook_secret = run.webhook.secret
    try:
        endpoints = await run.setup()
        if on_ready is not None:
            on_ready(endpoints)
        if run.scenario is not None:
            result.interrupted = await run.feed_and_watch(run.scenario)
        assert run.poller is not None and run.endpoints is not None
        if run.scenario is None:
            await run.poller.poll()  # the state the platform already holds, if any
        run.refresh()
        result.statuses = dict(run.poller.latest.statuses)
        result.progress = run.view.progress
        result.dead_letters = Counter(run.view.dead_letters)
        result.reports_stored = await count_documents(
            run.endpoints.mongodb_uri, config.database, "reports"
        )
        print_summary(console, result, run)
        if config.keep_running and not result.interrupted:
            await run.keep_running()
    finally:
        await run.teardown()
    return result


def print_summary(console: Console, result: DemoResult, run: _DemoRun) -> None:
    config, scenario, state_dir = run.config, result.scenario, run.state_dir
    console.rule("planwatch demo: summary")
    if scenario is not None:
        expected = scenario.expected_counts()
        sent = result.progress.sent if result.progress else 0
        stopped = " (interrupted)" if result.interrupted else ""
        console.print(
            f"feed: seed {config.seed}, {sent} of {len(scenario.items)} items sent{stopped}"
        )
        console.print(
            f"reports stored in MongoDB ({config.database}.reports): "
            f"{result.reports_stored if result.reports_stored is not None else '?'} "
            f"(expected {expected[Outcome.ACCEPTED.value]} for the whole feed)"
        )
        wanted = sum(v for k, v in expected.items() if k.startswith("rejected:"))
        console.print(
            f"dead letters: {sum(result.dead_letters.values())} (expected {wanted} for the whole "
            "feed): " + ", ".join(f"{k} {v}" for k, v in sorted(result.dead_letters.items())),
            highlight=False,
        )
        if result.progress and result.progress.mismatches:
            console.print(f"[yellow]{len(result.progress.mismatches)} unexpected HTTP answers")
    if scenario is None and not result.statuses:
        console.print(f"the platform is up; scoring has no state yet ({result.view.scoring.error})")
    console.print("targets: ", status_counts_text(Counter(result.statuses.values())))
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("status")
    table.add_column("targets")
    for status in STATUS_ORDER:
        ids = sorted(t for t, s in result.statuses.items() if s == status)
        if ids:
            table.add_row(status, ", ".join(ids))
    console.print(table)
    posts = result.view.posts
    console.print(
        f"alerts: {sum(len(p.alerts) for p in posts)} delivered in {len(posts)} webhook posts "
        f"({sum(p.verified for p in posts)} with a valid Standard Webhooks signature); "
        f"{len(result.view.mails)} e-mails in the SMTP sink; {result.view.published} "
        f"notifications published to {config.topic(topics.NOTIFICATIONS)}"
    )
    console.print(coordinator_line(posts), highlight=False)
    ingest, scoring, notify = (spec.url for spec in run.specs[:3])
    feed = state_dir / "feed.jsonl"
    console.rule("where to look next")
    if not config.keep_running:
        console.print(
            "the services stop now; run `planwatch demo --keep-running` (or `make run`) to keep "
            "them up and browse these:",
            highlight=False,
        )
    console.print(
        f"dashboard:          {scoring}/dashboard/\n"
        f"scores (read API):  {scoring}/v1/plans/{config.plan}  ·  /targets  ·  /alerts\n"
        f"problems:           {scoring}/v1/plans/{config.plan}/problems  (and on the dashboard)\n"
        f"send events:        POST {ingest}/v1/events  (or `MONGODB_DATABASE={config.database} "
        f"planwatch simulate --via http --url {ingest}`)\n"
        f"notify:             {notify}/api/v2/silences  ·  {run.specs[2].management_url}"
        "/readyz  ·  /metrics\n"
        "authentication:     off (PLANWATCH_AUTH_MODE=dev, loopback only: the demo alone)\n"
        + (
            f"offline scores:     planwatch score --events {feed} --at 2022-12-31 --format table\n"
            f"progress report:    planwatch report --events {feed} --at 2022-12-31 "
            "--out report.html\n"
            if scenario is not None
            else ""
        )
        + f"service logs:       {state_dir}/{{ingest,scoring,notify}}.log",
        highlight=False,
        soft_wrap=True,
    )


def stdout_console() -> Console:
    return Console(file=sys.stdout)
