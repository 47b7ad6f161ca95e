"""Listing benchmark through boto3, as dataset loaders list: fill a bucket with N keys of 1 KiB spread over
P prefixes, then time ListObjectsV2 through the paginator (1,000 keys a page): flat, Delimiter='/' at the
root, one prefix, and one page after a StartAfter deep in the bucket. Works against any S3 endpoint, so the
same command measures a peer.

    python3 bench/listing-bench.py fill --endpoint http://127.0.0.1:9000 --keys 100000
    python3 bench/listing-bench.py list --endpoint http://127.0.0.1:9000 --keys 100000

Credentials come from --access-key/--secret-key (default: the embedded default's development keys).
`list --json` prints one JSON object per listing instead of a table: `npm run bench` runs it against every
server and fills the bucket itself, with the same key names (key() below).
"""
import argparse
import concurrent.futures
import json
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(args):
    # Fills retry hard (a loaded server may shed load); a listing that fails is reported, so it retries little.
    attempts = 10 if args.mode == 'fill' else 3
    return boto3.client(
        's3',
        endpoint_url=args.endpoint,
        aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key,
        region_name='us-east-1',
        config=Config(max_pool_connections=32, retries={'max_attempts': attempts}),
    )


def key(args, i):
    # bench/lib/listing-table.ts (listingKey) names the keys it fills the same way.
    return f"p{i % args.prefixes:02d}/obj-{i:08d}"


def deep_key(args):
    """Half way through the last prefix: the page after it starts about 97% of the way through the sorted bucket."""
    per_prefix = args.keys // args.prefixes
    return key(args, args.prefixes - 1 + args.prefixes * (per_prefix // 2))


def fill(args, s3):
    try:
        s3.create_bucket(Bucket=args.bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    body = b'x' * 1024
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        for _ in pool.map(lambda i: s3.put_object(Bucket=args.bucket, Key=key(args, i), Body=body), range(args.keys)):
            pass
    print(f"filled {args.keys} keys in {time.monotonic() - started:.1f} s")


def timed(args, s3, name, label, one_page=False, **params):
    """One listing; a server's error ends it, is reported, and the next listing runs."""
    started = time.monotonic()
    keys = prefixes = pages = 0
    error = None
    try:
        for page in s3.get_paginator('list_objects_v2').paginate(Bucket=args.bucket, PaginationConfig={'PageSize': 1000}, **params):
            pages += 1
            keys += len(page.get('Contents', []))
            prefixes += len(page.get('CommonPrefixes', []))
            if one_page:
                break
    except ClientError as err:
        error = f"page {pages + 1}: {err.response.get('Error', {}).get('Code', '?')} (HTTP {err.response.get('ResponseMetadata', {}).get('HTTPStatusCode', '?')})"
    seconds = time.monotonic() - started
    if args.json:
        print(json.dumps({'case': name, 'seconds': seconds, 'keys': keys, 'prefixes': prefixes, 'pages': pages, 'error': error}), flush=True)
    elif error is not None:
        print(f"{label:<34} {seconds:8.2f} s  failed on {error}")
    else:
        print(f"{label:<34} {seconds:8.2f} s  {keys:>8} keys  {prefixes:>4} prefixes  {keys / seconds if keys else 0:9.0f} keys/s")


def list_all(args, s3):
    timed(args, s3, 'flat', 'flat')
    timed(args, s3, 'delimiter', "Delimiter='/' at the root", Delimiter='/')
    timed(args, s3, 'prefix', 'one prefix', Prefix='p03/')
    timed(args, s3, 'start-after', 'one page after a deep StartAfter', one_page=True, StartAfter=deep_key(args))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('mode', choices=['fill', 'list'])
    parser.add_argument('--endpoint', default='http://127.0.0.1:9000')
    parser.add_argument('--access-key', default='tessera')
    parser.add_argument('--secret-key', default='tessera-dev-secret')
    parser.add_argument('--bucket', default='listing')
    parser.add_argument('--keys', type=int, default=100_000)
    parser.add_argument('--prefixes', type=int, default=20)
    parser.add_argument('--threads', type=int, default=16)
    parser.add_argument('--json', action='store_true', help='list: one JSON object per listing')
    args = parser.parse_args()
    s3 = client(args)
    fill(args, s3) if args.mode == 'fill' else list_all(args, s3)


if __name__ == '__main__':
    main()
