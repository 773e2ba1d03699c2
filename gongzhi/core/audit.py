"""The one audit trail: record() appends an entry chained by a keyed hash; verify() and archive() check and age it.

Each entry's hash is HMAC(GONGZHI_AUDIT_KEY, previous hash + canonical content), so editing, deleting or inserting
an entry breaks the chain for anyone without the key. Appends are serialised by locking the single AuditHead row
(select_for_update on PostgreSQL; SQLite serialises writers already), so concurrent writers never fork the chain.
"""

import contextvars
import gzip
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .models import AuditArchive, AuditEvent, AuditHead

GENESIS = "0" * 64
CHAINED_FIELDS = ("seq", "at", "user_id", "username", "action", "outcome", "object_type", "object_id", "detail",
                  "client_ip")
# Requests whose own records say enough (or that change nothing worth recording).
MIN_RETENTION_DAYS = 183  # 网络安全法 art. 21: network logs kept at least six months
UNRECORDED_VIEWS = {"accounts:login", "accounts:logout", "set_language", "core:toggle_large", "api:issue_token"}

_request = contextvars.ContextVar("gongzhi_audit_request", default=None)


def current_request():
    return _request.get()


def client_ip(request):
    """The client's address as the lockout sees it (X-Forwarded-For behind the configured number of proxies)."""
    if request is None:
        return None
    from axes.helpers import get_client_ip_address
    return get_client_ip_address(request) or request.META.get("REMOTE_ADDR")


# --- the chain ---------------------------------------------------------------------------------------------------

def _key() -> bytes:
    return settings.GONGZHI_AUDIT_KEY.encode()


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: dict) -> bytes:
    """The bytes an entry's hash covers: its chained fields as sorted, compact JSON."""
    content = {name: fields[name] for name in CHAINED_FIELDS}
    if isinstance(content["at"], datetime):
        content["at"] = _stamp(content["at"])
    content["client_ip"] = str(content["client_ip"]) if content["client_ip"] else None
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, fields: dict) -> str:
    return hmac.new(_key(), prev_hash.encode() + b"\n" + canonical(fields), hashlib.sha256).hexdigest()


def _archive_mac(a) -> str:
    text = f"{a.file}|{a.first_seq}|{a.last_seq}|{a.anchor_hash}|{a.last_hash}|{a.count}|{a.sha256}"
    return hmac.new(_key(), text.encode(), hashlib.sha256).hexdigest()


def _anchor() -> tuple[int, str]:
    """Where the live chain starts: after the newest archive, or at the genesis."""
    last = AuditArchive.objects.order_by("-last_seq").first()
    return (last.last_seq, last.last_hash) if last else (0, GENESIS)


def _locked_head() -> AuditHead:
    """The head row, locked for this transaction; (re)created from the table if missing (e.g. after a flush)."""
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        seq, hash_ = (last["seq"], last["hash"]) if last else _anchor()
        AuditHead.objects.get_or_create(pk=1, defaults={"seq": seq, "hash": hash_})
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


def _fit(name: str, value: str) -> str:
    return (value or "")[:AuditEvent._meta.get_field(name).max_length]


def record(action, *, request=None, user=None, obj=None, detail="", username="", outcome=AuditEvent.Outcome.SUCCESS,
           object_type="", object_id="") -> AuditEvent:
    """Append one entry. The request (given, or the one being served) supplies the user and client address."""
    request = request if request is not None else current_request()
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    fields = {
        "user_id": user.pk if user else None,
        "username": _fit("username", username or (user.get_username() if user else "")),
        "action": str(action), "outcome": str(outcome),
        "object_type": _fit("object_type", obj._meta.label_lower if obj is not None else object_type),
        "object_id": _fit("object_id", str(obj.pk) if obj is not None else str(object_id)),
        "detail": _fit("detail", detail),
        "client_ip": client_ip(request),
    }
    with transaction.atomic():
        head = _locked_head()
        fields.update(seq=head.seq + 1, at=timezone.now())  # taken under the lock: time order follows seq
        digest = entry_hash(head.hash, fields)
        event = AuditEvent.objects.create(prev_hash=head.hash, hash=digest, **fields)
        head.seq, head.hash = event.seq, digest
        head.save(update_fields=["seq", "hash"])
    if request is not None:
        request.__dict__.setdefault("_audit_actions", set()).add(str(action))
    return event


