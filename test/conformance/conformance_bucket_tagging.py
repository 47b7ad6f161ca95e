"""Bucket tagging: Put/Get/DeleteBucketTagging and the validation errors the S3 API reference and the tagging guide
(user guide: "Using cost allocation S3 bucket tags", tag restrictions) document."""

import base64
import hashlib

from conformance import case, check, equal, expect_error


def tags_of(response):
    return {t["Key"]: t["Value"] for t in response["TagSet"]}


def put(ctx, tags, bucket=None):
    return ctx.s3.put_bucket_tagging(Bucket=bucket or ctx.bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags]})


@case("PutBucketTagging answers 204 and GetBucketTagging returns every tag, Unicode and S3's punctuation included")
def round_trip(ctx):
    tags = [("team", "ml-platform"), ("cost centre", "4711"), ("prüfung", "größe: 5 + 5 = 10 @ a/b_c.d"), ("empty", "")]
    equal(put(ctx, tags)["ResponseMetadata"]["HTTPStatusCode"], 204, "status")
    equal(tags_of(ctx.s3.get_bucket_tagging(Bucket=ctx.bucket)), dict(tags), "tags")


@case("PutBucketTagging replaces the whole tag set")
def replaces(ctx):
    put(ctx, [("a", "1"), ("b", "2")])
    put(ctx, [("c", "3")])
    equal(tags_of(ctx.s3.get_bucket_tagging(Bucket=ctx.bucket)), {"c": "3"}, "only the new tags")


@case("GetBucketTagging without tags is 404 NoSuchTagSet; DeleteBucketTagging is 204, also when there were none")
def missing_and_delete(ctx):
    expect_error(lambda: ctx.s3.get_bucket_tagging(Bucket=ctx.bucket), 404, "NoSuchTagSet", "a new bucket")
    equal(ctx.s3.delete_bucket_tagging(Bucket=ctx.bucket)["ResponseMetadata"]["HTTPStatusCode"], 204, "delete without tags")
    put(ctx, [("a", "1")])
    equal(ctx.s3.delete_bucket_tagging(Bucket=ctx.bucket)["ResponseMetadata"]["HTTPStatusCode"], 204, "delete")
    expect_error(lambda: ctx.s3.get_bucket_tagging(Bucket=ctx.bucket), 404, "NoSuchTagSet", "after delete")


@case("the bucket tagging calls on a missing bucket are 404 NoSuchBucket")
def no_bucket(ctx):
    missing = ctx.bucket + "-missing"
    expect_error(lambda: ctx.s3.get_bucket_tagging(Bucket=missing), 404, "NoSuchBucket", "get")
    expect_error(lambda: put(ctx, [("a", "1")], bucket=missing), 404, "NoSuchBucket", "put")
    expect_error(lambda: ctx.s3.delete_bucket_tagging(Bucket=missing), 404, "NoSuchBucket", "delete")


@case("a bucket takes 50 tags; 51 are 400 InvalidTag and change nothing")
def tag_count(ctx):
    fifty = [(f"k{i}", f"v{i}") for i in range(50)]
    put(ctx, fifty)
    equal(len(tags_of(ctx.s3.get_bucket_tagging(Bucket=ctx.bucket))), 50, "fifty stored")
    expect_error(lambda: put(ctx, fifty + [("k50", "v50")]), 400, "InvalidTag", "fifty-one")
    equal(tags_of(ctx.s3.get_bucket_tagging(Bucket=ctx.bucket)), dict(fifty), "the fifty are kept")


@case("keys of 1 to 128 characters and values up to 256 are accepted; longer ones are 400 InvalidTag")
def lengths(ctx):
    put(ctx, [("k" * 128, "v" * 256)])
    put(ctx, [("é" * 128, "ü" * 256)])
    equal(tags_of(ctx.s3.get_bucket_tagging(Bucket=ctx.bucket)), {"é" * 128: "ü" * 256}, "lengths count characters, not bytes")
    expect_error(lambda: put(ctx, [("k" * 129, "v")]), 400, "InvalidTag", "a 129-character key")
    expect_error(lambda: put(ctx, [("k", "v" * 257)]), 400, "InvalidTag", "a 257-character value")
    # boto3 refuses an empty key itself: sent raw.
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="tagging", body=b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>")
    check(r.status == 400 and b"<Code>InvalidTag</Code>" in r.body, f"an empty key: {r.status} {r.body[:200]!r}")


@case("a repeated key, a key starting aws:, and characters outside S3's tag set are 400 InvalidTag")
def invalid_tags(ctx):
    put(ctx, [("keep", "me")])
    expect_error(lambda: put(ctx, [("a", "1"), ("a", "2")]), 400, "InvalidTag", "a repeated key")
    expect_error(lambda: put(ctx, [("aws:createdBy", "me")]), 400, "InvalidTag", "the aws: prefix")
    expect_error(lambda: put(ctx, [("AWS:createdBy", "me")]), 400, "InvalidTag", "the aws: prefix in capitals")
    expect_error(lambda: put(ctx, [("hash#tag", "v")]), 400, "InvalidTag", "a # in a key")
    expect_error(lambda: put(ctx, [("k", "50%")]), 400, "InvalidTag", "a % in a value")
    equal(tags_of(ctx.s3.get_bucket_tagging(Bucket=ctx.bucket)), {"keep": "me"}, "nothing changed")


@case("a tagging document that is not XML or has no TagSet is 400 MalformedXML")
def malformed(ctx):
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="tagging", body=b"<Tagging><TagSet><Tag><Key>a</Key>")
    check(r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, f"not XML: {r.status} {r.body[:200]!r}")
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="tagging", body=b"<Tagging></Tagging>")
    check(r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, f"no TagSet: {r.status} {r.body[:200]!r}")
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="tagging", body=b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>")
    check(r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, f"a tag without Key: {r.status} {r.body[:200]!r}")
    expect_error(lambda: ctx.s3.get_bucket_tagging(Bucket=ctx.bucket), 404, "NoSuchTagSet", "nothing stored")


@case("a tagging document whose Content-MD5 does not match is 400 BadDigest and changes nothing")
def bad_digest(ctx):
    body = b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>"
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="tagging", headers={"Content-MD5": wrong}, body=body)
    check(r.status == 400 and b"<Code>BadDigest</Code>" in r.body, f"mismatch: {r.status} {r.body[:200]!r}")
    expect_error(lambda: ctx.s3.get_bucket_tagging(Bucket=ctx.bucket), 404, "NoSuchTagSet", "nothing stored")
    right = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="tagging", headers={"Content-MD5": right}, body=body)
    equal(r.status, 204, "the right digest")
    equal(tags_of(ctx.s3.get_bucket_tagging(Bucket=ctx.bucket)), {"a": "1"}, "stored")


@case("bucket tags are the bucket's own, objects and their tags are untouched by them")
def separate_from_objects(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"x", Tagging="object=tag")
    put(ctx, [("bucket", "tag")])
    equal(tags_of(ctx.s3.get_object_tagging(Bucket=ctx.bucket, Key="k")), {"object": "tag"}, "the object's tags")
    ctx.s3.delete_bucket_tagging(Bucket=ctx.bucket)
    equal(tags_of(ctx.s3.get_object_tagging(Bucket=ctx.bucket, Key="k")), {"object": "tag"}, "still there after the bucket's are deleted")
