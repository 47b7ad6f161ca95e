"""Multipart uploads: create, upload part, complete (and its retry), abort, list parts and uploads, per the S3 API reference."""

import hashlib
import socket
import urllib.parse

from botocore.config import Config

from conformance import case, check, equal, expect_error

MiB = 1024 * 1024


def upload(ctx, key, bodies, **create):
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key=key, **create)["UploadId"]
    parts = []
    for i, body in enumerate(bodies, start=1):
        etag = ctx.s3.upload_part(Bucket=ctx.bucket, Key=key, UploadId=upload_id, PartNumber=i, Body=body)["ETag"]
        parts.append({"PartNumber": i, "ETag": etag})
    return upload_id, parts


def multipart_etag(bodies):
    md5s = b"".join(hashlib.md5(b).digest() for b in bodies)
    return f'"{hashlib.md5(md5s).hexdigest()}-{len(bodies)}"'


@case("a completed upload reads back as its parts in order with S3's multipart ETag")
def complete(ctx):
    bodies = [b"a" * (5 * MiB), b"b" * 10]
    upload_id, parts = upload(ctx, "k", bodies, ContentType="text/plain", Metadata={"m": "1"})
    done = ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    equal(done["ETag"], multipart_etag(bodies), "ETag")
    got = ctx.s3.get_object(Bucket=ctx.bucket, Key="k")
    equal(got["Body"].read(), b"".join(bodies), "body")
    equal((got["ContentType"], got["Metadata"]), ("text/plain", {"m": "1"}), "attributes from creation")


@case("a completion retried after success answers 200 with the same ETag and Location")
def complete_retry(ctx):
    upload_id, parts = upload(ctx, "k", [b"x" * 10])
    first = ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    again = ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    equal((again["ETag"], again["Location"], again["Key"]), (first["ETag"], first["Location"], first["Key"]), "the same answer")


@case("CompleteMultipartUpload's Location is the object's absolute URL, path-style as the request was")
def location_path_style(ctx):
    upload_id, parts = upload(ctx, "dir/a b+c.bin", [b"x" * 10])
    done = ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="dir/a b+c.bin", UploadId=upload_id, MultipartUpload={"Parts": parts})
    equal(done["Location"], f"{ctx.endpoint}/{ctx.bucket}/dir%2Fa%20b%2Bc.bin", "Location")
    equal((done["Bucket"], done["Key"]), (ctx.bucket, "dir/a b+c.bin"), "Bucket and Key")


@case("CompleteMultipartUpload's Location is the object's absolute URL, virtual-hosted as the request was")
def location_virtual_hosted(ctx):
    # The gateway's base domain is s3.test (see multipart.test.ts); every name under it resolves to the gateway here.
    port = urllib.parse.urlsplit(ctx.endpoint).port
    resolve = socket.getaddrinfo

    def to_gateway(host, *rest, **named):
        return resolve("127.0.0.1" if isinstance(host, str) and host.endswith(".s3.test") else host, *rest, **named)

    socket.getaddrinfo = to_gateway
    try:
        config = Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1, "mode": "standard"})
        s3 = ctx.session.client("s3", endpoint_url=f"http://s3.test:{port}", config=config)
        upload_id = s3.create_multipart_upload(Bucket=ctx.bucket, Key="v/k.bin")["UploadId"]
        etag = s3.upload_part(Bucket=ctx.bucket, Key="v/k.bin", UploadId=upload_id, PartNumber=1, Body=b"y" * 10)["ETag"]
        done = s3.complete_multipart_upload(Bucket=ctx.bucket, Key="v/k.bin", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
        equal(done["Location"], f"http://{ctx.bucket}.s3.test:{port}/v%2Fk.bin", "Location")
    finally:
        socket.getaddrinfo = resolve
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="v/k.bin")["Body"].read(), b"y" * 10, "the object, read path-style")


@case("a retried completion of an upload with a checksum answers the same checksum")
def complete_retry_checksum(ctx):
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    part = ctx.s3.upload_part(Bucket=ctx.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x" * 10, ChecksumAlgorithm="CRC32")
    parts = [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]}]
    first = ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    again = ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})
    check(first.get("ChecksumCRC32"), "the first answer names a checksum")
    equal((again.get("ChecksumCRC32"), again.get("ChecksumType")), (first["ChecksumCRC32"], first["ChecksumType"]), "the retry names the same")


