"""Listing: ListBuckets, ListObjects, ListObjectsV2, per the S3 API reference."""

import urllib.parse

from conformance import case, check, equal, expect_error


def put(ctx, *keys):
    for key in keys:
        ctx.s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"x")


@case("ListObjectsV2 pages with MaxKeys and continuation tokens, in UTF-8 byte order")
def v2_paging(ctx):
    keys = ["a", "b", "c", "d", "e", "\u00e9", "z"]
    put(ctx, *keys)
    seen, token = [], None
    while True:
        kwargs = {"Bucket": ctx.bucket, "MaxKeys": 2}
        if token:
            kwargs["ContinuationToken"] = token
        page = ctx.s3.list_objects_v2(**kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        equal(page["KeyCount"], len(page.get("Contents", [])), "KeyCount")
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    equal(seen, sorted(keys, key=lambda k: k.encode("utf-8")), "every key once in byte order")


@case("Delimiter rolls keys up into CommonPrefixes and StartAfter skips")
def delimiter(ctx):
    put(ctx, "a/1", "a/2", "b/1", "c")
    page = ctx.s3.list_objects_v2(Bucket=ctx.bucket, Delimiter="/")
    equal([p["Prefix"] for p in page["CommonPrefixes"]], ["a/", "b/"], "CommonPrefixes")
    equal([o["Key"] for o in page["Contents"]], ["c"], "Contents")
    after = ctx.s3.list_objects_v2(Bucket=ctx.bucket, StartAfter="a/1")
    equal([o["Key"] for o in after["Contents"]], ["a/2", "b/1", "c"], "StartAfter")
    prefixed = ctx.s3.list_objects_v2(Bucket=ctx.bucket, Prefix="a/")
    equal([o["Key"] for o in prefixed["Contents"]], ["a/1", "a/2"], "Prefix")


@case("a page size of 0 answers an empty page that is not truncated, in every listing")
def max_keys_zero(ctx):
    put(ctx, "a", "b")
    page = ctx.s3.list_objects_v2(Bucket=ctx.bucket, MaxKeys=0)
    equal((page.get("Contents"), page["IsTruncated"], page["KeyCount"]), (None, False, 0), "v2")
    v1 = ctx.s3.list_objects(Bucket=ctx.bucket, MaxKeys=0)
    equal((v1.get("Contents"), v1["IsTruncated"]), (None, False), "v1")
    # A truncated page without a marker to go on from would stop a paginator ("same token twice") or loop it.
    versions = ctx.s3.list_object_versions(Bucket=ctx.bucket, MaxKeys=0)
    equal((versions.get("Versions"), versions["IsTruncated"], versions.get("NextKeyMarker")), (None, False, None), "versions")
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="mp")["UploadId"]
    ctx.s3.upload_part(Bucket=ctx.bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part")
    uploads = ctx.s3.list_multipart_uploads(Bucket=ctx.bucket, MaxUploads=0)
    equal((uploads.get("Uploads"), uploads["IsTruncated"], uploads.get("NextKeyMarker")), (None, False, None), "uploads")
    parts = ctx.s3.list_parts(Bucket=ctx.bucket, Key="mp", UploadId=upload_id, MaxParts=0)
    equal((parts.get("Parts"), parts["IsTruncated"]), (None, False), "parts")
    equal(len(ctx.s3.list_parts(Bucket=ctx.bucket, Key="mp", UploadId=upload_id)["Parts"]), 1, "the part is there for a page that asks for it")
    ctx.s3.abort_multipart_upload(Bucket=ctx.bucket, Key="mp", UploadId=upload_id)


@case("encoding-type=url encodes a space as %20 in keys, prefixes, delimiters and markers")
def url_encoding(ctx):
    put(ctx, "a b/c+d", "a b/e%f")
    r = ctx.raw("GET", f"/{ctx.bucket}", query="delimiter=%2F&encoding-type=url&list-type=2&prefix=a%20&start-after=a%20")
    equal(r.status, 200, "status")
    body = r.body.decode()
    check("<EncodingType>url</EncodingType>" in body, "EncodingType echoed")
    check("<Prefix>a%20</Prefix>" in body, f"Prefix encoded: {body}")
    check("<StartAfter>a%20</StartAfter>" in body, "StartAfter encoded")
    check("<Prefix>a%20b/</Prefix>" in body, "CommonPrefix encoded")
    check("+" not in body.split("<CommonPrefixes>")[0].split("<Name>")[1], "no + for a space")
    r1 = ctx.raw("GET", f"/{ctx.bucket}", query="encoding-type=url&marker=a%20b%2Fc%2Bd")
    check("<Marker>a%20b/c%2Bd</Marker>" in r1.body.decode(), f"v1 Marker encoded: {r1.body[:400]!r}")
    check("<Key>a%20b/e%25f</Key>" in r1.body.decode(), "v1 Key encoded")
    keys = [o["Key"] for o in ctx.s3.list_objects_v2(Bucket=ctx.bucket)["Contents"]]
    equal(keys, ["a b/c+d", "a b/e%f"], "boto3 decodes them back")


@case("a key XML 1.0 cannot carry is listed URL-encoded, or without encoding-type as a character reference as S3 does")
def xml_invalid_key(ctx):
    key = "ctl\x01char"
    ctx.s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"x")
    keys = [o["Key"] for o in ctx.s3.list_objects_v2(Bucket=ctx.bucket)["Contents"]]  # boto3 asks for url encoding itself
    equal(keys, [key], "listed and decoded")
    r = ctx.raw("GET", f"/{ctx.bucket}", query="list-type=2")
    check(b"\x01" not in r.body, f"never a raw control character in XML: {r.status} {r.body[:300]!r}")
    equal(r.status, 200, "without URL encoding the page is still answered")
    check(b"<Key>ctl&#x1;char</Key>" in r.body, f"the control character as a reference: {r.body[:300]!r}")