def denied(request, exc: PermissionDenied) -> None:
    """Record a permission denial once; services attach the rule and object they checked (registry.require)."""
    if getattr(exc, "audited", False):
        return
    exc.audited = True
    match = getattr(request, "resolver_match", None)
    detail = getattr(exc, "audit_detail", "") or (match.view_name if match else getattr(request, "path", ""))
    record(AuditEvent.Action.DENIED, request=request, obj=getattr(exc, "audit_obj", None), detail=detail,
           outcome=AuditEvent.Outcome.DENIED, object_type="" if match is None else "view",
           object_id="" if match is None else _view_object(match))


# --- verification ------------------------------------------------------------------------------------------------

@dataclass
class Report:
    checked: int
    last_seq: int
    last_hash: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def verify_entries(entries, anchor_seq: int, anchor_hash: str) -> Report:
    """Walk entries in seq order from an anchor; stop at the first broken link."""
    seq, prev, checked = anchor_seq, anchor_hash, 0
    for entry in entries:
        if entry["seq"] != seq + 1:
            kind = "missing" if entry["seq"] > seq + 1 else "duplicated or reordered"
            return Report(checked, seq, prev, f"entry #{seq + 1}: {kind} (next entry found is #{entry['seq']})")
        if entry["prev_hash"] != prev:
            return Report(checked, seq, prev, f"entry #{entry['seq']}: does not link to entry #{seq}")
        if not hmac.compare_digest(entry["hash"], entry_hash(prev, entry)):
            return Report(checked, seq, prev, f"entry #{entry['seq']}: content does not match its hash (edited)")
        seq, prev, checked = entry["seq"], entry["hash"], checked + 1
    return Report(checked, seq, prev)


def verify() -> Report:
    """Check the live chain from its anchor to the head."""
    for archive in AuditArchive.objects.all():
        if not hmac.compare_digest(archive.mac, _archive_mac(archive)):
            return Report(0, 0, GENESIS, f"archive record {archive.file}: altered")
    anchor_seq, anchor_hash = _anchor()
    entries = AuditEvent.objects.order_by("seq").values(*CHAINED_FIELDS, "prev_hash", "hash")
    report = verify_entries(entries.iterator(chunk_size=2000), anchor_seq, anchor_hash)
    if report.ok:
        head = AuditHead.objects.filter(pk=1).first()
        if head is not None and (head.seq, head.hash) != (report.last_seq, report.last_hash):
            report.problem = (f"entry #{report.last_seq + 1}: missing (the chain head is at #{head.seq}, "
                              f"the last entry is #{report.last_seq})")
    return report


# --- retention: archiving ----------------------------------------------------------------------------------------

def archive_dir() -> Path:
    return Path(settings.VAR_DIR) / "audit"


def _json_entry(entry: dict) -> dict:
    return {**entry, "at": _stamp(entry["at"]), "client_ip": str(entry["client_ip"]) if entry["client_ip"] else None}


