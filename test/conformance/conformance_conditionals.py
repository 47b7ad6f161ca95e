"""Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since on reads and writes, per the S3 API reference."""

import datetime

from conformance import case, check, equal, expect_error


@case("GetObject with If-Match answers 200 for the ETag and 412 PreconditionFailed otherwise")
def if_match(ctx):
    etag = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"v1")["ETag"]
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k", IfMatch=etag)["Body"].read(), b"v1", "match")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="k", IfMatch='"0000"'), 412, "PreconditionFailed", "no match")


@case("GetObject with If-None-Match answers 304 for the ETag")
def if_none_match(ctx):
    etag = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"v1")["ETag"]
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="k", IfNoneMatch=etag), 304, None, "match")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k", IfNoneMatch='"0000"')["Body"].read(), b"v1", "other ETag")


@case("If-Modified-Since and If-Unmodified-Since compare with Last-Modified")
def dates(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"v1")
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="k", IfModifiedSince=future), 304, None, "not modified since tomorrow")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k", IfModifiedSince=past)["Body"].read(), b"v1", "modified since 2000")
    expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="k", IfUnmodifiedSince=past), 412, "PreconditionFailed", "modified since 2000")
    equal(ctx.s3.head_object(Bucket=ctx.bucket, Key="k", IfUnmodifiedSince=future)["ContentLength"], 2, "unmodified since tomorrow")


@case("HeadObject preconditions answer 412 and 304 without a body")
def head_conditions(ctx):
    etag = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"v1")["ETag"]
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="k", IfMatch='"0000"'), 412, None, "If-Match")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="k", IfNoneMatch=etag), 304, None, "If-None-Match")


@case("PutObject with If-None-Match star creates once and then answers 412")
def exclusive_create(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"first", IfNoneMatch="*")
    expect_error(lambda: ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"second", IfNoneMatch="*"), 412, "PreconditionFailed", "second create")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k")["Body"].read(), b"first", "the first write stays")


@case("PutObject with If-Match writes over the named ETag only; on a missing key it is 404 NoSuchKey")
def if_match_write(ctx):
    etag = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"v1")["ETag"]
    expect_error(lambda: ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"v2", IfMatch='"0000"'), 412, "PreconditionFailed", "wrong ETag")
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"v2", IfMatch=etag)
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k")["Body"].read(), b"v2", "written")
    expect_error(lambda: ctx.s3.put_object(Bucket=ctx.bucket, Key="missing", Body=b"x", IfMatch=etag), 404, "NoSuchKey", "missing key")


@case("CompleteMultipartUpload with If-None-Match star refuses an existing key")
def exclusive_complete(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"exists")
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="k")["UploadId"]
    etag = ctx.s3.upload_part(Bucket=ctx.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"new")["ETag"]
    expect_error(
        lambda: ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, IfNoneMatch="*"),
        412, "PreconditionFailed", "existing key",
    )
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k")["Body"].read(), b"exists", "untouched")


@case("CopyObject honours x-amz-copy-source-if-match")
def copy_conditions(ctx):
    etag = ctx.s3.put_object(Bucket=ctx.bucket, Key="src", Body=b"v1")["ETag"]
    expect_error(lambda: ctx.s3.copy_object(Bucket=ctx.bucket, Key="dst", CopySource={"Bucket": ctx.bucket, "Key": "src"}, CopySourceIfMatch='"0000"'), 412, "PreconditionFailed", "wrong ETag")
    ctx.s3.copy_object(Bucket=ctx.bucket, Key="dst", CopySource={"Bucket": ctx.bucket, "Key": "src"}, CopySourceIfMatch=etag)
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="dst")["Body"].read(), b"v1", "copied")


@case("DeleteObject with If-Match deletes the named ETag only; a mismatch is 412 and the object stays, a missing key 404")
def if_match_delete(ctx):
    etag = ctx.s3.put_object(Bucket=ctx.bucket, Key="del", Body=b"v1")["ETag"]
    expect_error(lambda: ctx.s3.delete_object(Bucket=ctx.bucket, Key="del", IfMatch='"0000"'), 412, "PreconditionFailed", "wrong ETag")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="del")["Body"].read(), b"v1", "still there")
    expect_error(lambda: ctx.s3.delete_object(Bucket=ctx.bucket, Key="del", IfMatchSize=3), 412, "PreconditionFailed", "wrong size")
    modified = ctx.s3.head_object(Bucket=ctx.bucket, Key="del")["LastModified"]
    equal(ctx.s3.delete_object(Bucket=ctx.bucket, Key="del", IfMatch=etag, IfMatchSize=2, IfMatchLastModifiedTime=modified)["ResponseMetadata"]["HTTPStatusCode"], 204, "every condition holds")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="del"), 404, None, "deleted")
    expect_error(lambda: ctx.s3.delete_object(Bucket=ctx.bucket, Key="del", IfMatch="*"), 404, "NoSuchKey", "If-Match on a missing key")


@case("DeleteObjects checks each entry's ETag, Size and LastModifiedTime on its own")
def conditional_delete_objects(ctx):
    keep = ctx.s3.put_object(Bucket=ctx.bucket, Key="keep", Body=b"keep")["ETag"]
    drop = ctx.s3.put_object(Bucket=ctx.bucket, Key="drop", Body=b"drop!")["ETag"]
    modified = ctx.s3.head_object(Bucket=ctx.bucket, Key="drop")["LastModified"]
    result = ctx.s3.delete_objects(Bucket=ctx.bucket, Delete={"Objects": [
        {"Key": "drop", "ETag": drop, "Size": 5, "LastModifiedTime": modified},
        {"Key": "keep", "ETag": drop},
    ]})
    equal([d["Key"] for d in result.get("Deleted", [])], ["drop"], "the matching entry is deleted")
    equal([(e["Key"], e["Code"]) for e in result.get("Errors", [])], [("keep", "PreconditionFailed")], "the other is its own error")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="keep")["Body"].read(), b"keep", "and stays")
    check(keep != drop, "two ETags")
