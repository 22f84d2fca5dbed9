# The app image: the same code serves the web app (`assay serve`) and runs workers (`assay worker`).
# The candidate page's script (CodeMirror and the attempt client) is bundled from npm in a first stage.
FROM node:20-bookworm-slim AS assets
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/src ./src
RUN mkdir -p ../app/web/static && npm run build

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ASSAY_HOST=0.0.0.0

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap util-linux fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 assay

WORKDIR /srv/assay
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY --from=assets /build/app/web/static/dist ./app/web/static/dist
COPY grader ./grader
COPY migrations ./migrations
COPY question_bank ./question_bank
RUN pip install .

USER assay
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["sh", "-c", "assay db upgrade && assay bank sync && exec assay serve --workers ${ASSAY_WEB_WORKERS:-2}"]
