"""Server-side encryption through boto3: SSE-S3 (ServerSideEncryption) and SSE-C (SSECustomerKey), as
boto3's users write and read encrypted objects.

Run by test/clients/boto3-sse.test.ts with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY:

    python3 boto3_sse.py --endpoint URL --bucket NAME --workdir DIR [--ca-bundle PEM]

Sizes 1 B, 1 KiB, 1 MiB (put_object) and 8 MiB (upload_file: multipart), ranges at package (64 KiB) and
part (5 MiB) edges, the S3 errors of a missing or wrong key, and copies between every pair of plain,
SSE-S3 and SSE-C. Prints one line per step; on the first mismatch prints "FAIL: <what>" and exits 1.
"""

import argparse
import hashlib
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

KIB = 1024
MIB = 1024 * KIB


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def error_of(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--ca-bundle")
    args = parser.parse_args()
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        verify=args.ca_bundle if args.ca_bundle else True,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
    )
    bucket = args.bucket
    s3.create_bucket(Bucket=bucket)
    key = os.urandom(32)
    other = os.urandom(32)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    kinds = {"plain": {}, "SSE-S3": {"ServerSideEncryption": "AES256"}, "SSE-C": sse_c}
    reads = {"plain": {}, "SSE-S3": {}, "SSE-C": sse_c}

    for size in [1, KIB, MIB]:
        body = os.urandom(size)
        for kind in ["SSE-S3", "SSE-C"]:
            name = f"put-{kind}-{size}"
            put = s3.put_object(Bucket=bucket, Key=name, Body=body, **kinds[kind])
            if kind == "SSE-S3":
                check(put.get("ServerSideEncryption") == "AES256", f"{name}: PUT echoes AES256")
                check(put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"', f"{name}: SSE-S3 ETag is the MD5")
            else:
                check(put.get("SSECustomerAlgorithm") == "AES256", f"{name}: PUT echoes the SSE-C algorithm")
            got = s3.get_object(Bucket=bucket, Key=name, **reads[kind])
            check(got["Body"].read() == body, f"{name}: GET returns the bytes")
            head = s3.head_object(Bucket=bucket, Key=name, **reads[kind])
            check(head["ContentLength"] == size, f"{name}: HEAD gives the plaintext size")
            if size == MIB:
                for start, end in [(0, 0), (64 * KIB - 1, 64 * KIB), (MIB - 10, MIB - 1)]:
                    part = s3.get_object(Bucket=bucket, Key=name, Range=f"bytes={start}-{end}", **reads[kind])["Body"].read()
                    check(part == body[start : end + 1], f"{name}: range {start}-{end}")
        print(f"put/get/head/range {size} bytes", flush=True)

    code, status = error_of(lambda: s3.get_object(Bucket=bucket, Key=f"put-SSE-C-{KIB}"))
    check(code == "InvalidRequest" and status == 400, f"GET without the SSE-C key: {code} {status}")
    code, status = error_of(lambda: s3.get_object(Bucket=bucket, Key=f"put-SSE-C-{KIB}", SSECustomerAlgorithm="AES256", SSECustomerKey=other))
    check(status == 403, f"GET with another SSE-C key: {code} {status}")
    code, status = error_of(lambda: s3.put_object(Bucket=bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms:dsse"))
    check(status == 501, f"aws:kms:dsse refused: {code} {status}")
    print("key errors", flush=True)

    big = os.path.join(args.workdir, "big.bin")
    body = os.urandom(8 * MIB)
    with open(big, "wb") as f:
        f.write(body)
    transfer = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    for kind in ["SSE-S3", "SSE-C"]:
        name = f"multipart-{kind}"
        s3.upload_file(big, bucket, name, ExtraArgs=kinds[kind], Config=transfer)
        head = s3.head_object(Bucket=bucket, Key=name, **reads[kind])
        check(head["ETag"].endswith('-2"'), f"{name}: uploaded in two parts ({head['ETag']})")
        if kind == "SSE-S3":
            check(head.get("ServerSideEncryption") == "AES256", f"{name}: HEAD echoes AES256")
        out = os.path.join(args.workdir, f"{name}.out")
        s3.download_file(bucket, name, out, ExtraArgs=reads[kind], Config=transfer)
        with open(out, "rb") as f:
            check(f.read() == body, f"{name}: download_file returns the bytes")
        for start, end in [(5 * MIB - 1, 5 * MIB), (5 * MIB - 70 * KIB, 5 * MIB + 70 * KIB)]:
            got = s3.get_object(Bucket=bucket, Key=name, Range=f"bytes={start}-{end}", **reads[kind])["Body"].read()
            check(got == body[start : end + 1], f"{name}: range {start}-{end} across the part edge")
        print(f"multipart {kind}", flush=True)

    small = os.urandom(200 * KIB + 3)
    for source in kinds:
        s3.put_object(Bucket=bucket, Key=f"copy-src-{source}", Body=small, **kinds[source])
        source_args = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key} if source == "SSE-C" else {}
        for target in kinds:
            target_args = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": other} if target == "SSE-C" else kinds[target]
            name = f"copy-{source}-{target}"
            s3.copy_object(Bucket=bucket, Key=name, CopySource={"Bucket": bucket, "Key": f"copy-src-{source}"}, **source_args, **target_args)
            read_args = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": other} if target == "SSE-C" else {}
            got = s3.get_object(Bucket=bucket, Key=name, **read_args)
            check(got["Body"].read() == small, f"{name}: the copy reads back")
            check((got.get("ServerSideEncryption") == "AES256") == (target == "SSE-S3"), f"{name}: encrypted as the copy asked")
    print("copy matrix", flush=True)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
