"""DRF parsers for push bodies: Rack-style forms (what Katello sends) and JSON, size-bounded.

They read the raw stream themselves, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE and
DATA_UPLOAD_MAX_NUMBER_FIELDS (made for browser forms) do not apply; the limits are
KATELLO_GATEWAY_PUSH_MAX_BYTES and KATELLO_GATEWAY_PUSH_MAX_ENTRIES (hashes and arrays, which
cost memory however few bytes they take) instead.
"""

import gc
import io

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from pulp_katello_gateway.app.katello.rack_query import (
    FormDecodeError,
    TooManyEntries,
    parse_nested_query,
)
from pulp_katello_gateway.app.parsers import JSONParser

# Bodies from this size on run a full garbage collection first (see read_body). It takes about
# 0.1 s in a pulpcore-api worker: more than a small push (one host's repositories) itself.
COLLECT_FROM_BYTES = 1 << 20


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def _too_many_entries():
    limit = settings.KATELLO_GATEWAY_PUSH_MAX_ENTRIES
    return PayloadTooLarge(
        f"The request body holds more than KATELLO_GATEWAY_PUSH_MAX_ENTRIES ({limit}) hashes "
        "and arrays."
    )


def read_body(stream, parser_context):
    """The whole body, or PayloadTooLarge beyond KATELLO_GATEWAY_PUSH_MAX_BYTES.

    A large body first frees what earlier pushes left. pulpcore keeps a worker's last request
    referenced (its current-user context variable) until the next request starts; from then on
    only reference cycles hold it. Its payload is millions of dicts of strings, which the garbage
    collector does not track or count, so a full collection seldom comes on its own: without
    this, each capsule sync left its payload (hundreds of MiB) in the worker for the next ones.
    """
    limit = settings.KATELLO_GATEWAY_PUSH_MAX_BYTES
    too_large = PayloadTooLarge(
        f"The request body is larger than KATELLO_GATEWAY_PUSH_MAX_BYTES ({limit} bytes)."
    )
    meta = parser_context["request"].META
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ParseError("Invalid Content-Length header.") from None
    if declared > limit:
        raise too_large
    if declared >= COLLECT_FROM_BYTES:
        gc.collect()
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


class RackFormParser(BaseParser):
    """``application/x-www-form-urlencoded`` decoded with Rack's nesting rules."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_body(stream, parser_context)
        try:
            return parse_nested_query(body, settings.KATELLO_GATEWAY_PUSH_MAX_ENTRIES)
        except FormDecodeError as exc:
            raise ParseError(f"Malformed form body: {exc}") from None
        except TooManyEntries:
            raise _too_many_entries() from None


class BoundedJSONParser(JSONParser):
    """``application/json`` with the same limits. Objects and arrays are counted before parsing
    by their opening brackets (an upper bound: brackets inside strings count too), so an
    oversized body is refused without building it."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_body(stream, parser_context)
        if body.count(b"{") + body.count(b"[") > settings.KATELLO_GATEWAY_PUSH_MAX_ENTRIES:
            raise _too_many_entries()
        return super().parse(io.BytesIO(body), media_type, parser_context)
