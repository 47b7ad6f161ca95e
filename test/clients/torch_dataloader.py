"""A PyTorch DataLoader with worker processes reading a dataset out of S3 with boto3, checking every byte.

Run by test/clients/pytorch-dataloader.test.ts with Debian's python3-torch and python3-boto3:

    /usr/bin/python3 torch_dataloader.py --endpoint URL --bucket NAME [--ca-bundle PEM]

Uploads a dataset of objects whose bytes follow from their keys, then iterates it twice with
DataLoader(num_workers=2, shuffle=True): once reading each object with one get_object, once with ranged
get_object calls (HEAD for the size, then fixed-size ranges, as streaming loaders read). The Dataset lists
its prefix with the list_objects_v2 paginator; each worker process makes its own boto3 client (clients do
not survive fork). Prints "FAIL: <what>" and exits 1 on the first mismatch, "OK" at the end.
"""

import argparse
import hashlib
import os
import sys

import boto3
import botocore
import torch
from botocore.config import Config
from torch.utils.data import DataLoader, Dataset, get_worker_info

PREFIX = "datasets/imagenet-mini/train/"
# Sizes around the gateway's 1 MiB stripes (4 data shards x 256 KiB) and the 256 KiB + 1 read size.
SIZES = [0, 1, 4096, 262_145, 1_048_575, 1_048_576, 1_048_577, 1_500_000] + [50_000 + 7919 * i for i in range(16)]
RANGE_BYTES = 256 * 1024 + 1


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def expected(key, size):
    return hashlib.shake_256(key.encode()).digest(size) if size else b""


def make_client(args):
    return boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        verify=args.ca_bundle if args.ca_bundle else None,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=4),
    )


class S3PrefixDataset(Dataset):
    """Every object under a prefix; item i is (key, bytes as a uint8 tensor, worker id)."""

    def __init__(self, args, ranged):
        self.args = args
        self.ranged = ranged
        self._client = None
        self._pid = None
        self.keys = []
        for page in self.s3().get_paginator("list_objects_v2").paginate(Bucket=args.bucket, Prefix=PREFIX, PaginationConfig={"PageSize": 10}):
            self.keys += [o["Key"] for o in page.get("Contents", [])]

    def s3(self):
        if self._client is None or self._pid != os.getpid():
            self._client, self._pid = make_client(self.args), os.getpid()
        return self._client

    def __len__(self):
        return len(self.keys)

    def read_whole(self, key):
        return self.s3().get_object(Bucket=self.args.bucket, Key=key)["Body"].read()

    def read_ranged(self, key):
        size = self.s3().head_object(Bucket=self.args.bucket, Key=key)["ContentLength"]
        out = bytearray()
        for start in range(0, size, RANGE_BYTES):
            end = min(start + RANGE_BYTES, size) - 1
            got = self.s3().get_object(Bucket=self.args.bucket, Key=key, Range=f"bytes={start}-{end}")
            if got["ContentRange"] != f"bytes {start}-{end}/{size}":
                raise ValueError(f"{key}: Content-Range {got['ContentRange']!r} for bytes={start}-{end}")
            out += got["Body"].read()
        return bytes(out)

    def __getitem__(self, index):
        key = self.keys[index]
        data = self.read_ranged(key) if self.ranged else self.read_whole(key)
        info = get_worker_info()
        return key, torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8), info.id if info else -1


def collate(batch):
    return batch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--ca-bundle")
    args = parser.parse_args()
    print(f"torch {torch.__version__} boto3 {boto3.__version__} botocore {botocore.__version__} over {args.endpoint.split(':')[0]}", flush=True)

    s3 = make_client(args)
    s3.create_bucket(Bucket=args.bucket)
    sizes = {f"{PREFIX}{i:05d}.jpg": size for i, size in enumerate(SIZES)}
    for key, size in sizes.items():
        s3.put_object(Bucket=args.bucket, Key=key, Body=expected(key, size))
    s3.put_object(Bucket=args.bucket, Key="datasets/imagenet-mini/val/00000.jpg", Body=b"not in the train split")
    print(f"uploaded {len(sizes)} objects, {sum(sizes.values())} bytes", flush=True)

    for ranged in (False, True):
        mode = f"ranged get_object ({RANGE_BYTES}-byte ranges)" if ranged else "get_object"
        dataset = S3PrefixDataset(args, ranged)
        if sorted(dataset.keys) != sorted(sizes):
            fail(f"the Dataset listed {len(dataset.keys)} keys under {PREFIX}, expected {len(sizes)}: {dataset.keys}")
        loader = DataLoader(dataset, batch_size=3, shuffle=True, num_workers=2, collate_fn=collate, generator=torch.Generator().manual_seed(7))
        seen, workers = {}, set()
        for batch in loader:
            for key, tensor, worker in batch:
                if key in seen:
                    fail(f"{mode}: {key} delivered twice")
                data = tensor.numpy().tobytes()
                if len(data) != sizes[key]:
                    fail(f"{mode}: {key} has {len(data)} bytes, expected {sizes[key]}")
                if data != expected(key, sizes[key]):
                    first = next(i for i, (a, b) in enumerate(zip(data, expected(key, sizes[key]))) if a != b)
                    fail(f"{mode}: {key} differs from byte {first}")
                seen[key] = worker
                workers.add(worker)
        if len(seen) != len(sizes):
            fail(f"{mode}: {len(seen)} of {len(sizes)} objects delivered")
        if workers != {0, 1}:
            fail(f"{mode}: samples came from workers {sorted(workers)}, expected both of 2")
        print(f"DataLoader num_workers=2 with {mode}: {len(seen)} objects, every byte checked", flush=True)

    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=args.bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=args.bucket)
    print("OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except botocore.exceptions.ClientError as err:
        fail(f"S3 error {err.response.get('Error')} status {err.response['ResponseMetadata'].get('HTTPStatusCode')}: {err}")
    except Exception as err:  # noqa: BLE001 - any other failure is a test failure with its type
        fail(f"{type(err).__name__}: {err}")
