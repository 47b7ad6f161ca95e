"""boto3 as the bucket owner, as a second user and anonymous (botocore UNSIGNED) on the same buckets.

Prints one line per step and OK at the end; exits non-zero with FAIL: <step> on the first mismatch.
"""
import argparse
import sys
import urllib.error
import urllib.request

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def fail(step, detail):
    print(f"FAIL: {step}: {detail}", file=sys.stderr)
    sys.exit(1)


def client(endpoint, keys=None):
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    if keys is None:
        config = config.merge(Config(signature_version=UNSIGNED))
        return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=config)
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=keys[0], aws_secret_access_key=keys[1], config=config
    )


def denied(step, call):
    try:
        call()
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code != "AccessDenied":
            fail(step, f"expected AccessDenied, got {code}")
        print(f"{step}: AccessDenied")
        return
    fail(step, "expected AccessDenied, the call succeeded")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--owner", nargs=2, required=True)
    parser.add_argument("--other", nargs=2, required=True)
    args = parser.parse_args()
    owner = client(args.endpoint, args.owner)
    other = client(args.endpoint, args.other)
    anonymous = client(args.endpoint)
    bucket = args.bucket

    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="public.txt", Body=b"for everyone", ACL="public-read")
    owner.put_object(Bucket=bucket, Key="private.txt", Body=b"owner only")
    print("owner: created the bucket, one public-read and one private object")

    if anonymous.get_object(Bucket=bucket, Key="public.txt")["Body"].read() != b"for everyone":
        fail("anonymous get public", "wrong body")
    print("anonymous: reads the public-read object")
    if other.get_object(Bucket=bucket, Key="public.txt")["Body"].read() != b"for everyone":
        fail("other get public", "wrong body")
    print("other user: reads the public-read object")
    denied("anonymous get private", lambda: anonymous.get_object(Bucket=bucket, Key="private.txt"))
    denied("other get private", lambda: other.get_object(Bucket=bucket, Key="private.txt"))
    denied("anonymous list", lambda: anonymous.list_objects_v2(Bucket=bucket))
    denied("other put", lambda: other.put_object(Bucket=bucket, Key="intruder", Body=b"x"))
    denied("other put bucket acl", lambda: other.put_bucket_acl(Bucket=bucket, ACL="public-read-write"))

    url = other.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "private.txt"}, ExpiresIn=300)
    try:
        urllib.request.urlopen(url)
        fail("other presigned get", "a URL made by a user without READ worked")
    except urllib.error.HTTPError as err:
        if err.code != 403:
            fail("other presigned get", f"status {err.code}")
    print("other user: its presigned URL for the private object is refused")

    grants = owner.get_object_acl(Bucket=bucket, Key="public.txt")["Grants"]
    if not any(g["Grantee"].get("URI") == ALL_USERS and g["Permission"] == "READ" for g in grants):
        fail("get_object_acl", f"no AllUsers READ in {grants}")
    print("owner: get_object_acl shows AllUsers READ")

    owner.put_bucket_acl(Bucket=bucket, ACL="public-read")
    keys = [o["Key"] for o in anonymous.list_objects_v2(Bucket=bucket).get("Contents", [])]
    if keys != ["private.txt", "public.txt"]:
        fail("anonymous list after public-read", keys)
    print("anonymous: lists the bucket once it is public-read")
    denied("anonymous put into public-read", lambda: anonymous.put_object(Bucket=bucket, Key="anon", Body=b"x"))

    owner_id = owner.list_buckets()["Owner"]["ID"]
    other_id = other.list_buckets()["Owner"]["ID"]
    owner.put_object_acl(
        Bucket=bucket,
        Key="private.txt",
        AccessControlPolicy={
            "Owner": {"ID": owner_id},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "CanonicalUser", "ID": other_id}, "Permission": "READ"},
            ],
        },
    )
    if other.get_object(Bucket=bucket, Key="private.txt")["Body"].read() != b"owner only":
        fail("other get after grant", "wrong body")
    print("other user: reads the private object after put_object_acl grants it READ")
    print("OK")


main()
