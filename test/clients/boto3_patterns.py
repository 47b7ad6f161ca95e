"""The S3 call patterns of tools built on boto3 or on other AWS SDKs, reproduced with boto3.

Run by test/clients/boto3-patterns.test.ts with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY:

    python3 boto3_patterns.py --endpoint URL --bucket-prefix NAME --workdir DIR [--ca-bundle PEM]

Each pattern runs in a bucket of its own and the script goes on after a failing one. For every pattern it
prints "PASS <pattern>" at the end or "FAIL <pattern>: <what>" on the first mismatch, plus one line per step.

- mlflow: MLflow's S3ArtifactRepository (log_artifact(s), list_artifacts, download_artifacts, delete_artifacts).
- s3a: Hadoop's S3AFileSystem (getFileStatus probes, mkdirs markers, multipart writes, listStatus paging,
  rename as copy + bulk delete, UploadPartCopy for large files, recursive delete).
- fsspec: s3fs (MaxKeys=1 directory probes, If-Match on the ranged reads of an open file, exclusive
  create with If-None-Match: * on PutObject and CompleteMultipartUpload).
- public: a bucket opened with ACL public-read-write, used by anonymous clients (botocore UNSIGNED, as
  public-dataset readers configure it): put_object and upload_file in parts with ACL public-read, list and
  read back. Over HTTPS
  a recent botocore frames unsigned uploads as aws-chunked with a CRC32 trailer.
"""

import argparse
import mimetypes
import os
import sys

import boto3
import botocore
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def step(pattern, message):
    print(f"[{pattern}] {message}", flush=True)


def status_of(err):
    return err.response["ResponseMetadata"]["HTTPStatusCode"]


def code_of(err):
    return err.response.get("Error", {}).get("Code")


def expect_error(call, status, codes, what):
    """Runs call(); it must fail with `status` and one of `codes` (S3 error codes; HEAD has none)."""
    try:
        call()
    except ClientError as err:
        check(status_of(err) == status and (codes is None or code_of(err) in codes), f"{what}: {status_of(err)} {code_of(err)}, expected {status} {codes}")
        return
    raise Mismatch(f"{what}: succeeded, expected {status} {codes}")


def has_member(s3, operation, member):
    return member in s3.meta.service_model.operation_model(operation).input_shape.members


def call_with_headers(s3, operation, method, headers, **params):
    """Calls s3.<method>(**params) with extra HTTP headers, for botocore versions whose model lacks the parameter."""

    def add(request, **_):
        for name, value in headers.items():
            request.headers[name] = value

    event = f"before-sign.s3.{operation}"
    s3.meta.events.register_first(event, add, unique_id="tessera-extra-headers")
    try:
        return getattr(s3, method)(**params)
    finally:
        s3.meta.events.unregister(event, unique_id="tessera-extra-headers")


