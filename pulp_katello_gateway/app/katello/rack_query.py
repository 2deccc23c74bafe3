"""Decodes ``application/x-www-form-urlencoded`` bodies into nested data exactly as Rack does.

Katello sends its pushes through RestClient, which flattens nested hashes into Rack bracket keys
(``users[][admin][][repository]=…``); the Ruby gateway saw them through Rack's
``QueryParser#parse_nested_query``. This is a port of that algorithm (Rack 3: ``&`` separates
fields, a bare key without ``=`` means nil, ``a[][b]`` starts a new array element when ``b``
repeats in the last one), because Django's ``QueryDict`` keeps keys flat and stops at
``DATA_UPLOAD_MAX_NUMBER_FIELDS``. Pushes carry millions of fields, so each distinct key is split
once and remembered, and identical values share one string; a mapping push made only of
Katello's own fields is read by a shortcut that yields the same result.
"""

import math
import re
from itertools import compress, groupby, repeat
from operator import eq
from types import MappingProxyType
from urllib.parse import unquote_to_bytes

# Rack's default param_depth_limit.
DEPTH_LIMIT = 32

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_KEY_PARTS = re.compile(r"[\[\]]+")
_CHUNK = 1 << 20

# How one level of a key applies (Rack's branches in normalize_params).
_SKIP, _SET, _APPEND, _RETURN_LIST, _ARRAY_CHILD, _HASH_CHILD = range(6)


class FormDecodeError(ValueError):
    """The body is not a form Rack would accept (Rack answers these with 400)."""


class TooManyEntries(ValueError):
    """The body would build more hashes and arrays than allowed."""


def parse_nested_query(body, max_entries=None):
    """The nested dict Rack builds from form body ``body`` (bytes); raises FormDecodeError, or
    TooManyEntries past ``max_entries`` hashes and arrays (the outermost hash included)."""
    decoder = _Decoder(max_entries)
    mapping = _mapping(body, decoder)
    return decoder.decode(body) if mapping is None else mapping


# A mapping push as Katello sends it, field by field: ``<key>[][<principal>][][repository]=…``
# then ``…[auth_required]=…`` of the same principal, or a bare ``<key>[][<principal>]`` (no
# repositories). Groups: principal, the repository marker (empty for a bare principal),
# repository, auth_required.
_MAPPING_FIELDS = (
    rb"%(key)s\[\]\[([^&=\[\]]+)\](?:(\[\]\[repository\]=)([^&]*)"
    rb"&%(key)s\[\]\[\1\]\[\]\[auth_required\]=([^&]*))?(?:&|\Z)"
)
_GROUPS = 4
# At most this many spellings of auth_required in one chunk (Katello sends "true" and "false").
_FLAG_SPELLINGS = 4
_MAPPING_KEY = re.compile(rb"[a-z_]+")


def _mapping(body, decoder):
    """What Rack builds from a mapping push made only of Katello's own fields, or None for any
    other body (the general decoder then handles it, and raises what Rack refuses).

    Such a body is the largest Katello sends (a capsule sync's user mapping: millions of
    fields), and its result is known in advance: one hash of every principal, each with a list
    of ``{repository, auth_required}``. A regular expression splits the body a chunk at a time
    into the fields' values, which must cover it exactly, and each principal's entries are added
    at once. Every distinct value is unescaped once, and every distinct entry is built once and
    shared (read-only) by the principals listing it: a capsule sync's million entries name a
    hundred thousand repositories. Anything unusual (an escaped bracket, a principal named bare
    twice, an empty field) falls back.
    """
    key = body[: body.find(b"[")]
    if not _MAPPING_KEY.fullmatch(key):
        return None
    try:
        return _katello_mapping(body, key, decoder)
    except FormDecodeError:  # the general decoder says which error Rack meets first
        return None


def _katello_mapping(body, key, decoder):
    pattern = re.compile(_MAPPING_FIELDS % {b"key": key})
    # Hashes and arrays: the outermost hash, the list and its one hash, then one list per
    # principal and one hash per entry. Past the limit the general decoder raises.
    count, limit = 3, math.inf if decoder.entries_left is None else decoder.entries_left
    principals, shared = {}, {}  # shared: {raw flag: {raw repository: entry}}
    for chunk in _chunks(body, key):
        values = pattern.split(chunk)
        if any(values[::_GROUPS + 1]):  # text that no field covers
            return None
        names, markers, repositories, flags = (
            values[group :: _GROUPS + 1] for group in range(1, _GROUPS + 1))
        tables = {None: {}}  # a bare principal's fields have no entry
        spellings = set(flags).difference(tables)
        if len(spellings) > _FLAG_SPELLINGS:  # each spelling costs a pass over the chunk
            return None
        for flag in spellings:
            table = tables[flag] = shared.setdefault(flag, {})
            listed = set(compress(repositories, map(eq, repeat(flag), flags)))
            for repository in listed.difference(table):
                table[repository] = MappingProxyType({
                    "repository": decoder.unescape(repository),
                    "auth_required": decoder.unescape(flag),
                })
        chunk_entries = list(map(dict.get, map(tables.__getitem__, flags), repositories))
        end = 0
        for raw_principal, run in groupby(names):  # a principal's fields follow one another
            start, end = end, end + len(list(run))
            principal = decoder.unescape(raw_principal)
            if "[" in principal or "]" in principal:
                return None
            if markers[start:end].count(None):  # bare: first, once, and before any list
                if markers[start] is not None or principal in principals:
                    return None
                principals[principal] = None
                start += 1
                if markers[start:end].count(None):
                    return None
            if start < end:
                entries = principals.get(principal)
                if entries is None:
                    entries = principals[principal] = []
                    count += 1
                entries.extend(chunk_entries[start:end])
                count += end - start
                if count > limit:
                    return None
    if not principals:
        return None
    return {key.decode(): [principals]}


