"""Objects: PutObject, GetObject, HeadObject, DeleteObject, CopyObject, GetObjectAttributes, per the S3 API reference."""

import base64
import hashlib
import zlib

from conformance import case, check, equal, expect_error

MiB = 1024 * 1024


def md5(data):
    return hashlib.md5(data).hexdigest()


@case("PutObject answers the body's MD5 as a quoted ETag and GetObject returns the bytes and stored headers")
def put_get(ctx):
    body = b"hello conformance"
    put = ctx.s3.put_object(
        Bucket=ctx.bucket, Key="k", Body=body, ContentType="text/plain", CacheControl="max-age=60",
        ContentDisposition="attachment", ContentLanguage="en", Metadata={"color": "blue"},
    )
    equal(put["ETag"], f'"{md5(body)}"', "ETag")
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="k")
    equal(got["Body"].read(), body, "body")
    equal(got["ContentType"], "text/plain", "Content-Type")
    equal(got["CacheControl"], "max-age=60", "Cache-Control")
    equal(got["ContentDisposition"], "attachment", "Content-Disposition")
    equal(got["ContentLanguage"], "en", "Content-Language")
    equal(got["Metadata"], {"color": "blue"}, "metadata")
    equal(got["ContentLength"], len(body), "Content-Length")


@case("HeadObject answers size, ETag and Last-Modified, and 404 for a missing key")
def head(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"12345")
    head = ctx.s3.head_object(Bucket=ctx.bucket, Key="k")
    equal(head["ContentLength"], 5, "ContentLength")
    equal(head["ETag"], f'"{md5(b"12345")}"', "ETag")
    check(head["LastModified"] is not None, "LastModified")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="missing"), 404, None, "HEAD of a missing key")


@case("GetObject of a missing key is 404 NoSuchKey and of a missing bucket 404 NoSuchBucket")
def missing(ctx):
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="missing"), 404, "NoSuchKey", "missing key")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket + "-none", Key="k"), 404, "NoSuchBucket", "missing bucket")


@case("Range reads answer 206 with Content-Range; a range past the end is 416 InvalidRange")
def ranges(ctx):
    body = bytes(range(256)) * 4
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=body)
    for spec, lo, hi in (("bytes=0-9", 0, 9), ("bytes=1000-", 1000, 1023), ("bytes=-24", 1000, 1023), ("bytes=10-5000", 10, 1023)):
        got = ctx.s3.get_object(Bucket=ctx.bucket, Key="k", Range=spec)
        equal(got["ResponseMetadata"]["HTTPStatusCode"], 206, f"{spec} status")
        equal(got["ContentRange"], f"bytes {lo}-{hi}/1024", f"{spec} Content-Range")
        equal(got["Body"].read(), body[lo:hi + 1], f"{spec} bytes")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="k", Range="bytes=5000-"), 416, "InvalidRange", "range past the end")


@case("an empty object reads back empty")
def empty(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="empty", Body=b"")
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="empty")
    equal(got["Body"].read(), b"", "body")
    equal(got["ETag"], f'"{md5(b"")}"', "ETag of nothing")


@case("an empty Content-Type on PutObject is accepted")
def empty_content_type(ctx):
    r = ctx.raw("PUT", f"/{ctx.bucket}/typeless", headers={"Content-Type": ""}, body=b"abc")
    equal(r.status, 200, f"PUT status ({r.body[:200]!r})")
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="typeless")
    equal(got["Body"].read(), b"abc", "body")


@case("Content-Encoding is stored exactly as sent")
def content_encoding(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="enc", Body=zlib.compress(b"x" * 100), ContentEncoding="deflate, gzip")
    equal(ctx.s3.head_object(Bucket=ctx.bucket, Key="enc")["ContentEncoding"], "deflate, gzip", "Content-Encoding")


