"""SSE-KMS through boto3: ServerSideEncryption="aws:kms" with SSEKMSKeyId (a name, alias or ARN) and
SSEKMSEncryptionContext, BucketKeyEnabled, the default key, bucket default encryption with a KMS key,
multipart uploads (upload_file), copies between every pair of SSE-C, SSE-S3 and SSE-KMS, and S3's
KMS errors for an unknown or disabled key.

Run by test/clients/boto3-sse-kms.test.ts, which made the keys `app` and `off` (disabled) first:

    python3 boto3_sse_kms.py --endpoint URL --bucket NAME --workdir DIR --region REGION [--ca-bundle PEM]

Prints one line per step; on the first mismatch prints "FAIL: <what>" and exits 1.
"""

import argparse
import base64
import json
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
    parser.add_argument("--region", required=True)
    parser.add_argument("--ca-bundle")
    args = parser.parse_args()
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name=args.region,
        verify=args.ca_bundle if args.ca_bundle else True,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
    )
    bucket = args.bucket
    arn = f"arn:aws:kms:{args.region}:000000000000:key/app"

    for key_id in ["app", "alias/app", arn]:
        body = os.urandom(70 * KIB)
        put = s3.put_object(Bucket=bucket, Key="named", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
        check(put.get("ServerSideEncryption") == "aws:kms", f"{key_id}: PUT echoes aws:kms")
        check(put.get("SSEKMSKeyId") == arn, f"{key_id}: PUT echoes the key ARN, got {put.get('SSEKMSKeyId')}")
        got = s3.get_object(Bucket=bucket, Key="named")
        check(got["Body"].read() == body, f"{key_id}: GET reads back")
        check(got.get("SSEKMSKeyId") == arn, f"{key_id}: GET echoes the key ARN")
        head = s3.head_object(Bucket=bucket, Key="named")
        check(head.get("SSEKMSKeyId") == arn and head.get("ServerSideEncryption") == "aws:kms", f"{key_id}: HEAD echoes the key")
    print("named key, alias and ARN", flush=True)

    put = s3.put_object(Bucket=bucket, Key="default", Body=b"d", ServerSideEncryption="aws:kms")
    check(put.get("SSEKMSKeyId", "").endswith(":key/aws/s3"), f"no key id: the default key, got {put.get('SSEKMSKeyId')}")
    check(s3.get_object(Bucket=bucket, Key="default")["Body"].read() == b"d", "default key object reads back")
    print("default key", flush=True)

    context = base64.b64encode(json.dumps({"project": "kms"}).encode()).decode()
    put = s3.put_object(Bucket=bucket, Key="ctx", Body=b"c", ServerSideEncryption="aws:kms", SSEKMSKeyId="app", SSEKMSEncryptionContext=context, BucketKeyEnabled=True)
    check(json.loads(base64.b64decode(put.get("SSEKMSEncryptionContext", ""))) == {"project": "kms"}, "PUT echoes the context")
    check(put.get("BucketKeyEnabled") is True, "PUT echoes BucketKeyEnabled")
    got = s3.get_object(Bucket=bucket, Key="ctx")
    check(got["Body"].read() == b"c" and got.get("BucketKeyEnabled") is True, "GET without a context reads it, BucketKeyEnabled echoed")
    print("context and bucket key", flush=True)

    code, status = error_of(lambda: s3.put_object(Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="missing"))
    check((code, status) == ("KMS.NotFoundException", 400), f"unknown key: {code} {status}")
    code, status = error_of(lambda: s3.put_object(Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="off"))
    check((code, status) == ("KMS.DisabledException", 400), f"disabled key: {code} {status}")
    code, status = error_of(lambda: s3.put_object(Bucket=bucket, Key="x", Body=b"x", SSEKMSKeyId="app"))
    check((code, status) == ("InvalidArgument", 400), f"key id without aws:kms: {code} {status}")
    code, status = error_of(lambda: s3.head_object(Bucket=bucket, Key="x"))
    check(status == 404, "refused writes stored nothing")
    print("KMS errors", flush=True)

    big = os.path.join(args.workdir, "big.bin")
    body = os.urandom(11 * MIB)
    with open(big, "wb") as f:
        f.write(body)
    transfer = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(big, bucket, "mp", ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "app"}, Config=transfer)
    head = s3.head_object(Bucket=bucket, Key="mp")
    check(head.get("SSEKMSKeyId") == arn and head["ContentLength"] == len(body), "multipart object is SSE-KMS under app")
    check(head["ETag"].endswith('-3"'), f"three parts: {head['ETag']}")
    out = os.path.join(args.workdir, "back.bin")
    s3.download_file(bucket, "mp", out, Config=transfer)
    with open(out, "rb") as f:
        check(f.read() == body, "multipart object downloads back")
    print("multipart", flush=True)

    key = os.urandom(32)
    writes = {
        "SSE-C": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key},
        "SSE-S3": {"ServerSideEncryption": "AES256"},
        "SSE-KMS": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "app"},
    }
    sources = {"SSE-C": {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}, "SSE-S3": {}, "SSE-KMS": {}}
    reads = {"SSE-C": writes["SSE-C"], "SSE-S3": {}, "SSE-KMS": {}}
    for source in writes:
        body = os.urandom(100 * KIB + 1)
        s3.put_object(Bucket=bucket, Key=f"src-{source}", Body=body, **writes[source])
        for target in writes:
            name = f"copy-{source}-{target}"
            copy = s3.copy_object(Bucket=bucket, Key=name, CopySource={"Bucket": bucket, "Key": f"src-{source}"}, **sources[source], **writes[target])
            check((copy.get("SSEKMSKeyId") == arn) == (target == "SSE-KMS"), f"{name}: the KMS key echoed only for an SSE-KMS copy")
            check(s3.get_object(Bucket=bucket, Key=name, **reads[target])["Body"].read() == body, f"{name}: reads back")
    print("copies between every pair", flush=True)

    other = f"{bucket}-default"
    s3.create_bucket(Bucket=other)
    s3.put_bucket_encryption(
        Bucket=other,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "app"}, "BucketKeyEnabled": True}]},
    )
    rule = s3.get_bucket_encryption(Bucket=other)["ServerSideEncryptionConfiguration"]["Rules"][0]
    check(rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn}, f"bucket default: {rule}")
    check(rule.get("BucketKeyEnabled") is True, "bucket default BucketKeyEnabled")
    put = s3.put_object(Bucket=other, Key="plain", Body=b"p")
    check(put.get("SSEKMSKeyId") == arn and put.get("BucketKeyEnabled") is True, "a write without headers takes the KMS default")
    print("bucket default", flush=True)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