@case("ListBuckets pages with MaxBuckets and ContinuationToken and filters by Prefix")
def list_buckets(ctx):
    base = ctx.bucket
    names = [f"{base}-p{i}" for i in range(5)]
    for name in names:
        ctx.s3.create_bucket(Bucket=name)
    seen, token = [], None
    while True:
        kwargs = {"MaxBuckets": 2, "Prefix": f"{base}-p"}
        if token:
            kwargs["ContinuationToken"] = token
        page = ctx.s3.list_buckets(**kwargs)
        equal(page.get("Prefix"), f"{base}-p", "Prefix echoed")
        seen += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            break
    equal(seen, names, "every bucket with the prefix once, in order")
    paginated = [b["Name"] for p in ctx.s3.get_paginator("list_buckets").paginate(Prefix=f"{base}-p", PaginationConfig={"PageSize": 3}) for b in p["Buckets"]]
    equal(paginated, names, "boto3's paginator")
    everything = [b["Name"] for b in ctx.s3.list_buckets()["Buckets"]]
    check(set(names + [base]) <= set(everything), "without max-buckets every bucket")
    r = ctx.raw("GET", "/", query="max-buckets=0")
    equal(r.status, 400, "max-buckets=0 is refused")


@case("listing a missing bucket is 404 NoSuchBucket and a bad max-keys is 400 InvalidArgument")
def listing_errors(ctx):
    expect_error(lambda: ctx.s3.list_objects_v2(Bucket=ctx.bucket + "-none"), 404, "NoSuchBucket", "missing bucket")
    r = ctx.raw("GET", f"/{ctx.bucket}", query="list-type=2&max-keys=abc")
    equal(r.status, 400, "bad max-keys")
    check(b"InvalidArgument" in r.body, "InvalidArgument")


@case("CreateBucket of a bucket one owns, repeated in us-east-1, answers 200 and keeps its objects")
def create_again(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="kept", Body=b"x")
    equal(ctx.s3.create_bucket(Bucket=ctx.bucket)["ResponseMetadata"]["HTTPStatusCode"], 200, "status")
    equal([o["Key"] for o in ctx.s3.list_objects_v2(Bucket=ctx.bucket)["Contents"]], ["kept"], "objects kept")


@case("HeadBucket answers 200 for a bucket and 404 for none; GetBucketLocation names the region")
def head_bucket(ctx):
    equal(ctx.s3.head_bucket(Bucket=ctx.bucket)["ResponseMetadata"]["HTTPStatusCode"], 200, "existing")
    expect_error(lambda: ctx.s3.head_bucket(Bucket=ctx.bucket + "-none"), 404, None, "missing")
    location = ctx.s3.get_bucket_location(Bucket=ctx.bucket)["LocationConstraint"]
    check(location in (None, "us-east-1"), f"us-east-1 is an empty LocationConstraint: {location!r}")


@case("DeleteBucket of a bucket with objects is 409 BucketNotEmpty, of an empty one 204")
def delete_bucket(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"x")
    expect_error(lambda: ctx.s3.delete_bucket(Bucket=ctx.bucket), 409, "BucketNotEmpty", "not empty")
    ctx.s3.delete_object(Bucket=ctx.bucket, Key="k")
    equal(ctx.s3.delete_bucket(Bucket=ctx.bucket)["ResponseMetadata"]["HTTPStatusCode"], 204, "empty")
    expect_error(lambda: ctx.s3.delete_bucket(Bucket=ctx.bucket), 404, "NoSuchBucket", "gone")


@case("ListObjectVersions lists the current version of each key with VersionId null")
def list_versions(ctx):
    for key in ("a", "b"):
        ctx.s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"x")
    versions = ctx.s3.list_object_versions(Bucket=ctx.bucket)["Versions"]
    equal([(v["Key"], v["IsLatest"]) for v in versions], [("a", True), ("b", True)], "one current version per key")
    check(all(v["VersionId"] == "null" for v in versions), "unversioned buckets use VersionId null")


@case("ListObjects v1 pages with Marker and NextMarker when a delimiter is given")
def v1_paging(ctx):
    put(ctx, "a/1", "b", "c/2", "d")
    first = ctx.s3.list_objects(Bucket=ctx.bucket, Delimiter="/", MaxKeys=2)
    equal(([p["Prefix"] for p in first.get("CommonPrefixes", [])], [o["Key"] for o in first.get("Contents", [])]), (["a/"], ["b"]), "first page")
    equal((first["IsTruncated"], first["NextMarker"]), (True, "b"), "NextMarker")
    rest = ctx.s3.list_objects(Bucket=ctx.bucket, Delimiter="/", Marker=first["NextMarker"])
    equal(([p["Prefix"] for p in rest.get("CommonPrefixes", [])], [o["Key"] for o in rest.get("Contents", [])]), (["c/"], ["d"]), "second page")