@case("user metadata with non-ASCII characters comes back RFC 2047 encoded as S3 returns it")
def metadata_non_ascii(ctx):
    value = "café 日本"
    r = ctx.raw("PUT", f"/{ctx.bucket}/meta", headers={"x-amz-meta-word": value}, body=b"x")
    equal(r.status, 200, f"PUT with UTF-8 metadata ({r.body[:300]!r})")
    got = ctx.s3.head_object(Bucket=ctx.bucket, Key="meta")["Metadata"]["word"]
    expected = "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode() + "?="
    equal(got, expected, "metadata value")
    ctx.s3.put_object(Bucket=ctx.bucket, Key="encoded", Body=b"x", Metadata={"word": expected})
    equal(ctx.s3.head_object(Bucket=ctx.bucket, Key="encoded")["Metadata"]["word"], expected, "an RFC 2047 value round-trips")
    ctx.s3.put_object(Bucket=ctx.bucket, Key="ascii", Body=b"x", Metadata={"word": "plain text"})
    equal(ctx.s3.head_object(Bucket=ctx.bucket, Key="ascii")["Metadata"]["word"], "plain text", "ASCII stays as it is")


@case("GetObject with a key that is not valid UTF-8 is 400")
def invalid_utf8_key(ctx):
    r = ctx.raw("GET", f"/{ctx.bucket}/bad%C3%28key")
    equal(r.status, 400, "status")
    check(b"<Code>InvalidURI</Code>" in r.body, f"InvalidURI in {r.body[:200]!r}")


@case("an Expect header other than 100-continue is ignored")
def expect_other(ctx):
    r = ctx.raw("PUT", f"/{ctx.bucket}/expect", headers={"Expect": "something-else"}, body=b"data")
    equal(r.status, 200, f"PUT status ({r.body[:200]!r})")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="expect")["Body"].read(), b"data", "body")


@case("DeleteObject answers 204 whether or not the key exists")
def delete(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"x")
    equal(ctx.s3.delete_object(Bucket=ctx.bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"], 204, "existing")
    equal(ctx.s3.delete_object(Bucket=ctx.bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"], 204, "missing")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="k"), 404, "NoSuchKey", "after delete")


@case("CopyObject copies bytes and metadata, or replaces metadata with MetadataDirective REPLACE")
def copy(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="src", Body=b"copy me", ContentType="text/plain", Metadata={"a": "1"})
    result = ctx.s3.copy_object(Bucket=ctx.bucket, Key="dst", CopySource={"Bucket": ctx.bucket, "Key": "src"})
    equal(result["CopyObjectResult"]["ETag"], f'"{md5(b"copy me")}"', "ETag")
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="dst")
    equal((got["Body"].read(), got["ContentType"], got["Metadata"]), (b"copy me", "text/plain", {"a": "1"}), "copied")
    ctx.s3.copy_object(Bucket=ctx.bucket, Key="dst2", CopySource={"Bucket": ctx.bucket, "Key": "src"}, MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="application/json")
    head = ctx.s3.head_object(Bucket=ctx.bucket, Key="dst2")
    equal((head["Metadata"], head["ContentType"]), ({"b": "2"}, "application/json"), "replaced")
    expect_error(lambda: ctx.s3.copy_object(Bucket=ctx.bucket, Key="x", CopySource={"Bucket": ctx.bucket, "Key": "none"}), 404, "NoSuchKey", "missing source")


@case("GetObjectAttributes of an object written whole gives ETag, Checksum, StorageClass and ObjectSize")
def attributes_plain(ctx):
    body = b"attributes"
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=body, ChecksumAlgorithm="SHA256")
    got = ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
    equal(got["ETag"], md5(body), "ETag (unquoted)")
    equal(got["Checksum"]["ChecksumSHA256"], base64.b64encode(hashlib.sha256(body).digest()).decode(), "SHA-256")
    equal(got["StorageClass"], "STANDARD", "StorageClass")
    equal(got["ObjectSize"], len(body), "ObjectSize")
    check("ObjectParts" not in got, "no ObjectParts for an object written whole")
    check(got["LastModified"] is not None, "Last-Modified")
    only = ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", ObjectAttributes=["ObjectSize"])
    check("ETag" not in only and only["ObjectSize"] == len(body), "only what was asked for")


@case("GetObjectAttributes of a multipart object pages ObjectParts with MaxParts and PartNumberMarker")
def attributes_multipart(ctx):
    parts = [b"a" * (5 * MiB), b"b" * (5 * MiB), b"c" * 100]
    upload = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="mp", ChecksumAlgorithm="CRC32")
    done = []
    for i, body in enumerate(parts, start=1):
        r = ctx.s3.upload_part(Bucket=ctx.bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=i, Body=body, ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    completed = ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={"Parts": done})
    first = ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="mp", ObjectAttributes=["ObjectParts", "Checksum", "ETag"], MaxParts=2)
    # CompleteMultipartUpload, GET and HEAD write a composite checksum with its part count; GetObjectAttributes without.
    check(completed["ChecksumCRC32"].endswith("-3"), f"completion's checksum {completed['ChecksumCRC32']}")
    equal(first["Checksum"]["ChecksumCRC32"], completed["ChecksumCRC32"][: -len("-3")], "the composite checksum without -3")
    op = first["ObjectParts"]
    equal(op["TotalPartsCount"], 3, "TotalPartsCount")
    equal(op["IsTruncated"], True, "first page truncated")
    equal([p["PartNumber"] for p in op["Parts"]], [1, 2], "first page")
    equal(op["Parts"][0]["Size"], 5 * MiB, "part size")
    equal(op["Parts"][0]["ChecksumCRC32"], done[0]["ChecksumCRC32"], "part checksum")
    equal(first["Checksum"]["ChecksumType"], "COMPOSITE", "ChecksumType")
    check(first["ETag"].endswith("-3"), f"multipart ETag {first['ETag']}")
    rest = ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2, PartNumberMarker=op["NextPartNumberMarker"])
    equal([p["PartNumber"] for p in rest["ObjectParts"]["Parts"]], [3], "second page")
    equal(rest["ObjectParts"]["IsTruncated"], False, "last page")


