"""ACLs: Get/PutBucketAcl, Get/PutObjectAcl, canned ACLs and x-amz-grant-* headers on writes, per the S3 API reference
and the ACL overview (user guide: "Access control list (ACL) overview", canned ACLs and grantees)."""

from botocore import UNSIGNED
from botocore.config import Config

from conformance import case, check, equal, expect_error

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"


def owner_id(ctx):
    return ctx.s3.list_buckets()["Owner"]["ID"]


def grants_of(acl):
    """An ACL answer's grants as a sorted list of (grantee, permission): a user by id, a group by URI."""
    out = []
    for grant in acl["Grants"]:
        grantee = grant["Grantee"]
        who = grantee.get("URI") if grantee["Type"] == "Group" else grantee.get("ID")
        out.append((grantee["Type"], who, grant["Permission"]))
    return sorted(out)


def owner_full(owner):
    return ("CanonicalUser", owner, "FULL_CONTROL")


def anonymous(ctx):
    config = Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"})
    return ctx.session.client("s3", endpoint_url=ctx.endpoint, config=config)


@case("a new bucket's ACL names its owner and grants the owner FULL_CONTROL, nothing else")
def default_bucket_acl(ctx):
    owner = owner_id(ctx)
    acl = ctx.s3.get_bucket_acl(Bucket=ctx.bucket)
    equal(acl["Owner"]["ID"], owner, "Owner")
    check(acl["Owner"].get("DisplayName"), "the owner has a display name")
    equal(grants_of(acl), [owner_full(owner)], "grants")
    equal(acl["Grants"][0]["Grantee"].get("DisplayName"), acl["Owner"]["DisplayName"], "the grantee's display name")


@case("each canned ACL on PutBucketAcl grants exactly what the ACL overview lists")
def canned_bucket_acls(ctx):
    owner = owner_id(ctx)
    expected = {
        "private": [],
        "public-read": [("Group", ALL_USERS, "READ")],
        "public-read-write": [("Group", ALL_USERS, "READ"), ("Group", ALL_USERS, "WRITE")],
        "authenticated-read": [("Group", AUTHENTICATED_USERS, "READ")],
        "log-delivery-write": [("Group", LOG_DELIVERY, "READ_ACP"), ("Group", LOG_DELIVERY, "WRITE")],
    }
    for canned, extra in expected.items():
        ctx.s3.put_bucket_acl(Bucket=ctx.bucket, ACL=canned)
        equal(grants_of(ctx.s3.get_bucket_acl(Bucket=ctx.bucket)), sorted([owner_full(owner)] + extra), canned)


@case("CreateBucket with a canned ACL sets it, and anonymous access follows the bucket's ACL")
def create_with_acl(ctx):
    public = ctx.bucket + "-pub"
    ctx.s3.create_bucket(Bucket=public, ACL="public-read")
    ctx.s3.put_object(Bucket=public, Key="k", Body=b"x")
    check(("Group", ALL_USERS, "READ") in grants_of(ctx.s3.get_bucket_acl(Bucket=public)), "AllUsers READ")
    keys = [o["Key"] for o in anonymous(ctx).list_objects_v2(Bucket=public).get("Contents", [])]
    equal(keys, ["k"], "an anonymous listing of a public-read bucket")
    ctx.s3.put_bucket_acl(Bucket=public, ACL="private")
    expect_error(lambda: anonymous(ctx).list_objects_v2(Bucket=public), 403, "AccessDenied", "anonymous after private")


@case("PutBucketAcl with an AccessControlPolicy document stores its grants and GetBucketAcl answers them")
def bucket_acl_document(ctx):
    owner = owner_id(ctx)
    policy = {
        "Owner": {"ID": owner},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"},
            {"Grantee": {"Type": "Group", "URI": LOG_DELIVERY}, "Permission": "WRITE"},
        ],
    }
    ctx.s3.put_bucket_acl(Bucket=ctx.bucket, AccessControlPolicy=policy)
    equal(
        grants_of(ctx.s3.get_bucket_acl(Bucket=ctx.bucket)),
        sorted([owner_full(owner), ("Group", ALL_USERS, "READ_ACP"), ("Group", LOG_DELIVERY, "WRITE")]),
        "grants",
    )


