"""Buckets and the jobs table: private, encrypted, TLS only, logged, versioned, expiring."""

from __future__ import annotations

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
from infra.config import StackConfig
from infra.policies import deny_insecure_transport, policy_document

# An upload is deleted once its job ends; one that was never processed (the client gave up) goes after a day.
UNPROCESSED_UPLOAD_DAYS = 1
ARTIFACT_NONCURRENT_DAYS = 30


class Storage(pulumi.ComponentResource):
    """The data bucket (uploads/ and converted/), the artifact bucket (layer, classifier), the access-log bucket,
    the jobs table, and the optional customer-managed KMS key that encrypts them."""

    def __init__(
        self, name: str, config: StackConfig, account_id: pulumi.Input[str], tags: dict[str, str], opts: Any = None
    ) -> None:
        super().__init__("image-analyzer:storage:Storage", name, None, opts)
        self._config = config
        self._tags = tags
        child = pulumi.ResourceOptions(parent=self)
        self.key = (
            aws.kms.Key(
                "data-key",
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
            if config.customer_managed_key
            else None
        )

        # Server access logs (S3.9) land here; a log bucket takes SSE-S3 only, and logs itself nowhere.
        self.log_bucket = aws.s3.Bucket("access-logs", force_destroy=config.force_destroy, tags=tags, opts=child)
        log_block = self._private(self.log_bucket, "access-logs", kms=False)
        aws.s3.BucketOwnershipControls(
            "access-logs-ownership",
            bucket=self.log_bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketPolicy(
            "access-logs-policy",
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_block]),
        )
        self._lifecycle(
            self.log_bucket, "access-logs", [{"id": "expire-logs", "expiration": {"days": config.log_retention_days}}]
        )

        self.bucket, uploads_versioning = self._data_bucket("uploads")
        aws.s3.BucketCorsConfiguration(
            "uploads-cors",
            bucket=self.bucket.id,
            cors_rules=[
                {
                    "allowed_methods": list(CORS.bucket_methods),
                    "allowed_origins": config.allowed_origins,
                    "allowed_headers": list(CORS.bucket_headers),
                    "expose_headers": list(CORS.bucket_expose_headers),
                    "max_age_seconds": CORS.max_age_s,
                }
            ],
            opts=child,
        )
        upload_days = config.retention_days if config.keep_originals else UNPROCESSED_UPLOAD_DAYS
        self._lifecycle(
            self.bucket,
            "uploads",
            [
                {
                    "id": f"expire-{prefix.rstrip('/')}",
                    "filter": {"prefix": prefix},
                    "expiration": {"days": days},
                    "noncurrent_version_expiration": {"noncurrent_days": config.noncurrent_version_days},
                }
                for prefix, days in ((UPLOAD_PREFIX, upload_days), (CONVERTED_PREFIX, config.retention_days))
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
            "jobs",
            name=f"{TABLE_NAME}-{pulumi.get_stack()}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=TABLE_HASH_KEY,
            attributes=[{"name": TABLE_HASH_KEY, "type": "S"}],
            ttl={"attribute_name": TABLE_TTL_ATTRIBUTE, "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, **({"kms_key_arn": self.key.arn} if self.key else {})},
            deletion_protection_enabled=config.deletion_protection,
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
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=complete,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[after] if after else []),
        )

    def _data_bucket(self, name: str) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        """A private, encrypted, TLS-only, access-logged, versioned bucket; its lifecycle is the caller's."""
        bucket = aws.s3.Bucket(
            name, force_destroy=self._config.force_destroy, tags=self._tags, opts=pulumi.ResourceOptions(parent=self)
        )
        self._tls_only(bucket, name, self._private(bucket, name, kms=True))
        self._logged(bucket, name)
        return bucket, self._versioned(bucket, name)

    def _private(self, bucket: aws.s3.Bucket, name: str, kms: bool) -> aws.s3.BucketPublicAccessBlock:
        child = pulumi.ResourceOptions(parent=self)
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
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
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": default, "bucket_key_enabled": True}],
            opts=child,
        )
        return block

    def _tls_only(self, bucket: aws.s3.Bucket, name: str, block: aws.s3.BucketPublicAccessBlock) -> None:
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=policy_document([deny_insecure_transport(bucket.arn)]),
            # A bucket policy written while the public access block is being applied can be refused.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )

    def _logged(self, bucket: aws.s3.Bucket, name: str) -> None:
        aws.s3.BucketLogging(
            f"{name}-access-logging",
            bucket=bucket.id,
            target_bucket=self.log_bucket.id,
            target_prefix=f"{name}/",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _versioned(self, bucket: aws.s3.Bucket, name: str) -> aws.s3.BucketVersioning:
        return aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=pulumi.ResourceOptions(parent=self),
        )