@case("GetObjectAttributes with a VersionId answers for that version, a noncurrent one and the null one included")
def attributes_versioned(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"before versioning")
    ctx.s3.put_bucket_versioning(Bucket=ctx.bucket, VersioningConfiguration={"Status": "Enabled"})
    old = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"old")["VersionId"]
    new = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"newer body")["VersionId"]
    wanted = ["ETag", "ObjectSize"]
    for version_id, body, what in [(old, b"old", "a noncurrent version"), (new, b"newer body", "the current version named"), ("null", b"before versioning", "the null version")]:
        got = ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", VersionId=version_id, ObjectAttributes=wanted)
        equal((got["ETag"], got["ObjectSize"], got["VersionId"]), (md5(body), len(body), version_id), what)
    current = ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", ObjectAttributes=wanted)
    equal((current["ETag"], current["VersionId"]), (md5(b"newer body"), new), "no VersionId: the current version")
    expect_error(lambda: ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", VersionId="0" * 24, ObjectAttributes=wanted), 404, "NoSuchVersion", "an id the key does not have")
    marker = ctx.s3.delete_object(Bucket=ctx.bucket, Key="k")["VersionId"]
    expect_error(lambda: ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", ObjectAttributes=wanted), 404, "NoSuchKey", "a delete marker on top")
    expect_error(lambda: ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", VersionId=marker, ObjectAttributes=wanted), 405, "MethodNotAllowed", "the delete marker named")
    equal(ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="k", VersionId=old, ObjectAttributes=wanted)["ETag"], md5(b"old"), "a version under a delete marker")


@case("GetObjectAttributes errors are NoSuchKey, and InvalidArgument for an unknown attribute")
def attributes_errors(ctx):
    expect_error(lambda: ctx.s3.get_object_attributes(Bucket=ctx.bucket, Key="missing", ObjectAttributes=["ETag"]), 404, "NoSuchKey", "missing key")
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"x")
    r = ctx.raw("GET", f"/{ctx.bucket}/k", query="attributes", headers={"x-amz-object-attributes": "Colour"})
    equal(r.status, 400, "unknown attribute status")
    check(b"<Code>InvalidArgument</Code>" in r.body, f"InvalidArgument in {r.body[:200]!r}")


@case("GetObject and HeadObject with PartNumber read one part with PartsCount and Content-Range")
def part_number(ctx):
    parts = [b"1" * (5 * MiB), b"2" * 1234]
    upload = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="mp")
    done = []
    for i, body in enumerate(parts, start=1):
        r = ctx.s3.upload_part(Bucket=ctx.bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=i, Body=body)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={"Parts": done})
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="mp", PartNumber=2)
    equal(got["ResponseMetadata"]["HTTPStatusCode"], 206, "status")
    equal(got["Body"].read(), parts[1], "the part's bytes")
    equal(got["PartsCount"], 2, "PartsCount")
    equal(got["ContentRange"], f"bytes {5 * MiB}-{5 * MiB + 1233}/{5 * MiB + 1234}", "Content-Range")
    head = ctx.s3.head_object(Bucket=ctx.bucket, Key="mp", PartNumber=1)
    equal((head["ContentLength"], head["PartsCount"]), (5 * MiB, 2), "HEAD of part 1")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="mp", PartNumber=3), 400, "InvalidPart", "a part past the last")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="mp", PartNumber=3), 400, None, "HEAD of a part past the last")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="mp", PartNumber=1, Range="bytes=0-1"), 400, "InvalidRequest", "PartNumber with a Range")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="mp", PartNumber=0), 400, "InvalidArgument", "part 0")
    whole = ctx.s3.get_object(Bucket=ctx.bucket, Key="mp")
    check("PartsCount" not in whole, "a whole read names no part count")