@case("a part uploaded twice keeps the second; parts uploaded out of order complete in ascending order")
def replace_and_order(ctx):
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="k")["UploadId"]
    second = ctx.s3.upload_part(Bucket=ctx.bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"tail")["ETag"]
    ctx.s3.upload_part(Bucket=ctx.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"0" * (5 * MiB))
    first = ctx.s3.upload_part(Bucket=ctx.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"1" * (5 * MiB))["ETag"]
    listed = ctx.s3.list_parts(Bucket=ctx.bucket, Key="k", UploadId=upload_id)["Parts"]
    equal([(p["PartNumber"], p["ETag"]) for p in listed], [(1, first), (2, second)], "ListParts")
    ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]})
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k")["Body"].read(), b"1" * (5 * MiB) + b"tail", "body")


@case("completion errors are EntityTooSmall, InvalidPart, InvalidPartOrder, NoSuchUpload and MalformedXML")
def complete_errors(ctx):
    upload_id, parts = upload(ctx, "k", [b"small", b"tail"])
    complete = lambda p: ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": p})
    expect_error(lambda: complete(parts), 400, "EntityTooSmall", "a small first part")
    expect_error(lambda: complete([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]), 400, "InvalidPart", "a wrong ETag")
    expect_error(lambda: complete(list(reversed(parts))), 400, "InvalidPartOrder", "descending parts")
    expect_error(lambda: ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId="0" * 32, MultipartUpload={"Parts": parts}), 404, "NoSuchUpload", "unknown upload")
    r = ctx.raw("POST", f"/{ctx.bucket}/k", query=f"uploadId={upload_id}", body=b"<CompleteMultipartUpload></CompleteMultipartUpload>")
    check(r.status == 400 and b"MalformedXML" in r.body, f"no parts: {r.status} {r.body[:200]!r}")


@case("UploadPart with a part number outside 1 to 10,000 is 400 InvalidArgument")
def part_number_range(ctx):
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="k")["UploadId"]
    for number in ("0", "10001"):
        r = ctx.raw("PUT", f"/{ctx.bucket}/k", query=f"partNumber={number}&uploadId={upload_id}", body=b"x")
        check(r.status == 400 and b"InvalidArgument" in r.body, f"part {number}: {r.status}")


@case("an aborted upload is gone for UploadPart, ListParts and ListMultipartUploads")
def abort(ctx):
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="k")["UploadId"]
    equal(ctx.s3.abort_multipart_upload(Bucket=ctx.bucket, Key="k", UploadId=upload_id)["ResponseMetadata"]["HTTPStatusCode"], 204, "abort")
    expect_error(lambda: ctx.s3.upload_part(Bucket=ctx.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x"), 404, "NoSuchUpload", "UploadPart")
    expect_error(lambda: ctx.s3.list_parts(Bucket=ctx.bucket, Key="k", UploadId=upload_id), 404, "NoSuchUpload", "ListParts")
    check("Uploads" not in ctx.s3.list_multipart_uploads(Bucket=ctx.bucket), "not listed")


@case("ListParts pages with MaxParts and PartNumberMarker")
def list_parts_paging(ctx):
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="k")["UploadId"]
    for n in range(1, 6):
        ctx.s3.upload_part(Bucket=ctx.bucket, Key="k", UploadId=upload_id, PartNumber=n, Body=b"x")
    seen, marker = [], 0
    while True:
        page = ctx.s3.list_parts(Bucket=ctx.bucket, Key="k", UploadId=upload_id, MaxParts=2, PartNumberMarker=marker)
        seen += [p["PartNumber"] for p in page["Parts"]]
        equal(page["MaxParts"], 2, "MaxParts")
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
    equal(seen, [1, 2, 3, 4, 5], "every part once")


@case("ListMultipartUploads lists uploads in progress by key with Prefix")
def list_uploads(ctx):
    ids = {key: ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key=key)["UploadId"] for key in ("a/1", "a/2", "b")}
    listed = ctx.s3.list_multipart_uploads(Bucket=ctx.bucket)
    equal([(u["Key"], u["UploadId"]) for u in listed["Uploads"]], [(k, ids[k]) for k in ("a/1", "a/2", "b")], "every upload")
    prefixed = ctx.s3.list_multipart_uploads(Bucket=ctx.bucket, Prefix="a/")
    equal([u["Key"] for u in prefixed["Uploads"]], ["a/1", "a/2"], "Prefix")
