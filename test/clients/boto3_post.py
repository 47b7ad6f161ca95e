"""Browser POST uploads as boto3 users make them: generate_presigned_post, then a plain multipart POST.

Uploads with `requests` (as a web backend hands the fields to a browser form), reads back with boto3.
Prints one line per step and OK at the end; exits non-zero with FAIL: <step> on the first mismatch.
"""
import argparse
import sys
import xml.etree.ElementTree as ET

import boto3
import requests
from botocore.config import Config


def fail(step, detail):
    print(f"FAIL: {step}: {detail}", file=sys.stderr)
    sys.exit(1)


def client(endpoint, keys, signature_version="s3v4"):
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version=signature_version)
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=keys[0], aws_secret_access_key=keys[1], config=config
    )


def error_code(response):
    try:
        return ET.fromstring(response.content).findtext("Code")
    except ET.ParseError:
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--owner", nargs=2, required=True)
    parser.add_argument("--other", nargs=2, required=True)
    args = parser.parse_args()
    owner = client(args.endpoint, args.owner)
    owner.create_bucket(Bucket=args.bucket)

    body = b"id,label\n1,cat\n2,dog\n"
    post = owner.generate_presigned_post(
        args.bucket,
        "uploads/${filename}",
        Fields={"Content-Type": "text/csv", "x-amz-meta-source": "browser", "success_action_status": "201"},
        Conditions=[{"Content-Type": "text/csv"}, {"x-amz-meta-source": "browser"}, {"success_action_status": "201"}, ["content-length-range", 1, 1048576]],
        ExpiresIn=600,
    )
    response = requests.post(post["url"], data=post["fields"], files={"file": ("labels.csv", body)}, timeout=60)
    if response.status_code != 201:
        fail("sigv4 post", f"{response.status_code} {response.text}")
    document = ET.fromstring(response.content)
    if document.tag != "PostResponse" or document.findtext("Key") != "uploads/labels.csv" or document.findtext("Bucket") != args.bucket:
        fail("sigv4 post response", response.text)
    print("sigv4 presigned post: 201 PostResponse")
    got = owner.get_object(Bucket=args.bucket, Key="uploads/labels.csv")
    if got["Body"].read() != body or got["ContentType"] != "text/csv" or got["Metadata"] != {"source": "browser"}:
        fail("read back", f"{got['ContentType']} {got['Metadata']}")
    if got["ETag"] != document.findtext("ETag"):
        fail("etag", f"{got['ETag']} != {document.findtext('ETag')}")
    print("read back: body, Content-Type, metadata, ETag")

    small = owner.generate_presigned_post(args.bucket, "small.bin", Conditions=[["content-length-range", 1, 10]], ExpiresIn=600)
    response = requests.post(small["url"], data=small["fields"], files={"file": ("f", b"x" * 11)}, timeout=60)
    if response.status_code != 400 or error_code(response) != "EntityTooLarge":
        fail("content-length-range", f"{response.status_code} {response.text}")
    print("content-length-range: EntityTooLarge")

    wrong_key = dict(small["fields"], key="elsewhere.bin")
    response = requests.post(small["url"], data=wrong_key, files={"file": ("f", b"x")}, timeout=60)
    if response.status_code != 403 or error_code(response) != "AccessDenied":
        fail("key changed after signing", f"{response.status_code} {response.text}")
    print("key changed after signing: AccessDenied")

    other = client(args.endpoint, args.other)
    theirs = other.generate_presigned_post(args.bucket, "intruder.bin", ExpiresIn=600)
    response = requests.post(theirs["url"], data=theirs["fields"], files={"file": ("f", b"x")}, timeout=60)
    if response.status_code != 403 or error_code(response) != "AccessDenied":
        fail("other user", f"{response.status_code} {response.text}")
    print("a user without write access: AccessDenied")

    v2 = client(args.endpoint, args.owner, signature_version="s3")
    old = v2.generate_presigned_post(args.bucket, "v2.bin", ExpiresIn=600)
    if "AWSAccessKeyId" not in old["fields"]:
        fail("sigv2 fields", old["fields"])
    response = requests.post(old["url"], data=old["fields"], files={"file": ("f", b"signed the old way")}, timeout=60)
    if response.status_code != 204:
        fail("sigv2 post", f"{response.status_code} {response.text}")
    if owner.get_object(Bucket=args.bucket, Key="v2.bin")["Body"].read() != b"signed the old way":
        fail("sigv2 read back", "body differs")
    print("sigv2 presigned post: 204, read back")

    keys = sorted(o["Key"] for o in owner.list_objects_v2(Bucket=args.bucket).get("Contents", []))
    if keys != ["uploads/labels.csv", "v2.bin"]:
        fail("nothing else written", keys)
    print("OK")


main()
