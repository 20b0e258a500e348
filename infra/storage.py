"""Buckets and the jobs table: private, encrypted, TLS only, logged, versioned, expiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import (
    CONVERTED_PREFIX,
    CORS,
    TABLE_HASH_KEY,
    TABLE_NAME,
    TABLE_TTL_ATTRIBUTE,
    UPLOAD_PREFIX,
)
from infra.component import Component
from infra.policies import deny_insecure_transport, policy_document

# An upload is deleted once its job ends; one that was never processed (the client gave up) goes after a day.
UNPROCESSED_UPLOAD_DAYS = 1
ARTIFACT_NONCURRENT_DAYS = 30


@dataclass(frozen=True)
class StorageArgs:
    account_id: pulumi.Input[str]
    tags: dict[str, str]
    allowed_origins: list[str]  # the bucket's CORS origins (browser uploads, image URLs)
    retention_days: int  # what jobs show, and kept uploads, expire after this
    keep_originals: bool
    noncurrent_version_days: int
    log_retention_days: int  # access logs
    force_destroy: bool = False
    customer_managed_key: bool = False
    deletion_protection: bool = True


class Storage(Component):
    """The data bucket (uploads/ and converted/), the artifact bucket (layer, classifier), the access-log bucket,
    the jobs table, and the optional customer-managed KMS key that encrypts them."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-analyzer:storage:Storage", name, opts)
        self._args = args
        account_id, tags = args.account_id, args.tags
        child = self.child()
        self.key = (
            aws.kms.Key(
                self.named("data-key"),
                description="Image Analyzer: uploads, renders, artifacts, job records and the alarm topic",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=policy_document(
                    [
                        {
                            "Sid": "TheAccountAdministersTheKeyThroughIam",
                            "Effect": "Allow",
                            "Principal": {"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            # CloudWatch publishes alarms to the encrypted topic: no IAM role of ours is involved.
                            "Sid": "CloudWatchAlarmsPublishToTheTopic",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                        },
                    ]
                ),
                tags=tags,
                opts=child,
            )
            if args.customer_managed_key
            else None
        )

        # Server access logs (S3.9) land here; a log bucket takes SSE-S3 only, and logs itself nowhere.
        self.log_bucket = aws.s3.Bucket(
            self.named("access-logs"), force_destroy=args.force_destroy, tags=tags, opts=child
        )
        log_block = self._private(self.log_bucket, "access-logs", kms=False)
        aws.s3.BucketOwnershipControls(
            self.named("access-logs-ownership"),
            bucket=self.log_bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketPolicy(
            self.named("access-logs-policy"),
            bucket=self.log_bucket.id,
            policy=policy_document(
                [
                    deny_insecure_transport(self.log_bucket.arn),
                    {
                        "Sid": "S3ServerAccessLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(self.log_bucket.arn, "/*"),
                        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                    },
                ]
            ),
            opts=self.child(depends_on=[log_block]),
        )
        self._lifecycle(
            self.log_bucket, "access-logs", [{"id": "expire-logs", "expiration": {"days": args.log_retention_days}}]
        )

        self.bucket, uploads_versioning = self._data_bucket("uploads")
        aws.s3.BucketCorsConfiguration(
            self.named("uploads-cors"),
            bucket=self.bucket.id,
            cors_rules=[
                {
                    "allowed_methods": list(CORS.bucket_methods),
                    "allowed_origins": args.allowed_origins,
                    "allowed_headers": list(CORS.bucket_headers),
                    "expose_headers": list(CORS.bucket_expose_headers),
                    "max_age_seconds": CORS.max_age_s,
                }
            ],
            opts=child,
        )
        upload_days = args.retention_days if args.keep_originals else UNPROCESSED_UPLOAD_DAYS
        self._lifecycle(
            self.bucket,
            "uploads",
            [
                {
                    "id": f"expire-{prefix.rstrip('/')}",
                    "filter": {"prefix": prefix},
                    "expiration": {"days": days},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days},
                }
                for prefix, days in ((UPLOAD_PREFIX, upload_days), (CONVERTED_PREFIX, args.retention_days))
            ],
            after=uploads_versioning,
        )

        # The layer and the classifier's files: code, not data, so not in the bucket of medical images.
        self.artifacts, artifacts_versioning = self._data_bucket("artifacts")
        self._lifecycle(
            self.artifacts,
            "artifacts",
            [
                {
                    "id": "expire-old-artifacts",
                    "noncurrent_version_expiration": {"noncurrent_days": ARTIFACT_NONCURRENT_DAYS},
                }
            ],
            after=artifacts_versioning,
        )

        self.table = aws.dynamodb.Table(
            self.named("jobs"),
            name=f"{TABLE_NAME}-{pulumi.get_stack()}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=TABLE_HASH_KEY,
            attributes=[{"name": TABLE_HASH_KEY, "type": "S"}],
            ttl={"attribute_name": TABLE_TTL_ATTRIBUTE, "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, **({"kms_key_arn": self.key.arn} if self.key else {})},
            deletion_protection_enabled=args.deletion_protection,
            tags=tags,
            opts=child,
        )
        self.register_outputs({"bucket": self.bucket.id, "artifacts": self.artifacts.id, "table": self.table.name})

    def _lifecycle(
        self,
        bucket: aws.s3.Bucket,
        name: str,
        rules: list[dict[str, Any]],
        after: pulumi.Resource | None = None,
    ) -> None:
        """Rules apply to the whole bucket unless they name a filter; incomplete multipart uploads always go."""
        complete = [
            {"status": "Enabled", "filter": {}, "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}
            | rule
            for rule in rules
        ]
        aws.s3.BucketLifecycleConfiguration(
            self.named(f"{name}-lifecycle"),
            bucket=bucket.id,
            rules=complete,
            opts=self.child(depends_on=[after] if after else None),
        )

    def _data_bucket(self, name: str) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        """A private, encrypted, TLS-only, access-logged, versioned bucket; its lifecycle is the caller's."""
        bucket = aws.s3.Bucket(
            self.named(name), force_destroy=self._args.force_destroy, tags=self._args.tags, opts=self.child()
        )
        self._tls_only(bucket, name, self._private(bucket, name, kms=True))
        self._logged(bucket, name)
        return bucket, self._versioned(bucket, name)

    def _private(self, bucket: aws.s3.Bucket, name: str, kms: bool) -> aws.s3.BucketPublicAccessBlock:
        child = self.child()
        block = aws.s3.BucketPublicAccessBlock(
            self.named(f"{name}-public-access"),
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        default: dict[str, Any] = {"sse_algorithm": "AES256"}
        if kms and self.key is not None:
            default = {"sse_algorithm": "aws:kms", "kms_master_key_id": self.key.arn}
        aws.s3.BucketServerSideEncryptionConfiguration(
            self.named(f"{name}-encryption"),
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": default, "bucket_key_enabled": True}],
            opts=child,
        )
        return block

    def _tls_only(self, bucket: aws.s3.Bucket, name: str, block: aws.s3.BucketPublicAccessBlock) -> None:
        aws.s3.BucketPolicy(
            self.named(f"{name}-tls-only"),
            bucket=bucket.id,
            policy=policy_document([deny_insecure_transport(bucket.arn)]),
            # A bucket policy written while the public access block is being applied can be refused.
            opts=self.child(depends_on=[block]),
        )

    def _logged(self, bucket: aws.s3.Bucket, name: str) -> None:
        aws.s3.BucketLogging(
            self.named(f"{name}-access-logging"),
            bucket=bucket.id,
            target_bucket=self.log_bucket.id,
            target_prefix=f"{name}/",
            opts=self.child(),
        )

    def _versioned(self, bucket: aws.s3.Bucket, name: str) -> aws.s3.BucketVersioning:
        return aws.s3.BucketVersioning(
            self.named(f"{name}-versioning"),
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self.child(),
        )
