"""Runs one area of Tessera's S3 conformance suite with boto3 against a running gateway.

    python3 conformance.py --area objects --endpoint URL --bucket-prefix NAME

The area's cases live in conformance_<area>.py, each a function registered with @case, written from the
S3 API reference (the operation's documented parameters, answers and errors). Every case gets a fresh
bucket. The runner prints one line per case, "ok <name>" or "not ok <name>: <why>", and exits 0 when
every case ran (failures are reported, not raised); the test file turns each line into an assertion.
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
"""

import argparse
import http.client
import importlib.util
import os
import sys
import traceback
import urllib.parse

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

CASES = []


class Mismatch(Exception):
    pass


def case(name):
    """Registers a conformance case: a function of one Context."""

    def register(fn):
        CASES.append((name, fn))
        return fn

    return register


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def equal(actual, expected, what):
    check(actual == expected, f"{what}: got {actual!r}, expected {expected!r}")


def expect_error(call, status, code, what):
    """call() must fail with HTTP `status` and S3 error `code` (None for HEAD, which has no body)."""
    try:
        call()
    except ClientError as err:
        got_status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        got_code = err.response.get("Error", {}).get("Code")
        check(got_status == status and (code is None or got_code == code), f"{what}: {got_status} {got_code}, expected {status} {code}")
        return err
    raise Mismatch(f"{what}: succeeded, expected {status} {code}")


class PayloadAuth(S3SigV4Auth):
    """SigV4 for S3 that keeps an x-amz-content-sha256 the case chose (a streaming mode, UNSIGNED-PAYLOAD)."""

    def __init__(self, credentials, service, region, payload_hash):
        super().__init__(credentials, service, region)
        self.payload_hash = payload_hash

    def payload(self, request):
        return self.payload_hash if self.payload_hash is not None else super().payload(request)


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())


class Context:
    """What a case gets: a boto3 client, its own bucket, and signed raw HTTP for what boto3 will not send."""

    def __init__(self, endpoint, bucket, index):
        self.endpoint = endpoint
        self.bucket = bucket
        self.index = index
        self.session = boto3.session.Session(region_name="us-east-1")
        self.s3 = self.client()

    def client(self, **s3_config):
        config = Config(s3={"addressing_style": "path", **s3_config}, retries={"max_attempts": 1, "mode": "standard"})
        return self.session.client("s3", endpoint_url=self.endpoint, config=config)

    def raw_signed_headers(self, method, path, headers):
        """The headers of a signed request for `path`, with Host, for a case that writes the request itself."""
        credentials = self.session.get_credentials().get_frozen_credentials()
        request = AWSRequest(method=method, url=f"{self.endpoint}{path}", headers=dict(headers))
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
        signed = dict(request.headers.items())
        signed.setdefault("Host", urllib.parse.urlsplit(self.endpoint).netloc)
        return signed

    def raw(self, method, path, query="", headers=None, body=b"", sign=True):
        """One signed request; `path` is sent exactly as given (already percent-encoded), so is `query`."""
        url = urllib.parse.urlsplit(self.endpoint)
        headers = dict(headers or {})
        if sign:
            credentials = self.session.get_credentials().get_frozen_credentials()
            full = f"{self.endpoint}{path}" + (f"?{query}" if query else "")
            request = AWSRequest(method=method, url=full, data=body, headers=headers)
            request.context["payload_signing_enabled"] = True
            given = next((v for k, v in headers.items() if k.lower() == "x-amz-content-sha256"), None)
            PayloadAuth(credentials, "s3", "us-east-1", given).add_auth(request)
            headers = dict(request.headers.items())
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            connection.putrequest(method, path + (f"?{query}" if query else ""), skip_accept_encoding=True)
            for name, value in headers.items():
                # Header values go out as UTF-8 bytes, the bytes SigV4 signed (http.client would send Latin-1).
                connection.putheader(name, value.encode("utf-8") if isinstance(value, str) else value)
            if body and "Content-Length" not in headers and "content-length" not in headers:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body if body else None)
            response = connection.getresponse()
            data = response.read()
            return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--area", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket-prefix", required=True)
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.modules["conformance"] = sys.modules[__name__]
    spec = importlib.util.spec_from_file_location(f"conformance_{args.area}", os.path.join(here, f"conformance_{args.area}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"boto3 {boto3.__version__}", flush=True)
    for index, (name, fn) in enumerate(CASES):
        ctx = Context(args.endpoint, f"{args.bucket_prefix}-{index}", index)
        try:
            ctx.s3.create_bucket(Bucket=ctx.bucket)
            fn(ctx)
            print(f"ok {name}", flush=True)
        except Mismatch as err:
            print(f"not ok {name}: {err}", flush=True)
        except Exception as err:  # an unexpected error is this case's failure, never the run's
            detail = traceback.format_exc().strip().splitlines()[-3:]
            print(f"not ok {name}: {type(err).__name__}: {err} | {' | '.join(detail)}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
