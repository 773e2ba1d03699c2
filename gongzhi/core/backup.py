"""Backup and restore: the database (SQLite online backup or pg_dump) and uploaded media in one .tar.gz archive."""

import getpass
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from . import audit
from .models import AuditEvent

FORMAT = 1
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.dump"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


# --- PostgreSQL: the client tools of the server's major version ---------------------------------------------------

def pg_tool(name: str) -> str:
    """pg_dump/pg_restore of the server's major version (a newer dump cannot be restored by an older server and
    an older pg_dump refuses a newer server), looked up like scripts/pg: /usr/lib/postgresql/<major>/bin."""
    connection.ensure_connection()
    major = connection.pg_version // 10000
    folders = [os.environ["GONGZHI_PG_BIN"]] if os.environ.get("GONGZHI_PG_BIN") else []
    folders.append(f"/usr/lib/postgresql/{major}/bin")
    for folder in folders:
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        if f" {major}." in version or version.rstrip().endswith(f" {major}"):
            return found
    raise BackupError(f"no {name} for PostgreSQL {major}: install its client tools or set GONGZHI_PG_BIN")


def _pg_env() -> dict:
    s = connection.settings_dict
    env = {**os.environ, "PGDATABASE": s["NAME"], "PGUSER": s.get("USER") or "", "PGHOST": s.get("HOST") or "",
           "PGPORT": str(s.get("PORT") or "")}
    if s.get("PASSWORD"):
        env["PGPASSWORD"] = s["PASSWORD"]
    return {k: v for k, v in env.items() if v != ""}


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, env=_pg_env(), **kwargs)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]}")


# --- the database ---------------------------------------------------------------------------------------------------

def _dump_database(target: Path) -> None:
    if connection.vendor == "sqlite":
        # The online backup API copies a consistent snapshot while other connections keep writing.
        connection.ensure_connection()
        dest = sqlite3.connect(target)
        try:
            connection.connection.backup(dest)
        finally:
            dest.close()
    elif connection.vendor == "postgresql":
        _run([pg_tool("pg_dump"), "--format=custom", "--file", str(target)])
    else:
        raise BackupError(f"backups of {connection.vendor} databases are not supported")


def _load_database(source: Path) -> None:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        src = sqlite3.connect(source)
        try:
            src.backup(connection.connection)  # replaces every page of the live database
        finally:
            src.close()
    else:
        connection.close()  # pg_restore drops and recreates the tables; hold no locks on them
        _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", "--dbname", connection.settings_dict["NAME"], str(source)])


# --- media --------------------------------------------------------------------------------------------------------

def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _replace_media(extracted: Path | None) -> None:
    """Swap the media folder for the restored one (rename within the same parent, then drop the old)."""
    root = _media_root()
    root.parent.mkdir(parents=True, exist_ok=True)
    old = root.with_name(root.name + ".before-restore")
    if old.exists():
        shutil.rmtree(old)
    if root.exists():
        root.rename(old)
    if extracted is not None and extracted.exists():
        extracted.rename(root)
    else:
        root.mkdir()
    shutil.rmtree(old, ignore_errors=True)


# --- the two commands -----------------------------------------------------------------------------------------------

def default_output() -> Path:
    return Path(settings.VAR_DIR) / "backups" / f"gongzhi-{timezone.now():%Y%m%d-%H%M%S}.tar.gz"


def backup(output: Path | None = None) -> dict:
    """Write the archive; returns its manifest. The archive holds personal data: it is written mode 600."""
    output = Path(output or default_output())
    output.parent.mkdir(parents=True, exist_ok=True)
    if connection.vendor not in DB_FILES:
        raise BackupError(f"backups of {connection.vendor} databases are not supported")
    audit.record(AuditEvent.Action.BACKUP, username=_operator(), detail=f"backup to {output.name}")
    with tempfile.TemporaryDirectory(dir=output.parent) as tmp:
        db_file = Path(tmp) / DB_FILES[connection.vendor]
        _dump_database(db_file)
        media = [p for p in sorted(_media_root().rglob("*")) if p.is_file()] if _media_root().exists() else []
        manifest = {
            "format": FORMAT, "engine": connection.vendor, "created_at": timezone.now().isoformat(),
            "server_version": getattr(connection, "pg_version", None) or sqlite3.sqlite_version,
            "database": db_file.name, "database_sha256": _sha256(db_file), "media_files": len(media),
            "migrations": sorted(f"{a}.{n}" for a, n in MigrationRecorder(connection).applied_migrations()),
        }
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            info = tarfile.TarInfo("manifest.json")
            data = json.dumps(manifest, indent=1).encode()
            info.size, info.mtime = len(data), int(timezone.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
            tar.add(db_file, arcname=db_file.name)
            for path in media:
                tar.add(path, arcname=f"media/{path.relative_to(_media_root()).as_posix()}")
        partial.chmod(0o600)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        partial.replace(output)
    return {**manifest, "file": str(output)}


def read_manifest(archive: Path) -> dict:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{archive} is not a Gongzhi backup: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def restore(archive: Path) -> dict:
    """Replace the database and media with the archive's. Stop the web server and worker first."""
    archive = Path(archive)
    manifest = read_manifest(archive)
    if manifest["engine"] != connection.vendor:
        raise BackupError(f"this backup is of a {manifest['engine']} database; the configured database is "
                          f"{connection.vendor}")
    workdir = _media_root().parent
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")  # refuses absolute paths, "..", links outside
        db_file = Path(tmp) / manifest["database"]
        if _sha256(db_file) != manifest["database_sha256"]:
            raise BackupError("the database in the backup is damaged (checksum mismatch); nothing was restored")
        _load_database(db_file)
        _replace_media(Path(tmp) / "media")
    audit.record(AuditEvent.Action.RESTORE, username=_operator(),
                 detail=f"restored {archive.name} made {manifest['created_at']}")
    return manifest