def list_keys(s3, bucket, prefix=""):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def read(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


# --- MLflow -------------------------------------------------------------------------------------------


def mlflow(s3, bucket, workdir):
    """S3ArtifactRepository: artifacts under <root>/<experiment>/<run>/artifacts/."""
    p = "mlflow"
    root = "mlartifacts/1/0123456789abcdef/artifacts"
    local = os.path.join(workdir, "mlflow-run")
    files = {
        "MLmodel": b"artifact_path: model\nflavors:\n  python_function: {}\n",
        "model/model.pkl": os.urandom(9 * MiB + 123),  # above upload_file's 8 MiB default threshold: multipart
        "model/requirements.txt": b"scikit-learn==1.5.0\n",
        "metrics.json": b'{"loss": 0.25}\n',
        "plots/loss curve.png": os.urandom(20_000),
        "plots/nested/x.csv": b"a,b\n1,2\n",
    }
    for rel, body in files.items():
        path = os.path.join(local, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(body)

    # log_artifacts: walk the directory, upload_file each with the guessed ContentType.
    for rel in files:
        extra = {}
        guessed, _ = mimetypes.guess_type(rel)
        if guessed:
            extra["ContentType"] = guessed
        s3.upload_file(Filename=os.path.join(local, rel), Bucket=bucket, Key=f"{root}/{rel}", ExtraArgs=extra)
    head = s3.head_object(Bucket=bucket, Key=f"{root}/plots/loss curve.png")
    check(head["ContentType"] == "image/png", f"upload_file ContentType: {head['ContentType']!r}")
    head = s3.head_object(Bucket=bucket, Key=f"{root}/metrics.json")
    check(head["ContentType"] == "application/json", f"upload_file ContentType: {head['ContentType']!r}")
    check(s3.head_object(Bucket=bucket, Key=f"{root}/model/model.pkl")["ETag"].endswith('-2"'), "the 9 MiB artifact was not a 2-part upload")
    step(p, "log_artifacts: upload_file with ContentType ok")

    # list_artifacts(path): list_objects_v2 paginator, Prefix=<dir>/, Delimiter="/": files and directories.
    def list_artifacts(path):
        prefix = f"{root}/{path}/" if path else f"{root}/"
        dirs, found = [], []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": 2}):
            dirs += [cp["Prefix"][len(f"{root}/"):].rstrip("/") for cp in page.get("CommonPrefixes", [])]
            found += [(o["Key"][len(f"{root}/"):], o["Size"]) for o in page.get("Contents", []) if o["Key"] != prefix]
        return sorted(dirs), sorted(found)

    dirs, found = list_artifacts("")
    check(dirs == ["model", "plots"], f"list_artifacts() dirs {dirs}")
    check(found == [("MLmodel", len(files["MLmodel"])), ("metrics.json", len(files["metrics.json"]))], f"list_artifacts() files {found}")
    dirs, found = list_artifacts("plots")
    check(dirs == ["plots/nested"] and found == [("plots/loss curve.png", 20_000)], f"list_artifacts(plots) {dirs} {found}")
    dirs, found = list_artifacts("model")
    check(dirs == [] and [f for f, _ in found] == ["model/model.pkl", "model/requirements.txt"], f"list_artifacts(model) {dirs} {found}")
    step(p, "list_artifacts: paginator with Prefix and Delimiter='/' ok")

    # download_artifacts: download_file per listed file.
    out = os.path.join(workdir, "mlflow-download")
    for rel, body in files.items():
        dest = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        s3.download_file(bucket, f"{root}/{rel}", dest)
        with open(dest, "rb") as f:
            check(f.read() == body, f"download_file {rel} differs")
    step(p, "download_artifacts: download_file ok")

    # delete_artifacts: list the prefix page by page and delete_objects each page.
    s3.put_object(Bucket=bucket, Key="mlartifacts/1/other-run/artifacts/keep.txt", Body=b"keep")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{root}/", PaginationConfig={"PageSize": 4}):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            check(not result.get("Errors"), f"delete_objects errors {result.get('Errors')}")
    check(list_keys(s3, bucket, f"{root}/") == [], "artifacts left after delete_artifacts")
    check(list_keys(s3, bucket) == ["mlartifacts/1/other-run/artifacts/keep.txt"], "delete_artifacts touched another run")
    s3.delete_object(Bucket=bucket, Key="mlartifacts/1/other-run/artifacts/keep.txt")
    step(p, "delete_artifacts: delete_objects over the prefix ok")


# --- Hadoop s3a ---------------------------------------------------------------------------------------


def s3a(s3, bucket, workdir):
    p = "s3a"
    part = 5 * MiB  # fs.s3a.multipart.size set to its minimum

    def get_file_status(path):
        """S3AFileSystem.getFileStatus: HEAD the key, then a LIST of <key>/ with max-keys 2 for a directory."""
        try:
            head = s3.head_object(Bucket=bucket, Key=path)
            return ("file", head["ContentLength"])
        except ClientError as err:
            check(status_of(err) == 404, f"HEAD {path}: {status_of(err)}")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=path.rstrip("/") + "/", Delimiter="/", MaxKeys=2)
        if listing.get("KeyCount", 0) > 0:
            return ("dir", 0)
        return ("missing", 0)

    s3.head_bucket(Bucket=bucket)  # fs.s3a.bucket.probe
    check(get_file_status("warehouse/table") == ("missing", 0), "a path that does not exist")
    # mkdirs: an empty directory marker object.
    s3.put_object(Bucket=bucket, Key="warehouse/table/", Body=b"", ContentType="application/x-directory")
    check(get_file_status("warehouse/table") == ("dir", 0), "a directory with only its marker")
    check(get_file_status("warehouse") == ("dir", 0), "a parent of a marker")
    step(p, "getFileStatus probes and mkdirs marker ok")

    # create(): a large file as a multipart upload (the output stream's blocks), a small one as PutObject.
    big = os.urandom(2 * part + 777)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="warehouse/table/_temporary/part-00000.parquet", ContentType="application/octet-stream")
    parts = []
    for n, offset in enumerate(range(0, len(big), part), start=1):
        block = big[offset:offset + part]
        result = s3.upload_part(
            Bucket=bucket, Key="warehouse/table/_temporary/part-00000.parquet", UploadId=upload["UploadId"], PartNumber=n, Body=block,
        )
        parts.append({"ETag": result["ETag"], "PartNumber": n})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="warehouse/table/_temporary/part-00000.parquet", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts},
    )
    small = {f"warehouse/table/_temporary/part-0000{i}.parquet": os.urandom(1000 + i) for i in range(1, 5)}
    for key, body in small.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.put_object(Bucket=bucket, Key="warehouse/table/_temporary/_SUCCESS", Body=b"")
    check(get_file_status("warehouse/table/_temporary/part-00000.parquet") == ("file", len(big)), "the multipart file's status")
    step(p, "multipart write and small writes ok")

    # listStatus: LIST with delimiter, paged (fs.s3a.paging.maximum, small here to force pages).
    names, dirs, pages = [], [], 0
    token = None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix="warehouse/table/_temporary/", Delimiter="/", MaxKeys=2, **kwargs)
        pages += 1
        names += [o["Key"] for o in page.get("Contents", [])]
        dirs += [c["Prefix"] for c in page.get("CommonPrefixes", [])]
        if not page.get("IsTruncated"):
            break
        token = page["NextContinuationToken"]
    check(len(names) == 6 and dirs == [] and pages == 3, f"listStatus: {names} {dirs} in {pages} pages")
    step(p, "listStatus with delimiter and continuation tokens ok")

    # rename(_temporary -> final): list everything under the source, copy each (UploadPartCopy for a file
    # above the multipart copy threshold), bulk-delete the sources, then delete the parent marker.
    sources = list_keys(s3, bucket, "warehouse/table/_temporary/")
    for key in sources:
        dest = key.replace("_temporary/", "")
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size > part:
            copy = s3.create_multipart_upload(Bucket=bucket, Key=dest)
            copied = []
            for n, offset in enumerate(range(0, size, part), start=1):
                last = min(offset + part, size) - 1
                result = s3.upload_part_copy(
                    Bucket=bucket, Key=dest, UploadId=copy["UploadId"], PartNumber=n,
                    CopySource={"Bucket": bucket, "Key": key}, CopySourceRange=f"bytes={offset}-{last}",
                )
                copied.append({"ETag": result["CopyPartResult"]["ETag"], "PartNumber": n})
            s3.complete_multipart_upload(Bucket=bucket, Key=dest, UploadId=copy["UploadId"], MultipartUpload={"Parts": copied})
        else:
            s3.copy_object(Bucket=bucket, Key=dest, CopySource={"Bucket": bucket, "Key": key})
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in sources], "Quiet": True})
    check(not result.get("Errors") and not result.get("Deleted"), f"quiet bulk delete answered {result}")
    s3.delete_object(Bucket=bucket, Key="warehouse/table/")  # the now-redundant directory marker
    check(list_keys(s3, bucket, "warehouse/table/_temporary/") == [], "sources left after rename")
    check(read(s3, bucket, "warehouse/table/part-00000.parquet") == big, "the multipart-copied file differs")
    for key, body in small.items():
        check(read(s3, bucket, key.replace("_temporary/", "")) == body, f"renamed {key} differs")
    step(p, "rename as copy (UploadPartCopy for the large file) + quiet bulk delete ok")

    # delete(path, recursive=true): list and bulk-delete in pages.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="warehouse/", PaginationConfig={"PageSize": 3}):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            check(not result.get("Errors"), f"recursive delete errors {result.get('Errors')}")
    check(list_keys(s3, bucket) == [] and get_file_status("warehouse") == ("missing", 0), "recursive delete left objects")
    step(p, "recursive delete ok")