@case("PutBucketAcl with x-amz-grant-* headers grants each listed grantee, several per header")
def bucket_grant_headers(ctx):
    owner = owner_id(ctx)
    ctx.s3.put_bucket_acl(
        Bucket=ctx.bucket,
        GrantFullControl=f'id="{owner}"',
        GrantRead=f'uri="{ALL_USERS}", uri="{AUTHENTICATED_USERS}"',
        GrantWriteACP=f'uri="{LOG_DELIVERY}"',
    )
    equal(
        grants_of(ctx.s3.get_bucket_acl(Bucket=ctx.bucket)),
        sorted([owner_full(owner), ("Group", ALL_USERS, "READ"), ("Group", AUTHENTICATED_USERS, "READ"), ("Group", LOG_DELIVERY, "WRITE_ACP")]),
        "grants",
    )


@case("ACL errors are InvalidRequest, InvalidArgument, UnresolvableGrantByEmailAddress and MalformedACLError, and change nothing")
def acl_errors(ctx):
    owner = owner_id(ctx)
    ctx.s3.put_bucket_acl(Bucket=ctx.bucket, ACL="public-read")
    before = grants_of(ctx.s3.get_bucket_acl(Bucket=ctx.bucket))
    expect_error(lambda: ctx.s3.put_bucket_acl(Bucket=ctx.bucket, ACL="private", GrantRead=f'uri="{ALL_USERS}"'), 400, "InvalidRequest", "a canned ACL and grant headers")
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="acl", headers={"x-amz-acl": "world-readable"})
    check(r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body, f"an unknown canned ACL: {r.status} {r.body[:200]!r}")
    expect_error(lambda: ctx.s3.put_bucket_acl(Bucket=ctx.bucket, GrantRead='id="' + "0" * 64 + '"'), 400, "InvalidArgument", "an unknown canonical id")
    expect_error(lambda: ctx.s3.put_bucket_acl(Bucket=ctx.bucket, GrantRead='emailAddress="someone@example.com"'), 400, "UnresolvableGrantByEmailAddress", "an e-mail grantee")
    bad_permission = (
        f'<AccessControlPolicy><Owner><ID>{owner}</ID></Owner><AccessControlList><Grant>'
        f'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>{ALL_USERS}</URI></Grantee>'
        f"<Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>"
    ).encode()
    r = ctx.raw("PUT", f"/{ctx.bucket}", query="acl", body=bad_permission)
    check(r.status == 400 and b"<Code>MalformedACLError</Code>" in r.body, f"an unknown permission: {r.status} {r.body[:200]!r}")
    equal(grants_of(ctx.s3.get_bucket_acl(Bucket=ctx.bucket)), before, "the ACL is unchanged")


@case("the ACL calls on a missing bucket or key are 404 NoSuchBucket and NoSuchKey")
def missing(ctx):
    expect_error(lambda: ctx.s3.get_bucket_acl(Bucket=ctx.bucket + "-missing"), 404, "NoSuchBucket", "GetBucketAcl")
    expect_error(lambda: ctx.s3.put_bucket_acl(Bucket=ctx.bucket + "-missing", ACL="private"), 404, "NoSuchBucket", "PutBucketAcl")
    expect_error(lambda: ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="absent"), 404, "NoSuchKey", "GetObjectAcl")
    expect_error(lambda: ctx.s3.put_object_acl(Bucket=ctx.bucket, Key="absent", ACL="private"), 404, "NoSuchKey", "PutObjectAcl")


@case("an object written with a canned ACL carries it; PutObjectAcl replaces it and anonymous reads follow")
def object_acl(ctx):
    owner = owner_id(ctx)
    ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"hello", ACL="public-read")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k")), sorted([owner_full(owner), ("Group", ALL_USERS, "READ")]), "public-read")
    equal(anonymous(ctx).get_object(Bucket=ctx.bucket, Key="k")["Body"].read(), b"hello", "anonymous read")
    ctx.s3.put_object_acl(Bucket=ctx.bucket, Key="k", ACL="private")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k")), [owner_full(owner)], "private")
    expect_error(lambda: anonymous(ctx).get_object(Bucket=ctx.bucket, Key="k"), 403, "AccessDenied", "anonymous after private")
    ctx.s3.put_object_acl(Bucket=ctx.bucket, Key="k", GrantRead=f'uri="{AUTHENTICATED_USERS}"', GrantFullControl=f'id="{owner}"')
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k")), sorted([owner_full(owner), ("Group", AUTHENTICATED_USERS, "READ")]), "grant headers")
    equal(ctx.s3.get_object(Bucket=ctx.bucket, Key="k")["Body"].read(), b"hello", "an ACL change leaves the data")


