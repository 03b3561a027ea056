"""`lockgate acp -- AGENT_COMMAND [ARG…]`: any ACP agent behind the console.

The agent runs jailed by default: inside lockgate's sandbox, on an overlayfs copy-on-write view
of the workspace (the upper layer lives in lockgate's data directory, outside the workspace),
secrets hidden, the environment allow-list applied, its network only through lockgate's proxy to
the `--agent-allow-domain` hosts. Whatever it writes itself is reviewed from the overlay before
it reaches the real workspace. `--agent-unjailed` runs it as a plain child instead, and the
console says so in red for the whole session. See docs/acp.md.

Exit codes: 0 the agent's turn ended with `end_turn`; 1 any other end (error, refusal, max
tokens, cancelled by the agent); 2 a usage mistake or a jail that cannot be built; 130 cancelled.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from app.cli import UserError
from app.cli.monitor_options import monitor_options
from app.cli.sandbox_backend_options import sandbox_backend_options

if TYPE_CHECKING:
    from app.agent.acp.link import AcpLink
    from app.session import Session

EXIT_OK, EXIT_NOT_END_TURN, EXIT_CANCELLED = 0, 1, 130
UNJAILED_BANNER = (
    "AGENT UNJAILED (--agent-unjailed): it runs outside the sandbox, with your files, "
    "secrets and network; only its ACP requests are reviewed"
)


def _host_port(value: str) -> tuple[str, int | None, bool]:
    """'api.openai.com', 'host:8443', '127.0.0.1:8080', '[::1]:80' -> (host, port, is_ip)."""
    host, port = value.strip(), None
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        host = inner
        if rest.startswith(":"):
            port = rest[1:]
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if port is not None:
        if not str(port).isdigit() or not 0 < int(port) < 65536:
            raise UserError(f"--agent-allow-domain {value}: bad port")
        return host, int(port), is_ip
    return host, None, is_ip


def agent_rules(domains: Sequence[str]) -> Any:
    """The agent's own network rules: its model API and nothing else."""
    from sandbox.net import NetworkRules, RuleError

    hosts, ports, addresses = [], [], []
    for d in domains:
        host, port, is_ip = _host_port(d)
        hosts.append(host)
        if port is not None:
            ports.append(port)
        if is_ip:
            addresses.append(host)
        elif host == "localhost":  # named by the user: its loopback addresses are meant
            addresses += ["127.0.0.1", "::1"]
    try:
        return NetworkRules.build(allow=hosts, ports=ports, addresses=addresses)
    except RuleError as exc:
        raise UserError(f"--agent-allow-domain: {exc}") from None


def agent_env(
    names: Sequence[str], allow: Sequence[str], *, home: Path | None, proxy: bool
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in allow}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.update({"TMPDIR": "/tmp", "TMP": "/tmp", "TEMP": "/tmp", "LOCKGATE_SANDBOX": "1"})
    if home is not None:
        env["HOME"] = str(home)
    for name in names:
        if name not in os.environ:
            raise UserError(f"--agent-env {name}: not set in this environment")
        env[name] = os.environ[name]
    if proxy:
        url = "http://127.0.0.1:3128"
        for n in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[n] = env[n.lower()] = url
        env["NO_PROXY"] = env["no_proxy"] = ""  # its model API may be a loopback server
    return env


class AcpSessionView:
    """The session as the console sees it, with the agent's confinement in the sandbox line:
    jailed (overlay), or — loudly, as a degraded mode — unjailed."""

    def __init__(self, session: Session, *, jailed: bool, agent_network: str) -> None:
        self._session = session
        self._jailed = jailed
        self._agent_network = agent_network

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    @property
    def sandbox_status(self) -> object:
        status = self._session.sandbox_status
        if status is None:
            return None
        degraded = list(getattr(status, "degraded", ()))
        summary = status.summary() if hasattr(status, "summary") else ""
        if self._jailed:
            summary = f"agent jailed on an overlay (net {self._agent_network}); {summary}"
        else:
            degraded.insert(0, UNJAILED_BANNER)
        return {
            "layers": getattr(status, "layers", ()),
            "network": getattr(status, "network", "?"),
            "degraded": tuple(degraded),
            "process_cap": getattr(status, "process_cap", ""),
            "summary": summary,
        }


@click.command(
    "acp",
    context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False},
)
@click.option("--workspace", "-w", default=None, metavar="DIR",
              help="The project the agent works in (default: the current directory).")  # fmt: skip
@click.option("--headless", is_flag=True,
              help="No console: policy decides, what would be asked is denied; exit 0 only if "
              "the agent's turn ended with end_turn; a summary goes to stderr. Needs --prompt.")  # fmt: skip
