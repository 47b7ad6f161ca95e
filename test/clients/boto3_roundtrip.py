"""A boto3 round trip through an S3 endpoint, as the data tools that use boto3 drive it.

Run by test/clients/boto3.test.ts with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY:

    python3 boto3_roundtrip.py --endpoint URL --bucket NAME --big-file PATH --big-sha256 HEX --workdir DIR [--ca-bundle PEM]

With --ca-bundle the endpoint is https:// and boto3 trusts that CA (verify=PEM), as users of a private CA
configure it; plain HTTP requests to presigned URLs trust it too.

Prints one line per step; on the first mismatch prints "FAIL: <what>" to stderr and exits 1.
"""

import argparse
import hashlib
import os
import re
import ssl
import sys
import urllib.error
import urllib.request

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


def plain_request(url, method="GET", data=None, headers=None, cafile=None):
    """A request with urllib and nothing else, as a user hands a presigned URL to any HTTP client: (status, body)."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def presign_form(url):
    if "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url:
        return "SigV4"
    if "AWSAccessKeyId=" in url:
        return "SigV2"
    return "unknown"


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
    parser.add_argument("--ca-bundle")
    args = parser.parse_args()
    step(f"boto3 {boto3.__version__} botocore {botocore.__version__} over {args.endpoint.split(':')[0]}")

    def client(**config):
        return boto3.client(
            "s3",
            endpoint_url=args.endpoint,
            region_name="us-east-1",
            verify=args.ca_bundle if args.ca_bundle else None,
            # One attempt: a request that only succeeds on retry is a server bug this test should see.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}, **config),
        )

    s3 = client()
    bucket = args.bucket
    # What each upload put on the wire, to show which body framing and checksum the server was given.
    framing = {}

    def record(request, event_name, **_):
        operation = event_name.rsplit(".", 1)[-1]
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        checksum = sorted(k for k in headers if k.startswith("x-amz-checksum-"))
        framing.setdefault(operation, (headers.get("x-amz-content-sha256"), headers.get("x-amz-trailer"), checksum))

    s3.meta.events.register("before-send.s3.PutObject", record)
    s3.meta.events.register("before-send.s3.UploadPart", record)

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

    copied = s3.copy_object(Bucket=bucket, Key="copies/hello.txt", CopySource={"Bucket": bucket, "Key": "docs/hello.txt"})
    check(copied["CopyObjectResult"]["ETag"] == expected_etag, f"copy_object ETag {copied['CopyObjectResult']['ETag']}")
    got = s3.get_object(Bucket=bucket, Key="copies/hello.txt")
    check(got["Body"].read() == body, "the copy's bytes differ from the source")
    check(got["Metadata"] == metadata and got["ContentType"] == "text/plain; charset=utf-8", f"COPY directive kept {got['Metadata']!r} {got['ContentType']!r}")
    s3.copy_object(
        Bucket=bucket, Key="copies/hello.txt", CopySource={"Bucket": bucket, "Key": "copies/hello.txt"},
        MetadataDirective="REPLACE", Metadata={"stage": "replaced"}, ContentType="application/octet-stream",
    )
    head = s3.head_object(Bucket=bucket, Key="copies/hello.txt")
    check(head["Metadata"] == {"stage": "replaced"}, f"REPLACE onto itself left metadata {head['Metadata']!r}")
    check(head["ContentType"] == "application/octet-stream" and head["ContentLength"] == len(body), f"after REPLACE: {head['ContentType']!r} {head['ContentLength']}")
    step("copy_object ok (COPY to a new key, REPLACE onto itself)")

    # Presigned URLs exactly as users get them (boto3 signs them with SigV2 query parameters by default
    # when no signature_version is configured), and with signature_version="s3v4".
    for name, presigner in [("default", s3), ("s3v4", client(signature_version="s3v4"))]:
        url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/hello.txt"}, ExpiresIn=600)
        status, data = plain_request(url, cafile=args.ca_bundle)
        check(status == 200, f"presigned GET ({name}, {presign_form(url)}) answered {status}: {data[:500]!r}")
        check(data == body, f"presigned GET ({name}) returned different bytes")
        put_body = os.urandom(5000)
        key = f"presigned/{name}.bin"
        url = presigner.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "application/octet-stream"}, ExpiresIn=600,
        )
        status, data = plain_request(url, method="PUT", data=put_body, headers={"Content-Type": "application/octet-stream"}, cafile=args.ca_bundle)
        check(status == 200, f"presigned PUT ({name}, {presign_form(url)}) answered {status}: {data[:500]!r}")
        check(s3.get_object(Bucket=bucket, Key=key)["Body"].read() == put_body, f"presigned PUT ({name}) stored different bytes")
        s3.delete_object(Bucket=bucket, Key=key)
        url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/hello.txt"}, ExpiresIn=600)
        status, data = plain_request(url.replace("docs/hello.txt", "docs/a.txt"), cafile=args.ca_bundle)
        check(status == 403, f"a presigned URL ({name}) used for another key answered {status}")
        step(f"presigned GET and PUT with urllib ok ({name}: {presign_form(url)})")

    # Small thresholds make upload_file and download_file use multipart and ranged GETs on a modest file.
    transfer = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
    big_size = os.path.getsize(args.big_file)
    parts = -(-big_size // (5 * 1024 * 1024))
    s3.upload_file(args.big_file, bucket, "big/blob.bin", Config=transfer)
    head = s3.head_object(Bucket=bucket, Key="big/blob.bin")
    check(head["ContentLength"] == big_size, f"uploaded object is {head['ContentLength']} bytes, expected {big_size}")
    check(re.fullmatch(rf'"[0-9a-f]{{32}}-{parts}"', head["ETag"]) is not None, f"multipart ETag {head['ETag']}, expected {parts} parts")
    step(f"upload_file ok (ETag {head['ETag']})")
    for operation, (sha256, trailer, checksum) in sorted(framing.items()):
        step(f"{operation} sent x-amz-content-sha256={sha256} x-amz-trailer={trailer} checksum headers={checksum}")
    version = tuple(int(n) for n in botocore.__version__.split(".")[:2])
    if version >= (1, 36):
        # The 2025 defaults: a CRC32 on every upload; over HTTPS in an aws-chunked trailer, over HTTP in a header.
        for operation in ("PutObject", "UploadPart"):
            sha256, trailer, checksum = framing[operation]
            if args.endpoint.startswith("https:"):
                check(sha256 == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" and trailer == "x-amz-checksum-crc32", f"{operation} over https was not sent with a trailer: {framing[operation]}")
            else:
                check(checksum == ["x-amz-checksum-crc32"], f"{operation} over http carried no CRC32 header: {framing[operation]}")
    down = os.path.join(args.workdir, "big.down")
    s3.download_file(bucket, "big/blob.bin", down, Config=transfer)
    down_size = os.path.getsize(down)
    check(down_size == big_size, f"download_file wrote {down_size} bytes, expected {big_size}")
    check(sha256_file(down) == args.big_sha256, "download_file bytes differ from the uploaded file (SHA-256)")
    os.remove(down)
    step("download_file ok")

    all_keys, _, _ = list_all(s3, bucket)
    check(len(all_keys) == 8, f"expected 8 keys before delete_objects, got {all_keys}")
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