# --- fsspec / s3fs ------------------------------------------------------------------------------------


def fsspec(s3, bucket, workdir):
    p = "fsspec"
    data = os.urandom(3 * MiB + 5)
    s3.put_object(Bucket=bucket, Key="datasets/train/shard-0.bin", Body=data)
    s3.put_object(Bucket=bucket, Key="datasets/train/shard-1.bin", Body=b"one")
    s3.put_object(Bucket=bucket, Key="datasets/readme.md", Body=b"# data\n")

    # isdir / exists / info on a path that is no key: HEAD (404), then a one-key LIST of <path>/.
    def probe(path):
        try:
            s3.head_object(Bucket=bucket, Key=path)
            return "file"
        except ClientError as err:
            check(status_of(err) == 404, f"HEAD {path}: {status_of(err)}")
        page = s3.list_objects_v2(Bucket=bucket, Prefix=path.rstrip("/") + "/", Delimiter="/", MaxKeys=1)
        check(page.get("MaxKeys") == 1, f"MaxKeys echoed as {page.get('MaxKeys')}")
        check(page.get("KeyCount", 0) <= 1, f"MaxKeys=1 answered {page.get('KeyCount')} entries")
        return "dir" if page.get("KeyCount", 0) == 1 else "missing"

    check(probe("datasets") == "dir", "datasets is a directory")
    check(probe("datasets/train") == "dir", "datasets/train is a directory")
    check(probe("datasets/train/shard-0.bin") == "file", "a key is a file")
    check(probe("datasets/tra") == "missing", "a key prefix that is not a directory")
    page = s3.list_objects_v2(Bucket=bucket, Prefix="datasets/", Delimiter="/", MaxKeys=1)
    check(page["IsTruncated"] and page["KeyCount"] == 1, f"MaxKeys=1 counts keys and prefixes together: {page.get('KeyCount')} {page.get('IsTruncated')}")
    step(p, "MaxKeys=1 directory probes ok")

    # An open file: info() gives the ETag, then reads are ranged GETs that carry If-Match: <etag>.
    etag = s3.head_object(Bucket=bucket, Key="datasets/train/shard-0.bin")["ETag"]
    block = 1 * MiB
    got = b""
    for offset in range(0, len(data), block):
        end = min(offset + block, len(data)) - 1
        part = s3.get_object(Bucket=bucket, Key="datasets/train/shard-0.bin", Range=f"bytes={offset}-{end}", IfMatch=etag)
        check(part["ResponseMetadata"]["HTTPStatusCode"] == 206, f"ranged read status {part['ResponseMetadata']['HTTPStatusCode']}")
        got += part["Body"].read()
    check(got == data, "ranged reads with If-Match reassemble different bytes")
    s3.put_object(Bucket=bucket, Key="datasets/train/shard-0.bin", Body=b"rewritten underneath")
    expect_error(
        lambda: s3.get_object(Bucket=bucket, Key="datasets/train/shard-0.bin", Range="bytes=0-99", IfMatch=etag),
        412, ["PreconditionFailed"], "a ranged read with the old ETag after a rewrite",
    )
    expect_error(
        lambda: s3.get_object(Bucket=bucket, Key="datasets/train/gone.bin", Range="bytes=0-99", IfMatch=etag),
        404, ["NoSuchKey"], "If-Match on a missing key",
    )
    step(p, "If-Match on ranged reads ok (412 after the object changed)")

    # open(path, "xb"): exclusive create with If-None-Match: * on PutObject (small) and on
    # CompleteMultipartUpload (large). s3fs passes IfNoneMatch="*"; old botocore lacks it, so send the header.
    def put_exclusive(key, body):
        if has_member(s3, "PutObject", "IfNoneMatch"):
            return s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
        return call_with_headers(s3, "PutObject", "put_object", {"If-None-Match": "*"}, Bucket=bucket, Key=key, Body=body)

    def complete_exclusive(key, upload_id, parts):
        params = {"Bucket": bucket, "Key": key, "UploadId": upload_id, "MultipartUpload": {"Parts": parts}}
        if has_member(s3, "CompleteMultipartUpload", "IfNoneMatch"):
            return s3.complete_multipart_upload(IfNoneMatch="*", **params)
        return call_with_headers(s3, "CompleteMultipartUpload", "complete_multipart_upload", {"If-None-Match": "*"}, **params)

    put_exclusive("outputs/result.json", b'{"ok": true}')
    expect_error(lambda: put_exclusive("outputs/result.json", b"second"), 412, ["PreconditionFailed"], "a second exclusive create")
    check(read(s3, bucket, "outputs/result.json") == b'{"ok": true}', "the refused create changed the object")

    def multipart(key):
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
        body = os.urandom(5 * MiB) + b"tail"
        etags = [s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=chunk)["ETag"]
                 for n, chunk in ((1, body[:5 * MiB]), (2, body[5 * MiB:]))]
        return upload["UploadId"], [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, start=1)], body

    upload_id, parts, body = multipart("outputs/model.bin")
    complete_exclusive("outputs/model.bin", upload_id, parts)
    check(read(s3, bucket, "outputs/model.bin") == body, "the exclusively created multipart object differs")
    upload_id, parts, _ = multipart("outputs/model.bin")
    expect_error(lambda: complete_exclusive("outputs/model.bin", upload_id, parts), 412, ["PreconditionFailed"], "an exclusive CompleteMultipartUpload over an existing key")
    check(read(s3, bucket, "outputs/model.bin") == body, "the refused completion changed the object")
    s3.abort_multipart_upload(Bucket=bucket, Key="outputs/model.bin", UploadId=upload_id)
    step(p, "exclusive create with If-None-Match: * on PutObject and CompleteMultipartUpload ok")

    # rm(recursive=True): find (no delimiter), then delete_objects in batches.
    keys = list_keys(s3, bucket)
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    check(not result.get("Errors"), f"rm errors {result.get('Errors')}")
    check(list_keys(s3, bucket) == [], "rm left objects")
    step(p, "rm recursive ok")


