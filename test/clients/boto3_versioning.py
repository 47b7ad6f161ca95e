"""Bucket versioning as boto3 users drive it: the client API and the resource API's version collections.

Run by test/clients/versioning-clients.test.ts with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY:

    python3 boto3_versioning.py --endpoint URL --bucket NAME

Prints one line per step and exits non-zero with "FAIL: <what>" on the first mismatch.
"""

import argparse
import hashlib
import io
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def step(message):
    print(message, flush=True)


def expect_error(call, status, code, what):
    try:
        call()
    except ClientError as err:
        got_status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        got_code = err.response.get("Error", {}).get("Code")
        check(got_status == status and (code is None or got_code == code), f"{what}: {got_status} {got_code}, expected {status} {code}")
        return err
    raise Mismatch(f"{what}: succeeded, expected {status} {code}")


def body_of(s3, bucket, key, version_id=None):
    extra = {} if version_id is None else {"VersionId": version_id}
    return s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()


def listing(s3, bucket, page_size):
    """Every version and marker through the paginator, in S3's order per page (key, newest first)."""
    rows = []
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": page_size})
    for page in pages:
        entries = [(v["Key"], v["VersionId"], v["IsLatest"], False, v["LastModified"]) for v in page.get("Versions", [])]
        entries += [(m["Key"], m["VersionId"], m["IsLatest"], True, m["LastModified"]) for m in page.get("DeleteMarkers", [])]
        # botocore splits versions and markers into two lists; key, latest first, then newest restores the order.
        entries.sort(key=lambda e: (e[0].encode(), not e[2], -e[4].timestamp()))
        rows += [e[:4] for e in entries]
    return rows


def run(endpoint, bucket):
    s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
    s3.create_bucket(Bucket=bucket)
    check("Status" not in s3.get_bucket_versioning(Bucket=bucket), "a new bucket has no versioning status")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    check(s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled", "versioning enabled")
    step("versioning enabled")

    bodies = [b"first", bytes(range(256)) * 1200, b"third"]
    ids = [s3.put_object(Bucket=bucket, Key="data/model.bin", Body=body)["VersionId"] for body in bodies]
    check(len(set(ids)) == 3 and all(i and i != "null" for i in ids), f"three distinct version ids: {ids}")
    big = bytes((i * 7) % 251 for i in range(6 * MiB + 123))
    s3.upload_fileobj(io.BytesIO(big), bucket, "data/model.bin", Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    head = s3.head_object(Bucket=bucket, Key="data/model.bin")
    ids.append(head["VersionId"])
    bodies.append(big)
    check(head["ContentLength"] == len(big) and head["ETag"].endswith('-2"'), "multipart upload is the current version")
    for version_id, body in zip(ids, bodies):
        got = body_of(s3, bucket, "data/model.bin", version_id)
        check(hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), f"version {version_id} reads back byte-identical")
    step("four versions read back by id, one of them multipart")

    for page_size in (1, 3, 1000):
        rows = listing(s3, bucket, page_size)
        expected = [("data/model.bin", vid, i == 0, False) for i, vid in enumerate(reversed(ids))]
        check(rows == expected, f"list_object_versions pages of {page_size}: {rows}")
    step("list_object_versions paginator in S3 order with IsLatest")

    deleted = s3.delete_object(Bucket=bucket, Key="data/model.bin")
    check(deleted.get("DeleteMarker") is True and deleted.get("VersionId"), "delete writes a marker")
    marker_id = deleted["VersionId"]
    err = expect_error(lambda: s3.get_object(Bucket=bucket, Key="data/model.bin"), 404, "NoSuchKey", "GET behind a delete marker")
    check(err.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true", "404 names the delete marker")
    expect_error(lambda: s3.head_object(Bucket=bucket, Key="data/model.bin"), 404, None, "HEAD behind a delete marker")
    expect_error(lambda: s3.get_object(Bucket=bucket, Key="data/model.bin", VersionId=marker_id), 405, "MethodNotAllowed", "GET of a marker by id")
    check(s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0, "a key behind a marker is not listed")
    step("delete marker: 404, 405 by id, hidden from ListObjectsV2")

    restored = s3.delete_object(Bucket=bucket, Key="data/model.bin", VersionId=marker_id)
    check(restored.get("DeleteMarker") is True and restored.get("VersionId") == marker_id, "deleting the marker by id")
    check(body_of(s3, bucket, "data/model.bin") == big, "removing the marker restores the newest version")
    step("removing the marker restores the object")

    copied = s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "data/model.bin", "VersionId": ids[0]})
    check(copied.get("CopySourceVersionId") == ids[0] and copied.get("VersionId"), "copy_object from a named version")
    check(body_of(s3, bucket, "copy.bin") == bodies[0], "the copy has the named version's bytes")
    step("copy_object from an old version")

    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    check("VersionId" not in s3.put_object(Bucket=bucket, Key="copy.bin", Body=b"null one"), "a suspended write answers no version id, as S3 does")
    check("VersionId" not in s3.put_object(Bucket=bucket, Key="copy.bin", Body=b"null two"), "and replaces the null version")
    rows = [r for r in listing(s3, bucket, 1000) if r[0] == "copy.bin"]
    check([(r[1], r[2]) for r in rows] == [("null", True), (copied["VersionId"], False)], f"one null version beside the versioned copy: {rows}")
    check(body_of(s3, bucket, "copy.bin", "null") == b"null two", "the null version by id")
    step("suspended versioning: the null version is replaced")

    resource = boto3.resource("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
    versions = list(resource.Bucket(bucket).object_versions.all())
    check(len(versions) == 4 + 2, f"object_versions lists every version: {len(versions)}")
    resource.Bucket(bucket).object_versions.delete()
    check(list(resource.Bucket(bucket).object_versions.all()) == [], "object_versions.delete() removes every version")
    s3.delete_bucket(Bucket=bucket)
    step("object_versions.delete() empties the bucket, which can then be deleted")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    args = parser.parse_args()
    try:
        run(args.endpoint, args.bucket)
    except Mismatch as err:
        print(f"FAIL: {err}", flush=True)
        sys.exit(1)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
