"""Bucket CORS: Put/Get/DeleteBucketCors and the answers to preflight OPTIONS and browser requests, per the S3 API reference
and S3's CORS guide (user guide: "Configuring cross-origin resource sharing", "Troubleshooting CORS")."""

import xml.etree.ElementTree as ElementTree

from conformance import case, check, equal, expect_error

RULES = [
    {
        "ID": "uploads",
        "AllowedOrigins": ["https://app.example.com", "http://*.example.org"],
        "AllowedMethods": ["PUT", "POST", "DELETE"],
        "AllowedHeaders": ["Content-Type", "x-amz-*"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 3000,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


def error_code(body):
    root = ElementTree.fromstring(body)
    return root.findtext("Code"), root.findtext("Message") or ""


def preflight(ctx, path, origin=None, method=None, headers=None):
    sent = {}
    if origin is not None:
        sent["Origin"] = origin
    if method is not None:
        sent["Access-Control-Request-Method"] = method
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return ctx.raw("OPTIONS", path, headers=sent, sign=False)


@case("PutBucketCors stores the rules and GetBucketCors answers them, every element kept")
def round_trip(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    got = ctx.s3.get_bucket_cors(Bucket=ctx.bucket)["CORSRules"]
    equal(len(got), 2, "two rules")
    first, second = got
    equal(first.get("ID"), "uploads", "ID")
    equal(first["AllowedOrigins"], RULES[0]["AllowedOrigins"], "AllowedOrigins")
    equal(first["AllowedMethods"], RULES[0]["AllowedMethods"], "AllowedMethods")
    equal(first["AllowedHeaders"], RULES[0]["AllowedHeaders"], "AllowedHeaders")
    equal(first["ExposeHeaders"], RULES[0]["ExposeHeaders"], "ExposeHeaders")
    equal(first["MaxAgeSeconds"], 3000, "MaxAgeSeconds")
    equal((second["AllowedOrigins"], second["AllowedMethods"]), (["*"], ["GET", "HEAD"]), "the second rule")
    check("ID" not in second and "MaxAgeSeconds" not in second, f"no elements the rule did not have: {second}")


@case("PutBucketCors replaces the whole configuration")
def replaces(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["https://only.example"], "AllowedMethods": ["GET"]}]})
    got = ctx.s3.get_bucket_cors(Bucket=ctx.bucket)["CORSRules"]
    equal([r["AllowedOrigins"] for r in got], [["https://only.example"]], "only the new rule")


@case("GetBucketCors on a bucket without CORS is 404 NoSuchCORSConfiguration; DeleteBucketCors is 204, also when there was none")
def missing_and_delete(ctx):
    expect_error(lambda: ctx.s3.get_bucket_cors(Bucket=ctx.bucket), 404, "NoSuchCORSConfiguration", "no configuration yet")
    equal(ctx.s3.delete_bucket_cors(Bucket=ctx.bucket)["ResponseMetadata"]["HTTPStatusCode"], 204, "delete without one")
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    equal(ctx.s3.delete_bucket_cors(Bucket=ctx.bucket)["ResponseMetadata"]["HTTPStatusCode"], 204, "delete")
    expect_error(lambda: ctx.s3.get_bucket_cors(Bucket=ctx.bucket), 404, "NoSuchCORSConfiguration", "gone after delete")


@case("the CORS calls on a missing bucket are 404 NoSuchBucket")
def no_bucket(ctx):
    missing = ctx.bucket + "-missing"
    expect_error(lambda: ctx.s3.get_bucket_cors(Bucket=missing), 404, "NoSuchBucket", "get")
    expect_error(lambda: ctx.s3.put_bucket_cors(Bucket=missing, CORSConfiguration={"CORSRules": RULES}), 404, "NoSuchBucket", "put")
    expect_error(lambda: ctx.s3.delete_bucket_cors(Bucket=missing), 404, "NoSuchBucket", "delete")


@case("PutBucketCors refuses an unknown method, an origin with two wildcards and a wildcard in ExposeHeader (400 InvalidRequest), and keeps the old rules")
def invalid_rules(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    expect_error(
        lambda: ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}),
        400, "InvalidRequest", "PATCH",
    )
    expect_error(
        lambda: ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["http://*.*.example"], "AllowedMethods": ["GET"]}]}),
        400, "InvalidRequest", "two wildcards",
    )
    for expose in (["*"], ["ETag", "x-amz-meta-*"]):
        err = expect_error(
            lambda: ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "ExposeHeaders": expose}]}),
            400, "InvalidRequest", f"ExposeHeader {expose}",
        )
        check("contains wildcard" in err.response["Error"]["Message"], f"the message names the wildcard: {err.response['Error']['Message']!r}")
    equal(len(ctx.s3.get_bucket_cors(Bucket=ctx.bucket)["CORSRules"]), 2, "the stored rules are unchanged")


@case("PutBucketCors without rules, or a rule without AllowedOrigin, is 400 MalformedXML")
def malformed(ctx):
    empty = b'<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></CORSConfiguration>'
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="cors", body=empty)
    equal((r.status, error_code(r.body)[0]), (400, "MalformedXML"), "no rules")
    no_origin = b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="cors", body=no_origin)
    equal((r.status, error_code(r.body)[0]), (400, "MalformedXML"), "no AllowedOrigin")
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="cors", body=b"<CORSConfiguration><CORSRule>")
    equal((r.status, error_code(r.body)[0]), (400, "MalformedXML"), "not XML")
    expect_error(lambda: ctx.s3.get_bucket_cors(Bucket=ctx.bucket), 404, "NoSuchCORSConfiguration", "nothing stored")


