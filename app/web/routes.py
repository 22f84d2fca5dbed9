"""All page routes, grouped by who uses them. Recruiter-side forms are checked for CSRF before they run."""

from fastapi import APIRouter, Depends

from app.web import auth, builder, candidate, invitations, results, shared_reports, similarity, team
from app.web.csrf import verify_csrf

router = APIRouter(include_in_schema=False)
for protected in (
    auth.router,
    team.router,
    builder.router,
    invitations.router,
    results.router,
    similarity.router,
):
    router.include_router(protected, dependencies=[Depends(verify_csrf)])
router.include_router(candidate.router)
router.include_router(shared_reports.router)
