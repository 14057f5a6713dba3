"""A real MediaWiki for the demo and the tests: Debian's package, SQLite, PHP's built-in server.

``install(dir)`` sets up a wiki in ``dir`` once (accounts, bot password, our templates) and
records it in ``dir/sandbox.json``; ``WikiServer`` serves it on a loopback port.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import requests

from core.errors import ConstellateError

MEDIAWIKI_DIR = Path("/usr/share/mediawiki")
PACKAGES = ["mediawiki", "php-cli", "php-sqlite3", "php-intl", "php-mbstring", "php-xml"]
PHP_MODULES = ["sqlite3", "intl", "mbstring", "xml"]
# The server starter sets this so LocalSettings.php can name the URL it is served on.
SERVER_VAR = "MW_SANDBOX_SERVER"
# ... and this to the service's recent-changes feed listener (udp:// or redis://).
FEED_VAR = "MW_SANDBOX_RCFEED"
STATE_FILE = "sandbox.json"
TEMPLATES_DIR = Path(__file__).with_name("wiki_templates")
BOT_APP_ID = "constellate"
# A bot password only carries the rights of its grants: no protection bypass on purpose.
BOT_GRANTS = "basic,highvolume,editpage,createeditmovepage"
# The human is in this group so it is not a newbie (newbies share the per-IP limit).
TRUSTED_GROUP = "trusted"
NEWBIE_EDITS_PER_MINUTE = 1
START_WAIT_SECONDS = 30.0
_apt_updated = threading.Event()

SETTINGS = """
# ---- Constellate sandbox (appended by sandbox/wiki.py) ----
# The server starter names the URL, so this folder can be served on any port.
$wgServer = getenv('{server_var}') ?: 'http://127.0.0.1';
# Relative to this file, so the folder can be moved.
$wgSQLiteDataDir = __DIR__ . '/data';
# Sessions and rate limits must be shared by the server's worker processes.
$wgMainCacheType = CACHE_DB;
$wgSessionCacheType = CACHE_DB;
$wgParserCacheType = CACHE_NONE;
$wgMessageCacheType = CACHE_NONE;
$wgEnableUploads = false;
$wgEnableEmail = false;
$wgShowExceptionDetails = true;
# Nobody becomes autoconfirmed by editing, so a fresh plain account is a newbie.
$wgAutoConfirmCount = 1000000;
$wgAutoConfirmAge = 0;
$wgGroupPermissions['{trusted}']['autoconfirmed'] = true;
$wgRateLimits['edit']['newbie'] = [ {newbie_edits}, 60 ];
$wgGroupPermissions['bot']['noratelimit'] = true;
"""

# Appended on its own, so a wiki installed before it existed gets it at the next start.
FEED_MARKER = "# ---- Constellate recent-changes feed ----"
FEED_SETTINGS = """
{marker}
# Each change is pushed as JSON to the service's listener when the server starter names
# one: MediaWiki's own formatter and engines, no extension.
$constellateFeed = getenv('{feed_var}');
if ( $constellateFeed ) {{
	$wgRCFeeds['constellate'] = [
		'formatter' => 'JSONRCFeedFormatter',
		'class' => str_starts_with( $constellateFeed, 'redis:' )
			? 'RedisPubSubFeedEngine' : 'UDPRCFeedEngine',
		'uri' => $constellateFeed,
	];
}}
"""


class SandboxError(ConstellateError):
    """The sandbox wiki could not be installed or started; the message says why."""


@dataclass(frozen=True)
class WikiSandbox:
    """An installed sandbox wiki and the accounts it was made with."""

    dir: Path
    admin_username: str
    admin_password: str
    bot_account: str
    bot_username: str  # the bot-password login name, "<account>@<app id>"
    bot_password: str
    human_username: str
    human_password: str
    newbie_username: str
    newbie_password: str

    @property
    def settings_file(self) -> Path:
        return self.dir / "LocalSettings.php"

    def wiki_config(self, url: str) -> dict[str, Any]:
        """The ``[wiki]`` configuration section for the bot, for a wiki served at ``url``."""
        return {
            "url": url.rstrip("/"),
            "script_path": "/",
            "username": self.bot_username,
            "password": self.bot_password,
            "timeout": 30,
            "maxlag": 5,
            "max_retries": 5,
            "retry_wait": 5,
            "user_agent": "Constellate/0.1 (sandbox)",
        }

    def run_maintenance(self, script: str, *args: str, stdin: str | None = None) -> str:
        """Run a MediaWiki maintenance script against this wiki; returns its output."""
        return run_maintenance(self.settings_file, script, *args, stdin=stdin)


def ensure_packages() -> None:
    """Install Debian's MediaWiki and PHP modules if any is missing (needs root)."""
    if _packages_present():
        return
    if os.geteuid() != 0:
        raise SandboxError(
            "the sandbox wiki needs Debian packages that are missing; as root run: "
            "apt-get install -y --no-install-recommends " + " ".join(PACKAGES)
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated.is_set():  # once per process
        _run(["apt-get", "update"], env=env)
        _apt_updated.set()
    _run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], env=env)
    if not _packages_present():
        raise SandboxError("MediaWiki or a PHP module is still missing after apt-get install")