def _chunks(body, key):
    """``body`` in pieces of about ``_CHUNK`` bytes, each cut before a repository field (the
    ``&`` between them left out), so that no piece splits a field or a pair."""
    start, first_field = 0, b"&" + key + b"[]["
    while len(body) - start > _CHUNK:
        marker = body.find(b"][][repository]=", start + _CHUNK)
        cut = body.rfind(first_field, start, marker) if marker >= 0 else -1
        if cut <= start:
            break
        yield body[start:cut]
        start = cut + 1
    yield body[start:]


class _Decoder:
    def __init__(self, max_entries=None):
        self.steps = {}
        self.strings = {}
        self.entries_left = max_entries

    def decode(self, body):
        self.count_entry()
        params = {}
        for field in _fields(body):
            if not field:
                continue
            raw_name, equals, raw_value = field.partition(b"=")
            name = self.unescape(raw_name)
            value = self.unescape(raw_value) if equals else None
            self.normalize(params, name, value, 0)
        return params

    def unescape(self, raw):
        """``URI.decode_www_form_component``, strict about escapes and UTF-8, memoized."""
        try:
            return self.strings[raw]
        except KeyError:
            pass
        text = raw.replace(b"+", b" ")
        if b"%" in text:
            if _BAD_ESCAPE.search(text):
                raise FormDecodeError(f"Invalid %-encoding in {_shorten(raw)}.")
            text = unquote_to_bytes(text)
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            raise FormDecodeError(f"{_shorten(raw)} is not UTF-8 once decoded.") from None
        self.strings[raw] = decoded
        return decoded

    def normalize(self, params, name, value, depth):
        """Rack's ``normalize_params``: store ``value`` under key ``name`` inside ``params``."""
        if depth >= DEPTH_LIMIT:
            raise FormDecodeError(f"Key {_shorten(name)} is nested too deeply.")
        try:
            kind, key, child, child_path = self.steps[name, depth == 0]
        except KeyError:
            kind, key, child, child_path = self.steps[name, depth == 0] = _step(name, depth)
        if kind == _SET:
            params[key] = value
        elif kind == _APPEND:
            self.array(params, key).append(value)
        elif kind == _ARRAY_CHILD:
            array = self.array(params, key)
            last = array[-1] if array else None
            if isinstance(last, dict) and not _has_path(last, child_path):
                self.normalize(last, child, value, depth + 1)
            else:
                element = self.normalize({}, child, value, depth + 1)
                if isinstance(element, dict):  # else the list ``[]`` returned, counted there
                    self.count_entry()
                array.append(element)
        elif kind == _HASH_CHILD:
            current = params.get(key)
            if current is None:
                self.count_entry()
                current = {}
            elif not isinstance(current, dict):
                raise FormDecodeError(
                    f"Expected a hash for {_shorten(key)}, got {_kind(current)}."
                )
            params[key] = self.normalize(current, child, value, depth + 1)
        elif kind == _RETURN_LIST:
            self.count_entry()
            return [value]
        else:  # _SKIP: an empty key
            return None
        return params

    def count_entry(self):
        if self.entries_left is not None:
            self.entries_left -= 1
            if self.entries_left < 0:
                raise TooManyEntries()

    def array(self, params, key):
        current = params.get(key)
        if current is None:
            self.count_entry()
            current = params[key] = []
        elif not isinstance(current, list):
            raise FormDecodeError(f"Expected an array for {_shorten(key)}, got {_kind(current)}.")
        return current


def _step(name, depth):
    """How ``normalize_params`` treats key ``name`` at ``depth``: (kind, key, child, child_path).

    ``child_path`` is ``params_hash_has_key?``'s view of ``child``: the keys to walk, or None
    when ``child`` contains ``[]`` (which never counts as present).
    """
    if depth == 0:
        start = name.find("[", 1)
        key, after = (name[:start], name[start:]) if start > 0 else (name, "")
    elif name.startswith("[]"):
        key, after = "[]", name[2:]
    elif name.startswith("[") and (end := name.find("]", 1)) > 0:
        key, after = name[1:end], name[end + 1 :]
    else:
        key, after = name, ""

    if not key:
        return _SKIP, None, None, None
    if after == "":
        if key == "[]" and depth != 0:
            return _RETURN_LIST, None, None, None
        return _SET, key, None, None
    if after == "[":
        return _SET, name, None, None
    if after == "[]":
        return _APPEND, key, None, None
    if after.startswith("[]"):
        child = after[3:-1]
        if not (after[2] == "[" and after.endswith("]") and child and "[" not in child
                and "]" not in child):
            child = after[2:]
        path = None if "[]" in child else tuple(part for part in _KEY_PARTS.split(child) if part)
        return _ARRAY_CHILD, key, child, path
    return _HASH_CHILD, key, after, None


def _has_path(params, path):
    if path is None:
        return False
    current = params
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return False
        current = current[part]
    return True


def _fields(body):
    """The ``&``-separated fields of ``body``, split a chunk at a time to bound memory."""
    start, size = 0, len(body)
    while start < size:
        end = body.find(b"&", start + _CHUNK) if start + _CHUNK < size else -1
        if end < 0:
            end = size
        yield from body[start:end].split(b"&")
        start = end + 1


def _kind(value):
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def _shorten(text, limit=80):
    text = text.decode("ascii", "backslashreplace") if isinstance(text, bytes) else text
    return repr(text if len(text) <= limit else text[:limit] + "…")
