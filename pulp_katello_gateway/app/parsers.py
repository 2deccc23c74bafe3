"""Request parsers of the plugin's DRF views other than Katello's push API (token endpoint,
native API): DRF's defaults, with JSON nested too deeply answered 400."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, where a body nested too deeply is a 400 like any other malformed body
    (DRF lets the RecursionError through: a 500, on pulpcore's own endpoints too)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


PARSER_CLASSES = [JSONParser, parsers.FormParser, parsers.MultiPartParser]
