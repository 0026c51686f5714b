# Production image: the Django app served by gunicorn; the same image runs the Celery worker
# and beat (see docker-compose.yml). Static files are collected at build time for whitenoise.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRM_VAR_DIR=/app/var

WORKDIR /app

# WeasyPrint (the board-pack PDF) lays text out with Pango and HarfBuzz; its fonts are the
# system's (DejaVu), nothing is fetched when a PDF is made.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt .

COPY . .

# collectstatic imports the settings, which insist on production values when DEBUG is off;
# these throw-away ones exist only for this build step.
RUN DJANGO_DEBUG=0 \
    DJANGO_SECRET_KEY=build-only-key-not-used-at-run-time-0123456789abcdefghijklmnop \
    DJANGO_ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    CELERY_BROKER_URL=memory:// \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app crm \
    && mkdir -p /app/var \
    && chown -R crm /app/var

USER crm
EXPOSE 8000

# gunicorn honours X-Forwarded-* (the scheme, the client address) only from these addresses,
# and Django takes HTTPS from gunicorn (wsgi.url_scheme), never from the raw header: set
# FORWARDED_ALLOW_IPS to the TLS proxy's address; trusting '*' would let any client claim HTTPS
# or another address. The container's own loopback is always trusted: the compose healthcheck
# asks from there as the proxy would.
ENV FORWARDED_ALLOW_IPS=127.0.0.1
# Workers (GUNICORN_WORKERS) come from gunicorn.conf.py, the file `manage.py bench` measures.
CMD ["sh", "-c", "gunicorn -c gunicorn.conf.py crm_alignment.wsgi:application --bind 0.0.0.0:8000 --access-logfile - --forwarded-allow-ips=\"127.0.0.1,${FORWARDED_ALLOW_IPS:-127.0.0.1}\""]