@click.option("--network", type=click.Choice(["off", "allow"]), default="off", show_default=True,
              help="Network for the commands lockgate runs for the agent (terminal/create): "
              "off, or allow through lockgate's proxy to --allow-domain hosts (others asked).")  # fmt: skip
@click.option("--allow-domain", "allow_domains", multiple=True, metavar="D",
              help="Allow domain D for those commands (repeatable; needs --network allow).")  # fmt: skip
@click.option("--agent-allow-domain", "agent_domains", multiple=True, metavar="D",
              help="The jailed agent itself may reach host D (its model API), e.g. "
              "api.openai.com or 127.0.0.1:8080 (repeatable). Nothing else is reachable.")  # fmt: skip
@click.option("--agent-env", "agent_env_names", multiple=True, metavar="NAME",
              help="Pass environment variable NAME (e.g. OPENAI_API_KEY) to the jailed agent "
              "(repeatable). Nothing else outside the sandbox's allow-list reaches it.")  # fmt: skip
@click.option("--agent-read", "agent_reads", multiple=True, metavar="PATH",
              help="Let the jailed agent read PATH (repeatable): under your home it is copied "
              "into the agent's private home at the same place (~/.codex/auth.json -> "
              "$HOME/.codex/auth.json); elsewhere it is readable where it is.")  # fmt: skip
@click.option("--agent-unjailed", is_flag=True,
              help="Run the agent outside the sandbox (your files, secrets and network); the "
              "console says so in red for the whole session. Only its ACP requests are reviewed.")  # fmt: skip
@click.option("--audit", default=None, metavar="PATH",
              help="Write the audit log here (default: a new file in the user data dir).")  # fmt: skip
@click.option("--prompt", default=None, metavar="TEXT",
              help="The first user message (default: asked for on the terminal).")  # fmt: skip
