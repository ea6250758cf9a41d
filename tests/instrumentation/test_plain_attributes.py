"""plain_attributes: the items of any attribute mapping as a new dict."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

import pytest
from opentelemetry.attributes import BoundedAttributes

from max_otel.instrumentation.plain_attributes import plain_attributes

pytestmark = pytest.mark.unit

ITEMS = {"http.method": "GET", "http.status_code": 200, "tags": ("a", "b")}


class ReadOnly(Mapping[str, object]):
    """A mapping without ``copy``."""

    def __getitem__(self, key: str) -> object:
        return ITEMS[key]

    def __iter__(self) -> Iterator[str]:
        return iter(ITEMS)

    def __len__(self) -> int:
        return len(ITEMS)


@pytest.mark.parametrize(
    "attributes",
    [
        dict(ITEMS),
        BoundedAttributes(10, ITEMS, immutable=True),
        MappingProxyType(BoundedAttributes(10, ITEMS, immutable=True)),
        MappingProxyType(dict(ITEMS)),
        ReadOnly(),
        MappingProxyType(ReadOnly()),
    ],
    ids=["dict", "bounded", "proxy-bounded", "proxy-dict", "mapping", "proxy-mapping"],
)
def test_any_mapping_gives_a_new_dict_of_its_items(attributes: Mapping[str, object]) -> None:
    plain = plain_attributes(attributes)
    assert type(plain) is dict
    assert plain == ITEMS
    plain["http.method"] = "POST"
    assert attributes["http.method"] == "GET"


def test_none_and_empty_give_an_empty_dict() -> None:
    assert plain_attributes(None) == {}
    assert plain_attributes(MappingProxyType(BoundedAttributes(10))) == {}
