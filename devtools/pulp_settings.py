"""Writes the ``PULP_SETTINGS`` file of a local stack (state dir, keys, database, token auth)."""

import secrets
from pathlib import Path

from devtools.pki import write_fernet_key, write_token_keys


def write_settings(state_dir, database, *, api_origin, content_origin, extra=None):
    """Create keys under ``state_dir`` and write ``state_dir/settings.py``; returns its path.

    ``api_origin`` is where pulpcore-api listens (it is also the token realm),
    ``content_origin`` where pulpcore-content listens. ``extra`` adds or overrides settings.
    """
    state = Path(state_dir).resolve()
    secrets_dir = state / "secrets"
    private, public = write_token_keys(secrets_dir)
    fernet = write_fernet_key(secrets_dir / "database_fields.symmetric.key")
    secret_key_file = secrets_dir / "django_secret_key"
    if not secret_key_file.exists():
        secret_key_file.write_text(secrets.token_urlsafe(50))
    var = state / "var"
    for sub in ("media", "assets", "tmp"):
        (var / sub).mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secret_key_file.read_text().strip(),
        "DATABASES": {"default": database.django()},
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
        "CONTENT_ORIGIN": content_origin,
        "DEPLOY_ROOT": str(var),
        "MEDIA_ROOT": str(var / "media"),
        "STATIC_ROOT": str(var / "assets"),
        "WORKING_DIRECTORY": str(var / "tmp"),
        "FILE_UPLOAD_TEMP_DIR": str(var / "tmp"),
        "STORAGES": {
            "default": {
                "BACKEND": "pulpcore.app.models.storage.FileSystem",
                "OPTIONS": {"location": str(var / "media")},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        "DB_ENCRYPTION_KEY": str(fernet),
        "ANALYTICS": False,
        "TOKEN_AUTH_DISABLED": False,
        "TOKEN_SERVER": f"{api_origin}/token/",
        "TOKEN_SIGNATURE_ALGORITHM": "ES256",
        "PUBLIC_KEY_PATH": str(public),
        "PRIVATE_KEY_PATH": str(private),
        "FLATPAK_INDEX": True,
    }
    values.update(extra or {})
    path = state / "settings.py"
    path.write_text("".join(f"{key} = {value!r}\n" for key, value in values.items()))
    return path