def _packages_present() -> bool:
    if not (MEDIAWIKI_DIR / "maintenance" / "install.php").is_file() or not shutil.which("php"):
        return False
    modules = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False)
    loaded = {line.strip().lower() for line in modules.stdout.splitlines()}
    return all(module in loaded for module in PHP_MODULES)


def installed(directory: Path) -> WikiSandbox:
    """The wiki set up in ``directory``; SandboxError when there is none."""
    directory = Path(directory).resolve()
    state = directory / STATE_FILE
    if not state.is_file():
        raise SandboxError(
            f"no sandbox wiki in {directory}: set one up with "
            f"`constellate sandbox wiki --dir {directory}`"
        )
    sandbox = WikiSandbox(dir=directory, **json.loads(state.read_text()))
    _add_feed_settings(sandbox)
    return sandbox


def install(directory: Path) -> WikiSandbox:
    """Set up a wiki in ``directory``, or return the one already set up there."""
    directory = Path(directory).resolve()
    if (directory / STATE_FILE).is_file():
        return installed(directory)
    # Anything here without the state file is a half-finished earlier attempt.
    (directory / "LocalSettings.php").unlink(missing_ok=True)
    shutil.rmtree(directory / "data", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    sandbox = WikiSandbox(
        dir=directory,
        admin_username="Admin",
        admin_password=_password(),
        bot_account="ConstellateBot",
        bot_username=f"ConstellateBot@{BOT_APP_ID}",
        # Bot passwords must be exactly 32 characters.
        bot_password=secrets.token_hex(16),
        human_username="HumanEditor",
        human_password=_password(),
        newbie_username="NewbieEditor",
        newbie_password=_password(),
    )
    _run_installer(sandbox)
    _create_accounts(sandbox)
    for name in ("Constellation", "Practice", "Partner"):
        text = (TEMPLATES_DIR / f"{name}.wikitext").read_text()
        summary = f"Install the {name} template"
        sandbox.run_maintenance(
            "edit.php",
            "--user",
            sandbox.admin_username,
            "--summary",
            summary,
            f"Template:{name}",
            stdin=text,
        )
    _save(sandbox)
    return sandbox


def _password() -> str:
    # A leading letter: maintenance scripts would read a password starting with "-" as an option.
    return "p" + secrets.token_urlsafe(18)


def _run_installer(sandbox: WikiSandbox) -> None:
    options = {
        "--dbtype": "sqlite",
        "--dbpath": str(sandbox.dir / "data"),
        "--dbname": "constellate",
        "--confpath": str(sandbox.dir),
        "--server": "http://127.0.0.1",  # replaced at serve time, see SETTINGS
        "--scriptpath": "",
        "--skins": "Vector",
        "--pass": sandbox.admin_password,
    }
    flags = [part for option in options.items() for part in option]
    names = ["Constellate Sandbox", sandbox.admin_username]
    _run(["php", "maintenance/install.php", *flags, *names], cwd=MEDIAWIKI_DIR)
    settings = SETTINGS.format(
        server_var=SERVER_VAR, trusted=TRUSTED_GROUP, newbie_edits=NEWBIE_EDITS_PER_MINUTE
    )
    with sandbox.settings_file.open("a") as file:
        file.write(settings)
    _add_feed_settings(sandbox)


def _add_feed_settings(sandbox: WikiSandbox) -> None:
    if FEED_MARKER in sandbox.settings_file.read_text():
        return
    with sandbox.settings_file.open("a") as file:
        file.write(FEED_SETTINGS.format(marker=FEED_MARKER, feed_var=FEED_VAR))


def _create_accounts(sandbox: WikiSandbox) -> None:
    sandbox.run_maintenance("createAndPromote.php", "--bot", sandbox.bot_account, _password())
    sandbox.run_maintenance(
        "createBotPassword.php",
        "--appid",
        BOT_APP_ID,
        "--grants",
        BOT_GRANTS,
        sandbox.bot_account,
        sandbox.bot_password,
    )
    sandbox.run_maintenance(
        "createAndPromote.php",
        "--custom-groups",
        TRUSTED_GROUP,
        sandbox.human_username,
        sandbox.human_password,
    )
    sandbox.run_maintenance(
        "createAndPromote.php", sandbox.newbie_username, sandbox.newbie_password
    )


def _save(sandbox: WikiSandbox) -> None:
    record = {key: value for key, value in asdict(sandbox).items() if key != "dir"}
    state = sandbox.dir / STATE_FILE
    partial = state.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    partial.chmod(0o600)  # it holds passwords
    partial.replace(state)


def run_maintenance(settings_file: Path, script: str, *args: str, stdin: str | None = None) -> str:
    """Run ``maintenance/<script>`` with ``settings_file`` as the wiki's settings."""
    env = {**os.environ, "MW_CONFIG_FILE": str(settings_file)}
    return _run(["php", f"maintenance/{script}", *args], cwd=MEDIAWIKI_DIR, env=env, stdin=stdin)


def _run(
    command: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        shown = " ".join(command[:2])
        raise SandboxError(
            f"{shown} failed with exit code {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WikiServer:
    """PHP's built-in web server serving one sandbox wiki on 127.0.0.1.

    ``feed``: where the wiki pushes its recent changes (``udp://host:port`` or
    ``redis://host:port/channel``); None sends nothing. Several servers may serve one
    sandbox at once, each with its own feed.
    """

    def __init__(
        self, sandbox: WikiSandbox, port: int | None = None, *, feed: str | None = None
    ) -> None:
        self.sandbox = sandbox
        self.feed = feed
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = sandbox.dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    def start(self) -> WikiServer:
        if self.process is not None:
            return self
        env = {
            **os.environ,
            "MW_CONFIG_FILE": str(self.sandbox.settings_file),
            "PHP_CLI_SERVER_WORKERS": "4",
            SERVER_VAR: self.url,
            FEED_VAR: self.feed or "",
        }
        self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(MEDIAWIKI_DIR)],
                cwd=MEDIAWIKI_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: the workers it forks outlive a signal to it alone.
                start_new_session=True,
            )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_WAIT_SECONDS
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(
                    f"the wiki server exited with code {self.process.returncode}:\n"
                    + self._log_tail()
                )
            if not self._listening():
                time.sleep(0.05)
                continue
            try:
                answer = requests.get(
                    f"{self.url}/api.php",
                    params={"action": "query", "meta": "siteinfo", "format": "json"},
                    timeout=5,
                )
                if answer.ok and "general" in answer.json().get("query", {}):
                    return
                last = f"HTTP {answer.status_code}: {answer.text[:300]}"
            except (requests.RequestException, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise SandboxError(
            f"the wiki at {self.url} did not answer within {START_WAIT_SECONDS:.0f} s "
            f"({last}); server log:\n{self._log_tail()}"
        )

    def _listening(self) -> bool:
        # PHP says so once it has the port; asking earlier could reach whoever else has it.
        with self.log_file.open("rb") as log:
            log.seek(self._log_start)
            return f"(http://127.0.0.1:{self.port}) started".encode() in log.read()

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> WikiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the server and the workers it forked (they share its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def serve(directory: Path, port: int, *, feed: str | None = None) -> None:
    """Install if needed, serve the wiki on ``port`` (0: any free one) until SIGINT/SIGTERM,
    pushing its recent changes to ``feed`` when one is given."""
    ensure_packages()
    sandbox = install(directory)
    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with WikiServer(sandbox, port=port or None, feed=feed) as server:
            print(f"wiki:     {server.url}/", flush=True)
            if feed:
                print(f"feed:     {feed}", flush=True)
            print(f"api:      {server.url}/api.php", flush=True)
            print(f"bot:      {sandbox.bot_username}  password: {sandbox.bot_password}", flush=True)
            print(f"admin:    {sandbox.admin_username}  (password in {STATE_FILE})", flush=True)
            print("Serving the sandbox wiki; press Ctrl-C to stop.", flush=True)
            while not stopping.wait(0.5):
                if not server.running:
                    raise SandboxError("the wiki server stopped on its own; see server.log")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
