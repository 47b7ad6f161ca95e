"""A boto3 round trip through an S3 endpoint, as the data tools that use boto3 drive it.

Run by test/clients/boto3.test.ts with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY:

    python3 boto3_roundtrip.py --endpoint URL --bucket NAME --big-file PATH --big-sha256 HEX --workdir DIR

Prints one line per step; on the first mismatch prints "FAIL: <what>" to stderr and exits 1.
"""

import argparse
import hashlib
import os
import re
import sys

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def step(message):
    print(message, flush=True)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def list_all(s3, bucket, **kwargs):
    """Every key and common prefix over all pages of a ListObjectsV2 paginator."""
    keys, prefixes, pages = [], [], 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, **kwargs):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--big-file", required=True)
    parser.add_argument("--big-sha256", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    step(f"boto3 {boto3.__version__} botocore {botocore.__version__}")

    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        # One attempt: a request that only succeeds on retry is a server bug this test should see.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
    )
    bucket = args.bucket

    s3.create_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(bucket in names, f"list_buckets does not show {bucket}: {names}")
    step("create_bucket ok")

    body = os.urandom(70_000) + "unicode ✓ text\n".encode()
    metadata = {"owner": "tessera-test", "purpose": "round-trip"}
    put = s3.put_object(Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain; charset=utf-8", Metadata=metadata)
    expected_etag = f'"{hashlib.md5(body).hexdigest()}"'
    check(put["ETag"] == expected_etag, f"put_object ETag {put['ETag']} != {expected_etag}")
    step("put_object ok")

    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    data = got["Body"].read()
    check(len(data) == len(body), f"get_object returned {len(data)} bytes, expected {len(body)}")
    check(data == body, "get_object bytes differ from what was put")
    check(got["ContentType"] == "text/plain; charset=utf-8", f"ContentType {got['ContentType']!r}")
    check(got["Metadata"] == metadata, f"Metadata {got['Metadata']!r} != {metadata!r}")
    check(got["ETag"] == expected_etag, f"get_object ETag {got['ETag']}")
    check(got["ContentLength"] == len(body), f"get_object ContentLength {got['ContentLength']}")
    head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
    check(head["Metadata"] == metadata and head["ContentLength"] == len(body), f"head_object {head['Metadata']!r} {head['ContentLength']}")
    step("get_object and head_object ok")

    ranged = s3.get_object(Bucket=bucket, Key="docs/hello.txt", Range="bytes=1000-1999")
    check(ranged["ResponseMetadata"]["HTTPStatusCode"] == 206, f"range status {ranged['ResponseMetadata']['HTTPStatusCode']}")
    check(ranged["ContentRange"] == f"bytes 1000-1999/{len(body)}", f"ContentRange {ranged.get('ContentRange')!r}")
    check(ranged["Body"].read() == body[1000:2000], "range GET bytes differ")
    suffix = s3.get_object(Bucket=bucket, Key="docs/hello.txt", Range="bytes=-10")
    check(suffix["Body"].read() == body[-10:], "suffix range bytes=-10 differs")
    step("range get_object ok")

    for key in ["docs/a.txt", "docs/b c+d.txt", "top.txt", "images/x/1.bin", "images/y.bin"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    keys, prefixes, pages = list_all(s3, bucket, Delimiter="/", PaginationConfig={"PageSize": 2})
    check(keys == ["top.txt"], f"top-level keys {keys}")
    check(prefixes == ["docs/", "images/"], f"top-level prefixes {prefixes}")
    check(pages >= 2, f"PageSize 2 over 3 entries should take 2 pages, took {pages}")
    keys, prefixes, _ = list_all(s3, bucket, Prefix="docs/", Delimiter="/", PaginationConfig={"PageSize": 2})
    check(keys == ["docs/a.txt", "docs/b c+d.txt", "docs/hello.txt"], f"keys under docs/ {keys}")
    check(prefixes == [], f"prefixes under docs/ {prefixes}")
    keys, prefixes, _ = list_all(s3, bucket, Prefix="images/", Delimiter="/")
    check(keys == ["images/y.bin"] and prefixes == ["images/x/"], f"under images/: {keys} {prefixes}")
    step("list_objects_v2 paginator with Delimiter ok")

    big_size = os.path.getsize(args.big_file)
    s3.upload_file(args.big_file, bucket, "big/blob.bin", Config=TransferConfig())
    head = s3.head_object(Bucket=bucket, Key="big/blob.bin")
    check(head["ContentLength"] == big_size, f"uploaded object is {head['ContentLength']} bytes, expected {big_size}")
    check(re.fullmatch(r'"[0-9a-f]{32}-\d+"', head["ETag"]) is not None, f"multipart ETag {head['ETag']}")
    step(f"upload_file ok (ETag {head['ETag']})")
    down = os.path.join(args.workdir, "big.down")
    s3.download_file(bucket, "big/blob.bin", down, Config=TransferConfig())
    down_size = os.path.getsize(down)
    check(down_size == big_size, f"download_file wrote {down_size} bytes, expected {big_size}")
    check(sha256_file(down) == args.big_sha256, "download_file bytes differ from the uploaded file (SHA-256)")
    os.remove(down)
    step("download_file ok")

    all_keys, _, _ = list_all(s3, bucket)
    check(len(all_keys) == 7, f"expected 7 keys before delete_objects, got {all_keys}")
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in all_keys]})
    check(not deleted.get("Errors"), f"delete_objects errors {deleted.get('Errors')}")
    check(sorted(d["Key"] for d in deleted.get("Deleted", [])) == sorted(all_keys), f"delete_objects Deleted {deleted.get('Deleted')}")
    remaining = s3.list_objects_v2(Bucket=bucket)
    check(remaining["KeyCount"] == 0, f"objects left after delete_objects: {remaining.get('Contents')}")
    step("delete_objects ok")

    s3.delete_bucket(Bucket=bucket)
    try:
        s3.head_bucket(Bucket=bucket)
        fail("head_bucket succeeds after delete_bucket")
    except ClientError as err:
        status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        check(status == 404, f"head_bucket after delete_bucket answered {status}")
    step("delete_bucket ok")
    step("OK")


if __name__ == "__main__":
    try:
        main()
    except ClientError as err:
        fail(f"S3 error {err.response.get('Error')} status {err.response['ResponseMetadata'].get('HTTPStatusCode')}: {err}")
    except Exception as err:  # noqa: BLE001 - any other failure is a test failure with its type
        fail(f"{type(err).__name__}: {err}")
