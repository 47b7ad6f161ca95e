"""Errors: the codes the S3 API reference documents for bad digests, ranges, bodies and names."""

import base64
import hashlib
import socket
import urllib.parse

from conformance import case, check, equal, expect_error

MiB = 1024 * 1024


@case("a Content-MD5 that does not match the body is 400 BadDigest and stores nothing")
def bad_md5(ctx):
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    expect_error(lambda: ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"body", ContentMD5=wrong), 400, "BadDigest", "mismatch")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="k"), 404, None, "nothing stored")


@case("a malformed Content-MD5 is 400 InvalidDigest")
def invalid_md5(ctx):
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", headers={"Content-MD5": "not-base64!"}, body=b"body")
    equal(r.status, 400, "status")
    check(b"<Code>InvalidDigest</Code>" in r.body, f"InvalidDigest in {r.body[:200]!r}")
    short = base64.b64encode(b"short").decode()
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", headers={"Content-MD5": short}, body=b"body")
    check(r.status == 400 and b"<Code>InvalidDigest</Code>" in r.body, f"a digest of the wrong length: {r.status} {r.body[:200]!r}")


@case("a flexible checksum that does not match the body is 400 BadDigest")
def bad_checksum(ctx):
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", headers={"x-amz-checksum-sha256": wrong, "x-amz-sdk-checksum-algorithm": "SHA256"}, body=b"body")
    equal(r.status, 400, "status")
    check(b"<Code>BadDigest</Code>" in r.body, f"BadDigest in {r.body[:300]!r}")
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", headers={"x-amz-checksum-crc32": "AAAAAA=="}, body=b"body")
    check(r.status == 400 and b"<Code>BadDigest</Code>" in r.body, f"CRC32 mismatch: {r.status} {r.body[:300]!r}")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="k"), 404, None, "nothing stored")


@case("a body shorter than its Content-Length is 400 IncompleteBody and stores nothing")
def short_body(ctx):
    url = urllib.parse.urlsplit(ctx.endpoint)
    # Signed as UNSIGNED-PAYLOAD for 10 bytes; 4 are sent and the sender stops writing.
    signed = ctx.raw_signed_headers("PUT", f"/{ctx.bucket}/short", {"Content-Length": "10", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    try:
        lines = [f"PUT /{ctx.bucket}/short HTTP/1.1"] + [f"{k}: {v}" for k, v in signed.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"abcd")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    check(data.startswith(b"HTTP/1.1 400"), f"status line: {data[:200]!r}")
    check(b"<Code>IncompleteBody</Code>" in data, f"IncompleteBody in {data[:600]!r}")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="short"), 404, None, "nothing stored")


@case("UploadPartCopy with a range past the source's end is 400 InvalidArgument")
def upload_part_copy_range(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="src", Body=b"0123456789")
    upload = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="dst")
    expect_error(
        lambda: ctx.s3.upload_part_copy(Bucket=ctx.bucket, Key="dst", UploadId=upload["UploadId"], PartNumber=1, CopySource={"Bucket": ctx.bucket, "Key": "src"}, CopySourceRange="bytes=5-20"),
        400, "InvalidArgument", "range past the end",
    )
    expect_error(
        lambda: ctx.s3.upload_part_copy(Bucket=ctx.bucket, Key="dst", UploadId=upload["UploadId"], PartNumber=1, CopySource={"Bucket": ctx.bucket, "Key": "src"}, CopySourceRange="bytes=8-3"),
        400, "InvalidArgument", "a reversed range",
    )
    ok = ctx.s3.upload_part_copy(Bucket=ctx.bucket, Key="dst", UploadId=upload["UploadId"], PartNumber=1, CopySource={"Bucket": ctx.bucket, "Key": "src"}, CopySourceRange="bytes=2-5")
    equal(ok["CopyPartResult"]["ETag"], f'"{hashlib.md5(b"2345").hexdigest()}"', "a range inside the source copies those bytes")


@case("every error carries a request id, in the body and in x-amz-request-id")
def request_ids(ctx):
    err = expect_error(lambda: ctx.s3.get_object(Bucket=ctx.bucket, Key="missing"), 404, "NoSuchKey", "missing key")
    header_id = err.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
    check(header_id, "x-amz-request-id header")
    equal(err.response["ResponseMetadata"].get("RequestId"), header_id, "RequestId in the body is the header's")


@case("bad bucket names are 400 InvalidBucketName and keys over 1,024 bytes 400 KeyTooLongError")
def names(ctx):
    expect_error(lambda: ctx.s3.create_bucket(Bucket="Bad_Name"), 400, "InvalidBucketName", "bucket name")
    expect_error(lambda: ctx.s3.put_object(Bucket=ctx.bucket, Key="k" * 1025, Body=b"x"), 400, "KeyTooLongError", "long key")
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k" * 1024, Body=b"x")


@case("a request for a sub-resource Tessera does not implement is 501 NotImplemented")
def not_implemented(ctx):
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"kept")
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", query="torrent", body=b"<Torrent/>")
    equal(r.status, 501, "PUT ?torrent")
    check(b"<Code>NotImplemented</Code>" in r.body, f"NotImplemented in {r.body[:200]!r}")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k")["Body"].read(), b"kept", "the object is untouched")


@case("an unknown access key is 403 InvalidAccessKeyId and a wrong secret 403 SignatureDoesNotMatch")
def auth_errors(ctx):
    bad = ctx.session.client("s3", endpoint_url=ctx.endpoint, aws_access_key_id="nobody", aws_secret_access_key="x", config=ctx.s3.meta.config)
    expect_error(lambda: bad.list_buckets(), 403, "InvalidAccessKeyId", "unknown key")
    creds = ctx.session.get_credentials()
    wrong = ctx.session.client("s3", endpoint_url=ctx.endpoint, aws_access_key_id=creds.access_key, aws_secret_access_key="wrong", config=ctx.s3.meta.config)
    expect_error(lambda: wrong.list_buckets(), 403, "SignatureDoesNotMatch", "wrong secret")


@case("a malformed flexible checksum header or an unknown algorithm is 400 InvalidRequest")
def malformed_checksum(ctx):
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", headers={"x-amz-checksum-crc32": "nope!"}, body=b"abc")
    check(r.status == 400 and b"<Code>InvalidRequest</Code>" in r.body, f"malformed value: {r.status} {r.body[:200]!r}")
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", headers={"x-amz-sdk-checksum-algorithm": "MD17"}, body=b"abc")
    check(r.status == 400 and b"<Code>InvalidRequest</Code>" in r.body, f"unknown algorithm: {r.status} {r.body[:200]!r}")


@case("a trailing checksum of an aws-chunked body that does not match is 400 BadDigest")
def bad_trailer(ctx):
    body = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "3",
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    r = ctx.raw("PUT", f"/{ctx.bucket}/k", headers=headers, body=body)
    check(r.status == 400 and b"<Code>BadDigest</Code>" in r.body, f"{r.status} {r.body[:300]!r}")
    expect_error(lambda: ctx.s3.head_object(Bucket=ctx.bucket, Key="k"), 404, None, "nothing stored")
