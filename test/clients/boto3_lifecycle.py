"""Bucket lifecycle configuration as boto3 users drive it.

Run by test/clients/lifecycle-clients.test.ts with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY:

    python3 boto3_lifecycle.py --endpoint URL --bucket NAME

Prints one line per step and exits non-zero with "FAIL: <what>" on the first mismatch.
"""

import argparse
import datetime
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

DAY = 86400


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


def next_midnight_after(moment, days):
    """S3's rule: creation time plus the days, rounded up to the next midnight UTC."""
    seconds = moment.timestamp() + days * DAY
    return datetime.datetime.fromtimestamp(-(-seconds // DAY) * DAY, tz=datetime.timezone.utc)


RULES = [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
    {
        "ID": "scratch",
        "Status": "Enabled",
        "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "class", "Value": "scratch"}], "ObjectSizeGreaterThan": 0}},
        "Expiration": {"Date": datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)},
    },
    {"ID": "versions", "Status": "Enabled", "Filter": {"Prefix": ""}, "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 2}},
    {"ID": "markers", "Status": "Disabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
    {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": "uploads/"}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
]


def run(endpoint, bucket):
    s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
    s3.create_bucket(Bucket=bucket)
    expect_error(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), 404, "NoSuchLifecycleConfiguration", "no rules yet")
    step("no configuration: NoSuchLifecycleConfiguration")

    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    check([r["ID"] for r in got] == [r["ID"] for r in RULES], f"rule ids round-trip: {[r['ID'] for r in got]}")
    by_id = {r["ID"]: r for r in got}
    check(by_id["logs"]["Filter"] == {"Prefix": "logs/"} and by_id["logs"]["Expiration"] == {"Days": 30}, f"logs rule: {by_id['logs']}")
    scratch = by_id["scratch"]
    check(scratch["Filter"]["And"]["Prefix"] == "tmp/" and scratch["Filter"]["And"]["Tags"] == [{"Key": "class", "Value": "scratch"}], f"scratch filter: {scratch['Filter']}")
    check(scratch["Expiration"]["Date"] == datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc), f"scratch date: {scratch['Expiration']}")
    check(by_id["versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30, "NewerNoncurrentVersions": 2}, f"versions rule: {by_id['versions']}")
    check(by_id["markers"]["Status"] == "Disabled" and by_id["markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}, f"markers rule: {by_id['markers']}")
    check(by_id["uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}, f"uploads rule: {by_id['uploads']}")
    step("put/get_bucket_lifecycle_configuration round-trip every rule")

    s3.put_object(Bucket=bucket, Key="logs/app.log", Body=b"line\n")
    head = s3.head_object(Bucket=bucket, Key="logs/app.log")
    expected = next_midnight_after(head["LastModified"], 30).strftime("%a, %d %b %Y %H:%M:%S GMT")
    check(head.get("Expiration") == f'expiry-date="{expected}", rule-id="logs"', f"HeadObject Expiration: {head.get('Expiration')} (expected {expected})")
    got_object = s3.get_object(Bucket=bucket, Key="logs/app.log")
    got_object["Body"].read()
    check(got_object.get("Expiration") == head["Expiration"], f"GetObject Expiration: {got_object.get('Expiration')}")
    s3.put_object(Bucket=bucket, Key="other/file", Body=b"x")
    check("Expiration" not in s3.head_object(Bucket=bucket, Key="other/file"), "no rule, no Expiration")
    step("head_object/get_object carry Expiration")

    upload = s3.create_multipart_upload(Bucket=bucket, Key="uploads/big.bin")
    check(upload.get("AbortRuleId") == "uploads" and isinstance(upload.get("AbortDate"), datetime.datetime), f"CreateMultipartUpload abort fields: {upload}")
    parts = s3.list_parts(Bucket=bucket, Key="uploads/big.bin", UploadId=upload["UploadId"])
    check(parts.get("AbortRuleId") == "uploads" and parts.get("AbortDate") == upload["AbortDate"], f"ListParts abort fields: {parts.get('AbortDate')} {parts.get('AbortRuleId')}")
    s3.abort_multipart_upload(Bucket=bucket, Key="uploads/big.bin", UploadId=upload["UploadId"])
    step("create_multipart_upload/list_parts carry AbortDate and AbortRuleId")

    transition = [{"ID": "cold", "Status": "Enabled", "Filter": {"Prefix": ""}, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]
    expect_error(lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": transition}), 400, "InvalidRequest", "a Transition rule")
    bad_days = [{"ID": "zero", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}]
    expect_error(lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": bad_days}), 400, "InvalidArgument", "Days of 0")
    check(len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == len(RULES), "refused documents changed nothing")
    step("Transition and Days of 0 refused; configuration unchanged")

    s3.put_bucket_lifecycle(Bucket=bucket, LifecycleConfiguration={"Rules": [{"ID": "legacy", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 5}}]})
    legacy = s3.get_bucket_lifecycle(Bucket=bucket)["Rules"]
    check(len(legacy) == 1 and legacy[0]["Prefix"] == "old/" and legacy[0]["Expiration"] == {"Days": 5}, f"legacy Prefix rule: {legacy}")
    step("the legacy put_bucket_lifecycle/get_bucket_lifecycle with a top-level Prefix")

    s3.delete_bucket_lifecycle(Bucket=bucket)
    expect_error(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), 404, "NoSuchLifecycleConfiguration", "after delete_bucket_lifecycle")
    check("Expiration" not in s3.head_object(Bucket=bucket, Key="logs/app.log"), "no Expiration once the rules are gone")
    step("delete_bucket_lifecycle")


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
