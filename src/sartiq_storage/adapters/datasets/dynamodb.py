"""The dataset engine's metadata on DynamoDB, laid out as lakeFS lays out its ``kvstore``.

One table, partition key ``PartitionKey`` and sort key ``ItemKey`` (both binary: the UTF-8
bytes of our strings), value ``ItemValue`` (binary). DynamoDB orders binary sort keys by
unsigned bytes, and UTF-8 byte order is code point order, so scans come back in the order
:class:`MemoryKV` and :class:`SqlKV` use. ``set_if`` is a conditional ``PutItem``
(``attribute_not_exists`` for "absent", else equality on ``ItemValue``), as lakeFS's ``SetIf``;
every read is strongly consistent, which the engine's compare-and-set loops rely on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from sartiq_storage.adapters.datasets.kv import KV, prefix_upper_bound
from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.core.errors import ConfigurationError, StoreUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from sartiq_storage.core.config import Settings

PARTITION_KEY = "PartitionKey"
ITEM_KEY = "ItemKey"
ITEM_VALUE = "ItemValue"
BATCH_WRITE_MAX = 25
"""DynamoDB's limit of requests in one ``BatchWriteItem``."""
BATCH_GET_MAX = 100
"""DynamoDB's limit of keys in one ``BatchGetItem``."""
WRITERS = 8
"""``BatchWriteItem`` calls in flight for one large ``set_many`` or ``delete_prefix``."""
MAX_SORT_KEY = 1024
"""DynamoDB's limit on a sort key, in bytes: no longer key can be stored, nor asked for."""
MAX_ITEM = 400 * 1024
"""DynamoDB's limit on an item (attribute names and values), in bytes."""


ANSWERS = frozenset(
    {"ConditionalCheckFailedException", "ResourceNotFoundException", "ResourceInUseException"}
)
"""DynamoDB's answers the KV reads itself; any other failure is the service's."""


