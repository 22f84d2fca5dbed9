"""All page routes, grouped by who uses them."""

from fastapi import APIRouter

from app.web import auth, candidate, recruiter

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(recruiter.router)
router.include_router(candidate.router)