# --- anonymous clients on a public bucket --------------------------------------------------------------


def public(s3, bucket, workdir, anonymous):
    """Anonymous uploads and reads on a public-read-write bucket; the owner (s3) opens it and cleans up."""
    p = "public"
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    small = bytes(range(256)) * 1200
    # An anonymous writer keeps nothing it could read back unless it opens its object too, as in S3.
    anonymous.put_object(Bucket=bucket, Key="drop/small.bin", Body=small, ACL="public-read")
    step(p, "anonymous put_object ok")
    check(read(anonymous, bucket, "drop/small.bin") == small, "anonymous get_object returned other bytes than were put")
    check(read(s3, bucket, "drop/small.bin") == small, "the owner's get_object returned other bytes")
    check(anonymous.head_object(Bucket=bucket, Key="drop/small.bin")["ContentLength"] == len(small), "head_object size")
    large = os.path.join(workdir, "large.bin")
    with open(large, "wb") as f:
        f.write(os.urandom(9 * MiB))
    # Over 8 MiB, upload_file uploads in parts: CreateMultipartUpload, UploadPart, CompleteMultipartUpload unsigned.
    anonymous.upload_file(large, bucket, "drop/large.bin", ExtraArgs={"ACL": "public-read"})
    with open(large, "rb") as f:
        check(read(anonymous, bucket, "drop/large.bin") == f.read(), "the large file read back differs")
    step(p, "anonymous upload_file in parts ok")
    check(list_keys(anonymous, bucket, "drop/") == ["drop/large.bin", "drop/small.bin"], "anonymous listing")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "drop/small.bin"}, {"Key": "drop/large.bin"}]})
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    step(p, "cleaned up")