@case("a preflight a rule allows is 200 with that rule's Access-Control headers, unauthenticated")
def preflight_allowed(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(ctx, f"/{ctx.bucket}/photo.jpg", "https://app.example.com", "PUT", "content-type, x-amz-meta-title")
    equal(r.status, 200, "status")
    equal(r.header("access-control-allow-origin"), "https://app.example.com", "the origin echoed")
    equal(r.header("access-control-allow-methods"), "PUT, POST, DELETE", "the rule's methods")
    equal(r.header("access-control-allow-headers"), "content-type, x-amz-meta-title", "the requested headers")
    equal(r.header("access-control-expose-headers"), "ETag, x-amz-request-id", "the rule's exposed headers")
    equal(r.header("access-control-max-age"), "3000", "max age")
    equal(r.header("access-control-allow-credentials"), "true", "credentials allowed for a named origin")
    vary = (r.header("vary") or "").lower()
    check("origin" in vary and "access-control-request-method" in vary, f"Vary names what the answer depends on: {vary!r}")


@case("a preflight matches origins with one wildcard, header names in any case, and the first rule that allows everything asked")
def preflight_matching(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(ctx, f"/{ctx.bucket}/k", "http://cdn.example.org", "DELETE", "X-Amz-Date")
    equal((r.status, r.header("access-control-allow-origin")), (200, "http://cdn.example.org"), "wildcard origin and header in another case")
    r = preflight(ctx, f"/{ctx.bucket}/k", "https://elsewhere.test", "GET")
    equal(r.status, 200, "the second rule allows any origin to GET")
    equal(r.header("access-control-allow-origin"), "*", "a rule allowing every origin answers *")
    equal(r.header("access-control-allow-methods"), "GET, HEAD", "its methods")
    check(r.header("access-control-allow-credentials") is None, "no credentials with *")
    r = preflight(ctx, f"/{ctx.bucket}", "https://app.example.com", "POST")
    equal(r.status, 200, "a preflight for the bucket itself")


@case("a preflight no rule allows is 403 AccessForbidden (CORSResponse) and carries no Access-Control headers")
def preflight_refused(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    for origin, method, headers, what in [
        ("https://evil.example", "PUT", None, "an origin no rule names"),
        ("https://app.example.com", "PATCH", None, "a method no rule allows"),
        ("https://app.example.com", "PUT", "authorization, x-custom", "a header no rule allows"),
        ("https://elsewhere.test", "PUT", None, "the any-origin rule does not allow PUT"),
    ]:
        r = preflight(ctx, f"/{ctx.bucket}/k", origin, method, headers)
        code, message = error_code(r.body)
        equal((r.status, code), (403, "AccessForbidden"), what)
        check(message.startswith("CORSResponse: This CORS request is not allowed."), f"{what}: message {message!r}")
        check(r.header("access-control-allow-origin") is None, f"{what}: no Allow-Origin")


@case("a preflight on a bucket without CORS is 403 AccessForbidden, CORS not enabled")
def preflight_without_cors(ctx):
    r = preflight(ctx, f"/{ctx.bucket}/k", "https://app.example.com", "GET")
    code, message = error_code(r.body)
    equal((r.status, code), (403, "AccessForbidden"), "status and code")
    equal(message, "CORSResponse: CORS is not enabled for this bucket.", "message")


@case("a preflight without Origin or without Access-Control-Request-Method is 400 BadRequest")
def preflight_incomplete(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(ctx, f"/{ctx.bucket}/k", None, "GET")
    equal((r.status, error_code(r.body)[0]), (400, "BadRequest"), "no Origin")
    r = preflight(ctx, f"/{ctx.bucket}/k", "https://app.example.com", None)
    equal((r.status, error_code(r.body)[0]), (400, "BadRequest"), "no method")


@case("a browser request with an allowed Origin gets Access-Control headers on its answer; another origin gets none and is still served")
def actual_requests(ctx):
    ctx.s3.put_bucket_cors(Bucket=ctx.bucket, CORSConfiguration={"CORSRules": RULES})
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"hello")
    r = ctx.raw("GET", f"/{ctx.bucket}/k", headers={"Origin": "https://elsewhere.test"})
    equal((r.status, r.body), (200, b"hello"), "served")
    equal(r.header("access-control-allow-origin"), "*", "the any-origin GET rule applies")
    r = ctx.raw("PUT", f"/{ctx.bucket}/k2", headers={"Origin": "https://app.example.com"}, body=b"x")
    equal(r.status, 200, "PUT served")
    equal(r.header("access-control-allow-origin"), "https://app.example.com", "the named origin echoed on PUT")
    equal(r.header("access-control-expose-headers"), "ETag, x-amz-request-id", "exposed headers")
    r = ctx.raw("DELETE", f"/{ctx.bucket}/k2", headers={"Origin": "https://elsewhere.test"})
    equal(r.status, 204, "DELETE from another origin is still served (CORS binds browsers, not the server)")
    check(r.header("access-control-allow-origin") is None, "but carries no Allow-Origin")
    r = ctx.raw("GET", f"/{ctx.bucket}/k")
    check(r.header("access-control-allow-origin") is None, "no Origin, no CORS headers")