def archive(now=None, retention_days=None) -> AuditArchive | None:
    """Move entries older than the retention into a gzip JSON-lines file; the live chain then starts at its end."""
    now = now or timezone.now()
    retention_days = settings.GONGZHI_AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"security events must stay at least {MIN_RETENTION_DAYS} days; retention is {retention_days}")
    cutoff = now - timedelta(days=retention_days)
    with transaction.atomic():
        _locked_head()  # no appends while the prefix moves out
        newer = AuditEvent.objects.filter(at__gte=cutoff).order_by("seq").values_list("seq", flat=True).first()
        old = AuditEvent.objects.order_by("seq")
        if newer is not None:
            old = old.filter(seq__lt=newer)
        rows = list(old.values(*CHAINED_FIELDS, "prev_hash", "hash"))
        if not rows:
            return None
        anchor_seq, anchor_hash = _anchor()
        report = verify_entries(rows, anchor_seq, anchor_hash)
        if not report.ok:
            raise ValueError(f"the audit chain is broken, nothing archived: {report.problem}")
        folder = archive_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"audit-{rows[0]['seq']:012d}-{rows[-1]['seq']:012d}.jsonl.gz"
        header = {"anchor_seq": anchor_seq, "anchor_hash": anchor_hash, "count": len(rows)}
        tmp = folder / (name + ".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as out:
            out.write(json.dumps(header) + "\n")
            for row in rows:
                out.write(json.dumps(_json_entry(row), ensure_ascii=False, sort_keys=True) + "\n")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(folder / name)
        archived = AuditArchive(file=name, first_seq=rows[0]["seq"], last_seq=rows[-1]["seq"], anchor_hash=anchor_hash,
                               last_hash=rows[-1]["hash"], count=len(rows),
                               sha256=hashlib.sha256((folder / name).read_bytes()).hexdigest())
        archived.mac = _archive_mac(archived)
        archived.save()
        AuditEvent.objects.filter(seq__lte=rows[-1]["seq"]).delete()
    record(AuditEvent.Action.ARCHIVE, object_type="core.auditarchive", object_id=str(archived.pk),
           detail=f"entries #{archived.first_seq}–#{archived.last_seq} moved to {name}")
    return archived


def read_archive(path: Path) -> tuple[dict, list[dict]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        return header, [json.loads(line) for line in fh if line.strip()]


def verify_archives() -> list[str]:
    """Each archive file: present, unchanged (sha256), its chain intact and joined to the previous archive."""
    problems, prev = [], (0, GENESIS)
    for a in AuditArchive.objects.order_by("last_seq"):
        path = archive_dir() / a.file
        if not hmac.compare_digest(a.mac, _archive_mac(a)):
            problems.append(f"{a.file}: archive record altered")
        elif not path.exists():
            problems.append(f"{a.file}: file missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != a.sha256:
            problems.append(f"{a.file}: file changed since it was archived")
        elif (a.first_seq - 1, a.anchor_hash) != prev:
            problems.append(f"{a.file}: does not continue the previous archive")
        else:
            header, rows = read_archive(path)
            report = verify_entries(rows, header["anchor_seq"], header["anchor_hash"])
            if not report.ok:
                problems.append(f"{a.file}: {report.problem}")
        prev = (a.last_seq, a.last_hash)
    return problems


# --- the request hook --------------------------------------------------------------------------------------------

def _view_object(match) -> str:
    kwargs = " ".join(f"{k}={v}" for k, v in sorted(match.kwargs.items()))
    return f"{match.view_name} {kwargs}".strip()


def is_staff(user) -> bool:
    from gongzhi.accounts.roles import Role
    return user.is_staff or user.is_superuser or bool(user.scope.roles() - {Role.RESIDENT})


class AuditMiddleware:
    """Binds the request for record(); records denials, downloads, and every successful change made by staff."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            response = self.get_response(request)
            self._after(request, response)
        finally:
            _request.reset(token)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            denied(request, exception)

    def _after(self, request, response):
        user, match = getattr(request, "user", None), getattr(request, "resolver_match", None)
        if user is None or not user.is_authenticated or match is None or match.view_name in UNRECORDED_VIEWS:
            return
        done = request.__dict__.get("_audit_actions", set())
        if response.status_code == 200 and "attachment" in response.get("Content-Disposition", "") \
                and AuditEvent.Action.EXPORT not in done:
            record(AuditEvent.Action.EXPORT, request=request, object_type="view", object_id=_view_object(match),
                   detail=request.get_full_path())
        elif request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400 and is_staff(user):
            record(AuditEvent.Action.CHANGE, request=request, object_type="view", object_id=_view_object(match),
                   detail=f"{request.method} {request.path} → {response.status_code}")