@case("PartNumber on an object written whole: part 1 is the object, part 2 is 400 InvalidPart")
def part_number_plain(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"0123456789")
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="k", PartNumber=1)
    equal(got["Body"].read(), b"0123456789", "the object")
    equal(got.get("ContentRange"), "bytes 0-9/10", "Content-Range")
    check("PartsCount" not in got, "no PartsCount")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="k", PartNumber=2), 400, "InvalidPart", "part 2")


@case("DeleteObjects deletes a batch and reports each key, quietly when asked")
def delete_objects(ctx):
    for key in ("a", "b", "c"):
        ctx.s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"x")
    result = ctx.s3.delete_objects(Bucket=ctx.bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "missing"}]})
    equal(sorted(d["Key"] for d in result["Deleted"]), ["a", "b", "missing"], "Deleted, a missing key included")
    quiet = ctx.s3.delete_objects(Bucket=ctx.bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    check("Deleted" not in quiet, "Quiet reports no successes")
    check("Contents" not in ctx.s3.list_objects_v2(Bucket=ctx.bucket), "all gone")


@case("object tagging is put, read, counted on GET and deleted")
def tagging(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"x", Tagging="a=1&b=two")
    equal(sorted((t["Key"], t["Value"]) for t in ctx.s3.get_object_tagging(Bucket=ctx.bucket, Key="k")["TagSet"]), [("a", "1"), ("b", "two")], "tags from PutObject")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k")["TagCount"], 2, "x-amz-tagging-count")
    ctx.s3.put_object_tagging(Bucket=ctx.bucket, Key="k", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    equal(ctx.s3.get_object_tagging(Bucket=ctx.bucket, Key="k")["TagSet"], [{"Key": "c", "Value": "3"}], "replaced")
    ctx.s3.delete_object_tagging(Bucket=ctx.bucket, Key="k")
    equal(ctx.s3.get_object_tagging(Bucket=ctx.bucket, Key="k")["TagSet"], [], "deleted")


@case("GetObject response-* parameters override the stored headers")
def response_overrides(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"x", ContentType="text/plain")
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="k", ResponseContentType="application/json", ResponseContentDisposition="attachment; filename=x.json", ResponseCacheControl="no-cache")
    equal((got["ContentType"], got["ContentDisposition"], got["CacheControl"]), ("application/json", "attachment; filename=x.json", "no-cache"), "overridden")


@case("a presigned GET URL reads the object without credentials and a tampered one is 403")
def presigned(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"presigned")
    url = ctx.s3.generate_presigned_url("get_object", Params={"Bucket": ctx.bucket, "Key": "k"}, ExpiresIn=300)
    import urllib.request
    import urllib.error
    with urllib.request.urlopen(url) as response:
        equal(response.read(), b"presigned", "body")
    try:
        urllib.request.urlopen(url.replace("/k?", "/other?"))
        raise AssertionError("a tampered URL was served")
    except urllib.error.HTTPError as err:
        equal(err.code, 403, "tampered URL")
