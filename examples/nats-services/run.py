"""Run EventHive as the original's five services behind one front, with one command.

``python run.py`` prepares, then hands over to ``honcho start``:

1. creates the five PostgreSQL databases if they are missing (``<DB_PREFIX><role>``);
2. generates the EdDSA key pair once into the data folder (auth signs, the others verify);
3. writes the front's nginx configuration (``front.py``) and honcho's ``.env`` there;
4. runs the ``Procfile`` beside this script: the five ``eventhive service`` processes, which
   migrate their own databases at start, and nginx in the foreground.

``python run.py reset`` drops the example's databases, its NATS stream and its data folder
(stop it first). Everything is set by environment variables; see README.md beside this script.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from front import DEFAULT_CLIENT_PORT, DEFAULT_FRONT_PORT, DEFAULT_INTERNAL_PORT, ports_from, render

HERE = Path(__file__).resolve().parent
ROLES = ("auth", "tickets", "orders", "payments", "expiration")
DEFAULTS = {
    "PG_SERVER_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "EVENTHIVE_NATS_URL": "nats://127.0.0.1:4222",
    # Not EventHive's own default ("eventhive"): reset deletes this stream, so it must be the example's alone.
    "EVENTHIVE_NATS_PREFIX": "eventhive_split",
    "DB_PREFIX": "eventhive_split_",
    "DATA_DIR": str(HERE / "data"),
}
# Each service gets its own of these from the Procfile; one inherited from the caller's shell
# would give every service the same database, or a private key to services that must not hold one.
PER_SERVICE = ("EVENTHIVE_DATABASE_URL", "EVENTHIVE_JWT_PRIVATE_KEY", "EVENTHIVE_JWT_PUBLIC_KEY", "EVENTHIVE_ROLE")
# The front's alone: a service warns of an EVENTHIVE_* variable it does not know.
FRONT_ONLY = ("EVENTHIVE_CLIENT_PORT",)


class Settings:
    """The example's settings, read from the environment with the defaults above."""

    def __init__(self, env: Mapping[str, str]) -> None:
        """Read the settings from ``env``."""
        value = {key: env.get(key) or default for key, default in DEFAULTS.items()}
        self.pg_server_url = value["PG_SERVER_URL"]
        self.nats_url = value["EVENTHIVE_NATS_URL"]
        self.nats_prefix = value["EVENTHIVE_NATS_PREFIX"]
        self.db_prefix = value["DB_PREFIX"]
        self.data_dir = Path(value["DATA_DIR"]).resolve()
        self.front_port = int(env.get("FRONT_PORT") or DEFAULT_FRONT_PORT)
        self.client_port = int(env.get("EVENTHIVE_CLIENT_PORT") or DEFAULT_CLIENT_PORT)
        self.internal_port = int(env.get("FRONT_INTERNAL_PORT") or DEFAULT_INTERNAL_PORT)
        self.ports = ports_from({k: v for k, v in env.items() if v})
        self.nginx = env.get("NGINX_BIN") or shutil.which("nginx") or "/usr/sbin/nginx"

    def database(self, role: str) -> str:
        """The name of ``role``'s database."""
        return f"{self.db_prefix}{role}"

    def database_url(self, role: str) -> str:
        """The URL of ``role``'s database: the server's URL with the database's name."""
        from sqlalchemy.engine import make_url

        return make_url(self.pg_server_url).set(database=self.database(role)).render_as_string(hide_password=False)


def _admin(settings: Settings):  # type: ignore[no-untyped-def]
    """A connection to the server's maintenance database, outside any transaction (CREATE DATABASE needs that)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(settings.pg_server_url)
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
        connect_timeout=5,
    )


def create_databases(settings: Settings) -> None:
    """Create each service's database unless it exists (the services migrate them at start)."""
    from psycopg import sql

    with _admin(settings) as conn:
        for role in ROLES:
            name = settings.database(role)
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created database {name}")


def drop_databases(settings: Settings) -> None:
    """Drop each service's database; FORCE closes what a killed service left connected."""
    from psycopg import sql

    with _admin(settings) as conn:
        for role in ROLES:
            name = settings.database(role)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            print(f"dropped database {name}")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner alone, from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)


