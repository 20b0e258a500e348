"""The HTTP API: routes from the definitions, a JWT authorizer on each, per-route throttling, access logs."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import CORS, PROJECT, ROUTES
from infra.config import StackConfig

# Who called, from where, and what came of it: API Gateway writes one JSON line per request.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "sourceIp": "$context.identity.sourceIp",
    "subject": "$context.authorizer.claims.sub",
    "userAgent": "$context.identity.userAgent",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "authorizerError": "$context.authorizer.error",
    "integrationError": "$context.integrationErrorMessage",
}


class Api(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        functions: dict[str, aws.lambda_.Function],
        tags: dict[str, str],
        opts: Any = None,
    ) -> None:
        super().__init__("image-analyzer:api:Api", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"{PROJECT}-{pulumi.get_stack()}"
        self.api = aws.apigatewayv2.Api(
            "api",
            protocol_type="HTTP",
            cors_configuration={
                "allow_origins": config.allowed_origins,
                "allow_methods": CORS.api_methods,
                "allow_headers": list(CORS.api_headers),
                "expose_headers": list(CORS.api_expose_headers),
                "max_age": CORS.max_age_s,
            },
            tags=tags,
            opts=child,
        )
        self.user_pool: aws.cognito.UserPool | None = None
        self.user_pool_client: aws.cognito.UserPoolClient | None = None
        self.issuer: pulumi.Input[str] | None = None
        authorizer = self._authorizer(config, tags) if config.auth != "none" else None

        self.access_logs = aws.cloudwatch.LogGroup(
            "api-access-logs",
            name=f"/aws/apigateway/{prefix}",
            retention_in_days=config.log_retention_days,
            tags=tags,
            opts=child,
        )
        for route in ROUTES:
            slug = route.path.strip("/")
            function = functions[route.function]
            integration = aws.apigatewayv2.Integration(
                f"{slug}-integration",
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_uri=function.invoke_arn,
                payload_format_version="2.0",
                opts=child,
            )
            aws.apigatewayv2.Route(
                f"{slug}-route",
                api_id=self.api.id,
                route_key=f"{route.method} {route.path}",
                target=pulumi.Output.concat("integrations/", integration.id),
                authorization_type="JWT" if authorizer else "NONE",
                authorizer_id=authorizer.id if authorizer else None,
                opts=child,
            )
            aws.lambda_.Permission(
                f"{slug}-invoke",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/", route.method, route.path),
                opts=child,
            )
        self.stage = aws.apigatewayv2.Stage(
            "default-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": config.api_rate_limit,
                "throttling_burst_limit": config.api_burst_limit,
            },
            route_settings=[
                {
                    "route_key": f"{route.method} {route.path}",
                    "throttling_rate_limit": route.rate_limit,
                    "throttling_burst_limit": route.burst_limit,
                }
                for route in ROUTES
            ],
            access_log_settings={"destination_arn": self.access_logs.arn, "format": json.dumps(ACCESS_LOG_FORMAT)},
            tags=tags,
            opts=child,
        )
        self.register_outputs({"url": self.stage.invoke_url})

    def _authorizer(self, config: StackConfig, tags: dict[str, str]) -> aws.apigatewayv2.Authorizer:
        child = pulumi.ResourceOptions(parent=self)
        if config.auth == "cognito":
            self.user_pool = aws.cognito.UserPool(
                "users",
                name=f"{PROJECT}-{pulumi.get_stack()}",
                admin_create_user_config={"allow_admin_create_user_only": True},  # no self sign-up
                password_policy={
                    "minimum_length": 12,
                    "require_lowercase": True,
                    "require_uppercase": True,
                    "require_numbers": True,
                    "require_symbols": False,
                    "temporary_password_validity_days": 3,
                },
                mfa_configuration="OPTIONAL",
                software_token_mfa_configuration={"enabled": True},
                deletion_protection="ACTIVE" if config.deletion_protection else "INACTIVE",
                tags=tags,
                opts=child,
            )
            self.user_pool_client = aws.cognito.UserPoolClient(
                "users-client",
                user_pool_id=self.user_pool.id,
                generate_secret=False,  # a public client: the CLI and the page
                explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                prevent_user_existence_errors="ENABLED",
                access_token_validity=1,
                id_token_validity=1,
                token_validity_units={"access_token": "hours", "id_token": "hours"},
                opts=child,
            )
            self.issuer = pulumi.Output.concat("https://", self.user_pool.endpoint)
            audience: pulumi.Input[list[str]] = pulumi.Output.all(self.user_pool_client.id)
        else:
            assert config.jwt_issuer is not None
            self.issuer = config.jwt_issuer
            audience = config.jwt_audience
        return aws.apigatewayv2.Authorizer(
            "jwt-authorizer",
            api_id=self.api.id,
            authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration={"issuer": self.issuer, "audiences": audience},
            name="jwt",
            opts=child,
        )
