"""Who is calling the API, and whether they may: the key (Bearer, or Basic with the key as user name),
its per-key rate limit, and the scope an endpoint needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    SecurityScopes,
)

from app.accounts.principal import ApiPrincipal
from app.api.service import authenticate_key
from app.core.errors import RateLimited, Unauthenticated
from app.core.rate_limits import RateLimits, Window
from app.http.deps import SessionDep, client_ip

POLICY_NAME = "per-key"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="assay", Basic realm="assay"'}

bearer = HTTPBearer(
    auto_error=False, description="`Authorization: Bearer ak_live_…` (or `ak_test_…` for test data)"
)
basic = HTTPBasic(
    auto_error=False, description="The API key as the user name and an empty password (as ATS partners send)."
)


def quota_headers(window: Window) -> dict[str, str]:
    """The IETF draft's structured fields (draft-ietf-httpapi-ratelimit-headers)."""
    return {
        "RateLimit-Policy": f'"{POLICY_NAME}";q={window.limit};w=60',
        "RateLimit": f'"{POLICY_NAME}";r={window.remaining};t={window.reset_seconds}',
    }


def count_request(limits: RateLimits, api_key_id: int) -> Window:
    """Count one request against the key's quota; RateLimited (with the quota headers) when it is spent."""
    window = limits.hit(limits.api_key, f"api-key-{api_key_id}")
    if not window.allowed:
        raise RateLimited(
            f"This API key made more than {window.limit} requests in a minute. "
            f"Retry after {window.reset_seconds} s.",
            retry_after=window.reset_seconds,
            headers=quota_headers(window),
        )
    return window


def presented_key(
    bearer_credentials: HTTPAuthorizationCredentials | None, basic_credentials: HTTPBasicCredentials | None
) -> str:
    if bearer_credentials is not None:
        return bearer_credentials.credentials.strip()
    if basic_credentials is not None:
        return basic_credentials.username.strip()
    raise Unauthenticated(
        "Send your API key as `Authorization: Bearer <key>` (or HTTP Basic with the key as the user name).",
        headers=CHALLENGE,
    )


def the_presented_key(
    bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    basic_credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
) -> str:
    return presented_key(bearer_credentials, basic_credentials)


# The key the caller presents (parsed once per request): the principal is made from it, and a partner that
# must be called back with it (Greenhouse) gets it too.
PresentedKey = Annotated[str, Depends(the_presented_key)]


def api_principal(
    security_scopes: SecurityScopes,
    request: Request,
    response: Response,
    session: SessionDep,
    key: PresentedKey,
) -> ApiPrincipal:
    try:
        principal = authenticate_key(session, key, ip=client_ip(request))
    except Unauthenticated as refused:
        refused.headers.update(CHALLENGE)
        raise
    limits: RateLimits = request.app.state.rate_limits
    window = count_request(limits, principal.api_key.id)
    response.headers.update(quota_headers(window))
    request.state.rate_window = window  # error responses carry the quota too (app.main's handlers)
    for scope in security_scopes.scopes:
        principal.require_scope(scope)
    return principal


# Each endpoint names the scope it needs; a key without it gets 403.
AssessmentsRead = Annotated[ApiPrincipal, Security(api_principal, scopes=["assessments:read"])]
AssessmentsWrite = Annotated[ApiPrincipal, Security(api_principal, scopes=["assessments:write"])]
CandidatesRead = Annotated[ApiPrincipal, Security(api_principal, scopes=["candidates:read"])]
CandidatesWrite = Annotated[ApiPrincipal, Security(api_principal, scopes=["candidates:write"])]
PersonalData = Annotated[ApiPrincipal, Security(api_principal, scopes=["candidates:personal_data"])]
InvitationsRead = Annotated[ApiPrincipal, Security(api_principal, scopes=["invitations:read"])]
InvitationsWrite = Annotated[ApiPrincipal, Security(api_principal, scopes=["invitations:write"])]
ResultsRead = Annotated[ApiPrincipal, Security(api_principal, scopes=["results:read"])]
WebhooksManage = Annotated[ApiPrincipal, Security(api_principal, scopes=["webhooks:manage"])]
AnyKey = Annotated[ApiPrincipal, Security(api_principal)]
