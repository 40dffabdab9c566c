# papers-bot: one image for every process of the Procfile (release, web, clock); the command picks the process.
# docker-compose.yml runs PostgreSQL, the release migration, web and clock from it. README "Run it in production"
# says what was checked on a machine without a Docker daemon (tests/cli/test_deploy_files.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The processes run as this user, never as root; its home holds the search index (SEARCH_INDEX_DIR's default).
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin papers

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY db ./db
# The README's install, without the development extras (tests, linters) and not editable.
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -q .
ENV PATH=/opt/venv/bin:$PATH

USER papers
ENV PORT=3000
EXPOSE 3000

# `papers-bot health` asks this container's process for GET /healthz: on HEALTH_PORT when set (Socket Mode, the
# clock process), else on PORT (the web process).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["papers-bot", "health"]

ENTRYPOINT ["papers-bot"]
CMD ["serve", "--no-scheduler"]
