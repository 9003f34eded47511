"""The key schema (``sartiq_storage.core.keys``): seed examples, round trips, fallbacks."""

from __future__ import annotations

import dataclasses
import string
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.keys import (
    ZONE_PREFIXES,
    ComputeResultKey,
    LegacyGenerationKey,
    LegacyOrganizationKey,
    LegacyProductKey,
    LegacyShotRevisionKey,
    LegacyShotTypeKey,
    LegacyStyleKey,
    LegacySubjectKey,
    LegacyTempKey,
    MediaKey,
    OtherKey,
    ParsedKey,
    Retention,
    ShootingLookKey,
    TempUploadKey,
    UnknownKey,
    Zone,
    classify,
    new_media_key,
    new_temp_upload_key,
    parse_key,
    retention_for,
)
from sartiq_storage.core.validation import validate_key

# --- the seed's Key Naming Conventions table ---------------------------------------------------

SEED_EXAMPLES: list[tuple[str, type[Any], dict[str, Any]]] = [
    (
        "media/a1b2c3d4-e5f6-7890-abcd-ef1234567890/file.webp",
        MediaKey,
        {
            "zone": "media",
            "retention": "permanent",
            "entity_type": "media_resource",
            "resource_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "extension": "webp",
        },
    ),
    (
        "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.webp",
        LegacyProductKey,
        {
            "zone": "legacy_images",
            "retention": "permanent",
            "entity_type": "product",
            "product_id": "abc123",
            "sku": "SKU001",
            "uuid": "d4e5f6",
            "image_type": "cover",
            "extension": "webp",
        },
    ),
    (
        "images/subjects/subject_anna_def456_a1b2c3_cover.png",
        LegacySubjectKey,
        {
            "zone": "legacy_images",
            "retention": "permanent",
            "entity_type": "subject",
            "slug": "anna",
            "subject_id": "def456",
            "uuid": "a1b2c3",
            "image_type": "cover",
            "extension": "png",
        },
    ),
    (
        "images/generations/gen123/prediction_pred456_SKU001_f7g8h9_result.webp",
        LegacyGenerationKey,
        {
            "zone": "legacy_images",
            "retention": "permanent",
            "entity_type": "generation",
            "generation_id": "gen123",
            "prediction_id": "pred456",
            "sku": "SKU001",
            "uuid": "f7g8h9",
            "image_type": "result",
            "extension": "webp",
        },
    ),
    (
        "images/shots/shot789/revisions/revision_rev012_a1b2c3.webp",
        LegacyShotRevisionKey,
        {
            "zone": "legacy_images",
            "retention": "permanent",
            "entity_type": "shot_revision",
            "shot_id": "shot789",
            "revision_id": "rev012",
            "uuid": "a1b2c3",
            "extension": "webp",
        },
    ),
    (
        "shooting_looks/look345/outfit_look345_d4e5f6.webp",
        ShootingLookKey,
        {
            "zone": "legacy_shooting_looks",
            "retention": "permanent",
            "entity_type": "shooting_look",
            "look_id": "look345",
            "uuid": "d4e5f6",
            "extension": "webp",
        },
    ),
    (
        "compute/generations/task789/result_0.webp",
        ComputeResultKey,
        {
            "zone": "compute",
            "retention": "temporary",
            "entity_type": "compute_result",
            "task_type": "generation",
            "task_id": "task789",
            "index": 0,
            "extension": "webp",
        },
    ),
    (
        "temp/abc123_1706000000_product-001.jpg",
        TempUploadKey,
        {
            "zone": "temp",
            "retention": "temporary",
            "entity_type": "temp_upload",
            "file_id": "abc123",
            "timestamp": 1706000000,
            "safe_filename": "product-001.jpg",
            "extension": "jpg",
        },
    ),
    # The bucket-structure tree's other legacy patterns.
    (
        "images/styles/st1/style_st1_u1_thumb.png",
        LegacyStyleKey,
        {"entity_type": "style", "style_id": "st1", "uuid": "u1", "image_type": "thumb"},
    ),
    (
        "images/shot_types/sh1/shot_type_sh1_u1_cover.webp",
        LegacyShotTypeKey,
        {"entity_type": "shot_type", "shot_type_id": "sh1", "uuid": "u1", "image_type": "cover"},
    ),
    (
        "images/organizations/org1/organization_org1_u1_logo.svg",
        LegacyOrganizationKey,
        {
            "entity_type": "organization",
            "organization_id": "org1",
            "uuid": "u1",
            "image_type": "logo",
            "extension": "svg",
        },
    ),
    (
        "images/temp/temp_abc.jpg",
        LegacyTempKey,
        {"zone": "legacy_images", "retention": "permanent", "entity_type": "legacy_temp"},
    ),
]


