"""Generated development keys, kept in var/secrets.env so encrypted data stays readable across restarts."""

import base64
import os
import secrets
from pathlib import Path

KEYS = ("GONGZHI_SECRET_KEY", "GONGZHI_DATA_KEYS", "GONGZHI_HASH_KEY", "GONGZHI_AUDIT_KEY")


def _generate(name: str) -> str:
    if name == "GONGZHI_DATA_KEYS":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()  # a Fernet key
    return secrets.token_urlsafe(48)


def load_local_secrets(var_dir: Path) -> None:
    """Fill missing key variables from var/secrets.env, creating it (mode 600) on first use."""
    path = Path(var_dir) / "secrets.env"
    stored = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                stored[key] = value
    missing = [k for k in KEYS if k not in stored]
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        stored.update({k: _generate(k) for k in missing})
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{k}={v}\n" for k, v in stored.items()))
        tmp.chmod(0o600)
        tmp.replace(path)
    for key, value in stored.items():
        os.environ.setdefault(key, value)