PATTERNS = {"mlflow": mlflow, "s3a": s3a, "fsspec": fsspec, "public": public}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket-prefix", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--ca-bundle")
    parser.add_argument("--pattern", action="append", choices=sorted(PATTERNS))
    args = parser.parse_args()
    print(f"boto3 {boto3.__version__} botocore {botocore.__version__} over {args.endpoint.split(':')[0]}", flush=True)
    # One attempt: a request that only succeeds on retry is a server bug this test should see.
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"})
    verify = args.ca_bundle if args.ca_bundle else None
    s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1", verify=verify, config=config)
    anonymous = boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1", verify=verify, config=config.merge(Config(signature_version=UNSIGNED)))
    failed = False
    for name in args.pattern or sorted(PATTERNS):
        bucket = f"{args.bucket_prefix}-{name}"
        try:
            s3.create_bucket(Bucket=bucket)
            workdir = os.path.join(args.workdir, name)
            os.makedirs(workdir, exist_ok=True)
            if name == "public":
                public(s3, bucket, workdir, anonymous)
            else:
                PATTERNS[name](s3, bucket, workdir)
            s3.delete_bucket(Bucket=bucket)
            print(f"PASS {name}", flush=True)
        except Mismatch as err:
            failed = True
            print(f"FAIL {name}: {err}", flush=True)
        except ClientError as err:
            failed = True
            meta = err.response["ResponseMetadata"]
            print(f"FAIL {name}: S3 error {err.response.get('Error')} status {meta.get('HTTPStatusCode')}: {err}", flush=True)
        except Exception as err:  # noqa: BLE001 - any other failure fails the pattern with its type
            failed = True
            print(f"FAIL {name}: {type(err).__name__}: {err}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
