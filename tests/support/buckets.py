"""Bucket set-up that a developer does by hand on MinIO, done on the test S3 servers."""

from __future__ import annotations

import json

from sartiq_storage.testing.moto_server import moto_client


def public_read(endpoint: str, bucket: str, key_id: str, secret: str) -> None:
    """Anyone may GET the bucket's objects (what `mc anonymous set download` does)."""
    client = moto_client(endpoint, key_id, secret)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
