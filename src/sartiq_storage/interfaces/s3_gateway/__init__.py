"""lakeFS's S3 gateway on the dataset engine: bucket = repository, key = ``{ref}/{path}``."""

from sartiq_storage.interfaces.s3_gateway.app import S3Gateway, create_s3_gateway

__all__ = ["S3Gateway", "create_s3_gateway"]
