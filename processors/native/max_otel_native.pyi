"""The compiled walk of the max-otel redaction processor (see src/lib.rs)."""

from collections.abc import Callable
from typing import Any

class WireError(ValueError):
    """The bytes are not a valid encoding of the request."""

class OtlpWalker:
    def __init__(
        self,
        schema: list[tuple[int, bool, list[tuple[int, int, int, int]]]],
        value_patterns: list[str],
        key_patterns: list[str],
        attribute: Any,
        text: Any,
        body: Any,
        dropped: object,
        redact_leaves: Callable[[Any, list[tuple[Any, Any, Any]]], list[tuple[Any, Any]]],
        count_existing: Callable[[bytes, Any], bytes],
        encode_pair: Callable[[str, object], bytes],
        keeps_keys: bool,
        text_scrubber: PlainScrubber | None,
    ) -> None: ...
    def redact(
        self, root: int, engine: Any, data: bytes
    ) -> tuple[bytes, int, int, dict[str, int]]: ...

class PlainScrubber:
    def __init__(
        self,
        set_patterns: list[str],
        set_kinds: list[int],
        value_set_patterns: list[str],
        value_set_kinds: list[int],
        detectors: list[
            tuple[str, str, int, Callable[..., Any] | None, Callable[..., Any], bool, str] | None
        ],
        protected: str,
    ) -> None: ...
    def scrub(self, text: str, hits: dict[str, int]) -> str | None: ...
