"""A tiny, deterministic OCI image layout built without network (one text file, one layer)."""

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    path = Path(layout) / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"sha256:{digest}", len(data)


def _layer(text):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, compresslevel=9, mtime=0)


def build_image(layout, tag="latest", text="hello from pulp_katello_gateway\n", labels=None):
    """Write an OCI layout at ``layout`` with one image tagged ``tag``; returns its digest.

    The same ``text`` and ``labels`` always yield the same manifest digest, so tests can compare
    digests. ``labels`` become the image config's labels (e.g. ``org.flatpak.ref``).
    """
    layout = Path(layout)
    layout.mkdir(parents=True, exist_ok=True)
    tar_bytes, gz = _layer(text)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    layer_digest, layer_size = _blob(layout, gz)
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/hello.txt"], **({"Labels": labels} if labels else {})},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "devtools.oci"}],
    }
    config_digest, config_size = _blob(layout, json.dumps(config, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = _blob(
        layout, json.dumps(manifest, separators=(",", ":")).encode()
    )
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {
        "schemaVersion": 2,
        "manifests": [],
    }
    index["manifests"] = [
        m for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
    ] + [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    ]
    index_path.write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return manifest_digest