def ensure_keys(settings: Settings) -> None:
    """Generate the EdDSA key pair once: auth signs with ``auth.pem``, the others verify with ``public.pem``."""
    from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair

    keys = settings.data_dir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    if (keys / "auth.pem").exists() and (keys / "public.pem").exists():
        return
    private, public = generate_ed25519_keypair()
    write_private(keys / "auth.pem", private)
    write_private(keys / "public.pem", public)
    print(f"generated the key pair in {keys}")


def dotenv(settings: Settings) -> str:
    """honcho's ``.env``: what every process of the Procfile reads."""
    values = {
        "DATA_DIR": str(settings.data_dir),
        "NGINX_BIN": settings.nginx,
        "EVENTHIVE_EVENT_BUS": "nats",
        "EVENTHIVE_NATS_URL": settings.nats_url,
        "EVENTHIVE_NATS_PREFIX": settings.nats_prefix,
        # The services believe the X-Forwarded-* headers of exactly one proxy: the front.
        "EVENTHIVE_PROXY_HOPS": "1",
    }
    for role in ROLES:
        values[f"PORT_{role.upper()}"] = str(settings.ports[role])
        values[f"DATABASE_URL_{role.upper()}"] = settings.database_url(role)
    # The client renders the pages by calling the API through the front's listener for it, which
    # passes on the browser's address the client forwards.
    values["PORT_CLIENT"] = str(settings.client_port)
    values["API_URL"] = f"http://127.0.0.1:{settings.internal_port}"
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def prepare(settings: Settings) -> None:
    """Create the databases, the key pair, the front's configuration and honcho's ``.env``."""
    create_databases(settings)
    ensure_keys(settings)
    front = settings.data_dir / "front"
    front.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "nginx.conf").write_text(
        render(front, settings.ports, settings.front_port, settings.client_port, settings.internal_port)
    )
    write_private(settings.data_dir / ".env", dotenv(settings))  # it names the databases, passwords included


async def _delete_stream(url: str, stream: str) -> bool:
    import nats
    import nats.js.errors

    nc = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        await nc.jetstream().delete_stream(stream)
        return True
    except nats.js.errors.NotFoundError:
        return False
    finally:
        await nc.close()


def reset(settings: Settings) -> None:
    """Drop the databases, delete the NATS stream and remove the data folder."""
    from eventhive_core.adapters.nats.subjects import stream_name

    drop_databases(settings)
    stream = stream_name(settings.nats_prefix)
    deleted = asyncio.run(_delete_stream(settings.nats_url, stream))
    print(f"deleted NATS stream {stream}" if deleted else f"no NATS stream {stream}")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    print(f"removed {settings.data_dir}")


def start(settings: Settings) -> None:
    """Prepare, then replace this process with ``honcho start`` (so Ctrl-C reaches honcho directly)."""
    prepare(settings)
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in PER_SERVICE + FRONT_ONLY}
    # The eventhive command of this Python, even when its virtualenv is not activated.
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    honcho = shutil.which("honcho", path=bin_dir) or shutil.which("honcho") or "honcho"
    front = f"http://127.0.0.1:{settings.front_port}/"
    print(f"starting the five services, the client and the front; open {front} (Ctrl-C stops everything)", flush=True)
    procfile, dotenv_file = str(HERE / "Procfile"), str(settings.data_dir / ".env")
    command = [honcho, "start", "-f", procfile, "-e", dotenv_file, "-d", str(settings.data_dir)]
    os.execvpe(honcho, command, env)  # noqa: S606 (a fixed command, no shell involved)


def main(argv: list[str]) -> int:
    """``run.py`` starts the example; ``run.py reset`` removes what it made."""
    settings = Settings(os.environ)
    if argv == ["reset"]:
        reset(settings)
        return 0
    if argv:
        print("usage: python run.py [reset]", file=sys.stderr)
        return 2
    start(settings)
    return 0  # not reached: honcho took over the process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
