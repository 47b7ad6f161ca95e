"""boto3 against server access logging and x-amz-expected-bucket-owner.

Prints one line per step and OK at the end; exits non-zero with FAIL: <step> on the first mismatch.
"""
import argparse
import re
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# S3's log line: bare fields, the [time] and "quoted" fields each count as one.
FIELD = re.compile(r'\[[^\]]*\]|"[^"]*"|\S+')
FIELD_COUNT = 26


def fail(step, detail):
    print(f"FAIL: {step}: {detail}", file=sys.stderr)
    sys.exit(1)


def error_code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--owner", nargs=2, required=True)
    args = parser.parse_args()
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    s3 = boto3.client(
        "s3", endpoint_url=args.endpoint, region_name="us-east-1", aws_access_key_id=args.owner[0], aws_secret_access_key=args.owner[1], config=config
    )
    source, target = args.bucket, args.bucket + "-logs"
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)

    code, _ = error_code(lambda: s3.put_bucket_logging(
        Bucket=source, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target + "-missing", "TargetPrefix": "x/"}}))
    if code != "InvalidTargetBucketForLogging":
        fail("missing target", code)
    print("missing target: InvalidTargetBucketForLogging")

    s3.put_bucket_logging(
        Bucket=source,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "boto3/", "TargetObjectKeyFormat": {"SimplePrefix": {}}}},
    )
    enabled = s3.get_bucket_logging(Bucket=source).get("LoggingEnabled")
    if enabled is None or enabled["TargetBucket"] != target or enabled["TargetPrefix"] != "boto3/" or "SimplePrefix" not in enabled.get("TargetObjectKeyFormat", {}):
        fail("get_bucket_logging", enabled)
    print("get_bucket_logging: as set")

    put = s3.put_object(Bucket=source, Key="reports/q1.csv", Body=b"a,b\n1,2\n")
    request_id = put["ResponseMetadata"]["RequestId"]
    s3.get_object(Bucket=source, Key="reports/q1.csv")["Body"].read()
    lines = []
    for item in s3.list_objects_v2(Bucket=target, Prefix="boto3/").get("Contents", []):
        if not re.fullmatch(r"boto3/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}", item["Key"]):
            fail("log object key", item["Key"])
        text = s3.get_object(Bucket=target, Key=item["Key"])["Body"].read().decode()
        lines.extend(line for line in text.split("\n") if line)
    parsed = [FIELD.findall(line) for line in lines]
    for fields in parsed:
        if len(fields) != FIELD_COUNT:
            fail("field count", f"{len(fields)}: {fields}")
    put_lines = [f for f in parsed if f[5] == request_id]
    if len(put_lines) != 1 or put_lines[0][6] != "REST.PUT.OBJECT" or put_lines[0][7] != "reports/q1.csv" or put_lines[0][9] != "200":
        fail("the PutObject line", put_lines)
    if not any(f[6] == "REST.GET.OBJECT" and f[12] == "8" for f in parsed):
        fail("the GetObject line", parsed)
    print(f"log lines: {len(parsed)}, {FIELD_COUNT} fields each, PutObject and GetObject recorded")

    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    if "LoggingEnabled" in s3.get_bucket_logging(Bucket=source):
        fail("logging off", "still enabled")
    print("logging off: empty status")

    owner_id = s3.get_bucket_acl(Bucket=source)["Owner"]["ID"]
    code, status = error_code(lambda: s3.head_bucket(Bucket=source, ExpectedBucketOwner="111122223333"))
    if status != 403:
        fail("head_bucket with another owner", status)
    code, _ = error_code(lambda: s3.put_object(Bucket=source, Key="guarded", Body=b"x", ExpectedBucketOwner="111122223333"))
    if code != "AccessDenied":
        fail("put_object with another owner", code)
    code, status = error_code(lambda: s3.head_object(Bucket=source, Key="guarded"))
    if status != 404:
        fail("refused put left nothing", status)
    s3.put_object(Bucket=source, Key="guarded", Body=b"x", ExpectedBucketOwner=owner_id)
    s3.copy_object(Bucket=source, Key="copy", CopySource={"Bucket": source, "Key": "guarded"}, ExpectedSourceBucketOwner=owner_id)
    code, _ = error_code(lambda: s3.copy_object(Bucket=source, Key="copy2", CopySource={"Bucket": source, "Key": "guarded"}, ExpectedSourceBucketOwner="111122223333"))
    if code != "AccessDenied":
        fail("copy with another source owner", code)
    print("expected bucket owner: another is AccessDenied, the owner passes")
    print("OK")


if __name__ == "__main__":
    main()
