"""The HTTP API: routes from the definitions, a JWT authorizer on each, per-route throttling, access logs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import CORS, PROJECT, ROUTES
from infra.component import Component

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


@dataclass(frozen=True)
class ApiArgs:
    functions: dict[str, aws.lambda_.Function]  # the routes' targets, by definition name
    tags: dict[str, str]
    allowed_origins: list[str]
    log_retention_days: int  # the access log
    api_rate_limit: float  # requests/s for routes without their own limit
    api_burst_limit: int
    # "cognito" creates a user pool and app client; "jwt" trusts jwt_issuer for jwt_audience; "none": open.
    auth: str = "cognito"
    jwt_issuer: str | None = None
    jwt_audience: list[str] = field(default_factory=list)
    deletion_protection: bool = True  # the user pool's


@dataclass(frozen=True)
class Authorization:
    """The JWT authorizer of every route, the issuer it trusts, and the user pool when the stack made one."""

    authorizer: aws.apigatewayv2.Authorizer
    issuer: pulumi.Input[str]
    user_pool: aws.cognito.UserPool | None = None
    user_pool_client: aws.cognito.UserPoolClient | None = None


class Api(Component):
    """The HTTP API: a route per definition, each behind the JWT authorizer unless the stack is open."""

    def __init__(self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-analyzer:api:Api", name, opts)
        child = self.child()
        functions, tags = args.functions, args.tags
        prefix = f"{PROJECT}-{pulumi.get_stack()}"
        self.api = aws.apigatewayv2.Api(
            self.named("http", former="api"),
            protocol_type="HTTP",
            cors_configuration={
                "allow_origins": args.allowed_origins,
                "allow_methods": CORS.api_methods,
                "allow_headers": list(CORS.api_headers),
                "expose_headers": list(CORS.api_expose_headers),
                "max_age": CORS.max_age_s,
            },
            tags=tags,
            opts=child,
        )
        # None on an open stack (auth "none"): every route is then public.
        self.authorization = self._authorization(args) if args.auth != "none" else None
        authorizer = self.authorization.authorizer if self.authorization else None

        self.access_logs = aws.cloudwatch.LogGroup(
            self.named("access-logs", former="api-access-logs"),
            name=f"/aws/apigateway/{prefix}",
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        for route in ROUTES:
            slug = route.path.strip("/")
            function = functions[route.function]
            integration = aws.apigatewayv2.Integration(
                self.named(f"{slug}-integration"),
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_uri=function.invoke_arn,
                payload_format_version="2.0",
                opts=child,
            )
            aws.apigatewayv2.Route(
                self.named(f"{slug}-route"),
                api_id=self.api.id,
                route_key=f"{route.method} {route.path}",
                target=pulumi.Output.concat("integrations/", integration.id),
                authorization_type="JWT" if authorizer else "NONE",
                authorizer_id=authorizer.id if authorizer else None,
                opts=child,
            )
            aws.lambda_.Permission(
                self.named(f"{slug}-invoke"),
                action="lambda:InvokeFunction",
                function=function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/", route.method, route.path),
                opts=child,
            )
        self.stage = aws.apigatewayv2.Stage(
            self.named("default-stage"),
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": args.api_rate_limit,
                "throttling_burst_limit": args.api_burst_limit,
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

    def _authorization(self, args: ApiArgs) -> Authorization:
        child = self.child()
        user_pool = user_pool_client = None
        if args.auth == "cognito":
            user_pool = aws.cognito.UserPool(
                self.named("users"),
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
                deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
                tags=args.tags,
                opts=child,
            )
            user_pool_client = aws.cognito.UserPoolClient(
                self.named("users-client"),
                user_pool_id=user_pool.id,
                generate_secret=False,  # a public client: the CLI and the page
                explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                prevent_user_existence_errors="ENABLED",
                access_token_validity=1,
                id_token_validity=1,
                token_validity_units={"access_token": "hours", "id_token": "hours"},
                opts=child,
            )
            issuer: pulumi.Input[str] = pulumi.Output.concat("https://", user_pool.endpoint)
            audience: pulumi.Input[list[str]] = pulumi.Output.all(user_pool_client.id)
        else:
            assert args.jwt_issuer is not None
            issuer, audience = args.jwt_issuer, args.jwt_audience
        authorizer = aws.apigatewayv2.Authorizer(
            self.named("jwt-authorizer"),
            api_id=self.api.id,
            authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration={"issuer": issuer, "audiences": audience},
            name="jwt",
            opts=child,
        )
        return Authorization(authorizer, issuer, user_pool, user_pool_client)
