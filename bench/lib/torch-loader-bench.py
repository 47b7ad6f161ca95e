"""Child process of `npm run bench`: a PyTorch DataLoader reading objects over S3 with boto3.

Prints one JSON line {"ready": ...} once torch and boto3 are imported (or fails with the import error), then
reads one JSON request per stdin line and answers each with one JSON result line:

  request: {"endpoint", "accessKeyId", "secretAccessKey", "bucket", "prefix", "count", "basePath",
            "numWorkers", "batchSize"}
  result:  {"samples", "errors", "firstError", "wallSeconds", "firstBatchSeconds", "p50Ms", "p99Ms"}

Object i is the key f"{prefix}/{i}"; its bytes are the MD5 of the key (its first 16 bytes) followed by the
bytes of basePath after the first 16, as the load generator wrote them (bench/lib/payload.ts). Every sample
is checked against that. The parent measures this process tree's CPU around each request.
"""

import hashlib
import json
import math
import platform
import sys
import time

import boto3
import torch
from botocore.config import Config
from torch.utils.data import DataLoader, Dataset, get_worker_info

TAG_BYTES = 16


class S3ObjectDataset(Dataset):
    """Sample i is object f"{prefix}/{i}" as a uint8 tensor; each worker has its own boto3 client."""

    def __init__(self, request, base):
        self.request = request
        self.base = base
        self.client = None

    def __len__(self):
        return self.request["count"]

    def open_client(self):
        # Path style and one attempt: a failed GET is counted, not hidden by a retry.
        self.client = boto3.client(
            "s3",
            endpoint_url=self.request["endpoint"],
            aws_access_key_id=self.request["accessKeyId"],
            aws_secret_access_key=self.request["secretAccessKey"],
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"total_max_attempts": 1},
            ),
        )

    def __getitem__(self, index):
        if self.client is None:
            self.open_client()
        key = f"{self.request['prefix']}/{index}"
        started = time.perf_counter()
        error = ""
        try:
            body = self.client.get_object(Bucket=self.request["bucket"], Key=key)["Body"].read()
            elapsed_ms = (time.perf_counter() - started) * 1000
            error = check(key, body, self.base)
        except Exception as err:  # noqa: BLE001 - any failed GET is counted and reported, not raised
            elapsed_ms = (time.perf_counter() - started) * 1000
            body = b""
            error = f"{key}: {err}"
        if error:
            body = bytes(len(self.base))
        return {"data": torch.frombuffer(bytearray(body), dtype=torch.uint8), "ms": elapsed_ms, "error": error}


def check(key, body, base):
    """An empty string when body is the object the load generator wrote as key, else what is wrong."""
    if len(body) != len(base):
        return f"{key}: {len(body)} bytes, expected {len(base)}"
    tag = hashlib.md5(key.encode()).digest()[:TAG_BYTES]
    if body[:TAG_BYTES] != tag[: len(body)] or body[TAG_BYTES:] != base[TAG_BYTES:]:
        return f"{key}: body differs from what was PUT"
    return ""


def init_worker(_worker_id):
    get_worker_info().dataset.open_client()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def run(request):
    with open(request["basePath"], "rb") as file:
        base = file.read()
    dataset = S3ObjectDataset(request, base)
    loader = DataLoader(
        dataset,
        batch_size=request["batchSize"],
        num_workers=request["numWorkers"],
        worker_init_fn=init_worker,
        shuffle=False,
    )
    latencies = []
    errors = 0
    first_error = None
    samples = 0
    first_batch_seconds = None
    started = time.perf_counter()
    for batch in loader:
        if first_batch_seconds is None:
            first_batch_seconds = time.perf_counter() - started
        samples += batch["data"].shape[0]
        latencies.extend(batch["ms"].tolist())
        for error in batch["error"]:
            if error:
                errors += 1
                first_error = first_error or error
    wall_seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "samples": samples,
        "errors": errors,
        "firstError": first_error,
        "wallSeconds": wall_seconds,
        "firstBatchSeconds": first_batch_seconds,
        "p50Ms": percentile(latencies, 0.5),
        "p99Ms": percentile(latencies, 0.99),
    }


def main():
    versions = {"python": platform.python_version(), "torch": torch.__version__, "boto3": boto3.__version__}
    print(json.dumps({"ready": versions}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps({"result": run(json.loads(line))}), flush=True)


if __name__ == "__main__":
    main()
