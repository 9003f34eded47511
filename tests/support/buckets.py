"""Bucket set-up that a developer does by hand on MinIO, done on moto's server for tests."""

from __future__ import annotations

import json

import boto3


def public_read(endpoint: str, bucket: str, key_id: str, secret: str) -> None:
    """Anyone may GET the bucket's objects (what `mc anonymous set download` does)."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )
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
