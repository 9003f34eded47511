"""The bucket's key schema: typed keys, builders and one parser. Pure: no I/O.

Every valid key parses to exactly one kind, and every kind knows its zone, so lifecycle,
ingestion and the CLI's ``keys explain`` never guess from string prefixes themselves.

Building and parsing are exact inverses: a kind's constructor refuses field values that would
make its key ambiguous or invalid (``InvalidKeyError``), so ``parse_key(k.key) == k`` for every
kind ``k`` that can be built, and ``parse_key(s).key == validate_key(s)`` for every valid ``s``.
Keys that look like a pattern but do not round-trip exactly fall back to an :class:`OtherKey`
of their zone, never to a wrong reading. See ``docs/keys.md``.
"""

from __future__ import annotations

from sartiq_storage.core.keys._kinds import ComputeResultKey, MediaKey, TempUploadKey
from sartiq_storage.core.keys._legacy import (
    LegacyGenerationKey,
    LegacyOrganizationKey,
    LegacyProductKey,
    LegacyShotRevisionKey,
    LegacyShotTypeKey,
    LegacyStyleKey,
    LegacySubjectKey,
    LegacyTempKey,
    ShootingLookKey,
)
from sartiq_storage.core.keys._parse import (
    OTHER_ENTITY_TYPES,
    OtherKey,
    ParsedKey,
    UnknownKey,
    new_media_key,
    new_temp_upload_key,
    parse_key,
)
from sartiq_storage.core.keys._zones import (
    LEGACY_ZONES,
    ZONE_PREFIXES,
    Retention,
    Zone,
    classify,
    is_legacy,
    retention_for,
)

__all__ = [
    "LEGACY_ZONES",
    "OTHER_ENTITY_TYPES",
    "ZONE_PREFIXES",
    "ComputeResultKey",
    "LegacyGenerationKey",
    "LegacyOrganizationKey",
    "LegacyProductKey",
    "LegacyShotRevisionKey",
    "LegacyShotTypeKey",
    "LegacyStyleKey",
    "LegacySubjectKey",
    "LegacyTempKey",
    "MediaKey",
    "OtherKey",
    "ParsedKey",
    "Retention",
    "ShootingLookKey",
    "TempUploadKey",
    "UnknownKey",
    "Zone",
    "classify",
    "is_legacy",
    "new_media_key",
    "new_temp_upload_key",
    "parse_key",
    "retention_for",
]
