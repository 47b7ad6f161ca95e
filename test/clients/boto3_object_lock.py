"""Object Lock as boto3 users drive it: bucket lock configuration, retention and legal holds, locked deletes.

Run by test/clients/object-lock-clients.test.ts with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY:

    python3 boto3_object_lock.py --endpoint URL --bucket NAME

Prints one line per step and exits non-zero with "FAIL: <what>" on the first mismatch.
"""

import argparse
import base64
import hashlib
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

DAY = timedelta(days=1)


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def step(message):
    print(message, flush=True)


def expect_error(call, status, code, what):
    try:
        call()
    except ClientError as err:
        got_status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        got_code = err.response.get("Error", {}).get("Code")
        check(got_status == status and got_code == code, f"{what}: {got_status} {got_code}, expected {status} {code}")
        return err
    raise Mismatch(f"{what}: succeeded, expected {status} {code}")


def md5(body):
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def put(s3, bucket, key, body, **lock):
    # S3 wants Content-MD5 (or a checksum, which older botocore does not send) on a PUT that locks.
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ContentMD5=md5(body), **lock)["VersionId"]


def whole_seconds(moment):
    return moment.replace(microsecond=0)


def run(endpoint, bucket):
    s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    now = datetime.now(timezone.utc)

    plain = bucket + "-plain"
    s3.create_bucket(Bucket=plain)
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Enabled"})
    expect_error(lambda: s3.get_object_lock_configuration(Bucket=plain), 404, "ObjectLockConfigurationNotFoundError", "no lock configuration")
    expect_error(lambda: put(s3, plain, "k", b"x", ObjectLockLegalHoldStatus="ON"), 400, "InvalidRequest", "lock headers without Object Lock")
    step("a bucket without Object Lock refuses lock headers")

    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    check(s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled", "versioning is on with the bucket")
    expect_error(lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}), 409, "InvalidBucketState", "suspend")
    config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    check(config == {"ObjectLockEnabled": "Enabled"}, f"configuration {config}")
    expect_error(
        lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}}}),
        400,
        "InvalidRetentionPeriod",
        "zero days",
    )
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    rule = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]
    check(rule == {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}, f"rule {rule}")
    step("create_bucket(ObjectLockEnabledForBucket=True), lock configuration, suspend refused")

    until = whole_seconds(now + DAY)
    locked = put(s3, bucket, "locked", b"locked", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=bucket, Key="locked")
    check(head.get("ObjectLockMode") == "COMPLIANCE", f"mode {head.get('ObjectLockMode')}")
    check(head.get("ObjectLockRetainUntilDate") == until, f"until {head.get('ObjectLockRetainUntilDate')} != {until}")
    check(head.get("ObjectLockLegalHoldStatus") == "ON", "legal hold")
    defaulted = put(s3, bucket, "defaulted", b"d")
    head = s3.head_object(Bucket=bucket, Key="defaulted")
    check(head.get("ObjectLockMode") == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] > now + timedelta(hours=23), f"default retention {head.get('ObjectLockMode')}")
    step("put_object lock parameters and the bucket default show on head_object")

    later = whole_seconds(now + 2 * DAY)
    s3.put_object_retention(Bucket=bucket, Key="locked", VersionId=locked, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
    retention = s3.get_object_retention(Bucket=bucket, Key="locked", VersionId=locked)["Retention"]
    check(retention == {"Mode": "COMPLIANCE", "RetainUntilDate": later}, f"retention {retention}")
    expect_error(
        lambda: s3.put_object_retention(Bucket=bucket, Key="locked", VersionId=locked, BypassGovernanceRetention=True, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until}),
        403,
        "AccessDenied",
        "shorten COMPLIANCE",
    )
    check(s3.get_object_legal_hold(Bucket=bucket, Key="locked", VersionId=locked)["LegalHold"] == {"Status": "ON"}, "legal hold by id")
    step("put/get_object_retention extends COMPLIANCE and refuses to shorten it; get_object_legal_hold")

    expect_error(lambda: s3.delete_object(Bucket=bucket, Key="locked", VersionId=locked, BypassGovernanceRetention=True), 403, "AccessDenied", "delete COMPLIANCE")
    expect_error(lambda: s3.delete_object(Bucket=bucket, Key="defaulted", VersionId=defaulted), 403, "AccessDenied", "delete GOVERNANCE without bypass")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "locked", "VersionId": locked}, {"Key": "defaulted", "VersionId": defaulted}]})
    check(sorted((e["Key"], e["Code"]) for e in result.get("Errors", [])) == [("defaulted", "AccessDenied"), ("locked", "AccessDenied")], f"delete_objects {result}")
    marker = s3.delete_object(Bucket=bucket, Key="locked")
    check(marker.get("DeleteMarker") is True, "a delete without a version id writes a marker")
    check(s3.get_object(Bucket=bucket, Key="locked", VersionId=locked)["Body"].read() == b"locked", "the locked version stays")
    s3.delete_object(Bucket=bucket, Key="defaulted", VersionId=defaulted, BypassGovernanceRetention=True)
    expect_error(lambda: s3.head_object(Bucket=bucket, Key="defaulted", VersionId=defaulted), 404, "404", "GOVERNANCE bypassed")
    step("locked versions refused by delete_object and delete_objects; GOVERNANCE bypassed; a marker written")

    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "locked", "VersionId": locked}, ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=bucket, Key="copy")
    check(head.get("ObjectLockLegalHoldStatus") == "ON" and head.get("ObjectLockMode") == "GOVERNANCE", f"copy lock {head.get('ObjectLockMode')}")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
    part = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload["UploadId"], PartNumber=1, Body=b"part", ContentMD5=md5(b"part"))
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=bucket, Key="mpu")
    check(head.get("ObjectLockMode") == "COMPLIANCE" and head.get("ObjectLockRetainUntilDate") == until, "multipart lock")
    expect_error(lambda: s3.delete_object(Bucket=bucket, Key="mpu", VersionId=done["VersionId"]), 403, "AccessDenied", "delete locked multipart object")
    step("copy_object and create_multipart_upload lock parameters")

    s3.put_object_legal_hold(Bucket=bucket, Key="copy", LegalHold={"Status": "OFF"})
    check(s3.get_object_legal_hold(Bucket=bucket, Key="copy")["LegalHold"] == {"Status": "OFF"}, "legal hold lifted")
    # Whole seconds: botocore sends a header date without its fraction.
    soon = whole_seconds(datetime.now(timezone.utc) + timedelta(seconds=4))
    short = put(s3, bucket, "short", b"s", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=soon)
    expect_error(lambda: s3.delete_object(Bucket=bucket, Key="short", VersionId=short), 403, "AccessDenied", "before the date")
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.delete_object(Bucket=bucket, Key="short", VersionId=short)
            break
        except ClientError as err:
            check(err.response.get("Error", {}).get("Code") == "AccessDenied", f"unexpected {err}")
            check(time.monotonic() < deadline, "still locked long after its date")
            time.sleep(0.1)
    check(datetime.now(timezone.utc) >= soon, "deleted before its date")
    step("COMPLIANCE retention ends at its date")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    args = parser.parse_args()
    try:
        run(args.endpoint, args.bucket)
    except Mismatch as err:
        print(f"FAIL: {err}", flush=True)
        sys.exit(1)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