class _Translated:
    """The client, its failures (unreachable endpoint, wrong credentials, throttling after
    the retries) raised as :class:`StoreUnavailableError`: one line from the CLI, a 503 from
    the API, never a botocore traceback."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name in ("close", "get_waiter"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except ClientError as exc:
                if _code(exc) in ANSWERS:
                    raise
                raise StoreUnavailableError.from_cause(exc, "DynamoDB") from exc
            except BotoCoreError as exc:
                raise StoreUnavailableError.from_cause(exc, "DynamoDB") from exc

        return call


def _bytes(text: str) -> bytes:
    return text.encode("utf-8")


def _storable(key: str) -> bool:
    return len(_bytes(key)) <= MAX_SORT_KEY


def _check_item(partition: str, key: str, value: bytes) -> None:
    """What DynamoDB would refuse with a ``ValidationException`` (a 503 once translated, and
    retried by every client) is the caller's bad value: a 400 naming the limit. The same
    values fit in SQL; lakeFS on DynamoDB has the same limits."""
    size = len(_bytes(key))
    if size > MAX_SORT_KEY:
        shown = key if len(key) <= 60 else key[:60] + "…"
        raise InvalidArgumentError(
            f"{shown!r} is {size} bytes, over the {MAX_SORT_KEY} bytes DynamoDB allows "
            "in a key of the datasets metadata (object paths, branch and tag names)"
        )
    total = len(PARTITION_KEY + ITEM_KEY + ITEM_VALUE) + len(_bytes(partition)) + size
    if total + len(value) > MAX_ITEM:
        raise InvalidArgumentError(
            f"a metadata record of {total + len(value)} bytes for {key[:60]!r} is over the "
            f"{MAX_ITEM} bytes DynamoDB allows in an item (shorten its metadata or message)"
        )


class DynamoKV(KV):
    """A :class:`KV` on one DynamoDB table (created on first use when ``create_table``)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str = "kvstore",
        *,
        scan_limit: int = 1000,
        create_table: bool = True,
        read_capacity: int | None = None,
        write_capacity: int | None = None,
    ) -> None:
        self.client = cast("DynamoDBClient", _Translated(client))
        self.table = table
        self.scan_limit = scan_limit
        if create_table:
            self._ensure_table(read_capacity, write_capacity)
        else:
            self._check_table()

    # -- setup ---------------------------------------------------------------------------
    def _check_table(self) -> None:
        """A table that is not there is a settings error at start, not a traceback on the
        first read."""
        try:
            self.client.describe_table(TableName=self.table)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            raise ConfigurationError(
                f"DynamoDB table {self.table!r} does not exist and "
                "DATASETS_DYNAMODB_CREATE_TABLE=false: create it, or allow its creation"
            ) from None

    def _ensure_table(self, read_capacity: int | None, write_capacity: int | None) -> None:
        """Create the table unless it exists (lakeFS's ``setupKeyValueDatabase``): on demand
        billing unless both capacities are given."""
        try:
            self.client.describe_table(TableName=self.table)
            return
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
        billing: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
        if read_capacity and write_capacity:
            billing = {
                "BillingMode": "PROVISIONED",
                "ProvisionedThroughput": {
                    "ReadCapacityUnits": read_capacity,
                    "WriteCapacityUnits": write_capacity,
                },
            }
        try:
            self.client.create_table(
                TableName=self.table,
                AttributeDefinitions=[
                    {"AttributeName": PARTITION_KEY, "AttributeType": "B"},
                    {"AttributeName": ITEM_KEY, "AttributeType": "B"},
                ],
                KeySchema=[
                    {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": ITEM_KEY, "KeyType": "RANGE"},
                ],
                **billing,
            )
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":  # another process created it first
                raise
        self.client.get_waiter("table_exists").wait(
            TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )

    def close(self) -> None:
        self.client.close()

    # -- single items --------------------------------------------------------------------
    def _key(self, partition: str, key: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"B": _bytes(partition)}, ITEM_KEY: {"B": _bytes(key)}}

    def get(self, partition: str, key: str) -> bytes | None:
        if not _storable(key):
            return None  # never stored, and DynamoDB refuses to look it up
        found = self.client.get_item(
            TableName=self.table, Key=self._key(partition, key), ConsistentRead=True
        )
        item = found.get("Item")
        return None if item is None else bytes(item[ITEM_VALUE]["B"])

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[bytes | None]:
        """One strongly consistent ``BatchGetItem`` (up to 100 keys; what DynamoDB leaves
        unprocessed is asked for again)."""
        if not items:
            return []
        if len(items) > BATCH_GET_MAX:
            head = self.get_many(items[:BATCH_GET_MAX])
            return head + self.get_many(items[BATCH_GET_MAX:])
        found: dict[tuple[bytes, bytes], bytes] = {}
        wanted = [(p, k) for p, k in dict.fromkeys(items) if _storable(k)]
        if not wanted:
            return [None] * len(items)
        pending: dict[str, Any] = {
            self.table: {
                "Keys": [self._key(p, k) for p, k in wanted],
                "ConsistentRead": True,
            }
        }
        while pending:
            answer = self.client.batch_get_item(RequestItems=pending)
            for item in answer.get("Responses", {}).get(self.table, []):
                where = (bytes(item[PARTITION_KEY]["B"]), bytes(item[ITEM_KEY]["B"]))
                found[where] = bytes(item[ITEM_VALUE]["B"])
            pending = dict(answer.get("UnprocessedKeys") or {})
        return [found.get((_bytes(p), _bytes(k))) for p, k in items]

    def _item(self, partition: str, key: str, value: bytes) -> dict[str, Any]:
        _check_item(partition, key, value)
        return {**self._key(partition, key), ITEM_VALUE: {"B": bytes(value)}}

    def set(self, partition: str, key: str, value: bytes) -> None:
        self.client.put_item(TableName=self.table, Item=self._item(partition, key, value))

    def set_if(self, partition: str, key: str, value: bytes, expected: bytes | None) -> bool:
        condition: dict[str, Any]
        if expected is None:
            condition = {"ConditionExpression": f"attribute_not_exists({ITEM_VALUE})"}
        else:
            condition = {
                "ConditionExpression": "#v = :expected",
                "ExpressionAttributeNames": {"#v": ITEM_VALUE},
                "ExpressionAttributeValues": {":expected": {"B": bytes(expected)}},
            }
        try:
            self.client.put_item(
                TableName=self.table, Item=self._item(partition, key, value), **condition
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def delete(self, partition: str, key: str) -> None:
        if not _storable(key):
            return
        self.client.delete_item(TableName=self.table, Key=self._key(partition, key))

    # -- batches -------------------------------------------------------------------------
    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """``BatchWriteItem`` in chunks of 25, a few chunks in flight (each key appears once,
        so their order does not matter), resending what DynamoDB leaves unprocessed."""
        chunks = [
            requests[i : i + BATCH_WRITE_MAX] for i in range(0, len(requests), BATCH_WRITE_MAX)
        ]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._write_chunk(chunk)
            return
        with ThreadPoolExecutor(max_workers=min(WRITERS, len(chunks))) as pool:
            for _ in pool.map(self._write_chunk, chunks):
                pass

    def _write_chunk(self, chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: chunk}
        pause = 0.05
        while pending:
            answer = self.client.batch_write_item(RequestItems=pending)
            pending = dict(answer.get("UnprocessedItems") or {})
            if pending:  # throttled: back off before resending the rest
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def set_many(self, partition: str, items: Iterable[tuple[str, bytes]]) -> None:
        # One batch may not name a key twice: the last value wins, as in the other backends.
        latest = {key: value for key, value in items}
        self._batch_write(
            [{"PutRequest": {"Item": self._item(partition, k, v)}} for k, v in latest.items()]
        )

    def delete_prefix(self, partition: str, prefix: str = "") -> None:
        keys = [k for k, _ in self._query(partition, prefix, prefix, "", keys_only=True)]
        self._batch_write([{"DeleteRequest": {"Key": self._key(partition, k)}} for k in keys])

    # -- scans ---------------------------------------------------------------------------
    def scan(
        self, partition: str, prefix: str = "", start: str = "", after: str = ""
    ) -> Iterator[tuple[str, bytes]]:
        return self._query(partition, prefix, start, after)

    def _query(
        self, partition: str, prefix: str, start: str, after: str, *, keys_only: bool = False
    ) -> Iterator[tuple[str, bytes]]:
        """``Query`` pages of ``scan_limit`` items from the lower bound, ``BETWEEN`` it and the
        prefix's upper bound when there is one; the bounds' edges are trimmed here."""
        if not _storable(prefix):
            return  # no stored key is that long
        position = max(prefix, start)
        inclusive = not after or position > after
        position = position if inclusive else after
        lower = _bytes(position)
        if len(lower) > MAX_SORT_KEY:
            # DynamoDB refuses a longer bound; a stored key is at or after ``position`` exactly
            # when it is after its first MAX_SORT_KEY bytes (it cannot be longer than them).
            lower, inclusive = lower[:MAX_SORT_KEY], False
        upper = prefix_upper_bound(prefix) if prefix else None
        if upper is not None and lower >= _bytes(upper):
            return  # BETWEEN refuses a lower bound above the upper one
        values: dict[str, Any] = {":p": {"B": _bytes(partition)}}
        condition = f"{PARTITION_KEY} = :p"
        if upper is not None:
            condition += f" AND {ITEM_KEY} BETWEEN :lo AND :hi"
            values[":lo"] = {"B": lower}
            values[":hi"] = {"B": _bytes(upper)}
        elif lower:
            condition += f" AND {ITEM_KEY} {'>=' if inclusive else '>'} :lo"
            values[":lo"] = {"B": lower}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
            "Limit": self.scan_limit,
        }
        if keys_only:
            request["ProjectionExpression"] = f"{ITEM_KEY}"
        while True:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                raw = bytes(item[ITEM_KEY]["B"])
                key = raw.decode("utf-8")
                if (not inclusive and raw == lower) or not key.startswith(prefix):
                    continue
                yield key, b"" if keys_only else bytes(item[ITEM_VALUE]["B"])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def open_dynamo_kv(settings: Settings) -> DynamoKV:
    """The settings' table (``DATASETS_DYNAMODB_*``); credentials and region fall back to
    the AWS chain (environment, profile, instance role) when unset."""
    secret = settings.DATASETS_DYNAMODB_SECRET_ACCESS_KEY
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=settings.DATASETS_DYNAMODB_ENDPOINT,
            region_name=settings.DATASETS_DYNAMODB_REGION,
            aws_access_key_id=settings.DATASETS_DYNAMODB_ACCESS_KEY_ID,
            aws_secret_access_key=None if secret is None else secret.get_secret_value(),
            config=Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=16),
        )
    except NoRegionError:
        raise ConfigurationError(
            "DynamoDB needs a region: set DATASETS_DYNAMODB_REGION (or the AWS chain's)"
        ) from None
    return DynamoKV(
        client,
        settings.DATASETS_DYNAMODB_TABLE,
        scan_limit=settings.DATASETS_DYNAMODB_SCAN_LIMIT,
        create_table=settings.DATASETS_DYNAMODB_CREATE_TABLE,
        read_capacity=settings.DATASETS_DYNAMODB_READ_CAPACITY,
        write_capacity=settings.DATASETS_DYNAMODB_WRITE_CAPACITY,
    )
