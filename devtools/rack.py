"""Form encoding exactly as Katello sends it: RestClient's ``encode_query_string``.

Katello's ``ProxyAPI::Resource#put(Hash)`` hands a Ruby Hash to RestClient, which flattens it with
``RestClient::Utils.flatten_params`` into Rack bracket syntax and escapes every key component and
value with ``URI.encode_www_form_component``. Reproducing that byte for byte lets tests feed the
gateway's push API what a real capsule sync sends, including the odd cases: an empty list or hash
becomes a bare key without ``=``, booleans become ``true``/``false``, and ``None`` (Ruby ``nil``)
is a bare key too.
"""

_UNRESERVED = frozenset(b"*-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def escape(text):
    """``URI.encode_www_form_component``: keeps ``*-._`` and alphanumerics, space becomes ``+``.

    Unlike ``urllib.parse.quote_plus`` it also escapes ``~`` (Ruby does).
    """
    out = []
    for byte in str(text).encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _scalar(value):
    """Ruby's ``to_s`` for the scalars Katello sends."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(obj, parent=None):
    """``RestClient::Utils.flatten_params(obj, true)``: a list of (escaped key, escaped value).

    The value is ``None`` where RestClient emits a bare key (empty container or ``nil``).
    """
    if not isinstance(obj, dict | list | tuple) or (parent is None and not isinstance(obj, dict)):
        raise TypeError(f"expected a dict (or a nested list), got {obj!r}")
    if not obj and parent is not None:
        return [(parent, None)]
    pairs = []
    items = obj.items() if isinstance(obj, dict) else ((None, item) for item in obj)
    for key, value in items:
        part = "" if key is None else escape(_scalar(key))
        name = f"{parent}[{part}]" if parent is not None else part
        if isinstance(value, dict | list | tuple):
            pairs.extend(flatten(value, name))
        else:
            pairs.append((name, None if value is None else escape(_scalar(value))))
    return pairs


def encode(payload):
    """The ``application/x-www-form-urlencoded`` body RestClient sends for the Hash ``payload``."""
    return "&".join(key if value is None else f"{key}={value}" for key, value in flatten(payload))