@pytest.mark.parametrize(("key", "kind", "expected"), SEED_EXAMPLES)
def test_seed_examples_parse(key: str, kind: type[Any], expected: dict[str, Any]) -> None:
    parsed = parse_key(key)
    assert type(parsed) is kind
    assert parsed.key == key
    described = parsed.as_dict()
    assert described["key"] == key
    for name, value in expected.items():
        assert described[name] == value, name
    assert parsed.zone == classify(key)
    assert parsed.retention == retention_for(parsed.zone)


def test_typed_fields_of_examples() -> None:
    media = parse_key("media/a1b2c3d4-e5f6-7890-abcd-ef1234567890/file.webp")
    assert media == MediaKey(UUID("a1b2c3d4-e5f6-7890-abcd-ef1234567890"), "webp")
    assert parse_key("compute/generations/task789/result_0.webp") == ComputeResultKey(
        "generation", "task789", 0
    )
    assert parse_key("temp/abc123_1706000000_product-001.jpg") == TempUploadKey(
        "abc123", 1706000000, "product-001.jpg"
    )


# --- zones and retention -----------------------------------------------------------------------


def test_zone_prefixes_and_retention() -> None:
    assert dict(ZONE_PREFIXES) == {
        Zone.media: "media/",
        Zone.temp: "temp/",
        Zone.compute: "compute/",
        Zone.legacy_images: "images/",
        Zone.legacy_shooting_looks: "shooting_looks/",
    }
    assert {z: retention_for(z) for z in Zone} == {
        Zone.media: Retention.permanent,
        Zone.temp: Retention.temporary,
        Zone.compute: Retention.temporary,
        Zone.legacy_images: Retention.permanent,
        Zone.legacy_shooting_looks: Retention.permanent,
        Zone.unknown: Retention.permanent,
    }


@pytest.mark.parametrize(
    ("key", "zone"),
    [
        ("media/x", Zone.media),
        ("temp/x", Zone.temp),
        ("compute/x", Zone.compute),
        ("images/x", Zone.legacy_images),
        ("shooting_looks/x", Zone.legacy_shooting_looks),
        ("media", Zone.unknown),
        ("Media/x", Zone.unknown),
        ("mediafoo/x", Zone.unknown),
        ("other/x", Zone.unknown),
        ("", Zone.unknown),
    ],
)
def test_classify(key: str, zone: Zone) -> None:
    assert classify(key) is zone