@case("a copy gets the ACL its request names, private by default, never the source's")
def copy_acl(ctx):
    owner = owner_id(ctx)
    ctx.s3.put_object(Bucket=ctx.bucket, Key="src", Body=b"x", ACL="public-read")
    ctx.s3.copy_object(Bucket=ctx.bucket, Key="plain", CopySource={"Bucket": ctx.bucket, "Key": "src"})
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="plain")), [owner_full(owner)], "a copy without ACL is private")
    ctx.s3.copy_object(Bucket=ctx.bucket, Key="shared", CopySource={"Bucket": ctx.bucket, "Key": "src"}, ACL="authenticated-read")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="shared")), sorted([owner_full(owner), ("Group", AUTHENTICATED_USERS, "READ")]), "the copy's own ACL")


@case("a multipart upload's ACL from CreateMultipartUpload is the completed object's")
def multipart_acl(ctx):
    owner = owner_id(ctx)
    upload_id = ctx.s3.create_multipart_upload(Bucket=ctx.bucket, Key="mp", ACL="public-read")["UploadId"]
    etag = ctx.s3.upload_part(Bucket=ctx.bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"p")["ETag"]
    ctx.s3.complete_multipart_upload(Bucket=ctx.bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="mp")), sorted([owner_full(owner), ("Group", ALL_USERS, "READ")]), "public-read")


@case("GetObjectAcl and PutObjectAcl with a VersionId act on that version, a noncurrent one included")
def versioned_object_acl(ctx):
    owner = owner_id(ctx)
    ctx.s3.put_bucket_versioning(Bucket=ctx.bucket, VersioningConfiguration={"Status": "Enabled"})
    old = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"old", ACL="public-read")["VersionId"]
    new = ctx.s3.put_object(Bucket=ctx.bucket, Key="k", Body=b"new")["VersionId"]
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k", VersionId=old)), sorted([owner_full(owner), ("Group", ALL_USERS, "READ")]), "the old version's ACL")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k", VersionId=new)), [owner_full(owner)], "the current version named by id")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k")), [owner_full(owner)], "the current version")
    ctx.s3.put_object_acl(Bucket=ctx.bucket, Key="k", VersionId=old, ACL="private")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k", VersionId=old)), [owner_full(owner)], "the old version made private")
    ctx.s3.put_object_acl(Bucket=ctx.bucket, Key="k", VersionId=new, ACL="authenticated-read")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k")), sorted([owner_full(owner), ("Group", AUTHENTICATED_USERS, "READ")]), "the current one changed by id")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k", VersionId=old)), [owner_full(owner)], "the old one kept its own")
    expect_error(lambda: ctx.s3.get_object_acl(Bucket=ctx.bucket, Key="k", VersionId="0" * 24), 404, "NoSuchVersion", "an id the key does not have")


@case("with BucketOwnerEnforced, ACLs that grant anything beyond the owner are 400 AccessControlListNotSupported")
def owner_enforced(ctx):
    owner = owner_id(ctx)
    enforced = ctx.bucket + "-own"
    ctx.s3.create_bucket(Bucket=enforced, ObjectOwnership="BucketOwnerEnforced")
    expect_error(lambda: ctx.s3.put_bucket_acl(Bucket=enforced, ACL="public-read"), 400, "AccessControlListNotSupported", "PutBucketAcl public-read")
    expect_error(lambda: ctx.s3.put_object(Bucket=enforced, Key="k", Body=b"x", ACL="public-read"), 400, "AccessControlListNotSupported", "PutObject public-read")
    ctx.s3.put_object(Bucket=enforced, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    ctx.s3.put_bucket_acl(Bucket=enforced, ACL="private")
    equal(grants_of(ctx.s3.get_bucket_acl(Bucket=enforced)), [owner_full(owner)], "the bucket's ACL")
    equal(grants_of(ctx.s3.get_object_acl(Bucket=enforced, Key="k")), [owner_full(owner)], "the object's ACL")