@monitor_options
@sandbox_backend_options
@click.argument("agent_command", nargs=-1, required=True, type=click.UNPROCESSED)
def cli(
    workspace: str | None,
    headless: bool,
    network: Literal["off", "allow"],
    allow_domains: tuple[str, ...],
    agent_domains: tuple[str, ...],
    agent_env_names: tuple[str, ...],
    agent_reads: tuple[str, ...],
    agent_unjailed: bool,
    audit: str | None,
    prompt: str | None,
    monitor_model: str | None,
    monitor_base_url: str | None,
    agent_command: tuple[str, ...],
) -> None:
    """Review any ACP agent: lockgate acp [OPTIONS] -- AGENT_COMMAND [ARG…]

    The agent speaks the Agent Client Protocol on its stdio. By default it runs jailed on a
    copy-on-write workspace; its file writes, terminals, permission requests and whatever it
    changes itself are reviewed before anything reaches the real workspace.
    """
    argv = list(agent_command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UserError("no agent command: lockgate acp [OPTIONS] -- AGENT_COMMAND [ARG…]")
    if "/" in argv[0]:  # the agent starts in the workspace: a path relative to here must hold
        argv[0] = os.path.abspath(argv[0])
    if allow_domains and network != "allow":
        raise UserError("--allow-domain needs --network allow")
    if agent_unjailed and (agent_domains or agent_env_names or agent_reads):
        raise UserError("--agent-allow-domain/--agent-env/--agent-read apply to a jailed agent")
    if headless and not prompt:
        raise UserError("--headless needs --prompt TEXT")
    if prompt is None:
        if not sys.stdin.isatty():
            raise UserError("no prompt: give --prompt TEXT")
        prompt = click.prompt("lockgate: task for the agent", err=True)
    if not prompt.strip():
        raise UserError("the prompt is empty")
    ws = Path(workspace) if workspace else Path.cwd()
    if not ws.is_dir():
        raise UserError(f"workspace {ws}: not a directory")
    ws = ws.resolve()
    code = _run(
        ws,
        argv,
        prompt=prompt,
        headless=headless,
        network=network,
        allow_domains=allow_domains,
        agent_domains=agent_domains,
        agent_env_names=agent_env_names,
        agent_reads=tuple(Path(p).expanduser() for p in agent_reads),
        unjailed=agent_unjailed,
        audit=Path(audit) if audit else None,
        monitor_model=monitor_model,
        monitor_base_url=monitor_base_url,
    )
    sys.exit(code)


@dataclass
class AcpRun:
    """One `lockgate acp` session, opened: what the console (or the headless runner) needs, and
    everything to close after it. Tests build it the same way the command does."""

    session: Session
    view: AcpSessionView
    link: AcpLink
    cleanup: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.link.terminate()  # its process group never outlives the console
        for fn in reversed(self.cleanup):
            with contextlib.suppress(Exception):
                fn()
        self.cleanup.clear()


def open_acp(
    ws: Path,
    argv: list[str],
    *,
    prompt: str,
    headless: bool = False,
    network: Literal["off", "allow"] = "off",
    allow_domains: tuple[str, ...] = (),
    agent_domains: tuple[str, ...] = (),
    agent_env_names: tuple[str, ...] = (),
    agent_reads: tuple[Path, ...] = (),
    unjailed: bool = False,
    audit: Path | None = None,
    monitor_model: str | None = None,
    monitor_base_url: str | None = None,
) -> AcpRun:
    """Open the session, build the jail (or refuse in one line, as a UserError) and the link."""
    from app.agent.acp.executors import AcpCommands, AcpPatches, AcpPolicy, VerdictRecorder
    from app.agent.acp.items import AcpItems
    from app.agent.acp.link import AcpLink, Overlay
    from app.agent.acp.process import LocalProcess
    from app.core.config import ConfigError, data_dir, load_user_config
    from app.session import SessionError, SessionOptions, open_session

    rules = agent_rules(agent_domains) if agent_domains else None
    items = AcpItems()
    cleanup: list[Callable[[], object]] = []
    try:
        try:
            session = open_session(
                SessionOptions(
                    workspace=ws,
                    headless=headless,
                    network=network,
                    allowed_domains=allow_domains,
                    audit_path=audit,
                    wrap_executors=lambda c, p: (AcpCommands(c, items), AcpPatches(p, items)),
                    wrap_policy=lambda pol: AcpPolicy(pol, items, headless=headless),
                    observers=(VerdictRecorder(items),),
                    monitor_model=monitor_model,
                    monitor_base_url=monitor_base_url,
                    task=prompt,
                )
            )
        except SessionError as exc:
            raise UserError(str(exc)) from None
        cleanup.append(session.close)
        overlay: Overlay | None = None
        if unjailed:
            env = dict(os.environ)

            async def spawn() -> Any:
                return await LocalProcess.start(argv, cwd=ws, env=env)
        else:
            try:
                user_config = load_user_config()
            except ConfigError as exc:
                raise UserError(str(exc)) from None
            jail, spawn = _jail(
                ws,
                argv,
                user_config=user_config,
                state_root=data_dir() / "acp",
                rules=rules,
                env_names=agent_env_names,
                reads=agent_reads,
                audit=session.audit,
                cleanup=cleanup,
            )
            items.merged_root = jail.merged()
            overlay = Overlay(upper=jail.upper, merged=jail.merged())
        link = AcpLink(
            prompt,
            spawn=spawn,
            workspace=ws,
            items=items,
            overlay=overlay,
            headless=headless,
            secrets=tuple(os.environ.get(n, "") for n in agent_env_names),
            label=Path(argv[0]).name,
        )
        view = AcpSessionView(
            session,
            jailed=not unjailed,
            agent_network=("to " + ", ".join(agent_domains)) if agent_domains else "off",
        )
    except BaseException:
        for fn in reversed(cleanup):
            with contextlib.suppress(Exception):
                fn()
        raise
    return AcpRun(session, view, link, cleanup)


def _run(ws: Path, argv: list[str], *, headless: bool, unjailed: bool, **kw: Any) -> int:
    run = open_acp(ws, argv, headless=headless, unjailed=unjailed, **kw)
    try:
        if headless:
            import asyncio  # (here, not at the top: `lockgate acp --help` stays quick)

            return asyncio.run(_headless(run.session, run.link, unjailed=unjailed))
        from app.ui import run_console

        run_console(run.view, run.link)
        return EXIT_OK if run.link.stop_reason == "end_turn" else EXIT_NOT_END_TURN
    finally:
        run.close()


def _private_views() -> list[Path]:
    views = [Path("/tmp"), Path("/var/tmp"), Path("/run"), Path("/dev/shm")]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        views.append(Path(os.path.realpath(runtime)))
    return [Path(os.path.realpath(v)) for v in views]


def command_paths(argv: list[str], real_home: Path, ws: Path) -> tuple[Path, ...]:
    """What the agent's own command line names under a private view (/tmp, /run …, which the
    jail replaces with empty ones) stays readable there: the whole folder it was installed in,
    taken as the view's first-level folder holding the path (a checkout, a node_modules tree,
    a script's folder), for the path as given and where its symlinks lead. Nothing in the home,
    which is hidden (name what the agent needs there with --agent-read), nor the workspace;
    elsewhere the sandbox's own read rules decide."""
    views = _private_views()
    found: list[Path] = []
    for arg in argv:
        if not arg or arg.startswith("-") or "=" in arg:
            continue
        given = Path(arg).expanduser()
        if not given.is_absolute():
            given = Path.cwd() / given
        try:
            if not given.exists():
                continue
            candidates = [Path(os.path.normpath(given)), Path(os.path.realpath(given))]
        except OSError:
            continue
        for path in candidates:
            for view in views:
                if not path.is_relative_to(view) or path == view:
                    continue
                top = view / path.relative_to(view).parts[0]
                if not top.is_dir() or top.is_symlink():
                    continue
                if top.is_relative_to(real_home) or real_home.is_relative_to(top):
                    continue
                if ws.is_relative_to(top) or top.is_relative_to(ws):
                    continue
                if top not in found:
                    found.append(top)
    return tuple(found)


def _jail(
    ws: Path,
    argv: list[str],
    *,
    user_config: Any,
    state_root: Path,
    rules: Any,
    env_names: tuple[str, ...],
    reads: tuple[Path, ...],
    audit: Any,
    cleanup: list[Any],
) -> tuple[Any, Any]:
    """Build the jail (or refuse in one line) and return it and the agent's spawner."""
    import dataclasses

    from app.agent.acp.jailed import agent_home, spawn_jailed
    from app.core.config import ConfigError
    from app.execute.network import AuditRecorder
    from app.execute.sandbox_config import sandbox_policy
    from sandbox import SandboxError
    from sandbox.linux.jail import Jail
    from sandbox.net import AllowListProxy, RunContext

    if not sys.platform.startswith("linux"):
        raise UserError("the agent jail needs Linux (overlayfs in a user namespace); "
                        "--agent-unjailed runs it outside")  # fmt: skip
    real_home = Path(os.path.expanduser("~")).resolve()
    try:
        home, readable = agent_home(reads, real_home)
    except (SandboxError, OSError) as exc:
        raise UserError(str(exc)) from None
    cleanup.append(lambda: shutil.rmtree(home, ignore_errors=True))
    try:
        policy = sandbox_policy(
            user_config.section("sandbox"),
            workspace=ws,
            network="proxy" if rules is not None else "off",
            allow_degraded=False,
        )
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    # In the jail the overlay review is the gate for every file the agent writes (the patch
    # engine asks about agent config dirs like .codex and .claude); the sandbox's read-only binds
    # over those names would only stop the agent writing its own state in its private home.
    # Git's hooks and config, and lockgate's own files, stay read-only even in the overlay.
    keep = tuple(p for p in policy.protected if p.startswith((".git/", ".lockgate")))
    policy = dataclasses.replace(
        policy,
        writable=(*policy.writable, home),
        protected=keep,
        readable=(*policy.readable, *readable, *command_paths(argv, real_home, ws)),
    )
    state_root.mkdir(parents=True, exist_ok=True)
    state = state_root / f"jail-{os.urandom(6).hex()}"
    state.mkdir(mode=0o700)
    cleanup.append(lambda: shutil.rmtree(state, ignore_errors=True))
    try:
        jail = Jail(policy, state)
        jail.start()
    except SandboxError as exc:
        raise UserError(f"cannot jail the agent: {exc}") from None
    cleanup.append(jail.close)
    env = agent_env(env_names, policy.env_allow, home=home, proxy=rules is not None)
    import tempfile

    sock_dir = Path(tempfile.mkdtemp(prefix="lockgate-agent-net-"))
    os.chmod(sock_dir, 0o700)
    cleanup.append(lambda: shutil.rmtree(sock_dir, ignore_errors=True))

    async def spawn() -> Any:
        proxy_socket = None
        if rules is not None:
            proxy = AllowListProxy(rules, asker=None, record=AuditRecorder(audit))
            path = sock_dir / "agent.sock"
            await proxy.listen(path, RunContext(command=" ".join(argv), program=Path(argv[0]).name))
            proxy_socket = path
        return await spawn_jailed(jail, argv, env=env, proxy_socket=proxy_socket)

    return jail, spawn


async def _headless(session: Session, link: AcpLink, *, unjailed: bool) -> int:
    from app.cli.run_cmd import run_headless

    def say(text: str) -> None:
        print(f"lockgate: {text}", file=sys.stderr, flush=True)

    async with session:
        if unjailed:
            say(UNJAILED_BANNER)
        say(f"workspace {session.workspace}; audit log {session.audit_path}")
        code = await run_headless(session.pipeline, link, out=sys.stdout)
    for line in link.summary:
        if line:
            say(line)
    for problem in link.problems:
        say(f"agent: {problem}")
    say(f"the agent's turn ended: {link.stop_reason or 'never (see above)'}")
    if code == EXIT_CANCELLED:
        return EXIT_CANCELLED
    return EXIT_OK if link.stop_reason == "end_turn" else EXIT_NOT_END_TURN