# --- fallbacks: a near miss is never misread ---------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        # media: upper-case or non-canonical UUID, other file names, deeper paths.
        ("media/A1B2C3D4-E5F6-7890-ABCD-EF1234567890/file.webp", OtherKey),
        ("media/a1b2c3d4e5f67890abcdef1234567890/file.webp", OtherKey),
        ("media/a1b2c3d4-e5f6-7890-abcd-ef1234567890/other.webp", OtherKey),
        ("media/a1b2c3d4-e5f6-7890-abcd-ef1234567890/file.tar.gz", OtherKey),
        ("media/a1b2c3d4-e5f6-7890-abcd-ef1234567890/file", OtherKey),
        ("media/a1b2c3d4-e5f6-7890-abcd-ef1234567890/x/file.webp", OtherKey),
        # temp: timestamps with leading zeros or not digits, '_' in the file id, nesting.
        ("temp/abc_01_x.jpg", OtherKey),
        ("temp/abc_x_1.jpg", OtherKey),
        ("temp/a_b_1_x.jpg", OtherKey),
        ("temp/abc_1_", OtherKey),
        ("temp/abc_1_x/y.jpg", OtherKey),
        ("temp/a.b_1_x.jpg", OtherKey),
        # compute: not a result, leading zeros, other extension, no plural.
        ("compute/generations/t1/result_01.webp", OtherKey),
        ("compute/generations/t1/result_1.png", OtherKey),
        ("compute/generations/t1/intermediate.png", OtherKey),
        ("compute/s/t1/result_0.webp", OtherKey),
        ("compute/generation/t1/result_0.webp", OtherKey),
        ("compute/generations/t1/sub/result_0.webp", OtherKey),
        # legacy images: folder/name mismatch, missing fields, '.' in a token, no extension.
        ("images/products/abc/product_xyz_SKU_u_t.webp", OtherKey),
        ("images/products/abc/product_abc_u_t.webp", OtherKey),
        ("images/products/a_b/product_a_b_SKU_u_t.webp", OtherKey),
        ("images/products/abc/product_abc_SKU_u_t.x.webp", OtherKey),
        ("images/products/abc/product_abc_SKU_u_t", OtherKey),
        ("images/styles/s/style_s_a_u_t.webp", OtherKey),
        ("images/styles/s/style_s_u.webp", OtherKey),
        ("images/shot_types/s/style_s_u_t.webp", OtherKey),
        ("images/subjects/subject_x_u_t.png", OtherKey),
        ("images/subjects/anna/subject_anna_d_u_t.png", OtherKey),
        ("images/generations/g/prediction_p_u_t.webp", OtherKey),
        ("images/shots/s/revision_r_u.webp", OtherKey),
        ("images/shots/s/revisions/revision_r_x_u.webp", OtherKey),
        ("images/temp/temp_a_b.jpg", OtherKey),
        ("images/temp/other.jpg", OtherKey),
        ("images/unheard_of/thing.png", OtherKey),
        ("images/x", OtherKey),
        # shooting looks: id mismatch, extra fields.
        ("shooting_looks/l1/outfit_l2_u.webp", OtherKey),
        ("shooting_looks/l1/outfit_l1_u_v.webp", OtherKey),
        ("shooting_looks/l1", OtherKey),
        # outside every zone.
        ("media", UnknownKey),
        ("IMAGES/products/abc/product_abc_SKU_u_t.webp", UnknownKey),
        ("random/thing.txt", UnknownKey),
    ],
)
def test_near_misses_fall_back_to_the_zone(key: str, kind: type[Any]) -> None:
    parsed = parse_key(key)
    assert type(parsed) is kind
    assert parsed.key == key
    assert parsed.zone is classify(key)
    assert parsed.as_dict()["key"] == key


def test_ambiguous_fields_parse_from_the_right() -> None:
    product = parse_key("images/products/p1/product_p1_SKU_01_blue_u9_cover.webp")
    assert product == LegacyProductKey("p1", "SKU_01_blue", "u9", "cover", "webp")
    subject = parse_key("images/subjects/subject_anna_maria_s1_u2_cover.png")
    assert subject == LegacySubjectKey("anna_maria", "s1", "u2", "cover", "png")
    generation = parse_key("images/generations/g1/prediction_p1_SKU_A_u3_result.webp")
    assert generation == LegacyGenerationKey("g1", "p1", "SKU_A", "u3", "result", "webp")
    temp = parse_key("temp/abc_17_my_file_v2.png")
    assert temp == TempUploadKey("abc", 17, "my_file_v2.png")


def test_extensions_are_kept_as_written() -> None:
    parsed = parse_key("images/temp/temp_abc.JPG")
    assert parsed == LegacyTempKey("abc", "JPG")
    assert parsed.extension == "JPG"
    assert parse_key("media/x/photo.webp").extension == "webp"
    assert parse_key("compute/x/.hidden").extension is None
    assert parse_key("temp/abc_1_noext").extension is None


def test_parse_normalises_to_nfc() -> None:
    parsed = parse_key("images/subjects/subject_Rene\u0301_s1_u1_cover.png")
    assert parsed == LegacySubjectKey("René", "s1", "u1", "cover", "png")
    assert parsed.key == "images/subjects/subject_René_s1_u1_cover.png"


