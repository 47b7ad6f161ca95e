"""boto3 signing with Signature Version 2 in headers (botocore's legacy 's3' signer): the requests of a
tool that still signs this way. Prints OK at the end; exits non-zero with FAIL: <step> on a mismatch."""
import argparse
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def fail(step, detail):
    print(f"FAIL: {step}: {detail}", file=sys.stderr)
    sys.exit(1)


parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
parser.add_argument("--bucket", required=True)
parser.add_argument("--owner", nargs=2, required=True)
parser.add_argument("--other", nargs=2, required=True)
args = parser.parse_args()


def client(keys):
    config = Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    return boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1", aws_access_key_id=keys[0], aws_secret_access_key=keys[1], config=config)


owner = client(args.owner)
other = client(args.other)
owner.create_bucket(Bucket=args.bucket)
owner.put_object(Bucket=args.bucket, Key="dir/a b+c.txt", Body=b"v2 body", ContentType="text/plain", Metadata={"note": "x"})
got = owner.get_object(Bucket=args.bucket, Key="dir/a b+c.txt")
if got["Body"].read() != b"v2 body" or got["Metadata"].get("note") != "x":
    fail("get_object", got)
keys = [o["Key"] for o in owner.list_objects_v2(Bucket=args.bucket, Prefix="dir/").get("Contents", [])]
if keys != ["dir/a b+c.txt"]:
    fail("list_objects_v2", keys)
owner.put_object_acl(Bucket=args.bucket, Key="dir/a b+c.txt", ACL="public-read")
if other.get_object(Bucket=args.bucket, Key="dir/a b+c.txt")["Body"].read() != b"v2 body":
    fail("other get after public-read", "wrong body")
try:
    other.put_object(Bucket=args.bucket, Key="intruder", Body=b"x")
    fail("other put", "allowed")
except ClientError as err:
    if err.response["Error"]["Code"] != "AccessDenied":
        fail("other put", err.response["Error"])
try:
    client((args.owner[0], "wrong-secret")).list_objects_v2(Bucket=args.bucket)
    fail("wrong secret", "accepted")
except ClientError as err:
    if err.response["Error"]["Code"] != "SignatureDoesNotMatch":
        fail("wrong secret", err.response["Error"])
owner.delete_object(Bucket=args.bucket, Key="dir/a b+c.txt")
print("OK")
