"""The XML S3 speaks: answers built as text (escaped), request bodies parsed without DTDs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from sartiq_storage.interfaces.s3_gateway.errors import S3Error

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def iso(epoch: int) -> str:
    """S3's listing time format."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def http_date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def element(name: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def document(root: str, parts: Iterable[str]) -> bytes:
    return f'{HEAD}<{root} xmlns="{NS}">{"".join(parts)}</{root}>'.encode()


def parse(body: bytes) -> ET.Element:
    """A request body's root element (namespace stripped from tags); MalformedXML else."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise S3Error("MalformedXML", "DTDs and entities are not accepted", 400)
    try:
        root = ET.fromstring(body)  # noqa: S314 - no DTD can reach here
    except ET.ParseError:
        raise S3Error(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our "
            "published schema.",
            400,
        ) from None
    for node in root.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    return root