@pytest.mark.parametrize(
    "key", ["", "/media/x", "media//x", "media/../x", "temp/a%2Fb", "media/x/", "a\\b", "x\u202e"]
)
def test_parse_propagates_invalid_key(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        parse_key(key)


# --- builders refuse what would not parse back -------------------------------------------------

U = UUID("a1b2c3d4-e5f6-7890-abcd-ef1234567890")


@pytest.mark.parametrize(
    "build",
    [
        lambda: MediaKey("a1b2c3d4-e5f6-7890-abcd-ef1234567890", "webp"),  # type: ignore[arg-type]
        lambda: MediaKey(U, ".webp"),
        lambda: MediaKey(U, ""),
        lambda: MediaKey(U, "tar.gz"),
        lambda: TempUploadKey("a_b", 1, "x.jpg"),
        lambda: TempUploadKey("", 1, "x.jpg"),
        lambda: TempUploadKey("abc", -1, "x.jpg"),
        lambda: TempUploadKey("abc", True, "x.jpg"),
        lambda: TempUploadKey("abc", 1, ""),
        lambda: TempUploadKey("abc", 1, "a/b"),
        lambda: TempUploadKey("abc", 1, "x."),
        lambda: TempUploadKey("abc", 1, "a%2Fb"),
        lambda: ComputeResultKey("generation", "t", -1),
        lambda: ComputeResultKey("", "t", 0),
        lambda: ComputeResultKey("generation", "a/b", 0),
        lambda: ComputeResultKey("generation", "..", 0),
        lambda: LegacyProductKey("a_b", "SKU", "u", "t", "webp"),
        lambda: LegacyProductKey("a", "", "u", "t", "webp"),
        lambda: LegacyProductKey("a", "S/K", "u", "t", "webp"),
        lambda: LegacyProductKey("a", "SKU", "u_v", "t", "webp"),
        lambda: LegacyProductKey("a", "SKU", "u", "t.x", "webp"),
        lambda: LegacyProductKey("a", "SKU", "u", "t", "we.bp"),
        lambda: LegacyProductKey("a ", "SKU", "u", "t", "webp"),
        lambda: LegacyProductKey("a", "SKU", "u", "t\x00", "webp"),
        lambda: LegacyStyleKey("s", "", "t", "png"),
        lambda: LegacyShotTypeKey("s", "u", "t_x", "png"),
        lambda: LegacyOrganizationKey("o/p", "u", "t", "png"),
        lambda: LegacySubjectKey("", "s", "u", "t", "png"),
        lambda: LegacySubjectKey("slug", "s_1", "u", "t", "png"),
        lambda: LegacySubjectKey("Rene\u0301", "s", "u", "t", "png"),  # not NFC
        lambda: LegacyGenerationKey("g", "p_1", "SKU", "u", "t", "webp"),
        lambda: LegacyGenerationKey("g", "p", "SKU", "u", "t", ""),
        lambda: LegacyShotRevisionKey("s", "r_1", "u", "webp"),
        lambda: LegacyShotRevisionKey("s", "r", "u.v", "webp"),
        lambda: LegacyTempKey("a_b", "jpg"),
        lambda: ShootingLookKey("l_1", "u", "webp"),
        lambda: ShootingLookKey("l", "", "webp"),
        # The fallbacks refuse what a specific kind claims, or another zone's keys.
        lambda: OtherKey("images/products/p/product_p_S_u_t.webp", Zone.legacy_images),
        lambda: OtherKey("media/x", Zone.legacy_images),
        lambda: OtherKey(f"media/{U}/file.webp", Zone.media),
        lambda: OtherKey("temp/abc_1_x.jpg", Zone.temp),
        lambda: OtherKey("compute/generations/t/result_0.webp", Zone.compute),
        lambda: OtherKey("generations/t/x.png", Zone.compute),
        lambda: OtherKey("shooting_looks/l/outfit_l_u.webp", Zone.legacy_shooting_looks),
        lambda: OtherKey("random/x", Zone.unknown),
        lambda: UnknownKey("media/x"),
        lambda: UnknownKey("a//b"),
    ],
)
def test_constructors_refuse_unparseable_values(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidKeyError):
        build()


def test_new_media_key() -> None:
    key = new_media_key(".JPEG")
    assert key.extension == "jpg"
    assert key.resource_id.version == 4
    assert parse_key(key.key) == key
    assert new_media_key("webp") != new_media_key("webp")
    with pytest.raises(ValueError, match="invalid extension"):
        new_media_key("no good")


def test_new_temp_upload_key() -> None:
    key = new_temp_upload_key("C:\\fakepath\\Résumé photo.JPEG", now=1706000000)
    assert len(key.file_id) == 32
    assert key.timestamp == 1706000000
    assert key.safe_filename == "Resume-photo.jpg"
    assert key.key == f"temp/{key.file_id}_1706000000_Resume-photo.jpg"
    assert parse_key(key.key) == key
    assert new_temp_upload_key("x.exe", "image/png", 0).safe_filename == "x.png"
    before = int(time.time())
    assert before <= new_temp_upload_key("a.png").timestamp <= int(time.time())


def test_kinds_are_frozen_and_hashable() -> None:
    key = LegacyTempKey("abc", "jpg")
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.uuid = "other"  # type: ignore[misc]
    assert {key, LegacyTempKey("abc", "jpg")} == {key}


# --- properties --------------------------------------------------------------------------------

TOKEN_CHARS = string.ascii_letters + string.digits + "-+~@=!()éüßΩЖ"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=10)
# SKUs, slugs and temp file names may hold '_' (and '.'): they are parsed from the edges.
free = st.text(alphabet=TOKEN_CHARS + "_.", min_size=1, max_size=14)
# Whole path segments (compute folders and task ids) must not end in a dot.
segment_free = st.text(alphabet=TOKEN_CHARS + "_", min_size=1, max_size=14)
extensions = st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True)
file_names = free.filter(lambda s: not s.endswith("."))

KINDS: dict[str, st.SearchStrategy[ParsedKey]] = {
    "media": st.builds(MediaKey, st.uuids(), extensions),
    "temp_upload": st.builds(
        TempUploadKey,
        st.from_regex(r"[0-9A-Za-z-]{1,32}", fullmatch=True),
        st.integers(min_value=0, max_value=2**40),
        file_names,
    ),
    "compute_result": st.builds(
        ComputeResultKey, segment_free, segment_free, st.integers(min_value=0, max_value=10**6)
    ),
    "product": st.builds(LegacyProductKey, tokens, free, tokens, tokens, extensions),
    "style": st.builds(LegacyStyleKey, tokens, tokens, tokens, extensions),
    "shot_type": st.builds(LegacyShotTypeKey, tokens, tokens, tokens, extensions),
    "organization": st.builds(LegacyOrganizationKey, tokens, tokens, tokens, extensions),
    "subject": st.builds(LegacySubjectKey, free, tokens, tokens, tokens, extensions),
    "generation": st.builds(LegacyGenerationKey, tokens, tokens, free, tokens, tokens, extensions),
    "shot_revision": st.builds(LegacyShotRevisionKey, tokens, tokens, tokens, extensions),
    "legacy_temp": st.builds(LegacyTempKey, tokens, extensions),
    "shooting_look": st.builds(ShootingLookKey, tokens, tokens, extensions),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_build_then_parse_round_trips(kind: str, data: st.DataObject) -> None:
    built = data.draw(KINDS[kind])
    assert parse_key(built.key) == built
    assert validate_key(built.key) == built.key
    assert built.zone is classify(built.key)
    assert built.as_dict()["key"] == built.key


FRAGMENTS = [
    "media/",
    "temp/",
    "compute/",
    "images/",
    "shooting_looks/",
    "products/",
    "subjects/",
    "generations/",
    "shots/",
    "revisions/",
    "styles/",
    "temp_",
    "product_",
    "subject_",
    "prediction_",
    "revision_",
    "outfit_",
    "style_",
    "result_",
    "file.",
    str(U),
    "/",
    "_",
    ".",
    "..",
    "-",
    " ",
    "a",
    "p1",
    "0",
    "01",
    "17",
    "webp",
    "JPG",
    "é",
    "e\u0301",
    "%41",
    "\\",
    "\u202e",
    "／",
]
keyish = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14).map("".join)


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A well-formed key of a random kind with one fragment inserted, deleted or replaced."""
    built: ParsedKey = draw(st.one_of(*KINDS.values()))
    key = built.key
    start = draw(st.integers(min_value=0, max_value=len(key)))
    end = draw(st.integers(min_value=start, max_value=min(len(key), start + 3)))
    insert = draw(st.sampled_from(["", *FRAGMENTS]))
    return key[:start] + insert + key[end:]


@given(st.one_of(st.text(max_size=60), keyish, near_misses()))
def test_parse_accepts_exactly_the_valid_keys_and_round_trips(text: str) -> None:
    try:
        valid = validate_key(text)
    except InvalidKeyError:
        with pytest.raises(InvalidKeyError):
            parse_key(text)
        return
    parsed = parse_key(text)
    assert parsed.key == valid
    assert parsed.zone is classify(valid)
    assert parse_key(parsed.key) == parsed
    assert dataclasses.replace(parsed) == parsed  # the constructor accepts what parse built
    described = parsed.as_dict()
    assert described["zone"] == parsed.zone.value
    assert described["retention"] == retention_for(parsed.zone).value
